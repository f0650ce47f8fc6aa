"""Test helpers for the protocol/runner tests: a small synthetic SurveyData and toy methods.

Everything is generated in code (no WVS rows); answers are random valid codes with a
controlled share of missing values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from valuesim.methods.base import Method, Prediction, Task
from valuesim.survey.codebook import Codebook, QuestionKind, load_codebook
from valuesim.survey.dataset import SurveyData


def valid_codes(codebook: Codebook, qid: str) -> list[int]:
    q = codebook.get(qid)
    if q.kind is QuestionKind.NUMERIC:
        lo, hi = q.value_range or (0, 10)
        return list(range(lo, min(hi, lo + 20) + 1))
    return [c for c in q.codes if c >= 0]


def make_survey(
    n: int = 60,
    *,
    countries: tuple[str, ...] = ("PER", "DEU", "JPN"),
    missing_rate: float = 0.1,
    seed: int = 0,
    drop_questions: tuple[str, ...] = (),
    sparse_rows: int = 0,
) -> SurveyData:
    """*n* respondents x every codebook question (minus *drop_questions*).

    The first *sparse_rows* respondents answer only 20 substantive items (the rest is
    coded -1), so they fall below any sensible ``min_valid``.
    """
    cb = load_codebook()
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {}
    for qid in cb.ids():
        if qid in drop_questions:
            continue
        codes = valid_codes(cb, qid)
        v = rng.choice(codes, size=n).astype(np.int16)
        v[rng.random(n) < missing_rate] = -1
        cols[qid] = v
    frame = pd.DataFrame(cols, index=pd.Index([str(1000 + i) for i in range(n)]))
    frame.insert(0, "country", [countries[i % len(countries)] for i in range(n)])
    substantive = [q for q in cb.substantive() if q in frame.columns]
    for i in range(sparse_rows):
        frame.loc[frame.index[i], substantive[20:]] = -1
    return SurveyData(frame=frame, codebook=cb, source="synthetic-test", version="test", synthetic=True)


class FirstOptionMethod(Method):
    """Test-only method: predicts the lowest valid code; counts calls; can fail on purpose."""

    name = "test-first-option"

    def __init__(self, codebook: Codebook, fail_after: int | None = None, **options: Any) -> None:
        super().__init__(codebook, **options)
        self.fail_after = fail_after
        self.calls = 0
        self.seen: list[str] = []
        self.fitted_ids: list[str] | None = None
        self.tasks: list[Task] = []

    def fit(self, train: SurveyData) -> None:
        self.fitted_ids = list(train.ids)

    def predict(self, task: Task) -> list[Prediction]:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise RuntimeError("planned failure")
        self.calls += 1
        self.seen.append(task.unit_id)
        self.tasks.append(task)
        out = []
        for q in task.targets:
            codes = valid_codes(self.codebook, q)
            probs = {c: 1.0 / len(codes) for c in codes} if len(codes) <= 12 else None
            out.append(Prediction(task.respondent.id, q, task.fold, codes[0], probs, task.condition))
        return out

    def config(self) -> dict[str, Any]:
        return {"name": self.name}


class FlakyMethod(FirstOptionMethod):
    """FirstOptionMethod whose model calls 'fail after all retries' for the given respondents."""

    name = "test-flaky"

    def __init__(self, codebook: Codebook, failing: set[str] | None = None, **options: Any) -> None:
        super().__init__(codebook, **options)
        self.failing = set(failing or ())

    def predict(self, task: Task) -> list[Prediction]:
        if task.respondent.id in self.failing:
            from valuesim.errors import RequestFailedError

            self.calls += 1
            self.seen.append(task.unit_id)
            raise RequestFailedError("Gave up after 6 attempts: http://127.0.0.1/v1 answered HTTP 503: overloaded")
        return super().predict(task)


class TargetFlakyMethod(FirstOptionMethod):
    """FirstOptionMethod whose requests 'fail after all retries' for the given (respondent, question)
    targets only: the other targets of the task are answered (a TargetsFailedError carries them)."""

    name = "test-target-flaky"

    def __init__(self, codebook: Codebook, failing: set[tuple[str, str]] | None = None, **options: Any) -> None:
        super().__init__(codebook, **options)
        self.failing = set(failing or ())

    def predict(self, task: Task) -> list[Prediction]:
        from valuesim.errors import RequestFailedError, TargetsFailedError

        preds = super().predict(task)
        bad = {p.question for p in preds if (task.respondent.id, p.question) in self.failing}
        if not bad:
            return preds
        error = RequestFailedError("Gave up after 6 attempts: http://127.0.0.1/v1 answered HTTP 503: overloaded")
        raise TargetsFailedError([p for p in preds if p.question not in bad], {q: error for q in bad})
