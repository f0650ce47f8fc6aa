"""Split properties of the benchmark protocol (synthetic data only)."""

from __future__ import annotations

import itertools
import json
import warnings
from pathlib import Path

import pytest
from bench_data import make_survey

from valuesim.bench.protocol import (
    ProtocolConfig,
    ProtocolWarning,
    Split,
    build_units,
    make_folds,
    read_replication_split,
    sample_respondents,
    target_pool,
)
from valuesim.errors import ConfigError, DataError
from valuesim.survey.codebook import load_codebook


@pytest.fixture(scope="module")
def data():
    return make_survey(120, seed=1)


def test_folds_disjoint_cover_pool_and_exclude_profile(data):
    cfg = ProtocolConfig()
    pool = target_pool(data)
    folds = make_folds(pool, cfg)
    assert len(folds) == 5
    flat = [q for f in folds for q in f]
    assert len(flat) == len(set(flat)), "folds overlap"
    assert set(flat) == set(pool)
    profile = set(data.codebook.profile())
    assert profile and not (set(flat) & profile)
    assert max(map(len, folds)) - min(map(len, folds)) <= 1
    # the codebook form gives the same folds as its substantive items
    assert make_folds(data.codebook, cfg) == make_folds(data.codebook.substantive(), cfg)


def test_units_never_target_profile_and_history_excludes_targets(data):
    split = build_units(data, ProtocolConfig(n_respondents=30))
    profile = set(data.codebook.profile())
    assert len(split.respondents) == 30
    for u in split.units:
        assert not (set(u.targets) & profile)
        assert not (set(u.history) & profile)
        assert not (set(u.history) & set(u.targets))
        fold_q = set(split.folds[u.fold])
        assert set(u.targets) <= fold_q
        # k-fold: history = every other substantive item
        assert set(u.history) == set(target_pool(data)) - fold_q
        assert u.condition == ""


def test_missing_targets_are_skipped(data):
    split = build_units(data, ProtocolConfig(n_respondents=30))
    frame = data.frame
    skipped = 0
    for u in split.units:
        for q in split.folds[u.fold]:
            answered = int(frame.loc[u.respondent, q]) >= 0
            assert (q in u.targets) == answered
            skipped += not answered
    assert skipped > 0  # the fixture has ~10% missing answers, so some were skipped


def test_split_is_method_independent_and_seeded(data):
    a = build_units(data, ProtocolConfig(n_respondents=20, seed=42))
    b = build_units(data, ProtocolConfig(n_respondents=20, seed=42))
    c = build_units(data, ProtocolConfig(n_respondents=20, seed=7))
    assert a.split_hash == b.split_hash and a.to_dict() == b.to_dict()
    assert c.split_hash != a.split_hash
    assert c.folds != a.folds
    assert c.respondents != a.respondents


def test_sample_does_not_depend_on_row_order(data):
    shuffled = data.subset(list(reversed(data.ids)))
    cfg = ProtocolConfig(n_respondents=25)
    assert sample_respondents(shuffled, cfg) == sample_respondents(data, cfg)


def test_min_valid_eligibility_and_fewer_than_requested_warns():
    d = make_survey(40, sparse_rows=10, missing_rate=0.0)
    with pytest.warns(ProtocolWarning, match="Only 30 respondents are eligible"):
        ids = sample_respondents(d, ProtocolConfig(n_respondents=100, min_valid=150))
    assert len(ids) == 30
    sparse = set(d.ids[:10])
    assert not (set(ids) & sparse)


def test_no_eligible_respondent_is_a_data_error():
    d = make_survey(10, missing_rate=0.0, sparse_rows=10)
    with pytest.raises(DataError, match="at least 150 valid answers") as e:
        build_units(d, ProtocolConfig())
    assert "--min-valid" in (e.value.hint or "")


def test_too_few_questions_for_folds():
    cb = load_codebook()
    keep = cb.substantive()[:3]
    d = make_survey(20, missing_rate=0.0, drop_questions=tuple(q for q in cb.substantive() if q not in keep))
    with pytest.raises(DataError, match="fewer than 5 folds"), pytest.warns(ProtocolWarning, match="Only 20"):
        build_units(d, ProtocolConfig(min_valid=0))


def test_bad_config_values_are_config_errors():
    with pytest.raises(ConfigError, match="folds"):
        ProtocolConfig.create(folds=1)
    with pytest.raises(ConfigError, match="n_respondents"):
        ProtocolConfig.create(n_respondents=0)


def test_country_filter_and_stratification(data):
    split = build_units(data, ProtocolConfig(n_respondents=12, countries=("per", "JPN")))
    assert set(data.frame.loc[split.respondents, "country"]) <= {"PER", "JPN"}
    with pytest.raises(DataError, match="XYZ"):
        build_units(data, ProtocolConfig(countries=("XYZ",)))
    ids = sample_respondents(data, ProtocolConfig(n_respondents=31, stratify_by_country=True))
    counts = data.frame.loc[ids, "country"].value_counts()
    assert sorted(counts.tolist()) == [10, 10, 11]


def test_history_sweep_sizes_nested_and_capped(data):
    cfg = ProtocolConfig(n_respondents=10, history_sweep=True, history_sizes=(0, 58, 116, 174, 232))
    split = build_units(data, cfg)
    pool = target_pool(data)
    cap = min(len(pool) - len(f) for f in split.folds)
    expected = ["h=0", "h=58", "h=116", "h=174", f"h={cap}"]
    assert split.conditions == expected
    assert any("capped" in n for n in split.notes)
    by_key = {}
    for u in split.units:
        h = int(u.condition[2:])
        assert len(u.history) == h
        assert not (set(u.history) & set(split.folds[u.fold]))
        by_key.setdefault((u.respondent, u.fold), []).append(set(u.history))
    for histories in by_key.values():  # nested: each history contains the smaller ones
        assert all(a <= b for a, b in itertools.pairwise(histories))
    # different respondents draw different histories (seeded per respondent)
    h58 = {u.history for u in split.units if u.condition == "h=58" and u.fold == 0}
    assert len(h58) > 1
    # and the same seed gives the same sweep
    assert build_units(data, cfg).split_hash == split.split_hash


def _write_fake_paper_split(directory: Path) -> list[list[str]]:
    cb = load_codebook()
    allq = [f"Q{i}" for i in range(1, 291)]
    folds = [allq[k::3] for k in range(3)]
    directory.mkdir()
    for k, test in enumerate(folds, start=1):
        train = [q for q in allq if q not in test]
        (directory / f"fold_{k}.json").write_text(json.dumps({"fold": k, "train_set": train, "test_set": test}))
    assert "Q223" not in cb  # a question the paper had and the codebook excludes
    return folds


def test_replication_split_drops_profile_and_reports(tmp_path, data):
    folds = _write_fake_paper_split(tmp_path / "splits")
    got, notes = read_replication_split(tmp_path / "splits", data.codebook, target_pool(data))
    profile = {f"Q{i}" for i in range(260, 291)}
    assert set(data.codebook.profile()) <= profile
    assert len(got) == 3
    for mine, theirs in zip(got, folds):
        assert set(mine) == set(theirs) - profile - {"Q223"}
    assert any("removed 31 profile item" in n for n in notes)
    assert any("Q223" in n for n in notes)
    with pytest.warns(ProtocolWarning):
        split = build_units(data, ProtocolConfig(n_respondents=5, replication_split=str(tmp_path / "splits")))
    assert split.folds == got
    assert all(not (set(u.targets) & profile) for u in split.units)


def test_replication_split_bad_input(tmp_path, data):
    with pytest.raises(DataError, match="does not exist"):
        read_replication_split(tmp_path / "nope", data.codebook)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="No fold_"):
        read_replication_split(tmp_path / "empty", data.codebook)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "fold_1.json").write_text('{"fold": 1, "test": []}')
    with pytest.raises(DataError, match="not a split file"):
        read_replication_split(bad, data.codebook)


def test_split_roundtrip_and_tamper_detection(tmp_path, data):
    split = build_units(data, ProtocolConfig(n_respondents=8))
    path = tmp_path / "split.json"
    split.save(path)
    loaded = Split.load(path)
    assert loaded.split_hash == split.split_hash
    assert loaded.units == split.units
    raw = json.loads(path.read_text())
    raw["units"][0]["targets"] = raw["units"][0]["targets"][1:]
    path.write_text(json.dumps(raw))
    with pytest.raises(DataError, match="modified"):
        Split.load(path)


def test_no_warning_for_a_plain_run(data):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ProtocolWarning)
        build_units(data, ProtocolConfig(n_respondents=10))


def test_max_targets_and_only_folds_subset_the_work_identically(synthetic_data) -> None:
    from valuesim.bench.protocol import ProtocolConfig, build_units

    full = build_units(synthetic_data, ProtocolConfig(n_respondents=6, seed=3, min_valid=50))
    cfg = ProtocolConfig(n_respondents=6, seed=3, min_valid=50, max_targets=5, only_folds=(1,))
    small = build_units(synthetic_data, cfg)
    again = build_units(synthetic_data, cfg)
    assert [u.targets for u in small.units] == [u.targets for u in again.units]  # seeded
    assert small.respondents == full.respondents
    assert {u.fold for u in small.units} == {1}
    by_key = {(u.respondent, u.fold): u for u in full.units}
    for u in small.units:
        ref = by_key[(u.respondent, u.fold)]
        assert len(u.targets) == min(5, len(ref.targets))
        assert set(u.targets) <= set(ref.targets)
        assert u.history == ref.history  # the history is not reduced


def test_only_folds_out_of_range_is_a_config_error(synthetic_data) -> None:
    import pytest

    from valuesim.bench.protocol import ProtocolConfig, build_units
    from valuesim.errors import ConfigError

    with pytest.raises(ConfigError, match="only_folds"):
        build_units(synthetic_data, ProtocolConfig(n_respondents=3, min_valid=50, only_folds=(7,)))
