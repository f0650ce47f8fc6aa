"""Turning model output into a distribution over answer options (pure functions)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence

from valuesim.llm.types import ChatMessage


def choice_schema(options: Sequence[str]) -> dict:
    """JSON schema that admits exactly one of the options, as ``{"answer": <option>}``."""
    return {
        "type": "object",
        "properties": {"answer": {"type": "string", "enum": list(options)}},
        "required": ["answer"],
        "additionalProperties": False,
    }


def instruct_choice(messages: Sequence[ChatMessage], options: Sequence[str]) -> tuple[ChatMessage, ...]:
    """Append a one-line answer-format instruction to the last user turn (used by the
    generation fallback when the server cannot constrain the output)."""
    note = "\n\nReply with exactly one of: " + ", ".join(options) + ". No other text."
    msgs = list(messages)
    for i in range(len(msgs) - 1, -1, -1):
        if msgs[i].role == "user":
            msgs[i] = ChatMessage("user", msgs[i].content + note)
            return tuple(msgs)
    return (*msgs, ChatMessage("user", note.strip()))


def parse_choice(text: str, options: Sequence[str]) -> int | None:
    """Index of the option the text names, or None.

    Order of evidence: JSON ``{"answer": ...}``; the whole text equals an option; the text starts
    with an option as a whole word (longest option first, so "10" beats "1"); the earliest
    whole-word mention anywhere.
    """
    stripped = text.strip()
    try:
        obj = json.loads(stripped)
    except (ValueError, TypeError):
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("answer"), str):
        stripped = obj["answer"].strip()
    norm = [o.strip() for o in options]
    for i, o in enumerate(norm):
        if stripped == o:
            return i
    for i, o in enumerate(norm):
        if stripped.casefold() == o.casefold():
            return i
    by_length = sorted(range(len(norm)), key=lambda i: -len(norm[i]))
    for i in by_length:
        if re.match(rf"[\s\"'*(\[]*{re.escape(norm[i])}(?![\w])", stripped):
            return i
    best: tuple[int, int] | None = None
    for i in by_length:
        m = re.search(rf"(?<![\w]){re.escape(norm[i])}(?![\w])", stripped)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), i)
    return best[1] if best else None


def one_hot(index: int | None, k: int) -> list[float]:
    if index is None:
        return [1.0 / k] * k
    return [1.0 if i == index else 0.0 for i in range(k)]


def probs_from_top_logprobs(top: Iterable[tuple[str, float]], options: Sequence[str]) -> list[float] | None:
    """Distribution over options from a first-token top-k list, or None if no option was seen.

    A top token counts for an option when its text (surrounding whitespace removed) equals the
    option's text; variants such as "A" and " A" add up. Options missing from the top-k get 0.
    Exact when every option is a single token (letter labels); callers with multi-word options
    should use the generation path instead.
    """
    norm = [o.strip() for o in options]
    mass = [0.0] * len(options)
    for token, logprob in top:
        t = token.strip()
        if t in norm and logprob is not None and math.isfinite(logprob):
            mass[norm.index(t)] += math.exp(logprob)
    total = sum(mass)
    if total <= 0:
        return None
    return [m / total for m in mass]
