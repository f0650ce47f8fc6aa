"""Summary tables of a report: pure functions from :class:`RunData` to tidy DataFrames.

Point estimates and confidence intervals come from each run's metrics.json (computed by
:mod:`valuesim.bench.metrics`); paired tests from :func:`valuesim.bench.compare.paired_comparison`.
This module only selects, reshapes and -- for the error and confusion plots -- counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from valuesim.bench.compare import paired_comparison
from valuesim.bench.metrics import METRICS
from valuesim.errors import ValueSimError
from valuesim.report.load import RunData, history_size
from valuesim.survey.codebook import Codebook, question_sort_key

METRIC_LABELS: dict[str, str] = {"top1": "Top-1", "nmae": "nMAE", "within1": "Within-1"}
LOWER_IS_BETTER: frozenset[str] = frozenset({"nmae"})
#: bins of the pooled confusion matrix (answer position on the item's scale)
POSITION_BINS: tuple[str, ...] = ("1 first", "2", "3 middle", "4", "5 last")


def _stat(entry: Any) -> tuple[float, float, float, float]:
    """(mean, lo, hi, std) of a metrics.json statistic; NaN where absent."""
    if not isinstance(entry, dict):
        return (np.nan,) * 4
    ci = entry.get("ci95") or [None, None]
    return tuple(np.nan if v is None else float(v) for v in (entry.get("mean"), ci[0], ci[1], entry.get("std")))  # type: ignore[return-value]


def protocol_label(run: RunData) -> str:
    """Short description of a run's protocol: "5-fold", "sweep h=0..232", "paper split",
    plus "fold 0 of 5" / "<=10 targets" when the run was restricted."""
    proto = run.split.get("protocol") or {}
    n = proto.get("folds") or len(run.split.get("folds") or [])
    if run.is_sweep:
        hs = run.history_sizes
        label = f"sweep h={hs[0]}..{hs[-1]}" if len(hs) > 1 else f"h={hs[0]}"
    elif proto.get("replication_split"):
        label = "paper split"
    else:
        label = ""
    only = proto.get("only_folds")
    if only:
        label += (", " if label else "") + f"fold {','.join(map(str, only))} of {n}"
    elif not label:
        label = f"{n}-fold" if n else "?"
    if proto.get("max_targets"):
        label += f", ≤{proto['max_targets']} targets"
    if proto.get("name") == "new-questions":
        label = "new-questions, " + label
    return label


# --------------------------------------------------------------------------- comparison


def comparison_table(runs: Sequence[RunData]) -> pd.DataFrame:
    """One row per run: scores with 95% CIs, sizes, accounting per prediction, wall time."""
    rows = []
    for r in runs:
        m = r.metrics
        n_pred = int(m.get("n_predictions") or r.n_predictions)
        row: dict[str, Any] = {
            "run": r.name,
            "method": r.method,
            "model": r.model or "",
            "protocol": protocol_label(r),
            "n_respondents": int(m.get("n_respondents") or r.predictions["respondent"].nunique()),
            "n_predictions": n_pred,
            "n_abstained": int(m.get("n_abstained") or 0),
            "n_folds": int(m.get("n_folds") or r.predictions["fold"].nunique()),
            "synthetic": r.synthetic,
            "complete": r.complete,
        }
        for k in METRICS:
            mean, lo, hi, std = _stat(m.get(k))
            row.update({k: mean, f"{k}_lo": lo, f"{k}_hi": hi, f"{k}_std": std})
        calls = r.usage("llm_calls")
        pt = r.usage("prompt_tokens")
        ct = r.usage("completion_tokens")
        row["llm_calls"] = calls
        row["calls_per_pred"] = None if calls is None else calls / max(n_pred, 1)
        row["prompt_tokens_per_pred"] = None if pt is None else pt / max(n_pred, 1)
        row["completion_tokens_per_pred"] = None if ct is None else ct / max(n_pred, 1)
        row["tokens_per_pred"] = None if pt is None and ct is None else ((pt or 0) + (ct or 0)) / max(n_pred, 1)
        row["cache_hits"] = r.usage("cache_hits")
        found = m.get("history_recall")
        recall: dict[str, Any] = found if isinstance(found, dict) else {}
        row["history_recall"] = recall.get("mean")
        row["history_recall_k"] = recall.get("k")
        row["wall_seconds"] = r.usage("wall_seconds")
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- paired tests


@dataclass(frozen=True)
class PairedRow:
    run: str
    metric: str
    diff: float | None = None
    lo: float | None = None
    hi: float | None = None
    p_permutation: float | None = None
    p_sign: float | None = None
    n_respondents: int | None = None
    n_predictions: int | None = None
    better: str | None = None  # "run", "reference" or "" (no significant difference at 5%)
    note: str = ""


def paired_table(
    runs: Sequence[RunData], reference: RunData, codebook: Codebook, *, seed: int = 0, n_perm: int = 5000
) -> list[PairedRow]:
    """Every other run minus the reference, per metric, on identical predictions units.

    Runs on another split (different split_hash) or not yet finished are listed with a
    note instead of a test: a paired test on different work would be meaningless.
    """
    out: list[PairedRow] = []
    for r in runs:
        if r is reference:
            continue
        if r.split_hash != reference.split_hash:
            out.append(PairedRow(r.name, "", note="made on a different split (other data, sample, seed or protocol)"))
            continue
        if not (r.complete and reference.complete):
            out.append(PairedRow(r.name, "", note="unfinished (tested once both runs are complete)"))
            continue
        for metric in METRICS:
            try:
                res = paired_comparison(
                    r.predictions, reference.predictions, metric, codebook=codebook, seed=seed, n_perm=n_perm
                )
            except ValueSimError as e:
                out.append(PairedRow(r.name, metric, note=e.message))
                continue
            lo, hi = res.ci95
            sig = res.p_permutation < 0.05 and not (lo <= 0 <= hi)
            good = res.diff < 0 if metric in LOWER_IS_BETTER else res.diff > 0
            out.append(
                PairedRow(
                    run=r.name,
                    metric=metric,
                    diff=res.diff,
                    lo=lo,
                    hi=hi,
                    p_permutation=res.p_permutation,
                    p_sign=res.p_sign,
                    n_respondents=res.n_respondents,
                    n_predictions=res.n_predictions,
                    better=("run" if good else "reference") if sig else "",
                )
            )
    return out


def paired_by_condition(
    runs: Sequence[RunData],
    reference: RunData,
    codebook: Codebook,
    metric: str = "top1",
    *,
    seed: int = 0,
    n_perm: int = 5000,
) -> pd.DataFrame:
    """History sweeps: every other sweep run on the reference's split minus the reference,
    separately at each history size. Columns: run, h, diff, lo, hi, p_permutation."""
    rows = []
    ref = reference.predictions
    for r in runs:
        if (
            r is reference
            or not r.is_sweep
            or r.split_hash != reference.split_hash
            or not (r.complete and reference.complete)
        ):
            continue
        for h in r.history_sizes:
            cond = f"h={h}"
            try:
                res = paired_comparison(
                    r.predictions[r.predictions["condition"] == cond],
                    ref[ref["condition"] == cond],
                    metric,
                    codebook=codebook,
                    seed=seed,
                    n_perm=n_perm,
                )
            except ValueSimError:
                continue
            rows.append(
                {
                    "run": r.name,
                    "h": h,
                    "diff": res.diff,
                    "lo": res.ci95[0],
                    "hi": res.ci95[1],
                    "p_permutation": res.p_permutation,
                }
            )
    return pd.DataFrame(rows, columns=["run", "h", "diff", "lo", "hi", "p_permutation"])


# --------------------------------------------------------------------------- breakdowns


def breakdown_long(
    runs: Sequence[RunData], key: str, metric: str, *, labels: dict[str, str] | None = None
) -> pd.DataFrame:
    """Long table (run, group, mean, lo, hi, n, n_respondents, note) of ``by_<key>`` in
    metrics.json (key: section, country, kind, question). ``n`` counts predictions,
    ``n_respondents`` people (None for runs scored before it was recorded); ``note`` says
    why a group has no interval ("n < 5 people")."""
    rows = []
    for r in runs:
        for g, entry in (r.metrics.get(f"by_{key}") or {}).items():
            mean, lo, hi, _ = _stat(entry.get(metric))
            people = entry.get("n_respondents")
            rows.append(
                {
                    "run": r.name,
                    "group_id": g,
                    "group": (labels or {}).get(g, g),
                    "mean": mean,
                    "lo": lo,
                    "hi": hi,
                    "n": int(entry.get("n") or 0),
                    "n_respondents": None if people is None else int(people),
                    "note": str(entry.get("ci_note") or ""),
                }
            )
    return pd.DataFrame(rows, columns=["run", "group_id", "group", "mean", "lo", "hi", "n", "n_respondents", "note"])


def group_size_label(n_respondents: int | None, n_predictions: int) -> str:
    """ "253 people, 12,345 predictions" (people first: they are the unit of the intervals)."""
    preds = f"{n_predictions:,} prediction{'s' if n_predictions != 1 else ''}"
    if n_respondents is None:
        return preds
    return f"{n_respondents:,} {'person' if n_respondents == 1 else 'people'}, {preds}"


def section_labels(codebook: Codebook) -> dict[str, str]:
    return {sid: s.title for sid, s in codebook.sections.items()}


def order_groups(long: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """Sort a long table by a given order of group ids (unknown ids last, alphabetically)."""
    pos = {g: i for i, g in enumerate(order)}
    return (
        long.assign(_o=long["group_id"].map(lambda g: (pos.get(g, len(pos)), g))).sort_values("_o").drop(columns="_o")
    )


def history_long(runs: Sequence[RunData], metric: str) -> pd.DataFrame:
    """(run, h, mean, lo, hi, n) for every history-sweep run, from ``by_condition``."""
    rows = []
    for r in runs:
        if not r.is_sweep:
            continue
        for cond, entry in (r.metrics.get("by_condition") or {}).items():
            h = history_size(cond)
            if h is None:
                continue
            mean, lo, hi, _ = _stat(entry.get(metric))
            rows.append({"run": r.name, "h": h, "mean": mean, "lo": lo, "hi": hi, "n": int(entry.get("n") or 0)})
    return pd.DataFrame(rows, columns=["run", "h", "mean", "lo", "hi", "n"]).sort_values(["run", "h"], kind="stable")


def history_wide(long: pd.DataFrame) -> pd.DataFrame:
    """The history curve as a table: one row per run, one column per h ("mean [lo, hi]")."""
    if long.empty:
        return pd.DataFrame()
    cells = long.assign(
        cell=[fmt_ci(m, lo, hi) for m, lo, hi in zip(long["mean"], long["lo"], long["hi"], strict=True)]
    )
    wide = cells.pivot(index="run", columns="h", values="cell")
    wide.columns = [f"h={h}" for h in wide.columns]
    return wide.reset_index()


# --------------------------------------------------------------------------- errors


def signed_error(runs: Sequence[RunData], *, clip: int = 4) -> pd.DataFrame:
    """(run, step, share, bias, n): distribution of rank(prediction) - rank(truth) on ordered
    items (abstentions and invalid codes left out), clipped to +-clip; ``bias`` is the
    unclipped mean signed error of the run."""
    rows = []
    for r in runs:
        p = r.predictions
        ok = p["ordered"] & ~p["abstained"] & ~p["invalid"] & (p["n_options"] > 1)
        d = (p.loc[ok, "rank_pred"] - p.loc[ok, "rank_true"]).to_numpy()
        if d.size == 0:
            continue
        clipped = np.clip(d, -clip, clip)
        counts = np.bincount(clipped + clip, minlength=2 * clip + 1)
        for i, c in enumerate(counts):
            rows.append(
                {"run": r.name, "step": i - clip, "share": c / d.size, "bias": float(d.mean()), "n": int(d.size)}
            )
    return pd.DataFrame(rows, columns=["run", "step", "share", "bias", "n"])


def _row_normalize(counts: pd.DataFrame) -> pd.DataFrame:
    tot = counts.sum(axis=1)
    return counts.div(tot.where(tot > 0), axis=0)


def pooled_confusion(run: RunData) -> pd.DataFrame | None:
    """Row-normalized confusion of answer *positions* pooled over ordered items: each item's
    rank is scaled to [0, 1] and rounded to one of 5 bins (first option ... last option)."""
    p = run.predictions
    ok = p["ordered"] & ~p["abstained"] & ~p["invalid"] & (p["n_options"] > 1)
    if not ok.any():
        return None
    sub = p[ok]
    k = len(POSITION_BINS)
    scale = (sub["n_options"] - 1).to_numpy(np.float64)
    t = np.rint(sub["rank_true"].to_numpy() / scale * (k - 1)).astype(int)
    q = np.rint(sub["rank_pred"].to_numpy() / scale * (k - 1)).astype(int)
    counts = np.zeros((k, k))
    np.add.at(counts, (t, q), 1)
    return _row_normalize(pd.DataFrame(counts, index=list(POSITION_BINS), columns=list(POSITION_BINS)))


def item_confusion(run: RunData, qid: str, codebook: Codebook) -> pd.DataFrame | None:
    """Row-normalized confusion of one item's answers, labelled with its answer codes
    (:func:`option_legend` spells them out)."""
    p = run.predictions
    sub = p[(p["question"] == qid) & ~p["abstained"] & ~p["invalid"]]
    if sub.empty:
        return None
    q = codebook.get(qid)
    codes = q.answer_codes
    labels = [str(c) for c in codes]
    pos = {c: i for i, c in enumerate(codes)}
    counts = np.zeros((len(codes), len(codes)))
    for t, pr in zip(sub["truth"], sub["prediction"], strict=True):
        counts[pos[int(t)], pos[int(pr)]] += 1
    return _row_normalize(pd.DataFrame(counts, index=labels, columns=labels))


def option_legend(qid: str, codebook: Codebook) -> str:
    """ "1 = Very happy; 2 = Rather happy; ..." for a figure caption."""
    q = codebook.get(qid)
    return "; ".join(f"{c} = {q.options[c]}" for c in q.answer_codes)


def default_confusion_item(runs: Sequence[RunData]) -> str | None:
    """The ordered item with the most predictions across runs (lowest number on ties)."""
    counts: dict[str, int] = {}
    for r in runs:
        p = r.predictions
        vc = p.loc[p["ordered"] & (p["n_options"] > 2), "question"].value_counts()
        for qid, n in vc.items():
            counts[str(qid)] = counts.get(str(qid), 0) + int(n)
    if not counts:
        return None
    return min(counts, key=lambda q: (-counts[q], question_sort_key(q)))


def calibration_long(runs: Sequence[RunData]) -> pd.DataFrame:
    """(run, confidence, accuracy, n, ece) from metrics.json's reliability bins."""
    rows = []
    for r in runs:
        prob = r.metrics.get("probabilistic")
        if not isinstance(prob, dict):
            continue
        for b in prob.get("reliability") or []:
            if b.get("n"):
                rows.append(
                    {
                        "run": r.name,
                        "confidence": b["confidence"],
                        "accuracy": b["accuracy"],
                        "n": b["n"],
                        "ece": prob.get("ece"),
                    }
                )
    return pd.DataFrame(rows, columns=["run", "confidence", "accuracy", "n", "ece"])


def probabilistic_table(runs: Sequence[RunData]) -> pd.DataFrame:
    rows = []
    for r in runs:
        prob = r.metrics.get("probabilistic")
        if isinstance(prob, dict):
            rows.append(
                {
                    "run": r.name,
                    "log_loss": prob.get("log_loss"),
                    "brier": prob.get("brier"),
                    "ece": prob.get("ece"),
                    "coverage": prob.get("coverage"),
                    "n": prob.get("n"),
                }
            )
    return pd.DataFrame(rows, columns=["run", "log_loss", "brier", "ece", "coverage", "n"])


# --------------------------------------------------------------------------- provenance


#: Shown instead of a commit when a run was made by an installed package, not a git checkout.
NO_GIT_COMMIT = "not a git checkout (installed package: see the valuesim version)"


def provenance(run: RunData) -> dict[str, Any]:
    """What made a run: command, versions, data, configuration, timings."""
    man = run.manifest
    data = man.get("data") or {}
    return {
        "run": run.name,
        "path": str(run.path),
        "command": man.get("command") or "",
        "valuesim_version": man.get("valuesim_version") or "",
        "git_commit": man.get("git_commit") or "",
        "python": man.get("python") or "",
        "platform": man.get("platform") or "",
        "data_path": data.get("path") or "",
        "data_fingerprint": data.get("fingerprint") or run.split.get("data_fingerprint") or "",
        "data_version": data.get("version") or "",
        "synthetic": run.synthetic,
        "split_hash": run.split_hash,
        "protocol": run.split.get("protocol") or {},
        "method_config": run.method_config,
        "started": man.get("started") or "",
        "finished": man.get("finished") or "unfinished",
        "status": man.get("status") or "",
        "packages": man.get("packages") or {},
        "notes": list(run.notes),
    }


# --------------------------------------------------------------------------- formatting


def fmt(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "-"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    return f"{float(v):.{digits}f}"


def fmt_ci(mean: Any, lo: Any, hi: Any, digits: int = 3) -> str:
    if mean is None or not np.isfinite(mean):
        return "-"
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return fmt(mean, digits)
    return f"{mean:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def fmt_p(p: float | None) -> str:
    if p is None or not np.isfinite(p):
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_seconds(s: float | None) -> str:
    if s is None or not np.isfinite(s):
        return "-"
    if s < 90:
        return f"{s:.1f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"
