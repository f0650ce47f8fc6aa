"""Deterministic synthetic WVS-7 respondents with real structure, for tests and the demo.

The generator draws people, not cells:

1. a profile (sex, age, education, income, marital status, religion, ...) that is internally
   consistent (birth year = survey year - age, no spouse items for single people, ...) and
   shaped by the country (age structure, education level, religions and languages);
2. five correlated latent value dimensions (:data:`DIMENSIONS`), shifted by the country (a rough
   Inglehart-Welzel placement for the default countries) and by age, sex, education and income;
3. every value item from a fixed "world" of item parameters: each item loads on one or two
   dimensions chosen by its questionnaire section (religious items on traditional vs secular,
   trust items on trust, ...), has its own cut points (so marginals are skewed like real ones)
   and a country-specific shift; answers are the latent score plus noise, cut into the
   item's codes. Items that share a dimension therefore correlate, a person's history predicts
   the rest of their answers, and country or demographic majorities beat the global majority;
4. missing codes at roughly the real WVS-7 rates: "don't know" (more for some sections and for
   less educated people), "no answer", whole items "not asked" in a country, and "not
   applicable" for conditional profile items.

The item and country parameters depend only on the question or country id (never on ``seed``),
so different seeds are different samples from one population -- a model fitted on one seed can
be tested on another. Everything made here is marked synthetic (``SurveyData.synthetic``,
``version == "synthetic"``, and the ``version`` column of a written file), and the loader
recognises written files as synthetic again.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtri

from valuesim.survey import countries as country_table
from valuesim.survey.codebook import Codebook, Question, QuestionKind, load_codebook
from valuesim.survey.dataset import SurveyData
from valuesim.survey.loaders import resolve_countries, survey_from_frames

#: Latent value dimensions, in the order used by loadings and country means.
DIMENSIONS: tuple[str, ...] = (
    "secular",  # traditional (-) vs secular-rational (+)
    "self_expression",  # survival (-) vs self-expression (+)
    "trust",  # social and institutional trust
    "engagement",  # political interest and participation
    "wellbeing",  # happiness, satisfaction, feeling secure
)
SEC, SELF, TRUST, ENGAGE, WELL = range(len(DIMENSIONS))

#: Correlation of the person-level latent dimensions within a country.
_LATENT_CORR = np.array(
    [
        [1.0, 0.30, 0.10, 0.15, 0.05],
        [0.30, 1.0, 0.30, 0.25, 0.30],
        [0.10, 0.30, 1.0, 0.20, 0.30],
        [0.15, 0.25, 0.20, 1.0, 0.10],
        [0.05, 0.30, 0.30, 0.10, 1.0],
    ]
)

#: Which dimensions each questionnaire section's items load on (before per-item jitter).
SECTION_LOADINGS: dict[str, dict[int, float]] = {
    "social_values": {SEC: 0.7, SELF: 0.6},
    "wellbeing": {WELL: 1.0, SELF: 0.3},
    "social_capital": {TRUST: 0.9, ENGAGE: 0.4},
    "economic_values": {SELF: 0.5, SEC: 0.4},
    "corruption": {TRUST: 0.9},
    "migration": {SELF: 0.7, TRUST: 0.3},
    "security": {WELL: 0.7, TRUST: 0.4},
    "postmaterialism": {SELF: 1.0},
    "science_technology": {SEC: 0.8, WELL: 0.3},
    "religious_values": {SEC: 1.1},
    "ethical_values": {SEC: 0.8, SELF: 0.6},
    "political_participation": {ENGAGE: 1.1},
    "political_culture": {SELF: 0.6, TRUST: 0.5, ENGAGE: 0.3},
}
_DEFAULT_LOADINGS = {SELF: 0.5, SEC: 0.5}

#: Items whose direction is well known: +1 means higher codes go with a higher dimension score
#: (e.g. Q6 "importance of religion", 1 = very important, rises towards secular). Other items
#: get a random direction from the fixed world.
KNOWN_DIRECTIONS: dict[str, dict[int, float]] = {
    "Q4": {ENGAGE: -1},  # importance of politics, 1 = very important
    "Q6": {SEC: +1},  # importance of religion
    "Q8": {SELF: -1},  # independence as a child quality, 1 = mentioned
    "Q17": {SEC: +1},  # obedience as a child quality
    "Q29": {SELF: +1, SEC: +1},  # men make better political leaders, 1 = strongly agree
    "Q33": {SELF: +1},  # men should have priority for jobs
    "Q45": {SEC: +1},  # greater respect for authority, 1 = good
    "Q46": {WELL: -1},  # happiness, 1 = very happy
    "Q48": {WELL: +1, SELF: +1},  # freedom of choice, 10 = a great deal
    "Q49": {WELL: +1},  # life satisfaction
    "Q50": {WELL: +1},  # financial satisfaction
    "Q57": {TRUST: -1},  # most people can be trusted = 1
    "Q131": {WELL: -1},  # feeling secure, 1 = very secure
    "Q164": {SEC: -1},  # importance of God, 10 = very important
    "Q165": {SEC: +1},  # believe in God, 1 = yes
    "Q171": {SEC: +1},  # attendance, 7 = never
    "Q173": {SEC: +1},  # 1 religious person .. 3 atheist
    "Q199": {ENGAGE: -1},  # interest in politics, 1 = very interested
    "Q209": {ENGAGE: -1, SELF: -1},  # signed a petition, 1 = have done
    "Q235": {SELF: +1},  # strong leader, 1 = very good
    "Q238": {SELF: -1},  # democratic system, 1 = very good
    "Q250": {SELF: +1},  # importance of democracy, 10 = absolutely important
}


def _known_direction(q: Question) -> dict[int, float]:
    if q.id in KNOWN_DIRECTIONS:
        return KNOWN_DIRECTIONS[q.id]
    labels = [q.options[c].strip().lower() for c in q.codes]
    if labels and labels[-1] == "always justifiable":
        return {SEC: +1, SELF: +1}
    if labels and labels[0] in ("a great deal", "trust completely"):
        return {TRUST: -1}
    return {}


#: Base "don't know" rate per section (scaled per item and per person).
_DK_RATE: dict[str, float] = {
    "social_values": 0.008,
    "wellbeing": 0.008,
    "social_capital": 0.03,
    "economic_values": 0.03,
    "corruption": 0.06,
    "migration": 0.05,
    "security": 0.02,
    "postmaterialism": 0.02,
    "science_technology": 0.05,
    "religious_values": 0.015,
    "ethical_values": 0.03,
    "political_participation": 0.03,
    "political_culture": 0.05,
}
_NO_ANSWER_RATE = 0.006
_OTHER_MISSING_RATE = 0.002
_NOT_ASKED_RATE = 0.01  # share of (country, item) pairs not asked at all
_PROFILE_NEVER_SKIPPED = ("Q260", "Q261", "Q262", "Q275")

# Profile item codes (WVS-7 master questionnaire).
MALE, FEMALE = 1, 2
MARRIED, LIVING_TOGETHER, DIVORCED, SEPARATED, WIDOWED, SINGLE = 1, 2, 3, 4, 5, 6
FULL_TIME, PART_TIME, SELF_EMPLOYED, RETIRED, HOUSEWIFE, STUDENT, UNEMPLOYED, OTHER_WORK = range(1, 9)
NO_DENOMINATION = 0


@dataclass(frozen=True)
class CountryProfile:
    """Population parameters of one synthetic country."""

    alpha3: str
    means: tuple[float, float, float, float, float]  # latent means, in DIMENSIONS order
    development: float  # shifts education and income (about -1 .. 1)
    mean_age: float
    survey_year: int
    immigrant_rate: float
    religion: dict[int, float]  # Q289 code -> share (before the secular shift)
    languages: dict[str, float]  # Q272 label (as in the codebook) -> share


#: Rough placements for the default countries (values loosely follow the Inglehart-Welzel map
#: and WVS-7 country profiles; they make the synthetic data look plausible, nothing more).
KNOWN_COUNTRIES: dict[str, CountryProfile] = {
    p.alpha3: p
    for p in (
        CountryProfile(
            "DEU",
            (1.2, 0.9, 0.4, 0.4, 0.4),
            0.9,
            49,
            2018,
            0.13,
            {0: 0.38, 1: 0.28, 2: 0.28, 5: 0.05, 8: 0.01},
            {"German": 1.0},
        ),
        CountryProfile(
            "USA",
            (-0.2, 1.1, 0.1, 0.5, 0.5),
            1.0,
            47,
            2017,
            0.14,
            {0: 0.30, 1: 0.22, 2: 0.40, 4: 0.02, 8: 0.06},
            {"English": 0.85, "Spanish": 0.15},
        ),
        CountryProfile(
            "JPN", (1.5, 0.2, 0.3, -0.1, 0.2), 0.8, 52, 2019, 0.02, {0: 0.60, 7: 0.34, 8: 0.06}, {"Japanese": 1.0}
        ),
        CountryProfile(
            "BRA",
            (-0.6, 0.1, -0.9, -0.2, 0.3),
            0.0,
            41,
            2018,
            0.01,
            {0: 0.12, 1: 0.55, 2: 0.30, 8: 0.03},
            {"Portuguese": 1.0},
        ),
        CountryProfile(
            "NGA",
            (-1.5, -0.6, -0.5, 0.3, 0.1),
            -0.5,
            32,
            2018,
            0.01,
            {1: 0.15, 2: 0.35, 5: 0.48, 8: 0.02},
            {"Hausa": 0.3, "Yoruba": 0.25, "Igbo": 0.2, "English": 0.15, "Nigerian Pidgin": 0.1},
        ),
        CountryProfile(
            "EGY", (-1.3, -1.2, -0.1, -0.5, -0.4), -0.3, 37, 2018, 0.01, {2: 0.02, 3: 0.08, 5: 0.90}, {"Arabic": 1.0}
        ),
        CountryProfile(
            "IND",
            (-0.5, -0.5, 0.1, 0.1, -0.1),
            -0.7,
            38,
            2022,
            0.01,
            {1: 0.02, 5: 0.13, 6: 0.80, 8: 0.05},
            {"Bengali": 0.3, "Tamil": 0.25, "Punjabi": 0.2, "Urdu": 0.15, "English": 0.1},
        ),
        CountryProfile(
            "MEX",
            (-0.8, 0.5, -0.6, -0.1, 0.7),
            0.0,
            40,
            2018,
            0.01,
            {0: 0.10, 1: 0.78, 2: 0.09, 8: 0.03},
            {"Spanish": 1.0},
        ),
    )
}
DEFAULT_COUNTRIES: tuple[str, ...] = ("DEU", "USA", "JPN", "BRA", "NGA", "EGY", "IND", "MEX")


# --------------------------------------------------------------------------------------------
# The fixed world: country and item parameters, keyed by id only
# --------------------------------------------------------------------------------------------


def _rng_for(*keys: object) -> np.random.Generator:
    """A generator seeded by stable ids (not by the sampling seed)."""
    return np.random.default_rng([zlib.crc32(str(k).encode()) for k in ("valuesim-world", *keys)])


def country_profile(alpha3: str) -> CountryProfile:
    """Known placement for the default countries, a stable pseudo-random one for others."""
    if alpha3 in KNOWN_COUNTRIES:
        return KNOWN_COUNTRIES[alpha3]
    rng = _rng_for("country", alpha3)
    development = float(np.clip(rng.normal(0.0, 0.6), -1.2, 1.2))
    means = rng.normal(0.0, 0.6, size=len(DIMENSIONS))
    means[SEC] += 0.6 * development
    means[SELF] += 0.6 * development
    denominations = rng.choice([1, 2, 3, 5, 6, 7], size=2, replace=False)
    main = float(rng.uniform(0.5, 0.85))
    none = float(np.clip(0.1 + 0.25 * development + rng.normal(0, 0.05), 0.02, 0.5))
    religion = {
        NO_DENOMINATION: none,
        int(denominations[0]): main * (1 - none),
        int(denominations[1]): (1 - main) * (1 - none),
    }
    return CountryProfile(
        alpha3=alpha3,
        means=tuple(float(m) for m in means),  # type: ignore[arg-type]
        development=development,
        mean_age=float(40 + 8 * development),
        survey_year=int(rng.integers(2017, 2023)),
        immigrant_rate=float(np.clip(0.03 + 0.06 * development + rng.normal(0, 0.02), 0.0, 0.3)),
        religion=religion,
        languages={},  # a stable pseudo-random language of the codebook, see _languages()
    )


@dataclass(frozen=True)
class ItemModel:
    """How one item is answered: latent loadings, cut points and missing-answer rates."""

    qid: str
    codes: tuple[int, ...]  # valid codes in order
    loadings: np.ndarray  # (len(DIMENSIONS),) for cut-point items; (K, D) for multi-option nominal
    cuts: np.ndarray  # K-1 cut points on the standardised latent scale (cut-point items)
    intercepts: np.ndarray  # (K,) option intercepts (multi-option nominal)
    dont_know: float
    noise: float = 1.0

    @property
    def multinomial(self) -> bool:
        return self.loadings.ndim == 2


def item_model(q: Question) -> ItemModel:
    """The fixed model of one value item (depends only on the question's id and options)."""
    rng = _rng_for("item", q.id)
    base = np.zeros(len(DIMENSIONS))
    for dim, w in SECTION_LOADINGS.get(q.section, _DEFAULT_LOADINGS).items():
        base[dim] = w
    codes = tuple(q.codes) if q.kind is not QuestionKind.NUMERIC else tuple(range(*_numeric_span(q)))
    dk = _DK_RATE.get(q.section, 0.02) * float(rng.uniform(0.4, 1.6))
    if q.kind is QuestionKind.NOMINAL and len(codes) > 2:
        loadings = base[None, :] * rng.normal(0.0, 0.8, size=(len(codes), len(DIMENSIONS)))
        intercepts = rng.normal(0.0, 0.8, size=len(codes))
        return ItemModel(q.id, codes, loadings, np.zeros(0), intercepts, dk)
    scale = rng.uniform(0.6, 1.2, size=len(DIMENSIONS))
    sign = rng.choice([-1.0, 1.0])
    jitter = rng.normal(0.0, 0.12, size=len(DIMENSIONS))
    direction = _known_direction(q)
    if direction:  # well-known items load only on their known dimensions
        base = np.zeros(len(DIMENSIONS))
        for dim, d in direction.items():
            base[dim] = d
        sign = 1.0
    loadings = base * scale * sign + jitter
    # skewed marginals: cumulative shares from a Dirichlet, mapped to normal quantiles
    shares = rng.dirichlet(np.full(len(codes), 2.0 if len(codes) <= 5 else 4.0))
    cum = np.clip(np.cumsum(shares)[:-1], 1e-3, 1 - 1e-3)
    return ItemModel(q.id, codes, loadings, ndtri(cum), np.zeros(len(codes)), dk)


def _numeric_span(q: Question) -> tuple[int, int]:
    lo, hi = q.value_range or (0, 10)
    return lo, hi + 1


def _country_item_shift(alpha3: str, qid: str) -> float:
    return float(_rng_for("shift", alpha3, qid).normal(0.0, 0.35))


def _not_asked(alpha3: str, qid: str) -> bool:
    return bool(_rng_for("asked", alpha3, qid).random() < _NOT_ASKED_RATE)


# --------------------------------------------------------------------------------------------
# Drawing people
# --------------------------------------------------------------------------------------------


def _draw_categorical(rng: np.random.Generator, dist: dict[int, float], size: int) -> np.ndarray:
    codes = np.array(list(dist), dtype=np.int64)
    p = np.array(list(dist.values()), dtype=float)
    return rng.choice(codes, size=size, p=p / p.sum())


def _ordinal(latent: np.ndarray, cuts: Sequence[float] | np.ndarray) -> np.ndarray:
    return np.searchsorted(np.asarray(cuts), latent)


def _profile(
    rng: np.random.Generator, c: CountryProfile, n: int, cb: Codebook
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Profile items (WVS column -> codes) and the demographic covariates (n x 4)."""
    sex = np.where(rng.random(n) < 0.52, FEMALE, MALE)
    age = np.clip(np.round(rng.gamma(shape=9.0, scale=c.mean_age / 9.0, size=n) + 6), 18, 95).astype(np.int64)
    age_z = (age - 45) / 15
    edu_latent = 0.9 * c.development - 0.35 * age_z + rng.normal(0, 1, n)
    edu = _ordinal(edu_latent, [-2.0, -1.2, -0.5, 0.5, 0.8, 1.1, 1.9, 2.8])  # ISCED 0-8
    edu_z = (edu - 3.5) / 2
    income_latent = 0.5 * edu_z + 0.4 * c.development + rng.normal(0, 0.9, n)
    income = _ordinal(income_latent, [-1.6, -1.0, -0.55, -0.15, 0.25, 0.65, 1.05, 1.5, 2.0]) + 1
    female = (sex == FEMALE).astype(float)
    covariates = np.column_stack([age_z, female, edu_z, (income - 5.5) / 2.5])

    # family
    tradition = -np.asarray(c.means)[SEC]
    p_married = 1 / (1 + np.exp(-(age - 28) / 5))
    marital = np.where(rng.random(n) < p_married, MARRIED, SINGLE)
    cohabit = (marital == MARRIED) & (rng.random(n) < 0.12 * (1 - 0.5 * np.clip(tradition, 0, 1)))
    marital[cohabit] = LIVING_TOGETHER
    ever = marital != SINGLE
    split = ever & (rng.random(n) < 0.10 + 0.04 * c.development)
    marital[split] = np.where(rng.random(int(split.sum())) < 0.75, DIVORCED, SEPARATED)
    widowed = ever & ~split & (rng.random(n) < np.clip((age - 55) / 80, 0, 0.5))
    marital[widowed] = WIDOWED
    partner = np.isin(marital, [MARRIED, LIVING_TOGETHER])
    children_mean = np.where(ever, 1.2 + 0.6 * np.clip(tradition, -1, 2), 0.15) * np.clip((age - 18) / 15, 0.1, 1)
    children = np.minimum(rng.poisson(np.clip(children_mean, 0.05, None)), 24)
    living_parents = np.where((age < 30) & ~partner & (rng.random(n) < 0.7), 2, 1)
    living_parents[(partner) & (rng.random(n) < 0.06 + 0.1 * np.clip(tradition, 0, 1))] = 3
    at_home = np.where(age < 50, children, np.minimum(children, rng.poisson(0.4, n)))
    household = np.clip(
        1 + partner + at_home + (living_parents > 1) * 2 + rng.poisson(0.3 + 0.4 * np.clip(tradition, 0, 2), n), 1, 60
    )

    # work
    work = _draw_categorical(
        rng, {FULL_TIME: 0.45, PART_TIME: 0.10, SELF_EMPLOYED: 0.15, UNEMPLOYED: 0.10, OTHER_WORK: 0.02}, n
    )
    housewife = (sex == FEMALE) & (rng.random(n) < 0.10 + 0.15 * np.clip(tradition, 0, 1.5))
    work[housewife] = HOUSEWIFE
    work[(age < 25) & (rng.random(n) < 0.5)] = STUDENT
    work[(age >= 63) & (rng.random(n) < 0.8)] = RETIRED
    spouse_work = np.where(
        partner,
        _draw_categorical(
            rng,
            {FULL_TIME: 0.5, PART_TIME: 0.1, SELF_EMPLOYED: 0.12, RETIRED: 0.12, HOUSEWIFE: 0.1, UNEMPLOYED: 0.06},
            n,
        ),
        -3,
    )
    occ_latent = edu_z + rng.normal(0, 0.8, n)
    occupation = np.select(
        [
            occ_latent > 1.2,
            occ_latent > 0.9,
            occ_latent > 0.4,
            occ_latent > 0.0,
            occ_latent > -0.4,
            occ_latent > -0.8,
            occ_latent > -1.1,
        ],
        [1, 2, 3, 4, 5, 6, 7],
        default=8,
    )
    farm = rng.random(n) < np.clip(0.15 - 0.12 * c.development, 0.01, 0.3)
    occupation[farm] = np.where(rng.random(int(farm.sum())) < 0.7, 9, 10)
    never_worked = (work == STUDENT) & (rng.random(n) < 0.7)
    occupation[never_worked] = 0
    spouse_occ = np.where(partner, np.clip(occupation + rng.integers(-2, 3, n), 1, 10), -3)
    father_occ = np.clip(occupation + rng.integers(0, 4, n), 1, 10)
    sector = np.where(occupation == 0, -3, _draw_categorical(rng, {1: 0.28, 2: 0.66, 3: 0.06}, n))
    chief = np.where((sex == MALE) | ~partner | (rng.random(n) < 0.3), 1, 2)
    chief[(age < 25) & (living_parents > 1)] = 2
    savings = 5 - _ordinal(
        -0.8 * (income - 5.5) / 2.5 + rng.normal(0, 0.8, n), [-0.6, 0.3, 0.9]
    )  # 1 saved .. 4 borrowed
    savings = np.clip(savings, 1, 4)
    social_class = np.clip(_ordinal(-(income - 5.5) / 2.5 + rng.normal(0, 0.6, n), [-1.5, -0.6, 0.2, 1.0]) + 1, 1, 5)
    spouse_edu = np.where(partner, np.clip(edu + rng.integers(-1, 2, n), 0, 8), -3)
    mother_edu = np.clip(edu - rng.integers(1, 4, n), 0, 8)
    father_edu = np.clip(edu - rng.integers(0, 3, n), 0, 8)

    # origin
    own_code = country_table.numeric_of(c.alpha3)
    born_codes = [k for k in cb.get("Q266").options if k != own_code] if "Q266" in cb else [own_code]
    immigrant = rng.random(n) < c.immigrant_rate
    mother_imm = immigrant | (rng.random(n) < c.immigrant_rate / 2)
    father_imm = immigrant | (rng.random(n) < c.immigrant_rate / 2)
    origin = rng.choice(born_codes, size=n)
    citizen = np.where(~immigrant | (rng.random(n) < 0.5), 1, 2)
    home, foreign = _languages(c, cb)
    language = np.where(immigrant & (rng.random(n) < 0.6), rng.choice(foreign, size=n), _draw_categorical(rng, home, n))

    profile = {
        "Q260": sex,
        "Q261": c.survey_year - age,
        "Q262": age,
        "Q263": np.where(immigrant, 2, 1),
        "Q264": np.where(mother_imm, 2, 1),
        "Q265": np.where(father_imm, 2, 1),
        "Q266": np.where(immigrant, origin, own_code),
        "Q267": np.where(mother_imm, origin, own_code),
        "Q268": np.where(father_imm, origin, own_code),
        "Q269": citizen,
        "Q270": household,
        "Q271": living_parents,
        "Q272": language,
        "Q273": marital,
        "Q274": children,
        "Q275": edu,
        "Q276": spouse_edu,
        "Q277": mother_edu,
        "Q278": father_edu,
        "Q279": work,
        "Q280": spouse_work,
        "Q281": occupation,
        "Q282": spouse_occ,
        "Q283": father_occ,
        "Q284": sector,
        "Q285": chief,
        "Q286": savings,
        "Q287": social_class,
        "Q288": income,
    }
    return profile, covariates


def _languages(c: CountryProfile, cb: Codebook) -> tuple[dict[int, float], list[int]]:
    """Q272 codes: the country's languages (by codebook label) -> share, and all other codes."""
    q = cb.questions.get("Q272")
    if q is None or not q.options:
        return {1: 1.0}, [1]
    by_label = {label.strip().lower(): code for code, label in q.options.items()}
    home = {by_label[name.lower()]: share for name, share in c.languages.items() if name.lower() in by_label}
    if not home:
        codes = sorted(q.options)
        home = {int(_rng_for("language", c.alpha3).choice(codes)): 1.0}
    foreign = [code for code in q.options if code not in home] or list(home)
    return home, foreign


#: Effect of (age_z, female, education_z, income_z) on each latent dimension.
_DEMOGRAPHIC_EFFECTS = np.array(
    [
        # secular self_expr trust  engage  wellbeing
        [-0.20, -0.20, 0.05, 0.15, -0.10],  # age (per 15 years above 45)
        [-0.15, 0.05, 0.00, -0.25, 0.00],  # female
        [0.25, 0.25, 0.10, 0.25, 0.10],  # education (per 2 ISCED levels above 3.5)
        [0.05, 0.05, 0.10, 0.05, 0.35],  # income (per 2.5 deciles above 5.5)
    ]
)


def _answers(
    rng: np.random.Generator, c: CountryProfile, latent: np.ndarray, models: list[ItemModel]
) -> dict[str, np.ndarray]:
    n = latent.shape[0]
    out: dict[str, np.ndarray] = {}
    for m in models:
        shift = _country_item_shift(c.alpha3, m.qid)
        if m.multinomial:
            util = (
                latent @ m.loadings.T
                + m.intercepts
                + shift * np.eye(len(m.codes))[0]
                + rng.gumbel(size=(n, len(m.codes)))
            )
            idx = util.argmax(axis=1)
        else:
            score = latent @ m.loadings + shift
            spread = np.sqrt(float(m.loadings @ _LATENT_CORR @ m.loadings) + m.noise**2 + 0.5)
            idx = _ordinal((score + rng.normal(0, m.noise, n)) / spread, m.cuts)
        out[m.qid] = np.asarray(m.codes, dtype=np.int64)[idx]
    return out


def _religion(rng: np.random.Generator, c: CountryProfile, secular: np.ndarray) -> np.ndarray:
    """Q289: the country's denominations; secular people more often belong to none."""
    n = secular.shape[0]
    dist = dict(c.religion)
    base_none = dist.pop(NO_DENOMINATION, 0.02)
    logit_none = np.log(base_none / (1 - base_none)) + 1.2 * (secular - c.means[SEC])
    none = rng.random(n) < 1 / (1 + np.exp(-logit_none))
    return np.where(none, NO_DENOMINATION, _draw_categorical(rng, dist, n))


def _add_missing(
    rng: np.random.Generator,
    c: CountryProfile,
    answers: dict[str, np.ndarray],
    cb: Codebook,
    models: dict[str, ItemModel],
    dk_propensity: np.ndarray,
) -> None:
    n = dk_propensity.shape[0]
    for qid, codes in answers.items():
        if qid not in cb:
            continue
        q = cb.get(qid)
        if _not_asked(c.alpha3, qid) and qid not in _PROFILE_NEVER_SKIPPED:
            codes[:] = -4
            continue
        dk_rate = models[qid].dont_know if qid in models else (0.02 if qid == "Q288" else 0.003)
        dk = np.clip(dk_rate * dk_propensity, 0.0, 0.5)
        no_answer = _NO_ANSWER_RATE * (0.5 if q.profile else 1.0)
        u = rng.random(n)
        answered = codes >= 0  # keep "not applicable" (-3) set by the profile logic
        codes[answered & (u < dk)] = -1
        codes[answered & (u >= dk) & (u < dk + no_answer)] = -2
        codes[answered & (u >= dk + no_answer) & (u < dk + no_answer + _OTHER_MISSING_RATE)] = -5


def synthetic_frame(
    n: int = 1000,
    seed: int = 0,
    countries: Sequence[str | int] | str | None = None,
    codebook: Codebook | None = None,
    missing: bool = True,
) -> pd.DataFrame:
    """WVS-shaped raw frame (``version``, ``B_COUNTRY``, ``D_INTERVIEW``, ``Q1`` ...) of *n* people."""
    if n < 1:
        raise ValueError("n must be at least 1")
    cb = codebook or load_codebook()
    wanted = resolve_country_list(countries)
    rng = np.random.default_rng(seed)
    models = {qid: item_model(cb.get(qid)) for qid in cb.substantive()}
    chol = np.linalg.cholesky(_LATENT_CORR)
    sizes = [n // len(wanted) + (1 if i < n % len(wanted) else 0) for i in range(len(wanted))]
    blocks: list[pd.DataFrame] = []
    for alpha3, size in zip(wanted, sizes):
        if size == 0:
            continue
        c = country_profile(alpha3)
        profile, cov = _profile(rng, c, size, cb)
        latent = np.asarray(c.means) + cov @ _DEMOGRAPHIC_EFFECTS + rng.normal(0, 1, (size, len(DIMENSIONS))) @ chol.T
        answers = _answers(rng, c, latent, list(models.values()))
        profile["Q289"] = _religion(rng, c, latent[:, SEC])
        cells = {**answers, **profile}
        cells = {qid: cells[qid].astype(np.int64) for qid in cb.ids() if qid in cells}
        if missing:
            dk_propensity = np.exp(rng.normal(0, 0.6, size) - 0.3 * cov[:, 2])
            _add_missing(rng, c, cells, cb, models, dk_propensity)
        numeric = country_table.numeric_of(alpha3)
        width = max(4, len(str(size)))
        meta = pd.DataFrame(
            {
                "version": f"synthetic (valuesim, seed {seed})",
                "A_WAVE": 7,
                "A_YEAR": c.survey_year,
                "B_COUNTRY": numeric,
                "B_COUNTRY_ALPHA": alpha3,
                "D_INTERVIEW": [f"{numeric}07{i:0{width}d}" for i in range(1, size + 1)],
                "W_WEIGHT": 1.0,
            }
        )
        blocks.append(pd.concat([meta, pd.DataFrame(cells)], axis=1))
    return pd.concat(blocks, ignore_index=True)


def resolve_country_list(countries: Sequence[str | int] | str | None) -> list[str]:
    """Alpha-3 codes of the countries to simulate (default :data:`DEFAULT_COUNTRIES`)."""
    resolved = resolve_countries(countries) if countries is not None else []
    return resolved or list(DEFAULT_COUNTRIES)


def generate_synthetic(
    n: int = 1000,
    seed: int = 0,
    countries: Sequence[str | int] | str | None = None,
    codebook: Codebook | None = None,
    missing: bool = True,
) -> SurveyData:
    """*n* synthetic respondents spread evenly over *countries* (default :data:`DEFAULT_COUNTRIES`).

    Deterministic for a given (n, seed, countries, codebook). ``missing=False`` gives complete
    records (every item answered), which is handy for exact tests.
    """
    raw = synthetic_frame(n=n, seed=seed, countries=countries, codebook=codebook, missing=missing)
    return survey_from_frames(raw, codebook=codebook, source=f"synthetic(n={n}, seed={seed})", synthetic=True)


def write_wvs_csv(
    data: SurveyData,
    path: str | Path,
    *,
    sep: str = ",",
    bom: bool = False,
    index_column: bool = False,
) -> Path:
    """Write *data* as a WVS-shaped CSV (compressed when *path* ends in .gz).

    Columns: ``version`` ("synthetic ..." for synthetic data), ``B_COUNTRY``,
    ``B_COUNTRY_ALPHA``, ``D_INTERVIEW`` (the respondent id) and one column per question.
    ``sep``, ``bom`` and ``index_column`` reproduce the variants found in the wild (``;``
    separator, UTF-8 byte-order mark, a leading unnamed pandas index).
    """
    out = Path(path)
    frame = to_wvs_frame(data)
    frame.to_csv(
        out,
        sep=sep,
        index=index_column,
        index_label="" if index_column else None,
        encoding="utf-8-sig" if bom else "utf-8",
        compression="infer",
    )
    return out


def to_wvs_frame(data: SurveyData) -> pd.DataFrame:
    """*data* in the file's own column layout (meta columns first, then questions)."""
    countries = data.frame["country"].astype(str)
    numeric = {a: country_table.numeric_of(a) for a in countries.unique()}
    version = "synthetic (valuesim)" if data.synthetic else data.version
    meta = pd.DataFrame(
        {
            "version": version,
            "A_WAVE": 7,
            "B_COUNTRY": countries.map(numeric).to_numpy(),
            "B_COUNTRY_ALPHA": countries.to_numpy(),
            "D_INTERVIEW": [str(i) for i in data.frame.index],
        }
    )
    codes = data.frame[data.question_ids].reset_index(drop=True)
    return pd.concat([meta, codes], axis=1)


def describe_world(codebook: Codebook | None = None, qids: Iterable[str] | None = None) -> pd.DataFrame:
    """Loadings of each value item on :data:`DIMENSIONS` (multi-option items: mean |loading|)."""
    cb = codebook or load_codebook()
    rows = {}
    for qid in qids or cb.substantive():
        m = item_model(cb.get(qid))
        rows[qid] = np.abs(m.loadings).mean(axis=0) if m.multinomial else m.loadings
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(DIMENSIONS))
