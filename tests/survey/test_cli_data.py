"""`valuesim data ...` commands, through typer's CliRunner and (for errors) the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from valuesim.cli import app
from valuesim.errors import DataError, UnknownQuestionError, UnknownRespondentError
from valuesim.survey import SurveyData, load_survey

runner = CliRunner()


@pytest.fixture
def synth_file(wvs_csv, synthetic_data: SurveyData) -> Path:
    return wvs_csv("survey.csv", data=synthetic_data)


def test_summary_json(synth_file: Path, synthetic_data: SurveyData) -> None:
    result = runner.invoke(app, ["data", "summary", str(synth_file), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["respondents"] == len(synthetic_data) == 240
    assert info["countries"] == synthetic_data.country_counts()
    assert info["questions"] == len(synthetic_data.question_ids)
    assert isinstance(info["missing_rate"], float) and 0 < info["missing_rate"] < 0.2
    assert info["version"] == "synthetic" and info["synthetic"] is True
    assert info["ignored_columns"] == 1  # A_WAVE
    assert info["out_of_range"] == {}
    assert set(info["missing_by_kind"]) == {"dont_know", "no_answer", "not_applicable", "not_asked", "missing"}


def test_summary_json_with_country_filter_and_out_of_range(synthetic_data: SurveyData, tmp_path: Path) -> None:
    from valuesim.survey.synthetic import to_wvs_frame

    frame = to_wvs_frame(synthetic_data)
    frame.loc[frame.index[:3], "Q1"] = 9
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    result = runner.invoke(app, ["data", "summary", str(path), "--json", "--country", "DEU", "-c", "Japan"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["countries"] == {"DEU": 30, "JPN": 30}
    assert info["respondents"] == 60
    assert info["out_of_range"] == {"Q1": {"9": 3}}


def test_summary_table_says_synthetic(synth_file: Path) -> None:
    result = runner.invoke(app, ["data", "summary", str(synth_file)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "SYNTHETIC" in out
    assert "Respondents by country" in out and "Germany" in out and "240" in out


def test_show_prints_profile_then_sections_with_labels(synthetic_data: SurveyData, synth_file: Path) -> None:
    # pick someone with a "don't know" somewhere, so the typed missing display is exercised
    frame = synthetic_data.frame
    rid = next(i for i in frame.index if (frame.loc[i, synthetic_data.question_ids] == -1).any())
    result = runner.invoke(app, ["data", "show", str(synth_file), "--respondent", rid])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"Respondent {rid}" in out and "SYNTHETIC" in out
    assert out.index("Profile") < out.index("Social values")
    assert "(don't know)" in out
    person = synthetic_data.respondent(rid)
    q = synthetic_data.codebook.get("Q260")
    assert q.label(person.answers["Q260"]) in out


def test_show_json_is_the_decoded_record(synthetic_data: SurveyData, synth_file: Path) -> None:
    rid = synthetic_data.ids[5]
    result = runner.invoke(app, ["data", "show", str(synth_file), "-r", rid, "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["id"] == rid and record["synthetic"] is True
    assert [p["id"] for p in record["profile"]] == synthetic_data.codebook.profile()
    person = synthetic_data.respondent(rid)
    items = {it["id"]: it for s in record["sections"] for it in s["items"]}
    for qid, code in person.answers.items():
        if qid in items:
            assert items[qid]["code"] == code
            assert items[qid]["answer"] == synthetic_data.codebook.get(qid).label(code)
    for qid, missing in person.missing.items():
        entry = items.get(qid) or next(p for p in record["profile"] if p["id"] == qid)
        assert entry["answer"] is None and entry["missing"] == missing.name.lower()
    assert record["respondent"]["answers"] == person.to_dict()["answers"]


def test_show_unknown_respondent(synth_file: Path) -> None:
    result = runner.invoke(app, ["data", "show", str(synth_file), "--respondent", "nobody"])
    assert result.exit_code != 0
    assert isinstance(result.exception, UnknownRespondentError)


def test_questions_listing_and_detail() -> None:
    result = runner.invoke(app, ["data", "questions", "--section", "religious", "--json"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert items and all(i["section"] == "religious_values" for i in items)
    assert "Q164" in [i["id"] for i in items]

    detail = runner.invoke(app, ["data", "questions", "Q46", "--json"])
    q46 = json.loads(detail.stdout)[0]
    assert q46["options"]["1"] == "Very happy"

    table = runner.invoke(app, ["data", "questions", "-s", "wellbeing"])
    assert table.exit_code == 0 and "Q46" in table.stdout and "Q1 " not in table.stdout


def test_questions_errors() -> None:
    bad_section = runner.invoke(app, ["data", "questions", "--section", "astrology"])
    assert isinstance(bad_section.exception, DataError)
    bad_id = runner.invoke(app, ["data", "questions", "Q999"])
    assert isinstance(bad_id.exception, UnknownQuestionError)


def test_synth_writes_a_loadable_synthetic_file(tmp_path: Path) -> None:
    out = tmp_path / "demo.csv.gz"
    result = runner.invoke(app, ["data", "synth", str(out), "--n", "50", "--seed", "3", "-c", "DEU,FRA"])
    assert result.exit_code == 0, result.output
    assert "synthetic" in result.stdout
    data = load_survey(out)
    assert data.synthetic and len(data) == 50 and data.country_counts() == {"DEU": 25, "FRA": 25}
    again = tmp_path / "again.parquet"
    assert runner.invoke(app, ["data", "synth", str(again), "--n", "50", "--seed", "3", "-c", "DEU,FRA"]).exit_code == 0
    assert load_survey(again).fingerprint() == data.fingerprint()


def test_synth_rejects_unknown_extension(tmp_path: Path) -> None:
    result = runner.invoke(app, ["data", "synth", str(tmp_path / "x.xlsx")])
    assert isinstance(result.exception, DataError)


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "valuesim", *args], check=False, capture_output=True, text=True, timeout=120
    )


def test_user_errors_print_message_and_hint_without_traceback(tmp_path: Path) -> None:
    missing = _run_cli("data", "summary", str(tmp_path / "nonexistent.csv"))
    assert missing.returncode == 2
    assert "No such file" in missing.stderr and "Hint:" in missing.stderr
    assert "Traceback" not in missing.stderr + missing.stdout

    other = tmp_path / "iris.csv"
    other.write_text("sepal_length,species\n5.1,setosa\n")
    not_wvs = _run_cli("data", "summary", str(other), "--json")
    assert not_wvs.returncode == 2
    assert "not a WVS-7 file" in not_wvs.stderr and "Traceback" not in not_wvs.stderr
    assert not_wvs.stdout == ""


def test_data_commands_take_data_option_and_positional_alias(synth_file: Path) -> None:
    """`--data` like every other command; the positional PATH still works; both agree or it is an error."""
    by_option = runner.invoke(app, ["data", "summary", "--data", str(synth_file), "--json"])
    by_position = runner.invoke(app, ["data", "summary", str(synth_file), "--json"])
    assert by_option.exit_code == 0 and by_position.exit_code == 0, by_option.output + by_position.output
    assert json.loads(by_option.stdout) == json.loads(by_position.stdout)
    shown = runner.invoke(app, ["data", "show", "--data", str(synth_file), "-r", "276070001", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["id"] == "276070001"
    both = runner.invoke(app, ["data", "summary", str(synth_file), "--data", "other.csv"])
    assert both.exit_code != 0 and "Two data sources" in both.exception.message  # type: ignore[union-attr]
    neither = runner.invoke(app, ["data", "summary"])
    assert neither.exit_code != 0 and "--data" in neither.exception.hint  # type: ignore[union-attr]
    synth = runner.invoke(app, ["data", "summary", "--data", "synthetic:60", "--country", "DEU", "--json"])
    assert synth.exit_code == 0, synth.output
    assert set(json.loads(synth.stdout)["countries"]) == {"DEU"}


def test_country_filter_is_reported_as_filtered_rows_not_dropped(synth_file: Path) -> None:
    info = json.loads(runner.invoke(app, ["data", "summary", "--data", str(synth_file), "-c", "DEU", "--json"]).stdout)
    assert "dropped_rows" not in info and info["rows_filtered_out"] == 240 - 30
