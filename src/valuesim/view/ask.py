"""The Ask page's jobs: one LLM method predicting one person's answer to one question.

The page offers every registered method (built-in or plug-in) that uses a language model and
answers from the person's own record (:func:`ask_methods`: derived from the capabilities the
method classes declare). Methods are built like everywhere else: by name, with the method
options the command line's model flags map to (``cli.bench.model_flags``). A job runs in a
worker thread (one at a time: the model is usually local and CPU-bound); the page polls it. The method sees the person's every answer except the asked one, exactly like
`valuesim ask`, and the real answer is shown next to the prediction afterwards. A new question
(wording + options, as `valuesim ask --text --options`) is answered from an extended codebook.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from valuesim.errors import ValueSimError
from valuesim.methods.base import DEFAULT_LLM_METHOD, Method, MethodInfo, method_names
from valuesim.survey.codebook import Codebook, Question
from valuesim.survey.dataset import SurveyData

MAX_JOBS = 200


def can_ask(info: MethodInfo) -> bool:
    """The Ask page's methods: they use a language model and answer from the person alone."""
    return info.uses_llm and info.answers_alone


def ask_methods() -> list[str]:
    """The methods the Ask page offers, in menu order (ValueSim first, then by name)."""
    return method_names(can_ask, first=DEFAULT_LLM_METHOD)


def _calls(method: Method | None) -> int:
    usage = method.usage if method is not None else None
    return int((usage or {}).get("llm_calls", 0) or 0)


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
    #: the method answering (set when the job starts) and its model calls before it
    answering: Method | None = None
    calls_at_start: int = 0
    prediction: dict[str, Any] | None = None
    error: str = ""
    hint: str = ""

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def calls(self) -> int:
        """Model calls this job has made so far."""
        return max(0, _calls(self.answering) - self.calls_at_start)


class AskRunner:
    """Runs Ask jobs, one after another, and keeps the recent ones.

    ``model_options``: the method options of the model (``model``, ``base_url``, ``api_key``,
    ``cache``), given to every method the page builds."""

    def __init__(self, survey: SurveyData, model_options: Mapping[str, Any]) -> None:
        self.survey = survey
        self.model_options = dict(model_options)
        self.jobs: dict[str, AskJob] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="valuesim-ask")
        self._methods: dict[str, Method] = {}

    @property
    def methods(self) -> list[str]:
        """The methods a job may use (registered ones, plug-ins included, that :func:`can_ask`)."""
        return ask_methods()

    def submit(
        self, respondent: str, question: str, method: str, *, text: str = "", options: str = "", unordered: bool = False
    ) -> AskJob:
        """Validate and queue a job; raises a ValueSimError for an unknown person/question/method.
        ``text`` + ``options`` (separated by ``|``) ask a new question instead of a WVS item."""
        from valuesim.errors import ConfigError

        person = self.survey.respondent(respondent)
        if method not in self.methods:
            raise ConfigError(f"Unknown method {method!r} for Ask.", f"Use one of: {', '.join(self.methods)}.")
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

    def _method(self, name: str, codebook: Codebook) -> Method:
        from valuesim.methods import get_method

        if codebook is not self.survey.codebook:  # a new question: a method over the extended codebook
            return get_method(name, codebook, **self.model_options, rationale=True)
        if name not in self._methods:
            self._methods[name] = get_method(name, codebook, **self.model_options, rationale=True)
        return self._methods[name]

    def _run(self, job: AskJob) -> None:
        from valuesim.methods import predict_hidden

        job.status = "running"
        job.started = time.monotonic()
        try:
            person = self.survey.respondent(job.respondent)
            method = self._method(job.method, job.codebook or self.survey.codebook)
            job.calls_at_start, job.answering = _calls(method), method
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
