"""What a new user met with a hand-written Qualtrics export: a slider without labels whose
simulated answers must survive the labelled file, placeholders on the terminal, matrix rows in
the converted YAML, one note for many shortened labels, and a file that says it is simulated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from valuesim.cli import app
from valuesim.errors import ConfigError
from valuesim.survey.export import FILE_LABEL, LabelledTable, write_labelled

runner = CliRunner()


def _sq(qid: str, tag: str, qtype: str, selector: str, text: str, **payload: Any) -> dict[str, Any]:
    return {
        "SurveyID": "SV_x",
        "Element": "SQ",
        "PrimaryAttribute": qid,
        "SecondaryAttribute": text[:50],
        "TertiaryAttribute": None,
        "Payload": {
            "QuestionText": text,
            "DataExportTag": tag,
            "QuestionType": qtype,
            "Selector": selector,
            "Configuration": {"QuestionDescriptionOption": "UseText"},
            "QuestionID": qid,
            "Language": [],
            **payload,
        },
    }


def _qsf() -> dict[str, Any]:
    agree = ["Strongly disagree", "Somewhat disagree", "Neither agree nor disagree", "Somewhat agree", "Strongly agree"]
    return {
        "SurveyEntry": {"SurveyID": "SV_x", "SurveyName": "Flood risk", "SurveyLanguage": "EN"},
        "SurveyElements": [
            {
                "SurveyID": "SV_x",
                "Element": "BL",
                "PrimaryAttribute": "Survey Blocks",
                "SecondaryAttribute": None,
                "TertiaryAttribute": None,
                "Payload": {
                    "1": {
                        "Type": "Default",
                        "Description": "Default Question Block",
                        "ID": "BL_1",
                        "BlockElements": [{"Type": "Question", "QuestionID": q} for q in ("QID1", "QID2")],
                    }
                },
            },
            {"SurveyID": "SV_x", "Element": "QC", "PrimaryAttribute": "Survey Question Count", "Payload": None},
            {"SurveyID": "SV_x", "Element": "RS", "PrimaryAttribute": "RS_1", "Payload": None},
            # a slider without labels (Qualtrics writes "Labels": []), 0..100 with 10 grid lines
            _sq(
                "QID1",
                "flood",
                "Slider",
                "HSLIDER",
                "How likely is it that ${e://Field/city} will be flooded within 50 years?",
                Choices={"1": {"Display": "Likelihood (%)"}},
                ChoiceOrder=[1],
                Labels=[],
                Configuration={"CSSliderMin": 0, "CSSliderMax": 100, "GridLines": 10, "NumDecimals": "0"},
            ),
            _sq(
                "QID2",
                "Q2",
                "Matrix",
                "Likert",
                "How much do you agree about [country]?",
                SubSelector="SingleAnswer",
                Choices={"1": {"Display": "Government should act"}, "2": {"Display": "Firms are responsible"}},
                ChoiceOrder=["1", "2"],
                Answers={str(i + 1): {"Display": a} for i, a in enumerate(agree)},
                AnswerOrder=[1, 2, 3, 4, 5],
                ChoiceDataExportTags={"1": "gov_act", "2": "firm_resp"},
            ),
        ],
    }


@pytest.fixture
def qsf(tmp_path: Path) -> Path:
    p = tmp_path / "flood.qsf"
    p.write_text(json.dumps(_qsf()), "utf-8")
    return p


def test_unlabelled_slider_answers_read_back_from_the_labelled_file(qsf: Path, tmp_path: Path) -> None:
    import pyreadstat

    run = tmp_path / "run"
    args = ["simulate", "--data", "synthetic:40", "--model", "mock", "--questions", str(qsf), "-n", "8"]
    res = runner.invoke(app, [*args, "--min-valid", "0", "--out", str(run), "--format", "sav"])
    assert res.exit_code == 0, res.output
    path = run / "simulated.sav"
    frame, meta = pyreadstat.read_sav(str(path))
    assert meta.file_label == FILE_LABEL
    # every point the slider was posed on is labelled (the inner ones with their number)
    assert meta.variable_value_labels["flood_1"] == {float(c): str(c) for c in range(0, 101, 10)}
    simulated = frame["flood_1"].dropna()
    assert len(simulated) == 8
    # ... so the simulated sample reads back with every answer, none an out-of-range code
    from valuesim.survey import load_survey
    from valuesim.survey.custom import infer_codebook

    data = load_survey(path, codebook=infer_codebook(path).codebook)
    back = sorted(data.codebook.get("flood_1").label(data.respondent(i).answers["flood_1"]) for i in data.ids)
    assert back == sorted(str(int(v)) for v in simulated)
    summary = runner.invoke(app, ["data", "summary", "--data", str(path), "--codebook", "auto"])
    assert summary.exit_code == 0, summary.output
    assert "Out-of-range" not in summary.output
    # `export --out` names a file of the --format given; another suffix is an error, not a directory
    wrong = tmp_path / "it.dta"
    res = runner.invoke(app, ["export", str(run), "--format", "sav", "--out", str(wrong)])
    assert isinstance(res.exception, ConfigError) and "does not end in .sav" in str(res.exception)
    assert not wrong.exists()
    res = runner.invoke(app, ["export", str(run), "--format", "dta", "--out", str(wrong)])
    assert res.exit_code == 0 and wrong.is_file()


def test_ask_prints_placeholders_as_text(qsf: Path) -> None:
    res = runner.invoke(
        app,
        ["ask", "--data", "synthetic", "-r", "276070001", "--model", "mock", "--questions", str(qsf), "-q", "gov_act"],
    )
    assert res.exit_code == 0, res.output
    # "[country]" is the questionnaire's placeholder, not terminal markup to swallow
    assert "about [country]?" in " ".join(res.output.split())


def test_converted_matrix_rows_are_written_out_in_full(qsf: Path, tmp_path: Path) -> None:
    out = tmp_path / "q.yaml"
    res = runner.invoke(app, ["questionnaire", "convert", str(qsf), "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text("utf-8")
    assert "&id" not in text and "*id" not in text  # no YAML anchors: editing one row edits one row
    rows = {q["id"]: q for q in yaml.safe_load(text)["questions"]}
    assert rows["gov_act"]["options"] == rows["firm_resp"]["options"]
    assert rows["gov_act"]["options"] is not rows["firm_resp"]["options"]


def test_many_shortened_labels_make_one_note(tmp_path: Path) -> None:
    import pyreadstat

    cols = [f"v{i}" for i in range(12)]
    table = LabelledTable(
        pd.DataFrame({"respondent_id": ["1", "2"], **{c: [1, 2] for c in cols}}),
        variable_labels={c: f"A long question text number {i} " + "x" * 100 for i, c in enumerate(cols)},
        value_labels={c: {1: "Yes", 2: "No"} for c in cols},
    )
    notes = write_labelled(table, tmp_path / "t.dta", "dta")
    assert len(notes) == 1 and notes[0].startswith("12 variable label(s) cut to 80 characters") and "(+4)" in notes[0]
    _, meta = pyreadstat.read_dta(str(tmp_path / "t.dta"))
    assert meta.file_label == FILE_LABEL
    assert all(len(label) <= 80 for label in meta.column_labels if label)


def test_skip_reasons_name_what_was_skipped() -> None:
    from valuesim.survey.qualtrics import parse_qsf

    doc = _qsf()
    bipolar = _sq(
        "QID3",
        "Q3",
        "Matrix",
        "Bipolar",
        "Where would you place yourself?",
        SubSelector="SingleAnswer",
        Choices={"1": {"Display": "Left … Right"}},
        Answers={str(i): {"Display": str(i)} for i in range(1, 8)},
    )
    star = _sq("QID4", "Q4", "Slider", "STAR", "Rate the service", Choices={"1": {"Display": "Service"}})
    doc["SurveyElements"] += [bipolar, star]
    blocks = doc["SurveyElements"][0]["Payload"]
    blocks["1"]["BlockElements"] += [{"Type": "Question", "QuestionID": q} for q in ("QID3", "QID4")]
    blocks["1"]["Options"] = {"Looping": "Static", "LoopingOptions": {"Static": {"1": {"1": "Germany"}}}}
    got = parse_qsf(doc)
    skipped = " | ".join(got.skipped)
    assert "Q3 (QID3, Matrix/Bipolar): a bipolar (semantic differential) matrix" in skipped
    assert "SingleAnswer answers (only one answer per row" not in skipped  # it has one answer per row
    assert "Q4 (QID4, Slider/STAR): a star rating" in skipped
    assert any("loop & merge" in n for n in got.notes)
