"""Composing a backstory from the facts, within a length budget (no model needed).

:func:`compose` makes the styles "facts" (the fact sentences, one battery in one sentence,
one paragraph per section), "dense" (the same facts in fewer tokens), "raw" (the plain
question / answer list) and "none" (nothing: the question-only baseline); the "narrative"
style is written from a "facts" story by :mod:`valuesim.methods.story.narrative`.

``max_words`` / ``max_tokens`` (in the tokens of the model that will read it, counted by the
``count_tokens`` function given) bound the length; when the facts do not fit, whole sentences
are dropped round-robin across sections (profile first), and ``meta`` says how many were kept.
:func:`history_block` picks the answers most related to one target within a token budget.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from valuesim.errors import ConfigError
from valuesim.methods.phrasing import Fact, country_name
from valuesim.methods.story.facts import (
    PROFILE_SECTION,
    collect_facts,
    condense,
    dense_units,
    raw_lines,
    section_order,
)
from valuesim.survey.codebook import Codebook
from valuesim.survey.respondent import Respondent

StoryStyle = Literal["facts", "dense", "narrative", "raw", "none"]
STYLES: tuple[str, ...] = ("facts", "dense", "narrative", "raw", "none")


@dataclass
class Backstory:
    """A composed backstory. ``sections`` is [(section title, text)]; ``n_facts`` counts the
    data points stated (after any length cut); ``meta`` holds style, counts, model and usage."""

    text: str
    sections: list[tuple[str, str]]
    n_facts: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def words(self) -> int:
        return len(self.text.split())

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sections"] = [list(s) for s in self.sections]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Backstory:
        return cls(d["text"], [(s[0], s[1]) for s in d["sections"]], int(d["n_facts"]), dict(d.get("meta", {})))


def n_words(text: str) -> int:
    return len(text.split())


#: Profile facts a budget keeps first, most informative first (matched on the question wording;
#: the codebook's ``sex`` / ``age`` roles first); the rest of the profile follows in questionnaire order.
PROFILE_PRIORITY: tuple[tuple[str, str], ...] = (
    ("sex", r"\b(sex|gender)\b|\bman or a woman\b"),
    ("age", r"\b(age|how old)\b|year of birth|\bborn in (which|what) year"),
    ("education", r"educat|school|degree|diploma"),
    ("employment", r"employ|work status|paid work|occupation|\bjob\b"),
    ("income", r"income|wage|earn"),
    ("religion", r"relig|denomination|church"),
    ("marital", r"marital|married|partner"),
    ("children", r"child"),
)


def profile_rank(codebook: Codebook, qids: Sequence[str]) -> dict[str, int]:
    """qid -> rank of a profile item in :data:`PROFILE_PRIORITY` (country first, then sex, age,
    education, ...; the respondent's own item before a parent's: questionnaire order within a rank)."""
    roles = {codebook.role(r): i for i, (r, _) in enumerate(PROFILE_PRIORITY) if codebook.role(r)}
    ordered = codebook.sort([q for q in qids if q in codebook])
    out: dict[str, int] = {"country": -1}
    n = len(PROFILE_PRIORITY)
    for pos, q in enumerate(ordered):
        rank = roles.get(q)
        if rank is None:
            text = f"{codebook.get(q).short} {codebook.get(q).text}".lower()
            rank = next((i for i, (_, pat) in enumerate(PROFILE_PRIORITY) if re.search(pat, text)), n)
        out[q] = rank * 10_000 + pos
    return out


def _budget(
    units_by_section: dict[str, list[tuple[str, list[str]]]],
    order: list[str],
    max_words: int | None,
    titles: dict[str, str] | None = None,
    measure: Callable[[str], int] = n_words,
    *,
    profile_cap: int | None = None,
    profile_priority: Mapping[str, int] | None = None,
    priority: Mapping[str, float] | None = None,
) -> dict[str, list[tuple[str, list[str]]]]:
    """Keep whole sentences until ``max_words`` (counted by ``measure``: words by default, or a
    model's tokens; section titles included): the profile section first (who the person is) --
    at most ``profile_cap`` of the budget, its most informative facts first
    (``profile_priority``: qid -> rank, lower first) -- then the other answers: by ``priority``
    (qid -> rank, lower first) when given, else the sections round-robin, so every topic keeps
    some of its answers. Kept sentences stay in their original order."""
    if max_words is None and profile_cap is None:
        return units_by_section
    limit = max_words if max_words is not None else 1 << 60
    kept: dict[str, list[int]] = {s: [] for s in order}
    used = 0
    used_profile = 0

    def take(section: str, i: int, cap: int | None = None) -> bool:
        nonlocal used, used_profile
        n = measure(units_by_section[section][i][0]) + (1 if measure is not n_words else 0)  # + separator
        if not kept[section]:
            n += measure((titles or {}).get(section, "") + ":\n\n")  # the section title line
        if used + n > limit or (cap is not None and used_profile + n > cap):
            return False
        kept[section].append(i)
        used += n
        if section == PROFILE_SECTION:
            used_profile += n
        return True

    def best(units: list[tuple[str, list[str]]], i: int, ranks: Mapping[str, float]) -> tuple[float, int]:
        return (min((ranks.get(q, float("inf")) for q in units[i][1]), default=float("inf")), i)

    rest = [s for s in order if s != PROFILE_SECTION]
    if PROFILE_SECTION in units_by_section:
        prof = units_by_section[PROFILE_SECTION]
        idx = list(range(len(prof)))
        if profile_priority is not None:
            idx.sort(key=lambda i: best(prof, i, profile_priority))
        for i in idx:
            take(PROFILE_SECTION, i, profile_cap)
    if priority is not None:
        pool = [
            (best(units_by_section[s], i, priority), s, i)
            for s in rest
            for i in range(len(units_by_section.get(s, [])))
        ]
        for _, s, i in sorted(pool):
            take(s, i)
    else:
        cursor = {s: 0 for s in rest}
        progress = True
        while progress:
            progress = False
            for s in rest:
                units = units_by_section.get(s, [])
                if cursor[s] >= len(units):
                    continue
                take(s, cursor[s])  # a sentence too long to fit is skipped; shorter ones may follow
                cursor[s] += 1
                progress = True
    return {s: [units_by_section[s][i] for i in sorted(idx)] for s, idx in kept.items() if idx}


def history_hash(respondent: Respondent, qids: Sequence[str] | None = None) -> str:
    """Hash of exactly what a backstory is built from (country + known answers)."""
    known = respondent.answered(list(qids) if qids is not None else None)
    payload = {"country": respondent.country, "answers": sorted((q, respondent.answers[q]) for q in known)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def sections_text(sections: list[tuple[str, str]]) -> str:
    return "\n\n".join(f"{title}:\n{body}" for title, body in sections if body)


def compose(
    respondent: Respondent,
    codebook: Codebook,
    *,
    style: str = "facts",
    max_words: int | None = None,
    qids: Sequence[str] | None = None,
    max_tokens: int | None = None,
    count_tokens: Callable[[str], int] | None = None,
    profile_share: float | None = None,
    priority: Mapping[str, float] | None = None,
) -> Backstory:
    """A backstory that needs no model: styles "facts", "dense", "raw" and "none".

    ``max_tokens`` bounds its length in the tokens ``count_tokens`` counts (the reading
    model's tokenizer); both budgets apply when both are given. ``profile_share`` caps the
    profile section's part of the budget (so the profile never crowds out the answers; its
    most informative facts are kept first, :data:`PROFILE_PRIORITY`); ``priority`` (qid ->
    rank, lower first) picks the other answers that fill the rest, instead of the sections
    round-robin."""
    if max_tokens is not None and count_tokens is None:
        raise ConfigError("A token budget (max_tokens) needs the reading model's count_tokens function.")
    if style not in ("facts", "dense", "raw", "none"):
        raise ConfigError(f"compose() cannot make style {style!r}.", "Use build_backstory() for 'narrative'.")
    order = section_order(codebook)
    if style == "none":
        return Backstory("", [], 0, {"style": "none", "n_facts_total": 0, "words": 0})
    units: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
    if style in ("facts", "dense"):
        facts = collect_facts(respondent, codebook, qids)
        by_sec: dict[str, list[Fact]] = defaultdict(list)
        for f in facts:
            by_sec[f.section].append(f)
        for s, fs in by_sec.items():
            if style == "dense":
                units[s] = dense_units(fs, respondent, codebook, country_name(respondent.country))
            else:
                units[s] = condense(fs)
        total = len(facts)
        sep = " "
    else:
        lines = raw_lines(respondent, codebook, qids)
        for s, qid, line in lines:
            units[s].append((line, [qid]))
        total = len(lines)
        sep = "\n"
    titles = {s: codebook.sections[s].title if s in codebook.sections else s for s in order}
    prank = profile_rank(codebook, [q for _, qs in units.get(PROFILE_SECTION, []) for q in qs])
    share = profile_share if profile_share is not None and profile_share < 1 else None
    by_tokens = max_tokens is not None and count_tokens is not None
    cap_words = int(share * max_words) if share is not None and max_words is not None and not by_tokens else None
    kept = _budget(
        dict(units), order, max_words, titles, profile_cap=cap_words, profile_priority=prank, priority=priority
    )
    if max_tokens is not None and count_tokens is not None:
        kept = _budget(
            kept,
            [s for s in order if s in kept],
            max_tokens,
            titles,
            count_tokens,
            profile_cap=int(share * max_tokens) if share is not None else None,
            profile_priority=prank,
            priority=priority,
        )
    sections = [(titles[s], sep.join(t for t, _ in kept[s])) for s in order if s in kept]
    n = sum(len(q) for s in kept for _, q in kept[s])
    text = sections_text(sections)
    stated = sorted({q for s in kept for _, qs in kept[s] for q in qs if q != "country"})
    meta = {
        "style": style,
        "n_facts_total": total,
        "n_facts": n,
        "words": n_words(text),
        "max_words": max_words,
        "max_tokens": max_tokens,
        "qids_stated": stated,
    }
    if count_tokens is not None:
        meta["tokens"] = count_tokens(text)
    return Backstory(text, sections, n, meta)


# --------------------------------------------------------------------------- question-specific history


@dataclass
class HistoryBlock:
    """The person's answers chosen for one target (or one batch of targets): ``lines`` as the
    prompt shows them (most relevant first), ``qids`` the items they state, ``tokens`` their
    length as measured against the budget."""

    lines: list[str]
    qids: list[str]
    tokens: int


#: consecutive candidates that do not fit before a block stops looking (long facts are skipped)
_BLOCK_MISSES = 4


def block_text(lines: Sequence[str]) -> str:
    """How a block's lines are measured (the prompt's bullet list)."""
    return "\n".join(f"- {line}" for line in lines)


def fact_index(respondent: Respondent, codebook: Codebook, style: str = "dense") -> dict[str, Fact | str]:
    """qid -> what a block can say about the answer: its :class:`Fact` (dense, facts and
    narrative styles) or its raw "question -> answer" line (raw style)."""
    if style == "raw":
        return {qid: line for _, qid, line in raw_lines(respondent, codebook) if qid != "country"}
    return {f.qid: f for f in collect_facts(respondent, codebook) if f.qid != "country"}


def _block_units(
    chosen: Sequence[str],
    rank: Mapping[str, int],
    index: Mapping[str, Fact | str],
    respondent: Respondent,
    codebook: Codebook,
    style: str,
) -> list[tuple[str, list[str]]]:
    """The chosen answers as prompt lines: batteries said once (dense), most relevant first."""
    units: list[tuple[str, list[str]]] = []
    if style == "raw":
        units = [(str(index[q]), [q]) for q in chosen]
    else:
        facts = [f for q in codebook.sort(list(chosen)) if isinstance(f := index[q], Fact)]
        by_sec: dict[str, list[Fact]] = defaultdict(list)
        for f in facts:
            by_sec[f.section].append(f)
        country = country_name(respondent.country)
        for fs in by_sec.values():
            units.extend(dense_units(fs, respondent, codebook, country) if style == "dense" else condense(fs))
    return sorted(units, key=lambda u: min(rank.get(q, len(rank)) for q in u[1]))


def history_block(
    respondent: Respondent,
    codebook: Codebook,
    ranked_qids: Sequence[str],
    *,
    max_tokens: int,
    count_tokens: Callable[[str], int],
    style: str = "dense",
    exclude: Iterable[str] = (),
    index: Mapping[str, Fact | str] | None = None,
) -> HistoryBlock:
    """The person's answers most related to a target, within ``max_tokens``: candidates are
    taken in ``ranked_qids`` order (most related first; items in ``exclude`` -- e.g. already in
    the shared story -- and items without a fact are passed over), a candidate that no longer
    fits is skipped. Lines are rendered as in ``style`` ("dense": batteries said once; "raw":
    question -> answer; otherwise fact sentences) and ordered by relevance.
    ``index``: :func:`fact_index` of the person, when it is reused across targets."""
    idx = index if index is not None else fact_index(respondent, codebook, style)
    skip = set(exclude)
    rank = {q: i for i, q in enumerate(ranked_qids)}
    chosen: list[str] = []
    lines: list[str] = []
    tokens = 0
    misses = 0
    for q in ranked_qids:
        if q in skip or q not in idx:
            continue
        trial = [*chosen, q]
        units = _block_units(trial, rank, idx, respondent, codebook, style)
        n = count_tokens(block_text([t for t, _ in units]))
        if n > max_tokens:
            misses += 1
            if misses >= _BLOCK_MISSES:
                break
            continue
        misses = 0
        chosen, lines, tokens = trial, [t for t, _ in units], n
    return HistoryBlock(lines, sorted(chosen, key=rank.__getitem__), tokens)
