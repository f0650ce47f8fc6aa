"""Paired comparison of two runs made on the same split (``valuesim bench compare``, reports).

Built on the per-prediction scores of :mod:`valuesim.bench.metrics` and the respondent
resampling of :mod:`valuesim.bench.stats` (which imports neither).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from valuesim.bench.metrics import METRICS, per_prediction
from valuesim.bench.stats import (
    fold_averaged,
    group_means,
    percentile_interval,
    ratio_replicates,
    resample_weights,
)
from valuesim.errors import ConfigError
from valuesim.survey.codebook import Codebook, load_codebook

#: The share of predictions on the first option shown (``valuesim.bench.metrics.position_bias``):
#: compared like a metric when both runs record the order they showed options in.
POSITION_METRIC = "first_shown"

#: Columns that identify one prediction across runs made on the same split.
UNIT_KEYS: tuple[str, ...] = ("respondent", "question", "fold", "condition")


@dataclass(frozen=True)
class PairedResult:
    """Run A minus run B on the same predictions units (positive = A scores higher)."""

    metric: str
    n_respondents: int
    n_predictions: int
    mean_a: float
    mean_b: float
    diff: float
    ci95: tuple[float, float]
    p_permutation: float
    p_sign: float
    respondents_a_better: int
    respondents_b_better: int
    n_boot: int
    n_perm: int
    seed: int
    lower_is_better: bool

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ci95"] = list(self.ci95)
        return d


def paired_comparison(
    pred_a: pd.DataFrame,
    pred_b: pd.DataFrame,
    metric: str = "top1",
    *,
    codebook: Codebook | None = None,
    n_boot: int = 1000,
    n_perm: int = 5000,
    seed: int = 0,
    level: float = 0.95,
) -> PairedResult:
    """Compare two runs prediction by prediction.

    The runs are joined on (respondent, question, fold, condition) and must cover exactly
    the same units with the same truth, otherwise :class:`ConfigError` is raised. The
    difference uses the same estimator as :func:`valuesim.bench.metrics.summarize` (mean
    over folds of the per-fold mean); for ``nmae`` only predictions scored in both runs
    count (an abstention in either run drops the pair). Uncertainty: a paired bootstrap
    over respondents (both runs get the same resample), a sign-flip permutation test over
    respondents (two-sided), and a sign test on the per-respondent total differences.
    """
    if metric not in (*METRICS, POSITION_METRIC):
        raise ConfigError(f"Unknown metric {metric!r} for a paired comparison.", f"Use one of {', '.join(METRICS)}.")
    cb = codebook or load_codebook()
    sa = per_prediction(pred_a, cb)
    sb = per_prediction(pred_b, cb)
    _require_same_units(sa, sb)

    joined = sa[[*UNIT_KEYS, "truth", metric]].merge(
        sb[[*UNIT_KEYS, "truth", metric]], on=list(UNIT_KEYS), suffixes=("_a", "_b"), validate="one_to_one"
    )
    if not (joined["truth_a"] == joined["truth_b"]).all():
        n_bad = int((joined["truth_a"] != joined["truth_b"]).sum())
        raise ConfigError(
            f"The two runs disagree on the true answer of {n_bad} predictions.",
            "They were made on different data files; rerun both on the same --data.",
        )
    joined = joined[joined[f"{metric}_a"].notna() & joined[f"{metric}_b"].notna()]
    if joined.empty:
        raise ConfigError(
            f"No prediction is scored by {metric!r} in both runs.",
            "nmae needs ordered items answered (not abstained) by both methods.",
        )
    d = (joined[f"{metric}_a"] - joined[f"{metric}_b"]).to_numpy(np.float64)
    resp_codes, resp_index = np.unique(joined["respondent"].to_numpy(), return_inverse=True)
    fold_codes, fold_index = np.unique(joined["fold"].to_numpy(), return_inverse=True)
    n_r, n_f = len(resp_codes), len(fold_codes)

    def table(values: np.ndarray) -> np.ndarray:
        out = np.zeros((n_r, n_f))
        np.add.at(out, (resp_index, fold_index), values)
        return out

    counts = table(np.ones_like(d))
    diff_sums = table(d)
    mean_a = float(fold_averaged(group_means(table(joined[f"{metric}_a"].to_numpy(np.float64)), counts)))
    mean_b = float(fold_averaged(group_means(table(joined[f"{metric}_b"].to_numpy(np.float64)), counts)))
    observed = float(fold_averaged(group_means(diff_sums, counts)))

    weights = resample_weights(n_r, n_boot, seed)
    boot = fold_averaged(ratio_replicates(diff_sums, counts, weights))
    lo, hi = percentile_interval(boot, level)

    # Sign flips per respondent: under H0 the labels A/B are exchangeable within a person.
    rng = np.random.default_rng(seed + 1)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(n_perm, n_r))
    fold_den = counts.sum(axis=0)
    perm = fold_averaged((signs @ diff_sums) / np.where(fold_den > 0, fold_den, np.nan))
    tol = 1e-12
    p_perm = float((1 + np.sum(np.abs(perm) >= abs(observed) - tol)) / (n_perm + 1))

    lower_is_better = metric == "nmae"
    per_resp = diff_sums.sum(axis=1) * (-1.0 if lower_is_better else 1.0)  # > 0: A did better
    a_better = int((per_resp > 0).sum())
    b_better = int((per_resp < 0).sum())
    p_sign = 1.0 if a_better + b_better == 0 else float(sps.binomtest(a_better, a_better + b_better, 0.5).pvalue)
    return PairedResult(
        metric=metric,
        n_respondents=n_r,
        n_predictions=len(joined),
        mean_a=mean_a,
        mean_b=mean_b,
        diff=observed,
        ci95=(float(lo), float(hi)),
        p_permutation=p_perm,
        p_sign=p_sign,
        respondents_a_better=a_better,
        respondents_b_better=b_better,
        n_boot=n_boot,
        n_perm=n_perm,
        seed=seed,
        lower_is_better=lower_is_better,
    )


def _require_same_units(sa: pd.DataFrame, sb: pd.DataFrame) -> None:
    for name, frame in (("first", sa), ("second", sb)):
        if frame.duplicated(list(UNIT_KEYS)).any():
            n = int(frame.duplicated(list(UNIT_KEYS)).sum())
            raise ConfigError(
                f"The {name} run has {n} duplicate predictions for the same (respondent, question, fold, condition).",
                "Check its predictions.jsonl; each unit must be predicted once.",
            )
    ka = pd.MultiIndex.from_frame(sa[list(UNIT_KEYS)])
    kb = pd.MultiIndex.from_frame(sb[list(UNIT_KEYS)])
    only_a = len(ka.difference(kb))
    only_b = len(kb.difference(ka))
    if only_a or only_b:
        raise ConfigError(
            "The two runs do not cover the same predictions "
            f"({only_a} only in the first, {only_b} only in the second, {len(ka.intersection(kb))} shared).",
            "Compare runs made with the same --data, --respondents, --seed and --folds/--history-sweep "
            "(their split.json files must have the same split_hash), and let both finish.",
        )


__all__ = ["UNIT_KEYS", "PairedResult", "paired_comparison"]
