"""The packaged WVS-7 codebook and country table (no real survey data needed)."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from valuesim.errors import DataError, UnknownQuestionError, ValueSimError
from valuesim.survey.codebook import MISSING_CODES, QuestionKind, load_codebook
from valuesim.survey.countries import (
    all_countries,
    alpha3_from_numeric,
    country_name,
    find_country,
    numeric_from_alpha3,
    numeric_of,
    resolve,
)

ALL_IDS = [f"Q{n}" for n in range(1, 291)]


@pytest.fixture(scope="module")
def cb():
    return load_codebook()


@pytest.fixture(scope="module")
def raw() -> dict:
    text = resources.files("valuesim.survey").joinpath("data/codebook_wvs7.json").read_text("utf-8")
    return json.loads(text)


# --- coverage -----------------------------------------------------------------------------


def test_every_numbered_question_is_declared_or_excluded(cb):
    missing = [q for q in ALL_IDS if q not in cb and q not in cb.excluded]
    assert missing == []
    assert not set(cb.ids()) & set(cb.excluded)
    assert set(cb.ids()) <= set(ALL_IDS)


def test_only_country_specific_items_are_left_out(cb):
    left_out = [q for q in ALL_IDS if q not in cb]
    assert left_out == ["Q223", "Q290"]
    assert len(cb) == 288


def test_excluded_columns_have_reasons(cb):
    for name in [
        "Q33_3",
        "Q82_EU",
        "Q94R",
        "Q105R",
        "Q172R",
        "Q223_ABREV",
        "Q234A",
        "Q275A",
        "Q278R",
        "Q288R",
        "Q289CS9",
        "X003R",
        "X002_02B",
        "V001",
        "V002A_01",
        "Q291G1",
        "Q292O",
        "Q293",
        "Q294B",
    ]:
        assert len(cb.excluded[name]) > 10, name


def test_profile_block_is_exactly_the_demographics(cb):
    assert cb.profile() == [q for q in ALL_IDS[259:] if q in cb]
    assert cb.profile()[0] == "Q260" and cb.profile()[-1] == "Q289"
    assert all(cb[q].profile == (cb[q].number >= 260) for q in cb.ids())
    assert cb.substantive() == [q for q in ALL_IDS[:259] if q in cb]


# --- structure ----------------------------------------------------------------------------


def test_sections_are_known_contiguous_and_in_questionnaire_order(cb, raw):
    order = [s["id"] for s in raw["sections"]]
    assert len(order) == 14 and len(set(order)) == 14
    seen = [cb[q].section for q in cb.ids()]
    assert set(seen) == set(order)
    collapsed = [s for i, s in enumerate(seen) if i == 0 or s != seen[i - 1]]
    assert collapsed == order  # each section is one run of question numbers, in order


@pytest.mark.parametrize(
    ("qid", "section"),
    [
        ("Q45", "social_values"),
        ("Q46", "wellbeing"),
        ("Q105", "social_capital"),
        ("Q111", "economic_values"),
        ("Q112", "corruption"),
        ("Q130", "migration"),
        ("Q151", "security"),
        ("Q152", "postmaterialism"),
        ("Q163", "science_technology"),
        ("Q175", "religious_values"),
        ("Q198", "ethical_values"),
        ("Q234", "political_participation"),
        ("Q235", "political_culture"),
        ("Q260", "demographics"),
    ],
)
def test_section_boundaries(cb, qid, section):
    assert cb[qid].section == section
    assert cb.section_of(qid).title


def test_ordered_items_have_increasing_integer_codes(cb, raw):
    for q in raw["questions"]:
        keys = [int(k) for k in q["options"]]
        assert keys == sorted(keys), q["id"]  # stored in code order
        if q["kind"] in ("ordinal", "scale"):
            assert len(keys) >= 2, q["id"]
            assert keys == list(range(keys[0], keys[-1] + 1)), q["id"]  # no gaps


def test_scales_label_their_ends_and_number_the_middle(cb):
    scales = [cb[q] for q in cb.ids() if cb[q].kind is QuestionKind.SCALE]
    assert len(scales) >= 45
    for q in scales:
        top = max(q.codes)
        assert top == 10, q.id
        assert not q.label(1).isdigit() and not q.label(10).isdigit(), q.id
        assert [q.label(c) for c in range(2, 10)] == [str(c) for c in range(2, 10)], q.id


def test_numeric_items_have_ranges_and_no_options(cb):
    numeric = [q for q in cb.ids() if cb[q].kind is QuestionKind.NUMERIC]
    assert numeric == ["Q261", "Q262", "Q270", "Q274"]
    for qid in numeric:
        q = cb[qid]
        assert q.options == {} and q.value_range is not None
        lo, hi = q.value_range
        assert q.is_valid(lo) and q.is_valid(hi) and not q.is_valid(hi + 1) and not q.is_valid(-1)
        assert q.label(lo) == str(lo)


def test_categorical_items_have_at_least_two_options_and_reject_missing_codes(cb):
    for qid in cb.ids():
        q = cb[qid]
        if q.kind is QuestionKind.NUMERIC:
            continue
        assert q.n_options >= 2, qid
        assert all(code >= 0 for code in q.codes), qid
        assert not any(q.is_valid(m) for m in MISSING_CODES), qid


def test_wording_is_present_and_prompt_ready(cb):
    for qid in cb.ids():
        q = cb[qid]
        assert len(q.text) >= 10 and len(q.short) >= 10, qid
        assert "[" not in q.short, qid  # localisation placeholders stay out of short phrasings
        assert all("[" not in label for label in q.options.values()), qid


def test_missing_codes_match_the_core_definition(raw):
    assert {int(k) for k in raw["missing_codes"]} == set(MISSING_CODES)


# --- facts checked against the questionnaire and the data file -------------------------------


def test_codes_that_differ_from_naive_order(cb):
    assert cb["Q121"].label(5) == "Very good" and cb["Q121"].label(1) == "Very bad"  # reverse-coded
    assert cb["Q94"].options == {0: "Don't belong", 1: "Inactive member", 2: "Active member"}
    assert cb["Q122"].label(2) == "Agree" and cb["Q122"].label(0) == "Disagree"
    assert cb["Q241"].label(0) == "It is against democracy"
    assert cb["Q7"].options == {1: "Mentioned", 2: "Not mentioned"}
    assert cb["Q289"].label(8).startswith("Other Christian") and cb["Q289"].label(9) == "Other"
    assert cb["Q289"].label(0) == "Do not belong to a denomination"
    assert cb["Q281"].label(0) == "Never had a job" and 11 in cb["Q281"].options
    assert cb["Q275"].codes == list(range(9))


def test_kinds_of_selected_items(cb):
    assert cb["Q1"].kind is QuestionKind.ORDINAL and cb["Q1"].ordered
    assert cb["Q49"].kind is QuestionKind.SCALE
    for qid in ["Q7", "Q57", "Q119", "Q165", "Q260", "Q279", "Q289", "Q56"]:
        assert cb[qid].kind is QuestionKind.NOMINAL, qid
        assert not cb[qid].ordered


def test_country_of_birth_decodes_to_names(cb):
    for qid in ("Q266", "Q267", "Q268"):
        q = cb[qid]
        assert q.label(276) == "Germany" and q.label(410) == "South Korea"
        assert q.label(909) == "Northern Ireland" and q.label(736) == "Sudan"
        assert not any(label.isdigit() for label in q.options.values())


def test_language_at_home_decodes_to_names(cb):
    q = cb["Q272"]
    assert q.label(1270) == "Spanish" and q.label(170) == "Arabic" and q.label(1240) == "English"
    assert q.n_options >= 60
    assert "load as missing" in q.note


# --- lookups and errors -------------------------------------------------------------------


def test_unknown_question_has_hint(cb):
    with pytest.raises(UnknownQuestionError) as err:
        cb.get("Q999")
    assert isinstance(err.value, ValueSimError) and isinstance(err.value, KeyError)
    assert err.value.hint and "Q46" in err.value.hint


def test_excluded_question_explains_why(cb):
    with pytest.raises(UnknownQuestionError) as err:
        cb.get("q223")
    assert "country-specific" in err.value.message


def test_lookup_is_case_and_space_insensitive(cb):
    assert cb.get(" q46 ").id == "Q46"


# --- countries ----------------------------------------------------------------------------


def test_country_table_covers_iso_and_round_trips():
    current = [c for c in all_countries() if c.status == "iso"]
    assert len(current) == 249
    assert len({c.alpha3 for c in current}) == 249
    for c in current:
        assert numeric_from_alpha3(c.alpha3) == c.numeric
        assert alpha3_from_numeric(c.numeric) == c.alpha3
        assert country_name(c.numeric) == country_name(c.alpha3) == c.name


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (76, "Brazil"),
        ("076", "Brazil"),
        ("bra", "Brazil"),
        ("DEU", "Germany"),
        (158, "Taiwan"),
        (446, "Macao"),
        (909, "Northern Ireland"),
        ("NIR", "Northern Ireland"),
        (736, "Sudan"),
    ],
)
def test_country_name_accepts_numeric_and_alpha3(code, name):
    assert country_name(code) == name


def test_shared_alpha3_prefers_current_code():
    assert numeric_from_alpha3("SDN") == 729
    assert alpha3_from_numeric(736) == "SDN"


@pytest.mark.parametrize("bad", [0, 999, "XXX", "", "12345", "QQ"])
def test_unknown_country_raises_with_hint(bad):
    assert find_country(bad) is None
    with pytest.raises(DataError) as err:
        country_name(bad)
    assert err.value.hint
    with pytest.raises(DataError):
        resolve(bad)


def test_unknown_numeric_code_gives_none_for_row_wise_use():
    assert alpha3_from_numeric(999) is None
    assert numeric_of("DEU") == 276


@pytest.mark.parametrize(
    ("token", "alpha3"),
    [
        ("DEU", "DEU"),
        ("deu", "DEU"),
        (276, "DEU"),
        ("276", "DEU"),
        ("Germany", "DEU"),
        (" germany ", "DEU"),
        ("cote d'ivoire", "CIV"),
        ("South Korea", "KOR"),
        ("Korea", "KOR"),
        ("Viet Nam", "VNM"),
        ("NIR", "NIR"),
        ("DE", "DEU"),  # alpha-2, as in ESS / EVS files
        ("gb", "GBR"),
    ],
)
def test_resolve_accepts_codes_and_names(token, alpha3):
    assert resolve(token) == alpha3


def test_resolve_suggests_close_names():
    with pytest.raises(DataError) as err:
        resolve("Germny")
    assert "Germany" in err.value.hint


def test_numeric_from_alpha3_rejects_numbers():
    with pytest.raises(DataError):
        numeric_from_alpha3("276")


def test_alpha2_country_column_of_another_survey_is_named():
    import pandas as pd

    from valuesim.survey.loaders import _country_values

    values = _country_values(pd.Series(["DE", "fr", "XK", None]))
    assert list(values[:2]) == ["DEU", "FRA"]
    assert values[2] == "XK"  # not an ISO code (ESS's Kosovo): kept, never named wrongly
    assert country_name("DE") == "Germany" and find_country("CS") is None  # no withdrawn alpha-2 codes
