"""Codebooks for any labelled survey: inferred from an SPSS/Stata file, kept as editable YAML.

``infer_codebook(path)`` reads the file's metadata (variable labels, value labels, declared
missing values, SPSS measurement levels) and its values, and proposes a codebook; the
``notes`` it returns list everything a person should check (items without a label, codes in
the data without a label, guessed kinds and roles). ``write_codebook_yaml`` writes it;
``load_codebook_file`` reads a YAML (or JSON) codebook back, validating it with clear errors.

Rules (documented in docs/surveys.md):

* **Skipped columns**: text (string) columns, the respondent id column (a name such as
  ``id``, ``idno``, ``respid``; unique values), the country column (``cntry``, ``country``,
  ``nation``, ``B_COUNTRY_ALPHA``) and survey weights (a name containing ``weight``/``wght``
  or ending in ``wt``). They are listed under ``excluded`` with the reason.
* **Kind** of an item, from its valid (non-missing) codes:
  ``scale`` when the codes form a run of at least 5 consecutive integers and the value labels
  name at most half of them (typically the two ends: "0 Extremely dissatisfied ... 10
  Extremely satisfied"); else ``ordinal`` when SPSS says ``ordinal``, or at least 3 labels
  and most of them read as degrees ("very", "somewhat", "agree", "often", "important", ...);
  else ``nominal`` when the item has value labels; else ``numeric`` (no labels: a quantity
  such as age or years of schooling; ``value_range`` is the range seen in the data).
* **Missing values**: the codes the file declares missing (SPSS missing values and ranges;
  labels such as "Don't know", "Refusal", "Not applicable" on negative codes or 7/8/9, 77/88/99
  ... when the file declares none) go to the item's ``missing`` map; on loading each becomes
  the survey-wide code its label means (-1 don't know, -2 no answer/refusal, -3 not
  applicable, -4 not asked, -5 other), so they are never a prediction target and never reach
  a prompt.
* **Profile items** (always known to a method, never a target): the variable's name or label
  mentions age, sex/gender, birth, education/school/degree, income, marital status/partner,
  children/household, employment/occupation/job/work, religion/denomination, region/town/
  urban, citizenship/born in/migration, language, ethnicity/race, social class.
  ``roles``: ``sex`` is the profile item named/labelled sex or gender, ``age`` the numeric
  profile item named/labelled age.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from valuesim.errors import ConfigError, DataError
from valuesim.survey import countries as country_table
from valuesim.survey.codebook import MISSING_CODES, ROLES, Codebook, Question, QuestionKind, Section

KindName = Literal["ordinal", "nominal", "scale", "numeric"]

#: Sections of an inferred codebook (the profile section has the id the backstory puts first).
PROFILE_SECTION = "demographics"
VALUE_SECTION = "answers"
SECTION_TITLES = {PROFILE_SECTION: "Demographics", VALUE_SECTION: "Survey answers"}

_ID_NAMES = re.compile(r"^(id|idno|respid|resp_?id|respondent_?id|case_?id|caseno|serial|d_interview|uniqid)$", re.I)
_COUNTRY_NAMES = re.compile(r"^(cntry|country|nation|b_country_alpha|b_country|s003|iso3|country_?code)$", re.I)
_WEIGHT_NAMES = re.compile(r"weight|wght|^w_|wt$", re.I)
_PROFILE_WORDS = re.compile(
    r"\bage\b|\bsex\b|gender|\bborn\b|birth|educat|school|qualification|household'?s? .*income|total (net )?income|"
    r"income (decile|group|level of (the |your )?household)|marital|married|partner|spouse|"
    r"children (living )?in (the |your )?household|number of children|(have|had) (any )?children|household size|"
    r"people in (the |your )?household|employ|occupation|\bjob\b|main activity|paid work|denomination|"
    r"belong\w* to (a |any )?religion|region|domicile|urban|rural|citizen|migration background|immigrant (background|status)|language|ethnic|\brace\b|"
    r"social class",
    re.I,
)
_DEGREE_WORDS = re.compile(
    r"\bvery\b|somewhat|rather|fairly|quite|not at all|\bnot very\b|strongly|\bagree|disagree|neither|completely|"
    r"extremely|always|never|often|sometimes|rarely|seldom|usually|important|satisf|\bmuch\b|\blittle\b|great deal|"
    r"likely|\bgood\b|\bbad\b|\bpoor\b|excellent|\bfair\b|\bmore\b|\bless\b|\bnone\b|\bmost\b|better|worse|"
    r"\bhigh\b|\blow\b|trust|approve|favou?r|every day|once a|weekly|monthly|daily",
    re.I,
)
_MISSING_LABEL = re.compile(
    r"don.?t know|\bdk\b|refus|no answer|not applicable|inapplicable|\binap\b|not asked|missing|not available|"
    r"can.?t choose|prefer not",
    re.I,
)


# --------------------------------------------------------------------------- YAML schema


class ItemSpec(BaseModel):
    """One item of a codebook file."""

    model_config = ConfigDict(extra="forbid")

    id: str
    text: str
    short: str | None = None
    kind: KindName
    section: str | None = None
    profile: bool = False
    options: dict[int, str] = {}
    missing: dict[int, str] = {}
    value_range: tuple[int, int] | None = None
    note: str = ""

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("an item id may not be empty")
        return v

    @field_validator("value_range")
    @classmethod
    def _range(cls, v: tuple[int, int] | None) -> tuple[int, int] | None:
        if v is not None and v[0] > v[1]:
            raise ValueError(
                f"value_range [{v[0]}, {v[1]}] is reversed: the first number is the smallest valid value, "
                f"the second the largest (e.g. [{v[1]}, {v[0]}]); every answer would load as missing"
            )
        return v


class SectionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    title: str


class CodebookSpec(BaseModel):
    """A codebook file: the survey, its columns, sections, roles and items."""

    model_config = ConfigDict(extra="forbid")

    name: str
    source: str = ""
    phrasing: Literal["generic"] = "generic"
    id_column: str | None = None
    country_column: str | None = None
    country: str | None = None
    missing_codes: dict[int, str] = dict(MISSING_CODES)
    roles: dict[Literal["sex", "age"], str] = {}
    sections: list[SectionSpec] = []
    items: list[ItemSpec]
    excluded: dict[str, str] = {}


def _pydantic_message(e: ValidationError, raw: dict[str, Any]) -> str:
    lines = []
    for err in e.errors()[:8]:
        loc = list(err["loc"])
        where = ".".join(str(x) for x in loc)
        if len(loc) >= 2 and loc[0] == "items" and isinstance(loc[1], int):
            items = raw.get("items") or []
            item = items[loc[1]] if loc[1] < len(items) and isinstance(items[loc[1]], dict) else {}
            where = f"item {item.get('id', '#' + str(loc[1] + 1))!r}" + (
                f", field {'.'.join(map(str, loc[2:]))}" if loc[2:] else ""
            )
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "literal_error" and loc and loc[-1] == "kind":
            msg = f"unknown kind {err.get('input')!r}; use ordinal, nominal, scale or numeric"
        lines.append(f"{where}: {msg}")
    return "; ".join(lines)


def codebook_from_spec(spec: CodebookSpec, where: str = "the codebook") -> Codebook:
    """A :class:`Codebook` from a validated spec; raises ConfigError for inconsistent content."""
    hint = f"Edit {where} (see docs/surveys.md) or write a new one with `valuesim codebook infer`."
    seen: dict[str, str] = {}
    for item in spec.items:
        key = item.id.upper()
        if key in seen:
            raise ConfigError(f"{where}: duplicate item id {item.id!r} (also {seen[key]!r}).", hint)
        seen[key] = item.id
    sections = {s.id: s for s in spec.sections}
    questions: list[Question] = []
    for item in spec.items:
        kind = QuestionKind(item.kind)
        if kind is not QuestionKind.NUMERIC and len(item.options) < 2:
            raise ConfigError(f"{where}: item {item.id!r} is {item.kind} but has {len(item.options)} option(s).", hint)
        if kind is QuestionKind.NUMERIC and item.options:
            raise ConfigError(f"{where}: item {item.id!r} is numeric and may not have options.", hint)
        negative = [c for c in item.options if c < 0]
        if negative:
            raise ConfigError(
                f"{where}: item {item.id!r} has negative answer code(s) {negative}; negative codes mean missing.",
                "Move them to the item's `missing` map. " + hint,
            )
        both = sorted(set(item.options) & set(item.missing))
        if both:
            raise ConfigError(f"{where}: item {item.id!r} lists code(s) {both} both as options and as missing.", hint)
        section = item.section or (PROFILE_SECTION if item.profile else VALUE_SECTION)
        if spec.sections and section not in sections:
            raise ConfigError(
                f"{where}: item {item.id!r} is in section {section!r}, which is not declared under `sections`.", hint
            )
        questions.append(
            Question(
                id=item.id,
                text=item.text,
                short=item.short or item.text,
                kind=kind,
                section=section,
                profile=item.profile,
                options=dict(sorted(item.options.items())),
                value_range=item.value_range,
                note=item.note,
                missing=dict(item.missing),
            )
        )
    if not any(q.profile for q in questions):
        raise ConfigError(
            f"{where}: no profile items.",
            "Mark the demographic items (age, sex, education, ...) with `profile: true`: a method always knows "
            "them and they are never prediction targets. " + hint,
        )
    if all(q.profile for q in questions):
        raise ConfigError(f"{where}: every item is a profile item; nothing is left to predict.", hint)
    by_id = {q.id: q for q in questions}
    for role, qid in spec.roles.items():
        if qid not in by_id:
            raise ConfigError(f"{where}: role {role} names {qid!r}, which is not an item.", hint)
    for column in (spec.id_column, spec.country_column):
        if column and column.upper() in seen:
            raise ConfigError(f"{where}: column {column!r} is both an item and the id/country column.", hint)
    country = None
    if spec.country:
        try:
            country = country_table.resolve(spec.country)
        except DataError as e:
            raise ConfigError(f"{where}: country: {e.message}", e.hint) from None
    used_sections = list(dict.fromkeys(q.section for q in questions))
    section_list = (
        [Section(s.id, s.title) for s in spec.sections]
        if spec.sections
        else [Section(s, SECTION_TITLES.get(s, s)) for s in used_sections]
    )
    return Codebook(
        questions,
        section_list,
        missing_codes=dict(spec.missing_codes),
        source=spec.source,
        excluded=dict(spec.excluded),
        name=spec.name,
        phrasing=spec.phrasing,
        roles={str(k): v for k, v in spec.roles.items()},
        id_column=spec.id_column,
        country_column=spec.country_column,
        country=country,
    )


def load_codebook_file(path: str | Path) -> Codebook:
    """Read a YAML or JSON codebook file (see docs/surveys.md); ConfigError when it is not valid."""
    import yaml

    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(
            f"Codebook file {p} does not exist.",
            "Write one with `valuesim codebook infer DATA --out my-codebook.yaml`, or pass --codebook auto.",
        )
    try:
        text = p.read_text(encoding="utf-8")
        raw = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as e:
        raise ConfigError(
            f"Could not read codebook {p}: {e}", "It must be YAML (or JSON) as written by `valuesim codebook infer`."
        ) from None
    if not isinstance(raw, dict) or "items" not in raw:
        raise ConfigError(
            f"{p} is not a codebook: it needs a top-level `name` and a list of `items`.",
            "Write one with `valuesim codebook infer DATA --out my-codebook.yaml`.",
        )
    try:
        spec = CodebookSpec.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(f"{p}: {_pydantic_message(e, raw)}", "See docs/surveys.md for the codebook format.") from None
    return codebook_from_spec(spec, str(p))


def codebook_to_dict(cb: Codebook) -> dict[str, Any]:
    """The YAML/JSON form of a generic codebook (what ``load_codebook_file`` reads)."""
    items = []
    for q in cb:
        item: dict[str, Any] = {"id": q.id, "text": q.text}
        if q.short != q.text:
            item["short"] = q.short
        item["kind"] = q.kind.value
        item["profile"] = q.profile
        item["section"] = q.section
        if q.options:
            item["options"] = dict(q.options)
        if q.missing:
            item["missing"] = dict(q.missing)
        if q.value_range is not None:
            item["value_range"] = list(q.value_range)
        if q.note:
            item["note"] = q.note
        items.append(item)
    return {
        "name": cb.name,
        "source": cb.source,
        "phrasing": cb.phrasing,
        "id_column": cb.id_column,
        "country_column": cb.country_column,
        "country": cb.country,
        "roles": dict(cb.roles),
        "missing_codes": dict(cb.missing_codes),
        "sections": [{"id": s.id, "title": s.title} for s in cb.sections.values()],
        "excluded": dict(cb.excluded),
        "items": items,
    }


def codebook_from_dict_form(raw: dict[str, Any], where: str = "the run's codebook") -> Codebook:
    """A generic codebook from its dict form (:func:`codebook_to_dict`, e.g. a run manifest's
    ``codebook``); ConfigError when it is not a valid codebook."""
    try:
        spec = CodebookSpec.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(
            f"{where}: {_pydantic_message(e, raw)}", "See docs/surveys.md for the codebook format."
        ) from None
    return codebook_from_spec(spec, where)


def write_codebook_yaml(cb: Codebook, path: str | Path, header: Iterable[str] = ()) -> Path:
    """Write *cb* as YAML (comment lines from *header* first)."""
    import yaml

    p = Path(path).expanduser()
    p.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump(codebook_to_dict(cb), sort_keys=False, allow_unicode=True, width=100)
    comments = "".join(f"# {line}\n" for line in header)
    p.write_text(comments + body, encoding="utf-8")
    return p


# --------------------------------------------------------------------------- inference


@dataclass
class InferResult:
    codebook: Codebook
    notes: list[str] = field(default_factory=list)  # what a person should check, one line each


def _read_labelled(path: Path) -> tuple[pd.DataFrame, Any]:
    import pyreadstat

    suffix = path.suffix.lower()
    readers: dict[str, Callable[..., tuple[pd.DataFrame, Any]]] = {
        ".sav": pyreadstat.read_sav,
        ".zsav": pyreadstat.read_sav,
        ".por": pyreadstat.read_por,
        ".dta": pyreadstat.read_dta,
    }
    if suffix not in readers:
        raise DataError(
            f"Cannot infer a codebook from {path.name}: only SPSS (.sav, .zsav, .por) and Stata (.dta) files carry labels.",
            "Convert the file to .sav/.dta, or write the codebook YAML by hand (docs/surveys.md).",
        )
    if not path.is_file():
        raise DataError(f"No such file: {path}", "Check the path.")
    kwargs: dict[str, Any] = {"apply_value_formats": False}
    if suffix in (".sav", ".zsav"):
        kwargs["user_missing"] = True
    try:
        frame, meta = readers[suffix](str(path), **kwargs)
    except Exception as e:  # pyreadstat raises several unrelated types for corrupt files
        raise DataError(f"Could not read {path}: {e}", "The file may be truncated or not SPSS/Stata.") from None
    return frame, meta


def _declared_missing(var: str, meta: Any, values: np.ndarray, labels: dict[int, str]) -> dict[int, str]:
    """Codes *var* declares missing, with a label each."""
    out: dict[int, str] = {}
    present = {int(v) for v in values if not math.isnan(v) and float(v).is_integer()}
    for rng in (getattr(meta, "missing_ranges", None) or {}).get(var, []):
        lo, hi = rng.get("lo"), rng.get("hi")
        if not isinstance(lo, int | float) or not isinstance(hi, int | float):
            continue
        codes = {c for c in present | set(labels) if lo <= c <= hi}
        if hi - lo <= 20:
            codes |= {int(c) for c in range(math.ceil(lo), math.floor(hi) + 1)}
        for c in codes:
            out[c] = labels.get(c, "missing")
    for c in (getattr(meta, "missing_user_values", None) or {}).get(var, []):
        if isinstance(c, int | float) and float(c).is_integer():
            out[int(c)] = labels.get(int(c), "missing")
    if not out:  # no declaration: labels that say "missing" on negative or 7/8/9-style codes
        for c, label in labels.items():
            if _MISSING_LABEL.search(label) and (c < 0 or re.fullmatch(r"(7|8|9)\1*|9[6-9]|99[6-9]", str(c))):
                out[c] = label
    return dict(sorted(out.items()))


def _kind(valid: list[int], labels: dict[int, str], measure: str) -> QuestionKind:
    if not labels:
        return QuestionKind.NUMERIC
    codes = sorted(set(valid) | set(labels))
    run = codes[-1] - codes[0] + 1 if codes else 0
    if 5 <= run <= 101 and len(labels) <= run / 2:
        return QuestionKind.SCALE
    if measure == "ordinal":
        return QuestionKind.ORDINAL
    degree = sum(bool(_DEGREE_WORDS.search(text)) for text in labels.values())
    if len(labels) >= 3 and degree >= len(labels) / 2:
        return QuestionKind.ORDINAL
    return QuestionKind.NOMINAL


def _excluded_reason(name: str, label: str, kind: str, values: pd.Series) -> str | None:
    if kind == "string":
        return "text column"
    if _WEIGHT_NAMES.search(name):
        return "survey weight"
    return None


def infer_codebook(path: str | Path, *, name: str | None = None) -> InferResult:
    """Propose a codebook for a labelled SPSS/Stata file (see the module docstring for the rules)."""
    p = Path(path).expanduser()
    frame, meta = _read_labelled(p)
    labels_of: dict[str, str | None] = dict(getattr(meta, "column_names_to_labels", {}) or {})
    value_labels: dict[str, dict[Any, str]] = dict(getattr(meta, "variable_value_labels", {}) or {})
    measures: dict[str, str] = dict(getattr(meta, "variable_measure", {}) or {})
    types: dict[str, str] = dict(getattr(meta, "readstat_variable_types", {}) or {})
    notes: list[str] = []
    excluded: dict[str, str] = {}
    id_column = country_column = None
    items: list[ItemSpec] = []
    no_label: list[str] = []
    for var in frame.columns:
        col = frame[var]
        label = (labels_of.get(var) or "").strip()
        vtype = types.get(var, "string" if col.dtype == object else "double")
        if id_column is None and _ID_NAMES.match(var) and col.notna().all() and col.is_unique:
            id_column = var
            excluded[var] = "respondent id"
            continue
        if country_column is None and _COUNTRY_NAMES.match(var):
            country_column = var
            excluded[var] = "country"
            continue
        reason = _excluded_reason(var, label, vtype, col)
        if reason:
            excluded[var] = reason
            notes.append(f"{var}: skipped ({reason})")
            continue
        values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
        raw_labels = value_labels.get(var, {})
        labels = {
            int(k): str(v).strip()
            for k, v in raw_labels.items()
            if isinstance(k, int | float) and float(k).is_integer()
        }
        missing = _declared_missing(var, meta, values, labels)
        option_labels = {c: t for c, t in labels.items() if c not in missing and c >= 0}
        missing.update({c: t for c, t in labels.items() if c < 0 and c not in missing})
        valid = sorted(
            {int(v) for v in values if not math.isnan(v) and float(v).is_integer() and int(v) not in missing and v >= 0}
        )
        kind = _kind(valid, option_labels, measures.get(var, "unknown"))
        text = label or var
        if not label:
            no_label.append(var)
        note = ""
        options: dict[int, str] = {}
        value_range = None
        if kind is QuestionKind.SCALE:
            lo, hi = min(set(valid) | set(option_labels)), max(set(valid) | set(option_labels))
            options = {c: option_labels.get(c, str(c)) for c in range(lo, hi + 1)}
        elif kind is QuestionKind.NUMERIC:
            value_range = (min(valid), max(valid)) if valid else None
        else:
            options = dict(sorted(option_labels.items()))
            unlabelled = sorted(set(valid) - set(options))
            if unlabelled:
                counts = {c: int(np.sum(values == c)) for c in unlabelled}
                shown = ", ".join(f"{c} ({n}x)" for c, n in list(counts.items())[:8])
                note = f"codes without a label in the data: {shown}; label them under options, or they load as missing"
                notes.append(f"{var}: {note}")
        profile = bool(_PROFILE_WORDS.search(var) or _PROFILE_WORDS.search(label))
        items.append(
            ItemSpec(
                id=var,
                text=text,
                kind=kind.value,
                profile=profile,
                section=PROFILE_SECTION if profile else VALUE_SECTION,
                options=options,
                missing=missing,
                value_range=value_range,
                note=note,
            )
        )
    if no_label:
        notes.append(
            f"{len(no_label)} item(s) without a variable label (their text is the variable name; write the question "
            f"wording into `text`): {', '.join(no_label[:15])}{' ...' if len(no_label) > 15 else ''}"
        )
    roles = _guess_roles(items, labels_of)
    for role in ROLES:
        if role in roles:
            notes.append(f"role {role}: {roles[role]} (check it)")
        else:
            notes.append(f"role {role}: no item found (the demographic-majority baseline then groups by country only)")
    if id_column is None:
        notes.append(
            "no respondent id column found: respondents are numbered by row; set `id_column` if the file has one"
        )
    if country_column is None:
        notes.append("no country column found: set `country:` (e.g. USA) if everybody lives in one country")
    kinds = pd.Series([i.kind for i in items]).value_counts().to_dict() if items else {}
    notes.insert(
        0,
        f"{len(items)} items ({', '.join(f'{n} {k}' for k, n in kinds.items())}), "
        f"{sum(i.profile for i in items)} marked profile; {len(excluded)} column(s) skipped",
    )
    spec = CodebookSpec(
        name=name or p.stem,
        source=p.name,
        id_column=id_column,
        country_column=country_column,
        roles=roles,
        items=items,
        excluded=excluded,
    )
    return InferResult(codebook_from_spec(spec, str(p)), notes)


def _guess_roles(items: list[ItemSpec], labels: dict[str, str | None]) -> dict[Literal["sex", "age"], str]:
    roles: dict[Literal["sex", "age"], str] = {}
    for item in items:
        if not item.profile:
            continue
        words = f"{item.id} {labels.get(item.id) or ''}"
        if "sex" not in roles and re.search(r"\bsex\b|gender", words, re.I) and item.kind != "numeric":
            roles["sex"] = item.id
        if "age" not in roles and re.search(r"\bage\b", words, re.I) and item.kind == "numeric":
            roles["age"] = item.id
    return roles


def resolve_codebook(spec: str | None, data: str | None = None) -> Codebook | None:
    """``--codebook``: None (the built-in WVS-7 codebook), ``auto`` (inferred from *data*) or a file."""
    if spec is None or not spec.strip():
        return None
    if spec.strip().lower() == "auto":
        if not data or data.strip().lower().startswith("synthetic"):
            raise ConfigError("--codebook auto needs a labelled data file (--data my.sav).", "Or give a codebook file.")
        return infer_codebook(data).codebook
    return load_codebook_file(spec)
