"""The hybrid (trained prior x LLM), the persona controls and the SIMULATED oracle model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from valuesim.bench.protocol import ProtocolConfig
from valuesim.bench.runner import RunConfig, run_benchmark
from valuesim.cli import app
from valuesim.errors import ConfigError
from valuesim.llm import get_model, simulation
from valuesim.methods import Task, get_method
from valuesim.methods.hybrid import Hybrid, _Sample, fit_checked, fit_weights, pool
from valuesim.survey import SurveyData, generate_synthetic

PROTO = ProtocolConfig(n_respondents=6, seed=3, only_folds=(0,), max_targets=8)
CFG = RunConfig(protocol=PROTO, n_boot=20, command="test")


@pytest.fixture(scope="module")
def data() -> SurveyData:
    return generate_synthetic(n=160, seed=5)


def run(data: SurveyData, tmp: Path, name: str, **options: Any) -> tuple[Any, list[dict[str, Any]]]:
    m = get_method(name, data.codebook, **options)
    res = run_benchmark(data, m, CFG, tmp, progress=False)
    rows = [json.loads(line) for line in (tmp / "predictions.jsonl").read_text().splitlines()]
    return res, rows


def test_calibration_never_sees_an_evaluated_respondent(tmp_path: Path, data: SurveyData) -> None:
    seen: list[str] = []
    hybrid = get_method("hybrid", data.codebook, prior="knn", model="mock:oracle=0.5")
    assert isinstance(hybrid, Hybrid)
    original = hybrid.llm.apredict

    async def spy(task: Task) -> Any:
        seen.append(task.respondent.id)
        return await original(task)

    hybrid.llm.apredict = spy  # type: ignore[method-assign]
    res = run_benchmark(data, hybrid, CFG, tmp_path / "h", progress=False)
    evaluated = set(res.split.respondents)
    calib = hybrid.calibration
    assert calib is not None and len(calib.respondents) == 6
    assert not set(calib.respondents) & evaluated  # drawn from the training people only
    assert set(seen[:6]) == set(calib.respondents)  # the LLM saw calibration people first, then the sample
    assert not set(seen[:6]) & evaluated
    manifest = json.loads((tmp_path / "h" / "manifest.json").read_text())
    report = manifest["sessions"][-1]["fit"]["calibration"]
    assert report["respondent_ids"] == calib.respondents and report["predictions"]["all"] > 0
    assert "logloss_prior" in report and report["llm_usage"]["llm_calls"] > 0


def test_uninformative_llm_gets_weight_zero_and_the_hybrid_is_its_prior(tmp_path: Path, data: SurveyData) -> None:
    _, prior_rows = run(data, tmp_path / "cm", "country-majority")  # count-based: bit-for-bit reproducible
    hybrid = get_method("hybrid", data.codebook, prior="country-majority", model="mock:oracle=0")
    res = run_benchmark(data, hybrid, CFG, tmp_path / "h0", progress=False)
    assert all(b == 0.0 for _, b in hybrid.calibration.weights.values())  # type: ignore[union-attr]
    rows = [json.loads(line) for line in (tmp_path / "h0" / "predictions.jsonl").read_text().splitlines()]
    # exactly the prior: the same answers and the same probabilities, bit for bit
    assert [r["prediction"] for r in rows] == [r["prediction"] for r in prior_rows]
    assert [r["probabilities"] for r in rows] == [r["probabilities"] for r in prior_rows]
    assert all(r["meta"]["exactly_prior"] and "llm" not in r["meta"] for r in rows)  # the LLM was not asked
    for key in ("top1", "nmae", "within1"):
        assert res.metrics[key]["mean"] == json.loads((tmp_path / "cm" / "metrics.json").read_text())[key]["mean"]
    checks = hybrid.calibration.checks  # type: ignore[union-attr]
    assert checks and all(not c["passed"] for c in checks.values())
    knn_rows = run(data, tmp_path / "knn", "knn")[1]
    uninformed = get_method("hybrid", data.codebook, prior="knn", model="mock:oracle=0")
    base = run_benchmark(data, uninformed, CFG, tmp_path / "k0", progress=False)
    assert [r["prediction"] for r in knn_rows] == [
        json.loads(line)["prediction"] for line in (tmp_path / "k0" / "predictions.jsonl").read_text().splitlines()
    ]
    # a SIMULATED informative LLM still earns weight and gains
    informed = get_method("hybrid", data.codebook, prior="knn", model="mock:oracle=0.6")
    better = run_benchmark(data, informed, CFG, tmp_path / "h6", progress=False)
    assert better.metrics["top1"]["mean"] > base.metrics["top1"]["mean"] + 0.05
    assert informed.calibration.weights["all"][1] > 0  # type: ignore[union-attr]
    assert informed.calibration.checks["all"]["passed"]  # type: ignore[union-attr]


def test_pool_and_the_held_out_check() -> None:
    prior, llm = np.array([0.7, 0.2, 0.1]), np.array([0.1, 0.1, 0.8])
    assert np.allclose(pool(prior, llm, 1.0, 0.0), prior)
    assert pool(prior, llm, 1.0, 2.0).argmax() == 2
    rng = np.random.default_rng(0)
    noise = [
        _Sample("ordinal", prior, rng.dirichlet([1, 1, 1]), int(rng.choice(3, p=prior)), i // 5) for i in range(40)
    ]
    assert fit_checked(noise, 2.0)[1] == 0.0  # an LLM that knows nothing gets no weight
    # an overconfident prior (tempering it alone would lower the calibration log-loss) and an LLM
    # that knows nothing: the hybrid is the prior as it is, not a re-tempered prior
    sharp = np.array([0.98, 0.01, 0.01])
    overconfident = [
        _Sample("ordinal", sharp, rng.dirichlet([1, 1, 1]), int(rng.choice(3, p=[0.6, 0.2, 0.2])), i // 10)
        for i in range(200)
    ]
    assert fit_weights(overconfident, 0.0) == (1.0, 0.0)
    assert fit_checked(overconfident, 2.0) == (1.0, 0.0)


def _samples(rng: np.random.Generator, n_people: int, per: int, informative: float) -> list[_Sample]:
    """Calibration answers of a 4-option ordinal item: a flat-ish prior and an LLM that puts
    mass *informative* on the truth (the rest spread at random)."""
    out = []
    for i in range(n_people * per):
        truth = int(rng.integers(4))
        prior = np.array([0.3, 0.3, 0.2, 0.2])
        noise = rng.dirichlet([1, 1, 1, 1])
        llm = (1 - informative) * noise + informative * np.eye(4)[truth]
        out.append(_Sample("ordinal", prior, llm, truth, i // per))
    return out


def test_the_held_out_check_needs_a_confident_gain() -> None:
    from valuesim.methods.hybrid import check_weights

    rng = np.random.default_rng(1)
    strong = check_weights(_samples(rng, 6, 10, 0.6), 2.0)
    assert strong.passed and strong.lo is not None and strong.lo > 0 and strong.weights[1] > 0
    # an LLM that knows nothing: whatever the fit finds on 60 answers, it does not carry over
    # to held-out people with 95% confidence, so the weights are (1, 0)
    for seed in range(5):
        noise = check_weights(_samples(np.random.default_rng(seed), 6, 10, 0.0), 0.0)
        assert noise.weights == (1.0, 0.0), noise
        assert not noise.passed and noise.reason
    # a gain that holds for some calibration people and not for others has no margin
    mixed = _samples(rng, 2, 10, 0.6) + _samples(rng, 4, 10, 0.0)
    mixed = [_Sample(s.kind, s.prior, s.llm, s.truth, i // 10) for i, s in enumerate(mixed)]
    check = check_weights(mixed, 2.0)
    assert check.lo is None or check.lo <= 0 or check.gain is None or check.passed is (check.lo > 0)
    d = strong.to_dict()
    assert d["passed"] is True and d["heldout_gain_ci95"][0] > 0 and d["fitted"]["llm"] > 0


def test_shuffled_persona_never_shows_the_evaluated_person(tmp_path: Path, data: SurveyData) -> None:
    shown: list[tuple[str, str]] = []
    m = get_method("valuesim", data.codebook, model="mock", cache=False, persona="shuffled", modules="plain")
    original = m._apredict  # type: ignore[attr-defined]

    async def spy(task: Task, person: Any, meta: Any) -> Any:
        shown.append((task.respondent.id, person.id))
        assert person.answers != task.respondent.answers
        return await original(task, person, meta)

    m._apredict = spy  # type: ignore[attr-defined]
    res = run_benchmark(data, m, CFG, tmp_path / "s", progress=False)
    evaluated = set(res.split.respondents)
    assert shown and all(me != other for me, other in shown)
    assert not {other for _, other in shown} & evaluated  # always a training person
    rows = [json.loads(line) for line in (tmp_path / "s" / "predictions.jsonl").read_text().splitlines()]
    for r in rows:
        donor = r["meta"]["persona"]["donor"]
        assert donor != r["respondent"] and donor not in evaluated
        if r["meta"]["persona"]["same_country"]:
            assert data.respondent(donor).country == data.respondent(r["respondent"]).country
    assert m.config()["persona"] == "shuffled"
    assert "persona" not in get_method("valuesim", data.codebook, model="mock").config()  # default: as before


def test_persona_controls_need_training_people_and_none_shows_nobody(data: SurveyData) -> None:
    person = data.respondent(str(data.frame.index[0]))
    task = Task(person.restricted(person.answered()[5:]), tuple(person.answered()[:2]))
    with pytest.raises(ConfigError, match="training respondents"):
        get_method("rag", data.codebook, model="mock", persona="shuffled").predict(task)
    preds = get_method("full-info", data.codebook, model="mock", cache=False, persona="none").predict(task)
    assert all(p.meta["persona"] == {"mode": "none"} and p.meta["story"]["n_facts"] == 0 for p in preds)


def test_oracle_model_puts_mass_on_the_described_persons_answer(data: SurveyData) -> None:
    person = data.respondent(str(data.frame.index[1]))
    qids = tuple(q for q in person.answered() if not data.codebook.get(q).profile)[:6]
    task = Task(person.restricted([q for q in person.answered() if q not in qids]), qids)
    m = get_method("valuesim", data.codebook, model="mock:oracle=1", modules="plain")
    with simulation.subject_truth({q: person.answers[q] for q in qids}):
        preds = m.predict(task)
    assert [p.prediction for p in preds] == [person.answers[q] for q in qids]
    blind = m.predict(task)  # nobody declared whose answers the prompt shows: plain noise
    assert [p.prediction for p in blind] != [person.answers[q] for q in qids]
    assert get_model("mock:oracle=0.25").spec == "mock:oracle=0.25" and get_model("mock:oracle=0.25").cache is None
    for bad in ("mock:oracle=1.5", "mock:oracle=-0.1", "mock:oracle=x", "mock:oracle"):
        with pytest.raises(ConfigError, match=r"\[0, 1\]"):
            get_model(bad)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["-o", "prior=nope"], "no method named 'nope'"),
        (["-o", "llm=nope"], "no method named 'nope'"),
        (["-o", "llm=knn"], "does not use a language model"),
        (["-o", "prior=valuesim"], "uses a language model"),
        (["-o", "llm.story=poem"], "story"),
        (["--model", "mock:oracle=2"], "[0, 1]"),
    ],
)
def test_bad_hybrid_options_are_clear_errors(tmp_path: Path, options: list[str], message: str) -> None:
    args = ["bench", "--data", "synthetic:60", "--method", "hybrid", "--out", str(tmp_path / "r"), *options]
    res = CliRunner().invoke(app, args)
    assert isinstance(res.exception, ConfigError), res.output
    assert message in res.exception.message


def test_dotted_options_reach_the_parts(data: SurveyData) -> None:
    m = get_method("hybrid", data.codebook, model="mock", **{"llm.story": "raw", "prior.k": 5, "prior": "knn"})
    conf = m.config()
    assert conf["llm_options"]["story"] == "raw" and conf["prior_options"]["k"] == 5 and conf["model"] == "mock"
