"""LLM item judgments (item-transfer -o judge=...): once per pair of items, never per person; a failed
request costs one pair; the SIMULATED item oracle; no target answer reaches the judge or the fit."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_data import make_survey
from model_specs import spec_of

import valuesim.relations.model as rel_mod
from valuesim.bench.protocol import ProtocolConfig
from valuesim.bench.runner import PopulationAssociations, RunConfig, run_benchmark
from valuesim.errors import ConfigError
from valuesim.llm import Model, simulation
from valuesim.llm.backends.base import Scores, TransientError
from valuesim.llm.backends.mock import MockBackend
from valuesim.llm.cache import ResponseCache
from valuesim.methods.base import Task, get_method
from valuesim.methods.item_judge import LEVELS, ItemJudge, judgment_messages
from valuesim.methods.item_transfer import sharpen
from valuesim.relations import orderable
from valuesim.report.load import load_run
from valuesim.survey import Respondent, load_codebook

CB = load_codebook()
FAST = {"rounds": 20, "relation_folds": 3, "calibration_items": 8, "calibration_people": 40, "encoder": "none"}
JUDGE = {"judge_k": 5, "judge_items": 12}


def structured(n: int = 240, seed: int = 0, n_items: int = 40, skew: bool = False) -> tuple[Any, list[str]]:
    """A synthetic survey whose first *n_items* ordered items follow two latent factors, a third of
    them reversed, so item pairs have strong associations of both signs (*skew*: each item's answer
    distribution lopsided its own way, as real items are, instead of even)."""
    data = make_survey(n, seed=seed, missing_rate=0.05)
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(n, 2))
    items = [q for q in CB.substantive() if orderable(CB.get(q))][:n_items]
    for i, q in enumerate(items):
        codes = CB.get(q).answer_codes
        x = (0.8 if i % 3 else -0.8) * u[:, i % 2] + 0.6 * rng.normal(size=n)
        shares = rng.dirichlet(np.full(len(codes), 0.7)) if skew else np.full(len(codes), 1 / len(codes))
        cuts = np.quantile(x, np.clip(np.cumsum(shares)[:-1], 0.01, 0.99))
        data.frame[q] = np.array(codes)[np.searchsorted(cuts, x)].astype(np.int16)
    return data, items


class Counting(MockBackend):
    """The mock, counting its calls; fails every call that judges a pair with a question in ``fail_on``."""

    def __init__(self, fail_on: tuple[str, ...] = (), item_oracle: float | None = None) -> None:
        super().__init__(0, item_oracle=item_oracle)
        self.calls = 0
        self.fail_on = fail_on

    async def score_choices(self, messages: Any, options: Any, config: Any) -> Any:
        self.calls += 1
        text = messages[-1].content
        if any(CB.get(q).short in text for q in self.fail_on):
            raise TransientError("simulated server error")
        return await super().score_choices(messages, options, config)


def counting_spec(backend: Counting, cache: ResponseCache | None = None) -> str:
    """The spec of a counting model (registered for this test, reached like a user's spec)."""
    return spec_of(Model(backend, cache=cache, max_retries=0))


def counting_judge(backend: Counting, cache: ResponseCache | None = None) -> ItemJudge:
    return ItemJudge(counting_spec(backend, cache))


def test_each_pair_is_judged_once_whatever_the_order_and_the_number_of_people(tmp_path):
    backend = Counting()
    judge = counting_judge(backend, ResponseCache(tmp_path / "cache"))
    qs = [CB.get(q) for q in ("Q1", "Q2", "Q3", "Q46")]
    pairs = [(qs[0], qs[1]), (qs[1], qs[0]), (qs[2], qs[3]), (qs[0], qs[1]), (qs[3], qs[2])]
    out = judge(pairs)
    assert backend.calls == 2 and judge.pairs_judged == 2  # two distinct unordered pairs
    assert out[0] == out[1] == out[3] and out[2] == out[4] and all(min(LEVELS) <= v <= max(LEVELS) for v in out)
    # a new judge on the same response cache: no call at all, two cache hits
    again = counting_judge(second := Counting(), ResponseCache(tmp_path / "cache"))
    assert again(pairs) == out and second.calls == 0 and again.usage.cache_hits == 2

    # in item-transfer: the calls are pairs, not people
    data, _ = structured()
    m = get_method("item-transfer", CB, **FAST, **JUDGE, judge=counting_spec(backend := Counting()))
    m.fit(data)
    after_fit = backend.calls
    # pairs, and the calibration items' answer distributions in its countries (two calls each: the
    # options in order and reversed)
    assert 0 < after_fit <= JUDGE["judge_items"] * (JUDGE["judge_k"] + 2 * len(set(data.frame["country"])))
    people = [Respondent(f"p{i}", "DEU", answers={"Q1": 1 + i % 4, "Q2": 1 + (i + 1) % 4}) for i in range(25)]
    m.predict(Task(people[0], ("Q46",)))
    one = backend.calls - after_fit
    assert 0 < one <= JUDGE["judge_k"] + 2  # its pairs, and its distribution in Germany
    for person in people[1:]:
        m.predict(Task(person, ("Q46",)))
    assert backend.calls - after_fit == one  # 24 more people: no more calls
    assert m.usage is not None and m.usage["llm_calls"] == backend.calls


def test_a_failed_judgment_costs_that_pair_only():
    backend = Counting(fail_on=("Q2",))
    judge = counting_judge(backend)
    qs = [CB.get(q) for q in ("Q1", "Q2", "Q3")]
    out = judge([(qs[0], qs[1]), (qs[0], qs[2]), (qs[1], qs[2])])
    assert out[0] is None and out[2] is None and out[1] is not None and judge.failed == 2
    data, _ = structured()
    m = get_method("item-transfer", CB, **FAST, **JUDGE, judge=counting_spec(Counting(fail_on=("Q46", "Q3"))))
    m.fit(data)  # fit-time failures: those pairs are not judged, the rest is
    rep = m.fit_report()["relations"]["judgments"]
    assert rep["pairs_judged"] < rep["pairs"] or rep["pairs"] == 0
    pred = m.predict(Task(Respondent("p", "DEU", answers={"Q1": 1, "Q2": 4}), ("Q46", "Q47")))
    assert all(p.prediction is not None for p in pred)  # every target of the person is answered


def test_item_oracle_reveals_the_true_association():
    data, items = structured()
    truth = PopulationAssociations(data)
    pairs = [(CB.get(a), CB.get(b)) for a in items[:6] for b in items[6:12]]
    obs = np.array([truth(a.id, b.id) for a, b in pairs])
    with simulation.item_truth(truth):
        full = ItemJudge("mock:item-oracle=1")(pairs)
        half = ItemJudge("mock:item-oracle=0.5")(pairs)
        noise = ItemJudge("mock:item-oracle=0")(pairs)
    full_, half_, noise_ = (np.array(x, dtype=float) for x in (full, half, noise))
    strong = np.abs(obs) > 0.2
    assert strong.sum() >= 10 and (np.sign(full_[strong]) == np.sign(obs[strong])).all()
    assert np.allclose(full_, np.clip(obs, min(LEVELS), max(LEVELS)), atol=1e-6)
    assert np.allclose(half_, 0.5 * full_ + 0.5 * noise_, atol=1e-6)  # strength P: mixed with the noise
    assert np.corrcoef(full_, obs)[0, 1] > 0.99 and abs(np.corrcoef(noise_, obs)[0, 1]) < 0.5
    # outside a benchmark nobody knows the truth: the item oracle is noise
    assert ItemJudge("mock:item-oracle=1")(pairs[:3]) == noise[:3]


def test_item_oracle_reveals_the_true_answer_distribution():
    data, items = structured(skew=True)
    truth = PopulationAssociations(data)
    asks = [(CB.get(q), "DEU", "Germany") for q in items[:8]]
    exact = [np.array(truth.distribution(q.id, "DEU")) for q, _, _ in asks]
    with simulation.item_truth(truth, truth.distribution):
        full = ItemJudge("mock:item-oracle=1").distributions(asks)
        four = ItemJudge("mock:item-oracle=1", orders=4).distributions(asks)
        noise4 = ItemJudge("mock:item-oracle=0", orders=4).distributions(asks)
        half = ItemJudge("mock:item-oracle=0.5").distributions(asks)
        noise = ItemJudge("mock:item-oracle=0").distributions(asks)
    outside = ItemJudge("mock:item-oracle=1").distributions(asks)
    for e, f, h, z, o in zip(exact, full, half, noise, outside, strict=True):
        f, h, z, o = (np.array(x, dtype=float) for x in (f, h, z, o))
        assert np.allclose(f, e, atol=1e-6)  # in code order, though also asked with its options reversed
        assert np.allclose(h, 0.5 * f + 0.5 * z, atol=1e-6)
        assert np.allclose(o, z)  # outside a benchmark nobody knows the truth: noise
    assert max(np.abs(np.array(z, dtype=float) - e).max() for z, e in zip(noise, exact, strict=True)) > 0.1
    # more listings of the options (cyclic shifts too): the truth still comes back in code order, and
    # the noise of the listings averages out (flatter than with two)
    assert all(np.allclose(f, e, atol=1e-6) for f, e in zip(four, exact, strict=True))
    peak2 = np.mean([max(z) for z in noise])
    peak4 = np.mean([max(z) for z in noise4])
    assert peak4 < peak2
    # the prompt: the question, its options and the country; the reversed listing is the same options
    from valuesim.methods.item_judge import distribution_messages

    q = asks[0][0]
    n = len(q.answer_codes)
    text = distribution_messages(q, "Germany")[0].content
    back = distribution_messages(q, "Germany", list(range(n))[::-1])[0].content
    assert "Germany" in text and q.label(q.answer_codes[0]) in text.split("\nB.")[0]
    assert q.label(q.answer_codes[-1]) in back.split("\nB.")[0]


def test_option_orders_are_distinct_listings_of_every_option():
    from valuesim.methods.item_judge import option_orders

    for n in (2, 3, 4, 5, 7, 10, 11):
        for k in (1, 2, 3, 4, 6, 8):
            orders = option_orders(n, k)
            assert orders[0] == list(range(n)) and len(orders) == min(k, 2 if n == 2 else 2 * n)
            assert all(sorted(o) == list(range(n)) for o in orders)
            assert len({tuple(o) for o in orders}) == len(orders)
            if k >= 2:
                assert orders[1] == list(range(n))[::-1]


def test_judged_distributions_earn_their_share_only_when_informative(tmp_path):
    """The calibration mixes the judged answer distribution into the marginal only when it predicts
    the pseudo-new items' answers: with the SIMULATED oracle at P = 1 it is chosen and lifts the
    calibration's likelihood; pure noise (P = 0) earns less and loses to it."""
    data, _ = structured(400, skew=True)
    proto = ProtocolConfig(name="new-questions", n_respondents=10, seed=1, folds=4, max_targets=4, only_folds=(0,))
    fits, checks = {}, {}
    for p in (0, 1):
        m = get_method("item-transfer", CB, **FAST, **JUDGE, judge=f"mock:item-oracle={p}")
        run_benchmark(data, m, RunConfig(protocol=proto, n_boot=20), tmp_path / f"p{p}", progress=False)
        fits[p] = (m.params["marginal"], m.calibration["mean_loglik"], m._judge.distributions_judged)
        checks[p] = m.calibration["judged_check"]
    assert fits[1][0].startswith("judged=") and float(fits[1][0].split("=")[1]) >= 0.5
    assert fits[1][1] > fits[0][1] + 0.01, fits
    share0 = float(fits[0][0].split("=")[1]) if fits[0][0].startswith("judged=") else 0.0
    assert share0 < float(fits[1][0].split("=")[1]), fits
    assert fits[1][2] > 0
    # the judged share is kept because it beat the best setting without one, item by item
    assert checks[1]["kept"] and checks[1]["ci95"][0] > 0
    assert checks[0] is None or not checks[0]["kept"] or checks[0]["ci95"][0] > 0
    # fewer judged items than the calibration scores: the rest keep their wording relations, the
    # calibration still scores as many items
    few = get_method("item-transfer", CB, **FAST, judge_k=5, judge_items=3, judge="mock:item-oracle=0")
    run_benchmark(data, few, RunConfig(protocol=proto, n_boot=20), tmp_path / "few", progress=False)
    assert few.calibration["items"] == FAST["calibration_items"]
    off = get_method("item-transfer", CB, **FAST, **JUDGE, judge="mock:item-oracle=1", judge_distributions=False)
    run_benchmark(data, off, RunConfig(protocol=proto, n_boot=20), tmp_path / "off", progress=False)
    assert not str(off.params["marginal"]).startswith("judged=") and off._judge.distributions_judged == 0


class FixedDistributions:
    """A stand-in judge whose answer distribution of a question is fixed (the same in every country)."""

    def __init__(self, dists: dict[str, np.ndarray]) -> None:
        self.dists = dists

    def distributions(self, asks: Any) -> list[tuple[float, ...]]:
        return [tuple(self.dists[q.id]) for q, _, _ in asks]


def tempered_fit(judged: dict[str, np.ndarray], truth: dict[str, np.ndarray], **options: Any) -> Any:
    """item-transfer's power of the judged distributions, fitted on 1,500 people of one country whose
    answers to the items of *truth* follow it."""
    from types import SimpleNamespace

    rng = np.random.default_rng(3)
    qs = [CB.get(q) for q in truth]
    n = 1500
    values = np.array([[q.answer_codes[rng.choice(len(q.answer_codes), p=truth[q.id])] for q in qs] for _ in range(n)])
    m = get_method("item-transfer", CB, **options)
    m._judge = FixedDistributions(judged)
    m._observed = SimpleNamespace(marginals={q.id: SimpleNamespace(codes=q.answer_codes) for q in qs})
    m._rel = SimpleNamespace(questions=qs)
    m._calibration_groups = {"DEU"}
    m._judged_power = m.opts.judge_power or 1.0
    rep = m._fit_power(list(range(len(qs))), values.astype(float), np.array(["DEU"] * n))
    assert rep["answers"] == n * len(qs)
    return m, rep


@pytest.mark.parametrize(("skew", "expected"), [(0.5, 2.0), (2.0, 0.5), (1.0, 1.0)])
def test_judged_distributions_are_tempered_by_a_power_fitted_on_the_calibration_answers(skew, expected):
    """A judge whose distributions are the true ones raised to *skew* (0.5: too flat, as averaged or
    hedged answers are; 2: too peaked, as an overconfident model's) gets the power 1 / skew back from
    the calibration people's answers, and the tempered distribution is what the marginal mixes in; a
    given judge_power is kept as it is; a judge whose distributions are noise is flattened."""
    rng = np.random.default_rng(3)
    qs = [CB.get(q) for q in CB.substantive() if orderable(CB.get(q))][:12]
    truth = {q.id: rng.dirichlet(np.full(len(q.answer_codes), 0.8)) for q in qs}
    reported = {k: v**skew / (v**skew).sum() for k, v in truth.items()}
    m, rep = tempered_fit(reported, truth)
    assert rep["fitted"] and abs(np.log(m._judged_power / expected)) < 0.15, rep
    assert rep["mean_loglik"] >= rep["mean_loglik_as_judged"] - 1e-9
    assert np.allclose(sharpen(reported[qs[0].id], m._judged_power), truth[qs[0].id], atol=0.03)
    fixed, rep = tempered_fit(reported, truth, judge_power=1.0)
    assert fixed._judged_power == 1.0 and not rep["fitted"]
    noise = {k: rng.dirichlet(np.full(len(v), 0.8)) for k, v in truth.items()}
    flat, rep = tempered_fit(noise, truth)
    assert flat._judged_power < 0.3 and rep["mean_loglik"] > rep["mean_loglik_as_judged"] + 0.1, rep


class Uniform(MockBackend):
    """A judge with no information: every option (and every judgment level) equally likely."""

    async def score_choices(self, messages: Any, options: Any, config: Any) -> Any:
        return Scores([1.0 / len(options)] * len(options), "logprobs", 10, 0)


def test_a_judge_is_not_credited_with_what_flattening_the_marginal_gains(tmp_path):
    """A judge whose distributions are uniform carries nothing: its judged=W settings equal their
    flat=W controls exactly, so the check never keeps them (it would, were flattening the similar
    marginal all a judged share needed to beat), and the controls are never chosen themselves."""
    data, _ = structured(400, skew=True)
    proto = ProtocolConfig(name="new-questions", n_respondents=10, seed=1, folds=4, max_targets=4, only_folds=(0,))
    spec = spec_of(Model(Uniform(0), max_retries=0))
    m = get_method("item-transfer", CB, **FAST, **JUDGE, judge=spec)
    run_benchmark(data, m, RunConfig(protocol=proto, n_boot=20), tmp_path / "u", progress=False)
    grid = {(g["shrink"], g["marginal"], str(g["copy"])): g["mean_loglik"] for g in m.calibration["grid"]}
    judged = {k: v for k, v in grid.items() if k[1].startswith("judged=")}
    assert judged and all(v == grid[(k[0], "flat=" + k[1].split("=")[1], k[2])] for k, v in judged.items())
    check = m.calibration["judged_check"]
    assert check is None or (not check["kept"] and check["vs_flat"]["gain_nats_per_answer"] == 0), check
    assert not str(m.params["marginal"]).startswith(("judged=", "flat="))
    assert not str(m.params["point"]["marginal"]).startswith(("judged=", "flat="))
    # where the question was not judged (a country outside the calibration's), the control is the
    # similar marginal, as the judged setting is: the two differ only by the judge's distribution
    q = m.relations.questions[0]
    assoc, sims = m.relations.predict(q)[0], m.relations.similarity(q)
    m._calibration_groups = {"nowhere"}
    similar = m._marginal_probs(q, "similar", assoc, sims, "DEU")
    for how in ("judged=0.5", "flat=0.5"):
        assert np.array_equal(m._marginal_probs(q, how, assoc, sims, "DEU"), similar), how


def test_item_oracle_weight_is_fitted_on_known_pairs_and_the_run_is_stamped_simulated(tmp_path):
    data, _ = structured(300)
    proto = ProtocolConfig(name="new-questions", n_respondents=8, seed=1, folds=4, max_targets=3, only_folds=(0,))
    weights = {}
    for p in (0, 1):
        m = get_method("item-transfer", CB, **FAST, **JUDGE, judge=f"mock:item-oracle={p}")
        res = run_benchmark(data, m, RunConfig(protocol=proto, n_boot=20), tmp_path / f"p{p}", progress=False)
        manifest = json.loads((tmp_path / f"p{p}" / "manifest.json").read_text())
        rep = manifest["sessions"][-1]["fit"]["relations"]["judgments"]
        weights[p] = rep["weights"]["judgment"]
        assert manifest["config"]["method"]["judge"] == f"mock:item-oracle={p}"
        assert res.metrics["llm_calls"] > 0
        run = load_run(tmp_path / f"p{p}")
        assert simulation.is_simulated(run.model)  # reports label the run SIMULATED
    assert weights[1] > 0.3 and abs(weights[0]) < weights[1] / 2
    plain = get_method("item-transfer", CB, **FAST)
    assert "judge" not in plain.config()  # runs without judgments keep their identity


def test_no_target_answer_reaches_the_judge_or_the_relations_fit(tmp_path, monkeypatch):
    """A spy on the judge (every pair it is asked, and when) and on the observed associations the
    relations model is fitted on, under --protocol new-questions."""
    data, _ = structured(200, skew=True)
    phase = {"fit": -1, "now": "fit"}
    asked: list[tuple[int, str, str, str]] = []
    observed: list[set[str]] = []
    real_obs = rel_mod.observed_associations

    def spy_obs(train: Any, *a: Any, **k: Any) -> Any:
        observed.append(set(train.frame.columns))
        return real_obs(train, *a, **k)

    monkeypatch.setattr(rel_mod, "observed_associations", spy_obs)
    real_judge = ItemJudge.__call__

    def spy_judge(self: ItemJudge, pairs: Any) -> list[float | None]:
        for a, b in pairs:
            text = judgment_messages(a, b)[0].content  # what the model is shown: two questions
            assert a.short in text and b.short in text and "you answered" not in text.lower()
            asked.append((phase["fit"], phase["now"], a.id, b.id))
        return real_judge(self, pairs)

    monkeypatch.setattr(ItemJudge, "__call__", spy_judge)
    real_dist = ItemJudge.distributions
    dists: list[tuple[int, str, str]] = []

    def spy_dist(self: ItemJudge, asks: Any) -> Any:
        from valuesim.methods.item_judge import distribution_messages

        for q, _group, place in asks:
            text = distribution_messages(q, place)[0].content  # what the model is shown: one question
            assert q.short in text and "you answered" not in text.lower()
            dists.append((phase["fit"], phase["now"], q.id))
        return real_dist(self, asks)

    monkeypatch.setattr(ItemJudge, "distributions", spy_dist)
    m = get_method("item-transfer", CB, **FAST, **JUDGE, judge=counting_spec(Counting(item_oracle=1.0)))
    real_fit = type(m).fit

    def fit(self: Any, train: Any) -> None:
        phase["fit"] += 1
        phase["now"] = "fit"
        real_fit(self, train)
        phase["now"] = "predict"

    monkeypatch.setattr(type(m), "fit", fit)
    proto = ProtocolConfig(name="new-questions", n_respondents=6, seed=2, folds=3, max_targets=3)
    res = run_benchmark(data, m, RunConfig(protocol=proto, n_boot=20), tmp_path / "run", progress=False)
    folds = [set(f) for f in res.split.folds]
    assert len(observed) == len(folds) and any(a[1] == "fit" for a in asked) and any(a[1] == "predict" for a in asked)
    for k, fold in enumerate(folds):
        assert fold & set(data.question_ids) and not observed[k] & fold  # no fold column reaches the relations fit
        # fit-time judgments: known items only (questions the fit's training data holds)
        fit_pairs = [a for a in asked if a[0] == k and a[1] == "fit"]
        assert fit_pairs and all({a[2], a[3]} <= observed[k] for a in fit_pairs)
        # predict-time judgments: a question being predicted and a known item, nothing else
        pred_pairs = [a for a in asked if a[0] == k and a[1] == "predict"]
        assert all(len({a[2], a[3]} & fold) == 1 and len({a[2], a[3]} & observed[k]) == 1 for a in pred_pairs)
        # answer distributions: of known items while fitting, of the fold's questions while predicting
        fit_d = [d[2] for d in dists if d[0] == k and d[1] == "fit"]
        pred_d = [d[2] for d in dists if d[0] == k and d[1] == "predict"]
        assert fit_d and set(fit_d) <= observed[k] and set(pred_d) <= fold
    assert any(d[1] == "predict" for d in dists)  # the informative judge's distributions were used


def test_bad_judge_spec_is_a_clear_error():
    data, _ = structured(80)
    m = get_method("item-transfer", CB, **FAST, judge="nonsense-model")
    with pytest.raises(ConfigError, match="model spec"):
        m.fit(data)


def test_cli_items_related_with_a_judge(tmp_path, monkeypatch, capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from cli_helpers import run_cli
    from typer.testing import CliRunner

    from valuesim.cli import app
    from valuesim.survey.labelled_example import write_labelled_example

    sav = write_labelled_example(tmp_path / "ex.sav", n=200, seed=0)
    args = ["items", "related", "--data", str(sav), "--codebook", "auto", "--text", "Gay men and lesbians should be "
            "free to live their own life as they wish", "--options", "Agree strongly|Agree|Neither|Disagree|Disagree "
            "strongly", "-k", "3", "--encoder", "none", "--judge", "mock", "--json", str(tmp_path / "rel.json")]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    out = json.loads((tmp_path / "rel.json").read_text())
    assert {r["source"] for r in out["relations"]} == {"wording+judgment"}
    assert out["model"]["judgments"]["pairs"] > 0 and "pairs judged" in res.output
    bad = run_cli(monkeypatch, capsys, *args[:-4], "--judge", "nonsense")
    assert bad.code == 2 and "model spec" in bad.text


def test_model_flag_on_item_transfer_points_to_the_judge_option():
    from valuesim.cli.bench import model_flags

    with pytest.raises(ConfigError) as e:
        model_flags({}, "item-transfer", model="local")
    assert "-o judge=SPEC" in (e.value.hint or "")
    with pytest.raises(ConfigError) as e:
        model_flags({}, "text-transfer", model="local")
    assert "judge" not in (e.value.hint or "")


def test_judge_api_key_is_never_written(tmp_path):
    from valuesim._redact import redact_text

    m = get_method("item-transfer", CB, judge="openai:x", judge_api_key="sk-verysecret123")
    assert "sk-verysecret123" not in json.dumps(m.config()) and "verysecret" not in repr(m.opts)
    assert "verysecret" not in redact_text(
        "python -m valuesim bench -o judge_api_key=sk-verysecret123 --x sk-verysecret123"
    )
