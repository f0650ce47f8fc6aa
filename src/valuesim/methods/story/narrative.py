"""Faithful narrative backstories: LLM-written sections checked against their facts.

The ``narrative`` backstory style asks a model to rewrite each section of the deterministic
facts story (:func:`valuesim.methods.story.compose.compose`) as prose. A small model (and, less often,
a capable one) corrupts the person while doing so: instructions leak into the text, scale
ends change, answers vanish or are replaced. So every written section is checked against
the facts it was written from before it reaches a method:

1. **Deterministic checks** (:func:`valuesim.methods.story.checks.check_section`, no model needed):

   - *meta-text*: instructions or commentary ("Rewrite:", "Facts:", "As an AI", "I added ...",
     "Here is ...", first-person sentences the facts do not contain);
   - *changed number*: every number of the facts must be in the prose and the prose may hold
     no other number; a scale answer keeps its position and its two ends (numbers and, when the
     fact names them, the end labels);
   - *dropped answer*: for each fact, the prose clause that talks about the fact's topic must
     state the person's answer rather than another option of the same question. "Unambiguously
     paraphrased" is made operational by comparing with the sentences the facts renderer
     writes for every other option: the clause must hold more of the words that set the real
     answer apart from a rival than of the words that set the rival apart (for each rival);
   - *repetition*: a sentence said twice, or a long word sequence repeated;
   - *length*: far shorter or longer than the word budget of the section.

2. **Model check** (optional, ``model_check=True``): every option question of the section is
   asked again with only the section as context (as :func:`valuesim.methods.story.fidelity.story_fidelity`
   does with the whole story). A fact the model recovers from the facts sentences but not from
   the prose fails the section.

3. **Fallback**: a failing section is written once more with its problems named in the prompt;
   if that fails too, the section keeps its facts sentences. Each section records its status
   (``written`` / ``regenerated`` / ``fell back``) and the problems found, and the story's
   ``meta["check"]`` summarizes them (facts preserved, sections fallen back, model fidelity).

The checks are conservative: a faithful paraphrase that uses other words for an answer can
fail and fall back to the facts sentences (never the other way round).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from valuesim.methods.phrasing import country_name
from valuesim.methods.story.checks import (
    PROBLEM_KINDS,
    Expectation,
    Problem,
    check_section,
    section_expectations,
)
from valuesim.methods.story.compose import Backstory
from valuesim.methods.story.fidelity import arecover
from valuesim.survey.codebook import Codebook, Question
from valuesim.survey.respondent import Respondent

if TYPE_CHECKING:
    from valuesim.llm import Model, Usage

#: Version of the checks and of the regeneration logic: part of the story store key, so a
#: change here never reuses a story accepted by older checks.
CHECK_VERSION = "c1"

WRITTEN, REGENERATED, FELL_BACK = "written", "regenerated", "fell back"


@dataclass
class SectionRecord:
    """What happened to one section (stored in ``Backstory.meta["check"]["sections"]``)."""

    title: str
    status: str
    n_facts: int
    preserved_first: int
    problems: list[str] = field(default_factory=list)
    retry_problems: list[str] = field(default_factory=list)
    model: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def facts_digest(sections: Sequence[tuple[str, str]]) -> str:
    """Hash of the facts a narrative is written from (part of the story store key)."""
    raw = "\n\n".join(f"{t}\n{b}" for t, b in sections)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


async def _write(
    model: Model, title: str, facts_text: str, words: int, prompt_version: str, problems: Sequence[str] = ()
) -> tuple[str, Usage]:
    from valuesim.llm import ChatMessage, GenerateConfig
    from valuesim.methods.prompts import render

    if problems:
        user = render(
            "narrative_retry", prompt_version, title=title, facts=facts_text, words=words, problems=list(problems)
        )
    else:
        user = render("narrative", prompt_version, title=title, facts=facts_text, words=words)
    messages = [ChatMessage("system", render("narrative_system", prompt_version)), ChatMessage("user", user)]
    # one paragraph is asked for: whatever follows a blank line is never part of it
    cfg = GenerateConfig(temperature=0.0, max_tokens=max(64, int(words * 1.6) + 32), stop=("\n\n",))
    res = await model.generate(messages, cfg)
    return res.text.strip(), res.usage


async def _model_check(
    model: Model,
    prose: str,
    facts_text: str,
    items: Sequence[tuple[Question, int]],
    country: str | None,
    prompt_version: str,
    survey: str | None = None,
) -> tuple[dict[str, Any], list[Problem], Usage]:
    """Ask the section's option questions from the prose alone and from the facts alone."""
    from valuesim.llm import Usage

    async def both(q: Question, truth: int) -> tuple[str, bool, bool, Usage]:
        p, up = await arecover(model, prose, q, truth, country, prompt_version, survey)
        f, uf = await arecover(model, facts_text, q, truth, country, prompt_version, survey)
        return q.id, p, f, up + uf

    rows = await asyncio.gather(*(both(q, t) for q, t in items))
    usage = Usage()
    for r in rows:
        usage = usage + r[3]
    lost = [qid for qid, p, f, _ in rows if f and not p]
    summary = {
        "n": len(rows),
        "prose": sum(p for _, p, _, _ in rows),
        "facts": sum(f for _, _, f, _ in rows),
        "lost": lost,
    }
    problems = [Problem("model check", f"{q} recovered from the facts but not from the prose", q) for q in lost]
    return summary, problems, usage


async def narrate_section(
    model: Model,
    title: str,
    facts_text: str,
    expectations: Sequence[Expectation],
    words: int,
    *,
    prompt_version: str = "v1",
    model_items: Sequence[tuple[Question, int]] | None = None,
    country: str | None = None,
    survey: str | None = None,
) -> tuple[str, SectionRecord, Usage]:
    """Write one section, check it, retry once naming the problems, else keep the facts."""
    from valuesim.llm import Usage

    usage = Usage()
    record = SectionRecord(title, FELL_BACK, len(expectations), 0)
    attempt_problems: list[str] = []
    for attempt in (0, 1):
        text, u = await _write(model, title, facts_text, words, prompt_version, attempt_problems)
        usage = usage + u
        check = check_section(text, facts_text, expectations, words)
        problems = list(check.problems)
        if attempt == 0:
            record.preserved_first = check.preserved
        if not problems and model_items:
            summary, mproblems, mu = await _model_check(
                model, text, facts_text, model_items, country, prompt_version, survey
            )
            usage = usage + mu
            record.model = summary
            problems += mproblems
        texts = [str(p) for p in problems]
        if attempt == 0:
            record.problems = texts
        else:
            record.retry_problems = texts
        if not problems:
            record.status = WRITTEN if attempt == 0 else REGENERATED
            return text, record, usage
        attempt_problems = _retry_hints(problems)
    if model_items:  # the story now states these facts as sentences: what does the model get from them?
        summary, _, mu = await _model_check(model, facts_text, facts_text, model_items, country, prompt_version, survey)
        usage = usage + mu
        record.model = {**summary, "prose": None}
    return facts_text, record, usage


def _retry_hints(problems: Sequence[Problem]) -> list[str]:
    """The problems as instructions for the second attempt (one line per kind)."""
    by_kind: dict[str, list[str]] = {}
    for p in problems:
        by_kind.setdefault(p.kind, []).append(p.detail)
    hints = {
        "meta-text": "it contained text that is not about the person (instructions, labels or remarks about the writing)",
        "changed number": "it changed, dropped or added numbers",
        "dropped answer": "it lost or changed answers",
        "repetition": "it repeated itself",
        "length": "its length was wrong",
        "model check": "a reader could not tell some answers from it",
    }
    out = []
    for kind, details in by_kind.items():
        shown = "; ".join(d for d in details[:3])
        out.append(f"{hints.get(kind, kind)} ({shown})")
    return out


def summarize_sections(records: Sequence[SectionRecord], model_check: bool) -> dict[str, Any]:
    """Story-level fidelity summary (``Backstory.meta["check"]``) of its section records."""
    n_facts = sum(r.n_facts for r in records)
    prose_facts = sum(r.n_facts for r in records if r.status != FELL_BACK)
    kinds: Counter[str] = Counter()
    for r in records:
        for p in [*r.problems, *r.retry_problems]:
            kinds[p.split(":", 1)[0]] += 1
    out: dict[str, Any] = {
        "version": CHECK_VERSION,
        "model_check": model_check,
        "sections": [r.to_dict() for r in records],
        "n_sections": len(records),
        "written": sum(r.status == WRITTEN for r in records),
        "regenerated": sum(r.status == REGENERATED for r in records),
        "fell_back": sum(r.status == FELL_BACK for r in records),
        "n_facts": n_facts,
        # every accepted section passed the per-fact check and a fallen-back one is the facts
        "facts_preserved": n_facts,
        "facts_preserved_first": sum(r.preserved_first for r in records),
        "facts_in_prose": prose_facts,
        "problems": {k: kinds.get(k, 0) for k in PROBLEM_KINDS},
    }
    if model_check:
        # final: recovered from the text the story kept (prose, or the facts of a fallen-back section)
        ms = [r.model for r in records if r.model]
        out["model_fidelity"] = {
            "n": sum(m["n"] for m in ms),
            "final": sum(m["facts"] if m["prose"] is None else m["prose"] for m in ms),
            "facts": sum(m["facts"] for m in ms),
        }
    return out


def brief(problems: Sequence[str]) -> str:
    """ "meta-text x2, dropped answer (Q1, Q57)": problem strings grouped by kind."""
    kinds: dict[str, list[str]] = {}
    for p in problems:
        kind, _, detail = p.partition(": ")
        m = re.match(r"(Q\d+|country)\b", detail)
        kinds.setdefault(kind, []).append(m.group(1) if m else "")
    parts = []
    for kind, items in kinds.items():
        ids = [i for i in items if i]
        if ids:
            parts.append(f"{kind} ({', '.join(ids[:4])}{', ...' if len(ids) > 4 else ''})")
        else:
            parts.append(kind + (f" x{len(items)}" if len(items) > 1 else ""))
    return ", ".join(parts) or "none"


def verdict(check: dict[str, Any]) -> list[str]:
    """Human-readable lines of a story's check summary (for `valuesim backstory`)."""
    lines = [
        f"Narrative check: {check['written']} section(s) written, {check['regenerated']} regenerated, "
        f"{check['fell_back']} fell back to the facts sentences (of {check['n_sections']}); "
        f"{check['facts_preserved_first']}/{check['n_facts']} facts kept by the first drafts, "
        f"{check['facts_in_prose']}/{check['n_facts']} told in prose."
    ]
    for s in check["sections"]:
        if s["status"] == WRITTEN:
            continue
        first = brief(s["problems"])
        if s["status"] == REGENERATED:
            lines.append(f"  {s['title']}: regenerated (first draft: {first})")
        else:
            lines.append(f"  {s['title']}: fell back (first draft: {first}; second: {brief(s['retry_problems'])})")
    mf = check.get("model_fidelity")
    if mf and mf.get("n"):
        lines.append(
            f"Model check: {mf['final']}/{mf['n']} answers recovered from the story's sections "
            f"({mf['facts']}/{mf['n']} from the facts sentences)."
        )
    return lines


def section_qids(base: Backstory, codebook: Codebook) -> dict[str, list[str]]:
    """The facts (question ids; "country" for the country sentence) each section of a facts
    story states, by section title."""
    titles = {sid: sec.title for sid, sec in codebook.sections.items()}
    out: dict[str, list[str]] = {title: [] for title, _ in base.sections}
    for qid in base.meta.get("qids_stated", []):
        if qid in codebook:
            title = titles.get(codebook.get(qid).section, codebook.get(qid).section)
            if title in out:
                out[title].append(qid)
    return out


async def anarrate(
    base: Backstory,
    respondent: Respondent,
    codebook: Codebook,
    model: Model,
    *,
    qids: Sequence[str] | None = None,
    max_words: int | None = None,
    prompt_version: str = "v1",
    model_check: bool = False,
) -> tuple[list[tuple[str, str]], dict[str, Any], Usage]:
    """Write every section of the facts story ``base`` as checked prose.

    Returns the sections, the check summary (:func:`summarize_sections`) and the LLM usage.
    """
    from valuesim.llm import Usage
    from valuesim.methods.prompting import lettered, survey_phrase

    country = country_name(respondent.country)
    survey = survey_phrase(codebook)
    total_words = max(1, int(base.meta.get("words") or 1))
    target_total = max_words or total_words
    by_title = section_qids(base, codebook)
    jobs = []
    for title, body in base.sections:
        ids = list(by_title.get(title, []))
        if country and f"You live in {country}." in body:
            ids.insert(0, "country")
        exps = section_expectations(respondent, codebook, ids, country)
        items: list[tuple[Question, int]] | None = None
        if model_check:
            items = [
                (codebook.get(q), respondent.answers[q])
                for q in ids
                if q in codebook and not codebook.get(q).profile and lettered(codebook.get(q))
            ]
        words = max(20, int(target_total * len(body.split()) / total_words))
        jobs.append(
            narrate_section(
                model,
                title,
                body,
                exps,
                words,
                prompt_version=prompt_version,
                model_items=items,
                country=country,
                survey=survey,
            )
        )
    results = await asyncio.gather(*jobs)
    usage = Usage()
    sections: list[tuple[str, str]] = []
    records: list[SectionRecord] = []
    for (title, _), (text, record, u) in zip(base.sections, results):
        usage = usage + u
        sections.append((title, text))
        records.append(record)
    return sections, summarize_sections(records, model_check), usage


def story_check_summary(check: dict[str, Any]) -> dict[str, Any]:
    """The per-prediction copy of a story's check summary: counts and fallen-back titles only."""
    out = {k: v for k, v in check.items() if k != "sections"}
    out["fell_back_sections"] = [s["title"] for s in check.get("sections", []) if s["status"] == FELL_BACK]
    return out


def aggregate_checks(checks: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-run fidelity of narrative stories (one check summary per story): sections written,
    regenerated and fallen back; shares of facts preserved (after fallback), kept by the first
    drafts and told in prose; problems by kind; model fidelity when the model check was on."""
    n_facts = sum(int(c.get("n_facts", 0)) for c in checks)

    def share(key: str) -> float | None:
        return round(sum(int(c.get(key, 0)) for c in checks) / n_facts, 4) if n_facts else None

    out: dict[str, Any] = {
        "stories": len(checks),
        "sections": sum(int(c.get("n_sections", 0)) for c in checks),
        "sections_written": sum(int(c.get("written", 0)) for c in checks),
        "sections_regenerated": sum(int(c.get("regenerated", 0)) for c in checks),
        "sections_fell_back": sum(int(c.get("fell_back", 0)) for c in checks),
        "facts": n_facts,
        "facts_preserved": share("facts_preserved"),
        "facts_preserved_first_draft": share("facts_preserved_first"),
        "facts_in_prose": share("facts_in_prose"),
        "problems": {k: sum(int(c.get("problems", {}).get(k, 0)) for c in checks) for k in PROBLEM_KINDS},
    }
    models = [c["model_fidelity"] for c in checks if c.get("model_fidelity")]
    if models:
        n = sum(int(m["n"]) for m in models)
        out["model_fidelity"] = {
            "n": n,
            "rate": round(sum(int(m["final"]) for m in models) / n, 4) if n else None,
            "rate_facts_sentences": round(sum(int(m["facts"]) for m in models) / n, 4) if n else None,
        }
    return out
