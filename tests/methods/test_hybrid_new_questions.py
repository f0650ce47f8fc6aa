"""The hybrid for new questions (prior=item-transfer): calibrated on pseudo-new items, legal
under --protocol new-questions, in `ask --text` and `simulate`; no target answer reaches it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from bench_data import make_survey

import valuesim.methods.item_transfer as it_mod
import valuesim.methods.llm_methods as llm_mod
from valuesim.bench.protocol import ProtocolConfig
from valuesim.bench.runner import RunConfig, run_benchmark
from valuesim.cli import app
from valuesim.cli._data import load_data
from valuesim.errors import ConfigError
from valuesim.methods import Task, method_info
from valuesim.methods.base import DEFAULT_NEW_QUESTION_METHOD, default_method, get_method, refuse_trained
from valuesim.methods.hybrid import Hybrid
from valuesim.survey import SurveyData
from valuesim.survey.labelled_example import write_labelled_example

FAST = {"rounds": 10, "relation_folds": 2, "calibration_items": 6, "calibration_people": 20, "encoder": "none"}
NEWQ = ProtocolConfig(name="new-questions", n_respondents=5, seed=3, folds=4, max_targets=4, only_folds=(0, 1))
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "questionnaire.yaml"
FAST_CLI = [x for k, v in FAST.items() for x in ("-o", f"prior.{k}={v}")]


@pytest.fixture(scope="module")
def data() -> SurveyData:
    return make_survey(120, seed=4)


def hybrid(data: SurveyData, model: str = "mock:oracle=0.6", **options: Any) -> Hybrid:
    m = get_method("hybrid", data.codebook, prior="item-transfer", prior_options=FAST, model=model, **options)
    assert isinstance(m, Hybrid)
    return m


def test_capabilities_follow_the_prior() -> None:
    cls = method_info("hybrid").cls
    assert cls.learns_from_target_answers() and cls.learns_from_target_answers({"prior": "supervised"})
    assert not cls.learns_from_target_answers({"prior": "item-transfer"})
    assert cls.fits_on_known_items({"prior": "item-transfer"}) and not cls.fits_on_known_items({"prior": "knn"})
    refuse_trained("hybrid", cls, options={"prior": "item-transfer"}, protocol=True)  # legal
    with pytest.raises(ConfigError, match="nobody has answered a new one") as err:
        refuse_trained("hybrid", cls, options={"prior": "knn"})
    assert "prior=item-transfer" in (err.value.hint or "")


def test_no_target_answer_reaches_the_hybrid_under_new_questions(tmp_path: Path, data: SurveyData, monkeypatch) -> None:
    """A spy on every place the hybrid reads answers: its fit, the prior's fits (calibration and
    evaluation), the LLM method's fits, the calibration people's records and the tasks of the
    calibration prior. No fold question is in any of them; the pseudo-new calibration items are
    hidden from the calibration prior, the LLM's calibration fit and the calibration records."""
    calls: list[dict[str, list[set[str]]]] = []

    def log(key: str, cols: set[str]) -> None:
        calls[-1].setdefault(key, []).append(cols)

    real_fit = Hybrid.fit

    def spy_fit(self: Any, train: Any) -> None:
        calls.append({"hybrid": [set(train.frame.columns)]})
        real_fit(self, train)

    real_it_fit = it_mod.ItemTransfer.fit

    def spy_it_fit(self: Any, train: Any) -> None:
        log("prior fit", set(train.frame.columns))
        real_it_fit(self, train)

    real_it_predict = it_mod.ItemTransfer.predict

    def spy_it_predict(self: Any, task: Task) -> Any:
        if task.fold == -1:  # a calibration task
            log("prior task", set(task.respondent.answers) | set(task.respondent.missing))
        return real_it_predict(self, task)

    real_llm_fit = llm_mod.ValueSim.fit

    def spy_llm_fit(self: Any, train: Any) -> None:
        log("llm fit", set(train.frame.columns))
        real_llm_fit(self, train)

    real_on = Hybrid._llm_on

    async def spy_on(self: Any, tasks: Any) -> Any:
        for task, _ in tasks:
            log("llm task", set(task.respondent.answers) | set(task.respondent.missing))
        return await real_on(self, tasks)

    monkeypatch.setattr(Hybrid, "fit", spy_fit)
    monkeypatch.setattr(Hybrid, "_llm_on", spy_on)
    monkeypatch.setattr(it_mod.ItemTransfer, "fit", spy_it_fit)
    monkeypatch.setattr(it_mod.ItemTransfer, "predict", spy_it_predict)
    monkeypatch.setattr(llm_mod.ValueSim, "fit", spy_llm_fit)
    m = hybrid(data)
    res = run_benchmark(data, m, RunConfig(protocol=NEWQ, n_boot=20, command="t"), tmp_path / "run", progress=False)
    folds = [res.split.folds[k] for k in NEWQ.only_folds or ()]
    assert len(calls) == len(folds) == 2
    for fold, seen in zip(folds, calls, strict=True):
        assert set(fold) & set(data.question_ids)  # the data hold the fold's questions ...
        assert len(seen["prior fit"]) == 2 and len(seen["llm fit"]) == 2  # calibration, evaluation
        assert len(seen["llm task"]) == 6 and len(seen["prior task"]) == 6
        for key, sets in seen.items():
            for cols in sets:
                assert not set(fold) & cols, (key, sorted(set(fold) & cols))  # ... and nobody's answer reaches it
    pseudo = set(m.calibration.pseudo_new or [])  # type: ignore[union-attr]
    assert len(pseudo) == 30
    last = calls[-1]
    assert not pseudo & last["prior fit"][0] and pseudo <= last["prior fit"][1]  # hidden only while calibrating
    assert not pseudo & last["llm fit"][0] and pseudo <= last["llm fit"][1]
    for key in ("llm task", "prior task"):
        assert all(not pseudo & cols for cols in last[key])
    rows = [json.loads(x) for x in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    assert rows and all(r["prediction"] is not None for r in rows)
    report = json.loads((tmp_path / "run" / "manifest.json").read_text())["sessions"][-1]["fit"]["calibration"]
    assert report["mode"] == "pseudo-new items" and report["predictions"]["all"] > 0


def test_the_simulated_oracle_earns_weight_and_uninformative_llm_gives_the_prior(
    tmp_path: Path, data: SurveyData
) -> None:
    # WVS-shaped data: the SIMULATED oracle knows the answers to the WVS codebook's questions only
    proto = NEWQ.model_copy(update={"only_folds": (0,), "n_respondents": 8})
    cfg = RunConfig(protocol=proto, n_boot=20, command="t")
    prior = get_method("item-transfer", data.codebook, **FAST)
    base = run_benchmark(data, prior, cfg, tmp_path / "it", progress=False)
    prior_rows = [json.loads(x) for x in (tmp_path / "it" / "predictions.jsonl").read_text().splitlines()]
    blind = hybrid(data, "mock:oracle=0")
    run_benchmark(data, blind, cfg, tmp_path / "h0", progress=False)
    rows = [json.loads(x) for x in (tmp_path / "h0" / "predictions.jsonl").read_text().splitlines()]
    assert blind.calibration.n["all"] > 0  # type: ignore[union-attr]
    assert all(b == 0.0 for _, b in blind.calibration.weights.values())  # type: ignore[union-attr]
    assert [(r["prediction"], r["probabilities"]) for r in rows] == [
        (r["prediction"], r["probabilities"]) for r in prior_rows
    ]  # exactly item-transfer
    assert all(r["meta"]["exactly_prior"] and "llm" not in r["meta"] for r in rows)  # the LLM was not asked
    informed = hybrid(data, "mock:oracle=0.6")
    better = run_benchmark(data, informed, cfg, tmp_path / "h6", progress=False)
    assert informed.calibration.checks["all"]["passed"]  # type: ignore[union-attr]
    assert better.metrics["top1"]["mean"] > base.metrics["top1"]["mean"] + 0.05


def test_ask_and_simulate_with_the_hybrid_for_new_questions(tmp_path: Path) -> None:
    sav = write_labelled_example(tmp_path / "ex.sav", n=200, seed=0)  # not WVS: its own codebook
    rid = load_data(str(sav), codebook="auto").ids[0]
    data = ["--data", str(sav), "--codebook", "auto"]
    args = ["ask", *data, "-r", rid, "--text", "AI will make life better."]
    args += ["--options", "Agree|Neither|Disagree", "--method", "hybrid", "--model", "mock"]
    res = CliRunner().invoke(app, [*args, "-o", "prior=item-transfer", *FAST_CLI])
    assert res.exit_code == 0, res.output
    assert "Answered by hybrid (model mock), trained on" in res.output and "nobody was asked it" in res.output
    res = CliRunner().invoke(app, args)  # the default prior (supervised) cannot answer it
    assert isinstance(res.exception, ConfigError) and "prior=item-transfer" in (res.exception.hint or "")
    out = tmp_path / "sim"
    sim = ["simulate", *data, "--questions", str(EXAMPLE), "--respondents", "2", "--min-valid", "0", "--method"]
    sim += ["hybrid", "--model", "mock", "--out", str(out)]
    res = CliRunner().invoke(app, sim)
    assert isinstance(res.exception, ConfigError) and not out.exists()
    res = CliRunner().invoke(app, [*sim, "-o", "prior=item-transfer", *FAST_CLI])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    calibration = manifest["sessions"][-1]["fit"]["calibration"]
    assert calibration["mode"] == "pseudo-new items" and calibration["predictions"]["all"] > 0
    assert not set(calibration["pseudo_new_items"]) & {"AI_JOBS", "CARBON_TAX"}  # only known items


def test_ask_defaults_to_the_best_new_question_method(tmp_path: Path) -> None:
    sav = write_labelled_example(tmp_path / "ex.sav", n=200, seed=0)
    rid = load_data(str(sav), codebook="auto").ids[0]
    args = ["ask", "--data", str(sav), "--codebook", "auto", "-r", rid, "--text", "AI will make life better."]
    args += ["--options", "Agree|Neither|Disagree"]
    res = CliRunner().invoke(app, [*args, *[x for k, v in FAST.items() for x in ("-o", f"{k}={v}")]])
    assert res.exit_code == 0, res.output
    assert "Answered by item-transfer, trained on" in res.output
    res = CliRunner().invoke(app, [*args, "--model", "mock"])  # naming a model: the LLM method
    assert res.exit_code == 0, res.output
    assert "Answered by valuesim (model mock)" in res.output
    assert default_method(new_question=True, model_named=False) == DEFAULT_NEW_QUESTION_METHOD
    assert default_method(new_question=True, model_named=True) == "valuesim"
    assert default_method(new_question=False, model_named=False) == "supervised"


def test_new_question_default_is_the_best_measured() -> None:
    """The default for new questions is the method with the best top-1 under --protocol
    new-questions among the committed results measured on 100 respondents (docs/results/new_questions*.json)."""
    results = Path(__file__).resolve().parents[2] / "docs" / "results"
    best: dict[str, float] = {}
    for path in sorted(results.glob("new_questions*.json")):
        raw = json.loads(path.read_text())["raw"]
        for name, m in raw.items():
            if isinstance(m, dict) and m.get("n_respondents") == 100 and isinstance(m.get("top1"), dict):
                best[name] = max(best.get(name, 0.0), m["top1"]["mean"])
    assert best, "no measured results on 100 respondents"
    winner = max(best, key=best.__getitem__)
    assert winner.split("(")[0] == DEFAULT_NEW_QUESTION_METHOD
    refuse_trained(winner, method_info(winner).cls)  # it answers new questions
