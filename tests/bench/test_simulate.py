"""`valuesim simulate`: new questions answered by a sample of real respondents, resumable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from valuesim.bench.simulate import SimulationConfig, build_method, run_simulation
from valuesim.cli import app
from valuesim.errors import ConfigError, DataError, ValueSimError
from valuesim.report.simulation import report_simulation
from valuesim.survey import generate_synthetic
from valuesim.survey.questionnaire import load_questionnaire

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "questionnaire.yaml"


@pytest.fixture(scope="module")
def data():
    return generate_synthetic(n=120, seed=3)


@pytest.fixture(scope="module")
def questions(data):
    return tuple(load_questionnaire(EXAMPLE, data.codebook))


def _run(data, questions, out, *, n=9, countries=None, method="valuesim", **kw):
    m = build_method(method, data.codebook, questions, model="mock")
    cfg = SimulationConfig(questions=questions, n_respondents=n, countries=countries, min_valid=0)
    return run_simulation(data, m, cfg, out, progress=False, **kw)


def test_simulate_writes_answers_distributions_and_a_report(tmp_path, data, questions):
    res = _run(data, questions, tmp_path / "run", countries=("DEU", "JPN", "BRA"))
    answers = pd.read_parquet(tmp_path / "run" / "answers.parquet")
    assert list(answers.columns) == [
        "respondent",
        "country",
        "sex",
        "age_band",
        "question",
        "code",
        "answer",
        "probabilities",
    ]
    assert len(answers) == 9 * len(questions) and answers["respondent"].nunique() == 9
    assert set(answers["country"]) == {"DEU", "JPN", "BRA"}  # spread over the countries
    assert answers["code"].notna().all() and set(answers["sex"]) <= {"Male", "Female", "unknown"}
    for q in questions:
        sub = answers[answers["question"] == q.id]
        assert set(sub["code"]) <= set(q.answer_codes)
        assert all(q.label(int(c)) == a for c, a in zip(sub["code"], sub["answer"]))
        probs = json.loads(sub["probabilities"].iloc[0])
        assert abs(sum(probs.values()) - 1) < 1e-6 and set(probs) == {str(c) for c in q.answer_codes}
    csv = pd.read_csv(tmp_path / "run" / "answers.csv")
    assert len(csv) == len(answers)

    dists = pd.read_parquet(tmp_path / "run" / "distributions.parquet")
    assert set(dists["by"]) == {"all", "country", "sex", "age_band"}
    shares = dists.groupby(["question", "by", "group"])["share"].sum()
    assert ((shares - 1).abs() < 1e-9).all()
    # the per-country distribution is the share of that country's simulated answers
    q = questions[0]
    deu = answers[(answers["question"] == q.id) & (answers["country"] == "DEU")]
    row = dists[(dists["question"] == q.id) & (dists["by"] == "country") & (dists["group"] == "DEU")]
    expected = deu["code"].value_counts(normalize=True).reindex(q.answer_codes, fill_value=0).to_numpy()
    assert row["share"].to_numpy() == pytest.approx(expected)

    # the simulated distribution is the mean probability (every person's probabilities,
    # restricted to the options, averaged); argmax shares are a separate column
    probs = [json.loads(p) for p in deu["probabilities"]]
    mean = [sum(p[str(c)] / sum(p.values()) for p in probs) / len(probs) for c in q.answer_codes]
    assert row["mean_probability"].to_numpy() == pytest.approx(mean)
    assert (row["n_probabilities"] == len(deu)).all()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    overall = summary["distributions"][q.id]
    assert sum(overall["mean_probability"].values()) == pytest.approx(1.0, abs=1e-5)  # rounded to 6 digits
    assert sum(overall["argmax_share"].values()) == pytest.approx(1.0, abs=1e-5)
    assert "mock" in summary["note"]

    assert not (tmp_path / "run" / "report").exists()  # the bench layer writes no report
    assert report_simulation(res) == tmp_path / "run" / "report" / "report.html"
    html = (tmp_path / "run" / "report" / "report.html").read_text()
    assert "Germany (DEU)" in html and q.text in html and "SIMULATED answers" in html
    assert "mean probability" in html and "most likely answer (argmax)" in html
    assert "deterministic fake answers" in html  # the mock model is labelled
    assert len(list((tmp_path / "run" / "report" / "figures").glob("*.png"))) == len(questions)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["kind"] == "simulate" and manifest["status"] == "complete"
    assert [x["id"] for x in manifest["config"]["protocol"]["questions"]] == [q.id for q in questions]
    assert res.n_computed == 9 and res.usage["llm_calls"] > 0


def test_mean_probability_is_not_the_argmax_share() -> None:
    """Everyone gets 0.43 / 0.30 / 0.27: the simulated distribution is 43 / 30 / 27 %, while the
    most likely answer is the first option for 100 % of people -- both are reported, apart."""
    from valuesim.bench.simulate import distributions, overall_distributions
    from valuesim.survey.codebook import Question

    data = generate_synthetic(n=10, seed=1)
    q = load_questionnaire(EXAMPLE, data.codebook)[0]
    codes = q.answer_codes
    p = {str(c): 0.0 for c in codes} | {str(codes[0]): 0.43, str(codes[1]): 0.30, str(codes[2]): 0.27}
    answers = pd.DataFrame(
        {
            "respondent": [f"r{i}" for i in range(5)] + ["r5"],
            "country": ["DEU"] * 6,
            "sex": ["Male"] * 6,
            "age_band": ["30-49"] * 6,
            "question": [q.id] * 6,
            "code": pd.array([codes[0]] * 5 + [codes[1]], dtype="Int64"),
            "answer": [q.label(codes[0])] * 5 + [q.label(codes[1])],
            "probabilities": [json.dumps(p)] * 5 + [None],  # the last gave no probabilities: a one-hot
        }
    )
    d = distributions(answers, data.codebook, [q])
    row = d[(d["by"] == "all")].set_index("code")
    assert row.loc[codes[0], "mean_probability"] == pytest.approx((5 * 0.43) / 6)
    assert row.loc[codes[1], "mean_probability"] == pytest.approx((5 * 0.30 + 1) / 6)
    assert row.loc[codes[0], "share"] == pytest.approx(5 / 6) and row.loc[codes[0], "n_probabilities"] == 5
    overall = overall_distributions(d)[q.id]
    assert overall["argmax_share"][str(codes[0])] == pytest.approx(5 / 6)
    assert isinstance(q, Question)


def test_rerun_makes_no_model_call(tmp_path, data, questions, monkeypatch):
    monkeypatch.setenv("VALUESIM_CACHE_DIR", str(tmp_path / "cache"))
    first = _run(data, questions, tmp_path / "a")
    again = _run(data, questions, tmp_path / "a")
    assert again.n_computed == 0 and again.n_resumed == 9 and not again.usage.get("llm_calls")
    pd.testing.assert_frame_equal(first.answers, again.answers)
    fresh = _run(data, questions, tmp_path / "b")  # a new directory: every response from the LLM cache
    assert fresh.n_computed == 9 and fresh.usage["llm_calls"] == 0 and fresh.usage["cache_hits"] > 0
    pd.testing.assert_frame_equal(first.answers, fresh.answers)


def test_other_questions_or_sample_are_refused_in_the_same_directory(tmp_path, data, questions):
    _run(data, questions, tmp_path / "run")
    with pytest.raises(ConfigError, match="different split"):
        _run(data, questions[:2], tmp_path / "run")
    with pytest.raises(ConfigError, match="different split"):
        _run(data, questions, tmp_path / "run", n=10)


def test_trained_predictors_cannot_simulate(data, questions):
    with pytest.raises(ConfigError, match="nobody has answered a new one"):
        build_method("knn", data.codebook, questions)


def test_a_simulate_run_is_not_a_benchmark_run(tmp_path, data, questions):
    from valuesim.bench.rundir import open_run

    _run(data, questions, tmp_path / "run", n=3)
    with pytest.raises(DataError, match="valuesim simulate"):
        open_run(tmp_path / "run")


def _cli(*args: str):
    return CliRunner().invoke(app, ["simulate", "--data", "synthetic:60", "--model", "mock", "--min-valid", "0", *args])


def test_cli_simulate_prints_markup_in_paths_and_labels_as_text(tmp_path):
    """An --out like `runs/X[/x]` (rich markup) works like it does for `bench`: printed, not parsed."""
    out = tmp_path / "runs" / "X[/x]" / "[red]y"
    res = _cli("--questions", str(EXAMPLE), "-n", "2", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert (out / "report" / "report.html").is_file() and (out / "answers.csv").is_file()
    flat = res.output.replace("\n", "")
    assert f"Results: {out}/" in flat and f"Report: {out}/report/report.html" in flat


def test_cli_simulate(tmp_path):
    res = _cli("--questions", str(EXAMPLE), "-n", "4", "--out", str(tmp_path / "run"), "-c", "DEU,JPN")
    assert res.exit_code == 0, res.output
    assert "4 respondents x 5 questions" in res.output and "report.html" in res.output
    again = _cli("--questions", str(EXAMPLE), "-n", "4", "--out", str(tmp_path / "run"), "-c", "DEU,JPN")
    assert again.exit_code == 0 and "0 model calls" in again.output and "4 resumed" in again.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--questions", "/no/such.yaml"], "does not exist"),
        (["--questions", str(EXAMPLE), "--method", "supervised"], "cannot answer new questions"),
        (["--questions", str(EXAMPLE), "-n", "0"], "n_respondents"),
        (["--questions", str(EXAMPLE), "-c", "XYZ"], "XYZ"),
        (["--questions", str(EXAMPLE), "--method", "text-transfer"], "--model applies to LLM methods only"),
    ],
)
def test_cli_simulate_errors(tmp_path, args, message):
    res = _cli(*args, "--out", str(tmp_path / "run"))
    assert isinstance(res.exception, ValueSimError), res.output
    assert message in str(res.exception)


SLOW_METHOD = '''
import time
from valuesim.methods.base import Method, Prediction

class SlowFirst(Method):
    """Answers the first option, slowly (a unit takes 0.25 s): something to kill mid-run."""
    uses_llm = True

    def predict(self, task):
        time.sleep(0.25)
        return [Prediction(task.respondent.id, q, task.fold, self.codebook.get(q).answer_codes[0], None)
                for q in task.targets]
'''


@pytest.mark.slow
def test_kill_9_then_resume_loses_and_duplicates_nothing(tmp_path):
    (tmp_path / "slowmethod.py").write_text(textwrap.dedent(SLOW_METHOD))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "valuesim", "simulate", "--data", "synthetic:80", "--questions", str(EXAMPLE),
           "-n", "40", "--min-valid", "0", "--method", "slowmethod:SlowFirst", "--no-progress"]  # fmt: skip
    out = tmp_path / "run"
    proc = subprocess.Popen([*cmd, "--out", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pred = out / "predictions.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not pred.exists() or len(pred.read_text().splitlines()) < 5 * 5):
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(pred.read_text().splitlines())
    assert 0 < done_before < 40 * 5, "the run must be killed mid-way"
    assert not (out / "answers.parquet").exists()

    res = subprocess.run([*cmd, "--out", str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in pred.read_text().splitlines()]
    keys = [(r["respondent"], r["question"]) for r in rows]
    assert len(keys) == len(set(keys)) == 40 * 5
    ref = subprocess.run([*cmd, "--out", str(tmp_path / "ref")], env=env, capture_output=True, timeout=300)
    assert ref.returncode == 0
    pd.testing.assert_frame_equal(pd.read_csv(out / "answers.csv"), pd.read_csv(tmp_path / "ref" / "answers.csv"))
