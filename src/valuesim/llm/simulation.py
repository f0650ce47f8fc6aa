"""The hook of SIMULATED informative models (``mock:oracle=P``, ``mock:item-oracle=P``) -- used by nothing else.

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

The SIMULATED *item-level* oracle (``mock:item-oracle=P``) judges how two questions are related
(item judgments, ``item-transfer -o judge=...``) and knows the true association of the pair:

* :func:`item_truth` -- a function (item id, item id) -> the association observed among *all*
  people of the data (what the simulated model knows). The benchmark runner sets it around a
  run; outside a benchmark nobody does and the item oracle's judgments are plain noise.
* :func:`judging` -- the pair a call judges and the association each answer option stands for,
  set by the item judge around each call.

It also knows how the people of a country answer an item (``item-transfer``'s judged answer
distributions): :func:`item_truth`'s *distribution* (the answer distribution among all people of
the data in that country) and :func:`judging_distribution` (the item and country a call judges).

No real backend reads these variables; methods never read them either (they only declare
whose record they show, or which pair they ask about). Every run made with a simulated model
is labelled SIMULATED.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar

_TRUTH: ContextVar[Mapping[str, int] | None] = ContextVar("valuesim_simulation_truth", default=None)
_QUESTION: ContextVar[str | None] = ContextVar("valuesim_simulation_question", default=None)
_ITEM_TRUTH: ContextVar[Callable[[str, str], float | None] | None] = ContextVar(
    "valuesim_simulation_item_truth", default=None
)
_PAIR: ContextVar[tuple[str, str, tuple[float, ...]] | None] = ContextVar("valuesim_simulation_pair", default=None)
_DIST_TRUTH: ContextVar[Callable[[str, str | None], Sequence[float] | None] | None] = ContextVar(
    "valuesim_simulation_distribution_truth", default=None
)
_ASKED: ContextVar[tuple[str, str | None, tuple[int, ...]] | None] = ContextVar(
    "valuesim_simulation_distribution", default=None
)

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


@contextlib.contextmanager
def item_truth(
    association: Callable[[str, str], float | None] | None,
    distribution: Callable[[str, str | None], Sequence[float] | None] | None = None,
) -> Iterator[None]:
    """Within the block, the SIMULATED item oracle knows the true association of two items and
    (*distribution*) the true answer distribution of an item in a group (country; None: everybody)."""
    token = _ITEM_TRUTH.set(association)
    dist_token = _DIST_TRUTH.set(distribution)
    try:
        yield
    finally:
        _DIST_TRUTH.reset(dist_token)
        _ITEM_TRUTH.reset(token)


@contextlib.contextmanager
def judging_distribution(qid: str, group: str | None, order: Sequence[int]) -> Iterator[None]:
    """Within the block, model calls judge how the people of *group* (None: everybody) answer
    item *qid*; answer option ``i`` stands for the item's option ``order[i]`` (in code order)."""
    token = _ASKED.set((qid, group, tuple(int(i) for i in order)))
    try:
        yield
    finally:
        _ASKED.reset(token)


def true_distribution(n_options: int) -> list[float] | None:
    """For a simulated model only: the true answer distribution of the item and group being
    judged (:func:`judging_distribution`), or None when unknown."""
    asked, truth = _ASKED.get(), _DIST_TRUTH.get()
    if asked is None or truth is None:
        return None
    qid, group, order = asked
    probs = truth(qid, group)
    if probs is None or len(probs) != n_options or len(order) != n_options:
        return None
    return [float(probs[i]) for i in order]


@contextlib.contextmanager
def judging(a: str, b: str, levels: Sequence[float]) -> Iterator[None]:
    """Within the block, model calls judge the association of items *a* and *b*; answer option
    ``i`` stands for the association ``levels[i]``."""
    token = _PAIR.set((a, b, tuple(float(x) for x in levels)))
    try:
        yield
    finally:
        _PAIR.reset(token)


def true_judgment(n_options: int) -> list[float] | None:
    """For a simulated model only: the distribution over the ``n_options`` answer options of the
    pair being judged whose mean is its true association (clipped to the options' range; the
    two options around it share the weight), or None when unknown."""
    pair, truth = _PAIR.get(), _ITEM_TRUTH.get()
    if pair is None or truth is None or len(pair[2]) != n_options:
        return None
    a, b, levels = pair
    r = truth(a, b)
    if r is None or r != r:  # unknown or NaN
        return None
    r = min(max(float(r), levels[0]), levels[-1])
    out = [0.0] * n_options
    for i in range(n_options - 1):
        lo, hi = levels[i], levels[i + 1]
        if lo <= r <= hi:
            w = (r - lo) / (hi - lo) if hi > lo else 0.0
            out[i], out[i + 1] = 1.0 - w, w
            return out
    out[-1] = 1.0
    return out


def is_simulated(model_spec: str | None) -> bool:
    """Whether a model spec names a simulated informative model (``mock:oracle=P``, ``mock:item-oracle=P``)."""
    spec = str(model_spec or "").replace(" ", "")
    return spec.startswith(("mock:oracle", "mock:item-oracle"))
