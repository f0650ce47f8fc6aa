"""Run one method on one split, incrementally and resumably.

:func:`run_benchmark` reads as its four steps:

1. **plan** (:mod:`valuesim.bench.plan`): the split of the protocol (units: respondent x fold
   x history condition), the training data outside the evaluated sample, the tasks;
2. **record** (:mod:`valuesim.bench.record`): check the output directory (a directory made
   for other work -- another split, method or configuration -- is refused unless
   ``overwrite``), keep every unit an earlier session finished (a truncated last line or a
   half-written unit is dropped and recomputed), write ``split.json`` and a "running"
   ``manifest.json``; at the end, the session's units, timings and LLM usage;
3. **execute** (:mod:`valuesim.bench.execute`): fit the method, run the remaining units
   through an *executor* (default: in-process asyncio with bounded concurrency; Ray in
   :mod:`valuesim.scale`) that appends each finished unit to ``predictions.jsonl`` and each
   unit whose model calls failed after all retries to ``failures.jsonl`` (the run goes on,
   up to ``max_failures``);
4. **score** (:mod:`valuesim.bench.score`): sort the predictions deterministically, compute
   ``metrics.json`` and complete the manifest.

An interruption (Ctrl-C, crash, killed job) loses at most the units in flight; running the
same command again continues. One process at a time writes a run directory: the record step
holds an OS lock on ``run.lock`` for the whole call (a second process is refused with the
PID of the first; the lock of a killed process is taken over).
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from valuesim.bench.config import MethodOutputError, RunConfig
from valuesim.bench.execute import (
    Executor,
    FittedMethod,
    Sink,
    UnitFailure,
    arun_item,
    prediction_rows,
    run_units,
    run_units_async,
)
from valuesim.bench.plan import WorkItem, fit_groups, make_work_items, plan_split, training_data, without_questions
from valuesim.bench.progress import phase
from valuesim.bench.protocol import ProtocolConfig, Split
from valuesim.bench.record import RunRecord, Stopwatch, add_usage, base_manifest, method_usage, run_identity
from valuesim.bench.score import compute_metrics
from valuesim.llm import simulation
from valuesim.methods.base import Method
from valuesim.survey.dataset import SurveyData
from valuesim.survey.questionnaire import refuse_trained


@dataclass
class RunResult:
    out_dir: Path
    split: Split
    metrics: dict[str, Any] | None
    n_units: int
    n_computed: int  # units computed in this call
    n_resumed: int  # units found finished on disk
    wall_seconds: float
    notes: list[str] = field(default_factory=list)
    #: units whose model calls failed after all retries in this call (their targets have no prediction)
    failures: list[UnitFailure] = field(default_factory=list)

    @property
    def n_failed_targets(self) -> int:
        return sum(len(f.targets) for f in self.failures)

    @property
    def complete(self) -> bool:
        """Every target predicted (metrics exist and no target failed)."""
        return self.metrics is not None and not self.failures


class PopulationAssociations:
    """For the SIMULATED item oracle only (``mock:item-oracle=P``, read through
    :mod:`valuesim.llm.simulation`): the association of two items among *all* people of the data,
    within countries -- what a perfect judge of item relations would know. Computed on first use;
    no method reads it."""

    def __init__(self, data: SurveyData) -> None:
        self.data = data
        self._observed: Any = None
        self._lock = threading.Lock()

    def __call__(self, a: str, b: str) -> float | None:
        with self._lock:
            if self._observed is None:
                from valuesim.relations import observed_associations

                frame = self.data.frame
                groups = frame["country"].astype(str).to_numpy() if "country" in frame.columns else None
                self._observed = observed_associations(self.data, self.data.codebook, groups=groups)
        obs = self._observed
        if a not in obs.index or b not in obs.index:
            return None
        value = obs.get(a, b)
        return None if math.isnan(value) else value


def run_benchmark(
    data: SurveyData,
    method: Method,
    cfg: RunConfig | ProtocolConfig | None,
    out_dir: str | Path,
    *,
    train_data: SurveyData | None = None,
    executor: Executor | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> RunResult:
    """Evaluate *method* on *data* under the protocol of *cfg*, writing into *out_dir*.

    Re-running with the same arguments resumes: finished units are not recomputed, units
    whose model calls failed are retried. Returns the metrics (also in ``out_dir/metrics.json``)
    once every unit is done or failed; with failed targets (``result.failures``) the metrics
    cover the rest and say so (``complete: false``). Past ``cfg.max_failures`` failed targets
    the run stops with :class:`~valuesim.bench.record.TooManyFailuresError`. *log* receives
    one-line status messages (the CLI prints them).
    """
    say = log or (lambda _msg: None)
    cfg = RunConfig.of(cfg)
    clock = Stopwatch()
    if cfg.protocol.name == "new-questions":
        refuse_trained(method.name, type(method), protocol=True)

    # plan
    with clock("split_seconds"):
        split = plan_split(data, cfg, train_data)
    concurrency = cfg.concurrency or method.default_concurrency

    # record: the run directory as earlier sessions left it (locked against a second writer until the end)
    out = Path(out_dir).expanduser()
    with RunRecord.open(out, split, run_identity(method, cfg, split), overwrite=cfg.overwrite, clock=clock) as record:
        pending = record.pending
        say(record.describe())
        record.start(
            base_manifest(method, cfg, data, split, concurrency),
            train_source="given" if train_data is not None else "outside-sample",
        )

        # execute
        train: SurveyData | None = None
        with record.predicting(method, cfg) as session, simulation.item_truth(PopulationAssociations(data)):
            if pending:
                with clock("fit_seconds"):
                    train = train_data if train_data is not None else training_data(data, split, cfg)
                    record.note_training(train)
                run = executor or run_units
                reported: list[Any] = []
                # k-fold: one fit for every fold; new-questions: one per fold, without the fold's questions
                for hidden, units in fit_groups(split, pending, cfg.protocol):
                    with clock("fit_seconds"):
                        seen = without_questions(train, hidden)
                        say(
                            f"fitting {method.name} on {len(seen):,} respondents outside the sample"
                            + (f" ({len(hidden)} target questions hidden from everyone)" if hidden else "")
                        )
                        with phase(f"fitting {method.name}", progress):
                            method.fit(seen)
                        record.note_fit(method.fit_report())
                    with clock("tasks_seconds"):
                        items = make_work_items(data, units)
                    with clock("predict_seconds"):
                        say(f"predicting {len(items):,} units (concurrency {concurrency})")
                        reported.append(
                            run(FittedMethod(method), items, session.sink, concurrency=concurrency, progress=progress)
                        )
                session.executor_usage = (
                    None if all(r is None for r in reported) else add_usage(r for r in reported if r is not None)
                )

        # score
        rows = record.finished_rows()
        say("computing metrics")
        with clock("metrics_seconds"):
            if train is None:  # every unit was finished earlier: the same training people, once more
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # its warnings were shown when the run started
                    train = train_data if train_data is not None else training_data(data, split, cfg)
            metrics = compute_metrics(
                rows,
                split,
                method,
                cfg,
                record.usage_total(rows),
                record.wall_total(),
                record.failures,
                data=data,
                train=train,
            )
        record.complete(metrics)
    return RunResult(
        out_dir=out,
        split=split,
        metrics=metrics,
        n_units=len(split.units),
        n_computed=record.session["units_computed"],
        n_resumed=len(record.state.finished),
        wall_seconds=record.session["wall_seconds"],
        notes=list(split.notes),
        failures=list(record.failures),
    )


__all__ = [
    "Executor",
    "FittedMethod",
    "MethodOutputError",
    "RunConfig",
    "RunResult",
    "Sink",
    "UnitFailure",
    "WorkItem",
    "arun_item",
    "make_work_items",
    "method_usage",
    "prediction_rows",
    "run_benchmark",
    "run_units",
    "run_units_async",
    "training_data",
]
