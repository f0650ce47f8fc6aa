"""Country codes used by WVS-7: ISO 3166-1 numeric <-> alpha-3 <-> English short name.

The table (``data/countries.json``) holds every current ISO 3166-1 country plus a few codes the
WVS files use that are not current ISO entries: former codes that still appear as countries of
birth (e.g. 736 = Sudan before 2011, 810 = Soviet Union) and the WVS/EVS code 909 = Northern
Ireland (alpha-3 ``NIR``), which WVS-7 surveys as a country of its own.

Unknown codes:

* :func:`country_name`, :func:`numeric_from_alpha3` (alias :func:`numeric_of`) and :func:`resolve`
  raise :class:`~valuesim.errors.DataError` with a hint;
* :func:`find_country` and :func:`alpha3_from_numeric` return ``None`` (data files may carry a code
  the table does not know; the caller decides what to do with such rows).
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from valuesim.errors import DataError

_HINT = "Use an ISO 3166-1 numeric code (e.g. 276) or alpha-3 code (e.g. DEU)."

#: Other common English names -> alpha-3, for :func:`resolve` (the table's own names always work).
ALIASES: dict[str, str] = {
    "bosnia": "BIH",
    "britain": "GBR",
    "great britain": "GBR",
    "uk": "GBR",
    "burma": "MMR",
    "cape verde": "CPV",
    "czech republic": "CZE",
    "east timor": "TLS",
    "holland": "NLD",
    "hong kong sar": "HKG",
    "iran, islamic republic of": "IRN",
    "ivory coast": "CIV",
    "korea": "KOR",
    "republic of korea": "KOR",
    "korea, republic of": "KOR",
    "macau": "MAC",
    "macedonia": "MKD",
    "russian federation": "RUS",
    "swaziland": "SWZ",
    "turkiye": "TUR",
    "united states of america": "USA",
    "us": "USA",
    "viet nam": "VNM",
    "democratic republic of the congo": "COD",
    "republic of the congo": "COG",
}


@dataclass(frozen=True)
class Country:
    numeric: int
    alpha3: str
    name: str
    status: str = "iso"  # "iso" (current), "historical" (former ISO code) or "wvs" (WVS-specific)
    note: str = ""
    alpha2: str = ""  # ISO 3166-1 alpha-2 (ESS, EVS, Eurostat files), current codes only


@dataclass(frozen=True)
class _Table:
    by_numeric: dict[int, Country]
    by_alpha3: dict[str, Country]
    by_name: dict[str, Country]
    by_alpha2: dict[str, Country]


def _fold(text: str) -> str:
    """Lower case without accents or extra spaces, for name matching."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(plain.lower().replace("’", "'").split())


@lru_cache(maxsize=1)
def _table() -> _Table:
    text = resources.files("valuesim.survey").joinpath("data/countries.json").read_text("utf-8")
    by_numeric: dict[int, Country] = {}
    by_alpha3: dict[str, Country] = {}
    for key, entry in json.loads(text).items():
        c = Country(
            int(key),
            entry["alpha3"],
            entry["name"],
            entry.get("status", "iso"),
            entry.get("note", ""),
            entry.get("alpha2", ""),
        )
        by_numeric[c.numeric] = c
        # An alpha-3 code may belong to a current and a former numeric code (SDN: 729 and 736):
        # the current one wins.
        if c.alpha3 not in by_alpha3 or c.status != "historical":
            by_alpha3[c.alpha3] = c
    by_name = {_fold(c.name): c for c in by_numeric.values() if c.status != "historical"}
    for alias, alpha3 in ALIASES.items():
        by_name.setdefault(_fold(alias), by_alpha3[alpha3])
    by_alpha2 = {c.alpha2: c for c in by_numeric.values() if c.alpha2}
    return _Table(by_numeric, by_alpha3, by_name, by_alpha2)


def all_countries() -> list[Country]:
    """Every entry of the table, ordered by numeric code."""
    return sorted(_table().by_numeric.values(), key=lambda c: c.numeric)


def find_country(code: int | str) -> Country | None:
    """The country for a numeric code (int or digit string), an alpha-3 code or an alpha-2 code
    (``"DE"``, as ESS/EVS files carry them); ``None`` if unknown."""
    table = _table()
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return table.by_numeric.get(code)
    if isinstance(code, str):
        key = code.strip()
        if key.isdigit():
            return table.by_numeric.get(int(key))
        if len(key) == 2:
            return table.by_alpha2.get(key.upper())
        return table.by_alpha3.get(key.upper())
    return None


def _get(code: int | str) -> Country:
    country = find_country(code)
    if country is None:
        raise DataError(f"Unknown country code {code!r}.", _HINT)
    return country


def country_name(code: int | str) -> str:
    """English short name for a numeric or alpha-3 code, e.g. ``country_name(410) == 'South Korea'``."""
    return _get(code).name


#: Short names read with "the" in a sentence ("You live in the Netherlands.") beyond those the
#: rule of :func:`with_article` catches (plural and "Republic"/"Kingdom"/"Union"/"Islands" names).
_THE_NAMES = frozenset(
    {"bahamas", "gambia", "maldives", "comoros", "seychelles", "philippines", "netherlands", "holy see (vatican)"}
)
_THE_WORDS = re.compile(r"\b(?:United|Republic|Kingdom|Federation|Union|Islands|Emirates|States|Antilles)\b")


def with_article(name: str) -> str:
    """A country name as it reads inside a sentence: "the United States", "the Netherlands",
    "the Czech Republic", "the Philippines"; other names unchanged ("Norway", "Congo (Republic)"
    is read "the Republic of the Congo")."""
    bare = name.strip()
    if not bare or bare.lower().startswith("the "):
        return bare
    paren = re.fullmatch(r"Congo \((Republic|Democratic Republic)\)", bare)
    if paren:
        return f"the {paren.group(1)} of the Congo"
    if bare.lower() in _THE_NAMES or _THE_WORDS.search(bare.split(" (")[0]):
        return f"the {bare}"
    return bare


def alpha3_from_numeric(code: int) -> str | None:
    """ISO alpha-3 code for a numeric code, e.g. ``alpha3_from_numeric(276) == 'DEU'``; None if unknown."""
    country = find_country(int(code))
    return country.alpha3 if country is not None else None


def numeric_from_alpha3(alpha3: str) -> int:
    """Numeric code for an alpha-3 code (current code when a former one shares it)."""
    if not isinstance(alpha3, str) or alpha3.strip().isdigit():
        raise DataError(f"{alpha3!r} is not an alpha-3 country code.", _HINT)
    return _get(alpha3).numeric


numeric_of = numeric_from_alpha3


def resolve(token: str | int) -> str:
    """Alpha-3 code for a country given by alpha-3 code, alpha-2 code, numeric code or English name.

    Names match case- and accent-insensitively (``"cote d'ivoire"``, ``"South Korea"``,
    ``"Korea"``). Unknown input raises :class:`DataError` with close matches as the hint.
    """
    text = str(token).strip()
    country = find_country(text) if text else None
    if country is None and text:
        country = _table().by_name.get(_fold(text))
    if country is not None:
        return country.alpha3
    names = sorted({c.name for c in _table().by_name.values()})
    close = difflib.get_close_matches(text, names, n=3, cutoff=0.6) if text else []
    hint = f"Did you mean {', '.join(close)}? " if close else ""
    raise DataError(
        f"Unknown country {token!r}.",
        hint
        + "Give an alpha-3 code (DEU), an alpha-2 code (DE), an ISO numeric code (276) or an English name (Germany).",
    )
