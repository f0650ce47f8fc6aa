"""Execute a plan: run work items through a method and hand each finished unit to a sink.

Executors are pluggable: anything with the signature of :class:`Executor` can shard
:class:`~valuesim.bench.plan.WorkItem` s over workers (e.g. Ray, :mod:`valuesim.scale`) as
long as every finished unit reaches a :class:`~valuesim.bench.rundir.JsonlSink`-like sink.
The default, :func:`run_units`, runs in this process (asyncio, bounded concurrency).

A unit whose model calls still fail after all their retries (:class:`RequestFailedError`)
does not stop the run: its targets go to ``sink.write_failure`` as a :class:`UnitFailure`
(never as predictions) and the other units go on. The sink decides when failures are too many
(``--max-failures``) by raising.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from valuesim._aio import run_sync
from valuesim.bench.config import MethodOutputError
from valuesim.bench.plan import WorkItem
from valuesim.bench.progress import UnitProgress, progress_enabled
from valuesim.errors import RequestFailedError
from valuesim.llm import simulation
from valuesim.methods.base import Method, Prediction
from valuesim.survey.codebook import question_sort_key


def prediction_rows(item: WorkItem, predictions: Sequence[Prediction], method: Method) -> list[dict[str, Any]]:
    """Check a method's answer to one task and turn it into predictions.jsonl rows (target order)."""
    by_q: dict[str, Prediction] = {}
    for p in predictions:
        if p.question in by_q:
            raise MethodOutputError(
                f"Method {method.name!r} returned two predictions for {p.question} of respondent "
                f"{item.unit.respondent} (fold {item.unit.fold}).",
                "This is a bug in the method: return exactly one Prediction per target.",
            )
        by_q[p.question] = p
    wanted = set(item.unit.targets)
    if set(by_q) != wanted:
        missing = sorted(wanted - set(by_q), key=question_sort_key)
        extra = sorted(set(by_q) - wanted)
        raise MethodOutputError(
            f"Method {method.name!r} did not answer the task for respondent {item.unit.respondent} "
            f"(fold {item.unit.fold}): missing {missing[:5]}, unexpected {extra[:5]}.",
            "This is a bug in the method: return exactly one Prediction per target (prediction=None to abstain).",
        )
    rows = []
    for q in item.unit.targets:
        p = by_q[q]
        if p.prediction is not None and not method.codebook.get(q).is_valid(int(p.prediction)):
            raise MethodOutputError(
                f"Method {method.name!r} predicted code {p.prediction} for {q}, which is not a valid answer.",
                f"Valid codes of {q}: {method.codebook.get(q).codes or 'see the codebook'}; "
                "return prediction=None to abstain.",
            )
        d = p.to_dict()
        rows.append(
            {
                "respondent": item.unit.respondent,
                "question": q,
                "fold": item.unit.fold,
                "condition": item.unit.condition,
                "prediction": None if p.prediction is None else int(p.prediction),
                "truth": int(item.truth[q]) if q in item.truth else None,  # None: a new question
                "probabilities": d.get("probabilities"),
                "country": item.country,
                "meta": d.get("meta") or {},
            }
        )
    return rows


async def arun_item(method: Method, item: WorkItem) -> list[dict[str, Any]]:
    """Run one unit and return its rows (the building block of every executor)."""
    with simulation.subject_truth(item.truth):  # read only by SIMULATED models (mock:oracle), never by methods
        predictions = await method.apredict(item.task)
    return prediction_rows(item, predictions, method)


@dataclass(frozen=True)
class UnitFailure:
    """A unit whose model calls failed after all retries: every target of it is a failed target."""

    respondent: str
    fold: int
    condition: str
    targets: tuple[str, ...]
    error: str  # the exception's class name
    message: str

    @classmethod
    def of(cls, item: WorkItem, error: BaseException) -> UnitFailure:
        u = item.unit
        return cls(u.respondent, u.fold, u.condition, tuple(u.targets), type(error).__name__, _message(error))

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.respondent, self.fold, self.condition)

    def rows(self, session: int) -> list[dict[str, Any]]:
        """failures.jsonl rows: one per target."""
        return [
            {
                "respondent": self.respondent,
                "question": q,
                "fold": self.fold,
                "condition": self.condition,
                "error": self.error,
                "message": self.message,
                "session": session,
            }
            for q in self.targets
        ]


def _message(error: BaseException) -> str:
    return str(getattr(error, "message", None) or error).strip()[:500]


#: Exceptions that fail one unit instead of the run: model requests that failed after all retries.
UNIT_FAILURES: tuple[type[BaseException], ...] = (RequestFailedError,)


class Sink(Protocol):
    """Where an executor puts finished units (and, if it has ``write_failure``, failed ones)."""

    def write_unit(self, rows: Sequence[dict[str, Any]]) -> None: ...


def report_failure(sink: Sink, item: WorkItem, error: BaseException) -> None:
    """Hand a failed unit to ``sink.write_failure``; a sink without one gets the error raised."""
    write_failure = getattr(sink, "write_failure", None)
    if write_failure is None:
        raise error
    write_failure(UnitFailure.of(item, error))


MethodFactory = Callable[[], Method]


class Executor(Protocol):
    """Runs work items and hands every finished unit's rows to ``sink.write_unit``.

    ``method_factory`` returns a fitted method (for a remote worker: a pickled copy).
    An executor may run units in any order and in parallel; the runner sorts at the end.
    It may return the LLM usage of its workers (a mapping with the keys of ``USAGE_KEYS``);
    otherwise the runner measures the usage of the method in this process.
    """

    def __call__(
        self,
        method_factory: MethodFactory,
        items: Sequence[WorkItem],
        sink: Sink,
        *,
        concurrency: int,
        progress: bool,
    ) -> Mapping[str, float] | None: ...


@dataclass
class FittedMethod:
    """A picklable method factory that returns an already fitted method."""

    method: Method

    def __call__(self) -> Method:
        return self.method


async def run_units_async(
    method: Method,
    items: Sequence[WorkItem],
    sink: Sink,
    *,
    concurrency: int = 1,
    on_unit: Callable[..., None] | None = None,
) -> None:
    """Run *items* with at most *concurrency* units in flight; write each unit as it finishes.

    A unit failing with one of :data:`UNIT_FAILURES` is reported to the sink and the run goes
    on; any other error (or one raised by the sink) stops the run (units in flight are
    cancelled; finished ones are kept). ``on_unit(item, seconds, failed, fitting=s)`` follows every
    unit: its wall time and the part of it the method spent fitting (a method that trains lazily
    while predicting counts that time in its ``fitting_seconds``).
    """
    queue: asyncio.Queue[WorkItem] = asyncio.Queue()
    for it in items:
        queue.put_nowait(it)

    async def worker() -> None:
        while True:
            try:
                it = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            t0 = time.perf_counter()
            fit0 = method.fitting_seconds
            try:
                rows = await arun_item(method, it)
            except UNIT_FAILURES as e:
                report_failure(sink, it, e)
                failed = True
            else:
                sink.write_unit(rows)
                failed = False
            if on_unit is not None:
                fitting = method.fitting_seconds - fit0
                on_unit(it, time.perf_counter() - t0, failed, fitting=max(0.0, fitting))
            # A synchronous method never suspends; yield here so Ctrl-C (task cancellation)
            # takes effect after the current unit instead of after the whole run.
            await asyncio.sleep(0)

    workers = [asyncio.create_task(worker()) for _ in range(max(1, min(concurrency, len(items))))]
    try:
        await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for w in workers:
            if not w.done():
                w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    for w in workers:
        if not w.cancelled() and w.exception() is not None:
            raise w.exception()  # type: ignore[misc]


def run_units(
    method_factory: MethodFactory,
    items: Sequence[WorkItem],
    sink: Sink,
    *,
    concurrency: int = 1,
    progress: bool = False,
) -> None:
    """The default, in-process executor (asyncio, bounded concurrency, optional progress bar)."""
    if not items:
        return
    method = method_factory()
    if not progress_enabled(progress):
        run_sync(lambda: run_units_async(method, items, sink, concurrency=concurrency))
        return
    with UnitProgress(f"{method.name}: units", len(items), concurrency=concurrency) as bar:
        run_sync(lambda: run_units_async(method, items, sink, concurrency=concurrency, on_unit=bar.unit_done))


__all__ = [
    "UNIT_FAILURES",
    "Executor",
    "FittedMethod",
    "MethodFactory",
    "Sink",
    "UnitFailure",
    "arun_item",
    "prediction_rows",
    "report_failure",
    "run_units",
    "run_units_async",
]
