"""A survey codebook: question wording, answer options, kinds and sections.

The built-in default is the WVS wave 7 codebook: ``data/codebook_wvs7.json`` carries the
instrument itself (question wording and answer labels from the WVS-7 master questionnaire,
2017-2020, English version; see ``source`` in the file). Everything else here is ours.

Any other labelled survey gets a codebook from its own file (``valuesim codebook infer``,
:mod:`valuesim.survey.custom`): the same classes, with ``phrasing="generic"``, the file's
variable names as question ids, and the columns holding respondent id and country named in
``id_column`` / ``country_column`` (or one ``country`` for everybody).
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from valuesim._suggest import did_you_mean, suggestion
from valuesim.errors import UnknownQuestionError

#: Survey-wide missing codes; never shown to a model, never used as ground truth.
MISSING_CODES: dict[int, str] = {
    -1: "don't know",
    -2: "no answer",
    -3: "not applicable",
    -4: "not asked in this country",
    -5: "missing (other)",
}


#: Roles a codebook can give to its profile items (used by the demographic baselines).
ROLES = ("sex", "age")


def question_sort_key(qid: str) -> tuple[tuple[int, int | str], ...]:
    """Natural order of question ids ("Q2" < "Q10"; for WVS ids the questionnaire's order)."""
    return tuple((0, int(t)) if t.isdigit() else (1, t.lower()) for t in re.split(r"(\d+)", qid) if t)


def item_seed(qid: str) -> int:
    """A stable integer per question id, for seeding (WVS ids: the question number)."""
    digits = qid[1:]
    return int(digits) if qid[:1] == "Q" and digits.isdigit() else zlib.crc32(qid.encode("utf-8"))


class QuestionKind(str, Enum):
    NOMINAL = "nominal"  # unordered options (religion, mentioned / not mentioned)
    ORDINAL = "ordinal"  # ordered labelled options (very important ... not at all important)
    SCALE = "scale"  # numeric rating scale, usually 1-10 with labelled ends
    NUMERIC = "numeric"  # a quantity: age, birth year, number of children


@dataclass(frozen=True)
class Section:
    id: str
    title: str


@dataclass(frozen=True)
class Question:
    """One survey item. ``options`` maps valid codes to labels, in code order."""

    id: str
    text: str
    short: str
    kind: QuestionKind
    section: str
    profile: bool
    options: dict[int, str] = field(default_factory=dict)
    value_range: tuple[int, int] | None = None  # for NUMERIC items
    note: str = ""
    #: The codes come from a country-specific list (Q272, language at home) of which only some are
    #: labelled: an unlabelled code is a real answer the codebook cannot name, not a data error.
    open_codes: bool = False
    #: codes this item's file uses for missing answers (e.g. 8 "Don't know", 9 "Refusal"),
    #: mapped to the survey-wide negative codes on loading (see ``missing_code_for``)
    missing: dict[int, str] = field(default_factory=dict)
    #: the order a prompt shows the options in (codes; None: code order), set per person by an
    #: LLM method's ``option_order`` (see ``methods.prompting.shown_in_order``)
    shown_order: tuple[int, ...] | None = None
    #: added to the file's codes on loading when the item has valid negative codes (ESS grspfr
    #: "-4 Low, extremely unfair" ... "4"): stored codes start at 0, so negative stored codes keep
    #: meaning "missing"; ``file_code`` gives the code as the file (and the codebook YAML) writes it
    code_offset: int = 0

    def file_code(self, code: int) -> int:
        """The code as the data file writes it (differs from the stored code only with ``code_offset``)."""
        return code - self.code_offset

    @property
    def number(self) -> int:
        """The WVS question number (Q46 -> 46); 0 for ids that are not WVS-style."""
        digits = self.id[1:]
        return int(digits) if self.id[:1].upper() == "Q" and digits.isdigit() else 0

    @property
    def codes(self) -> list[int]:
        return sorted(self.options)

    @property
    def answer_codes(self) -> list[int]:
        """The codes that are valid answers, sorted (negative codes are missing values;
        numeric items have none: they hold quantities, not options)."""
        return [c for c in self.codes if c >= 0]

    @property
    def n_options(self) -> int:
        return len(self.options)

    @property
    def ordered(self) -> bool:
        """True when |a - b| between codes is meaningful (ordinal and scale items)."""
        return self.kind in (QuestionKind.ORDINAL, QuestionKind.SCALE)

    def is_valid(self, code: int) -> bool:
        if self.kind is QuestionKind.NUMERIC:
            if code < 0:
                return False
            if self.value_range is None:
                return True
            return self.value_range[0] <= code <= self.value_range[1]
        return code in self.options

    def label(self, code: int) -> str:
        """Human label of a valid code (numeric items: the number itself)."""
        if self.kind is QuestionKind.NUMERIC:
            return str(code)
        try:
            return self.options[code]
        except KeyError:
            raise ValueError(f"{self.id}: {code} is not a valid answer code") from None


def ranks(values: np.ndarray, codes: Sequence[float] | np.ndarray, dtype: Any = np.int64) -> np.ndarray:
    """Position of each value among the sorted ``codes`` (e.g. ``Question.answer_codes``), in an
    array shaped like ``values``; -1 for NaN or a value that is not one of the codes."""
    values = np.asarray(values, dtype=np.float64)
    codes_arr = np.asarray(codes, dtype=np.float64)
    out = np.full(values.shape, -1, dtype=dtype)
    if len(codes_arr) == 0:
        return out
    ok = ~np.isnan(values)
    pos = np.clip(np.searchsorted(codes_arr, values[ok]), 0, len(codes_arr) - 1)
    hit = codes_arr[pos] == values[ok]
    out.flat[np.flatnonzero(ok)[hit]] = pos[hit]
    return out


def missing_code_for(label: str) -> int:
    """The survey-wide missing code (-1 ... -5) a declared missing value's label means."""
    low = label.lower()
    if re.search(r"don.?t know|\bdk\b|not sure|can.?t (choose|say)|undecided", low):
        return -1
    if re.search(r"refus|no answer|\bna\b|not answered|declined|prefer not", low):
        return -2
    if re.search(r"not applicable|inapplicable|\binap\b|\biap\b|\bn/?a\b|skip", low):  # GSS "iap"
        return -3
    if re.search(r"not asked", low):
        return -4
    return -5


#: labels that name a kind of missing answer, not an answer (when a file lists them as options)
_MISSING_TYPE = re.compile(
    r"^(?:not applicable|inapplicable|n/?a|iap|refus(?:ed|al)|don.?t know|dk|no answer|not asked|missing|"
    r"not available|can.?t choose|prefer not to (?:say|answer)|no response|skipped|dk,? na|dk/na)\b",
    re.I,
)


def is_missing_label(label: str) -> bool:
    """True for a label that names a missing answer ("Not applicable", "Refusal", "refused",
    "Don't know", "No answer", GSS "IAP"/"DK"/"NA"): such a code is never told as an answer."""
    return bool(_MISSING_TYPE.match(label.strip()))


class Codebook:
    """All questions of a survey, with lookups that fail with a helpful message.

    ``phrasing`` chooses how answers become sentences: ``"wvs"`` (the WVS-7 rules on top of
    the generic ones) or ``"generic"`` (rules that need only the codebook). ``roles`` names the
    profile items with a meaning the methods use (``sex``, ``age``). ``id_column`` and
    ``country_column`` are the data file's columns for respondent ids and countries (ISO
    alpha-3 codes or names); a survey of one country sets ``country`` instead.
    """

    def __init__(
        self,
        questions: list[Question],
        sections: list[Section],
        missing_codes: dict[int, str] | None = None,
        source: str = "",
        excluded: dict[str, str] | None = None,
        *,
        name: str = "WVS-7",
        phrasing: str = "wvs",
        roles: dict[str, str] | None = None,
        id_column: str | None = "D_INTERVIEW",
        country_column: str | None = "B_COUNTRY_ALPHA",
        country: str | None = None,
    ) -> None:
        self.questions: dict[str, Question] = {q.id: q for q in questions}
        self.sections: dict[str, Section] = {s.id: s for s in sections}
        self.missing_codes = dict(missing_codes or MISSING_CODES)
        self.source = source
        #: column -> reason it is not treated as a question (derived, multi-part, country-specific)
        self.excluded = dict(excluded or {})
        self.name = name
        self.phrasing = phrasing
        self.roles = dict(roles if roles is not None else ({"sex": "Q260", "age": "Q262"} if phrasing == "wvs" else {}))
        self.id_column = id_column
        self.country_column = country_column
        self.country = country
        self._position = {q: i for i, q in enumerate(self.questions)}
        self._upper = {q.upper(): q for q in self.questions}

    @property
    def is_wvs(self) -> bool:
        """True for the built-in WVS-7 codebook (WVS file layout, WVS phrasing)."""
        return self.phrasing == "wvs"

    def role(self, name: str) -> str | None:
        """The item id that plays *name* (``sex``, ``age``), if the codebook has one."""
        qid = self.roles.get(name)
        return qid if qid in self.questions else None

    def __contains__(self, qid: object) -> bool:
        return qid in self.questions

    def __len__(self) -> int:
        return len(self.questions)

    def __iter__(self) -> Iterator[Question]:
        return iter(self.questions.values())

    def __getitem__(self, qid: str) -> Question:
        return self.get(qid)

    def get(self, qid: str) -> Question:
        """The question *qid* (exact id, or any case)."""
        if qid in self.questions:
            return self.questions[qid]
        key = qid.strip().upper()
        if key in self._upper:
            return self.questions[self._upper[key]]
        excluded = {k.upper(): v for k, v in self.excluded.items()}
        if key in excluded:
            raise UnknownQuestionError(
                f"{qid.strip()} is not used as a question: {excluded[key]}",
                ("Pick one of Q1-Q259 (value items)" if self.is_wvs else "Pick a value item")
                + " or see `valuesim data questions`.",
            )
        example = (
            "Question ids look like Q46 (WVS-7 numbering, Q1-Q290); "
            if self.is_wvs
            else f"Question ids are the variable names of {self.name}, e.g. {', '.join(list(self.questions)[:3])}; "
        )
        raise UnknownQuestionError(
            f"Unknown question id {qid!r}.",
            self.suggest(key) + example + "list them with `valuesim data questions`.",
        )

    def suggest(self, text: str) -> str:
        """ "Did you mean 'Q46'? " for a mistyped id ("46", "Q046", "Q4G") or a word of a
        question's wording ("happy"); "" when nothing is close."""
        key = text.strip().upper()
        digits = key.lstrip("Q").lstrip("0")
        if digits.isdigit() and f"Q{digits}" in self.questions:
            return did_you_mean(f"Q{digits}", [f"Q{digits}"])
        hint = did_you_mean(key, self.questions)
        if hint or len(key) < 4:
            return hint
        return suggestion([q.id for q in self.questions.values() if key.lower() in f"{q.short} {q.text}".lower()][:5])

    def ids(self) -> list[str]:
        """Question ids in questionnaire order (the codebook's order)."""
        return list(self.questions)

    def sort(self, qids: Iterable[str]) -> list[str]:
        """*qids* in questionnaire order; ids outside the codebook go last, in natural order."""
        end = len(self._position)
        return sorted(qids, key=lambda q: (self._position.get(q, end), question_sort_key(q)))

    def substantive(self) -> list[str]:
        """Value items that may be prediction targets (everything but the profile block)."""
        return [q for q in self.ids() if not self.questions[q].profile]

    def profile(self) -> list[str]:
        """Demographic / profile items (WVS-7: Q260-Q290): always input, never a target."""
        return [q for q in self.ids() if self.questions[q].profile]

    def section_of(self, qid: str) -> Section:
        return self.sections[self.get(qid).section]


def _question_from_dict(d: dict[str, Any]) -> Question:
    vr = d.get("value_range")
    return Question(
        id=d["id"],
        text=d["text"],
        short=d.get("short") or d["text"],
        kind=QuestionKind(d["kind"]),
        section=d["section"],
        profile=bool(d.get("profile", False)),
        options={int(k): v for k, v in (d.get("options") or {}).items()},
        value_range=(int(vr[0]), int(vr[1])) if vr else None,
        note=d.get("note", ""),
        open_codes=bool(d.get("open_codes", False)),
        missing={int(k): v for k, v in (d.get("missing") or {}).items()},
    )


def codebook_from_dict(raw: dict[str, Any]) -> Codebook:
    return Codebook(
        questions=[_question_from_dict(q) for q in raw["questions"]],
        sections=[Section(s["id"], s["title"]) for s in raw["sections"]],
        missing_codes={int(k): v for k, v in raw.get("missing_codes", {}).items()} or None,
        source=raw.get("source", ""),
        excluded=raw.get("excluded", {}),
    )


@lru_cache(maxsize=1)
def load_codebook() -> Codebook:
    """The packaged WVS-7 codebook (cached; treat it as read-only)."""
    text = resources.files("valuesim.survey").joinpath("data/codebook_wvs7.json").read_text("utf-8")
    return codebook_from_dict(json.loads(text))
