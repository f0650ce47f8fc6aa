"""Sex, age, age band and country from the codebook's roles (valuesim.survey.demographics), on
WVS-7 and on surveys shaped like ESS and GSS downloads (SYNTHETIC respondents: no country
column, 9 = "No answer" for sex, 999 / 98 / 99 as missing ages), and every user of it: the
demographic-majority baseline, the groups of `valuesim simulate` and the viewer's People filters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from survey_shapes import write_ess, write_gss

from valuesim.bench.simulate import UNKNOWN_GROUP, _groups
from valuesim.methods import get_method
from valuesim.survey import Respondent, SurveyData, demographics, load_codebook, load_survey
from valuesim.survey.codebook import Codebook, Question, QuestionKind, Section
from valuesim.survey.custom import infer_codebook
from valuesim.view.store import People, RunStore

WVS = load_codebook()


@pytest.fixture(scope="module")
def gss(tmp_path_factory: pytest.TempPathFactory) -> SurveyData:
    path = write_gss(tmp_path_factory.mktemp("gss") / "GSS2018.dta", n=200)
    return load_survey(path, codebook=infer_codebook(path).codebook)


@pytest.fixture(scope="module")
def ess(tmp_path_factory: pytest.TempPathFactory) -> SurveyData:
    path = write_ess(tmp_path_factory.mktemp("ess") / "ESS9.sav", n=200, countries=("NO", "FI"))
    return load_survey(path, codebook=infer_codebook(path).codebook)


def test_one_set_of_age_band_labels() -> None:
    assert demographics.AGE_BANDS == ("under 30", "30-49", "50 and over")
    assert demographics.band_labels((25, 40, 60)) == ("under 25", "25-39", "40-59", "60 and over")
    ages = np.array([16, 29.5, 30, 49, 50, 99, np.nan, -2])
    expected = ["under 30", "under 30", "30-49", "30-49", "50 and over", "50 and over", "", ""]
    assert list(demographics.age_bands(ages)) == expected
    assert [demographics.age_band(a) or "" for a in ages] == expected
    assert [demographics.band_index(a) for a in ages] == [0, 0, 1, 1, 2, 2, -1, -1]
    assert demographics.sort_bands(["50 and over", "unknown", "under 30", "30-49"]) == [
        "under 30",
        "30-49",
        "50 and over",
        "unknown",
    ]


def test_wvs_roles() -> None:
    assert demographics.sex_code(WVS, {"Q260": 2}) == 2
    assert demographics.sex_label(WVS, {"Q260": 1}) == "Male"
    assert demographics.age(WVS, {"Q262": 33}) == 33.0
    assert demographics.sex_code(WVS, {"Q260": -2}) is None
    assert demographics.age(WVS, {"Q262": -1}) is None
    assert demographics.age(WVS, {}) is None


def _ess_like_codebook(*, roles: bool = True) -> Codebook:
    """ESS-like names and codes; 9 = "No answer" listed as an option, not declared missing."""
    items = [
        Question(
            "gndr", "Gender", "Gender", QuestionKind.NOMINAL, "prof", True, {1: "Male", 2: "Female", 9: "No answer"}
        ),
        Question(
            "agea", "Age of respondent, calculated", "Age", QuestionKind.NUMERIC, "prof", True, value_range=(15, 100)
        ),
        Question("trstprl", "Trust in parliament", "Trust", QuestionKind.ORDINAL, "val", False, {0: "No", 1: "Yes"}),
    ]
    return Codebook(
        items,
        [Section("prof", "Profile"), Section("val", "Values")],
        name="ess-like",
        phrasing="generic",
        roles={"sex": "gndr", "age": "agea"} if roles else {},
        id_column="idno",
        country_column=None,
    )


def test_a_no_answer_option_or_an_out_of_range_age_is_unknown() -> None:
    cb = _ess_like_codebook()
    assert demographics.sex_code(cb, {"gndr": 9}) is None
    assert demographics.sex_code(cb, {"gndr": 2}) == 2
    assert demographics.age(cb, {"agea": 999}) is None
    assert demographics.age(cb, {"agea": 15}) == 15.0
    assert list(np.isnan(demographics.sex_values(cb, np.array([1, 9, 2, -2])))) == [False, True, False, True]
    assert list(np.isnan(demographics.age_values(cb, np.array([999, 40, -1, np.nan])))) == [True, False, True, True]
    # no roles: nobody's sex or age is known (never a WVS id guessed)
    bare = _ess_like_codebook(roles=False)
    assert demographics.sex_code(bare, {"gndr": 1, "Q260": 1}) is None
    assert demographics.age(bare, {"agea": 40, "Q262": 40}) is None


def test_table_of_an_ess_like_survey(ess: SurveyData) -> None:
    cb = ess.codebook
    assert cb.role("sex") == "gndr" and cb.role("age") == "agea"
    t = demographics.table(ess)
    f = ess.frame
    assert set(t["country"]) == {"NOR", "FIN"}
    assert set(t["sex"]) <= {"Male", "Female", ""}
    assert (t["sex"] == "Female").sum() == (f["gndr"] == 2).sum() > 0
    assert ((t["sex"] == "") == (f["gndr"] < 0)).all()  # 9 "No answer" is declared missing: a negative code
    age = f["agea"].to_numpy(float)
    valid = age >= 0
    assert np.array_equal(np.isnan(t["age"].to_numpy()), ~valid)
    assert (t["age_band"] == "under 30").sum() == ((age < 30) & valid).sum() > 0


def test_people_filters_work_on_a_survey_without_wvs_ids_or_country(gss: SurveyData) -> None:
    """The viewer's People filters on a GSS-like file: no country column, sex 1/2, age 18-89
    with 98 "dk" / 99 "na"."""
    f = gss.frame
    assert "Q260" not in f.columns and "Q262" not in f.columns
    people = People(RunStore([], gss.codebook), gss)
    every = people.filter(scope="all")
    assert len(every) == len(f) and set(every["country"]) == {"unknown"}
    women = people.filter(scope="all", sex="female")
    assert len(women) == int((f["sex"] == 2).sum()) > 0
    assert set(women.index) == set(f.index[f["sex"] == 2])
    age = f["age"].to_numpy(float)
    young = people.filter(scope="all", band="under 30")
    assert set(young.index) == set(f.index[(age >= 0) & (age < 30)]) and len(young) > 0
    old_women = people.filter(scope="all", sex="female", band="50 and over")
    assert len(old_women) == int(((f["sex"] == 2).to_numpy() & (age >= 50)).sum()) > 0


def test_demographic_majority_groups_by_the_codebook_roles(gss: SurveyData) -> None:
    m = get_method("demographic-majority", gss.codebook)
    m.fit(gss)
    person = Respondent("x", "unknown", answers={"sex": 2, "age": 25}, missing={})
    assert m.group_of(person) == ("unknown", 2, 0)
    assert m.group_of(Respondent("y", "unknown", answers={"sex": 1, "age": 64}, missing={})) == ("unknown", 1, 2)
    assert m.group_of(Respondent("z", "unknown", answers={"sex": 1}, missing={})) is None


def test_simulate_groups_use_the_same_labels(gss: SurveyData, tmp_path: Path) -> None:
    ids = list(gss.frame.index[:40])
    groups = _groups(gss, gss.codebook, ids)
    t = demographics.table(gss.subset(ids))
    for rid in ids:
        sex, band = groups[rid]
        assert sex == (t.loc[rid, "sex"] or UNKNOWN_GROUP)
        assert band == (t.loc[rid, "age_band"] or UNKNOWN_GROUP)
    assert {b for _, b in groups.values()} <= {*demographics.AGE_BANDS, UNKNOWN_GROUP}
