"""Plan a run: the split (protocol -> units), the training data, and the tasks of the units.

Everything here is a pure function of the data and the settings; nothing touches the run
directory (:mod:`valuesim.bench.record`) or calls the method (:mod:`valuesim.bench.execute`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from valuesim.bench.config import RunConfig
from valuesim.bench.protocol import ProtocolConfig, Split, Unit, build_units, min_valid_for, valid_counts
from valuesim.errors import ConfigError
from valuesim.methods.base import Task, hide_targets
from valuesim.survey.dataset import SurveyData

#: Random stream for the training-set cap (protocol uses 0-2).
_STREAM_TRAIN = 3


def plan_split(data: SurveyData, cfg: RunConfig, train_data: SurveyData | None = None) -> Split:
    """The split of *cfg*'s protocol on *data*; a given training set must not contain evaluated people."""
    split = build_units(data, cfg.protocol)
    if train_data is not None:
        overlap = set(train_data.ids) & set(split.respondents)
        if overlap:
            raise ConfigError(
                f"The training data contains {len(overlap)} evaluated respondent(s), e.g. {min(overlap)}.",
                "Methods must be trained only on people outside the evaluated sample.",
            )
    return split


def training_data(data: SurveyData, split: Split, cfg: RunConfig) -> SurveyData:
    """Respondents outside the evaluated sample with >= min_valid valid substantive answers.

    The country filter of the protocol does not apply (it selects whom to evaluate); at
    most ``train_max`` people, a seeded sample when there are more.
    """
    return training_outside(
        data,
        split.respondents,
        min_valid=min_valid_for(data, cfg.protocol),
        train_max=cfg.train_max,
        seed=cfg.protocol.seed,
    )


def training_outside(
    data: SurveyData, people: Sequence[str], *, min_valid: int, train_max: int, seed: int
) -> SurveyData:
    """Everybody but *people* (and exact copies of their records) with >= *min_valid* valid
    substantive answers; at most *train_max*, a seeded sample when there are more. What a
    trained method learns from when it predicts *people* (a benchmark sample, `valuesim ask`)."""
    sample = {str(p) for p in people}
    ok = valid_counts(data) >= min_valid
    copies = copies_of_evaluated(data, sample)
    if copies:
        warnings.warn(
            f"{len(copies)} respondent(s) outside the sample are exact copies of evaluated respondents "
            f"(duplicated records in the data, e.g. id {min(copies)}); they are left out of the training data.",
            stacklevel=2,
        )
    excluded = sample | copies
    ids = [str(i) for i, good in zip(data.frame.index, ok, strict=True) if good and str(i) not in excluded]
    if len(ids) > train_max:
        rng = np.random.default_rng([seed, _STREAM_TRAIN])
        keep = np.sort(rng.choice(len(ids), size=train_max, replace=False))
        ids = [ids[i] for i in keep]
    return data.subset(ids)


def copies_of_evaluated(data: SurveyData, people: Split | set[str]) -> set[str]:
    """Ids outside the sample whose row (country and every answer) equals an evaluated respondent's.

    A file can hold one person twice (under two ids): training on the copy would leak the
    evaluated person's answers into the method.
    """
    sample = set(people.respondents) if isinstance(people, Split) else people
    keys = pd.Series(pd.util.hash_pandas_object(data.frame, index=False).to_numpy(), index=data.frame.index)
    in_sample = keys.index.isin(list(sample))
    hit = keys.isin(set(keys[in_sample])) & ~in_sample
    return {str(i) for i in keys.index[hit]}


def without_questions(train: SurveyData, qids: Sequence[str]) -> SurveyData:
    """*train* with the columns of *qids* removed (nobody's answer to them is left)."""
    return train.without(qids)


def fit_groups(split: Split, units: Sequence[Unit], protocol: ProtocolConfig) -> list[tuple[list[str], list[Unit]]]:
    """(questions hidden from fit(), units predicted after that fit), in fold order.

    ``k-fold``: one group, nothing hidden (training respondents are outside the sample, so
    they may have answered the targets). ``new-questions``: one group per fold whose target
    questions are hidden from everyone: removed from the training data, and (as in k-fold)
    absent from every evaluated person's history."""
    if protocol.name != "new-questions":
        return [([], list(units))] if units else []
    by_fold: dict[int, list[Unit]] = {}
    for u in units:
        by_fold.setdefault(u.fold, []).append(u)
    return [(list(split.folds[k]), by_fold[k]) for k in sorted(by_fold)]


@dataclass(frozen=True)
class WorkItem:
    """A unit ready to run: the task (respondent restricted to profile + history) and the truth."""

    unit: Unit
    task: Task
    truth: dict[str, int]
    country: str


def make_work_items(data: SurveyData, units: Sequence[Unit], *, with_truth: bool = True) -> list[WorkItem]:
    """Tasks for *units*: each respondent sees the profile block plus the unit's history.

    ``with_truth=False`` for targets nobody has answered (new questions, ``valuesim simulate``):
    the items carry no truth and their rows have ``truth: null``."""
    profile = [q for q in data.codebook.profile() if q in set(data.question_ids)]
    people = {rid: data.respondent(rid) for rid in dict.fromkeys(u.respondent for u in units)}
    items = []
    for u in units:
        person = people[u.respondent]
        missing_truth = [q for q in u.targets if q not in person.answers] if with_truth else []
        if missing_truth:  # the split was made on other data
            raise ConfigError(
                f"Respondent {u.respondent} has no valid answer to target(s) {', '.join(missing_truth)}.",
                "The split does not belong to this data file; use a new --out or --overwrite.",
            )
        task = hide_targets(person, u.targets, known=profile + list(u.history), fold=u.fold, condition=u.condition)
        items.append(
            WorkItem(
                unit=u,
                task=task,
                truth={q: person.answers[q] for q in u.targets} if with_truth else {},
                country=person.country,
            )
        )
    return items


__all__ = [
    "WorkItem",
    "copies_of_evaluated",
    "fit_groups",
    "make_work_items",
    "plan_split",
    "training_data",
    "training_outside",
    "without_questions",
]
