"""Story fidelity: how many of a person's answers a model recovers from a text alone.

:func:`arecover` asks one question with only a text as the backstory;
:func:`story_fidelity` re-asks a sample of the history questions with only the backstory
(the narrative writer's model check, :mod:`valuesim.methods.story.narrative`, uses
:func:`arecover` per section).
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from valuesim._aio import synced
from valuesim.methods.phrasing import country_name
from valuesim.methods.story.compose import Backstory
from valuesim.survey.codebook import Codebook, Question
from valuesim.survey.respondent import Respondent

if TYPE_CHECKING:
    from valuesim.llm import Model, Usage


async def arecover(
    model: Model,
    text: str,
    q: Question,
    truth: int,
    country: str | None,
    prompt_version: str = "v1",
    survey: str | None = None,
) -> tuple[bool, Usage]:
    """Ask ``q`` with only ``text`` as the backstory: does the model pick the answer ``truth``?
    (``survey``: :func:`valuesim.methods.prompting.survey_phrase` of the codebook.)"""
    from valuesim.methods.prompting import build_messages, option_letters, target_options

    codes, _labels = target_options(q)
    messages = build_messages(text, "plain", [q], prompt_version=prompt_version, country=country, survey=survey)
    res = await model.score_choices(messages, option_letters(len(codes)))
    return codes[res.best] == truth, res.usage


@dataclass
class FidelityReport:
    """Share of history answers a model recovers from the backstory alone."""

    n: int
    recovered: int
    rate: float
    by_section: dict[str, dict[str, float]]
    items: list[dict[str, Any]]
    usage: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def astory_fidelity(
    backstory: Backstory,
    respondent: Respondent,
    codebook: Codebook,
    model: Model,
    qids: Sequence[str] | None = None,
    *,
    n: int | None = 30,
    seed: int = 0,
    prompt_version: str = "v1",
) -> FidelityReport:
    """Ask ``n`` (seeded sample; None = all) of the history questions ``qids`` with only the
    backstory as context and report how often the person's real answer comes back, overall
    and per section. ``respondent`` must hold the real answers of ``qids``."""
    from valuesim.llm import Usage
    from valuesim.methods.prompting import lettered, survey_phrase

    pool = [q for q in (qids if qids is not None else respondent.answered()) if q in codebook and respondent.has(q)]
    # items asked with lettered options only (a numbered list's first-token scores do not rank its options)
    pool = [q for q in pool if not codebook.get(q).profile and lettered(codebook.get(q))]
    if n is not None and len(pool) > n:
        pool = codebook.sort(random.Random(seed).sample(pool, n))
    country = country_name(respondent.country)
    survey = survey_phrase(codebook)

    async def one(qid: str) -> dict[str, Any]:
        q = codebook.get(qid)
        truth = respondent.answers[qid]
        hit, usage = await arecover(model, backstory.text, q, truth, country, prompt_version, survey)
        return {"question": qid, "section": q.section, "truth": truth, "recovered": hit, "usage": usage}

    rows = await asyncio.gather(*(one(q) for q in pool))
    usage = Usage()
    by: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        usage = usage + r.pop("usage")
        by[r["section"]].append(r["recovered"])
    hits = sum(r["recovered"] for r in rows)
    return FidelityReport(
        n=len(rows),
        recovered=hits,
        rate=hits / len(rows) if rows else float("nan"),
        by_section={s: {"n": len(v), "rate": sum(v) / len(v)} for s, v in by.items()},
        items=list(rows),
        usage=usage.to_dict(),
    )


#: :func:`astory_fidelity` for synchronous callers.
story_fidelity = synced(astory_fidelity)
