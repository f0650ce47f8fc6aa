"""item-transfer and the relations stage: leak-free under --protocol new-questions, any codebook."""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from bench_data import make_survey

import valuesim.methods.item_transfer as it_mod
import valuesim.relations.model as rel_mod
from valuesim.bench.protocol import ProtocolConfig
from valuesim.bench.runner import RunConfig, run_benchmark
from valuesim.cli import app
from valuesim.methods.base import Task, get_method
from valuesim.relations import observed_associations
from valuesim.relations.wording import polarity
from valuesim.survey import Respondent, load_codebook
from valuesim.survey.labelled_example import write_labelled_example

CB = load_codebook()
FAST = {"rounds": 10, "relation_folds": 2, "calibration_items": 6, "calibration_people": 20, "encoder": "none"}
NEWQ = ProtocolConfig(name="new-questions", n_respondents=5, seed=3, folds=4, max_targets=4)


def test_scale_direction_cues():
    assert polarity(CB.get("Q1")) == 1  # very important ... not at all important
    assert polarity(CB.get("Q182")) == -1  # never justifiable ... always justifiable
    assert polarity(CB.get("Q164")) == -1  # not at all important ... very important


def test_observed_associations_within_groups():
    data = make_survey(60, seed=2)
    obs = observed_associations(data, data.codebook, groups=data.frame["country"].to_numpy(), min_group=5)
    assert obs.items and np.allclose(np.diag(obs.corr), 1.0)
    finite = obs.corr[np.isfinite(obs.corr)]
    assert finite.min() >= -1 and finite.max() <= 1
    assert obs.group_marginals and all(abs(sum(m.probs) - 1) < 1e-9 for m in obs.marginals.values())


def test_no_target_answer_reaches_relations_method_or_calibration(tmp_path, monkeypatch):
    """A spy on every place answers are read: the relations model's observed associations, the
    method's fit and its calibration (which scores training people's answers to pseudo-new items)."""
    data = make_survey(40, seed=4)
    seen: dict[str, list[set[str]]] = {"observed": [], "fit": [], "calibrate": []}

    def answered(train: Any) -> set[str]:
        return {q for q in train.question_ids if (train.frame[q] >= 0).any()}

    real_obs = rel_mod.observed_associations

    def spy_obs(train: Any, *a: Any, **k: Any) -> Any:
        seen["observed"].append(answered(train) | set(train.frame.columns))
        return real_obs(train, *a, **k)

    monkeypatch.setattr(rel_mod, "observed_associations", spy_obs)
    cls = it_mod.ItemTransfer
    real_fit, real_cal = cls.fit, cls._calibrate

    def spy_fit(self: Any, train: Any) -> None:
        seen["fit"].append(set(train.frame.columns))
        real_fit(self, train)

    def spy_cal(self: Any, train: Any, fixed: Any) -> Any:
        seen["calibrate"].append(set(train.frame.columns))
        return real_cal(self, train, fixed)

    monkeypatch.setattr(cls, "fit", spy_fit)
    monkeypatch.setattr(cls, "_calibrate", spy_cal)
    m = get_method("item-transfer", CB, **FAST)
    res = run_benchmark(data, m, RunConfig(protocol=NEWQ, n_boot=20, command="t"), tmp_path / "run", progress=False)
    folds = res.split.folds
    for key in seen:
        assert len(seen[key]) == len(folds), key
        for k, fold in enumerate(folds):
            assert not set(fold) & seen[key][k], (key, k)
    assert set(folds[0]) & set(data.question_ids)  # ... although the data hold them
    rows = [json.loads(x) for x in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    assert rows and all(r["prediction"] is not None for r in rows)
    assert all(abs(sum(r["probabilities"].values()) - 1) < 1e-6 for r in rows)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    fit = manifest["sessions"][-1]["fit"]
    assert fit["relations"]["heldout_quality"]["n_pairs"] > 0 and set(fit["params"]) >= {"shrink", "marginal"}


def test_direction_is_carried(monkeypatch):
    """A person at one end of a related item lands at the same end of the target, or the other
    end when the association is negative."""
    data = make_survey(40, seed=5)
    m = get_method("item-transfer", CB, **FAST)
    m.fit(data)
    copy = pickle.loads(pickle.dumps(m))  # executors ship the fitted method to other processes
    person = Respondent("p", "DEU", answers={"Q1": 1, "Q2": 2})
    assert copy.predict(Task(person, ("Q46",)))[0].probabilities == m.predict(Task(person, ("Q46",)))[0].probabilities
    rel = m.relations
    j = rel.index["Q1"]

    def fake_predict(q: Any) -> tuple[np.ndarray, np.ndarray]:
        a = np.full(len(rel.items), np.nan)
        a[j] = sign * 0.8
        return a, np.full(len(rel.items), 0.05)

    monkeypatch.setattr(rel, "predict", fake_predict)
    m.params.update(marginal="uniform", shrink=1.0, kappa=0.0, inflate=1.0, copy=0.0, point=None)
    out = {}
    for sign in (1.0, -1.0):
        person = Respondent("p", "DEU", answers={"Q1": 1})
        out[sign] = m.predict(Task(person, ("Q46",)))[0]
    assert out[1.0].prediction == 1 and out[-1.0].prediction == 4
    assert out[1.0].meta["related"][0]["item"] == "Q1"


def test_battery_copy_and_copy_weight_by_strength():
    """The copy spreads over the person's answers to up to copy_items siblings with as many options
    (mirrored when the association is negative), weighted by similarity^2 x |association|; its
    weight is chosen by the strength of the copied items' association."""
    data = make_survey(40, seed=6)
    m = get_method("item-transfer", CB, **{**FAST, "copy_items": 3})
    m.fit(data)
    assert len(m.params["copy"]) == len(it_mod.COPY_BINS) + 1
    rel = m.relations
    p = len(rel.items)
    four = np.flatnonzero(rel.cues.n_options == 4)[:4]
    sims, assoc = np.full(p, np.nan), np.full(p, np.nan)
    sims[four], assoc[four] = [0.9, 0.8, 0.7, 0.6], [0.5, -0.5, 0.5, 0.5]
    pos = np.full(p, np.nan)
    pos[four] = [0.0, 0.0, 1.0, 1.0]  # first option, first option, last option, last option
    copy, strength = m._copy(assoc, sims, np.isfinite(pos), pos, 4)
    assert copy is not None and strength == 0.5
    w = np.array([0.81, 0.64, 0.49])
    assert np.allclose(copy, [w[0] / w.sum(), 0, 0, (w[1] + w[2]) / w.sum()])  # the second mirrored, the 4th left out
    m.opts = m.opts.model_copy(update={"copy_items": 1})
    assert np.allclose(m._copy(assoc, sims, np.isfinite(pos), pos, 4)[0], [1, 0, 0, 0])
    assert it_mod.copy_weight({"copy": [0.0, 0.1, 0.2, 0.3]}, 0.3) == 0.1
    assert it_mod.copy_weight({"copy": [0.0, 0.1, 0.2, 0.3]}, 0.9) == 0.3
    assert it_mod.copy_weight({"copy": 0.2}, 0.9) == 0.2  # one weight (a fixed copy_weight, older params)


def test_point_score_punishes_a_far_guess():
    """The point setting is chosen on right minus rank error: a mode tied at the first option of a
    10-point scale scores worse than a near miss, and an unordered target counts hits only."""
    assert it_mod.point_score(3, 3, 10, True) == 1.0
    assert it_mod.point_score(0, 9, 10, True) == -1.0
    assert it_mod.point_score(2, 3, 10, True) > it_mod.point_score(0, 3, 10, True)
    assert it_mod.point_score(0, 2, 3, False) == 0.0


def test_similar_marginal_averages_cut_points():
    """Two neighbours with the same shape at different places give a marginal as sharp as theirs,
    between them (averaging probabilities would flatten it); a negative association reverses one."""
    data = make_survey(40, seed=7)
    m = get_method("item-transfer", CB, **FAST)
    m.fit(data)
    rel = m.relations
    p = len(rel.items)
    four = np.flatnonzero(rel.cues.n_options == 4)[:2]
    group = next(iter(m._observed.group_marginals), None)
    target = rel.questions[four[0]]
    sims, assoc = np.full(p, np.nan), np.full(p, np.nan)
    sims[four], assoc[four] = 0.8, 0.5
    got = m._marginal_probs(target, "similar", assoc, sims, group)
    ps = [np.asarray(m._observed.marginal(rel.items[i], group).probs) for i in four]
    cuts = np.mean([it_mod.thresholds_of(x) for x in ps], axis=0)
    want = np.diff(np.concatenate([[0.0], it_mod.ndtr(cuts), [1.0]]))
    assert np.allclose(got, (1 - it_mod.MARGINAL_UNIFORM) * want + it_mod.MARGINAL_UNIFORM / 4)
    assoc[four[1]] = -0.5
    flipped = m._marginal_probs(target, "similar", assoc, sims, group)
    cuts = np.mean([it_mod.thresholds_of(ps[0]), it_mod.thresholds_of(ps[1][::-1])], axis=0)
    want = np.diff(np.concatenate([[0.0], it_mod.ndtr(cuts), [1.0]]))
    assert np.allclose(flipped, (1 - it_mod.MARGINAL_UNIFORM) * want + it_mod.MARGINAL_UNIFORM / 4)
    assert np.allclose(m._marginal_probs(target, "uniform", assoc, sims, group), 0.25)


def test_item_transfer_beats_uniform_on_a_labelled_survey(tmp_path):
    """The generated labelled .sav (not WVS: its own codebook, missing codes, no WVS ids)."""
    sav = write_labelled_example(tmp_path / "ex.sav", n=400, seed=0)
    from valuesim.cli._data import load_data

    data = load_data(str(sav), codebook="auto")
    proto = ProtocolConfig(name="new-questions", n_respondents=60, seed=1, folds=5, min_valid=0)
    scores = {}
    for name, opts in (("uniform", {}), ("item-transfer", {**FAST, "rounds": 60, "relation_folds": 3})):
        res = run_benchmark(
            data, get_method(name, data.codebook, **opts), RunConfig(protocol=proto, n_boot=50), tmp_path / name,
            progress=False,
        )  # fmt: skip
        scores[name] = res.metrics
    assert scores["item-transfer"]["n_predictions"] == scores["uniform"]["n_predictions"] > 300
    assert scores["item-transfer"]["top1"]["mean"] > scores["uniform"]["top1"]["mean"]
    # (its nMAE is not better than uniform's middle option here: measured 0.358 vs 0.272)


def test_cli_items_related_and_ask(tmp_path):
    runner = CliRunner()
    sav = write_labelled_example(tmp_path / "ex.sav", n=200, seed=0)
    args = ["items", "related", "--data", str(sav), "--codebook", "auto", "--text", "Gay men and lesbians should be "
            "free to live their own life as they wish", "--options", "Agree strongly|Agree|Neither|Disagree|Disagree "
            "strongly", "-k", "3", "--encoder", "none", "--json", str(tmp_path / "rel.json")]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    out = json.loads((tmp_path / "rel.json").read_text())
    assert len(out["relations"]) == 3 and out["relations"][0]["item"] in res.output
    assert out["model"]["heldout_quality"]["n_pairs"] > 0
    bad = runner.invoke(app, ["items", "related", "--data", str(sav), "--codebook", "auto"])
    assert bad.exit_code != 0 and "Nothing to relate" in str(bad.exception)


def test_static_encoder_reads_the_wheel_without_downloading():
    pytest.importorskip("wordllama", reason="the [embed] extra is not installed")
    from valuesim.relations.wording import StaticEncoder, get_encoder

    enc = get_encoder("static")
    assert isinstance(enc, StaticEncoder)
    v = enc.encode(
        ["How important is God in your life?", "How important is religion in your life?", "Do you trust the police?"]
    )
    assert v.shape[0] == 3 and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_ask_new_question_with_item_transfer(tmp_path):
    sav = write_labelled_example(tmp_path / "ex.sav", n=200, seed=0)
    from valuesim.cli._data import load_data

    rid = load_data(str(sav), codebook="auto").ids[0]
    opts = [x for k, v in FAST.items() for x in ("-o", f"{k}={v}")]
    args = ["ask", "--data", str(sav), "--codebook", "auto", "--respondent", rid, "--text", "Gay men and lesbians "
            "should be free to live as they wish", "--options", "Agree strongly|Agree|Neither|Disagree|Disagree "
            "strongly", "--method", "item-transfer", *opts]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "Prediction:" in res.output and "a new question: nobody was asked it" in res.output


@pytest.mark.parametrize("shape", ["ess", "gss"])
def test_runs_on_real_survey_shapes(tmp_path, shape):
    """ESS-shaped (0-10 scales labelled "1".."9" inside, 77/88/99 missing codes, design variables)
    and GSS-shaped (Stata, no country column) files: every target answered with a valid option."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "survey"))
    from survey_shapes import write_ess, write_gss

    from valuesim.cli._data import load_data

    path = (write_ess if shape == "ess" else write_gss)(tmp_path / f"s.{'sav' if shape == 'ess' else 'dta'}", n=200)
    data = load_data(str(path), codebook="auto")
    proto = ProtocolConfig(name="new-questions", n_respondents=20, seed=1, folds=3, min_valid=0)
    m = get_method("item-transfer", data.codebook, **FAST)
    res = run_benchmark(data, m, RunConfig(protocol=proto, n_boot=20), tmp_path / "run", progress=False)
    assert res.metrics["n_predictions"] > 100 and res.metrics["n_abstained"] == 0
    rows = [json.loads(x) for x in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    for r in rows:
        codes = data.codebook.get(r["question"]).answer_codes
        assert r["prediction"] in codes and {int(c) for c in r["probabilities"]} == set(codes)
