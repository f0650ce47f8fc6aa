"""`valuesim bench` command line (synthetic data injected in place of a file)."""

from __future__ import annotations

import json

import pytest
from bench_data import make_survey
from typer.testing import CliRunner

import valuesim.cli.bench as cli_bench
from valuesim.cli import app
from valuesim.errors import ConfigError


@pytest.fixture()
def fake_data(monkeypatch):
    data = make_survey(60, seed=5)
    monkeypatch.setattr(cli_bench, "_load_data", lambda path, n, codebook=None: data)
    return data


def bench(*args: str):
    return CliRunner().invoke(app, ["bench", *args])


def test_list_methods():
    res = bench("--list-methods")
    assert res.exit_code == 0
    for name in ("majority", "country-majority", "knn", "supervised"):
        assert name in res.stdout


def test_run_prints_table_and_writes_files(tmp_path, fake_data):
    out = tmp_path / "run"
    res = bench("--data", "x.csv", "--method", "majority", "-n", "10", "--n-boot", "50", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "top-1" in res.stdout and "nMAE" in res.stdout and str(out) in res.stdout.replace("\n", "")
    assert "mean ± sd over folds" in res.stdout and "beyond the demographic group: top-1 lift" in res.stdout
    one_fold = bench(
        "--data",
        "x.csv",
        "--method",
        "majority",
        "-n",
        "10",
        "--n-boot",
        "50",
        "--only-fold",
        "0",
        "--out",
        str(tmp_path / "one"),
    )
    assert one_fold.exit_code == 0 and "±" not in one_fold.stdout and "mean (one fold)" in one_fold.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "majority" and metrics["n_respondents"] == 10
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"].split()[0] == "valuesim"
    # same command again: resumes, computes nothing
    again = bench("--data", "x.csv", "--method", "majority", "-n", "10", "--n-boot", "50", "--out", str(out))
    assert again.exit_code == 0 and "0 units computed" in again.stdout
    # another seed into the same directory is refused with a hint
    other = bench("--data", "x.csv", "--method", "majority", "-n", "10", "--seed", "1", "--out", str(out))
    assert isinstance(other.exception, ConfigError) and "--overwrite" in other.exception.hint


def test_model_flag_is_rejected_for_non_llm_methods(tmp_path, fake_data):
    res = bench("--data", "x", "--method", "majority", "--model", "mock", "--out", str(tmp_path / "r"))
    assert isinstance(res.exception, ConfigError)
    assert "LLM methods only" in res.exception.message
    assert not (tmp_path / "r").exists()


def test_missing_arguments_are_config_errors(tmp_path, fake_data):
    assert isinstance(bench("--data", "x", "--out", str(tmp_path)).exception, ConfigError)
    assert isinstance(bench("--data", "x", "--method", "majority").exception, ConfigError)
    res = bench("--data", "x", "--method", "nope", "--out", str(tmp_path / "r"))
    assert isinstance(res.exception, ConfigError) and "nope" in res.exception.message


def test_parse_options():
    assert cli_bench.parse_options(["k=20", "alpha=0.5", "mode=fast", "flag=true", "n-jobs=2"]) == {
        "k": 20,
        "alpha": 0.5,
        "mode": "fast",
        "flag": True,
        "n_jobs": 2,
    }
    with pytest.raises(ConfigError):
        cli_bench.parse_options(["novalue"])


def test_compare_two_runs(tmp_path, fake_data):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    common = ["--data", "x", "-n", "10", "--n-boot", "50"]
    assert bench(*common, "--method", "majority", "--out", str(a)).exit_code == 0
    assert bench(*common, "--method", "country-majority", "--out", str(b)).exit_code == 0
    res = CliRunner().invoke(
        app,
        ["bench", "compare", str(a), str(b), "--n-boot", "50", "--n-perm", "100", "--json", str(tmp_path / "c.json")],
    )
    assert res.exit_code == 0, res.output
    assert "top1" in res.stdout and "nmae" in res.stdout
    saved = json.loads((tmp_path / "c.json").read_text())
    assert [r["metric"] for r in saved["results"]] == ["top1", "nmae", "within1"]
    assert bench(*common, "--method", "majority", "--seed", "9", "--out", str(c)).exit_code == 0
    res = CliRunner().invoke(app, ["bench", "compare", str(a), str(c)])
    assert isinstance(res.exception, ConfigError) and "different splits" in res.exception.message


def test_country_names_and_history_sweep(tmp_path, fake_data):
    out = tmp_path / "sweep"
    res = bench(
        "--data",
        "x",
        "--method",
        "majority",
        "-n",
        "6",
        "--country",
        "Peru,jpn",
        "--history-sweep",
        "--history-sizes",
        "0,10",
        "--n-boot",
        "20",
        "--out",
        str(out),
    )
    assert res.exit_code == 0, res.output
    assert "By history size" in res.stdout and "h=10" in res.stdout
    split = json.loads((out / "split.json").read_text())
    assert split["protocol"]["countries"] == ["JPN", "PER"]
    assert set(fake_data.frame.loc[split["respondents"], "country"]) <= {"PER", "JPN"}
