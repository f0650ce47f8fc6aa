"""A generated, labelled SPSS file shaped like a European social survey (SYNTHETIC respondents).

``write_labelled_example(path, n=300)`` writes ``n`` generated respondents in 3 countries
(ESS-style two-letter codes), 40 items of mixed kinds -- 0-10 rating scales with labelled
ends, agree/disagree and "like me" items, frequencies, yes/no and party choice, a numeric
item, 8 profile items -- with declared missing values (7/8/9, 77/88, 999), an id column, a
survey weight, one item without a variable label and a few answers with codes that have no
label. Answers follow three latent traits (liberalism, trust, religiosity) plus country
effects, so a method that reads a person's other answers can beat the majority vote.

It is the worked example of docs/surveys.md and the fixture of the tests for
``valuesim codebook infer`` and non-WVS data: nothing in it comes from a real survey.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from valuesim.errors import DataError

AGREE = {1: "Agree strongly", 2: "Agree", 3: "Neither agree nor disagree", 4: "Disagree", 5: "Disagree strongly"}
LIKE_ME = {
    1: "Very much like me",
    2: "Like me",
    3: "Somewhat like me",
    4: "A little like me",
    5: "Not like me",
    6: "Not like me at all",
}
OFTEN = {
    1: "Every day",
    2: "Several times a week",
    3: "Once a week",
    4: "Several times a month",
    5: "Once a month",
    6: "Less often",
    7: "Never",
}
MISSING_7 = {7: "Refusal", 8: "Don't know", 9: "No answer"}
MISSING_77 = {77: "Refusal", 88: "Don't know", 99: "No answer"}

#: (name, label, low end, high end, trait, sign)
SCALES = [
    ("trstprl", "Trust in country's parliament", "No trust at all", "Complete trust", 1, 1),
    ("trstlgl", "Trust in the legal system", "No trust at all", "Complete trust", 1, 1),
    ("trstplc", "Trust in the police", "No trust at all", "Complete trust", 1, 1),
    ("trstplt", "Trust in politicians", "No trust at all", "Complete trust", 1, 1),
    ("stflife", "How satisfied with life as a whole", "Extremely dissatisfied", "Extremely satisfied", 1, 1),
    (
        "stfeco",
        "How satisfied with present state of economy in country",
        "Extremely dissatisfied",
        "Extremely satisfied",
        1,
        1,
    ),
    (
        "stfdem",
        "How satisfied with the way democracy works in country",
        "Extremely dissatisfied",
        "Extremely satisfied",
        1,
        1,
    ),
    ("happy", "How happy are you", "Extremely unhappy", "Extremely happy", 1, 1),
    ("lrscale", "Placement on left right scale", "Left", "Right", 0, -1),
    ("rlgdgr", "How religious are you", "Not at all religious", "Very religious", 2, 1),
]
AGREES = [
    ("freehms", "Gays and lesbians free to live life as they wish", 0, -1),
    ("gincdif", "Government should reduce differences in income levels", 0, -1),
    ("euftf", "European unification should go further", 0, -1),
    ("imwbcnt", "Immigrants make country a better place to live", 0, -1),
    ("hmsacld", "Gay and lesbian couples right to adopt children", 0, -1),
    ("lrnobed", "Obedience and respect for authority most important virtues children should learn", 2, -1),
    ("loylead", "Country needs most loyalty towards its leaders", 2, -1),
    ("ccnthum", "Climate change is caused by human activity", 0, -1),
]
LIKES = [
    ("ipcrtiv", "Important to think new ideas and being creative", 0, -1),
    ("imprich", "Important to be rich, have money and expensive things", 2, 1),
    ("ipeqopt", "Important that people are treated equally and have equal opportunities", 0, -1),
    ("ipsuces", "Important to be successful and that people recognise achievements", 1, 1),
    ("impsafe", "Important to live in secure and safe surroundings", 2, -1),
    ("imptrad", "Important to follow traditions and customs", 2, -1),
]
OFTENS = [
    ("rlgatnd", "How often attend religious services apart from special occasions", 2, -1),
    ("pray", "How often pray apart from at religious services", 2, -1),
    ("sclmeet", "How often socially meet with friends, relatives or colleagues", 1, -1),
    ("netusoft", "How often use the internet", 0, -1),
]


def _ordinal(rng: np.random.Generator, score: np.ndarray, k: int) -> np.ndarray:
    """Codes 1..k from a latent score (higher score -> higher code), with noise."""
    noisy = score + rng.normal(0, 0.8, len(score))
    cuts = np.quantile(noisy, np.linspace(0, 1, k + 1)[1:-1] + rng.uniform(-0.05, 0.05, k - 1))
    return (np.searchsorted(np.sort(cuts), noisy) + 1).astype(float)


def _sprinkle(rng: np.random.Generator, codes: np.ndarray, missing: dict[int, str], rate: float) -> np.ndarray:
    out = codes.copy()
    hit = rng.random(len(out)) < rate
    out[hit] = rng.choice(list(missing), size=int(hit.sum()))
    return out


def labelled_example_frame(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The example survey as a frame plus the pyreadstat metadata keywords to write it with."""
    rng = np.random.default_rng(seed)
    country = rng.choice(["DE", "FR", "ES"], size=n, p=[0.4, 0.35, 0.25])
    offset = {"DE": np.array([0.3, 0.3, -0.3]), "FR": np.array([0.2, -0.2, -0.4]), "ES": np.array([0.0, -0.3, 0.3])}
    traits = rng.normal(0, 1, (n, 3)) + np.stack([offset[c] for c in country])  # liberal, trust, religious
    age = rng.integers(18, 91, n).astype(float)
    traits[:, 2] += (age - 50) / 40
    traits[:, 0] -= (age - 50) / 50
    cols: dict[str, np.ndarray] = {"idno": np.arange(100001, 100001 + n).astype(float), "cntry": country}
    cols["pspwght"] = np.round(rng.uniform(0.4, 2.5, n), 3)
    labels: dict[str, str] = {
        "idno": "Respondent's identification number",
        "cntry": "Country",
        "pspwght": "Post-stratification weight",
    }
    values: dict[str, dict[int, str]] = {}
    missing: dict[str, list[Any]] = {}
    measure: dict[str, str] = {}

    # profile items
    cols["agea"] = _sprinkle(rng, age, {999: "Not available"}, 0.01)
    labels["agea"], values["agea"], missing["agea"], measure["agea"] = (
        "Age of respondent, calculated",
        {999: "Not available"},
        [999],
        "scale",
    )
    cols["gndr"] = _sprinkle(rng, rng.integers(1, 3, n).astype(float), {9: "No answer"}, 0.005)
    labels["gndr"], values["gndr"], missing["gndr"] = "Gender", {1: "Male", 2: "Female", 9: "No answer"}, [9]
    edu = np.clip(np.round(3.5 + traits[:, 0] * 0.8 + rng.normal(0, 1.2, n)), 1, 7)
    cols["eisced"] = _sprinkle(rng, edu, {77: "Refusal", 88: "Don't know"}, 0.02)
    labels["eisced"] = "Highest level of education, ES - ISCED"
    values["eisced"] = {
        1: "Less than lower secondary",
        2: "Lower secondary",
        3: "Lower tier upper secondary",
        4: "Upper tier upper secondary",
        5: "Advanced vocational, sub-degree",
        6: "Lower tertiary education, BA level",
        7: "Higher tertiary education, >= MA level",
        77: "Refusal",
        88: "Don't know",
    }
    missing["eisced"], measure["eisced"] = [77, 88], "ordinal"
    cols["marsts"] = _sprinkle(
        rng,
        rng.choice([1, 2, 3, 4, 5, 6], n, p=[0.45, 0.05, 0.05, 0.1, 0.08, 0.27]).astype(float),
        {77: "Refusal"},
        0.01,
    )
    labels["marsts"] = "Legal marital status"
    values["marsts"] = {
        1: "Legally married",
        2: "In a legally registered civil union",
        3: "Legally separated",
        4: "Legally divorced/civil union dissolved",
        5: "Widowed/civil partner died",
        6: "None of these (never married or in legally registered civil union)",
        77: "Refusal",
    }
    missing["marsts"] = [77]
    income = np.clip(np.round(5.5 + edu * 0.5 - 2 + rng.normal(0, 2, n)), 1, 10)
    cols["hinctnta"] = _sprinkle(rng, income, {77: "Refusal", 88: "Don't know"}, 0.06)
    labels["hinctnta"] = "Household's total net income, all sources (decile)"
    values["hinctnta"] = {1: "J - 1st decile", 10: "H - 10th decile", 77: "Refusal", 88: "Don't know"}
    missing["hinctnta"] = [77, 88]
    cols["rlgblg"] = _sprinkle(rng, np.where(traits[:, 2] + rng.normal(0, 0.5, n) > -0.2, 1.0, 2.0), MISSING_7, 0.01)
    labels["rlgblg"], values["rlgblg"], missing["rlgblg"] = (
        "Belonging to particular religion or denomination",
        {1: "Yes", 2: "No", **MISSING_7},
        [7, 8, 9],
    )
    cols["domicil"] = rng.choice([1, 2, 3, 4, 5], n, p=[0.2, 0.15, 0.3, 0.25, 0.1]).astype(float)
    labels["domicil"] = "Domicile, respondent's description"
    values["domicil"] = {
        1: "A big city",
        2: "Suburbs or outskirts of big city",
        3: "Town or small city",
        4: "Country village",
        5: "Farm or home in countryside",
    }
    cols["chldhhe"] = np.where(rng.random(n) < 0.4, 1.0, 2.0)
    labels["chldhhe"], values["chldhhe"] = "Ever had children living in household", {1: "Yes", 2: "No"}

    # value items
    for name, label, lo, hi, trait, sign in SCALES:
        score = sign * traits[:, trait] * 2.2 + 5 + rng.normal(0, 1.6, n)
        cols[name] = _sprinkle(rng, np.clip(np.round(score), 0, 10), {77: "Refusal", 88: "Don't know"}, 0.03)
        labels[name], values[name], missing[name] = label, {0: lo, 10: hi, 77: "Refusal", 88: "Don't know"}, [77, 88]
    for name, label, trait, sign in AGREES:
        cols[name] = _sprinkle(rng, _ordinal(rng, -sign * -traits[:, trait], 5), MISSING_7, 0.03)
        labels[name], values[name], missing[name], measure[name] = label, {**AGREE, **MISSING_7}, [7, 8, 9], "ordinal"
    for name, label, trait, sign in LIKES:
        cols[name] = _sprinkle(rng, _ordinal(rng, -sign * traits[:, trait], 6), MISSING_7, 0.02)
        labels[name], values[name], missing[name] = label, {**LIKE_ME, **MISSING_7}, [7, 8, 9]
    for name, label, trait, sign in OFTENS:
        cols[name] = _sprinkle(rng, _ordinal(rng, sign * -traits[:, trait] * -1, 7), MISSING_77, 0.02)
        labels[name], values[name], missing[name] = label, {**OFTEN, **MISSING_77}, [77, 88, 99]
    cols["vote"] = _sprinkle(rng, np.where(traits[:, 1] + rng.normal(0, 1, n) > -0.8, 1.0, 2.0), MISSING_7, 0.02)
    labels["vote"], values["vote"], missing["vote"] = (
        "Voted last national election",
        {1: "Yes", 2: "No", 3: "Not eligible to vote", **MISSING_7},
        [7, 8, 9],
    )
    party = np.select(
        [traits[:, 0] > 0.8, traits[:, 0] > 0, traits[:, 2] > 0.5, traits[:, 1] < -1],
        [1.0, 2.0, 3.0, 5.0],
        4.0,
    )
    cols["prtcl"] = _sprinkle(rng, party, {66: "Not applicable", 77: "Refusal", 88: "Don't know"}, 0.05)
    labels["prtcl"] = "Which party feel closer to"
    values["prtcl"] = {
        1: "Green party",
        2: "Social democrats",
        3: "Christian democrats",
        4: "Liberals",
        5: "National party",
        66: "Not applicable",
        77: "Refusal",
        88: "Don't know",
    }
    missing["prtcl"] = [66, 77, 88]
    cols["tvtot"] = np.clip(np.round(rng.gamma(2.0, 1.2, n) - traits[:, 0] * 0.3), 0, 16)
    labels["tvtot"] = "TV watching, total time on average weekday (hours)"
    measure["tvtot"] = "scale"
    # an item without a variable label, and answers with codes that have no label
    cols["imdfetn"] = _sprinkle(rng, _ordinal(rng, -traits[:, 0], 4), MISSING_7, 0.02)
    values["imdfetn"] = {
        1: "Allow many to come and live here",
        2: "Allow some",
        3: "Allow a few",
        4: "Allow none",
        **MISSING_7,
    }
    missing["imdfetn"], measure["imdfetn"] = [7, 8, 9], "ordinal"
    odd = rng.choice(n, 4, replace=False)
    cols["euftf"][odd] = 6.0  # code 6 has no label (a data-entry code left in the file)
    frame = pd.DataFrame(cols)
    meta = {
        "column_labels": {c: labels[c] for c in frame.columns if c in labels},
        "variable_value_labels": values,
        "missing_ranges": {k: list(v) for k, v in missing.items()},
        "variable_measure": {**{c: "nominal" for c in frame.columns}, **measure},
    }
    return frame, meta


def write_labelled_example(path: str | Path, n: int = 300, seed: int = 0) -> Path:
    """Write the example survey (SYNTHETIC) as an SPSS .sav file with labels and missing values."""
    import pyreadstat

    frame, meta = labelled_example_frame(n, seed)
    p = Path(path).expanduser()
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        pyreadstat.write_sav(frame, str(p), file_label="SYNTHETIC example survey (valuesim)", **meta)
    except (pyreadstat.PyreadstatError, pyreadstat.ReadstatError) as e:  # e.g. a directory nobody can write
        raise DataError(
            f"Cannot write {p}: {str(e).split('. The file may be')[0].rstrip('.')}.",
            "Pick a path in a directory you can write to, e.g. example.sav in the current directory.",
        ) from None
    return p
