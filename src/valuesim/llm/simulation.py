"""The hook of SIMULATED informative models (``mock:oracle=P``) -- used by nothing else.

To check that machinery which combines a trained predictor with an LLM (``hybrid``) picks up
information an LLM adds, without a capable model, a simulated model may know the true answers
of *the person the prompt describes*. Two context variables carry what it needs:

* :func:`subject_truth` -- the true answers of the person a prompt is about. The benchmark
  runner sets it to the evaluated person's answers to the unit's targets around
  ``method.apredict``; a method that puts *another* person's record in the prompt (the
  ``persona=shuffled`` control, the hybrid's calibration people) sets it to that person's
  answers, and ``persona=none`` sets it to nothing.
* :func:`asking` -- the question a call answers, set by the LLM pipeline around the calls of
  one target.

No real backend reads these variables; methods never read them either (they only declare
whose record they show). Every run made with a simulated model is labelled SIMULATED.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar

_TRUTH: ContextVar[Mapping[str, int] | None] = ContextVar("valuesim_simulation_truth", default=None)
_QUESTION: ContextVar[str | None] = ContextVar("valuesim_simulation_question", default=None)

#: The label every table, run and report made with a simulated model carries.
SIMULATED = "SIMULATED"


@contextlib.contextmanager
def subject_truth(answers: Mapping[str, int] | None) -> Iterator[None]:
    """Within the block, prompts describe the person with these true answers (None: nobody)."""
    token = _TRUTH.set(dict(answers) if answers is not None else {})
    try:
        yield
    finally:
        _TRUTH.reset(token)


@contextlib.contextmanager
def asking(qid: str | None) -> Iterator[None]:
    """Within the block, model calls answer question *qid*."""
    token = _QUESTION.set(qid)
    try:
        yield
    finally:
        _QUESTION.reset(token)


def true_option(n_options: int) -> int | None:
    """For a simulated model only: the position of the described person's true answer among
    the ``n_options`` options of the question being asked (None when unknown)."""
    qid, truth = _QUESTION.get(), _TRUTH.get()
    if qid is None or not truth or qid not in truth:
        return None
    from valuesim.survey.codebook import load_codebook

    codebook = load_codebook()
    if qid not in codebook:
        return None
    codes = codebook.get(qid).answer_codes
    if len(codes) != n_options or truth[qid] not in codes:
        return None
    return codes.index(truth[qid])


def is_simulated(model_spec: str | None) -> bool:
    """Whether a model spec names a simulated informative model."""
    return bool(model_spec) and str(model_spec).replace(" ", "").startswith("mock:oracle")
