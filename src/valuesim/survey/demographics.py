"""Who a respondent is: sex, age, age band and country, read from the codebook's roles.

Every part of ValueSim that groups people by who they are -- the demographic-majority
baseline, the distributions of ``valuesim simulate`` and its report, the viewer's People
filters -- reads them here, so a survey other than WVS-7 works as soon as its codebook names
its ``sex`` and ``age`` items (``roles`` in the codebook file; ``valuesim codebook infer``
guesses them): nothing here knows a WVS question id.

- **sex**: the code of the codebook's ``sex`` item when it is a valid answer of that item
  (declared missing values are negative codes after loading; an option whose label names a
  missing answer, e.g. 9 "No answer", is not a sex either), and its label;
- **age**: the value of the ``age`` item when it is a valid answer (within its value range);
- **age band**: the band of that age between :data:`AGE_EDGES` (lower bounds of the bands
  after the first), labelled by :func:`band_labels` ("under 30", "30-49", "50 and over");
- **country**: the respondent's country code, None when the data has no country
  (:data:`~valuesim.survey.loaders.UNKNOWN_COUNTRY`).

A survey whose codebook names no ``sex`` (``age``) item has every person's sex (age) unknown.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from valuesim.survey.codebook import Codebook, Question, QuestionKind, is_missing_label
from valuesim.survey.dataset import SurveyData
from valuesim.survey.loaders import UNKNOWN_COUNTRY

#: Lower age bounds of the bands after the first: under 30, 30-49, 50 and over.
AGE_EDGES: tuple[int, ...] = (30, 50)


def band_labels(edges: Sequence[int] = AGE_EDGES) -> tuple[str, ...]:
    """The labels of the age bands cut at ``edges``: ("under 30", "30-49", "50 and over")."""
    if not edges:
        return ("all ages",)
    inner = [f"{lo}-{hi - 1}" for lo, hi in itertools.pairwise(edges)]
    return (f"under {edges[0]}", *inner, f"{edges[-1]} and over")


#: The age-band labels at :data:`AGE_EDGES`, youngest first.
AGE_BANDS: tuple[str, ...] = band_labels()


def sort_bands(labels: Sequence[str], edges: Sequence[int] = AGE_EDGES) -> list[str]:
    """Age-band labels youngest first; anything else ("unknown") after them, in the order given."""
    rank = {label: i for i, label in enumerate(band_labels(edges))}
    return sorted(dict.fromkeys(labels), key=lambda label: rank.get(label, len(rank)))


def band_index(age: float | None, edges: Sequence[int] = AGE_EDGES) -> int:
    """Index of the age band of ``age`` (0 = below the first edge); -1 when the age is unknown."""
    if age is None or not np.isfinite(age) or age < 0:
        return -1
    return int(np.searchsorted(np.asarray(edges), age, side="right"))


def age_band(age: float | None, edges: Sequence[int] = AGE_EDGES) -> str | None:
    """The label of the age band of ``age`` (:func:`band_labels`); None when the age is unknown."""
    i = band_index(age, edges)
    return None if i < 0 else band_labels(edges)[i]


def age_bands(ages: np.ndarray, edges: Sequence[int] = AGE_EDGES, unknown: str = "") -> np.ndarray:
    """:func:`age_band` of every age of an array (NaN or negative: ``unknown``)."""
    ages = np.asarray(ages, dtype=np.float64)
    labels = np.array((unknown, *band_labels(edges)), dtype=object)
    idx = np.searchsorted(np.asarray(edges), np.nan_to_num(ages, nan=-1.0), side="right") + 1
    idx[~np.isfinite(ages) | (ages < 0)] = 0
    return labels[idx]


# --------------------------------------------------------------------------- the items


def sex_item(codebook: Codebook) -> Question | None:
    """The codebook's ``sex`` item (None when it names none)."""
    qid = codebook.role("sex")
    return codebook.get(qid) if qid else None


def age_item(codebook: Codebook) -> Question | None:
    """The codebook's ``age`` item (None when it names none)."""
    qid = codebook.role("age")
    return codebook.get(qid) if qid else None


def sex_codes(q: Question) -> dict[int, str]:
    """The codes of a sex item that name a sex, with their labels (no missing-type options)."""
    return {c: label for c, label in q.options.items() if q.is_valid(c) and not is_missing_label(label)}


def _sex(q: Question | None, code: float | None) -> int | None:
    if q is None or code is None or not np.isfinite(code) or code != int(code):
        return None
    return int(code) if int(code) in sex_codes(q) else None


def _age(q: Question | None, value: float | None) -> float | None:
    if q is None or value is None or not np.isfinite(value) or value < 0:
        return None
    if q.kind is QuestionKind.NUMERIC and value == int(value) and not q.is_valid(int(value)):
        return None
    return float(value)


# --------------------------------------------------------------------------- one person


def sex_code(codebook: Codebook, answers: Mapping[str, int | float]) -> int | None:
    """The person's sex code (a valid option of the ``sex`` item), None when unknown."""
    q = sex_item(codebook)
    return _sex(q, answers.get(q.id) if q else None)


def sex_label(codebook: Codebook, answers: Mapping[str, int | float]) -> str | None:
    """The label of the person's sex ("Male", "female" ... as the codebook has it), None when unknown."""
    q = sex_item(codebook)
    code = _sex(q, answers.get(q.id) if q else None)
    return None if q is None or code is None else q.options[code]


def age(codebook: Codebook, answers: Mapping[str, int | float]) -> float | None:
    """The person's age (a valid value of the ``age`` item), None when unknown."""
    q = age_item(codebook)
    return _age(q, answers.get(q.id) if q else None)


def country(code: str | None) -> str | None:
    """The respondent's country code, None when the data has none."""
    return None if not code or code == UNKNOWN_COUNTRY else str(code)


# --------------------------------------------------------------------------- many people


def sex_values(codebook: Codebook, values: np.ndarray) -> np.ndarray:
    """The sex codes of a column of the ``sex`` item as floats (NaN when not a sex)."""
    q = sex_item(codebook)
    out = np.asarray(values, dtype=np.float64).copy()
    if q is None:
        return np.full(out.shape, np.nan)
    out[~np.isin(out, list(sex_codes(q)))] = np.nan
    return out


def age_values(codebook: Codebook, values: np.ndarray) -> np.ndarray:
    """The ages of a column of the ``age`` item as floats (NaN when not a valid age)."""
    q = age_item(codebook)
    out = np.asarray(values, dtype=np.float64).copy()
    if q is None:
        return np.full(out.shape, np.nan)
    bad = ~np.isfinite(out) | (out < 0)
    if q.kind is QuestionKind.NUMERIC and q.value_range is not None:
        lo, hi = q.value_range
        bad |= (out == np.round(out)) & ((out < lo) | (out > hi))
    out[bad] = np.nan
    return out


def table(data: SurveyData, edges: Sequence[int] = AGE_EDGES) -> pd.DataFrame:
    """index = respondent id; ``country`` (the data's code, ``unknown`` when it has none),
    ``sex`` (label, "" when unknown), ``age`` (float, NaN when unknown) and ``age_band``
    ("" when unknown)."""
    f = data.frame
    cb = data.codebook
    out = pd.DataFrame(index=f.index.astype(str))
    out["country"] = f["country"].astype(str).to_numpy()
    sq, aq = sex_item(cb), age_item(cb)
    if sq is not None and sq.id in f.columns:
        codes = sex_values(cb, f[sq.id].to_numpy())
        labels = sex_codes(sq)
        out["sex"] = [labels[int(c)] if np.isfinite(c) else "" for c in codes]
    else:
        out["sex"] = ""
    out["age"] = age_values(cb, f[aq.id].to_numpy()) if aq is not None and aq.id in f.columns else np.nan
    out["age_band"] = age_bands(out["age"].to_numpy(np.float64), edges)
    return out
