"""Score a finished run: ``metrics.json`` = the metrics of :mod:`valuesim.bench.metrics` plus accounting."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from valuesim.bench import rundir
from valuesim.bench.config import RunConfig
from valuesim.bench.execute import UnitFailure
from valuesim.bench.metrics import summarize
from valuesim.bench.protocol import Split
from valuesim.bench.record import USAGE_KEYS, failure_summary
from valuesim.methods.base import Method, Task
from valuesim.survey.codebook import Codebook
from valuesim.survey.dataset import SurveyData


def group_reference(data: SurveyData, train: SurveyData, frame: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """The demographic group's answer to every (respondent, question) of *frame*: what
    ``demographic-majority`` (country x sex x age band, backing off to country and to all)
    fit on *train* -- the run's training people -- answers, and the person's cell. The
    reference of :func:`valuesim.bench.metrics.individuation`; computed whether or not the
    run's method is that baseline. It reads the evaluated person's country, sex and age only.
    """
    from valuesim.methods.baselines import DemographicMajorityBaseline

    ref = DemographicMajorityBaseline(codebook)
    ref.fit(train)
    out: list[dict[str, Any]] = []
    pairs = frame[["respondent", "question"]].astype(str).drop_duplicates()
    for rid, qids in pairs.groupby("respondent", sort=False)["question"]:
        person = data.respondent(str(rid))
        targets = tuple(dict.fromkeys(qids))
        known = [q for q in (*person.answers, *person.missing) if q not in set(targets)]
        task = Task(person.restricted(known), targets)
        cell = ref.group_of(task.respondent)
        for p in ref.predict(task):
            out.append(
                {
                    "respondent": str(rid),
                    "question": p.question,
                    "group_prediction": p.prediction,
                    "group_probabilities": p.probabilities,
                    "cell": cell,
                }
            )
    return pd.DataFrame(out, columns=["respondent", "question", "group_prediction", "group_probabilities", "cell"])


def compute_metrics(
    rows: Sequence[dict[str, Any]],
    split: Split,
    method: Method,
    cfg: RunConfig,
    usage: Mapping[str, float],
    wall: float,
    failures: Sequence[UnitFailure] = (),
    *,
    data: SurveyData | None = None,
    train: SurveyData | None = None,
) -> dict[str, Any]:
    """metrics.json: the metrics module's summary plus method name and accounting.

    With failed targets the metrics are computed on the rest: ``complete`` is false and
    ``n_failed_targets`` / ``failures_by_error`` say what is missing. With *data* (the
    evaluated people) and *train* (the run's training people) the summary has the
    ``individuation`` block (:func:`group_reference`).
    """
    frame = rundir.predictions_frame(rundir.sort_rows(rows, split))
    group = None
    if data is not None and train is not None and len(train) > 0 and not frame.empty:
        group = group_reference(data, train, frame, method.codebook)
    summary = summarize(frame, method.codebook, n_boot=cfg.n_boot, seed=cfg.metrics_seed, group=group)
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
    recall = history_recall(rows)
    if recall is not None:
        out["history_recall"] = recall
    out["wall_seconds"] = round(wall, 3)
    out["split_hash"] = split.split_hash
    return out


def story_fidelity(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """What the run's methods were told about each person (``metrics.json["story"]``), one story
    per unit: style and mean length, and for narrative stories their fidelity
    (:func:`valuesim.methods.story.narrative.aggregate_checks`). None for methods without a story."""
    from valuesim.methods.story.narrative import aggregate_checks

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


def history_recall(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """``metrics.json["history_recall"]``: the mean over predictions of history recall@k (of the
    k known items most associated with the target among training people, the share whose fact
    was in the prompt; recorded by LLM methods in ``meta["history"]``), per fold mean too, and
    the mean number of answers chosen for each target. None when no prediction records it."""
    vals: list[float] = []
    folds: dict[Any, list[float]] = {}
    ks: Counter[int] = Counter()
    facts: list[int] = []
    selection: Counter[str] = Counter()
    for r in rows:
        h = (r.get("meta") or {}).get("history")
        if not isinstance(h, dict):
            continue
        selection[str(h.get("selection"))] += 1
        if isinstance(h.get("target_facts"), int):
            facts.append(h["target_facts"])
        if isinstance(h.get("recall"), (int, float)):
            vals.append(float(h["recall"]))
            folds.setdefault(r.get("fold"), []).append(float(h["recall"]))
            ks[int(h.get("k") or 0)] += 1
    if not vals:
        return None
    return {
        "k": ks.most_common(1)[0][0],
        "mean": round(sum(vals) / len(vals), 4),
        "n": len(vals),
        "by_fold": {str(k): round(sum(v) / len(v), 4) for k, v in sorted(folds.items(), key=lambda kv: str(kv[0]))},
        "selection": selection.most_common(1)[0][0],
        "target_facts_mean": round(sum(facts) / len(facts), 2) if facts else None,
        "definition": "of the k known items most associated with the target (observed among training people), "
        "the share whose fact is in the prompt",
    }


__all__ = ["compute_metrics", "group_reference", "history_recall", "story_fidelity"]
