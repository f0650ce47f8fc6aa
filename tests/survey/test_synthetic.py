"""The synthetic generator: deterministic, WVS-shaped, consistent profiles, real structure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from valuesim.survey import SurveyData, generate_synthetic, load_survey
from valuesim.survey.respondent import Missing
from valuesim.survey.synthetic import (
    DEFAULT_COUNTRIES,
    DIMENSIONS,
    describe_world,
    synthetic_frame,
    to_wvs_frame,
    write_wvs_csv,
)


@pytest.fixture(scope="module")
def big() -> SurveyData:
    """Enough people for stable correlations (generation takes well under a second)."""
    return generate_synthetic(n=2400, seed=21)


def test_same_seed_same_data_other_seed_other_data() -> None:
    a = generate_synthetic(n=60, seed=1)
    b = generate_synthetic(n=60, seed=1)
    c = generate_synthetic(n=60, seed=2)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    assert list(a.frame.index) == list(c.frame.index)  # ids are positional, answers differ
    assert not a.frame.equals(c.frame)


def test_marked_synthetic_everywhere(tmp_path: Path) -> None:
    data = generate_synthetic(n=16, seed=0)
    assert data.synthetic and data.version == "synthetic"
    assert all(r.synthetic for r in data.respondents())
    raw = synthetic_frame(n=16, seed=0)
    assert raw["version"].str.startswith("synthetic").all()
    path = write_wvs_csv(data, tmp_path / "s.csv")
    back = load_survey(path)
    assert back.synthetic and back.version == "synthetic"
    assert back.respondent(back.ids[0]).synthetic


def test_wvs_shape(codebook) -> None:
    raw = synthetic_frame(n=40, seed=3)
    for col in ("version", "B_COUNTRY", "B_COUNTRY_ALPHA", "D_INTERVIEW", "A_YEAR", "Q1", "Q46", "Q260", "Q289"):
        assert col in raw.columns
    assert raw["D_INTERVIEW"].is_unique
    assert raw["D_INTERVIEW"].iloc[0] == "276070001"  # B_COUNTRY + wave + serial, like the real file
    data = generate_synthetic(n=40, seed=3)
    assert data.question_ids == codebook.ids()
    assert data.report.out_of_range == {}  # every generated code is valid for the codebook
    assert data.report.ignored_columns == ["A_WAVE", "A_YEAR", "W_WEIGHT"]


def test_countries_spread_and_custom_countries() -> None:
    data = generate_synthetic(n=83, seed=0)
    counts = data.country_counts()
    assert set(counts) == set(DEFAULT_COUNTRIES)
    assert max(counts.values()) - min(counts.values()) <= 1
    other = generate_synthetic(n=30, seed=0, countries=["France", "KEN", 410])
    assert other.country_counts() == {"FRA": 10, "KEN": 10, "KOR": 10}
    assert other.report.out_of_range == {}


def test_missing_codes_at_realistic_rates(big: SurveyData) -> None:
    values = big.frame[big.codebook.substantive()].to_numpy()
    rate = (values < 0).mean()
    assert 0.02 < rate < 0.10  # real WVS-7: about 4.4% of value answers are missing
    for m in (Missing.DONT_KNOW, Missing.NO_ANSWER, Missing.NOT_ASKED, Missing.MISSING):
        assert (values == int(m)).any(), m
    assert (values == int(Missing.DONT_KNOW)).mean() > (values == int(Missing.NO_ANSWER)).mean()
    complete = generate_synthetic(n=40, seed=0, missing=False)
    assert (complete.frame[complete.codebook.substantive()].to_numpy() >= 0).all()


def test_profiles_are_consistent(big: SurveyData) -> None:
    raw = synthetic_frame(n=400, seed=4, missing=False)
    assert ((raw["Q261"] + raw["Q262"]) == raw["A_YEAR"]).all()  # birth year = survey year - age
    assert raw["Q262"].between(18, 95).all()
    single = raw["Q273"] == 6
    assert (raw.loc[single, ["Q276", "Q280", "Q282"]] == int(Missing.NOT_APPLICABLE)).all().all()
    born_here = raw["Q263"] == 1
    assert (raw.loc[born_here, "Q266"] == raw.loc[born_here, "B_COUNTRY"]).all()
    retired_young = (raw["Q279"] == 4) & (raw["Q262"] < 40)
    assert not retired_young.any()


def test_items_on_a_shared_dimension_correlate(big: SurveyData) -> None:
    world = describe_world(big.codebook)
    religion = world["secular"].abs().sort_values(ascending=False).index[:8].tolist()
    corr = pd.DataFrame(big.matrix(religion), columns=religion).corr()
    signs = np.sign(world.loc[religion, "secular"].to_numpy())
    expected = np.outer(signs, signs)  # loadings of the same sign correlate positively
    off = ~np.eye(len(religion), dtype=bool)
    signed = corr.to_numpy() * expected
    assert np.median(signed[off]) > 0.2
    assert (signed[off] > 0).mean() > 0.95


def test_well_known_items_point_the_right_way(big: SurveyData) -> None:
    m = pd.DataFrame(big.matrix(["Q6", "Q164", "Q171", "Q46", "Q49"]), columns=["Q6", "Q164", "Q171", "Q46", "Q49"])
    c = m.corr()
    # 1 = religion very important; 10 = God very important -> negative correlation
    assert c.loc["Q6", "Q164"] < -0.2
    assert c.loc["Q6", "Q171"] > 0.2  # attendance: 7 = never
    assert c.loc["Q46", "Q49"] < -0.2  # 1 = very happy vs 10 = completely satisfied


def test_country_majorities_differ_and_beat_the_global_majority(big: SurveyData) -> None:
    qids = big.codebook.substantive()
    frame = big.frame
    differs, gains = 0, []
    for q in qids:
        col = frame[q]
        valid = col >= 0
        if valid.sum() < 100:
            continue
        global_mode = col[valid].mode().iloc[0]
        country_modes = col[valid].groupby(frame.loc[valid, "country"]).agg(lambda s: s.mode().iloc[0])
        differs += country_modes.nunique() > 1
        by_country = frame.loc[valid, "country"].map(country_modes)
        gains.append((col[valid] == by_country).mean() - (col[valid] == global_mode).mean())
    assert differs > 0.5 * len(qids)
    assert np.mean(gains) > 0.03
    # religion: secular Germany and Japan vs religious Egypt and Nigeria
    rel = frame["Q6"].where(frame["Q6"] > 0)
    means = rel.groupby(frame["country"]).mean()
    assert means["EGY"] < means["DEU"] and means["NGA"] < means["JPN"]


def test_demographics_shift_answers() -> None:
    raw = synthetic_frame(n=4000, seed=9, missing=False)
    educated = raw["Q275"] >= 6
    # importance of religion (1 = very): the more educated answer higher codes (less religious)
    assert raw.loc[educated, "Q6"].mean() > raw.loc[~educated, "Q6"].mean()
    # interest in politics (1 = very interested): men report more interest in this world
    assert raw.loc[raw["Q260"] == 1, "Q199"].mean() < raw.loc[raw["Q260"] == 2, "Q199"].mean()


def test_history_predicts_other_answers() -> None:
    """Nearest neighbours on a person's history beat the country majority on held-out items."""
    from sklearn.neighbors import KNeighborsClassifier

    train = generate_synthetic(n=1600, seed=31, missing=False)
    test = generate_synthetic(n=400, seed=32, missing=False)
    qids = train.codebook.substantive()
    targets = [q for q in qids if q in ("Q6", "Q57", "Q164", "Q173", "Q199", "Q182")]
    history = [q for q in qids if q not in targets]
    x_train, x_test = train.matrix(history), test.matrix(history)
    scale = x_train.std(axis=0) + 1e-9
    wins = 0
    for q in targets:
        y_train, y_test = train.matrix([q])[:, 0], test.matrix([q])[:, 0]
        knn = KNeighborsClassifier(n_neighbors=25).fit(x_train / scale, y_train)
        acc_hist = (knn.predict(x_test / scale) == y_test).mean()
        modes = pd.Series(y_train).groupby(train.frame["country"].to_numpy()).agg(lambda s: s.mode().iloc[0])
        acc_country = (test.frame["country"].map(modes).to_numpy() == y_test).mean()
        wins += acc_hist > acc_country
    assert wins >= 4, wins


def test_world_is_fixed_across_seeds(codebook) -> None:
    a = describe_world(codebook, ["Q1", "Q46", "Q152"])
    b = describe_world(codebook, ["Q1", "Q46", "Q152"])
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == list(DIMENSIONS)


def test_to_wvs_frame_roundtrip(synthetic_data: SurveyData) -> None:
    raw = to_wvs_frame(synthetic_data)
    assert list(raw.columns[:5]) == ["version", "A_WAVE", "B_COUNTRY", "B_COUNTRY_ALPHA", "D_INTERVIEW"]
    from valuesim.survey.loaders import survey_from_frames

    back = survey_from_frames(raw)
    pd.testing.assert_frame_equal(back.frame, synthetic_data.frame)
    assert back.synthetic


def test_invalid_n() -> None:
    with pytest.raises(ValueError):
        generate_synthetic(n=0)
