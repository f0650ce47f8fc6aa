"""`valuesim experiment paper --quick` and `valuesim demo`, end to end with the mock model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from valuesim.cli import app
from valuesim.errors import ConfigError, ModelError
from valuesim.experiments import demo as demo_module
from valuesim.experiments.experiment import (
    PAPER_EXPERIMENT,
    RunSpec,
    Sizes,
    run_experiment,
    select_specs,
)
from valuesim.survey import generate_synthetic

runner = CliRunner()


def test_experiment_is_data_covering_the_paper() -> None:
    names = [s.name for s in PAPER_EXPERIMENT]
    assert len(names) == len(set(names))
    main = {s.method for s in PAPER_EXPERIMENT if s.group == "main table"}
    assert main == {
        "majority",
        "country-majority",
        "demographic-majority",
        "knn",
        "supervised",
        "blank",
        "demographics",
        "full-info",
        "rag",
        "valuesim",
        "hybrid",
    }
    controls = {s.name: dict(s.options) for s in PAPER_EXPERIMENT if s.group == "control"}
    assert controls == {"valuesim-shuffled": {"persona": "shuffled"}, "valuesim-no-persona": {"persona": "none"}}
    ablations = {s.name: dict(s.options) for s in PAPER_EXPERIMENT if s.group == "ablation"}
    assert ablations == {
        "valuesim-no-story": {"story": "raw"},
        "valuesim-no-cab": {"modules": ("plain",)},
        "valuesim-averaging": {"integration": "mean"},
    }
    assert all(s.method == "valuesim" for s in PAPER_EXPERIMENT if s.group == "ablation")
    assert {s.method for s in PAPER_EXPERIMENT if s.protocol.get("history_sweep")} == {"knn", "valuesim"}


def test_select_specs_by_name_and_group() -> None:
    assert [s.name for s in select_specs(PAPER_EXPERIMENT, quick=True, only=["ablation"])] == [
        "valuesim-no-story",
        "valuesim-no-cab",
        "valuesim-averaging",
    ]
    left = select_specs(PAPER_EXPERIMENT, quick=True, skip=["history", "supervised"])
    assert "supervised" not in {s.name for s in left} and not any(s.protocol for s in left)
    with pytest.raises(ConfigError, match="No run or group"):
        select_specs(PAPER_EXPERIMENT, quick=True, only=["nonsense"])


def test_quick_sizes_keep_full_histories_and_cut_predictions() -> None:
    q = Sizes.quick()
    assert (q.respondents, q.only_folds, q.max_targets) == (4, (0,), 10)
    assert q.min_valid == Sizes.full().min_valid and q.folds == 5
    assert Sizes.quick(respondents=7).respondents == 7 and Sizes.full().only_folds is None
    assert q.describe() == "4 respondents, fold 0 of 5, at most 10 targets per person and fold"


@pytest.mark.slow
def test_paper_experiment_quick_with_mock_end_to_end_and_resume(tmp_path: Path) -> None:
    out = tmp_path / "exp"
    args = [
        "experiment",
        "paper",
        "--data",
        "synthetic:150",
        "--model",
        "mock",
        "--quick",
        "--out",
        str(out),
        "--no-progress",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    n = len(PAPER_EXPERIMENT)
    assert f"{n} of {n} runs complete" in result.stdout
    html = out / "report" / "report.html"
    assert f"Report: {html}" in result.stdout.replace("\n", "")
    for spec in PAPER_EXPERIMENT:
        metrics = json.loads((out / "runs" / spec.name / "metrics.json").read_text())
        assert metrics["n_respondents"] == 4 and metrics["n_folds"] == 1
        manifest = json.loads((out / "runs" / spec.name / "manifest.json").read_text())
        assert manifest["data"]["synthetic"] is True
        for key, value in spec.options.items():
            assert manifest["config"]["method"][key] == (list(value) if isinstance(value, tuple) else value)
    sweep = json.loads((out / "runs" / "valuesim-history" / "metrics.json").read_text())
    assert set(sweep["by_condition"]) == {"h=0", "h=100", "h=200"}
    split = json.loads((out / "runs" / "valuesim" / "split.json").read_text())
    assert all(u["fold"] == 0 and len(u["targets"]) <= 10 and len(u["history"]) > 150 for u in split["units"])
    text = html.read_text("utf-8")
    assert "SYNTHETIC DATA" in text and 'id="fig-history_curve"' in text
    # the report's reference is the strongest run by top-1 (issue 24), whichever that is here
    top1 = {
        spec.name: json.loads((out / "runs" / spec.name / "metrics.json").read_text())["top1"]["mean"]
        for spec in PAPER_EXPERIMENT
    }
    best = max(top1.values())
    assert any(f"Paired tests against {name}" in text for name, v in top1.items() if v == best)
    assert "valuesim-no-cab" in text
    record = json.loads((out / "experiment.json").read_text())
    assert record["quick"] is True and record["model"] == "mock" and record["sizes"]["max_targets"] == 10

    # resume: nothing is recomputed
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    counts = re.findall(r"(\d+) units computed, (\d+) resumed", again.output)
    assert len(counts) == n
    assert all(done == "0" for done, _ in counts)
    assert {resumed for _, resumed in counts} == {"4", "12"}  # 4 people x fold 0 (x 3 history sizes)


def test_failed_run_is_reported_and_the_rest_continues(tmp_path: Path) -> None:
    data = generate_synthetic(n=60, seed=2)
    specs = (
        RunSpec("majority", "majority", "main table", "m"),
        RunSpec("broken", "valuesim", "main table", "bad option", {"integration": "nonsense"}),
    )
    events: list[str] = []
    res = run_experiment(
        data,
        tmp_path,
        llm_options={"model": "mock"},
        specs=specs,
        quick=True,
        progress=False,
        on_event=events.append,
        command="test",
    )
    assert [o.status for o in res.outcomes] == ["complete", "failed"]
    assert "integration" in (res.failed[0].error or "") and "'mean'" in (res.failed[0].error or "")
    assert res.report_html is not None and res.report_html.exists()
    assert any("failed" in e for e in events)


def test_experiment_refuses_to_mix_sizes_in_one_directory(tmp_path: Path) -> None:
    data = generate_synthetic(n=60, seed=2)
    specs = (RunSpec("majority", "majority", "main table", "m"),)
    run_experiment(data, tmp_path, specs=specs, quick=True, progress=False, command="t", report=False)
    res = run_experiment(
        data,
        tmp_path,
        specs=specs,
        sizes=Sizes(respondents=5, only_folds=(0,), max_targets=10),
        progress=False,
        command="t",
        report=False,
    )
    assert res.outcomes[0].status == "failed" and "different split" in (res.outcomes[0].error or "")


def test_cli_list_and_bad_data(tmp_path: Path) -> None:
    listed = runner.invoke(
        app,
        [
            "experiment",
            "paper",
            "--data",
            "x",
            "--model",
            "mock",
            "--out",
            str(tmp_path),
            "--list",
            "--only",
            "ablation",
        ],
    )
    assert listed.exit_code == 0 and "valuesim-no-story" in listed.stdout and "majority" not in listed.stdout
    bad = runner.invoke(
        app,
        ["experiment", "paper", "--data", str(tmp_path / "none.csv"), "--model", "mock", "--out", str(tmp_path / "o")],
    )
    assert bad.exit_code != 0 and bad.exception is not None


def test_demo_with_mock_writes_a_synthetic_report(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--model", "mock", "--out", str(tmp_path / "demo"), "--no-progress"])
    assert result.exit_code == 0, result.output
    html = tmp_path / "demo" / "report" / "report.html"
    assert html.exists()
    assert str(html) in result.stdout.replace("\n", "")
    assert "SYNTHETIC" in result.output
    text = html.read_text("utf-8")
    assert "[SYNTHETIC] ValueSim demo" in text
    for name in ("majority", "country-majority", "demographic-majority", "knn", "supervised", "valuesim"):
        assert (tmp_path / "demo" / "runs" / name / "metrics.json").exists()
    assert "Everything in it is SYNTHETIC" in result.stdout


def test_demo_falls_back_to_mock_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> None:
        raise ModelError("llama-cpp-python is not installed, so local models cannot run.", hint="pip install x")

    monkeypatch.setattr("valuesim.llm.backends.local.require_llama_cpp", missing)
    spec, note = demo_module.resolve_demo_model(None)
    assert spec == "mock"
    assert note is not None and "not installed" in note and "mock" in note and "pip install x" in note
    assert demo_module.resolve_demo_model("openai:x") == ("openai:x", None)


def test_report_covers_runs_of_earlier_invocations(tmp_path: Path) -> None:
    data = generate_synthetic(n=60, seed=2)
    specs = (RunSpec("majority", "majority", "main table", "m"), RunSpec("knn", "knn", "main table", "k"))
    first = run_experiment(data, tmp_path, specs=specs, quick=True, only=["majority"], progress=False, command="t")
    assert [o.spec.name for o in first.outcomes] == ["majority"]
    second = run_experiment(data, tmp_path, specs=specs, quick=True, only=["knn"], progress=False, command="t")
    assert [o.spec.name for o in second.outcomes] == ["knn"]
    md = (second.report_markdown or Path()).read_text("utf-8")
    top1 = {
        n: json.loads((tmp_path / "runs" / n / "metrics.json").read_text())["top1"]["mean"] for n in ("majority", "knn")
    }
    best = max(top1, key=lambda n: top1[n])  # the default reference: the strongest run by top-1
    other = "knn" if best == "majority" else "majority"
    assert f"| {best} (reference) (main table) |" in md and f"| {other} (main table) |" in md
