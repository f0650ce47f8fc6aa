"""Test-only methods for the scale-out tests (shipped to Ray workers by value)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from valuesim.methods.base import Method, Prediction, Task
from valuesim.survey.codebook import Codebook
from valuesim.survey.dataset import SurveyData


class LowestCodeMethod(Method):
    """Predicts the lowest valid code of each target (no model, deterministic)."""

    name = "test-lowest-code"

    def __init__(self, codebook: Codebook, **options: Any) -> None:
        super().__init__(codebook, **options)

    def fit(self, train: SurveyData) -> None:
        return None

    def predict(self, task: Task) -> list[Prediction]:
        out = []
        for q in task.targets:
            codes = sorted(c for c in self.codebook.get(q).codes if c >= 0) or [0]
            out.append(Prediction(task.respondent.id, q, task.fold, codes[0], None, task.condition))
        return out

    def config(self) -> dict[str, Any]:
        return {"name": self.name}


class CrashOnceMethod(LowestCodeMethod):
    """Kills its worker process (os._exit) on the ``crash_at``-th unit it sees -- once per
    marker file, so the retried shard runs through."""

    name = "test-crash-once"

    def __init__(self, codebook: Codebook, marker: str, crash_at: int = 3, **options: Any) -> None:
        super().__init__(codebook, **options)
        self.marker = marker
        self.crash_at = crash_at
        self.seen = 0

    def predict(self, task: Task) -> list[Prediction]:
        self.seen += 1
        if self.seen == self.crash_at:
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.write(fd, f"{os.getpid()} {task.unit_id}\n".encode())
                os.close(fd)
                os._exit(17)  # the worker dies mid-shard, like a killed process
        return super().predict(task)


class FailingMethod(LowestCodeMethod):
    """Raises a user-facing error on one respondent (must stop the run, not be retried)."""

    name = "test-failing"

    def __init__(self, codebook: Codebook, bad_respondent: str, counter: str, **options: Any) -> None:
        super().__init__(codebook, **options)
        self.bad_respondent = bad_respondent
        self.counter = counter

    def predict(self, task: Task) -> list[Prediction]:
        if task.respondent.id == self.bad_respondent:
            with open(self.counter, "a", encoding="utf-8") as f:
                f.write("x")
            from valuesim.errors import ModelError

            raise ModelError("planned failure", "a hint that must survive the trip")
        return super().predict(task)


def count_marker(path: str | Path) -> int:
    p = Path(path)
    return len(p.read_text()) if p.exists() else 0


class FlakyLowestCodeMethod(LowestCodeMethod):
    """Model calls of one respondent fail after all retries (the run must record them and go on)."""

    name = "test-flaky-lowest"

    def __init__(self, codebook: Codebook, bad_respondent: str, **options: Any) -> None:
        super().__init__(codebook, **options)
        self.bad_respondent = bad_respondent

    def predict(self, task: Task) -> list[Prediction]:
        if task.respondent.id == self.bad_respondent:
            from valuesim.errors import RequestFailedError

            raise RequestFailedError("Gave up after 6 attempts: HTTP 503")
        return super().predict(task)
