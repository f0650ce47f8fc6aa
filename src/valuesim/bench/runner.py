"""Run one method on one split of the benchmark protocol, incrementally and resumably.

:func:`run_benchmark` is the benchmark's plan and finisher handed to the run engine
(:mod:`valuesim.bench.engine`, which owns locking, resume, failures, progress and provenance):

1. **plan** (:class:`BenchPlan`, :mod:`valuesim.bench.plan`): the split of the protocol (units:
   respondent x fold x history condition), the training data outside the evaluated sample
   (or the given one), one fit for every fold (k-fold) or one per fold without the fold's
   questions (new-questions);
2. **engine**: record, fit, execute (see :mod:`valuesim.bench.engine`);
3. **score** (:func:`score`, :mod:`valuesim.bench.score`): ``metrics.json`` from the sorted
   predictions.

An interruption (Ctrl-C, crash, killed job) loses at most the units in flight; running the
same command again continues. One process at a time writes a run directory (a second one is
refused with the PID of the first; the lock of a killed process is taken over).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from valuesim.bench.config import MethodOutputError, RunConfig
from valuesim.bench.engine import Finished, FitGroup, RunPlan, run_plan
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
from valuesim.bench.plan import WorkItem, fit_groups, make_work_items, plan_split, training_data
from valuesim.bench.protocol import ProtocolConfig, Split, Unit
from valuesim.bench.record import Stopwatch, method_usage
from valuesim.bench.score import compute_metrics
from valuesim.llm import simulation
from valuesim.methods.base import Method, refuse_trained
from valuesim.survey.dataset import SurveyData


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
    within countries, and an item's answer distribution in a country -- what a perfect judge of
    items would know. Computed on first use;
    no method reads it."""

    def __init__(self, data: SurveyData) -> None:
        self.data = data
        self._observed: Any = None
        self._lock = threading.Lock()

    def _obs(self) -> Any:
        with self._lock:
            if self._observed is None:
                from valuesim.relations import observed_associations

                frame = self.data.frame
                groups = frame["country"].astype(str).to_numpy() if "country" in frame.columns else None
                self._observed = observed_associations(self.data, self.data.codebook, groups=groups)
        return self._observed

    def __call__(self, a: str, b: str) -> float | None:
        obs = self._obs()
        if a not in obs.index or b not in obs.index:
            return None
        value = obs.get(a, b)
        return None if math.isnan(value) else value

    def distribution(self, item: str, group: str | None) -> tuple[float, ...] | None:
        """The item's answer distribution among all people of *group* (None: everybody)."""
        obs = self._obs()
        if item not in obs.marginals:
            return None
        return obs.marginal(item, group).probs


class BenchPlan(RunPlan):
    """The benchmark's plan: the protocol's split; training on people outside the sample."""

    learns_from = "respondents outside the sample"

    def __init__(self, data: SurveyData, split: Split, cfg: RunConfig, train_data: SurveyData | None = None) -> None:
        super().__init__(data, split)
        self.cfg = cfg
        self.train_data = train_data

    def training(self) -> SurveyData:
        return self.train_data if self.train_data is not None else training_data(self.data, self.split, self.cfg)

    def fit_groups(self, pending: Sequence[Unit]) -> list[FitGroup]:
        # k-fold: one fit for every fold; new-questions: one per fold, without the fold's questions
        return [FitGroup(hidden, units) for hidden, units in fit_groups(self.split, pending, self.cfg.protocol)]

    def train_source(self, method: Method) -> str:
        return "given" if self.train_data is not None else "outside-sample"


def score(done: Finished) -> tuple[dict[str, Any], dict[str, Any]]:
    """The benchmark's finisher: the metrics of every finished prediction (``metrics.json``)."""
    done.say("computing metrics")
    record = done.record
    with done.clock("metrics_seconds"):
        metrics = compute_metrics(
            done.rows,
            done.plan.split,
            done.method,
            done.cfg,
            record.usage_total(done.rows),
            record.wall_total(),
            record.failures,
            data=done.plan.data,
            train=done.training(),
        )
    return metrics, metrics


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
    cfg = RunConfig.of(cfg)
    clock = Stopwatch()
    if cfg.protocol.name == "new-questions":
        refuse_trained(method.name, type(method), protocol=True, options=method.config())
    with clock("split_seconds"):
        split = plan_split(data, cfg, train_data)
    plan = BenchPlan(data, split, cfg, train_data)
    truth = PopulationAssociations(data)
    with simulation.item_truth(truth, truth.distribution):  # read only by SIMULATED item judges, never by methods
        result = run_plan(
            plan, method, score, out_dir, cfg=cfg, clock=clock, executor=executor, progress=progress, log=log
        )
    return RunResult(
        out_dir=result.out_dir,
        split=split,
        metrics=result.value,
        n_units=result.n_units,
        n_computed=result.n_computed,
        n_resumed=result.n_resumed,
        wall_seconds=result.wall_seconds,
        notes=result.notes,
        failures=result.failures,
    )


__all__ = [
    "BenchPlan",
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
    "score",
    "training_data",
]
