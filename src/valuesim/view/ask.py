"""The Ask page's jobs: one LLM method predicting one person's answer to one question.

A job runs in a worker thread (one at a time: the model is usually local and CPU-bound); the
page polls it. The method sees the person's every answer except the asked one, exactly like
`valuesim ask`, and the real answer is shown next to the prediction afterwards. A new question
(wording + options, as `valuesim ask --text --options`) is answered from an extended codebook.
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
from valuesim.survey.codebook import Codebook, Question
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
    #: the asked question (a WVS item, or a new one written on the Ask page)
    q: Question | None = None
    #: the codebook the method answers from (the WVS codebook, extended by a new question)
    codebook: Codebook | None = None
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

    def submit(
        self, respondent: str, question: str, method: str, *, text: str = "", options: str = "", unordered: bool = False
    ) -> AskJob:
        """Validate and queue a job; raises a ValueSimError for an unknown person/question/method.
        ``text`` + ``options`` (separated by ``|``) ask a new question instead of a WVS item."""
        from valuesim.errors import ConfigError

        person = self.survey.respondent(respondent)
        if method not in ASK_METHODS:
            raise ConfigError(f"Unknown method {method!r} for Ask.", f"Use one of: {', '.join(ASK_METHODS)}.")
        book = self.survey.codebook
        if text.strip():
            from valuesim.survey.questionnaire import extend_codebook, inline_question

            if not options.strip():
                raise ConfigError("A new question needs its answer options.", 'E.g. "Strongly agree|Agree|Disagree".')
            q = inline_question(text.strip(), options, book, qid="NEW", ordered=not unordered)
            book = extend_codebook(book, [q])
        else:
            q = book.get(question)
        with self._lock:
            job = AskJob(
                id=str(next(self._ids)), respondent=person.id, question=q.id, method=method, q=q, codebook=book
            )
            self.jobs[job.id] = job
            for old in list(self.jobs)[:-MAX_JOBS]:
                del self.jobs[old]
        self._pool.submit(self._run, job)
        return job

    def get(self, job_id: str) -> AskJob | None:
        return self.jobs.get(job_id)

    def _method(self, name: str, codebook: Codebook) -> Any:
        from valuesim.methods import get_method

        if codebook is not self.survey.codebook:  # a new question: a method over the extended codebook
            return get_method(name, codebook, model=self.model, rationale=True)
        if name not in self._methods:
            self._methods[name] = get_method(name, codebook, model=self.model, rationale=True)
        return self._methods[name]

    def _run(self, job: AskJob) -> None:
        from valuesim.methods import predict_hidden

        job.status = "running"
        job.started = time.monotonic()
        job.calls_at_start = self.calls
        try:
            person = self.survey.respondent(job.respondent)
            method = self._method(job.method, job.codebook or self.survey.codebook)
            _, outcome = predict_hidden(method, person, [job.question])  # the method never sees the real answer
            if outcome.failed:
                raise outcome.failed[job.question]
            job.prediction = outcome.predictions[0].to_dict()
            job.status = "done"
        except ValueSimError as e:
            job.error, job.hint, job.status = e.message, e.hint or "", "failed"
        except Exception as e:  # a bug: a short line on the page, the traceback on the server's stderr
            job.error = f"Unexpected {type(e).__name__} while predicting."
            job.hint = "This is a bug in ValueSim or the method; the traceback is in the terminal running the viewer."
            job.status = "failed"
            traceback.print_exc()
        finally:
            job.finished = time.monotonic()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
