"""Turning survey questions into prompts and model replies back into answer codes.

Shared by every LLM method and by the story fidelity check. The backstory always sits in the
*system* message and nothing target-specific goes there, so every call of one respondent
shares the same prompt prefix (llama.cpp / vLLM prefix caching reuses it).
"""

from __future__ import annotations

import re
import string
import zlib
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np

from valuesim.llm import ChatMessage
from valuesim.methods.phrasing import clean_label, fill_placeholders, is_digit_label
from valuesim.methods.prompts import render
from valuesim.survey.codebook import Codebook, Question, QuestionKind

LETTERS = string.ascii_uppercase
#: Items with more options than letters are posed with numbered options ("1." ... "71."), up to
#: this many; a longer list (an occupation or place code list) is not posed: LLM methods skip it
#: with a note (:func:`unposable_reason`) and baselines still predict it.
MAX_NUMBERED_OPTIONS = 120

#: Human description of each perspective, used when the coordinator sees the modules' views.
MODULE_DESCRIPTIONS = {
    "cognitive": "Your reasoning (beliefs and knowledge)",
    "affective": "Your feelings",
    "behavioral": "Your habits and past actions",
    "plain": "Your first impression",
}


def option_letters(n: int) -> list[str]:
    """How ``n`` options are labelled in a prompt: "A".."Z", or "1".."n" beyond 26 options."""
    if n > MAX_NUMBERED_OPTIONS:
        raise ValueError(f"too many options ({n}); at most {MAX_NUMBERED_OPTIONS} can be posed")
    if n > len(LETTERS):
        return [str(i) for i in range(1, n + 1)]
    return list(LETTERS[:n])


def is_numbered(labels: Sequence[str]) -> bool:
    """True for options labelled with numbers (a list longer than the alphabet)."""
    return bool(labels) and labels[0].isdigit()


def unposable_reason(q: Question) -> str | None:
    """Why LLM methods cannot pose ``q`` as a multiple-choice question (None: they can)."""
    if q.kind is QuestionKind.NUMERIC:
        return f"{q.id} is a numeric item; LLM methods answer option questions only"
    n = len(q.answer_codes)
    if n < 2:
        return f"{q.id} has {n} valid answer option(s); there is nothing to choose from"
    if n > MAX_NUMBERED_OPTIONS:
        return (
            f"{q.id} has {n} answer options, more than the {MAX_NUMBERED_OPTIONS} an LLM method poses in one "
            "question; baselines still predict it"
        )
    return None


def lettered(q: Question) -> bool:
    """True when ``q`` is posed with letters (2 to 26 options): its options can be scored on
    one token each (the story checks re-ask only such items)."""
    return unposable_reason(q) is None and len(q.answer_codes) <= len(LETTERS)


OptionOrder = Literal["original", "shuffled", "reversed"]


def shown_in_order(q: Question, order: OptionOrder, person: str) -> Question:
    """``q`` with the order its options are shown in: the questionnaire's (``original``), the
    reverse, or a permutation seeded by person and question (``shuffled``: the same for every
    module, call and rerun). Letters map back to the codes through :func:`target_options`."""
    if order == "original" or q.kind is QuestionKind.NUMERIC:
        return q
    codes = list(q.answer_codes)
    if order == "reversed":
        return replace(q, shown_order=tuple(reversed(codes)))
    seed = zlib.crc32(f"option-order|{person}|{q.id}".encode())
    perm = np.random.default_rng(seed).permutation(len(codes))
    return replace(q, shown_order=tuple(codes[i] for i in perm))


def target_options(q: Question) -> tuple[list[int], list[str]]:
    """Valid (non-missing) codes of a question in the order a prompt shows them (the
    questionnaire's, unless ``q.shown_order`` says otherwise), with display texts.

    Rating scales show every point, with the end labels attached: "1 (Not at all important)".
    """
    if q.kind is QuestionKind.NUMERIC or not q.options:
        raise ValueError(f"{q.id} is a numeric item; it has no answer options to choose from")
    codes = q.answer_codes
    if q.shown_order is not None:
        codes = [c for c in q.shown_order if c in set(codes)]
    scale = any(is_digit_label(q.options[c]) for c in codes)
    texts = []
    for c in codes:
        lab = clean_label(q.options[c])
        texts.append(f"{q.file_code(c)} ({lab})" if scale and not is_digit_label(lab) else lab)  # the file's codes
    return codes, texts


def question_block(q: Question, country: str | None) -> dict[str, Any]:
    """Template variables of one question: its wording and lettered option lines."""
    codes, texts = target_options(q)
    letters = option_letters(len(codes))
    return {
        "id": q.id,
        "text": fill_placeholders(q.short, country),
        "options": [f"{L}. {fill_placeholders(t, country)}" for L, t in zip(letters, texts)],
        "codes": codes,
        "letters": letters,
        "numbered": is_numbered(letters),
    }


#: How the persona templates name the survey; another survey's name replaces it (``survey_phrase``).
WVS_SURVEY = "the World Values Survey"


def survey_phrase(codebook: Codebook) -> str | None:
    """How prompts name a survey other than WVS-7 (None: the templates' own WVS wording)."""
    return None if codebook.is_wvs else f'the survey "{codebook.name}"'


def system_message(backstory: str, prompt_version: str, survey: str | None = None) -> ChatMessage:
    text = render("persona", prompt_version, backstory=backstory)
    return ChatMessage("system", text.replace(WVS_SURVEY, survey) if survey else text)


def build_messages(
    backstory: str,
    module: str,
    questions: Sequence[Question],
    *,
    prompt_version: str = "v1",
    country: str | None = None,
    mode: str = "letter",
    context: Sequence[str] = (),
    views: Sequence[dict[str, Any]] = (),
    reasoning: str = "",
    survey: str | None = None,
) -> list[ChatMessage]:
    """[system: persona + backstory, user: module instruction + question(s) + answer format].

    ``survey``: how to name a survey other than WVS-7 (:func:`survey_phrase`)."""
    blocks = [question_block(q, country) for q in questions]
    user = render(
        module,
        prompt_version,
        questions=blocks,
        mode=mode,
        batch=len(blocks) > 1,
        context=list(context),
        views=list(views),
        reasoning=reasoning,
        numbered=any(b["numbered"] for b in blocks),
    )
    return [system_message(backstory, prompt_version, survey), ChatMessage("user", user)]


_ANSWER_LINE = re.compile(r"^[ \t*(\[]*(?:(?i:answer)\s*[:\-]?\s*)?[(\[]?([A-Z])(?:[.):,\]\-*]|[ \t]|$)", re.M)
_STATED = re.compile(r"(?i:answer(?: is)?|option|choose|choice|pick)\W{0,3}([A-Z])\b")


_NUMBER_LINE = re.compile(r"^[ \t*(\[]*(?:(?i:answer|option)\s*[:\-]?\s*)?[(\[]?(\d{1,3})(?![\d])", re.M)
_STATED_NUMBER = re.compile(r"(?i:answer(?: is)?|option|number|choose|choice|pick)\W{0,3}(\d{1,3})(?![\d])")


def parse_letter(text: str, letters: Sequence[str], labels: Sequence[str] = ()) -> tuple[str | None, str]:
    """The answer letter in a model reply (and the rest of the reply as rationale).

    Accepts "B", "B. because ...", "Answer: B", "(B) ..." at the start of a line; then
    "my answer is B" anywhere; then exactly one option text quoted in the reply. None when
    nothing matches. "A" and "I" followed by a space are read as words, not letters.
    Numbered options (:func:`option_letters` beyond 26) are read the same way: "17",
    "17. because ...", "Answer: 17", "my answer is 17".
    """
    valid = set(letters)
    if is_numbered(letters):
        for pattern in (_NUMBER_LINE, _STATED_NUMBER):
            for m in pattern.finditer(text):
                if m.group(1) in valid:
                    rest = (text[: m.start()] + text[m.end() :]).strip().lstrip(".:-)*] \t").strip()
                    return m.group(1), rest if pattern is _NUMBER_LINE else text.strip()
        return _by_label(text, letters, labels)
    for m in _ANSWER_LINE.finditer(text):
        cand = m.group(1)
        follow = text[m.end(1) : m.end(1) + 1]
        if cand in valid and not (
            cand in "AI" and follow in (" ", "\t") and not m.group(0).lower().lstrip(" *([").startswith("answer")
        ):
            rest = (text[: m.start()] + text[m.end() :]).strip().lstrip(".:-)*] \t").strip()
            return cand, rest
    for m in _STATED.finditer(text):
        if m.group(1) in valid:
            return m.group(1), text.strip()
    return _by_label(text, letters, labels)


def _by_label(text: str, letters: Sequence[str], labels: Sequence[str]) -> tuple[str | None, str]:
    """The option whose text (and only one) the reply quotes, as whole words ("Place 4" is not
    quoted by "Place 42", "Agree" not by "Disagree")."""
    low = text.lower()
    hits = [L for L, lab in zip(letters, labels) if lab and re.search(rf"(?<!\w){re.escape(lab.lower())}(?!\w)", low)]
    if len(hits) == 1:
        return hits[0], text.strip()
    return None, text.strip()


_BATCH_LINE = re.compile(
    r"^[ \t]*(?:question[ \t]*)?(\d+)[ \t]*[:.)\-][ \t]*\(?([A-Z])\b\)?[ \t]*[.,:\-]*[ \t]*(.*)$", re.I | re.M
)


def parse_batch(text: str, n: int, letters_per_item: Sequence[Sequence[str]]) -> list[tuple[str | None, str]]:
    """Per-question (letter, reason) from a numbered multi-answer reply; (None, "") if absent."""
    out: list[tuple[str | None, str]] = [(None, "")] * n
    for m in _BATCH_LINE.finditer(text):
        i = int(m.group(1)) - 1
        if 0 <= i < n and out[i][0] is None:
            letter = m.group(2).upper()
            if letter in letters_per_item[i]:
                out[i] = (letter, m.group(3).strip())
    return out
