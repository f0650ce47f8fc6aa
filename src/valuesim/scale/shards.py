"""Cutting benchmark work into shards (pure functions, no Ray).

A shard is a group of whole respondents: every unit of a person lands in the same shard, so
a worker that serves one person's units in a row keeps that person's backstory in its
model's prompt cache. Shards are deterministic -- respondents sorted by id, cut into
consecutive runs -- so the same work always gives the same shards.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from valuesim.bench.plan import WorkItem
from valuesim.errors import ConfigError

UnitKey = tuple[str, int, str]

#: Shards per worker when the size is chosen automatically: more than one, so a slow or
#: restarted shard does not leave the other workers idle at the end of a run.
SHARDS_PER_WORKER = 4


@dataclass(frozen=True)
class Shard:
    """Consecutive respondents (by sorted id) and all their pending units."""

    index: int
    items: tuple[WorkItem, ...]

    @property
    def keys(self) -> frozenset[UnitKey]:
        return frozenset(it.unit.key for it in self.items)

    @property
    def respondents(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(it.unit.respondent for it in self.items))

    def without(self, done: set[UnitKey] | frozenset[UnitKey]) -> Shard:
        """The same shard minus the units already finished (what a retry still has to do)."""
        return Shard(self.index, tuple(it for it in self.items if it.unit.key not in done))

    def __len__(self) -> int:
        return len(self.items)


def auto_shard_size(n_respondents: int, n_workers: int) -> int:
    """Respondents per shard: about SHARDS_PER_WORKER shards per worker, at least one person."""
    if n_respondents <= 0:
        return 1
    return max(1, math.ceil(n_respondents / (max(1, n_workers) * SHARDS_PER_WORKER)))


def make_shards(items: Sequence[WorkItem], respondents_per_shard: int) -> list[Shard]:
    """Group *items* by respondent (ids sorted) into shards of ``respondents_per_shard`` people.

    Within a shard the items keep their given order. Every item is in exactly one shard.
    """
    if respondents_per_shard < 1:
        raise ConfigError(
            f"respondents_per_shard must be at least 1, got {respondents_per_shard}.",
            "Pass a positive shard size or leave it unset for the automatic choice.",
        )
    by_person: dict[str, list[WorkItem]] = {}
    for it in items:
        by_person.setdefault(it.unit.respondent, []).append(it)
    people = sorted(by_person)
    shards = []
    for index, start in enumerate(range(0, len(people), respondents_per_shard)):
        group = people[start : start + respondents_per_shard]
        shards.append(Shard(index, tuple(it for rid in group for it in by_person[rid])))
    return shards


__all__ = ["SHARDS_PER_WORKER", "Shard", "UnitKey", "auto_shard_size", "make_shards"]
