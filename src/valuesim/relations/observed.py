"""Observed associations among the training people's answers to known items.

The association of two items is the Pearson correlation of their *normal scores*: each answer
is replaced by ``Phi^-1(mid-rank CDF)`` of its item's answer distribution, so the scale's codes
only count through their order (a rank-based correlation, like Spearman's, on the latent scale
a Gaussian copula uses). Pairs are computed on the people who answered both items.

Only *orderable* items take part: ordinal and rating-scale items, and nominal items with two
options (whose association has a sign once their codes are ordered). Numeric quantities and
unordered items with more than two options have no signed association and are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtri

from valuesim.survey.codebook import Codebook, Question, QuestionKind
from valuesim.survey.dataset import SurveyData


def orderable(q: Question) -> bool:
    """True when answers to *q* have an order a signed association can use."""
    if q.kind is QuestionKind.NUMERIC:
        return False
    n = len(q.answer_codes)
    return n >= 2 and (q.ordered or n == 2)


@dataclass(frozen=True)
class Marginal:
    """An item's answer distribution among the training people (codes sorted)."""

    codes: tuple[int, ...]
    probs: tuple[float, ...]

    def normal_score(self, code: int) -> float | None:
        """``Phi^-1`` of the mid-rank cumulative probability of *code*; None if not a code."""
        try:
            j = self.codes.index(code)
        except ValueError:
            return None
        p = np.asarray(self.probs)
        mid = float(p[:j].sum() + p[j] / 2.0)
        return float(ndtri(min(max(mid, 1e-4), 1 - 1e-4)))


@dataclass
class Observed:
    """Associations among ``items`` (``corr[i, j]``, NaN when too few people answered both)."""

    items: list[str]
    corr: np.ndarray  # (p, p) normal-score correlations
    n_pairs: np.ndarray  # (p, p) people who answered both
    marginals: dict[str, Marginal]
    n_people: int
    #: group (e.g. country) -> item -> the group's answer distribution (shrunk towards ``marginals``);
    #: empty when the associations were computed without groups
    group_marginals: dict[str, dict[str, Marginal]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {q: i for i, q in enumerate(self.items)}

    def get(self, a: str, b: str) -> float:
        return float(self.corr[self.index[a], self.index[b]])

    def marginal(self, item: str, group: str | None = None) -> Marginal:
        """The item's answer distribution in *group* (when known there), else among everybody."""
        by_group = self.group_marginals.get(group or "")
        return (by_group or {}).get(item) or self.marginals[item]


def _marginal(
    values: np.ndarray, codes: Sequence[int], alpha: float = 0.5, prior: Marginal | None = None, strength: float = 0.0
) -> Marginal:
    counts = np.array([(values == c).sum() for c in codes], dtype=float) + alpha
    if prior is not None:
        counts += strength * np.asarray(prior.probs)
    return Marginal(tuple(int(c) for c in codes), tuple(float(x) for x in counts / counts.sum()))


def normal_scores(values: np.ndarray, marginal: Marginal) -> np.ndarray:
    """Normal scores of a column of codes (NaN where missing or not a code)."""
    out = np.full(values.shape, np.nan)
    for c in marginal.codes:
        z = marginal.normal_score(c)
        out[values == c] = np.nan if z is None else z
    return out


def observed_associations(
    train: SurveyData,
    codebook: Codebook,
    *,
    min_pairs: int = 30,
    groups: np.ndarray | None = None,
    min_group: int = 50,
    prior_strength: float = 20.0,
) -> Observed:
    """Normal-score correlations among every orderable item *train* holds answers to.

    With *groups* (one label per person, e.g. the country) each answer is scored against its
    group's answer distribution (shrunk towards everybody's with ``prior_strength`` answers; groups
    of fewer than ``min_group`` people use everybody's), so the associations are those *within*
    groups and the groups' distributions are kept (:meth:`Observed.marginal`)."""
    items = [q for q in train.question_ids if q in codebook and orderable(codebook.get(q))]
    values = train.matrix(items)
    members: dict[str, np.ndarray] = {}
    if groups is not None:
        labels, inverse, sizes = np.unique(np.asarray(groups).astype(str), return_inverse=True, return_counts=True)
        members = {str(g): np.flatnonzero(inverse == i) for i, g in enumerate(labels) if sizes[i] >= min_group}
    keep, marginals, cols = [], {}, []
    by_group: dict[str, dict[str, Marginal]] = {g: {} for g in members}
    for j, q in enumerate(items):
        col = values[:, j]
        if np.isfinite(col).sum() < min_pairs:
            continue
        codes = codebook.get(q).answer_codes
        m = _marginal(col, codes)
        z = normal_scores(col, m)
        for g, rows in members.items():
            if np.isfinite(col[rows]).any():
                gm = _marginal(col[rows], codes, prior=m, strength=prior_strength)
                by_group[g][q] = gm
                z[rows] = normal_scores(col[rows], gm)
        if np.nanstd(z) <= 0:
            continue
        keep.append(q)
        marginals[q] = m
        cols.append(z)
    p = len(keep)
    if not p:
        return Observed([], np.zeros((0, 0)), np.zeros((0, 0)), {}, len(train), {})
    z = np.column_stack(cols)
    mask = np.isfinite(z).astype(np.float64)
    z0 = np.where(mask > 0, z, 0.0)
    n = mask.T @ mask
    sxy = z0.T @ z0
    sx = z0.T @ mask  # sx[i, j]: sum of item i over people who answered j
    sxx = (z0 * z0).T @ mask
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = n * sxy - sx * sx.T
        var = (n * sxx - sx * sx) * (n * sxx - sx * sx).T
        corr = cov / np.sqrt(var)
    corr[(n < min_pairs) | ~np.isfinite(corr)] = np.nan
    np.fill_diagonal(corr, 1.0)
    kept = set(keep)
    by_group = {g: {q: m for q, m in ms.items() if q in kept} for g, ms in by_group.items()}
    return Observed(keep, np.clip(corr, -1.0, 1.0), n, marginals, len(train), by_group)


def fit_sample(
    data: SurveyData,
    *,
    hide: Sequence[str] = (),
    exclude: Sequence[str] = (),
    max_people: int = 20_000,
    seed: int = 0,
) -> SurveyData:
    """The people (at most *max_people*, a seeded sample; never those in *exclude*) whose answers
    to the known items a relations model learns from, with the *hide* questions' columns removed
    -- so nobody's answer to a question being predicted reaches the model."""
    skip = {str(x) for x in exclude}
    ids = [str(i) for i in data.frame.index if str(i) not in skip]
    if len(ids) > max_people:
        rng = np.random.default_rng([seed, 2626])
        ids = [ids[i] for i in np.sort(rng.choice(len(ids), size=max_people, replace=False))]
    return data.subset(ids).without(hide)
