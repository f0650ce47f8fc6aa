"""Which of a person's known answers bear on a target question: item relations and history recall.

A *relations* object answers one question: for target item ``t`` and the items a person
answered, how strongly does each bear on ``t``? (:class:`Relations`: ``scores(target, known)``.)
The story budget (:mod:`valuesim.methods.story`) spends its tokens on the highest-scoring
answers first, and :func:`recall_at_k` measures, model-free, how many of them a prompt kept.

* :func:`observed_relations` -- the **observed** association among training respondents (pure:
  a frame of answer codes in, a matrix out), computed once per fit, never from the people or
  answers being predicted. Ordered items (and two-option items) by the absolute Spearman
  correlation of their codes (Pearson correlation of mid-ranks, pairwise-complete); a nominal
  item with more options by its strongest option: the largest absolute correlation of "answered
  option c" with the other item (options chosen by fewer than 1% of the people left out). Each
  association is lowered by two standard errors of a zero correlation (2 / sqrt(n)), so chance
  associations score 0; pairs answered together by fewer than 30 people score 0.
* :class:`LexicalRelations` -- the similarity of the question wordings (BM25), for targets nobody
  in the training data answered (a new question). Predicted relations for new questions plug in
  through the same :class:`Relations` protocol.
* :class:`ChainedRelations` -- the first relations that know the target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from valuesim.survey.codebook import Codebook, QuestionKind

if TYPE_CHECKING:
    from valuesim.methods.retrieval import QuestionRetriever

#: training people the association is computed from (a seeded sample above this)
MAX_PEOPLE = 12_000
#: fewest people who answered both items for a pair to score above 0
MIN_PAIR = 30
#: a nominal item's option is its own indicator only when at least this share chose it
MIN_OPTION_SHARE = 0.01
#: standard errors of a zero correlation taken off every association (see :func:`association_matrix`)
SHRINK = 2.0
#: k of the history recall recorded per prediction
RECALL_K = 20


@runtime_checkable
class Relations(Protocol):
    """Scores of known items for a target: higher = bears more on it (any non-negative scale)."""

    @property
    def kind(self) -> str:
        """What the scores are (recorded with each prediction): "observed", "lexical", "predicted" ..."""
        ...

    def knows(self, target: str) -> bool:
        """Whether these relations can score items for ``target``."""
        ...

    def scores(self, target: str, known: Sequence[str]) -> dict[str, float]:
        """item -> score for each of ``known`` this object can score (the target itself excluded)."""
        ...


@dataclass(frozen=True)
class ObservedRelations:
    """Symmetric item x item association matrix (see :func:`observed_relations`)."""

    items: tuple[str, ...]
    matrix: np.ndarray
    n_people: int
    kind: str = "observed"
    _pos: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._pos.update({q: i for i, q in enumerate(self.items)})

    def knows(self, target: str) -> bool:
        return target in self._pos

    def scores(self, target: str, known: Sequence[str]) -> dict[str, float]:
        i = self._pos.get(target)
        if i is None:
            return {}
        row = self.matrix[i]
        return {q: float(row[self._pos[q]]) for q in known if q != target and q in self._pos}

    def centrality(self, known: Sequence[str]) -> dict[str, float]:
        """Mean association of each known item with every item of the matrix: how much one
        answer says about the questionnaire at large (the shared core's order)."""
        m = self.matrix
        mean = (m.sum(axis=1) - np.diag(m)) / max(1, len(self.items) - 1)
        return {q: float(mean[self._pos[q]]) for q in known if q in self._pos}

    def summary(self) -> dict[str, object]:
        return {"kind": self.kind, "items": len(self.items), "people": self.n_people}


def _columns(codes: pd.Series, q_kind: QuestionKind, n_valid_codes: int) -> list[np.ndarray]:
    """The numeric columns an item is represented by (NaN = missing): its mid-ranks, or one
    indicator per common option of a nominal item with more than two options."""
    v = codes.to_numpy(dtype=np.float64)
    v = np.where(v >= 0, v, np.nan)
    valid = ~np.isnan(v)
    if not valid.any():
        return []
    if q_kind is QuestionKind.NOMINAL and n_valid_codes > 2:
        vals, counts = np.unique(v[valid], return_counts=True)
        out = []
        for c, n in zip(vals, counts):
            if n >= MIN_OPTION_SHARE * valid.sum() and n < valid.sum():
                out.append(np.where(valid, (v == c).astype(np.float64), np.nan))
        return out
    from scipy.stats import rankdata

    r = np.full_like(v, np.nan)
    r[valid] = rankdata(v[valid])
    return [r]


def association_matrix(x: np.ndarray, min_pair: int = MIN_PAIR, shrink: float = SHRINK) -> np.ndarray:
    """|Pearson correlation| of every pair of columns of ``x`` (NaN = missing), each pair over
    the rows where both are present, less ``shrink`` standard errors of a zero correlation
    (``shrink / sqrt(n)``, floored at 0: chance associations of a small training set score 0,
    and the largest of a nominal item's options is not inflated by their number); 0 for
    constant columns and pairs with fewer than ``min_pair`` rows."""
    m = (~np.isnan(x)).astype(np.float32)
    z = np.nan_to_num(x).astype(np.float32)
    z -= (z.sum(axis=0) / np.maximum(m.sum(axis=0), 1)) * m  # centre (stabilises float32 sums)
    n = m.T @ m
    sx = z.T @ m  # sx[i, j] = sum of x_i over rows where x_j is present
    sxx = (z * z).T @ m
    sxy = z.T @ z
    with np.errstate(divide="ignore", invalid="ignore"):
        nn = np.maximum(n, 1)
        cov = sxy - sx * sx.T / nn
        var_i = sxx - sx * sx / nn
        var_j = var_i.T
        r = cov / np.sqrt(var_i * var_j)
    r = np.nan_to_num(np.abs(r), nan=0.0, posinf=0.0, neginf=0.0)
    r = r - shrink / np.sqrt(np.maximum(n, 1))
    r[n < min_pair] = 0.0
    return np.clip(r, 0.0, 1.0).astype(np.float64)


def observed_relations(
    frame: pd.DataFrame,
    codebook: Codebook,
    items: Sequence[str] | None = None,
    *,
    max_people: int | None = MAX_PEOPLE,
    seed: int = 0,
) -> ObservedRelations:
    """The observed association between the answer codes of ``items`` (default: every codebook
    item among the frame's columns) among the rows of ``frame`` -- pass training respondents
    only. Negative codes are missing. Above ``max_people`` rows a seeded sample is used."""
    cols = [q for q in (items if items is not None else frame.columns) if q in codebook and q in frame.columns]
    if max_people is not None and len(frame) > max_people:
        frame = frame.sample(n=max_people, random_state=seed)
    blocks: list[np.ndarray] = []
    owner: list[int] = []
    kept: list[str] = []
    for q in cols:
        question = codebook.get(q)
        parts = _columns(frame[q], question.kind, len(question.answer_codes))
        if not parts:
            continue
        for p in parts:
            blocks.append(p)
            owner.append(len(kept))
        kept.append(q)
    if not kept:
        return ObservedRelations((), np.zeros((0, 0)), len(frame))
    expanded = association_matrix(np.column_stack(blocks))
    own = np.asarray(owner)
    k = len(kept)
    # the strongest indicator of each item: max over column blocks (rows, then columns)
    rows = np.full((k, expanded.shape[1]), 0.0)
    np.maximum.at(rows, own, expanded)
    out = np.full((k, k), 0.0)
    np.maximum.at(out.T, own, rows.T)
    np.fill_diagonal(out, 1.0)
    return ObservedRelations(tuple(kept), out, len(frame))


class LexicalRelations:
    """Similarity of the question wordings (BM25 over the codebook's short texts, scaled by the
    target's score against itself): for targets no training respondent answered."""

    kind = "lexical"

    def __init__(self, codebook: Codebook, retriever: QuestionRetriever | None = None) -> None:
        from valuesim.methods.retrieval import QuestionRetriever

        self.codebook = codebook
        self.retriever = retriever or QuestionRetriever(codebook)

    def knows(self, target: str) -> bool:
        return target in self.codebook

    def scores(self, target: str, known: Sequence[str]) -> dict[str, float]:
        hits = self.retriever.similar(target, list(known), k=len(known) + 1, threshold=0.0)
        return {h.qid: h.similarity for h in hits}


@dataclass(frozen=True)
class ChainedRelations:
    """The first of ``chain`` that knows the target scores it (e.g. observed, then lexical)."""

    chain: tuple[Relations, ...]

    @property
    def kind(self) -> str:
        return "+".join(r.kind for r in self.chain)

    def source(self, target: str) -> Relations | None:
        return next((r for r in self.chain if r.knows(target)), None)

    def knows(self, target: str) -> bool:
        return self.source(target) is not None

    def scores(self, target: str, known: Sequence[str]) -> dict[str, float]:
        r = self.source(target)
        return r.scores(target, known) if r is not None else {}


def ranked(scores: Mapping[str, float], codebook: Codebook) -> list[str]:
    """Items by descending score, ties in questionnaire order (deterministic)."""
    pos = {q: i for i, q in enumerate(codebook.sort(list(scores)))}
    return sorted(scores, key=lambda q: (-scores[q], pos[q]))


def top_k(relations: Relations, target: str, known: Sequence[str], codebook: Codebook, k: int) -> list[str]:
    """The ``k`` known items most associated with ``target`` (fewer when fewer have an
    association above 0)."""
    return ranked({q: v for q, v in relations.scores(target, known).items() if v > 0}, codebook)[:k]


def recall_at_k(
    relations: Relations, target: str, known: Sequence[str], in_prompt: set[str], codebook: Codebook, k: int = RECALL_K
) -> float | None:
    """History recall@k: of the ``k`` known items most associated with ``target``, the share
    whose fact is in the prompt (``in_prompt``). None when no known item is associated with it."""
    top = top_k(relations, target, known, codebook, k)
    if not top:
        return None
    return sum(q in in_prompt for q in top) / len(top)


__all__ = [
    "MAX_PEOPLE",
    "RECALL_K",
    "ChainedRelations",
    "LexicalRelations",
    "ObservedRelations",
    "Relations",
    "association_matrix",
    "observed_relations",
    "ranked",
    "recall_at_k",
    "top_k",
]
