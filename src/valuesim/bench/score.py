"""Score a finished run: ``metrics.json`` = the metrics of :mod:`valuesim.bench.metrics` plus accounting."""

from __future__ import annotations

from collections import Counter
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
    story = story_fidelity(rows)
    if story is not None:
        out["story"] = story
    out["wall_seconds"] = round(wall, 3)
    out["split_hash"] = split.split_hash
    return out


def story_fidelity(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """What the run's methods were told about each person (``metrics.json["story"]``), one story
    per unit: style and mean length, and for narrative stories their fidelity
    (:func:`valuesim.methods.narrative.aggregate_checks`). None for methods without a story."""
    from valuesim.methods.narrative import aggregate_checks

    stories: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rows:
        meta = (r.get("meta") or {}).get("story")
        if meta:
            stories.setdefault((r.get("respondent"), r.get("fold"), r.get("condition")), meta)
    if not stories:
        return None
    styles = Counter(str(m.get("style")) for m in stories.values())
    words = [m["words"] for m in stories.values() if isinstance(m.get("words"), (int, float))]
    out: dict[str, Any] = {
        "style": styles.most_common(1)[0][0],
        "stories": len(stories),
        "words_mean": round(sum(words) / len(words), 1) if words else None,
        "facts_mean": round(sum(int(m.get("n_facts") or 0) for m in stories.values()) / len(stories), 1),
    }
    checks = [m["check"] for m in stories.values() if m.get("check")]
    if checks:
        out["narrative"] = aggregate_checks(checks)
    return out


__all__ = ["compute_metrics", "story_fidelity"]
