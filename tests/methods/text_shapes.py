"""SYNTHETIC survey files shaped like ESS and GSS downloads (issue 25, items 2 and 8).

Each builder writes a small labelled data file and a codebook YAML (written here, not inferred,
so these tests do not depend on ``codebook infer``) with the shapes that broke the ValueSim
method or its stories on the real files:

* three or more numeric items sharing a stem (ESS interview start/end month/day/hour/minute);
* nominal items with more than 26 options (30, 65, 71 and 99);
* placeholders in labels: ``[country]``, ``[amount]``, ``[pay/pensions/social benefits]``;
* show-card letters in answer labels ("K - 7th decile", "A. Very likely");
* missing-type labels kept as answer options ("Not applicable", "Refusal", "refused", "IAP");
* terse ESS labels ("Citizen of country", "How often fam life interfere job");
* a non-English label cut at the 120-character SPSS limit;
* no country column (GSS: the codebook names the country).

Nothing in them comes from a real survey.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

#: a Norwegian question cut at 120 characters in the middle of a word, as SPSS stores it
NORWEGIAN_CUT = (
    "Hvor enig eller uenig er du i følgende påstand: Det er viktig at myndighetene sørger for at alle "
    "innbyggere har en rimelig levestandard og tilgang til helsetjenester"
)[:120]
DECILES = {
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
}
LIKELY = {1: "A. Very likely", 2: "B. Likely", 3: "C. Unlikely", 4: "D. Very unlikely"}
OFTEN = {1: "Never", 2: "Hardly ever", 3: "Sometimes", 4: "Often", 5: "Always"}
AGREE = {1: "Agree strongly", 2: "Agree", 3: "Neither agree nor disagree", 4: "Disagree", 5: "Disagree strongly"}
FAIR = {1: "Unfairly low", 2: "Fair", 3: "Unfairly high"}
MISSING_77 = {77: "Refusal", 88: "Don't know", 99: "No answer"}
PLACES = [
    "Norway",
    "Sweden",
    "Finland",
    "Denmark",
    "Iceland",
    "Germany",
    "Poland",
    "Somalia",
    "Iraq",
    "Pakistan",
]


def _item(
    id: str,
    text: str,
    kind: str,
    *,
    options: dict[int, str] | None = None,
    missing: dict[int, str] | None = None,
    profile: bool = False,
    value_range: tuple[int, int] | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {"id": id, "text": text, "kind": kind, "profile": profile}
    if options:
        item["options"] = dict(options)
    if missing:
        item["missing"] = dict(missing)
    if value_range:
        item["value_range"] = list(value_range)
    return item


def _many(n: int, stem: str) -> dict[int, str]:
    return {i: f"{stem} {i}" for i in range(1, n + 1)}


def _draw(rng: np.random.Generator, n: int, item: dict[str, Any]) -> np.ndarray:
    if item["kind"] == "numeric":
        lo, hi = item.get("value_range") or (0, 100)
        out = rng.integers(lo, hi + 1, n).astype(float)
    else:
        codes = list(item["options"])
        out = rng.choice(codes, n).astype(float)
    missing = list(item.get("missing", {}))
    if missing:
        hit = rng.random(n) < 0.05
        out[hit] = rng.choice(missing, int(hit.sum()))
    return out


def _write(
    root: Path, stem: str, frame: pd.DataFrame, items: list[dict[str, Any]], spec: dict[str, Any], fmt: str
) -> tuple[Path, Path]:
    import pyreadstat

    labels = {i["id"]: i["text"] for i in items}
    values = {i["id"]: {**i.get("options", {}), **i.get("missing", {})} for i in items if i["kind"] != "numeric"}
    root.mkdir(parents=True, exist_ok=True)
    data = root / f"{stem}.{fmt}"
    if fmt == "sav":
        missing = {i["id"]: list(i["missing"]) for i in items if i.get("missing")}
        pyreadstat.write_sav(
            frame, str(data), column_labels=labels, variable_value_labels=values, missing_ranges=missing
        )
    else:
        pyreadstat.write_dta(frame, str(data), column_labels=labels, variable_value_labels=values)
    cb = root / f"{stem}-codebook.yaml"
    cb.write_text(yaml.safe_dump({**spec, "items": items}, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return data, cb


def ess_items() -> list[dict[str, Any]]:
    return [
        _item("agea", "Age of respondent, calculated", "numeric", profile=True, value_range=(15, 95)),
        _item("gndr", "Gender", "nominal", options={1: "Male", 2: "Female"}, missing={9: "No answer"}, profile=True),
        _item("ctzcntr", "Citizen of country", "nominal", options={1: "Yes", 2: "No"}, missing={7: "Refusal"}),
        _item(
            "cntbrthd",
            "Country of birth",
            "nominal",
            options={i + 1: p for i, p in enumerate(PLACES)} | {i: f"Place {i}" for i in range(11, 72)},
            profile=True,
        ),
        _item("hinctnta", "Household's total net income, all sources", "ordinal", options=DECILES, profile=True),
        # interview timestamps: numeric items sharing a stem
        _item("inwmms", "Start of interview, month", "numeric", value_range=(1, 12)),
        _item("inwdds", "Start of interview, day of month", "numeric", value_range=(1, 28)),
        _item("inwshh", "Start of interview, hour", "numeric", value_range=(8, 20)),
        _item("inwsmm", "Start of interview, minute", "numeric", value_range=(0, 59)),
        _item("inwehh", "End of interview, hour", "numeric", value_range=(9, 21)),
        _item("inwemm", "End of interview, minute", "numeric", value_range=(0, 59)),
        _item(
            "stfdem",
            "How satisfied with the way democracy works in [country]",
            "ordinal",
            options={1: "Satisfied", 2: "Dissatisfied"},
            missing=MISSING_77,
        ),
        _item(
            "frprtpl",
            "Political system in [country] ensures everyone fair chance to participate in politics",
            "ordinal",
            options=AGREE,
        ),
        _item(
            "grspfr",
            "Your [pay/pensions/social benefits] of [amount] is unfair or fair",
            "ordinal",
            options=FAIR,
            missing={6: "Not applicable", 7: "Refusal"},
        ),
        _item("wkjbndm", "How often fam life interfere job", "ordinal", options=OFTEN),
        _item(
            "wrkprty",
            "Worked in political party or action group last 12 months",
            "nominal",
            options={1: "Yes", 2: "No", 6: "Not applicable", 7: "refused"},
        ),
        _item("lkuemp", "How likely unemployed and looking for work next 12 months", "ordinal", options=LIKELY),
        _item("gvslvol", "Standard of living for the old, governments' responsibility", "ordinal", options=AGREE),
        _item("nwhlth", NORWEGIAN_CUT, "ordinal", options=AGREE),
        _item("prtvtbno", "Party voted for in last national election, Norway", "nominal", options=_many(30, "Party")),
        _item(
            "vteubcmb",
            "Would vote for [country] to remain member of European Union or leave",
            "nominal",
            options=_many(65, "Choice"),
        ),
        _item(
            "lnghom1", "Language most often spoken at home: first mentioned", "nominal", options=_many(99, "Language")
        ),
    ]


def write_ess_like(root: Path, n: int = 60, seed: int = 0) -> tuple[Path, Path]:
    """An ESS-like .sav (countries GB, NL, NO) and its codebook YAML; SYNTHETIC respondents."""
    rng = np.random.default_rng(seed)
    items = ess_items()
    cols: dict[str, Any] = {"idno": np.arange(1, n + 1).astype(float), "cntry": rng.choice(["GB", "NL", "NO"], n)}
    for item in items:
        cols[item["id"]] = _draw(rng, n, item)
    spec = {"name": "ess-like", "id_column": "idno", "country_column": "cntry", "roles": {"age": "agea", "sex": "gndr"}}
    return _write(root, "ess-like", pd.DataFrame(cols), items, spec, "sav")


def gss_items() -> list[dict[str, Any]]:
    return [
        _item("age", "age of respondent", "numeric", profile=True, value_range=(18, 89)),
        _item("sex", "respondents sex", "nominal", options={1: "male", 2: "female"}, profile=True),
        _item(
            "degree",
            "r's highest degree",
            "ordinal",
            options={0: "lt high school", 1: "high school", 2: "junior college", 3: "bachelor", 4: "graduate"},
            profile=True,
        ),
        _item(
            "natspac",
            "space exploration program",
            "ordinal",
            options={1: "too little", 2: "about right", 3: "too much", 0: "IAP"},
            missing={8: "DK", 9: "NA"},
        ),
        _item("cappun", "favor or oppose death penalty for murder", "nominal", options={1: "favor", 2: "oppose"}),
        _item(
            "fefam",
            "better for man to work, woman tend home",
            "ordinal",
            options={1: "strongly agree", 2: "agree", 3: "disagree", 4: "strongly disagree"},
        ),
        _item("ethnic", "country of family origin", "nominal", options=_many(41, "Origin")),
        _item("occ10", "r's census occupation code (2010)", "nominal", options=_many(540, "Occupation")),
        _item("relig16", "religion in which raised", "nominal", options=_many(13, "Religion") | {98: "don't know"}),
    ]


def write_gss_like(root: Path, n: int = 60, seed: int = 1) -> tuple[Path, Path]:
    """A GSS-like .dta (no country column: the codebook says USA) and its codebook YAML."""
    rng = np.random.default_rng(seed)
    items = gss_items()
    cols: dict[str, Any] = {"id": np.arange(1, n + 1).astype(float)}
    for item in items:
        cols[item["id"]] = _draw(rng, n, item)
    spec = {"name": "gss-like", "id_column": "id", "country": "USA", "roles": {"age": "age", "sex": "sex"}}
    return _write(root, "gss-like", pd.DataFrame(cols), items, spec, "dta")
