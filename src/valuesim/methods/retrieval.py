"""Retrieval of the history answers most related to a target question (the RAG baseline).

BM25 (``bm25s``) over the codebook's question texts. A BM25 score has no fixed scale, so each
score is divided by the score the target question gets against *its own* text: the result is
a similarity near 1 for a near-identical wording and near 0 for an unrelated one, which makes
a threshold such as the paper's 0.3 meaningful. The index is built once per codebook.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from valuesim.survey.codebook import Codebook, Question


def question_document(q: Question) -> str:
    """The text a question is retrieved by: its self-contained short wording. (The full
    wording repeats long battery preambles and answer scales, which drown the topic words.)"""
    return re.sub(r"\[[^\]]*\]", " ", q.short)


@dataclass(frozen=True)
class Retrieved:
    qid: str
    similarity: float


class QuestionRetriever:
    """BM25 index over every question of a codebook."""

    def __init__(self, codebook: Codebook) -> None:
        import bm25s

        self._bm25s = bm25s
        self.ids = codebook.ids()
        self._pos = {q: i for i, q in enumerate(self.ids)}
        docs = [question_document(codebook.get(q)) for q in self.ids]
        self._docs = docs
        self._index = bm25s.BM25()
        self._index.index(bm25s.tokenize(docs, stopwords="en", show_progress=False), show_progress=False)

    def _scores(self, text: str) -> np.ndarray:
        tokens = self._bm25s.tokenize([text], stopwords="en", return_ids=False, show_progress=False)[0]
        known = [t for t in dict.fromkeys(tokens) if t in self._index.vocab_dict]  # each term once
        if not known:
            return np.zeros(len(self.ids))
        return np.asarray(self._index.get_scores(known), dtype=float)

    def similar(self, target: str, candidates: Sequence[str], *, k: int = 3, threshold: float = 0.3) -> list[Retrieved]:
        """Up to ``k`` of ``candidates`` most similar to question ``target`` with similarity
        >= ``threshold``, best first (ties broken by questionnaire order)."""
        scores = self._scores(self._docs[self._pos[target]])
        self_score = scores[self._pos[target]]
        if self_score <= 0:
            return []
        out = []
        for q in candidates:
            if q == target or q not in self._pos:
                continue
            sim = float(min(1.0, scores[self._pos[q]] / self_score))
            if sim >= threshold:
                out.append(Retrieved(q, round(sim, 4)))
        out.sort(key=lambda r: (-r.similarity, self._pos[r.qid]))
        return out[:k]
