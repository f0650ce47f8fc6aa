"""One person's record: profile and answered items, codes decoded through the codebook."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import IntEnum
from typing import Any

from valuesim.survey.codebook import Codebook


class Missing(IntEnum):
    """Typed missing answer. Never shown to a model and never used as ground truth."""

    DONT_KNOW = -1
    NO_ANSWER = -2
    NOT_APPLICABLE = -3
    NOT_ASKED = -4
    MISSING = -5

    @classmethod
    def from_code(cls, code: int) -> Missing:
        try:
            return cls(int(code))
        except ValueError:
            return cls.MISSING


@dataclass
class Respondent:
    """A respondent: ``answers`` holds valid codes only, ``missing`` the typed rest.

    ``id`` is the file's interview id (``D_INTERVIEW``) when it is unique within the country,
    else ``<alpha-3>-<n>``: the 1-based position among that country's rows (``URY-17``).
    """

    id: str
    country: str  # ISO 3166 alpha-3
    answers: dict[str, int] = field(default_factory=dict)
    missing: dict[str, Missing] = field(default_factory=dict)
    row: int | None = None
    synthetic: bool = False

    def has(self, qid: str) -> bool:
        return qid in self.answers

    def answered(self, qids: list[str] | None = None) -> list[str]:
        if qids is None:
            return list(self.answers)
        return [q for q in qids if q in self.answers]

    def label(self, qid: str, codebook: Codebook) -> str:
        return codebook.get(qid).label(self.answers[qid])

    def decoded(self, codebook: Codebook, qids: list[str] | None = None) -> dict[str, str]:
        """qid -> answer label, for valid answers only (missing ones are simply absent)."""
        return {q: self.label(q, codebook) for q in self.answered(qids) if q in codebook}

    def restricted(self, qids: list[str]) -> Respondent:
        """The same person with only the given items known (used to build histories)."""
        keep = set(qids)
        return Respondent(
            id=self.id,
            country=self.country,
            answers={q: c for q, c in self.answers.items() if q in keep},
            missing={q: m for q, m in self.missing.items() if q in keep},
            row=self.row,
            synthetic=self.synthetic,
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["missing"] = {q: m.name.lower() for q, m in self.missing.items()}
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Respondent:
        return cls(
            id=str(d["id"]),
            country=d["country"],
            answers={q: int(c) for q, c in d.get("answers", {}).items()},
            missing={q: Missing[m.upper()] for q, m in d.get("missing", {}).items()},
            row=d.get("row"),
            synthetic=bool(d.get("synthetic", False)),
        )
