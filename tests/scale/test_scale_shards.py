"""Sharding work items over respondents (pure functions, no Ray)."""

from __future__ import annotations

import random

import pytest

from valuesim.bench.protocol import ProtocolConfig, build_units
from valuesim.bench.runner import make_work_items
from valuesim.errors import ConfigError
from valuesim.scale.shards import auto_shard_size, make_shards
from valuesim.survey import generate_synthetic


@pytest.fixture(scope="module")
def items():
    data = generate_synthetic(n=60, seed=2)
    split = build_units(data, ProtocolConfig(n_respondents=7, seed=1, folds=3))
    return make_work_items(data, split.units)


def test_every_item_in_exactly_one_shard_and_people_stay_together(items):
    shards = make_shards(items, 2)
    keys = [it.unit.key for s in shards for it in s.items]
    assert sorted(keys) == sorted(it.unit.key for it in items) and len(keys) == len(set(keys))
    owner = {}
    for s in shards:
        for rid in s.respondents:
            assert owner.setdefault(rid, s.index) == s.index
    assert [len(s.respondents) for s in shards] == [2, 2, 2, 1]
    people = [rid for s in shards for rid in s.respondents]
    assert people == sorted(people)  # consecutive runs of sorted ids


def test_shards_do_not_depend_on_item_order(items):
    shuffled = list(items)
    random.Random(0).shuffle(shuffled)
    a = [sorted(s.keys) for s in make_shards(items, 3)]
    b = [sorted(s.keys) for s in make_shards(shuffled, 3)]
    assert a == b


def test_without_drops_finished_units(items):
    shard = make_shards(items, 7)[0]
    done = {it.unit.key for it in shard.items[:4]}
    rest = shard.without(done)
    assert len(rest) == len(shard) - 4 and not (rest.keys & done) and rest.index == shard.index


def test_auto_shard_size_and_bad_sizes(items):
    assert auto_shard_size(100, 2) == 13  # about four shards per worker
    assert auto_shard_size(3, 8) == 1 and auto_shard_size(0, 2) == 1
    with pytest.raises(ConfigError):
        make_shards(items, 0)
