"""Score a finished run: ``metrics.json`` = the metrics of :mod:`valuesim.bench.metrics` plus accounting."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from valuesim.bench import rundir
from valuesim.bench.config import RunConfig
from valuesim.bench.execute import UnitFailure
from valuesim.bench.metrics import summarize
from valuesim.bench.protocol import Split
from valuesim.bench.record import USAGE_KEYS, failure_summary
from valuesim.methods.base import Method


def compute_metrics(
    rows: Sequence[dict[str, Any]],
    split: Split,
    method: Method,
    cfg: RunConfig,
    usage: Mapping[str, float],
    wall: float,
    failures: Sequence[UnitFailure] = (),
) -> dict[str, Any]:
    """metrics.json: the metrics module's summary plus method name and accounting.

    With failed targets the metrics are computed on the rest: ``complete`` is false and
    ``n_failed_targets`` / ``failures_by_error`` say what is missing.
    """
    frame = rundir.predictions_frame(rundir.sort_rows(rows, split))
    summary = summarize(frame, method.codebook, n_boot=cfg.n_boot, seed=cfg.metrics_seed)
    out: dict[str, Any] = {"method": method.name, **{k: v for k, v in summary.items() if k != "method"}}
    for k in USAGE_KEYS:
        out[k] = int(usage.get(k, 0))
    out["complete"] = not failures
    out["n_failed_targets"] = sum(len(f.targets) for f in failures)
    if failures:
        out["n_failed_units"] = len(failures)
        out["failures_by_error"] = {k: v["targets"] for k, v in failure_summary(failures).items()}
    out["wall_seconds"] = round(wall, 3)
    out["split_hash"] = split.split_hash
    return out


__all__ = ["compute_metrics"]
