"""Facts: a respondent's known answers as faithful second-person sentences.

Every valid answer becomes one :class:`~valuesim.methods.phrasing.Fact` (answer labels, never
codes; country names, never numbers; missing answers not mentioned), grouped by the
codebook's topic sections, profile first (:func:`collect_facts`). The renderings built on
them:

- :func:`condense`: the answers of one battery said in one sentence (the "facts" style);
- :func:`densify` / :func:`dense_units`: the same facts in fewer tokens (the "dense" style):
  "Asked ..., you answered" frames become "question: answer", rating scales "question: 7
  (1 = x, 10 = y)", a battery's shared stem is said once, label explanations ("for
  example: ...") dropped;
- :func:`raw_lines`: the plain question -> answer list (the "without story" ablation).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from valuesim.methods.phrasing import (
    Fact,
    clean_label,
    country_name,
    fill_placeholders,
    join_words,
    phrase,
    scale_anchors,
    upper_first,
)
from valuesim.survey.codebook import Codebook, Question, QuestionKind, is_missing_label
from valuesim.survey.respondent import Respondent

PROFILE_SECTION = "demographics"


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
