"""Labelled files shaped like real ESS round 9 (SPSS) and GSS 2018 (Stata) downloads.

Generated (SYNTHETIC respondents) with the variable names, labels, value labels and missing
codes those codebooks use, and the patterns that broke ``codebook infer`` on the real files:
0-10 scales whose inner points are labelled "1".."9", 77/88/99 and 7/8/9 missing codes,
unlabelled 98/99 beside 8/9 DK/NA, valid negative codes (-4 ... 4), category codes that look
like a range (eisced 0..7 + 55, vteubcmb 1..65), quantities with a labelled special code
("89 or older", "It depends", "Never"), interview timestamps, design variables, split-ballot
groups, flag items, interviewer variables, weights, all-blank columns, items about other
people that mention sex or age, and (GSS) no country column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

M77 = {77: "Refusal", 88: "Don't know", 99: "No answer"}
M7 = {7: "Refusal", 8: "Don't know", 9: "No answer"}
M777 = {7777: "Refusal", 8888: "Don't know", 9999: "No answer"}


def _sprinkle(rng: np.random.Generator, values: np.ndarray, codes: list[int], share: float) -> np.ndarray:
    out = values.astype(float).copy()
    hit = rng.random(len(out)) < share
    out[hit] = rng.choice(codes, int(hit.sum()))
    return out


def write_ess(path: Path, n: int = 240, seed: int = 0, countries: tuple[str, ...] = ("NO",)) -> Path:
    """An ESS round 9 file (one country file, Norway, by default), SPSS, with the shapes of the real one;
    with several *countries*, ``idno`` repeats across countries as in the integrated file."""
    import pyreadstat

    rng = np.random.default_rng(seed)
    trait = rng.normal(0, 1, n)
    cols: dict[str, np.ndarray | list[str]] = {}
    labels: dict[str, str] = {}
    values: dict[str, dict[int, str]] = {}
    missing: dict[str, list[int]] = {}

    def add(name: str, label: str, data: np.ndarray, vals: dict[int, str] | None = None, miss: list[int] | None = None):
        cols[name] = data
        labels[name] = label
        if vals:
            values[name] = vals
        if miss:
            missing[name] = miss

    cols["name"] = ["ESS9e03_1"] * n
    labels["name"] = "Title of dataset"
    add("essround", "ESS round", np.full(n, 9.0))
    cols["edition"] = ["3.1"] * n
    labels["edition"] = "Edition"
    country = np.array(countries)[np.arange(n) % len(countries)]
    idno = np.zeros(n)
    for c in countries:
        idno[country == c] = np.arange(1, int((country == c).sum()) + 1) + 100000
    add("idno", "Respondent's identification number", idno)
    cols["cntry"] = list(country)
    labels["cntry"] = "Country"
    for w, lab in [
        ("dweight", "Design weight"),
        ("pspwght", "Post-stratification weight including design weight"),
        ("pweight", "Population size weight (must be combined with dweight or pspwght)"),
        ("anweight", "Analysis weight"),
    ]:
        add(w, lab, rng.uniform(0.5, 1.5, n))
    ends = {
        "ppltrst": (
            "Most people can be trusted or you can't be too careful",
            "You can't be too careful",
            "Most people can be trusted",
        ),
        "trstprl": ("Trust in country's parliament", "No trust at all", "Complete trust"),
        "stfdem": (
            "How satisfied with the way democracy works in country",
            "Extremely dissatisfied",
            "Extremely satisfied",
        ),
        "stfedu": ("State of education in country nowadays", "Extremely bad", "Extremely good"),
        "lrscale": ("Placement on left right scale", "Left", "Right"),
        "happy": ("How happy are you", "Extremely unhappy", "Extremely happy"),
        "stflife": ("How satisfied with life as a whole", "Extremely dissatisfied", "Extremely satisfied"),
    }
    for name, (label, lo, hi) in ends.items():
        data = np.clip(np.round(5 + 2 * trait + rng.normal(0, 1.5, n)), 0, 10)
        inner = {c: str(c) for c in range(1, 10)}  # ESS labels the inner points "1" .. "9"
        add(name, label, _sprinkle(rng, data, [77, 88], 0.03), {0: lo, **inner, 10: hi, **M77}, [77, 88, 99])
    add(
        "imsmetn",
        "Allow many/few immigrants of same race/ethnic group as majority",
        _sprinkle(rng, np.clip(np.round(2.2 - trait * 0.6 + rng.normal(0, 0.6, n)), 1, 4), [7, 8], 0.03),
        {1: "Allow many to come and live here", 2: "Allow some", 3: "Allow a few", 4: "Allow none", **M7},
        [7, 8, 9],
    )
    add(
        "freehms",
        "Gays and lesbians free to live life as they wish",
        _sprinkle(rng, np.clip(np.round(2 - trait * 0.7 + rng.normal(0, 0.7, n)), 1, 5), [7, 8], 0.02),
        {1: "Agree strongly", 2: "Agree", 3: "Neither agree nor disagree", 4: "Disagree", 5: "Disagree strongly", **M7},
        [7, 8, 9],
    )
    add(
        "dscrgnd",
        "Discrimination of respondent's group: gender",
        (rng.random(n) < 0.05).astype(float),
        {0: "Not marked", 1: "Marked", **M7},
        [7, 8, 9],
    )
    add(
        "vteubcmb",
        "Would vote for [country] to remain member of European Union or leave",
        _sprinkle(rng, rng.choice([1, 2, 33, 44, 55, 65], n, p=[0.5, 0.3, 0.05, 0.02, 0.08, 0.05]), [77, 88], 0.03),
        {
            1: "Remain member of the European Union",
            2: "Leave the European Union",
            33: "Submit blank ballot paper",
            44: "Spoil the ballot paper",
            55: "Would not vote",
            65: "Not eligible to vote",
            **M77,
        },
        [77, 88, 99],
    )
    add(
        "grspfr",
        "Would you say your gross pay is unfairly low, fair, or unfairly high",
        _sprinkle(rng, np.clip(np.round(rng.normal(-0.5, 1.5, n)), -4, 4), [66, 88], 0.2),
        {
            -4: "Low, extremely unfair",
            **{c: str(c) for c in (-3, -2, -1, 1, 2, 3)},
            0: "Fair",
            4: "High, extremely unfair",
            66: "Not applicable",
            **M77,
        },
        [66, 77, 88, 99],
    )
    add(
        "ageoage",
        "Age become old",
        _sprinkle(rng, np.round(rng.normal(68, 8, n)), [0, 777, 888], 0.06),
        {0: "Never", 777: "Refusal", 888: "Don't know", 999: "No answer"},
        [777, 888, 999],
    )
    add(
        "lvpntyr",
        "Year first left parents for living separately for 2 months or more",
        _sprinkle(rng, np.round(rng.uniform(1960, 2017, n)), [0, 1111, 8888], 0.05),
        {0: "Never left parents", 1111: "Still living with parents", **M777},
        [7777, 8888, 9999],
    )
    add("spltadmd", "Administration of split ballot, group", rng.choice([1.0, 2.0], n), {1: "Group A", 2: "Group B"})
    add(
        "hincfel_f",
        "Don't know/refusal flag: feeling about household's income",
        (rng.random(n) < 0.03).astype(float),
        {0: "Not flagged", 1: "Flagged"},
    )
    # profile
    sex = rng.choice([1.0, 2.0], n)
    add("gndr", "Gender", _sprinkle(rng, sex, [9], 0.005), {1: "Male", 2: "Female", 9: "No answer"}, [9])
    add(
        "gndr2",
        "Gender of second person in household",
        rng.choice([1.0, 2.0, 6.0], n),
        {1: "Male", 2: "Female", 6: "Not applicable", **M7},
        [6, 7, 8, 9],
    )
    age = rng.integers(16, 90, n).astype(float)
    add("agea", "Age of respondent, calculated", age, {999: "Not available"}, [999])
    add("yrbrn", "Year of birth", _sprinkle(rng, 2018 - age, [7777], 0.01), M777, [7777, 8888, 9999])
    add(
        "eduyrs",
        "Years of full-time education completed",
        _sprinkle(rng, np.round(rng.normal(13, 3, n)), [77], 0.01),
        M77,
        [77, 88, 99],
    )
    add(
        "eisced",
        "Highest level of education, ES - ISCED",
        _sprinkle(rng, rng.choice([1, 2, 3, 4, 5, 6, 7, 55], n), [77], 0.01),
        {
            0: "Not possible to harmonise into ES-ISCED",
            1: "ES-ISCED I , less than lower secondary",
            2: "ES-ISCED II, lower secondary",
            3: "ES-ISCED IIIb, lower tier upper secondary",
            4: "ES-ISCED IIIa, upper tier upper secondary",
            5: "ES-ISCED IV, advanced vocational, sub-degree",
            6: "ES-ISCED V1, lower tertiary education, BA level",
            7: "ES-ISCED V2, higher tertiary education, >= MA level",
            55: "Other",
            **M77,
        },
        [77, 88, 99],
    )
    add(
        "hinctnta",
        "Household's total net income, all sources",
        _sprinkle(rng, rng.integers(1, 11, n).astype(float), [77, 88], 0.06),
        {
            1: "J - 1st decile",
            2: "R - 2nd decile",
            3: "C - 3rd decile",
            4: "M - 4th decile",
            5: "F - 5th decile",
            6: "S - 6th decile",
            7: "K - 7th decile",
            8: "P - 8th decile",
            9: "D - 9th decile",
            10: "H - 10th decile",
            **M77,
        },
        [77, 88, 99],
    )
    add(
        "domicil",
        "Domicile, respondent's description",
        rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], n),
        {
            1: "A big city",
            2: "Suburbs or outskirts of big city",
            3: "Town or small city",
            4: "Country village",
            5: "Farm or home in countryside",
            **M7,
        },
        [7, 8, 9],
    )
    add(
        "ctzcntr", "Citizen of country", rng.choice([1.0, 2.0], n, p=[0.93, 0.07]), {1: "Yes", 2: "No", **M7}, [7, 8, 9]
    )
    add(
        "prtvtdfi",
        "Party voted for in last national election, Finland",
        np.full(n, np.nan),
        {1: "National Coalition Party", 2: "Finns Party", 66: "Not applicable", **M77},
        [66, 77, 88, 99],
    )
    # design and administration
    add("stratum", "Sampling stratum", rng.integers(1, 40, n).astype(float))
    add("psu", "Primary sampling unit", rng.integers(1, 300, n).astype(float))
    stamps = {
        "inwyys": ("Start of interview, year", 2018, 2019),
        "inwmms": ("Start of interview, month", 1, 13),
        "inwdds": ("Start of interview, day of month", 1, 29),
        "inwshh": ("Start of interview, hour", 8, 22),
        "inwsmm": ("Start of interview, minute", 0, 60),
        "inwyye": ("End of interview, year", 2018, 2019),
        "inwmme": ("End of interview, month", 1, 13),
        "inwdde": ("End of interview, day of month", 1, 29),
        "inwehh": ("End of interview, hour", 8, 22),
        "inwemm": ("End of interview, minute", 0, 60),
        "inwtm": ("Interview length in minutes, main questionnaire", 30, 120),
    }
    for name, (label, lo, hi) in stamps.items():
        add(
            name,
            label,
            rng.integers(lo, hi, n).astype(float),
            {9999: "No answer"} if "year" in label else None,
            [9999] if "year" in label else None,
        )
    frame = pd.DataFrame(cols)
    pyreadstat.write_sav(
        frame,
        str(path),
        file_label="SYNTHETIC file shaped like ESS round 9 (valuesim tests)",
        column_labels=labels,
        variable_value_labels=values,
        missing_ranges={k: (list(v) if len(v) <= 3 else [{"lo": min(v), "hi": max(v)}]) for k, v in missing.items()},
    )
    return path


def write_gss(path: Path, n: int = 240, seed: int = 0) -> Path:
    """A GSS 2018 cross-section, Stata, no country column. Respondent id 1 is a woman of 74."""
    import pyreadstat

    rng = np.random.default_rng(seed)
    trait = rng.normal(0, 1, n)
    cols: dict[str, np.ndarray] = {}
    labels: dict[str, str] = {}
    values: dict[str, dict[int, str]] = {}

    def add(name: str, label: str, data: np.ndarray, vals: dict[int, str] | None = None) -> None:
        cols[name] = np.asarray(data, dtype=float)
        labels[name] = label
        if vals:
            values[name] = vals

    add("year", "gss year for this respondent", np.full(n, 2018))
    add("id", "respondent id number", np.arange(1, n + 1))
    add("ballot", "ballot used for interview", rng.choice([1, 2, 3], n), {1: "ballot a", 2: "ballot b", 3: "ballot c"})
    add("sample", "sampling frame and method", np.full(n, 10), {10: "2010 fp"})
    add("vstrat", "variance stratum", rng.integers(3301, 3360, n))
    add("vpsu", "variance primary sampling unit", rng.integers(1, 3, n))
    for w in ("wtssall", "wtssnr", "wtssps"):
        add(w, "weight variable", rng.uniform(0.4, 2.5, n))
    sex = rng.choice([1, 2], n)
    age = rng.integers(18, 90, n).astype(float)
    age[rng.random(n) < 0.02] = 99
    sex[0], age[0] = 2, 74  # respondent 1: a woman of 74
    add("sex", "respondents sex", sex, {1: "male", 2: "female"})
    add("age", "age of respondent", age, {89: "89 or older", 98: "dk", 99: "na"})
    kid = np.round(rng.normal(25, 4, n))
    kid[rng.random(n) < 0.3] = np.nan  # iap
    kid[0] = 21
    add("agekdbrn", "r's age when 1st child born", kid, {98: "dk", 99: "na"})
    add(
        "acqntsex",
        "was one of r's partners an acquaintance",
        rng.choice([1, 2, 8], n),
        {1: "yes", 2: "no", 8: "dk", 9: "na"},
    )
    add(
        "degree",
        "r's highest degree",
        rng.choice([0, 1, 2, 3, 4], n),
        {0: "lt high school", 1: "high school", 2: "junior college", 3: "bachelor", 4: "graduate", 8: "dk", 9: "na"},
    )
    add(
        "educ", "highest year of school completed", np.clip(np.round(rng.normal(13, 3, n)), 0, 20), {98: "dk", 99: "na"}
    )
    inc = rng.integers(1, 13, n).astype(float)
    inc[rng.random(n) < 0.05] = 98
    inc[rng.random(n) < 0.02] = 13
    add(
        "income",
        "total family income",
        inc,
        {
            1: "lt $1000",
            2: "$1000 to 2999",
            3: "$3000 to 3999",
            4: "$4000 to 4999",
            5: "$5000 to 5999",
            6: "$6000 to 6999",
            7: "$7000 to 7999",
            8: "$8000 to 9999",
            9: "$10000 - 14999",
            10: "$15000 - 19999",
            11: "$20000 - 24999",
            12: "$25000 or more",
            13: "refused",
            98: "dk",
        },
    )
    add("race", "race of respondent", rng.choice([1, 2, 3], n, p=[0.7, 0.2, 0.1]), {1: "white", 2: "black", 3: "other"})
    add(
        "marital",
        "marital status",
        rng.choice([1, 2, 3, 4, 5], n),
        {1: "married", 2: "widowed", 3: "divorced", 4: "separated", 5: "never married", 9: "na"},
    )
    childs = rng.integers(0, 9, n)
    add("childs", "number of children", childs, {8: "eight or more", 9: "dk na"})
    add(
        "region",
        "region of interview",
        rng.integers(1, 10, n),
        {
            1: "new england",
            2: "middle atlantic",
            3: "e. nor. central",
            4: "w. nor. central",
            5: "south atlantic",
            6: "e. sou. central",
            7: "w. sou. central",
            8: "mountain",
            9: "pacific",
        },
    )
    add(
        "relig",
        "rs religious preference",
        rng.choice([1, 2, 3, 4], n),
        {1: "protestant", 2: "catholic", 3: "jewish", 4: "none", 98: "dk", 99: "na"},
    )
    pol = np.clip(np.round(4 + 1.3 * trait + rng.normal(0, 0.8, n)), 1, 7)
    pol[rng.random(n) < 0.03] = 8
    pol[rng.random(n) < 0.02] = 98  # unlabelled 98/99 beside the labelled 8/9 (the real file has both)
    pol[rng.random(n) < 0.01] = 99
    add(
        "polviews",
        "think of self as liberal or conservative",
        pol,
        {
            1: "extremely liberal",
            2: "liberal",
            3: "slightly liberal",
            4: "moderate",
            5: "slghtly conservative",
            6: "conservative",
            7: "extrmly conservative",
            8: "dk",
            9: "na",
        },
    )
    for name, label in [
        ("cappun", "favor or oppose death penalty for murder"),
        ("gunlaw", "favor or oppose gun permits"),
    ]:
        v = np.where(trait + rng.normal(0, 0.8, n) > 0, 1, 2).astype(float)
        v[rng.random(n) < 0.3] = 0
        add(name, label, v, {0: "iap", 1: "favor", 2: "oppose", 8: "dk", 9: "na"})
    add(
        "happy",
        "general happiness",
        rng.choice([1, 2, 3], n),
        {1: "very happy", 2: "pretty happy", 3: "not too happy", 8: "dk", 9: "na", 0: "iap"},
    )
    for name, label in [
        ("natspac", "space exploration program"),
        ("natenvir", "improving protecting environment"),
        ("natheal", "improving protecting nations health"),
        ("natcity", "solving problems of big cities"),
    ]:
        add(
            name,
            label,
            np.clip(np.round(2 + 0.5 * trait + rng.normal(0, 0.7, n)), 1, 3),
            {1: "too little", 2: "about right", 3: "too much", 8: "dk", 9: "na", 0: "iap"},
        )
    for name, label in [
        ("trust", "can people be trusted"),
        ("fair", "people fair or try to take advantage"),
        ("helpful", "people helpful or looking out for selves"),
    ]:
        add(name, label, rng.choice([1, 2, 3], n), {1: "most of the time", 2: "depends", 3: "never", 8: "dk", 9: "na"})
    add(
        "conclerg",
        "confidence in organized religion",
        rng.choice([1, 2, 3], n),
        {1: "a great deal", 2: "only some", 3: "hardly any", 8: "dk", 9: "na", 0: "iap"},
    )
    tv = np.round(rng.exponential(3, n))
    tv[rng.random(n) < 0.03] = 97
    add("tvhours", "hours per day watching tv", tv, {97: "It depends", 98: "dk", 99: "na"})
    occ = rng.integers(10, 9900, n).astype(float)
    occ[rng.random(n) < 0.02] = 9997
    add("occ10", "r's census occupation code (2010)", occ, {9997: "uncodeable"})
    add("intage", "interviewer's age", rng.integers(25, 80, n))
    add("intethn", "race of interviewer", rng.choice([1, 2, 3], n), {1: "white", 2: "black", 3: "other"})
    add("intsex", "sex of interviewer", rng.choice([1, 2], n), {1: "male", 2: "female"})
    add("dateintv", "date of interview", rng.integers(401, 1130, n))
    add("lngthinv", "length of interview", rng.integers(40, 150, n))
    add("spkath", "allow anti-religionist to speak", np.full(n, np.nan), {1: "allowed", 2: "not allowed"})
    pyreadstat.write_dta(
        pd.DataFrame(cols),
        str(path),
        file_label="SYNTHETIC file shaped like GSS 2018",
        column_labels=labels,
        variable_value_labels=values,
    )
    return path
