"""`--protocol new-questions`: the fold's target questions are hidden from everyone."""

from __future__ import annotations

import json
from typing import Any

import pytest
from bench_data import make_survey
from typer.testing import CliRunner

from valuesim.bench.protocol import ProtocolConfig
from valuesim.bench.runner import RunConfig, run_benchmark
from valuesim.cli import app
from valuesim.errors import ConfigError
from valuesim.methods.base import get_method, method_info
from valuesim.methods.baselines import transfer_code
from valuesim.survey import Respondent, load_codebook

NEWQ = ProtocolConfig(name="new-questions", n_respondents=6, seed=5, folds=4, max_targets=3)
CB = load_codebook()


@pytest.fixture(scope="module")
def data():
    return make_survey(30, seed=4)


def spying(name: str, **options: Any):
    """The registered method *name*, recording what its fit() and predict() receive."""
    base = method_info(name).cls

    class Spy(base):  # type: ignore[misc, valid-type]
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, **k)
            self.fits: list[set[str]] = []  # columns of each fit's data
            self.fit_values: list[set[str]] = []  # columns with at least one answer
            self.seen: list[tuple[int, frozenset[str], frozenset[str], tuple[str, ...]]] = []

        def fit(self, train):
            self.fits.append(set(train.frame.columns))
            self.fit_values.append({q for q in train.question_ids if (train.frame[q] >= 0).any()})
            super().fit(train)

        async def apredict(self, task):
            p = task.respondent
            self.seen.append((len(self.fits), frozenset(p.answers), frozenset(p.missing), task.targets))
            return await super().apredict(task)

    Spy.name = name
    return Spy(CB, **options)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("uniform", {}),
        ("text-transfer", {}),
        ("blank", {"model": "mock"}),
        ("valuesim", {"model": "mock", "modules": "plain"}),
    ],
)
def test_no_target_answer_of_anyone_reaches_fit_or_predict(tmp_path, data, name, options):
    m = spying(name, **options)
    res = run_benchmark(data, m, RunConfig(protocol=NEWQ, n_boot=20, command="t"), tmp_path / "run", progress=False)
    folds = res.split.folds
    assert len(m.fits) == len(folds)  # one fit per fold
    for k, fold in enumerate(folds):
        assert not set(fold) & m.fits[k]  # the fold's columns are gone from the training data
        assert not set(fold) & m.fit_values[k]
        assert set(fold) & set(data.question_ids)  # ... although the data has them
    assert m.seen and len({t for *_, t in m.seen}) > 1
    for n_fits, answers, missing, targets in m.seen:
        fold = set(folds[n_fits - 1])  # predict() runs after its fold's fit
        assert set(targets) <= fold
        assert not fold & answers and not fold & missing  # neither the targets nor any fold question
    rows = [json.loads(x) for x in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    assert rows and all(r["prediction"] is not None for r in rows)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["config"]["protocol"]["name"] == "new-questions"
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n_predictions"] == len(rows)


def test_methods_that_learn_from_the_targets_are_refused(tmp_path, data):
    for name in ("majority", "knn", "supervised"):
        with pytest.raises(ConfigError, match="cannot run under --protocol new-questions"):
            run_benchmark(data, get_method(name, CB), RunConfig(protocol=NEWQ), tmp_path / name, progress=False)


def test_k_fold_and_new_questions_runs_never_pair(tmp_path, data):
    kfold = NEWQ.model_copy(update={"name": "k-fold"})
    a = run_benchmark(
        data, get_method("uniform", CB), RunConfig(protocol=kfold, n_boot=20), tmp_path / "a", progress=False
    )
    b = run_benchmark(
        data, get_method("uniform", CB), RunConfig(protocol=NEWQ, n_boot=20), tmp_path / "b", progress=False
    )
    assert [u.to_dict() for u in a.split.units] == [u.to_dict() for u in b.split.units]  # the same work ...
    assert a.split.split_hash != b.split.split_hash  # ... under another protocol
    res = CliRunner().invoke(app, ["bench", "compare", str(tmp_path / "a"), str(tmp_path / "b")])
    assert isinstance(res.exception, ConfigError) and "different protocols (k-fold and new-questions)" in str(
        res.exception
    )
    with pytest.raises(ConfigError, match="different split"):  # a k-fold directory is not resumed as new-questions
        run_benchmark(data, get_method("uniform", CB), RunConfig(protocol=NEWQ), tmp_path / "a", progress=False)


def test_cli_bench_protocol(tmp_path):
    args = ["bench", "--synthetic", "60", "--method", "text-transfer", "--protocol", "new-questions", "-n", "4",
            "--only-fold", "0", "--max-targets", "3", "--min-valid", "0", "--out", str(tmp_path / "run")]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    bad = CliRunner().invoke(app, [*args[:6], "sideways", *args[7:]])
    assert isinstance(bad.exception, ConfigError) and "new-questions" in str(bad.exception)


def test_uniform_and_text_transfer_predictions():
    person = Respondent("p", "DEU", answers={"Q1": 1, "Q260": 1})  # Q1: family very important
    from valuesim.methods.base import Task

    uni = get_method("uniform", CB).predict(Task(person, ("Q2", "Q46")))
    assert uni[0].prediction == 2 and uni[0].probabilities == {1: 0.25, 2: 0.25, 3: 0.25, 4: 0.25}
    tt = get_method("text-transfer", CB).predict(Task(person, ("Q2",)))[0]  # Q2: importance of friends
    assert tt.meta["source"] == "Q1" and tt.prediction == 1
    assert tt.probabilities is not None and tt.probabilities[1] == pytest.approx(0.5 + 0.5 / 4)
    # nothing similar known: the middle option, flagged
    far = get_method("text-transfer", CB).predict(Task(Respondent("p", "DEU", answers={}), ("Q2",)))[0]
    assert far.prediction == 2 and far.meta["fallback"] == "no similar known question"


def test_transfer_keeps_the_relative_position():
    q10 = CB.get("Q49")  # 1-10 life satisfaction
    q4 = CB.get("Q46")  # 4-point happiness
    assert transfer_code(q10.answer_codes, 1, True, q4) == q4.answer_codes[0]
    assert transfer_code(q10.answer_codes, 10, True, q4) == q4.answer_codes[-1]
    assert transfer_code(q4.answer_codes, q4.answer_codes[1], True, q10) == 4  # 1/3 of the way: 1 + 3
