"""LLM item judgments: how two questions are related, asked once per pair of items, never per person.

For a question's most related candidate items (by the wording relations,
:class:`~valuesim.relations.RelationsModel`), a language model is shown both questions with their
options in order and asked where people whose answer to the first lies further along its options
tend to answer the second: much further back ... no relation ... much further along (seven
lettered choices, ``item_judgment`` prompt template). The answer letters are scored (one short
call, no generation) and the judgment is the expected association under that distribution, a
signed strength in [-0.6, 0.6] (:data:`LEVELS`).

A judgment is a property of the pair, not of a person: an :class:`ItemJudge` asks each unordered
pair once (an in-memory memo, symmetric) and the model's response cache keeps it across runs,
so a benchmark's or a user's cost is the number of distinct pairs, whatever the number of people.
A request that fails after the model's retries costs that pair only: it counts as not judged.

The judge also answers how the people of a country answer one item (:meth:`ItemJudge.distributions`,
``item_distribution`` prompt: the letters of the item's options scored for "an adult of that country
picked at random"): a property of the item and the country, asked once per pair of them -- in
``orders`` calls (default 2: the options listed in order and reversed; more: cyclic shifts of both),
averaged, so the letter and position preferences language models have (e.g. Zheng et al. 2023,
"Large language models are not robust multiple choice selectors") cancel rather than pass for the
population's answers.

The relations model fits the weight of the judgments on known pairs (see
:mod:`valuesim.relations.model`); the judge never sees an answer of anybody.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import numpy as np

from valuesim._aio import run_sync
from valuesim.errors import ModelError
from valuesim.llm import ChatMessage, Model, Usage, get_model, simulation
from valuesim.methods.phrasing import clean_label, fill_placeholders, is_digit_label
from valuesim.methods.prompts import render
from valuesim.survey.codebook import Question

#: the association each answer letter stands for (A: strongly opposite ... G: strongly the same way)
LEVELS = (-0.6, -0.35, -0.15, 0.0, 0.15, 0.35, 0.6)
CHOICES = (
    "much further back along its options (a strong opposite tendency)",
    "somewhat further back",
    "slightly further back",
    "no relation",
    "slightly further along",
    "somewhat further along",
    "much further along its options (a strong tendency the same way)",
)
LETTERS = tuple("ABCDEFG")
#: the letters of an item's options when its answer distribution is judged (items with more are not judged)
OPTION_LETTERS = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _key(q: Question) -> tuple[str, str]:
    return (q.id, (q.short or q.text) + "|" + "|".join(q.label(c) for c in q.answer_codes))


def _block(q: Question) -> dict[str, str]:
    """Wording and options (in code order, the order an association's sign refers to) of *q*."""
    codes = q.answer_codes
    parts = []
    for i, c in enumerate(codes, 1):
        lab = clean_label(q.label(c))
        parts.append(str(i) if not lab or is_digit_label(lab) or lab == str(c) else f"{i}. {lab}")
    last = clean_label(q.label(codes[-1])) if codes else ""
    return {
        "text": fill_placeholders(q.short or q.text, None),
        "options": "; ".join(parts),
        "last": last if last and not is_digit_label(last) else str(len(codes)),
    }


def judgment_messages(first: Question, second: Question, version: str = "v1") -> list[ChatMessage]:
    """The prompt that asks how *first* and *second* are related (no person, no answer in it)."""
    choices = [f"{letter}. {text}" for letter, text in zip(LETTERS, CHOICES, strict=True)]
    text = render("item_judgment", version, first=_block(first), second=_block(second), choices=choices)
    return [ChatMessage("user", text)]


def distribution_messages(
    q: Question, place: str | None, order: Sequence[int] | None = None, version: str = "v1"
) -> list[ChatMessage] | None:
    """The prompt that asks how the adults of *place* (a country's name; None: many countries) answer
    *q* (no person, no answer in it), its options listed in *order* (indices into the code order;
    None: in order); None when its options outnumber the letters."""
    codes = q.answer_codes
    if not 2 <= len(codes) <= len(OPTION_LETTERS):
        return None
    lines = []
    listed = [codes[i] for i in order] if order is not None else list(codes)
    for letter, c in zip(OPTION_LETTERS, listed, strict=False):
        lab = clean_label(q.label(c))
        lines.append(f"{letter}. {lab if lab else c}")
    where = place or "many countries"
    text = render(
        "item_distribution", version, place=where, text=fill_placeholders(q.short or q.text, place), options=lines
    )
    return [ChatMessage("user", text)]


def option_orders(n: int, k: int) -> list[list[int]]:
    """*k* distinct listings of *n* options (indices in code order): in order, reversed, then cyclic
    shifts of both spread evenly over the list (fewer when *n* has fewer distinct ones)."""
    half = max(1, (k + 1) // 2)
    shifts = [s * n // half for s in range(half)] + list(range(n))  # the even spread first, then the rest
    out: list[list[int]] = []
    for shift in shifts:
        for base in (list(range(n)), list(range(n))[::-1]):
            order = base[shift % n :] + base[: shift % n]
            if order not in out and len(out) < k:
                out.append(order)
    return out


def expected_level(probs: Sequence[float]) -> float:
    """The judgment: the association expected under the distribution over the answer letters."""
    p = np.asarray(probs, dtype=float)
    return float(p @ np.asarray(LEVELS) / p.sum())


class ItemJudge:
    """Judges pairs of questions with a language model, each unordered pair once (see module doc).

    Callable as the relations model's ``PairJudge``: pairs in, one signed association (or None:
    not judged, e.g. its request failed) per pair out. ``pairs_judged`` counts the distinct pairs
    asked, ``failed`` those whose request failed; ``usage`` the model's calls and cache hits.
    """

    def __init__(
        self,
        spec: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        cache: bool | str | None = None,
        timeout: float = 120,
        max_retries: int = 5,
        prompt_version: str = "v1",
        orders: int = 2,
    ) -> None:
        self.spec = spec
        self._conf: dict[str, Any] = {
            "base_url": base_url,
            "api_key": api_key,
            "cache": cache,
            "timeout": timeout,
            "max_retries": max_retries,
        }
        self.prompt_version = prompt_version
        self.orders = orders
        self._model: Model | None = None
        self.memo: dict[tuple[tuple[str, str], tuple[str, str]], float | None] = {}
        #: (item, group) -> judged answer distribution (None: not judged)
        self.dist_memo: dict[tuple[tuple[str, str], str | None], tuple[float, ...] | None] = {}
        self.failed = 0
        self._usage = Usage()

    @property
    def model(self) -> Model:
        if self._model is None:
            self._model = get_model(self.spec, **self._conf)
        return self._model

    @property
    def simulated(self) -> bool:
        return simulation.is_simulated(self.spec)

    @property
    def pairs_judged(self) -> int:
        return len(self.memo)

    @property
    def distributions_judged(self) -> int:
        return len(self.dist_memo)

    @property
    def usage(self) -> Usage:
        return self._usage if self._model is None else self._usage + self._model.usage

    def __getstate__(self) -> dict[str, Any]:  # a Model holds locks and native handles
        state = dict(self.__dict__)
        if state["_model"] is not None:
            state["_usage"] = self.usage
        state["_model"] = None
        return state

    def __call__(self, pairs: Sequence[tuple[Question, Question]]) -> list[float | None]:
        keys = [tuple(sorted((_key(a), _key(b)))) for a, b in pairs]
        todo: dict[tuple[Any, ...], tuple[Question, Question]] = {}
        for k, (a, b) in zip(keys, pairs, strict=True):
            if k not in self.memo and k not in todo:
                todo[k] = (a, b) if _key(a) <= _key(b) else (b, a)
        if todo:
            results = run_sync(lambda: self._judge_all(list(todo.values())))
            for k, r in zip(todo, results, strict=True):
                self.memo[k] = r  # type: ignore[index]
        return [self.memo[k] for k in keys]  # type: ignore[index]

    def distributions(self, asks: Sequence[tuple[Question, str | None, str | None]]) -> list[tuple[float, ...] | None]:
        """Judged answer distributions (over each question's options in code order) of
        ``(question, group, place)`` asks: *group* is the key a distribution is kept under (e.g. a
        country code), *place* the words the prompt names it by (None: many countries). Each
        (question, group) is asked once; None where it was not judged (request failed, too many options)."""
        keys = [(_key(q), group) for q, group, _ in asks]
        todo: dict[tuple[tuple[str, str], str | None], tuple[Question, str | None, str | None]] = {}
        for k, ask in zip(keys, asks, strict=True):
            if k not in self.dist_memo and k not in todo:
                todo[k] = ask
        if todo:
            results = run_sync(lambda: self._distribute_all(list(todo.values())))
            for k, r in zip(todo, results, strict=True):
                self.dist_memo[k] = r
        return [self.dist_memo[k] for k in keys]

    async def _distribute_all(
        self, asks: list[tuple[Question, str | None, str | None]]
    ) -> list[tuple[float, ...] | None]:
        return list(await asyncio.gather(*(self._distribute(*ask) for ask in asks)))

    async def _distribute(self, q: Question, group: str | None, place: str | None) -> tuple[float, ...] | None:
        n = len(q.answer_codes)
        if distribution_messages(q, place) is None:
            return None
        orders = option_orders(n, self.orders)
        got = await asyncio.gather(*(self._distribute_once(q, group, place, order) for order in orders))
        kept = [p for p in got if p is not None]
        if not kept:
            return None
        mean = np.mean(kept, axis=0)
        return tuple(float(x) for x in mean / mean.sum())

    async def _distribute_once(
        self, q: Question, group: str | None, place: str | None, order: list[int]
    ) -> np.ndarray | None:
        """One call: the options listed in *order*; the scores mapped back to code order."""
        msgs = distribution_messages(q, place, order, self.prompt_version)
        assert msgs is not None
        letters = OPTION_LETTERS[: len(order)]
        try:
            with simulation.judging_distribution(q.id, group, order):  # read only by SIMULATED models
                res = await self.model.score_choices(msgs, letters)
        except ModelError:  # this call only
            self.failed += 1
            return None
        if res.source != "logprobs" and max(res.probs) - min(res.probs) < 1e-9:
            self.failed += 1
            return None
        p = np.clip(np.asarray(res.probs, dtype=float), 0.0, None)
        if not p.sum() > 0:
            self.failed += 1
            return None
        out = np.zeros(len(order))
        out[order] = p / p.sum()
        return out

    async def _judge_all(self, pairs: list[tuple[Question, Question]]) -> list[float | None]:
        return list(await asyncio.gather(*(self._judge(a, b) for a, b in pairs)))

    async def _judge(self, a: Question, b: Question) -> float | None:
        msgs = judgment_messages(a, b, self.prompt_version)
        try:
            with simulation.judging(a.id, b.id, LEVELS):  # read only by SIMULATED models (mock:item-oracle)
                res = await self.model.score_choices(msgs, LETTERS)
        except ModelError:  # this pair only: it stays unjudged
            self.failed += 1
            return None
        if res.source != "logprobs" and max(res.probs) - min(res.probs) < 1e-9:  # an unreadable reply
            self.failed += 1
            return None
        return expected_level(res.probs)
