"""Scores of a benchmark run: per prediction, aggregated, broken down, distributional, probabilistic.

Input is a predictions frame with the columns of ``predictions.jsonl`` (see
``notes/BENCH_FORMAT.md``): respondent, question, fold, condition, prediction (int or
None), truth (int), and optionally country and probabilities ({code: p} or None).

Per-prediction scores (:func:`per_prediction`):

* ``top1``    -- 1 if the predicted code equals the true code, else 0 (an abstention is 0);
* ``nmae``    -- |rank(pred) - rank(true)| / (n_options - 1) for ordered items (ordinal and
  scale), where rank is the position among the item's valid codes; NaN for nominal items
  and for abstentions or invalid codes (they are counted, not scored);
* ``within1`` -- 1 if the predicted rank is at most one step from the true rank (ordered
  items); for nominal items "one step away" has no meaning, so within-1 equals top-1
  there. An abstention is 0.

Aggregates follow the paper: the headline ``mean`` is the mean over folds of the per-fold
mean (each prediction weighs the same inside a fold) and ``std`` is the population
standard deviation of the per-fold means (null for a one-fold run: no spread over folds). ``ci95`` is a percentile bootstrap of the same
estimator, resampling respondents. Breakdowns (by section, country, kind, question) give
each group's number of respondents and predictions; their ``ci95`` resamples the group's
own respondents and is null ("n < 5 people") for groups of fewer than five respondents.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import wasserstein_distance

from valuesim.bench import stats
from valuesim.errors import DataError
from valuesim.survey.codebook import Codebook, QuestionKind, question_sort_key, ranks

#: Per-prediction metrics, in report order. ``nmae``: lower is better.
METRICS: tuple[str, ...] = ("top1", "nmae", "within1")

REQUIRED_COLUMNS: tuple[str, ...] = ("respondent", "question", "fold", "prediction", "truth")

#: Probabilities are clipped to this floor before taking the log (one zero-probability
#: truth then costs -log(1e-6) = 13.8 nats instead of infinity).
LOG_LOSS_EPS = 1e-6

#: Breakdown groups (a country, a question ...) with fewer respondents than this get no
#: confidence interval: a bootstrap over one to four people is not an uncertainty estimate.
MIN_GROUP_RESPONDENTS = 5
SMALL_GROUP_NOTE = f"n < {MIN_GROUP_RESPONDENTS} people"

CONVENTIONS: dict[str, str] = {
    "mean": "mean over folds of the per-fold mean over predictions",
    "std": "population standard deviation (ddof=0) of the per-fold means; null with fewer than 2 folds",
    "ci95": "percentile bootstrap over respondents of the same estimator",
    "breakdowns": "by_<group>: mean over the group's predictions; n_respondents = people, n_predictions = "
    f"predictions; ci95 = percentile bootstrap resampling the group's own respondents, null with ci_note "
    f"'{SMALL_GROUP_NOTE}' when the group has fewer than {MIN_GROUP_RESPONDENTS} respondents",
    "nmae": "|rank(pred)-rank(true)|/(n_options-1); ordered items only; abstentions excluded",
    "within1": "rank difference <= 1 on ordered items; equals top1 on nominal items",
    "abstention": "prediction null: wrong for top1 and within1, excluded from nmae",
    "distribution": "Wasserstein-1 on ranks scaled to [0,1] for ordered items; "
    "total variation distance for nominal items",
    "individuation": "lift over the demographic group's answer (demographic-majority fit on the run's training "
    "people) on the same targets: top1_lift = top1 - group top1, log_loss_lift = group log-loss - log-loss "
    "(positive: better than the group); within_cell_r = pooled within-cell Pearson correlation of the predicted "
    "score (expected rank) and the true rank on ordered items, cells = country x sex x age band with >= "
    "min_cell evaluated people, 0 when predictions do not vary within cells; see docs/metrics.md",
}

#: fewest evaluated people of a demographic cell for it to enter the within-cell correlation
MIN_CELL_PEOPLE = 3
#: fewest predictions for a correlation (of one item, or pooled): two points always correlate perfectly
MIN_ITEM_PREDICTIONS = 10
#: the reference of the individuation measures
GROUP_REFERENCE = "demographic-majority"


# --------------------------------------------------------------------------- per prediction


def per_prediction(pred: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """One row per prediction with normalised keys and the columns of :data:`METRICS`.

    Added columns: kind, section, ordered, n_options, abstained, invalid, rank_true,
    rank_pred, top1, nmae, within1. Raises :class:`DataError` for a frame that is not a
    predictions table and :class:`UnknownQuestionError` for an unknown question id.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in pred.columns]
    if missing:
        raise DataError(
            f"Predictions table lacks column(s) {', '.join(missing)}.",
            "Pass the rows of a run's predictions.jsonl (see `valuesim bench --help`).",
        )
    if pred.empty:
        raise DataError("There are no predictions to score.", "Run the benchmark first, or check the run directory.")
    s = pd.DataFrame(
        {
            "respondent": pred["respondent"].astype(str).to_numpy(),
            "question": pred["question"].astype(str).str.strip().str.upper().to_numpy(),
            "fold": pd.to_numeric(pred["fold"], errors="raise").astype(np.int64).to_numpy(),
            "condition": (
                pred["condition"].fillna("").astype(str).to_numpy() if "condition" in pred else np.full(len(pred), "")
            ),
            "country": pred["country"].fillna("").astype(str).to_numpy()
            if "country" in pred
            else np.full(len(pred), ""),
        }
    )
    truth = pd.to_numeric(pred["truth"], errors="coerce").to_numpy(np.float64)
    if np.isnan(truth).any():
        raise DataError(
            f"{int(np.isnan(truth).sum())} predictions have no true answer.",
            "Missing answers are never targets; the predictions file looks damaged.",
        )
    s["truth"] = truth.astype(np.int64)
    s["prediction"] = pd.to_numeric(pred["prediction"], errors="coerce").to_numpy(np.float64)
    if "probabilities" in pred:
        s["probabilities"] = pred["probabilities"].to_numpy()

    n = len(s)
    kind = np.empty(n, dtype=object)
    section = np.empty(n, dtype=object)
    ordered = np.zeros(n, dtype=bool)
    n_opt = np.zeros(n, dtype=np.int64)
    rank_true = np.full(n, -1, dtype=np.int64)
    rank_pred = np.full(n, -1, dtype=np.int64)
    for qid, idx in s.groupby("question", sort=False).indices.items():
        q = codebook.get(qid)
        kind[idx] = q.kind.value
        section[idx] = q.section
        ordered[idx] = q.ordered
        if q.kind is QuestionKind.NUMERIC:  # a quantity, not an answer scale: exact match only
            rank_true[idx] = 0
            continue
        codes = np.asarray(q.answer_codes, dtype=np.float64)
        n_opt[idx] = len(codes)
        rt = ranks(s["truth"].to_numpy(np.float64)[idx], codes)
        if (rt < 0).any():
            bad = sorted(set(s["truth"].to_numpy()[idx][rt < 0].tolist()))
            raise DataError(
                f"{qid}: true answer code(s) {bad} are not valid answers.",
                "The predictions file does not match the codebook; rerun the benchmark.",
            )
        rank_true[idx] = rt
        rank_pred[idx] = ranks(s["prediction"].to_numpy()[idx], codes)
    s["kind"] = kind
    s["section"] = section
    s["ordered"] = ordered
    s["n_options"] = n_opt
    s["rank_true"] = rank_true
    s["rank_pred"] = rank_pred

    p = s["prediction"].to_numpy()
    abstained = np.isnan(p)
    is_numeric = s["kind"].to_numpy() == QuestionKind.NUMERIC.value
    invalid = ~abstained & (rank_pred < 0) & ~is_numeric
    s["abstained"] = abstained
    s["invalid"] = invalid
    exact = ~abstained & (p == s["truth"].to_numpy())
    s["top1"] = exact.astype(np.float64)
    scored = ordered & ~abstained & ~invalid & (n_opt > 1)
    dist = np.abs(rank_pred - rank_true).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        s["nmae"] = np.where(scored, dist / np.maximum(n_opt - 1, 1), np.nan)
    s["within1"] = np.where(ordered, scored & (dist <= 1), exact).astype(np.float64)
    s["first_shown"] = _first_shown(pred, s["prediction"].to_numpy(np.float64))
    return s


def _first_shown(pred: pd.DataFrame, prediction: np.ndarray) -> np.ndarray:
    """1 where the prediction is the option the prompt showed first (``meta["shown_first"]``,
    written by LLM methods), 0 where it is another, NaN where nothing was shown or predicted."""
    out = np.full(len(pred), np.nan)
    if "meta" not in pred:
        return out
    for i, meta in enumerate(pred["meta"].to_numpy()):
        first = meta.get("shown_first") if isinstance(meta, dict) else None
        if first is not None and not np.isnan(prediction[i]):
            out[i] = float(prediction[i] == float(first))
    return out


def position_bias(s: pd.DataFrame, ctx: Any) -> dict[str, Any] | None:
    """Share of predictions on the first option shown, with chance (1 / options) for the same
    predictions; None when no prediction records the order it was shown in."""
    ok = s["first_shown"].notna().to_numpy()
    if not ok.any():
        return None
    f_idx, folds = _factorize(s["fold"])
    entry = ctx.fold_stats("first_shown", f_idx, len(folds))
    entry["n"] = int(ok.sum())
    entry["chance"] = float(np.mean(1.0 / np.maximum(s["n_options"].to_numpy()[ok], 1)))
    return dict(entry)


# --------------------------------------------------------------------------- summary


def summarize(
    pred: pd.DataFrame,
    codebook: Codebook,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    group: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The scoring part of ``metrics.json`` (the runner adds method and accounting keys).

    *group*: the demographic-group reference of the same targets (see :func:`individuation`);
    with it the summary has an ``individuation`` block. All numbers are plain floats (NaN
    becomes None) so the result is valid JSON.
    """
    s = per_prediction(pred, codebook)
    r_idx, resp_ids = _factorize(s["respondent"])
    f_idx, folds = _factorize(s["fold"])
    weights = stats.resample_weights(len(resp_ids), n_boot, seed)
    ctx = _Ctx(s=s, r_idx=r_idx, n_r=len(resp_ids), weights=weights, level=level, seed=seed)

    out: dict[str, Any] = {
        "n_respondents": len(resp_ids),
        "n_predictions": len(s),
        "n_abstained": int(s["abstained"].sum()),
        "n_invalid": int(s["invalid"].sum()),
        "n_folds": len(folds),
    }
    for m in METRICS:
        out[m] = ctx.fold_stats(m, f_idx, len(folds))
        out[m]["n"] = int(s[m].notna().sum())

    out["by_section"] = ctx.breakdown("section")
    for sec_id, sec_entry in out["by_section"].items():
        sec_entry["title"] = codebook.sections[sec_id].title if sec_id in codebook.sections else sec_id
    out["by_country"] = ctx.breakdown("country") if (s["country"] != "").any() else {}
    out["by_kind"] = ctx.breakdown("kind")
    out["by_question"] = ctx.breakdown("question")
    for qid, q_entry in out["by_question"].items():
        q = codebook.get(qid)
        q_entry["kind"] = q.kind.value
        q_entry["section"] = q.section
    out["by_condition"] = {}
    for cond, sub_idx in s.groupby("condition", sort=True).indices.items():
        sub = _Ctx(s=s.iloc[sub_idx], r_idx=r_idx[sub_idx], n_r=len(resp_ids), weights=weights, level=level)
        cf_idx, cf = _factorize(s["fold"].iloc[sub_idx])
        entry: dict[str, Any] = {"n": len(sub_idx)}
        for m in METRICS:
            entry[m] = sub.fold_stats(m, cf_idx, len(cf))
        entry["wasserstein_mean"] = distribution(s.iloc[sub_idx], codebook)["wasserstein_mean"]
        out["by_condition"][str(cond)] = entry
    out["distribution"] = distribution(s, codebook)
    out["probabilistic"] = probabilistic(s, codebook)
    if group is not None:
        out["individuation"] = individuation(s, group, codebook, weights=weights, r_idx=r_idx, level=level)
    bias = position_bias(s, ctx)
    if bias is not None:
        out["position_bias"] = bias
    out["bootstrap"] = {"n_boot": n_boot, "seed": seed, "level": level, "unit": "respondent"}
    out["conventions"] = dict(CONVENTIONS)
    return _jsonable(out)


def _factorize(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(index of each row's value, sorted distinct values) -- hash-based, fast on strings."""
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.int64), np.asarray(uniques)


class _Ctx:
    """Shared state for the fold and group aggregates of one summary."""

    def __init__(
        self, s: pd.DataFrame, r_idx: np.ndarray, n_r: int, weights: np.ndarray, level: float, seed: int = 0
    ) -> None:
        self.s, self.r_idx, self.n_r, self.weights, self.level, self.seed = s, r_idx, n_r, weights, level, seed

    def tables(self, metric: str, g_idx: np.ndarray, n_g: int) -> tuple[np.ndarray, np.ndarray]:
        v = self.s[metric].to_numpy(np.float64)
        ok = ~np.isnan(v)
        flat = self.r_idx * n_g + g_idx
        size = self.n_r * n_g
        sums = np.bincount(flat[ok], weights=v[ok], minlength=size).reshape(self.n_r, n_g)
        counts = np.bincount(flat[ok], minlength=size).astype(np.float64).reshape(self.n_r, n_g)
        return sums, counts

    def fold_stats(self, metric: str, f_idx: np.ndarray, n_f: int) -> dict[str, Any]:
        sums, counts = self.tables(metric, f_idx, n_f)
        per_fold = stats.group_means(sums, counts)
        reps = stats.fold_averaged(stats.ratio_replicates(sums, counts, self.weights))
        lo, hi = stats.percentile_interval(reps, self.level)
        present = per_fold[~np.isnan(per_fold)]
        return {
            "mean": float(present.mean()) if present.size else float("nan"),
            # a spread over folds needs two folds: a one-fold run has none (null, never "0.000")
            "std": float(present.std(ddof=0)) if present.size > 1 else float("nan"),
            "ci95": [float(lo), float(hi)],
            "folds": [float(x) for x in per_fold],
        }

    def breakdown(self, column: str) -> dict[str, dict[str, Any]]:
        """Per-group means with group sizes and a bootstrap that resamples the group's own respondents.

        A group with fewer than :data:`MIN_GROUP_RESPONDENTS` respondents gets no interval
        (``ci95`` null, ``ci_note`` "n < 5 people"): resampling one or two people gives a
        zero-width or meaningless interval that reads as precision.
        """
        g_idx, keys = _factorize(self.s[column])
        n_g = len(keys)
        n_rows = np.bincount(g_idx, minlength=n_g)
        members = np.bincount(self.r_idx * n_g + g_idx, minlength=self.n_r * n_g).reshape(self.n_r, n_g) > 0
        n_people = members.sum(axis=0)
        out: dict[str, dict[str, Any]] = {
            str(k): {"n": int(n), "n_predictions": int(n), "n_respondents": int(p)}
            for k, n, p in zip(keys, n_rows, n_people, strict=True)
        }
        tabs = {m: self.tables(m, g_idx, n_g) for m in METRICS}
        for j, k in enumerate(keys):
            rows = np.flatnonzero(members[:, j])
            for m in METRICS:
                sums, counts = tabs[m][0][rows, j : j + 1], tabs[m][1][rows, j : j + 1]
                out[str(k)][m] = {
                    "mean": float(stats.group_means(sums, counts)[0]),
                    "ci95": None,
                    "n": int(counts.sum()),
                }
            if len(rows) < MIN_GROUP_RESPONDENTS:
                out[str(k)]["ci_note"] = SMALL_GROUP_NOTE
        # One bootstrap per group size: the groups of a size share a draw of their own people
        # (one matrix product for all of them instead of one per group and metric).
        n_boot = self.weights.shape[0]
        for size in sorted({int(p) for p in n_people if p >= MIN_GROUP_RESPONDENTS}):
            cols = [j for j in range(n_g) if n_people[j] == size]
            num = np.empty((size, len(cols) * len(METRICS)), dtype=np.float32)
            den = np.empty_like(num)
            for c, j in enumerate(cols):
                rows = np.flatnonzero(members[:, j])
                for i, m in enumerate(METRICS):
                    num[:, c * len(METRICS) + i] = tabs[m][0][rows, j]
                    den[:, c * len(METRICS) + i] = tabs[m][1][rows, j]
            reps = stats.ratio_replicates(num, den, _group_weights(size, n_boot, self.seed))
            lo, hi = stats.percentile_interval(reps, self.level)
            for c, j in enumerate(cols):
                for i, m in enumerate(METRICS):
                    out[str(keys[j])][m]["ci95"] = [float(lo[c * len(METRICS) + i]), float(hi[c * len(METRICS) + i])]
        return out


def _group_weights(n_people: int, n_boot: int, seed: int) -> np.ndarray:
    """Resample multiplicities for a group of ``n_people`` respondents (the group's own people).

    Seeded by (seed, group size) so a group's interval does not depend on which other groups
    the run holds; groups of equal size share one draw (each interval is still a bootstrap of
    its own group's respondents).
    """
    return stats.resample_weights(n_people, n_boot, seed * 1_000_003 + n_people)


# --------------------------------------------------------------------------- distribution level


def distribution(scored: pd.DataFrame, codebook: Codebook) -> dict[str, Any]:
    """Per-question distance between the predicted and the true answer distribution.

    Ordered items: Wasserstein-1 distance between the two distributions of ranks scaled to
    [0, 1] (0 = identical, 1 = all mass at opposite ends). Nominal items: total variation
    distance (half the L1 distance between the two histograms), also in [0, 1]; for a
    two-option item both measures coincide. Abstentions and invalid codes are left out of
    the predicted distribution. ``wasserstein_mean`` averages ordered items,
    ``total_variation_mean`` nominal ones, ``mean_all`` every item.
    """
    by_q: dict[str, dict[str, Any]] = {}
    rank_true_all = scored["rank_true"].to_numpy()
    rank_pred_all = scored["rank_pred"].to_numpy()
    for qid, idx in scored.groupby("question", sort=False).indices.items():
        q = codebook.get(str(qid))
        if q.kind is QuestionKind.NUMERIC:
            continue
        codes = q.answer_codes
        k = len(codes)
        true_counts = np.bincount(rank_true_all[idx], minlength=k)[:k].astype(np.float64)
        rp = rank_pred_all[idx]
        pred_counts = np.bincount(rp[rp >= 0], minlength=k)[:k].astype(np.float64)
        entry: dict[str, Any] = {
            "measure": "wasserstein" if q.ordered else "total_variation",
            "n": len(idx),
            "n_predicted": int(pred_counts.sum()),
            "codes": codes,
            "true": (true_counts / true_counts.sum()).tolist(),
            "pred": (pred_counts / pred_counts.sum()).tolist() if pred_counts.sum() else None,
        }
        if pred_counts.sum() == 0:
            entry["distance"] = float("nan")
        elif q.ordered:
            grid = np.arange(k) / max(k - 1, 1)
            entry["distance"] = float(wasserstein_distance(grid, grid, pred_counts, true_counts))
        else:
            entry["distance"] = float(
                0.5 * np.abs(pred_counts / pred_counts.sum() - true_counts / true_counts.sum()).sum()
            )
        by_q[str(qid)] = entry

    def mean_of(measure: str | None) -> float:
        vals = [e["distance"] for e in by_q.values() if measure in (None, e["measure"]) and not np.isnan(e["distance"])]
        return float(np.mean(vals)) if vals else float("nan")

    return {
        "wasserstein_mean": mean_of("wasserstein"),
        "total_variation_mean": mean_of("total_variation"),
        "mean_all": mean_of(None),
        "by_question": dict(sorted(by_q.items(), key=lambda kv: question_sort_key(kv[0]))),
    }


# --------------------------------------------------------------------------- probabilistic


def probabilistic(scored: pd.DataFrame, codebook: Codebook, *, n_bins: int = 10) -> dict[str, Any] | None:
    """Log-loss, multi-class Brier score and top-label expected calibration error.

    Uses the predictions that carry a probabilities dict (None when none do). Each dict is
    restricted to the item's valid codes and renormalised (all-zero -> uniform).
    ``brier`` is the sum over options of (p - 1[option is true])^2, in [0, 2]. ``ece`` bins
    the top probability into ``n_bins`` equal-width bins and averages |accuracy - confidence|
    weighted by bin size; ``reliability`` holds the bins for a reliability diagram.
    """
    if "probabilities" not in scored.columns:
        return None
    has = scored["probabilities"].map(lambda d: isinstance(d, Mapping) and len(d) > 0).to_numpy(bool)
    if not has.any():
        return None
    sub = scored[has]
    p_true_all: list[np.ndarray] = []
    brier_all: list[np.ndarray] = []
    conf_all: list[np.ndarray] = []
    hit_all: list[np.ndarray] = []
    for qid, grp in sub.groupby("question", sort=False):
        q = codebook.get(str(qid))
        codes = q.answer_codes if q.kind is not QuestionKind.NUMERIC else None
        if not codes:
            continue
        mat = np.array([[_prob(d, c) for c in codes] for d in grp["probabilities"]], dtype=np.float64)
        mat = np.clip(mat, 0.0, None)
        tot = mat.sum(axis=1, keepdims=True)
        mat = np.where(tot > 0, mat / np.where(tot > 0, tot, 1.0), 1.0 / len(codes))
        rt = grp["rank_true"].to_numpy()
        onehot = np.zeros_like(mat)
        onehot[np.arange(len(rt)), rt] = 1.0
        p_true_all.append(mat[np.arange(len(rt)), rt])
        brier_all.append(((mat - onehot) ** 2).sum(axis=1))
        conf_all.append(mat.max(axis=1))
        hit_all.append((mat.argmax(axis=1) == rt).astype(np.float64))
    if not p_true_all:
        return None
    p_true = np.concatenate(p_true_all)
    conf = np.concatenate(conf_all)
    hit = np.concatenate(hit_all)
    bins = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    reliability = []
    ece = 0.0
    for b in range(n_bins):
        m = bins == b
        nb = int(m.sum())
        acc = float(hit[m].mean()) if nb else float("nan")
        cf = float(conf[m].mean()) if nb else float("nan")
        if nb:
            ece += nb / len(conf) * abs(acc - cf)
        reliability.append({"lo": b / n_bins, "hi": (b + 1) / n_bins, "n": nb, "confidence": cf, "accuracy": acc})
    return {
        "n": len(p_true),
        "coverage": float(len(p_true) / len(scored)),
        "log_loss": float(-np.log(np.clip(p_true, LOG_LOSS_EPS, 1.0)).mean()),
        "brier": float(np.concatenate(brier_all).mean()),
        "ece": float(ece),
        "log_loss_eps": LOG_LOSS_EPS,
        "reliability": reliability,
    }


# --------------------------------------------------------------------------- individuation


def _prob_matrix(dicts: Sequence[Any], codes: Sequence[int]) -> np.ndarray:
    """Rows of probabilities over *codes* (restricted, clipped at 0, renormalised; all-zero ->
    uniform); NaN rows for entries that carry no probabilities."""
    mat = np.full((len(dicts), len(codes)), np.nan)
    for i, d in enumerate(dicts):
        if isinstance(d, Mapping) and d:
            mat[i] = [_prob(d, c) for c in codes]
    mat = np.clip(mat, 0.0, None)
    tot = mat.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(tot > 0, mat / np.where(tot > 0, tot, 1.0), 1.0 / len(codes))
    return np.where(np.isnan(tot), np.nan, out)  # no probabilities: stays NaN (not uniform)


def _centred(x: np.ndarray, y: np.ndarray, cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y minus their means within each cell."""
    codes, inv = np.unique(cell, return_inverse=True)
    n = np.bincount(inv, minlength=len(codes)).astype(np.float64)
    xc = x - (np.bincount(inv, weights=x, minlength=len(codes)) / n)[inv]
    yc = y - (np.bincount(inv, weights=y, minlength=len(codes)) / n)[inv]
    return xc, yc


def _pearson_centred(xc: np.ndarray, yc: np.ndarray) -> tuple[float, bool]:
    """Pearson correlation of already centred x and y: (r, constant) -- r = 0 with constant =
    True when x does not vary (the predictions know the group only); NaN when y does not vary
    or there is nothing to correlate."""
    if len(xc) < 2:
        return float("nan"), False
    sxx, syy = float((xc**2).sum()), float((yc**2).sum())
    if syy <= 1e-12:
        return float("nan"), False
    if sxx <= 1e-12:
        return 0.0, True
    return float((xc * yc).sum() / np.sqrt(sxx * syy)), False


def _within_cell_r(x: np.ndarray, y: np.ndarray, cell: np.ndarray) -> tuple[float, bool]:
    """Pooled within-cell Pearson correlation of x and y (both centred on their cell means)."""
    return _pearson_centred(*_centred(x, y, cell))


def _concat(parts: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    if not parts:
        return np.zeros(0), np.zeros(0)
    return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])


def individuation(
    scored: pd.DataFrame,
    group: pd.DataFrame,
    codebook: Codebook,
    *,
    weights: np.ndarray | None = None,
    r_idx: np.ndarray | None = None,
    level: float = 0.95,
    min_cell: int = MIN_CELL_PEOPLE,
) -> dict[str, Any]:
    """How much a method's predictions vary with the person beyond their demographic group.

    *scored*: :func:`per_prediction` rows. *group*: one row per (respondent, question) with
    ``group_prediction`` (the code demographic-majority answers), ``group_probabilities``
    ({code: p}) and ``cell`` (the person's demographic cell, country x sex x age band, or
    None when the record lacks sex or age) -- built from the run's training people
    (:func:`valuesim.bench.score.group_reference`), whether or not ``demographic-majority``
    was run.

    * ``top1_lift``: top-1 minus the group answer's top-1 on the same targets (an
      abstention counts wrong for both, as in ``top1``); bootstrap CI over respondents.
    * ``log_loss_lift``: the group's log-loss minus the method's, on the targets where the
      method gave probabilities (positive: the method is better); CI over respondents.
    * ``within_cell_r``: per ordered item, the pooled within-cell Pearson correlation of the
      predicted score (expected rank under the probabilities; the predicted rank without
      them) and the true rank, over cells with at least *min_cell* evaluated people; 0 when
      the predictions do not vary within any cell. The headline averages the items.

    A method that only knows the group has lifts near 0 and ``within_cell_r`` 0.
    """
    keys = pd.DataFrame(
        {
            "respondent": group["respondent"].astype(str).to_numpy(),
            "question": group["question"].astype(str).str.strip().str.upper().to_numpy(),
        }
    )
    ref = pd.concat([keys, group[["group_prediction", "group_probabilities", "cell"]].reset_index(drop=True)], axis=1)
    ref = ref.drop_duplicates(["respondent", "question"])
    m = scored[["respondent", "question"]].merge(ref, on=["respondent", "question"], how="left", validate="m:1")
    has = m["group_probabilities"].map(lambda d: isinstance(d, Mapping) and len(d) > 0).to_numpy(bool)
    n = len(scored)
    truth = scored["truth"].to_numpy()
    gpred = pd.to_numeric(m["group_prediction"], errors="coerce").to_numpy(np.float64)
    group_top1 = np.where(has, (gpred == truth).astype(np.float64), np.nan)
    top1_lift = np.where(has, scored["top1"].to_numpy(np.float64) - group_top1, np.nan)
    ll_lift = np.full(n, np.nan)
    ll_method = np.full(n, np.nan)
    ll_group = np.full(n, np.nan)
    probs_col = scored["probabilities"].to_numpy() if "probabilities" in scored else np.full(n, None)
    gprobs_col = m["group_probabilities"].to_numpy()
    cells = m["cell"].to_numpy(dtype=object)
    rank_true = scored["rank_true"].to_numpy()
    rank_pred = scored["rank_pred"].to_numpy().astype(np.float64)
    abstained = scored["abstained"].to_numpy(bool)
    person_code, persons = pd.factorize(scored["respondent"])
    cell_code, _ = pd.factorize(pd.Series([repr(c) if c is not None else None for c in cells], dtype=object))
    by_q: dict[str, dict[str, Any]] = {}
    pooled_resid: list[tuple[np.ndarray, np.ndarray]] = []  # residuals from the group's expectation
    pooled_cells: list[tuple[np.ndarray, np.ndarray]] = []  # per item, centred on the cells' means
    for qid, idx in scored.groupby("question", sort=False).indices.items():
        q = codebook.get(str(qid))
        if q.kind is QuestionKind.NUMERIC:
            continue
        codes = q.answer_codes
        rt = rank_true[idx]
        pm = _prob_matrix(list(probs_col[idx]), codes)
        gm = _prob_matrix(list(gprobs_col[idx]), codes)
        rows = np.arange(len(idx))
        with np.errstate(invalid="ignore"):
            lm = -np.log(np.clip(pm[rows, rt], LOG_LOSS_EPS, 1.0))
            lg = -np.log(np.clip(gm[rows, rt], LOG_LOSS_EPS, 1.0))
        ok = ~np.isnan(pm[:, 0]) & ~np.isnan(gm[:, 0]) & ~abstained[idx]
        ll_method[idx] = np.where(ok, lm, np.nan)
        ll_group[idx] = np.where(ok, lg, np.nan)
        ll_lift[idx] = np.where(ok, lg - lm, np.nan)
        entry: dict[str, Any] = {
            "n": len(idx),
            "top1_lift": _nanmean(top1_lift[idx]),
            "group_top1": _nanmean(group_top1[idx]),
            "log_loss_lift": _nanmean(ll_lift[idx]),
            "n_log_loss": int(ok.sum()),
        }
        if q.ordered and len(codes) > 1:
            scale = float(len(codes) - 1)  # ranks scaled to [0, 1]: items of any length pool
            rp = rank_pred[idx]
            expected = np.where(np.isnan(pm[:, 0]), np.where(rp >= 0, rp, np.nan), pm @ np.arange(len(codes)))
            expected = np.where(abstained[idx], np.nan, expected) / scale
            group_expected = (gm @ np.arange(len(codes))) / scale
            true = rt / scale
            # (1) beyond the group's expectation: residuals from the cell's expected answer
            ok_r = ~np.isnan(expected) & ~np.isnan(group_expected)
            x, y = expected[ok_r] - group_expected[ok_r], true[ok_r] - group_expected[ok_r]
            # per item: only with enough predictions (two points always correlate perfectly)
            r, constant = (
                _within_cell_r(x, y, np.zeros(len(x))) if len(x) >= MIN_ITEM_PREDICTIONS else (float("nan"), False)
            )
            pooled_resid.append((x, y))  # pooled: residuals are relative to the group already
            # (2) within cells of the evaluated sample (cells with >= min_cell people)
            cq = cell_code[idx]  # -1: no cell (no sex or age on record)
            with_cell = cq >= 0
            pairs = np.unique(cq[with_cell].astype(np.int64) * len(persons) + person_code[idx][with_cell])
            size = (
                np.bincount(pairs // len(persons), minlength=max(int(cq.max()) + 1, 0)) if len(pairs) else np.zeros(0)
            )
            big = np.flatnonzero(size >= min_cell)
            use = np.isin(cq, big) & with_cell & ~np.isnan(expected)
            r_cells = float("nan")
            if use.any():
                xc, yc = _centred(expected[use], true[use], cq[use])
                pooled_cells.append((xc, yc))
                if use.sum() >= MIN_ITEM_PREDICTIONS:
                    r_cells = _pearson_centred(xc, yc)[0]
            entry.update(
                {
                    "within_cell_r": r,
                    "within_cell_r_sample": r_cells,
                    "n_cells": len(big),
                    "n_in_cells": int(use.sum()),
                    **({"constant_within_cells": True} if constant else {}),
                }
            )
        by_q[str(qid)] = entry

    out: dict[str, Any] = {"reference": GROUP_REFERENCE, "min_cell": min_cell}
    for key, values in (("top1_lift", top1_lift), ("log_loss_lift", ll_lift)):
        out[key] = _respondent_mean_ci(values, scored, weights, r_idx, level)
    out["group_top1"] = _nanmean(group_top1)
    out["log_loss"], out["group_log_loss"] = _nanmean(ll_method), _nanmean(ll_group)
    rs = [
        e["within_cell_r"]
        for e in by_q.values()
        if e.get("within_cell_r") is not None and np.isfinite(e["within_cell_r"])
    ]
    x_all, y_all = _concat(pooled_resid)
    r_all, constant_all = (
        _within_cell_r(x_all, y_all, np.zeros(len(x_all)))
        if len(x_all) >= MIN_ITEM_PREDICTIONS
        else (float("nan"), False)
    )
    xc_all, yc_all = _concat(pooled_cells)
    r_cells = _pearson_centred(xc_all, yc_all)[0] if len(xc_all) >= MIN_ITEM_PREDICTIONS else float("nan")
    out["within_cell_r"] = {
        "r": r_all,
        "question_mean": float(np.mean(rs)) if rs else float("nan"),
        "n": int(sum(len(x) for x, _ in pooled_resid)),
        "n_questions": len(rs),
        "n_ordered_questions": sum(1 for e in by_q.values() if "within_cell_r" in e),
        **({"constant_within_cells": True} if constant_all else {}),
    }
    out["within_cell_r_sample"] = {
        "r": r_cells,
        "n": int(sum(len(x) for x, _ in pooled_cells)),
        "n_question_cells": int(sum(e.get("n_cells", 0) for e in by_q.values())),
    }
    cell_people = pd.DataFrame({"cell": cells, "r": scored["respondent"].to_numpy()})
    cell_people = cell_people[cell_people["cell"].notna()]
    out["n_people_with_cell"] = int(cell_people["r"].nunique())
    out["n_covered"] = int(has.sum())
    out["by_question"] = dict(sorted(by_q.items(), key=lambda kv: question_sort_key(kv[0])))
    return out


def _nanmean(v: np.ndarray) -> float:
    v = v[~np.isnan(v)]
    return float(v.mean()) if v.size else float("nan")


def _respondent_mean_ci(
    values: np.ndarray, scored: pd.DataFrame, weights: np.ndarray | None, r_idx: np.ndarray | None, level: float
) -> dict[str, Any]:
    """Mean over predictions with a percentile bootstrap CI over respondents (the summary's resamples)."""
    ok = ~np.isnan(values)
    out: dict[str, Any] = {"mean": _nanmean(values), "ci95": None, "n": int(ok.sum())}
    if weights is None or r_idx is None or not ok.any():
        return out
    n_r = weights.shape[1]
    sums = np.bincount(r_idx[ok], weights=values[ok], minlength=n_r)[:, None]
    counts = np.bincount(r_idx[ok], minlength=n_r).astype(np.float64)[:, None]
    reps = stats.ratio_replicates(sums, counts, weights)[:, 0]
    lo, hi = stats.percentile_interval(reps, level)
    out["ci95"] = [float(lo), float(hi)]
    return out


def _prob(d: Mapping[Any, Any], code: int) -> float:
    v = d.get(code)
    if v is None:
        v = d.get(str(code), 0.0)
    try:
        return float(v)
    except (TypeError, ValueError):
        return 0.0


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return None if np.isnan(x) else float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x
