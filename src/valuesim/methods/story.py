"""Backstories: a respondent's known answers as a second-person text.

Two layers:

1. :func:`render_facts` -- deterministic. Every valid answer becomes one faithful sentence
   (answer labels, never codes; country names, never numbers; missing answers not
   mentioned), grouped by the codebook's topic sections.
2. :func:`build_backstory` -- composes those facts into the text a model reads. Styles:

   - ``"facts"``: the sentences, answers of one battery condensed into one sentence, one
     paragraph per section (no model needed);
   - ``"dense"``: the same facts in fewer tokens (:func:`densify`): "Asked ..., you answered"
     frames become "question: answer", rating scales "question: 7 (1 = x, 10 = y)", a
     battery's shared stem is said once, label explanations ("for example: ...") dropped;
   - ``"narrative"``: each section's facts rewritten by an LLM into flowing prose (one call
     per section, so it fits small context windows), each section checked against its facts
     and replaced by them when the model corrupts it (:mod:`valuesim.methods.narrative`);
   - ``"raw"``: the plain question / answer list (the "without story" ablation);
   - ``"none"``: nothing (the question-only baseline).

   ``max_words`` / ``max_tokens`` (in the tokens of the model that will read it, counted by
   the ``count_tokens`` function given) bound the length; when the facts do not fit, whole
   sentences are dropped round-robin across sections (profile first), and ``meta`` says how
   many were kept.

Narrative backstories are stored in a small SQLite store under the cache directory, keyed by
(respondent, history set and facts text, model identity, prompt and check version, style,
length), so a benchmark
writes each story once and ``valuesim backstory --out`` can export it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from valuesim._aio import run_sync
from valuesim._redact import redact
from valuesim.errors import ConfigError
from valuesim.methods.narrative import CHECK_VERSION, FELL_BACK, anarrate, arecover, facts_digest
from valuesim.methods.phrasing import (
    Fact,
    clean_label,
    country_name,
    fill_placeholders,
    is_missing_label,
    join_words,
    phrase,
    scale_anchors,
    upper_first,
)
from valuesim.survey.codebook import Codebook, Question, QuestionKind
from valuesim.survey.respondent import Respondent

if TYPE_CHECKING:
    from valuesim.llm import Model

StoryStyle = Literal["facts", "dense", "narrative", "raw", "none"]
STYLES: tuple[str, ...] = ("facts", "dense", "narrative", "raw", "none")
PROFILE_SECTION = "demographics"
STORE_FILE = "backstories.sqlite3"


# --------------------------------------------------------------------------- facts


def phrase_for(codebook: Codebook, qid: str, code: int, country: str | None) -> Fact | None:
    """One answer as a fact: the WVS-7 rules for the WVS codebook, the generic ones otherwise."""
    q = codebook.get(qid)
    if codebook.is_wvs:
        return phrase(q, code, country)
    from valuesim.methods.phrasing_generic import phrase_generic

    return phrase_generic(q, code, codebook, country)


def _order(codebook: Codebook, qids: Iterable[str]) -> list[str]:
    return codebook.sort(codebook.get(q).id for q in qids)


def section_order(codebook: Codebook) -> list[str]:
    """Profile section first, then the questionnaire's order."""
    ids = list(codebook.sections)
    return ([PROFILE_SECTION] if PROFILE_SECTION in ids else []) + [s for s in ids if s != PROFILE_SECTION]


def collect_facts(respondent: Respondent, codebook: Codebook, qids: Sequence[str] | None = None) -> list[Fact]:
    """One :class:`Fact` per valid known answer (restricted to ``qids`` when given)."""
    country = country_name(respondent.country)
    known = [q for q in respondent.answered(list(qids) if qids is not None else None) if q in codebook]
    facts: list[Fact] = []
    if country and (qids is None or any(codebook.get(q).profile for q in known)):
        facts.append(Fact("country", PROFILE_SECTION, f"You live in {country}."))
    for qid in _order(codebook, known):
        fact = phrase_for(codebook, qid, respondent.answers[qid], country)
        if fact is not None:
            facts.append(fact)
    rank = {s: i for i, s in enumerate(section_order(codebook))}
    return sorted(facts, key=lambda f: rank.get(f.section, len(rank)))  # stable within a section


def render_facts(
    respondent: Respondent, codebook: Codebook, qids: Sequence[str] | None = None
) -> list[tuple[str, str]]:
    """(section id, sentence) for every known data point, grouped by codebook section."""
    return [(f.section, f.sentence) for f in collect_facts(respondent, codebook, qids)]


def condense(facts: Sequence[Fact]) -> list[tuple[str, list[str]]]:
    """Merge facts of one section that share a battery template: (sentence, qids) units."""
    units: list[tuple[str, list[str]]] = []
    by_group: dict[tuple[str, str], int] = {}
    members: dict[int, list[Fact]] = defaultdict(list)
    seen: dict[str, int] = {}
    for f in facts:
        if f.sentence in seen:  # e.g. "born in Peru" from two items: say it once
            units[seen[f.sentence]][1].append(f.qid)
            continue
        if f.group and f.subject:
            key = (f.section, f.group)
            if key in by_group:
                members[by_group[key]].append(f)
                continue
            by_group[key] = len(units)
            members[len(units)].append(f)
        seen[f.sentence] = len(units)
        units.append((f.sentence, [f.qid]))
    out: list[tuple[str, list[str]]] = []
    for i, (text, qids) in enumerate(units):
        group = members.get(i)
        if group and len(group) > 1:
            tpl = group[0].group or "{x}"
            text = upper_first(tpl.format(x=join_words([g.subject or "" for g in group])))
            qids = [g.qid for g in group] + [q for q in qids if q not in {g.qid for g in group}]
        out.append((text, qids))
    return out


def _question_answer(m: re.Match[str]) -> str:
    """'Asked "Q", you answered "A".' as "Q: A." ("Citizen of Norway: Yes."), or "Q? A." when
    the question has its own question mark."""
    question, answer = m.group(1), m.group(2)
    sep = " " if question.endswith(("?", "…", ":")) else ": "
    return f"{upper_first(question)}{sep}{answer}."


def _scale_answer(m: re.Match[str]) -> str:
    """A generic rating-scale fact as "Q: 4 (0 = a, 10 = b)." (a labelled point keeps its label)."""
    question, lo, lo_lab, hi, hi_lab, code, named = m.groups()
    sep = " " if question.endswith(("?", "…", ":")) else ": "
    point = f'{code} "{named}"' if named and named not in (lo_lab, hi_lab) else code
    comma = "; " if "," in lo_lab + hi_lab else ", "
    return f"{upper_first(question)}{sep}{point} ({lo} = {lo_lab}{comma}{hi} = {hi_lab})."


# Faithful rewrites of the sentence frames of :mod:`valuesim.methods.phrasing` (order matters).
_DENSE_RULES: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    # 'Asked "Q?", you place yourself at 9 on a scale from 1 ("a") to 10 ("b").'
    (
        re.compile(
            r'^Asked "(.+?)", you place yourself at (\d+) on a scale from (\d+) \("(.+?)"\) to (\d+) \("(.+?)"\)\.$'
        ),
        r"\1 \2 (\3 = \4, \5 = \6).",
    ),
    # 'On a scale from 1 ("a") to 10 ("b"), you place your view at 7.'
    (
        re.compile(r'^On a scale from (\d+) \("(.+?)"\) to (\d+) \("(.+?)"\), you place your view at (\d+)\.$'),
        r"\5 between \1 = \2 and \3 = \4.",
    ),
    # 'You rate the statement "s" at 7 on a scale from 1 ("a") to 10 ("b").'
    (
        re.compile(
            r'^You rate the statement "(.+?)" at (\d+) on a scale from (\d+) \("(.+?)"\) to (\d+) \("(.+?)"\)\.$'
        ),
        r'"\1": \2 (\3 = \4, \5 = \6).',
    ),
    # generic surveys: 'Asked "Q" on a scale from 0 ("a") to 10 ("b"), you answered 4.'
    (
        re.compile(
            r'^Asked "(.+?)" on a scale from (-?\d+) \("(.+?)"\) to (-?\d+) \("(.+?)"\), you answered (-?\d+)'
            r'(?: \("(.+?)"\))?\.$'
        ),
        _scale_answer,
    ),
    (re.compile(r'^Asked "(.+?)", you answered "(.+)"\.$'), _question_answer),
    (re.compile(r'^Asked "(.+?)", you answered (\S+)\.$'), _question_answer),
    (
        re.compile(r"^Asked whether (.+?) is essential to democracy, you answered \"(.+)\"\.$"),
        r"\1 essential to democracy? \2.",
    ),
)
_EXAMPLES = re.compile(r"\s*\(for example:[^)]*\)")


def densify(sentence: str) -> str:
    """The same statement in fewer tokens (see the module docstring; meaning unchanged)."""
    out = _EXAMPLES.sub("", sentence)
    for pattern, repl in _DENSE_RULES:
        new = pattern.sub(repl, out)
        if new != out:
            return new
    return out


_MIN_STEM = 15  # characters a battery's questions must share (prefix + suffix) to be merged
_MAX_GAP = 6  # question numbers between two known items of one battery (targets leave holes)


def _valid_labels(q: Question) -> list[str]:
    return [lab for c, lab in q.options.items() if c >= 0]


def _stem(a: str, b: str) -> tuple[int, int]:
    """Lengths of the common prefix and (non-overlapping) common suffix of two texts."""
    pre = 0
    while pre < min(len(a), len(b)) and a[pre] == b[pre]:
        pre += 1
    suf = 0
    while suf < min(len(a), len(b)) - pre and a[-1 - suf] == b[-1 - suf]:
        suf += 1
    return pre, suf


def _battery_runs(qs: Sequence[Question]) -> list[list[int]]:
    """Indices of consecutive items asked as one battery: same answer options and a shared
    question stem (the varying middle is the battery's subject)."""
    runs: list[list[int]] = []
    for i, q in enumerate(qs):
        if runs and len(runs[-1]) >= 1:
            first = qs[runs[-1][0]]
            pre, suf = _stem(first.short, q.short)
            # items with answer options only: numeric answers (interview hour, minute ...) have no labels to group by
            same = (
                bool(_valid_labels(first)) and _valid_labels(first) == _valid_labels(q) and first.section == q.section
            )
            if same and pre + suf >= _MIN_STEM and q.number - qs[runs[-1][-1]].number <= _MAX_GAP:
                trial = [qs[j].short for j in runs[-1]] + [q.short]
                p2 = min(_stem(trial[0], t)[0] for t in trial[1:])
                s2 = min(_stem(trial[0], t)[1] for t in trial[1:])
                if p2 + s2 >= _MIN_STEM and all(len(t) > p2 + s2 for t in trial):
                    runs[-1].append(i)
                    continue
        runs.append([i])
    return runs


def _word_cut(text: str, pre: int, suf: int) -> tuple[int, int]:
    """Move a prefix / suffix cut back to a word boundary (no half words in the subject)."""
    while pre > 0 and text[pre - 1] not in ' "(':
        pre -= 1
    while suf > 0 and text[len(text) - suf] not in ' ?")':
        suf -= 1
    return pre, suf


def _battery_text(qs: Sequence[Question], codes: Sequence[int], country: str | None) -> str:
    """One battery said once: 'stem … rest  label: subject, subject; label: subject.'"""
    shorts = [fill_placeholders(q.short, country) for q in qs]
    pre = min(_stem(shorts[0], t)[0] for t in shorts[1:])
    suf = min(_stem(shorts[0], t)[1] for t in shorts[1:])
    pre, suf = _word_cut(shorts[0], pre, suf)
    head = f"{shorts[0][:pre].rstrip()} … {shorts[0][len(shorts[0]) - suf :].lstrip()}".strip()
    anchors = scale_anchors(qs[0])
    groups: dict[str, list[str]] = {}
    for q, text, code in zip(qs, shorts, codes):
        subject = text[pre : len(text) - suf].strip().strip('"').strip()
        label = str(code) if anchors is not None else clean_label(q.options[code])
        groups.setdefault(label, []).append(subject)
    if anchors is not None:
        lo, lo_lab, hi, hi_lab = anchors
        if "scale from" not in head.lower():
            head += f" ({lo} = {lo_lab}, {hi} = {hi_lab})"
        order = sorted(groups, key=int)
    else:
        rank = {clean_label(lab): i for i, lab in enumerate(qs[0].options.values())}
        order = sorted(groups, key=lambda lab: rank.get(lab, len(rank)))
    body = "; ".join(f"{lab}: {', '.join(groups[lab])}" for lab in order)
    return f"{head} {body}."


def dense_units(
    facts: Sequence[Fact], respondent: Respondent, codebook: Codebook, country: str | None
) -> list[tuple[str, list[str]]]:
    """The "dense" rendering of one section's facts: batteries said once with their answers
    grouped by label, every other fact condensed and :func:`densify`-ed."""
    with_q = [f for f in facts if f.qid in codebook and f.qid in respondent.answers]
    qs = [codebook.get(f.qid) for f in with_q]
    merged: dict[str, tuple[str, list[str]]] = {}
    for run in _battery_runs(qs):
        if len(run) >= 3 and not qs[run[0]].profile:  # profile sentences are specific already
            items = [qs[i] for i in run]
            text = _battery_text(items, [respondent.answers[q.id] for q in items], country)
            merged[items[0].id] = (text, [q.id for q in items])
            merged.update({q.id: ("", []) for q in items[1:]})
    out: list[tuple[str, list[str]]] = []
    rest: list[Fact] = []

    def flush() -> None:
        out.extend((densify(t), q) for t, q in condense(rest))
        rest.clear()

    for f in facts:
        if f.qid in merged:
            flush()
            if merged[f.qid][0]:
                out.append(merged[f.qid])
        else:
            rest.append(f)
    flush()
    return out


def raw_lines(
    respondent: Respondent, codebook: Codebook, qids: Sequence[str] | None = None
) -> list[tuple[str, str, str]]:
    """(section, qid, "Question: ... Answer: ...") for the "without story" ablation."""
    country = country_name(respondent.country)
    known = [q for q in respondent.answered(list(qids) if qids is not None else None) if q in codebook]
    out: list[tuple[str, str, str]] = []
    if country:
        out.append((PROFILE_SECTION, "country", f"Country of residence: {country}"))
    for qid in _order(codebook, known):
        q = codebook.get(qid)
        code = respondent.answers[qid]
        if q.kind is QuestionKind.NUMERIC:
            answer = str(code)
        else:
            if code not in q.options or is_missing_label(q.options[code]):
                continue  # a missing-type label ("Not applicable", "refused") is not an answer
            answer = clean_label(fill_placeholders(q.options[code], country))
            if re.fullmatch(r"option \d+", answer.lower()):
                continue
        out.append((q.section, qid, f"{fill_placeholders(q.short, country)} -> {answer}"))
    rank = {s: i for i, s in enumerate(section_order(codebook))}
    return sorted(out, key=lambda t: rank.get(t[0], len(rank)))


# --------------------------------------------------------------------------- backstory


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


def _n_words(text: str) -> int:
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
    measure: Callable[[str], int] = _n_words,
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
        n = measure(units_by_section[section][i][0]) + (1 if measure is not _n_words else 0)  # + separator
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


def _sections_text(sections: list[tuple[str, str]]) -> str:
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
    text = _sections_text(sections)
    stated = sorted({q for s in kept for _, qs in kept[s] for q in qs if q != "country"})
    meta = {
        "style": style,
        "n_facts_total": total,
        "n_facts": n,
        "words": _n_words(text),
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


# --------------------------------------------------------------------------- store


class StoryStore:
    """SQLite store of LLM-written backstories (safe for concurrent readers and writers)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute(
                "CREATE TABLE IF NOT EXISTS stories (key TEXT PRIMARY KEY, respondent TEXT, history TEXT,"
                " model TEXT, prompt_version TEXT, style TEXT, max_words INTEGER, data TEXT, created REAL)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60)

    @staticmethod
    def key(
        respondent_id: str, history: str, model: str, prompt_version: str, style: str, max_words: int | None
    ) -> str:
        raw = json.dumps([respondent_id, history, model, prompt_version, style, max_words])
        return hashlib.sha256(raw.encode()).hexdigest()

    def get(self, key: str) -> Backstory | None:
        with self._lock, self._connect() as con:
            row = con.execute("SELECT data FROM stories WHERE key = ?", (key,)).fetchone()
        return Backstory.from_dict(json.loads(row[0])) if row else None

    def put(
        self,
        key: str,
        story: Backstory,
        *,
        respondent_id: str,
        history: str,
        model: str,
        prompt_version: str,
        style: str,
        max_words: int | None,
    ) -> None:
        # the model spec may name a server with credentials (openai:NAME@http://user:pw@host): none is stored
        data = json.dumps(redact(story.to_dict()), ensure_ascii=False)
        row = redact((key, respondent_id, history, model, prompt_version, style))
        with self._lock, self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO stories VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, max_words, data, time.time()),
            )

    def export(self, respondent_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT respondent, history, model, prompt_version, style, max_words, data FROM stories"
        args: tuple[Any, ...] = ()
        if respondent_id is not None:
            sql += " WHERE respondent = ?"
            args = (respondent_id,)
        with self._lock, self._connect() as con:
            rows = con.execute(sql, args).fetchall()
        cols = ("respondent", "history", "model", "prompt_version", "style", "max_words")
        return [dict(zip(cols, r[:6]), **json.loads(r[6])) for r in rows]


_STORES: dict[str, StoryStore] = {}


def default_store(directory: str | Path | None = None) -> StoryStore:
    from valuesim.llm.cache import default_cache_dir

    path = Path(directory).expanduser() if directory else default_cache_dir()
    key = str(path / STORE_FILE)
    if key not in _STORES:
        _STORES[key] = StoryStore(key)
    return _STORES[key]


# --------------------------------------------------------------------------- narrative


async def abuild_backstory(
    respondent: Respondent,
    codebook: Codebook,
    model: Model | None = None,
    *,
    style: str = "facts",
    max_words: int | None = None,
    prompt_version: str = "v1",
    qids: Sequence[str] | None = None,
    store: StoryStore | bool | None = True,
    max_tokens: int | None = None,
    count_tokens: Callable[[str], int] | None = None,
    model_check: bool = False,
    profile_share: float | None = None,
    priority: Mapping[str, float] | None = None,
) -> Backstory:
    """Async :func:`build_backstory`."""
    if style not in STYLES:
        raise ConfigError(f"Unknown backstory style {style!r}.", f"Use one of: {', '.join(STYLES)}.")
    if style != "narrative":
        story = compose(
            respondent,
            codebook,
            style=style,
            max_words=max_words,
            qids=qids,
            max_tokens=max_tokens,
            count_tokens=count_tokens,
            profile_share=profile_share,
            priority=priority,
        )
        story.meta.update({"prompt_version": prompt_version, "model": None})
        return story
    if model is None:
        raise ConfigError("A narrative backstory needs a model.", "Pass --model, or use --style facts.")
    st: StoryStore | None
    if store is True:
        st = default_store()
    elif store is False or store is None:
        st = None
    else:
        st = store
    base = compose(
        respondent,
        codebook,
        style="facts",
        max_words=max_words,
        qids=qids,
        profile_share=profile_share,
        priority=priority,
    )
    hist = history_hash(respondent, qids)
    version = f"{prompt_version}+{CHECK_VERSION}" + ("+model" if model_check else "")
    facts_key = f"{hist}:{facts_digest(base.sections)}"
    key = StoryStore.key(respondent.id, facts_key, model.identity, version, style, max_words)
    if st is not None:
        cached = st.get(key)
        if cached is not None:
            cached.meta["from_store"] = True
            return cached
    sections, check, usage = await anarrate(
        base,
        respondent,
        codebook,
        model,
        qids=qids,
        max_words=max_words,
        prompt_version=prompt_version,
        model_check=model_check,
    )
    meta = dict(base.meta)
    meta.update(
        {
            "style": "narrative",
            "words": _n_words(_sections_text(sections)),
            "model": model.identity,
            "model_spec": model.spec,
            "prompt_version": prompt_version,
            "fallback_sections": [s["title"] for s in check["sections"] if s["status"] == FELL_BACK],
            "check": check,
            "usage": usage.to_dict(),
            "history_hash": hist,
        }
    )
    story = Backstory(_sections_text(sections), sections, base.n_facts, meta)
    if st is not None:
        st.put(
            key,
            story,
            respondent_id=respondent.id,
            history=facts_key,
            model=model.identity,
            prompt_version=version,
            style=style,
            max_words=max_words,
        )
    return story


def build_backstory(
    respondent: Respondent,
    codebook: Codebook,
    model: Model | None = None,
    *,
    style: str = "facts",
    max_words: int | None = None,
    prompt_version: str = "v1",
    qids: Sequence[str] | None = None,
    store: StoryStore | bool | None = True,
    max_tokens: int | None = None,
    count_tokens: Callable[[str], int] | None = None,
    model_check: bool = False,
    profile_share: float | None = None,
    priority: Mapping[str, float] | None = None,
) -> Backstory:
    """Compose a respondent's backstory (see the module docstring for styles).

    ``qids`` restricts it to those items (default: everything the respondent object knows --
    pass a restricted respondent for benchmark histories). The "narrative" style needs
    ``model``; every section it writes is checked against its facts (and, with
    ``model_check``, re-asked by the model), see :mod:`valuesim.methods.narrative`; the
    result is cached in ``store`` (default: the cache directory's store).
    """
    return run_sync(
        lambda: abuild_backstory(
            respondent,
            codebook,
            model,
            style=style,
            max_words=max_words,
            prompt_version=prompt_version,
            qids=qids,
            store=store,
            max_tokens=max_tokens,
            count_tokens=count_tokens,
            model_check=model_check,
            profile_share=profile_share,
            priority=priority,
        )
    )


# --------------------------------------------------------------------------- fidelity


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
    """Re-ask history questions with only the backstory as context (see :func:`story_fidelity`)."""
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


def story_fidelity(
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
    return run_sync(
        lambda: astory_fidelity(
            backstory, respondent, codebook, model, qids, n=n, seed=seed, prompt_version=prompt_version
        )
    )
