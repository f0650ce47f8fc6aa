"""The Ask page's jobs: one LLM method predicting one person's answer to one question.

A job runs in a worker thread (one at a time: the model is usually local and CPU-bound); the
page polls it. The method sees the person's every answer except the asked one, exactly like
`valuesim ask`, and the real answer is shown next to the prediction afterwards.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from valuesim.errors import ValueSimError
from valuesim.survey.dataset import SurveyData

#: LLM methods the Ask page offers, in menu order.
ASK_METHODS: tuple[str, ...] = ("valuesim", "blank", "demographics", "full-info", "rag")
MAX_JOBS = 200


@dataclass
class AskJob:
    id: str
    respondent: str
    question: str
    method: str
    status: str = "queued"  # queued, running, done, failed
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    calls_at_start: int = 0
    prediction: dict[str, Any] | None = None
    error: str = ""
    hint: str = ""

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started


class AskRunner:
    """Runs Ask jobs with one model, one after another, and keeps the recent ones."""

    def __init__(self, survey: SurveyData, model: Any) -> None:
        self.survey = survey
        self.model = model
        self.jobs: dict[str, AskJob] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="valuesim-ask")
        self._methods: dict[str, Any] = {}

    @property
    def calls(self) -> int:
        usage = getattr(self.model, "usage", None)
        return int(getattr(usage, "calls", 0) or 0)

    def submit(self, respondent: str, question: str, method: str) -> AskJob:
        """Validate and queue a job; raises a ValueSimError for an unknown person/question/method."""
        from valuesim.errors import ConfigError

        person = self.survey.respondent(respondent)
        q = self.survey.codebook.get(question)
        if method not in ASK_METHODS:
            raise ConfigError(f"Unknown method {method!r} for Ask.", f"Use one of: {', '.join(ASK_METHODS)}.")
        with self._lock:
            job = AskJob(id=str(next(self._ids)), respondent=person.id, question=q.id, method=method)
            self.jobs[job.id] = job
            for old in list(self.jobs)[:-MAX_JOBS]:
                del self.jobs[old]
        self._pool.submit(self._run, job)
        return job

    def get(self, job_id: str) -> AskJob | None:
        return self.jobs.get(job_id)

    def _method(self, name: str) -> Any:
        from valuesim.methods import get_method

        if name not in self._methods:
            self._methods[name] = get_method(name, self.survey.codebook, model=self.model, rationale=True)
        return self._methods[name]

    def _run(self, job: AskJob) -> None:
        from valuesim.methods import Task

        job.status = "running"
        job.started = time.monotonic()
        job.calls_at_start = self.calls
        try:
            person = self.survey.respondent(job.respondent)
            known = [x for x in person.answered() if x != job.question]
            pred = self._method(job.method).predict(Task(person.restricted(known), (job.question,)))[0]
            job.prediction = pred.to_dict()
            job.status = "done"
        except ValueSimError as e:
            job.error, job.hint, job.status = e.message, e.hint or "", "failed"
        except Exception as e:  # shown on the page; the server keeps running
            job.error = f"{type(e).__name__}: {e}"
            job.hint = traceback.format_exc(limit=3)
            job.status = "failed"
        finally:
            job.finished = time.monotonic()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
