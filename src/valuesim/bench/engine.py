"""The run engine: a plan, a method and a finisher make one run directory.

Every run ValueSim makes -- ``valuesim bench``, ``valuesim simulate``, each run of an
experiment -- goes through :func:`run_plan`, which owns what they share:

1. **lock and resume** (:class:`~valuesim.bench.record.RunRecord`): one writer per run
   directory (an OS lock on ``run.lock`` for the whole call), a directory made for other work
   refused unless ``overwrite``, every unit an earlier session finished kept;
2. **provenance**: the "running" ``manifest.json`` (the plan adds what is its own) and, per
   session, what was resumed, computed, fitted, how long it took and what it cost;
3. **fit** the method on the plan's training data -- once per fit group (the new-questions
   protocol hides each fold's questions) and only when units are pending;
4. **execute** the pending units through an *executor* (default: in process, asyncio with
   bounded concurrency and a progress bar; Ray in :mod:`valuesim.scale`): each finished unit
   appended to ``predictions.jsonl``, each unit whose model calls failed after all retries to
   ``failures.jsonl`` (the run goes on, up to ``max_failures``);
5. **finish**: the *finisher* turns the finished rows into the run's result (bench: the
   metrics, :mod:`valuesim.bench.score`; simulate: the answer tables and their distributions)
   and the record completes (``metrics.json``, the final manifest).

What differs between kinds of run is a :class:`RunPlan` (the split, the training data, the
words of the status lines, additions to the manifest) and a :data:`Finisher`; the callers
(:func:`~valuesim.bench.runner.run_benchmark`, :func:`~valuesim.bench.simulate.run_simulation`)
only build the two. An interruption (Ctrl-C, crash, killed job) loses at most the units in
flight; the same call again continues.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from valuesim.bench.config import RunConfig
from valuesim.bench.execute import Executor, FittedMethod, UnitFailure, run_units
from valuesim.bench.plan import WorkItem, make_work_items, without_questions
from valuesim.bench.progress import phase
from valuesim.bench.protocol import Split, Unit
from valuesim.bench.record import RunRecord, Stopwatch, add_usage, base_manifest, run_identity
from valuesim.methods.base import Method
from valuesim.survey.dataset import SurveyData

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True)
class FitGroup:
    """Units predicted after one ``fit``, and the questions hidden from that fit (from everyone)."""

    hidden: list[str]
    units: list[Unit]


class RunPlan:
    """What one kind of run tells the engine: the split and how the method learns.

    Subclasses set the split and override the hooks whose default does not fit them.
    """

    #: the run's kind in the manifest ("bench", "simulate")
    kind: str = "bench"
    #: what a target is called in the status lines ("targets", "answers")
    noun: str = "targets"
    #: whose answers the method learns from, in the status line ("respondents outside the sample")
    learns_from: str = "respondents"
    #: whether the work items carry the people's real answers (False: questions nobody was asked)
    with_truth: bool = True

    def __init__(self, data: SurveyData, split: Split) -> None:
        self.data = data
        self.split = split

    def fits(self, method: Method) -> bool:
        """Whether *method* is fitted before it predicts (default: always; ``fit`` may do nothing)."""
        return True

    def training(self) -> SurveyData:
        """The data the method learns from (built once, and only when units are pending)."""
        raise NotImplementedError

    def fit_groups(self, pending: Sequence[Unit]) -> list[FitGroup]:
        """The fits of this session and the units each one predicts (default: one fit, nothing hidden)."""
        return [FitGroup([], list(pending))] if pending else []

    def train_source(self, method: Method) -> str:
        """Where the training data comes from, for the manifest."""
        raise NotImplementedError

    def manifest(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """The run's provenance: the engine's manifest with what is this plan's own added."""
        return manifest

    def predicting(self, n_items: int, concurrency: int) -> str:
        """The status line before the units run."""
        return f"predicting {n_items:,} units (concurrency {concurrency})"


@dataclass
class Finished:
    """What a finisher works from: the finished rows of the whole run and its record."""

    rows: list[dict[str, Any]]
    record: RunRecord
    plan: RunPlan
    method: Method
    cfg: RunConfig
    clock: Stopwatch
    say: Callable[[str], None]
    #: the training data of this session's fit (None: nothing was fitted in this session)
    fitted_on: SurveyData | None = None

    @property
    def out(self) -> Path:
        return self.record.out

    def training(self) -> SurveyData:
        """The training data: this session's, or (every unit finished earlier) the same again."""
        if self.fitted_on is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # its warnings were shown when the run started
                self.fitted_on = self.plan.training()
        return self.fitted_on


class Finisher(Protocol[T_co]):
    """Turns a finished run into its result: (what ``metrics.json`` records, the caller's value)."""

    def __call__(self, done: Finished) -> tuple[dict[str, Any], T_co]: ...


@dataclass
class EngineResult(Generic[T]):
    """One call of :func:`run_plan`: the finisher's value and what the session did."""

    out_dir: Path
    split: Split
    value: T
    #: what the record completed with (metrics.json)
    recorded: dict[str, Any]
    manifest: dict[str, Any]
    n_units: int
    n_computed: int  # units computed in this call
    n_resumed: int  # units found finished on disk
    wall_seconds: float
    #: LLM usage of this session
    usage: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: units whose model calls failed after all retries in this call (their targets have no prediction)
    failures: list[UnitFailure] = field(default_factory=list)


def run_plan(
    plan: RunPlan,
    method: Method,
    finish: Finisher[T],
    out_dir: str | Path,
    *,
    cfg: RunConfig,
    clock: Stopwatch | None = None,
    executor: Executor | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> EngineResult[T]:
    """Run *method* on *plan* into *out_dir* and *finish* it (see the module docstring).

    Re-running with the same arguments resumes: finished units are not recomputed, units whose
    model calls failed are retried. Past ``cfg.max_failures`` failed targets the run stops with
    :class:`~valuesim.bench.record.TooManyFailuresError`. *clock* may already hold the time the
    caller spent planning; *log* receives one-line status messages (the CLI prints them).
    """
    say = log or (lambda _msg: None)
    clock = clock or Stopwatch()
    split, data = plan.split, plan.data
    concurrency = cfg.concurrency or method.default_concurrency
    out = Path(out_dir).expanduser()
    with RunRecord.open(out, split, run_identity(method, cfg, split), overwrite=cfg.overwrite, clock=clock) as record:
        pending = record.pending
        say(record.describe().replace(" targets", f" {plan.noun}"))
        manifest = base_manifest(method, cfg, data, split, concurrency)
        if plan.kind != "bench":
            manifest["kind"] = plan.kind
        record.start(plan.manifest(manifest), train_source=plan.train_source(method))

        train: SurveyData | None = None
        with record.predicting(method, cfg) as session:
            reported: list[Any] = []
            if pending and plan.fits(method):
                with clock("fit_seconds"):
                    train = plan.training()
                    record.note_training(train)
            for group in plan.fit_groups(pending):
                if train is not None:
                    with clock("fit_seconds"):
                        seen = without_questions(train, group.hidden)
                        say(
                            f"fitting {method.name} on {len(seen):,} {plan.learns_from}"
                            + (f" ({len(group.hidden)} target questions hidden from everyone)" if group.hidden else "")
                        )
                        with phase(f"fitting {method.name}", progress):
                            method.fit(seen)
                        record.note_fit(method.fit_report())
                with clock("tasks_seconds"):
                    items: list[WorkItem] = make_work_items(data, group.units, with_truth=plan.with_truth)
                with clock("predict_seconds"):
                    say(plan.predicting(len(items), concurrency))
                    run = executor or run_units
                    reported.append(
                        run(FittedMethod(method), items, session.sink, concurrency=concurrency, progress=progress)
                    )
            session.executor_usage = (
                None if all(r is None for r in reported) else add_usage(r for r in reported if r is not None)
            )

        done = Finished(record.finished_rows(), record, plan, method, cfg, clock, say, fitted_on=train)
        recorded, value = finish(done)
        record.complete(recorded)
    return EngineResult(
        out_dir=out,
        split=split,
        value=value,
        recorded=recorded,
        manifest=record.manifest,
        n_units=len(split.units),
        n_computed=record.session["units_computed"],
        n_resumed=len(record.state.finished),
        wall_seconds=record.session["wall_seconds"],
        usage=dict(record.session.get("usage") or {}),
        notes=list(split.notes),
        failures=list(record.failures),
    )


__all__ = ["EngineResult", "Finished", "Finisher", "FitGroup", "RunPlan", "run_plan"]
