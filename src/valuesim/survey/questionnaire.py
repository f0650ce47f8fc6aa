"""New questions: questions the survey never asked, written by the user.

A custom question becomes a codebook :class:`~valuesim.survey.codebook.Question` of the same
type as a WVS item (codes 1..n in the order the options are given), added to a copy of the
codebook with :func:`extend_codebook`, so every LLM method builds its prompt from it exactly as
from a WVS item. Methods trained on other people's answers to the target cannot answer one:
nobody has answered it (:func:`valuesim.methods.base.refuse_trained`).

Questionnaire file (YAML or JSON)::

    title: Technology and work          # optional
    questions:
      - id: AI_JOBS                      # letters, digits, _ . - ; not a WVS id such as Q46
        text: Artificial intelligence will create more jobs than it destroys.
        options: [Strongly agree, Agree, Disagree, Strongly disagree]
        ordered: true                    # default true; false for unordered (nominal) options
        section: Technology              # optional grouping (default "New questions")
      - id: CLIMATE_TAX
        text: How much do you support a tax on carbon emissions?
        scale: {min: 1, max: 10, low: Not at all, high: Completely}   # instead of options

``options`` are listed in scale order for ordered questions (codes 1..n, or the ``codes``
given, one per option: e.g. ``codes: [5, 4, 3, 2, 1]``); ``scale`` makes a numeric rating
scale whose ends are labelled (the points between are shown as numbers; ``step: 10`` poses
0..100 on 11 points).

A Qualtrics export (``.qsf``) is read too (:mod:`valuesim.survey.qualtrics`): what it holds
that ValueSim cannot pose is listed, never silently dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from valuesim.errors import ConfigError, DataError, validation_error
from valuesim.survey.codebook import Codebook, Question, QuestionKind, Section

#: Section of custom questions that name none.
DEFAULT_SECTION = "New questions"
#: Section-id prefix of custom sections (kept apart from the WVS section ids).
SECTION_PREFIX = "custom:"
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,63}$")
_WVS_ID = re.compile(r"^Q\d+[A-Z]?$", re.I)
_HINT = "See the questionnaire schema in docs/new-questions.md (or examples/questionnaire.yaml)."


class ScaleEnds(BaseModel):
    """A numeric rating scale ``min``..``max`` with labelled ends."""

    model_config = ConfigDict(extra="forbid")
    min: int = 1
    max: int = Field(..., description="Highest point of the scale")
    step: int = Field(1, ge=1, description="Distance between two points (0..100 with step 10: 11 points)")
    low: str = Field(..., description="Label of the lowest point")
    high: str = Field(..., description="Label of the highest point")

    @model_validator(mode="after")
    def _check(self) -> ScaleEnds:
        if self.min < 0:
            raise ValueError("scale min must be >= 0")
        if self.max <= self.min or (self.max - self.min) % self.step:
            raise ValueError(f"scale {self.min}..{self.max} must rise from min to max in steps of {self.step}")
        points = (self.max - self.min) // self.step + 1
        if not 2 <= points <= 26:
            raise ValueError(f"a scale needs 2 to 26 points; {self.min}..{self.max} has {points}")
        if not self.low.strip() or not self.high.strip():
            raise ValueError("scale ends need a label (low and high)")
        return self


class CustomQuestion(BaseModel):
    """One new question of a questionnaire file (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    id: str
    text: str
    options: list[str] | None = None
    #: the code of each option (default 1..n), e.g. a Qualtrics recode value
    codes: list[int] | None = None
    scale: ScaleEnds | None = None
    ordered: bool = True
    section: str | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        v = v.strip()
        if not _ID.match(v):
            raise ValueError(f"id {v!r} must start with a letter and use only letters, digits, _ . - (max 64)")
        return v

    @field_validator("text")
    @classmethod
    def _text(cls, v: str) -> str:
        v = " ".join(v.split())
        if not v:
            raise ValueError("text is empty")
        return v

    @field_validator("options", mode="before")
    @classmethod
    def _yaml_scalars(cls, v: Any) -> Any:
        # YAML reads unquoted Yes/No as booleans and 1, 2 as numbers: they are labels here
        if isinstance(v, list):
            return [
                ("Yes" if o else "No") if isinstance(o, bool) else str(o) if isinstance(o, int | float) else o
                for o in v
            ]
        return v

    @field_validator("options")
    @classmethod
    def _options(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        labels = [" ".join(str(o).split()) for o in v]
        if any(not lab for lab in labels):
            raise ValueError("an option is empty")
        if len(labels) < 2:
            raise ValueError(f"a question needs at least 2 options (got {len(labels)})")
        if len(labels) > 26:
            raise ValueError(f"at most 26 options (got {len(labels)})")
        dup = sorted({lab for lab in labels if labels.count(lab) > 1})
        if dup:
            raise ValueError(f"duplicate options: {', '.join(dup)}")
        return labels

    @model_validator(mode="after")
    def _one_answer_format(self) -> CustomQuestion:
        if (self.options is None) == (self.scale is None):
            raise ValueError("give either options (a list of at least 2) or scale (min, max, low, high)")
        if self.scale is not None and not self.ordered:
            raise ValueError("a scale is ordered; drop ordered: false or list options instead")
        if self.codes is not None:
            if self.options is None or len(self.codes) != len(self.options):
                raise ValueError("codes need options, one code per option")
            if any(c < 0 for c in self.codes) or len(set(self.codes)) < len(self.codes):
                raise ValueError("codes must be distinct whole numbers >= 0 (negative codes mean non-answers)")
        return self

    def to_question(self) -> Question:
        """The codebook item: codes 1..n in the given order (a scale keeps its own numbers)."""
        title = self.section or DEFAULT_SECTION
        if self.scale is not None:
            s = self.scale
            options = {c: str(c) for c in range(s.min, s.max + 1, s.step)}
            options[s.min], options[s.max] = s.low.strip(), s.high.strip()
            kind = QuestionKind.SCALE
        else:
            labels = self.options or []
            codes = self.codes or list(range(1, len(labels) + 1))
            options = dict(sorted(zip(codes, labels)))  # code order, as in every codebook item
            kind = QuestionKind.ORDINAL if self.ordered else QuestionKind.NOMINAL
        return Question(
            id=self.id,
            text=self.text,
            short=self.text,
            kind=kind,
            section=SECTION_PREFIX + title,
            profile=False,
            options=options,
            note="custom question",
        )


class Questionnaire(BaseModel):
    """A questionnaire file: an optional title and its questions."""

    model_config = ConfigDict(extra="forbid")
    title: str = ""
    questions: list[CustomQuestion]

    @field_validator("questions")
    @classmethod
    def _unique(cls, v: list[CustomQuestion]) -> list[CustomQuestion]:
        if not v:
            raise ValueError("the questionnaire has no questions")
        ids = [q.id.upper() for q in v]
        dup = sorted({q.id for q in v if ids.count(q.id.upper()) > 1})
        if dup:
            raise ValueError(f"duplicate question ids: {', '.join(dup)}")
        return v


def _check_against(questions: list[Question], codebook: Codebook, where: str) -> None:
    """A new question may not take the id of an item (or column) of the survey's codebook;
    with the WVS codebook, no WVS-style id (Q46, Q300) either."""
    known = {k.upper() for k in [*codebook.questions, *codebook.excluded]}
    clash = [q.id for q in questions if q.id.upper() in known]
    if clash:
        raise ConfigError(
            f"{where}: {', '.join(clash)} is already a question id of the {codebook.name} codebook.",
            "Give new questions their own ids, e.g. AI_JOBS.",
        )
    wvs_like = [q.id for q in questions if codebook.is_wvs and _WVS_ID.match(q.id)]
    if wvs_like:
        raise ConfigError(
            f"{where}: {', '.join(wvs_like)} looks like a WVS question id.",
            "Give new questions a name of their own, e.g. AI_JOBS.",
        )


def parse_questionnaire(raw: Any, codebook: Codebook, where: str = "questionnaire") -> list[Question]:
    """Validate a parsed questionnaire (dict, or a bare list of questions) into codebook items."""
    if isinstance(raw, list):
        raw = {"questions": raw}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with 'questions' (or a list of questions).", _HINT)
    try:
        model = Questionnaire.model_validate(raw)
    except ValidationError as e:
        raise validation_error(where, e, _HINT) from None
    questions = [q.to_question() for q in model.questions]
    _check_against(questions, codebook, where)
    return questions


@dataclass(frozen=True)
class LoadedQuestionnaire:
    """The questions of a questionnaire file and what reading it left out or changed."""

    questions: list[Question]
    #: one line per element of the file that is not simulated, with the reason (.qsf only)
    skipped: list[str] = field(default_factory=list)
    #: logic and randomisation not simulated, placeholders left, renamed ids, ...
    notes: list[str] = field(default_factory=list)


def read_questionnaire(
    path: str | Path, codebook: Codebook, pipe: Mapping[str, str] | None = None
) -> LoadedQuestionnaire:
    """Read a YAML (.yaml/.yml), JSON or Qualtrics (.qsf) questionnaire; ``pipe`` fills the
    piped text of a .qsf (``{"city": "Berlin"}`` for ``${e://Field/city}``)."""
    p = Path(path)
    if p.suffix.lower() == ".qsf":
        from valuesim.survey.qualtrics import read_qsf

        qsf = read_qsf(p, pipe=pipe)
        raw, notes = _own_ids(qsf.raw, codebook)
        questions = parse_questionnaire(raw, codebook, where=str(p))
        return LoadedQuestionnaire(questions, qsf.skipped, [*qsf.notes, *notes])
    if pipe:
        raise ConfigError("--pipe fills the piped text of a Qualtrics .qsf file.", f"Drop --pipe for {p.name}.")
    try:
        text = p.read_text("utf-8")
    except FileNotFoundError:
        raise DataError(f"Questionnaire file {p} does not exist.", _HINT) from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"Cannot read questionnaire file {p}: {e}.", _HINT) from None
    try:
        if p.suffix.lower() == ".json":
            raw = json.loads(text)
        else:
            import yaml

            raw = yaml.safe_load(text)
    except Exception as e:  # yaml.YAMLError / json.JSONDecodeError: both are user errors here
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(
            f"{p} is not valid {'JSON' if p.suffix.lower() == '.json' else 'YAML'}: {first}", _HINT
        ) from None
    return LoadedQuestionnaire(parse_questionnaire(raw, codebook, where=str(p)))


def load_questionnaire(path: str | Path, codebook: Codebook, pipe: Mapping[str, str] | None = None) -> list[Question]:
    """The questions of a questionnaire file (see :func:`read_questionnaire`)."""
    return read_questionnaire(path, codebook, pipe).questions


def _own_ids(raw: dict[str, Any], codebook: Codebook) -> tuple[dict[str, Any], list[str]]:
    """Qualtrics names questions Q1, Q2, ...: ids that would clash with the survey's own items
    (or look like WVS ids, with the WVS codebook) get a ``QSF_`` prefix, each said in a note."""
    known = {k.upper() for k in [*codebook.questions, *codebook.excluded]}
    notes: list[str] = []
    questions = []
    for q in raw["questions"]:
        qid = str(q["id"])
        if qid.upper() in known or (codebook.is_wvs and _WVS_ID.match(qid)):
            new_id = f"QSF_{qid}"
            notes.append(f"{qid} renamed {new_id}: the {codebook.name} codebook names its own items like that")
            q = {**q, "id": new_id}
        questions.append(q)
    return {**raw, "questions": questions}, notes


def parse_pipes(values: list[str] | None) -> dict[str, str]:
    """``--pipe field=value`` options as a mapping (a clear error for a malformed one)."""
    out: dict[str, str] = {}
    for v in values or []:
        key, sep, value = v.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--pipe {v!r} is not FIELD=VALUE.", "E.g. --pipe city=Berlin (repeatable).")
        out[key.strip()] = value.strip()
    return out


def inline_question(text: str, options: str, codebook: Codebook, *, qid: str = "NEW", ordered: bool = True) -> Question:
    """A question given on the command line: ``options`` separated by ``|``."""
    labels = [o for o in (x.strip() for x in options.split("|"))] if options.strip() else []
    return parse_questionnaire(
        {"questions": [{"id": qid, "text": text, "options": labels, "ordered": ordered}]},
        codebook,
        where="--text/--options",
    )[0]


def extend_codebook(codebook: Codebook, questions: list[Question]) -> Codebook:
    """A copy of *codebook* with the custom *questions* (and their sections) added."""
    _check_against(questions, codebook, "questions")
    sections = list(codebook.sections.values())
    for q in questions:
        if q.section not in codebook.sections and all(s.id != q.section for s in sections):
            sections.append(Section(q.section, q.section.removeprefix(SECTION_PREFIX)))
    return Codebook(
        [*codebook.questions.values(), *questions],
        sections,
        missing_codes=codebook.missing_codes,
        source=codebook.source,
        excluded=codebook.excluded,
        name=codebook.name,
        phrasing=codebook.phrasing,
        roles=codebook.roles,
        id_column=codebook.id_column,
        country_column=codebook.country_column,
        country=codebook.country,
    )


def is_custom(q: Question) -> bool:
    return q.section.startswith(SECTION_PREFIX)
