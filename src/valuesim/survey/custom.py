"""Codebooks for any labelled survey: inferred from an SPSS/Stata file, kept as editable YAML.

``infer_codebook(path)`` reads the file's metadata (variable labels, value labels, declared
missing values, SPSS measurement levels) and its values, and proposes a codebook. It never
fails on a readable file: an item the rules cannot type is demoted (to numeric) or left out.
Its ``notes`` give every decision with its reason, one line each (id, country, roles,
skipped columns by reason, profile items by reason, demoted items, codes without a label);
``valuesim codebook infer`` prints them and writes them as comments at the top of the YAML.
``write_codebook_yaml`` writes a codebook; ``load_codebook_file`` reads a YAML (or JSON)
codebook back, validating it with clear errors.

Rules (documented in docs/surveys.md), built to hold on ESS, GSS, EVS and WVS files:

* **Skipped columns** (listed under ``excluded`` with the reason): text columns; the id column
  (a name such as ``id``, ``idno``, ``caseno``, ``D_INTERVIEW`` with unique values, within each
  country if need be) and other identifiers; the country column (``cntry``, ``country``,
  ``c_abrv``, ``B_COUNTRY_ALPHA`` ...; a text column is preferred) and its other codings;
  survey weights (a name with ``weight``/``wght``, starting or ending in ``wt``, or a label
  such as "design weight", "weight variable"); survey design, administration and interviewer
  variables, by name (ESS ``essround``, ``inw*`` timestamps, ``stratum``, ``psu``; GSS
  ``year``, ``ballot``, ``sample``, ``vstrat``, ``vpsu``, ``intage``/``intethn``/``intsex``;
  WVS ``A_YEAR``, ``J_INTDATE`` ...) or by label (interviewer, start/end/date/length of
  interview, sampling stratum/PSU, round/edition, split ballot, filter/flag); columns with
  no answer in the file; numeric columns of category codes without labels (a label saying
  "code", e.g. an occupation code).
* **Missing values**: the codes the file declares missing (SPSS missing values and ranges),
  and labels such as "Don't know", "Refusal", "Not applicable", "iap" on negative or
  7/8/9-shaped codes (77/88/99, 96-99, 996-999 ...) or on any code when the label is just
  that; on a labelled item, unlabelled codes above the answers shaped like missing codes
  (GSS 98/99 beside 8/9). On loading each becomes the survey-wide code its label means (-1
  don't know, -2 no answer/refusal, -3 not applicable, -4 not asked, -5 other), so it is
  never a prediction target and never reaches a prompt. A negative code with a substantive
  label is a valid answer (ESS ``grspfr`` "-4 Low, extremely unfair" ... "4").
* **Kind** of an item: ``scale`` when the codes span 5-101 consecutive integers, both ends
  are labelled and only the ends (and the midpoint) have word labels -- inner points
  unlabelled or labelled with their own number ("1" .. "9", as ESS does); ``numeric`` when
  the item has no answer labels, or at least 10 unlabelled values beside at most 3 word
  labels (or beside more, when the unlabelled values are at least 3 times as many and hold most
  answers) -- a quantity with special codes: "89 or older" stays a value, "It depends" /
  "Never" load as missing, each named in the notes; else ``ordinal`` when SPSS says so, most of
  at least 3 labels read as degrees or the labels name rising amounts; else ``nominal``. An
  item left with one option becomes numeric when its data hold several values, else it is
  left out.
* **Profile items** (always known to a method, never a target) are demographics only: a
  known demographic variable name (ESS, GSS, EVS, WVS), or a label that describes the
  respondent (sex, age, year of birth, highest education, household income, marital status,
  household members, main activity/occupation, religion or denomination, region/domicile,
  citizenship/birth country/migration, home language, ethnic group/race, social class) and
  is not an attitude (no "should", "allow", "satisfied", "how important", "become" ...).
* **Roles**: ``sex`` is the profile item named ``gndr``/``sex``/... or labelled as the
  respondent's sex/gender whose options are male/female (never another person's, never
  "discrimination: gender"); ``age`` the numeric profile item named ``agea``/``age``/... or
  labelled as the respondent's age (never "age when first child born", never a year of birth).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
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

_ID_NAMES = re.compile(
    r"^(id|idno|id_?no|respid|resp_?id|respondent_?id|case_?id|caseno|serial|d_interview|uniqid|id_cocas)$", re.I
)
#: Another identifier of the respondent or interview (besides the id column).
_ID_LABEL = re.compile(
    r"\b(respondent|case|interview|questionnaire|household)'?s? (id|number|identifier|identification|serial)\b|"
    r"\bidentification number|\bserial number|\boriginal respondent number",
    re.I,
)
_COUNTRY_NAMES = re.compile(
    r"^(cntry|country|nation|b_country_alpha|b_country|s003|s003a|iso3|country_?code|c_abrv|cntry_?code|cntry_an|"
    r"c_cow_num|c_cow_alpha|cow_?code|cow_?alpha|country_?iso\w*)$",
    re.I,
)
_WEIGHT_NAMES = re.compile(r"weight|wght|^w_|wt$|^wt|^gwght|^dwght|^pspwght|^anweight", re.I)
_WEIGHT_LABEL = re.compile(
    r"\b(design|post-?stratification|population size|analysis|sampling|survey|calibration|person|household|"
    r"equilibrated|cross-national) weight|\bweight(ing)? (factor|variable|for)\b|"
    r"^weight\b(?!.*\b(kg|kilo|pound|lbs|body))",
    re.I,
)
#: Administration, design and interviewer variables, by name (ESS, GSS, EVS, WVS) and by label.
_ADMIN_NAMES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(a|b|c|d|e|f|g|h|i|j|k)?inw", re.I), "interview time or administration"),
    (re.compile(r"^int(age|ethn|sex|yrs|id|num|race|hisp|educ|wrk)\w*$", re.I), "interviewer characteristic"),
    (
        re.compile(r"^(stratum|strata|psu|vstrat|vpsu|prob|sampcode|sample|oversamp|formwt|sampling)$", re.I),
        "sampling design",
    ),
    (
        re.compile(
            r"^(essround|round|edition|proddate|year|wave|version|phase|issp|studyno|doi|s001|s002|s002vs|"
            r"s002evs|s020|s024|s025|a_year|a_wave|a_study|dateintv|lngthinv|coop|comprend|feeused|mode|"
            r"respnum|spaneng|spanself|spanint|name)$",
            re.I,
        ),
        "survey round, edition or interview record",
    ),
    (re.compile(r"^(ballot|form|split\w*|spltadm\w*)$", re.I), "split-ballot group"),
    (
        re.compile(
            r"^(supq\w*|d_original|e_respint|f_intprivacy|s_intlanguage|o1_longitude|o2_latitude|fw_start|fw_end|"
            r"mm_\w+|j_intdate|k_time_\w+|k_duration|l_interviewer_number|s007|e1_literacy|lnge_iso|s018|s025)$",
            re.I,
        ),
        "interview time or administration",
    ),
]
_ADMIN_LABELS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\binterviewer (code|check)\b|^(ic|interviewer) check\b|^check\b", re.I), "filter or flag variable"),
    (re.compile(r"\binterviewer'?s?\b", re.I), "interviewer characteristic"),
    (
        re.compile(
            r"\b(start|end|date|day|month|year|hour|minute|length|duration|time|mode|language|place)s?,? "
            r"(of )?(the )?interview\b|\binterviews? (length|duration|date|start|end|mode|language)\b|"
            r"\battitude toward(s)? (the )?interview|\bdate of (the )?interview|^interview\b|"
            r"\binterview (was )?(conducted|mode|type|language)|\bduring (the )?interview|\bvideo interview|"
            r"\bself-completion|\bsupplementary questionnaire|\bfieldwork\b|\blongitude\b|\blatitude\b",
            re.I,
        ),
        "interview time or administration",
    ),
    (
        re.compile(
            r"\bstrat(um|a)\b|primary sampling unit|\bpsu\b|sampling (frame|unit|point|design|method)|"
            r"variance (stratum|unit|primary)|\bsample (type|design|frame|point)\b|^sample\b|oversampl|"
            r"(inclusion|selection|sampling) probabilit",
            re.I,
        ),
        "sampling design",
    ),
    (
        re.compile(
            r"\bess round\b|\bsurvey year\b|\byear of (the )?survey\b|\bgss year\b|\bedition\b|"
            r"production date|^wave\b|survey wave|study (number|id)\b|data release",
            re.I,
        ),
        "survey round, edition or interview record",
    ),
    (
        re.compile(
            r"split[- ]?(ballot|sample|group|version|half)|\bballot (used|version|form|type)\b|"
            r"questionnaire (version|form)|form of (the )?questionnaire|random(ly)? assign|"
            r"experimental (group|condition)",
            re.I,
        ),
        "split-ballot group",
    ),
    (
        re.compile(
            r"\bfilter\b|\bflag\b|\brouting\b|(don.?t know|refusal|\bdk\b|no answer)s?\W+(flag|count|indicator)|"
            # a mark-all-that-apply item's non-answer box (ESS dscrdk "Discrimination of respondent's
            # group: don't know", dscrref, dscrnap, dscrna): a record of not answering, not an answer
            r":\s*(don.?t know|refusal|refused|not applicable|no answer|not answered)\s*$",
            re.I,
        ),
        "filter or flag variable",
    ),
]
#: Demographic (profile) items: what the respondent is, not what they think. Names first
#: (ESS, GSS, EVS, WVS), then label patterns; the label may not be an attitude.
_PROFILE_NAMES: dict[str, str] = {
    **dict.fromkeys(["gndr", "sex", "gender", "rsex", "x001", "q260", "v225"], "sex"),
    **dict.fromkeys(
        ["agea", "age", "age_r", "x003", "q262", "v226", "yrbrn", "birthyr", "cohort", "x002", "q261"], "age"
    ),
    **dict.fromkeys(
        [
            "eisced",
            "edulvlb",
            "eduyrs",
            "educ",
            "degree",
            "edlvdno",
            "edlvdse",
            "edlvdfi",
            "x025",
            "q275",
            "v243_isced",
            "paeduc",
            "maeduc",
            "speduc",
            "padeg",
            "madeg",
            "spdeg",
            "eiscedp",
            "eiscedf",
            "eiscedm",
            "q276",
            "q277",
            "q278",
        ],
        "education",
    ),
    **dict.fromkeys(["hinctnta", "hincsrca", "income", "rincome", "income16", "realinc", "x047_wvs", "q288"], "income"),
    **dict.fromkeys(["maritalb", "marital", "rshpsts", "x007", "q273", "partner"], "marital status"),
    **dict.fromkeys(
        [
            "hhmmb",
            "hompop",
            "childs",
            "chldhm",
            "chldhhe",
            "x028",
            "q270",
            "q274",
            "babies",
            "preteen",
            "teens",
            "adults",
        ],
        "household",
    ),
    **dict.fromkeys(
        [
            "mnactic",
            "emplrel",
            "wrkstat",
            "isco08",
            "occ10",
            "prestg10",
            "wkhtot",
            "wkhct",
            "hrs1",
            "x028",
            "q279",
            "q281",
            "emplno",
            "wrkctra",
            "nacer2",
            "tporgwk",
            "pdwrk",
            "edctn",
            "uempla",
            "uempli",
            "dsbld",
            "rtrd",
            "cmsrv",
            "hswrk",
            "dngoth",
            "dngref",
            "dngdk",
            "dngna",
        ],
        "employment",
    ),
    **dict.fromkeys(["rlgblg", "rlgdnm", "relig", "denom", "q289", "x050"], "religion"),
    **dict.fromkeys(
        ["domicil", "region", "regionat", "xnorcsiz", "size", "srcbelt", "res16", "x049", "q266"], "place of living"
    ),
    **dict.fromkeys(
        [
            "ctzcntr",
            "brncntr",
            "cntbrthd",
            "livecnta",
            "facntr",
            "mocntr",
            "born",
            "parborn",
            "granborn",
            "q263",
            "q264",
            "q265",
            "q269",
        ],
        "citizenship or migration",
    ),
    **dict.fromkeys(["lnghom1", "lnghom2", "lnghoma", "lnghomb", "q272"], "language"),
    **dict.fromkeys(["blgetmg", "race", "racecen1", "ethnic", "hispanic", "q290"], "ethnicity or race"),
    **dict.fromkeys(["class", "q287"], "social class"),
}
_PROFILE_LABELS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(respondent'?s? |r'?s )?(sex|gender)\b|\b(sex|gender) of (the )?respondent\b", re.I), "sex"),
    (
        re.compile(
            r"^(respondent'?s? |r'?s )?age\b|\bage of (the )?respondent\b|\bage,? calculated|"
            r"^(respondent'?s? |r'?s )?year of birth\b|\brespondent'?s year of birth",
            re.I,
        ),
        "age",
    ),
    (
        re.compile(
            r"\bhighest (level of |year of |grade of )?(education|degree|qualification|school)|"
            r"\b(highest )?(level of|years of (full-time )?) ?education (completed|attained)?|"
            r"\beducational (level|attainment|qualification)|\byears? of school|\bisced\b|"
            r"\bhighest (year|grade) (of )?school",
            re.I,
        ),
        "education",
    ),
    (
        re.compile(
            r"\bhousehold'?s? (total )?(net )?income|\btotal (net )?(household |family )?income|"
            r"\bfamily income|\bincome (decile|scale|group|bracket)|\b(r'?s|respondent'?s|personal) income|"
            r"main source of (household )?income",
            re.I,
        ),
        "income",
    ),
    (
        re.compile(
            r"\bmarital status|\blegal marital|\brelationship with (husband|wife|partner)|"
            r"\blive with (husband|wife|partner)|\bcohabit",
            re.I,
        ),
        "marital status",
    ),
    (
        re.compile(
            r"\b(number of )?(people|persons|members) (living )?(regularly )?(in|of|as member of) "
            r"(the |your )?household|\bhousehold size|\bnumber of children|\bhow many children|"
            r"\bchildren (living )?(at home|in (the )?household)",
            re.I,
        ),
        "household",
    ),
    (
        re.compile(
            r"\bmain activity|\bdoing last 7 days|\bemployment (status|relation|contract)|"
            r"\blabou?r force status|\boccupation(al)?\b|\bisco\b|\bhours (normally )?worked|"
            r"\bwork status\b|\bcurrently (in paid|employed)",
            re.I,
        ),
        "employment",
    ),
    (
        re.compile(
            r"\breligion or denomination|\bbelong(ing)? to (a )?(particular )?religion|"
            r"\breligious (denomination|preference|affiliation)|\bdenomination\b",
            re.I,
        ),
        "religion",
    ),
    (
        re.compile(
            r"^region\b|\bregion of (residence|interview)|\bdomicile|\burban|\brural|"
            r"\bsize of (town|place|community)|\btype of (community|place|settlement)",
            re.I,
        ),
        "place of living",
    ),
    (
        re.compile(
            r"\bcitizen(ship)? of\b|\bcitizen\b|\bborn in (this )?country|\bcountry of birth|"
            r"\b(father|mother) born in|\bcame to live in (this )?country|\bmigration background|"
            r"\bnationality\b",
            re.I,
        ),
        "citizenship or migration",
    ),
    (
        re.compile(
            r"\blanguage (most often )?spoken (most often )?at home|\bhome language|"
            r"\blanguage at home",
            re.I,
        ),
        "language",
    ),
    (
        re.compile(
            r"^race\b|\brace of (the )?respondent|\b(r'?s|respondent'?s) race|\bracial or ethnic|"
            r"\bbelong to (a )?minority ethnic|\bethnic (group|background|origin)\b",
            re.I,
        ),
        "ethnicity or race",
    ),
    (re.compile(r"\bsocial class|\bclass identification", re.I), "social class"),
    (
        re.compile(r"\bperson in (the )?household|\brelationship to (the )?respondent", re.I),
        "household",
    ),
]
#: An attitude, evaluation or question about others is never a demographic.
_ATTITUDE = re.compile(
    r"\bshould\b|\ballow\b|\bagree\b|\bsatisf|\bimportan|\btrust\b|\bopinion\b|\bthink\b|\bfeel|\bideal\b|"
    r"\btoo (young|old)\b|\bapprove|\bfavou?r|\bprefer|\bbetter\b|\bworse\b|\bgood\b|\bbad\b|\bhow (much|likely|"
    r"often|important|satisfied|happy|religious|interested|proud)|\bproud\b|\bjustif|\bdiscriminat|\bimmigrants\b|\bfair\b|"
    r"\bacceptable\b|\bwould\b|\bacquaintance|\bbecom\w*|\breach\w*|\btoo\b",
    re.I,
)
#: Roles: the respondent's own sex and age, never someone else's or an attitude about them.
_NOT_RESPONDENT = re.compile(
    r"\b(partner|spouse|husband|wife|father|mother|child|children|person|member|interviewer|acquaintance|"
    r"friend|group|sibling|kid|son|daughter)\b|\bwhen\b|\bfirst\b|\bleft\b|\bbecome|\breach|\bshould\b|"
    r"\bideal\b|\btoo\b|\bretire|\bmarri|\bcompleted|\bstart|\bdiscrimin",
    re.I,
)
_SEX_NAMES = ("gndr", "sex", "gender", "rsex", "x001", "q260", "v225")
_AGE_NAMES = ("agea", "age", "age_r", "x003", "q262", "ager")
_DEGREE_WORDS = re.compile(
    r"\bvery\b|somewhat|rather|fairly|quite|not at all|\bnot very\b|strongly|\bagree|disagree|neither|completely|"
    r"extremely|always|never|often|sometimes|rarely|seldom|usually|important|satisf|\bmuch\b|\blittle\b|great deal|"
    r"likely|\bgood\b|\bbad\b|\bpoor\b|excellent|\bfair\b|\bmore\b|\bless\b|\bnone\b|\bmost\b|better|worse|"
    r"\bhigh\b|\blow\b|trust|approve|favou?r|every day|once a|weekly|monthly|daily|slight|moderate|extrm|"
    r"\bpretty\b|\btoo\b|hardly|only some|\bsome\b|\bfew\b|\bmany\b|\ba lot\b|difficult|comfortabl",
    re.I,
)
_MISSING_LABEL = re.compile(
    r"don.?t know|\bdk\b|refus|no answer|not applicable|inapplicable|\binap\b|\biap\b|not asked|missing|"
    r"not available|can.?t choose|prefer not|\bna\b|\bn/a\b|not ascertained|uncodeable|uncodable|no response|"
    r"skipped on web",
    re.I,
)
#: Codes surveys use for missing answers (7/8/9, 77/88/99, 96-99, 996-999, 9996-9999 ...).
_MISSING_SHAPE = re.compile(r"(7|8|9)\1+|9[6-9]|99[6-9]|999[6-9]|(6|7|8|9)\2{2,}")
#: A numeric column that holds category codes (occupation, industry, postal code), not a quantity.
_CODE_LABEL = re.compile(r"\bcodes?\b|\bisco(-?\d+)?\b|\bisic\b|\bnace\b|\bclassification\b", re.I)  # ISCO08
#: A labelled special code of a quantity that is itself a quantity ("89 or older", "None", "8 or more").
_QUANTITY_LABEL = re.compile(
    r"\d|\bnone\b|\bno\b.*\b(child|children|one)\b|\bor (more|older|over|less|younger)\b|\bless than\b|"
    r"\bmore than\b|\bone\b|\btwo\b|\bthree\b|\bfour\b|\bfive\b|\bsix\b|\bseven\b|\beight\b|\bnine\b|\bten\b",
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


def item_problem(item: ItemSpec) -> str | None:
    """What makes *item* unusable on its own (None when it is fine)."""
    kind = QuestionKind(item.kind)
    if kind is not QuestionKind.NUMERIC and len(item.options) < 2:
        return f"item {item.id!r} is {item.kind} but has {len(item.options)} option(s)"
    if kind is QuestionKind.NUMERIC and item.options:
        return f"item {item.id!r} is numeric and may not have options"
    both = sorted(set(item.options) & set(item.missing))
    if both:
        return f"item {item.id!r} lists code(s) {both} both as options and as missing"
    return None


def codebook_from_spec(spec: CodebookSpec, where: str = "the codebook", *, require_profile: bool = True) -> Codebook:
    """A :class:`Codebook` from a validated spec; raises ConfigError for inconsistent content.

    Valid negative option codes (ESS ``grspfr``: "-4 Low, extremely unfair" ... "4") are kept:
    the item gets a ``code_offset`` so that its stored codes start at 0 (negative stored codes
    mean missing throughout ValueSim); the YAML keeps the file's codes.
    """
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
        problem = item_problem(item)
        if problem:
            raise ConfigError(f"{where}: {problem}.", hint)
        offset = -min(item.options) if item.options and min(item.options) < 0 else 0
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
                options={c + offset: t for c, t in sorted(item.options.items())},
                value_range=item.value_range,
                note=item.note,
                missing=dict(item.missing),
                code_offset=offset,
            )
        )
    if require_profile and not any(q.profile for q in questions):
        raise ConfigError(
            f"{where}: no profile items.",
            "Mark the demographic items (age, sex, education, ...) with `profile: true`: a method always knows "
            "them and they are never prediction targets. " + hint,
        )
    if require_profile and all(q.profile for q in questions):
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
            item["options"] = {q.file_code(c): t for c, t in q.options.items()}
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
    """Codes *var* declares missing, with a label each (also: labelled "Don't know", "Refusal" ...
    on negative or 7/8/9-shaped codes, whether or not the file declares them)."""
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
    for c, label in labels.items():
        says_missing = _MISSING_LABEL.search(label)
        shaped = c < 0 or _MISSING_SHAPE.fullmatch(str(c)) or (says_missing and says_missing.start() == 0)
        if c not in out and says_missing and shaped:
            out[c] = label
    return dict(sorted(out.items()))


def _rising_numbers(labels: dict[int, str]) -> bool:
    """Labels that name rising amounts in code order (income brackets "$1000 to 2999", deciles
    "J - 1st decile"): an ordered item although no label reads as a degree."""
    numbers = []
    for _, text in sorted(labels.items()):
        m = re.search(r"\d[\d,.]*", text)
        if m:
            numbers.append(float(m.group().replace(",", "").rstrip(".") or 0))
    return len(numbers) >= 0.8 * len(labels) and len(set(numbers)) >= 3 and numbers == sorted(numbers)


def _is_number_label(code: int, text: str) -> bool:
    """An inner scale point labelled with its own number ("1" .. "9", as ESS labels them)."""
    t = text.strip()
    return bool(re.fullmatch(r"[-+]?\d+", t)) and int(t) == code


@dataclass
class _Typed:
    kind: QuestionKind
    options: dict[int, str]
    missing: dict[int, str]
    value_range: tuple[int, int] | None = None
    note: str = ""
    demoted: str = ""  # why the item is not what its labels first suggest (one line for the summary)
    dropped: str = ""  # why the item is left out (it cannot be typed)


def _type_item(var: str, values: np.ndarray, labels: dict[int, str], missing: dict[int, str], measure: str) -> _Typed:
    """Kind, options, missing codes and value range of one labelled variable (rules: module docstring)."""
    missing = dict(missing)
    codes_in_data = np.unique(values[~np.isnan(values)])
    integers = [int(v) for v in codes_in_data if float(v).is_integer()]
    counts = Counter(
        {
            int(v): int(n)
            for v, n in zip(*np.unique(values[~np.isnan(values)], return_counts=True))
            if float(v).is_integer()
        }
    )
    option_labels = {c: t for c, t in labels.items() if c not in missing}
    valid = sorted(c for c in integers if c not in missing and (c >= 0 or c in option_labels))
    notes: list[str] = []
    if option_labels:
        # unlabelled codes beyond the labelled answers shaped like missing codes (GSS 98/99 on a 1-7 item)
        top = max(option_labels)
        strays = [c for c in valid if c > top and c not in option_labels and _MISSING_SHAPE.fullmatch(str(c))]
        if strays and len(set(valid) - set(option_labels) - set(strays)) < 10:
            for c in strays:
                missing[c] = "missing (unlabelled code)"
            valid = [c for c in valid if c not in strays]
            notes.append("unlabelled code(s) " + ", ".join(f"{c} ({counts[c]}x)" for c in strays) + " taken as missing")
    if not option_labels:
        rng = (min(valid), max(valid)) if valid else None
        return _Typed(QuestionKind.NUMERIC, {}, missing, rng, "; ".join(notes))
    wordy = {c: t for c, t in option_labels.items() if not _is_number_label(c, t)}
    span = sorted(set(valid) | set(option_labels))
    lo, hi = span[0], span[-1]
    n = hi - lo + 1
    ends = {lo, hi} | ({(lo + hi) // 2} if (lo + hi) % 2 == 0 else set())
    if 5 <= n <= 101 and lo in option_labels and hi in option_labels and set(wordy) <= ends and wordy:
        options = {c: option_labels.get(c, str(c)) for c in range(lo, hi + 1)}
        return _Typed(QuestionKind.SCALE, options, missing, None, "; ".join(notes))
    unlabelled = sorted(set(valid) - set(option_labels))
    n_unlabelled = sum(counts[c] for c in unlabelled)
    n_labelled = sum(counts[c] for c in valid if c in option_labels)
    if len(unlabelled) >= 10 and (
        len(wordy) <= 3
        # or a few more special codes beside a quantity that holds most answers (ESS ageadlt
        # "Age reached adulthood": 0 "Never", 111 "Should never", 555 "Different for men and women")
        or (len(unlabelled) >= 3 * len(wordy) and n_unlabelled > n_labelled)
    ):
        # a quantity with a few labelled special codes ("89 or older", "0 It depends", "1111 Still living with parents")
        special = {c: t for c, t in option_labels.items() if not _QUANTITY_LABEL.search(t) and c not in unlabelled}
        for c, t in special.items():
            missing[c] = t
        quantity = sorted(set(valid) - set(special))
        rng = (min(quantity), max(quantity)) if quantity else None
        why = f"{len(option_labels)} labelled code(s) and {len(unlabelled)} unlabelled values: a quantity, numeric"
        if special:
            why += "; special code(s) " + ", ".join(f'{c} "{t}"' for c, t in special.items()) + " load as missing"
        return _Typed(QuestionKind.NUMERIC, {}, missing, rng, "; ".join(notes), demoted=why)
    if measure == "ordinal":
        kind = QuestionKind.ORDINAL
    else:
        degree = sum(bool(_DEGREE_WORDS.search(t)) for t in option_labels.values())
        ordered = len(option_labels) >= 3 and (degree >= len(option_labels) / 2 or _rising_numbers(option_labels))
        kind = QuestionKind.ORDINAL if ordered else QuestionKind.NOMINAL
    options = dict(sorted(option_labels.items()))
    if len(options) < 2:
        if len(set(valid)) >= 2:
            rng = (min(valid), max(valid))
            for c, t in options.items():
                if not _QUANTITY_LABEL.search(t):
                    missing[c] = t
            why = f"{len(options)} labelled answer and {len(unlabelled)} unlabelled value(s): numeric"
            return _Typed(QuestionKind.NUMERIC, {}, missing, rng, "; ".join(notes), demoted=why)
        return _Typed(kind, options, missing, dropped=f"only {len(set(valid) | set(options))} answer code(s)")
    if unlabelled:
        shown = ", ".join(f"{c} ({counts[c]}x)" for c in unlabelled[:8])
        notes.append(f"codes without a label in the data: {shown}; label them under options, or they load as missing")
    return _Typed(kind, options, missing, None, "; ".join(notes))


def _admin_reason(name: str, label: str) -> str | None:
    for pattern, reason in _ADMIN_NAMES:
        if pattern.search(name):
            return reason
    for pattern, reason in _ADMIN_LABELS:
        if pattern.search(label):
            return reason
    return None


def _profile_reason(name: str, label: str) -> str | None:
    """Why an item is a demographic (profile) item, or None."""
    by_name = _PROFILE_NAMES.get(name.lower())
    if by_name:
        return f"{by_name} (name {name})"
    if _ATTITUDE.search(label):
        return None
    for pattern, what in _PROFILE_LABELS:
        if pattern.search(label):
            return f"{what} (label)"
    return None


def _guess_roles(items: list[ItemSpec], labels: dict[str, str | None]) -> dict[Literal["sex", "age"], str]:
    """The respondent's own sex (options male/female) and age (a numeric item), best candidate first."""

    def score(item: ItemSpec, names: tuple[str, ...], label_rule: re.Pattern[str]) -> int:
        label = labels.get(item.id) or ""
        if item.id.lower() in names:
            return 2
        return 1 if label_rule.search(label) and not _NOT_RESPONDENT.search(label) else 0

    sex_rule, age_rule = _PROFILE_LABELS[0][0], _PROFILE_LABELS[1][0]
    roles: dict[Literal["sex", "age"], str] = {}
    sexes = [
        (score(i, _SEX_NAMES, sex_rule), -k, i.id)
        for k, i in enumerate(items)
        if i.profile
        and i.kind != "numeric"
        and any(re.fullmatch(r"\s*((fe)?males?|(wo)?m[ae]n)\s*", t, re.I) for t in i.options.values())
    ]
    sexes = [s for s in sexes if s[0] > 0]
    if sexes:
        roles["sex"] = max(sexes)[2]
    year_of_birth = re.compile(r"year of birth|\bborn\b|birth", re.I)
    ages = [
        (score(i, _AGE_NAMES, age_rule), -k, i.id)
        for k, i in enumerate(items)
        if i.profile
        and i.kind == "numeric"
        and not year_of_birth.search(labels.get(i.id) or "")
        and i.id.lower() not in ("yrbrn", "birthyr", "cohort", "x002", "q261", "v226")
    ]
    ages = [a for a in ages if a[0] > 0]
    if ages:
        roles["age"] = max(ages)[2]
    return roles


def _unique_within(col: pd.Series, country: pd.Series | None) -> bool:
    if col.isna().any():
        return False
    if col.is_unique:
        return True
    return country is not None and not pd.DataFrame({"c": country.astype(str), "i": col}).duplicated().any()


def _group_line(title: str, names: list[str], limit: int = 25) -> str:
    shown = ", ".join(names[:limit]) + (f" ... (+{len(names) - limit})" if len(names) > limit else "")
    return f"{title} ({len(names)}): {shown}"


def infer_codebook(path: str | Path, *, name: str | None = None, country: str | None = None) -> InferResult:
    """Propose a codebook for a labelled SPSS/Stata file (see the module docstring for the rules).

    Never fails on a readable file: an item that cannot be typed is demoted (to numeric) or left
    out, and every such decision is one line of ``notes``, as are the roles, id, country, skipped
    columns and profile items, each with its reason.
    """
    p = Path(path).expanduser()
    frame, meta = _read_labelled(p)
    labels_of: dict[str, str | None] = dict(getattr(meta, "column_names_to_labels", {}) or {})
    value_labels: dict[str, dict[Any, str]] = dict(getattr(meta, "variable_value_labels", {}) or {})
    measures: dict[str, str] = dict(getattr(meta, "variable_measure", {}) or {})
    types: dict[str, str] = dict(getattr(meta, "readstat_variable_types", {}) or {})
    excluded: dict[str, str] = {}
    skipped: dict[str, list[str]] = {}  # reason -> columns (for the printed summary)
    decisions: list[str] = []
    problems: list[str] = []
    items: list[ItemSpec] = []
    profile_why: dict[str, list[str]] = {}
    no_label: list[str] = []

    def skip(var: str, reason: str) -> None:
        excluded[var] = reason
        skipped.setdefault(reason, []).append(var)

    named_country = [str(v) for v in frame.columns if _COUNTRY_NAMES.match(str(v))]
    # prefer the column that holds codes as text (ESS cntry, WVS B_COUNTRY_ALPHA, EVS c_abrv)
    country_column = next(
        (v for v in named_country if frame[v].dtype == object), named_country[0] if named_country else None
    )
    country_values = frame[country_column] if country_column else None
    id_column = None
    for var in frame.columns:
        if _ID_NAMES.match(str(var)) and _unique_within(frame[var], country_values):
            id_column = str(var)
            break
    if id_column:
        excluded[id_column] = "respondent id"
        decisions.append(
            f"id column: {id_column} (its name; unique values{' within each country' if country_column and not frame[id_column].is_unique else ''})"
        )
    if country_column:
        excluded[country_column] = "country"
        decisions.append(f"country column: {country_column} (its name)")
    for var_obj in frame.columns:
        var = str(var_obj)
        if var in (id_column, country_column):
            continue
        col = frame[var_obj]
        label = (labels_of.get(var) or "").strip()
        vtype = types.get(var, "string" if col.dtype == object else "double")
        if _COUNTRY_NAMES.match(var):
            skip(var, "country (another coding)")
            continue
        if vtype == "string":  # the file's type (a Stata numeric with extended missing .d/.i can read as object)
            skip(var, "text column")
            continue
        if _ID_NAMES.match(var) or _ID_LABEL.search(label):
            skip(var, "respondent or interview identifier")
            continue
        if _WEIGHT_NAMES.search(var) or _WEIGHT_LABEL.search(label):
            skip(var, "survey weight")
            continue
        admin = _admin_reason(var, label)
        if admin:
            skip(var, admin)
            continue
        values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
        labels = {
            int(k): str(v).strip()
            for k, v in value_labels.get(var, {}).items()
            if isinstance(k, int | float) and float(k).is_integer()
        }
        missing = _declared_missing(var, meta, values, labels)
        answered = values[~np.isnan(values)]
        if not len(answered) or all(v in missing for v in np.unique(answered) if float(v).is_integer()):
            skip(var, "no answers in the file (blank or missing codes only)")
            continue
        fractional = np.mod(answered, 1) != 0
        if fractional.mean() > 0.5:
            skip(var, "not integer codes (a derived score or a measurement)")
            continue
        typed = _type_item(var, values, labels, missing, measures.get(var, "unknown"))
        if typed.dropped:
            skip(var, f"cannot be typed: {typed.dropped}")
            problems.append(f"{var}: left out ({typed.dropped}); write it into `items` by hand to keep it")
            continue
        if typed.kind is QuestionKind.NUMERIC and _CODE_LABEL.search(label):
            skip(var, "a classification code without value labels (not a quantity)")
            continue
        if typed.demoted:
            problems.append(f"{var}: {typed.demoted}")
        if typed.note and not typed.demoted:
            problems.append(f"{var}: {typed.note}")
        why = _profile_reason(var, label)
        if why:
            profile_why.setdefault(why.split(" (")[0], []).append(var)
        if not label:
            no_label.append(var)
        spec = ItemSpec(
            id=var,
            text=label or var,
            kind=typed.kind.value,
            profile=bool(why),
            section=PROFILE_SECTION if why else VALUE_SECTION,
            options=typed.options,
            missing=typed.missing,
            value_range=typed.value_range,
            note=typed.note,
        )
        problem = item_problem(spec)
        if problem:  # a rule above produced something the codebook cannot hold: leave it out, say so
            skip(var, f"cannot be typed: {problem}")
            problems.append(f"{var}: left out ({problem})")
            continue
        items.append(spec)
    roles = _guess_roles(items, labels_of)
    for role in ROLES:
        if role in roles:
            qid = roles[role]
            decisions.append(f"role {role}: {qid} ({labels_of.get(qid) or qid!r}); change `roles` if wrong")
        else:
            decisions.append(
                f"role {role}: no item found (the demographic-majority baseline then groups by country only)"
            )
    if profile_why:
        decisions.append(
            "profile (demographic) items, never predicted -- "
            + "; ".join(f"{what}: {', '.join(v)}" for what, v in profile_why.items())
            + " (set `profile: false` to predict one, `profile: true` to add one)"
        )
    for reason, names in skipped.items():
        decisions.append(_group_line(f"skipped, {reason}", names) + " (add an item to keep one)")
    if no_label:
        problems.append(
            f"{len(no_label)} item(s) without a variable label (their text is the variable name; write the question "
            f"wording into `text`): {', '.join(no_label[:15])}{' ...' if len(no_label) > 15 else ''}"
        )
    if id_column is None:
        decisions.append(
            "no respondent id column found: respondents are numbered by row; set `id_column` if the file has one"
        )
    resolved_country = None
    if country:
        try:
            resolved_country = country_table.resolve(country)
        except DataError as e:
            raise ConfigError(f"--country: {e.message}", e.hint) from None
        decisions.append(f"country: everybody lives in {country_table.country_name(resolved_country)} (--country)")
    elif country_column is None:
        decisions.append(
            "no country column found: country is unknown; if everybody lives in one country, infer again with "
            "--country (e.g. --country USA) or set `country:` in the YAML"
        )
    if not any(i.profile for i in items):
        problems.append("no profile items found: mark the demographic items with `profile: true` before using it")
    kinds = pd.Series([i.kind for i in items]).value_counts().to_dict() if items else {}
    summary = (
        f"{len(items)} items ({', '.join(f'{n} {k}' for k, n in kinds.items())}), "
        f"{sum(i.profile for i in items)} marked profile; {len(excluded)} column(s) skipped"
    )
    spec_all = CodebookSpec(
        name=name or p.stem,
        source=p.name,
        id_column=id_column,
        country_column=country_column,
        country=resolved_country,
        roles=roles,
        items=items,
        excluded=excluded,
    )
    return InferResult(codebook_from_spec(spec_all, str(p), require_profile=False), [summary, *decisions, *problems])


def resolve_codebook(spec: str | None, data: str | None = None) -> Codebook | None:
    """``--codebook``: None (the built-in WVS-7 codebook), ``auto`` (inferred from *data*) or a file."""
    if spec is None or not spec.strip():
        return None
    if spec.strip().lower() == "auto":
        if not data or data.strip().lower().startswith("synthetic"):
            raise ConfigError("--codebook auto needs a labelled data file (--data my.sav).", "Or give a codebook file.")
        cb = infer_codebook(data).codebook
        profile = cb.profile()
        if not profile or len(profile) == len(cb):
            raise ConfigError(
                f"--codebook auto: the rules found {'no' if not profile else 'only'} profile (demographic) items "
                f"in {Path(data).name}.",
                f"Write the codebook with `valuesim codebook infer {data} --out codebook.yaml`, mark the demographic "
                "items with `profile: true` (and the others false), then pass --codebook codebook.yaml.",
            )
        return cb
    return load_codebook_file(spec)
