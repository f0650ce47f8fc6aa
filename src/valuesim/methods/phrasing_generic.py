"""Phrasing that needs only a codebook: answers of any labelled survey as second-person sentences.

The WVS-7 layer (:mod:`valuesim.methods.phrasing`) adds hand-written rules for that
questionnaire on top of rules like these; a survey described by a generic codebook
(``Codebook.phrasing == "generic"``) uses only this module. The rules, tried in order:

1. profile items with a role: age ("You are 46 years old."), sex ("You are a woman.");
2. rating scales (kind ``scale``): the answer with the scale's labelled ends;
3. agree/disagree items: "You agree that ...";
4. importance items ("How important is X?"): "X is very important to you.";
5. frequency items ("How often ...?"): "You ... once a week.";
6. portrait items ("Very much like me" ... "Not like me at all");
7. everything else: 'Asked "...", you answered "..."' -- always faithful.

Every sentence is built from the question's wording and the answer's *label*; a code is only
ever shown as the position on a rating scale or a numeric answer (a quantity). An item whose
wording is still its variable name (the file had no label) is left out of stories: a variable
name is not something a person was asked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from valuesim.methods.phrasing import (
    _AGREE,
    Fact,
    clean_label,
    fill_placeholders,
    lower_first,
    sentence,
    upper_first,
)
from valuesim.survey.codebook import Codebook, Question, QuestionKind, is_missing_label

#: (question, code, label, role) -> sentence or None (the rule does not apply)
GenericRule = Callable[[Question, int, str, str | None], str | None]

_FREQUENCY = re.compile(
    r"^(every day|daily|several times a (day|week|month|year)|once a (day|week|month|year)|"
    r"(at least )?once a (week|month)|less often|more often|never|always|often|very often|sometimes|"
    r"rarely|seldom|weekly|monthly|yearly|hardly ever|almost never|almost always)$",
    re.I,
)
_IMPORTANT = re.compile(r"^(very|rather|quite|fairly|somewhat|not very|not at all|not|extremely) important$", re.I)


#: first words after "How often" that make "You <words> <frequency>." a sentence ("How often pray
#: apart from ..."); other telegraphic labels ("How often fam life interfere job") are quoted
_OFTEN_VERBS = frozenset(
    [
        "attend",
        "pray",
        "use",
        "meet",
        "go",
        "watch",
        "read",
        "take",
        "visit",
        "eat",
        "drink",
        "smoke",
        "exercise",
        "talk",
        "discuss",
        "feel",
        "worry",
        "vote",
        "work",
        "help",
        "volunteer",
        "donate",
        "travel",
        "socially",
        "spend",
        "buy",
        "listen",
        "participate",
        "play",
        "see",
        "check",
        "follow",
        "get",
        "think",
        "argue",
        "contact",
        "post",
        "share",
        "cook",
        "do",
        "have",
        "give",
        "borrow",
        "lend",
        "shop",
        "walk",
        "cycle",
        "drive",
        "sleep",
        "keep",
    ]
)


_RESPONDENT = re.compile(r"\b(?:r'?s|respondent'?s'?)(?=\s)", re.I)
#: ESS writes the respondent's country as the bare word: "Citizen of country", "Trust in country's parliament"
_BARE_COUNTRY = re.compile(
    r"\b(in|of|to|for|from|makes?) country\b(?!'s|\s+(?:of|where|you|in)\b)"
    r"|(?<!\bthis )(?<!\bthat )(?<!\byour )(?<!\bthe )(?<!\bour )(?<!\bmy )(?<!\bany )(?<!\beach )(?<!\bone )"
    r"(?<!\bevery )(?<!\btheir )(?<!\bhis )(?<!\bher )\bcountry's\b",
    re.I,
)


def wording(text: str, country: str | None) -> str:
    """A question label as the story quotes it: placeholders filled ("[country]"), the codebook's
    "r's"/"respondent's" said as "your", ESS's bare "country" named when the country is known,
    first letter upper case."""
    out = fill_placeholders(text, country)
    out = _RESPONDENT.sub("your", out)
    if country:
        out = _BARE_COUNTRY.sub(lambda m: f"{m.group(1)} {country}" if m.group(1) else f"{country}'s", out)
    return upper_first(out.strip())


def _statement(q: Question) -> str:
    return q.short.strip().rstrip(".?").strip()


def _closed(text: str) -> str:
    """A quoted statement with its full stop (a label cut at the SPSS limit keeps its "…")."""
    return text if text.endswith("…") else text + "."


def scale_ends(q: Question) -> tuple[int, str, int, str] | None:
    """(low code, low label, high code, high label) of a rating scale item."""
    if q.kind is not QuestionKind.SCALE or len(q.options) < 2:
        return None
    lo, hi = min(q.options), max(q.options)
    return lo, clean_label(q.options[lo]), hi, clean_label(q.options[hi])


def _role(q: Question, code: int, label: str, role: str | None) -> str | None:
    if role == "age" and q.kind is QuestionKind.NUMERIC:
        return f"You are {code} years old."
    if role == "sex":
        word = {"male": "a man", "man": "a man", "female": "a woman", "woman": "a woman"}.get(label.lower())
        if word:
            return f"You are {word}."
    return None


def _scale(q: Question, code: int, label: str, role: str | None) -> str | None:
    ends = scale_ends(q)
    if ends is None:
        return None
    lo, lo_lab, hi, hi_lab = ends
    lo, hi, said = q.file_code(lo), q.file_code(hi), q.file_code(code)  # the file's codes (-4 ... 4)
    named = "" if label.strip() == str(said) else f' ("{clean_label(label)}")'
    return (
        f'Asked "{_statement(q)}" on a scale from {lo} ("{lo_lab}") to {hi} ("{hi_lab}"), you answered {said}{named}.'
    )


def _agree(q: Question, code: int, label: str, role: str | None) -> str | None:
    labels = {clean_label(lab).lower() for lab in q.options.values() if not is_missing_label(lab)}
    verb = _AGREE.get(label.lower())
    if verb is None or not labels <= set(_AGREE):
        return None
    return f'You {verb} the statement "{_closed(upper_first(_statement(q)))}"'


def _importance(q: Question, code: int, label: str, role: str | None) -> str | None:
    if not _IMPORTANT.match(label.strip()):
        return None
    m = re.match(r"^how important (?:is|are) (.+?)(?: (?:in your life|to you|for you))?\??$", q.short.strip(), re.I)
    if m:
        return f"{upper_first(m.group(1))} is {label.lower()} to you."
    return f'You find "{_statement(q)}" {label.lower()}.'


def _frequency(q: Question, code: int, label: str, role: str | None) -> str | None:
    if not _FREQUENCY.match(label.strip()):
        return None
    m = re.match(r"^how often (do you |would you |have you |did you |are you )?(.+?)\??$", q.short.strip(), re.I)
    if not m or m.group(2).endswith("…") or (not m.group(1) and m.group(2).split()[0].lower() not in _OFTEN_VERBS):
        return f'Asked "{_statement(q)}", you answered "{lower_first(clean_label(label))}".'
    return f"You {lower_first(m.group(2))} {label.lower()}."


def _like_me(q: Question, code: int, label: str, role: str | None) -> str | None:
    if "like me" not in label.lower():
        return None
    return f'Asked how much the description "{_statement(q)}" is like you, you answered "{clean_label(label)}".'


def _fallback(q: Question, code: int, label: str, role: str | None) -> str | None:
    return f'Asked "{_statement(q)}", you answered "{clean_label(label)}".'


#: The rules in the order they are tried (the last always applies).
GENERIC_RULES: tuple[GenericRule, ...] = (_role, _scale, _agree, _importance, _frequency, _like_me, _fallback)


def phrase_generic(q: Question, code: int, codebook: Codebook, country: str | None = None) -> Fact | None:
    """The fact for one valid answer of a survey with a generic codebook (None: nothing to say).

    ``country`` (as it reads in a sentence, e.g. "the United States") fills the wording's
    placeholders ("[country]"; "your country" when unknown). An answer whose label names a
    kind of missing answer ("Not applicable", "refused", "IAP") is not told."""
    if code < 0 or not q.is_valid(code) or q.text.strip() == q.id:
        return None
    role = next((r for r, qid in codebook.roles.items() if qid == q.id), None)
    q = replace(q, short=wording(q.short, country))
    if q.kind is QuestionKind.NUMERIC:
        said = _role(q, code, "", role) or f'Asked "{_statement(q)}", you answered {code}.'
        return Fact(q.id, q.section, sentence(said))
    if is_missing_label(q.options[code]):
        return None
    label = clean_label(fill_placeholders(q.options[code], country))
    for rule in GENERIC_RULES:
        text = rule(q, code, label, role)
        if text is not None:
            return Fact(q.id, q.section, sentence(text))
    return None  # pragma: no cover - the fallback always applies
