""" "Did you mean ...?" for names a user types (methods, questions, options)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_matches(word: str, choices: Iterable[str], *, n: int = 3, cutoff: float = 0.6) -> list[str]:
    """The choices closest to ``word`` (case-insensitive), best first; empty when none is close."""
    pool = list(dict.fromkeys(choices))
    by_lower = {c.lower(): c for c in pool}
    hits = difflib.get_close_matches(word.strip().lower(), list(by_lower), n=n, cutoff=cutoff)
    return [by_lower[h] for h in hits]


def did_you_mean(word: str, choices: Iterable[str], *, n: int = 3) -> str:
    """ "Did you mean 'knn'? " (with the trailing space), or "" when nothing is close."""
    return suggestion(close_matches(word, choices, n=n))


def suggestion(hits: Iterable[str]) -> str:
    """ "Did you mean 'a' or 'b'? " for the given candidates, "" for none."""
    names = list(hits)
    return "Did you mean " + " or ".join(repr(h) for h in names) + "? " if names else ""
