"""Qualtrics .qsf questionnaires: every question type a real export holds, generated here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from valuesim.cli import app
from valuesim.errors import ConfigError, DataError
from valuesim.survey.codebook import QuestionKind, load_codebook
from valuesim.survey.qualtrics import parse_qsf, plain_text
from valuesim.survey.questionnaire import load_questionnaire, read_questionnaire

CB = load_codebook()


def _sq(qid: str, tag: str, qtype: str, selector: str, text: str, **payload: Any) -> dict[str, Any]:
    return {
        "SurveyID": "SV_test",
        "Element": "SQ",
        "PrimaryAttribute": qid,
        "SecondaryAttribute": plain_text(text)[:50],
        "TertiaryAttribute": None,
        "Payload": {
            "QuestionText": text,
            "DataExportTag": tag,
            "QuestionType": qtype,
            "Selector": selector,
            "QuestionID": qid,
            "Validation": {"Settings": {"ForceResponse": "OFF"}},
            "Language": [],
            **payload,
        },
    }


def _choices(*labels: str) -> dict[str, dict[str, str]]:
    return {str(i + 1): {"Display": lab} for i, lab in enumerate(labels)}


AGREE = ("Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree")


def qsf_document() -> dict[str, Any]:
    """A Qualtrics export shaped like real ones: blocks (one in the trash), a flow with a block
    randomiser and a branch, HTML and entities, recodes, piped text, logic, and every type."""
    elements = [
        {
            "SurveyID": "SV_test",
            "Element": "BL",
            "PrimaryAttribute": "Survey Blocks",
            "Payload": {
                "0": {
                    "Type": "Default",
                    "Description": "Intro",
                    "ID": "BL_intro",
                    "BlockElements": [
                        {"Type": "Question", "QuestionID": "QID1"},
                        {"Type": "Page Break"},
                        {"Type": "Question", "QuestionID": "QID2"},
                        {"Type": "Question", "QuestionID": "QID3"},
                    ],
                },
                "1": {
                    "Type": "Standard",
                    "Description": "Attitudes",
                    "ID": "BL_att",
                    "BlockElements": [
                        {"Type": "Question", "QuestionID": "QID4"},
                        {"Type": "Question", "QuestionID": "QID5"},
                        {"Type": "Question", "QuestionID": "QID6"},
                        {"Type": "Question", "QuestionID": "QID7"},
                        {"Type": "Question", "QuestionID": "QID8"},
                        {"Type": "Question", "QuestionID": "QID9"},
                        {"Type": "Question", "QuestionID": "QID10"},
                        {"Type": "Question", "QuestionID": "QID11"},
                        {"Type": "Question", "QuestionID": "QID12"},
                    ],
                    "Options": {"Randomization": {"Type": "All"}},
                },
                "2": {
                    "Type": "Trash",
                    "Description": "Trash / Unused Questions",
                    "ID": "BL_trash",
                    "BlockElements": [{"Type": "Question", "QuestionID": "QID13"}],
                },
            },
        },
        {
            "SurveyID": "SV_test",
            "Element": "FL",
            "PrimaryAttribute": "Survey Flow",
            "Payload": {
                "Type": "Root",
                "FlowID": "FL_1",
                "Flow": [
                    {"Type": "EmbeddedData", "FlowID": "FL_2", "EmbeddedData": [{"Field": "city"}]},
                    {"Type": "Block", "ID": "BL_intro", "FlowID": "FL_3"},
                    {
                        "Type": "BlockRandomizer",
                        "FlowID": "FL_4",
                        "SubSet": 1,
                        "Flow": [{"Type": "Standard", "ID": "BL_att", "FlowID": "FL_5"}],
                    },
                    {"Type": "Branch", "FlowID": "FL_6", "Flow": []},
                ],
            },
        },
        _sq("QID1", "intro", "DB", "TB", "<p>Welcome! This survey takes <b>10&nbsp;minutes</b>.</p>"),
        _sq(
            "QID2",
            "Q1",
            "MC",
            "SAVR",
            "<div>How satisfied are you with life in ${e://Field/city}&nbsp;these days?</div>",
            Choices=_choices("Very dissatisfied", "Dissatisfied", "Satisfied", "Very satisfied", "Prefer not to say"),
            ChoiceOrder=["1", "2", "3", "4", "5"],
            RecodeValues={"1": "1", "2": "2", "3": "3", "4": "4", "5": "-99"},
            DisplayLogic={"0": {"Type": "If"}},
        ),
        _sq(
            "QID3",
            "party",
            "MC",
            "DL",
            "Which party is closest to your views?",
            Choices=_choices("Greens", "Social Democrats", "Liberals", "Conservatives", "Other"),
            ChoiceOrder=["2", "1", "3", "4", "5"],
        ),
        _sq(
            "QID4",
            "Q4",
            "Matrix",
            "Likert",
            "How much do you agree with each statement?",
            SubSelector="SingleAnswer",
            Choices=_choices("Most people can be trusted.", "Hard work brings success &amp; respect."),
            ChoiceOrder=[1, 2],
            Answers=_choices(*AGREE),
            AnswerOrder=[1, 2, 3, 4, 5],
            RecodeValues={"1": "1", "2": "2", "3": "3", "4": "4", "5": "5"},
            ChoiceDataExportTags={"1": "trust_people", "2": False},
        ),
        _sq(
            "QID5",
            "Q5",
            "Matrix",
            "Likert",
            "Which of these do you own?",
            SubSelector="MultipleAnswer",
            Choices=_choices("Car", "Bike"),
            Answers=_choices("Yes", "No"),
        ),
        _sq(
            "QID6",
            "Q6",
            "Slider",
            "HSLIDER",
            "Move the slider: how much do you trust the government?",
            Choices=_choices("National government", "Local government"),
            ChoiceOrder=["1", "2"],
            Configuration={"CSSliderMin": 0, "CSSliderMax": 100, "GridLines": 10, "NumDecimals": "0"},
            Labels={"1": {"Display": "No trust at all"}, "2": {"Display": "Complete trust"}},
        ),
        _sq(
            "QID7",
            "Q7",
            "Slider",
            "HBAR",
            "How interested are you in politics?",
            Choices=_choices(""),
            Configuration={"CSSliderMin": 1, "CSSliderMax": 7, "GridLines": 6},
            Labels={"1": {"Display": "Not at all"}, "2": {"Display": "Very"}},
        ),
        _sq(
            "QID8",
            "nps",
            "MC",
            "NPS",
            "How likely are you to recommend your city to a friend?",
            Choices={str(i): {"Display": str(i)} for i in range(11)},
            ColumnLabels={"0": {"Display": "Not at all likely"}, "1": {"Display": "Extremely likely"}},
        ),
        _sq("QID9", "Q9", "TE", "SL", "What is your postcode?"),
        _sq("QID10", "Q10_timer", "Timing", "PageTimer", "Timing"),
        _sq(
            "QID11",
            "Q11",
            "MC",
            "MAVR",
            "Which of these apps do you use?",
            Choices=_choices("Mail", "Maps", "News"),
        ),
        _sq(
            "QID12",
            "Q12",
            "MC",
            "SAHR",
            "Do you think your vote makes a difference?",
            Choices=_choices("Yes", "No"),
            RecodeValues={"1": "1", "2": "0"},
            Randomization={"Type": "All"},
            SkipLogic={"0": {"Type": "Skip"}},
        ),
        _sq("QID13", "Q13", "MC", "SAVR", "An old question.", Choices=_choices("A", "B")),
    ]
    return {"SurveyEntry": {"SurveyID": "SV_test", "SurveyName": "City life &amp; trust"}, "SurveyElements": elements}


@pytest.fixture
def qsf_file(tmp_path: Path) -> Path:
    p = tmp_path / "city.qsf"
    p.write_text(json.dumps(qsf_document()), "utf-8")
    return p


def test_every_type_is_imported_or_listed_as_skipped() -> None:
    got = parse_qsf(qsf_document(), pipe={"city": "Leipzig"})
    by_id = {q["id"]: q for q in got.raw["questions"]}
    assert got.raw["title"] == "City life & trust"
    assert list(by_id) == ["Q1", "party", "trust_people", "Q4_2", "Q6_1", "Q6_2", "Q7_1", "nps", "Q12"]
    q1 = by_id["Q1"]
    assert q1["text"] == "How satisfied are you with life in Leipzig these days?"
    assert q1["options"] == ["Very dissatisfied", "Dissatisfied", "Satisfied", "Very satisfied"]
    assert q1["codes"] == [1, 2, 3, 4] and q1["ordered"] is True
    party = by_id["party"]  # the order shown, a choice list that is no scale
    assert party["options"][:2] == ["Social Democrats", "Greens"] and party["codes"][:2] == [2, 1]
    assert party["ordered"] is False
    assert by_id["trust_people"]["text"] == "How much do you agree with each statement? Most people can be trusted."
    assert by_id["Q4_2"]["text"].endswith("Hard work brings success & respect.")
    assert by_id["Q4_2"]["options"] == list(AGREE)
    assert by_id["Q6_1"]["scale"] == {
        "min": 0,
        "max": 100,
        "step": 10,
        "low": "No trust at all",
        "high": "Complete trust",
    }
    assert by_id["Q7_1"]["scale"]["step"] == 1 and by_id["Q7_1"]["text"] == "How interested are you in politics?"
    assert by_id["nps"]["scale"]["max"] == 10 and by_id["nps"]["scale"]["high"] == "Extremely likely"
    assert by_id["Q12"]["codes"] == [1, 0]
    skipped = "\n".join(got.skipped)
    for tag, why in [
        ("intro", "descriptive text"),
        ("Q5", "MultipleAnswer"),
        ("Q9", "text entry"),
        ("Q10_timer", "timer"),
        ("Q11", "several answers"),
        ("Q13", "trash"),
    ]:
        assert any(line.startswith(tag + " ") and why in line for line in got.skipped), (tag, skipped)
    assert len(got.skipped) == 6
    notes = "\n".join(got.notes)
    for needle in (
        "Q1: display logic",
        "Q12: skip logic",
        "Q12: Qualtrics randomises its options",
        "randomises blocks",
        "branches",
        "'Prefer not to say' (-99) left out",
        "slider 0..100 posed on 11 points",
        "randomises its questions",
    ):
        assert needle in notes, needle


def test_duplicate_export_tags_are_renamed() -> None:
    doc = qsf_document()
    doc["SurveyElements"].append(
        _sq("QID14", "party", "MC", "SAVR", "Which party did you vote for?", Choices=_choices("Greens", "Liberals"))
    )
    doc["SurveyElements"].append({"SurveyID": "SV_test", "Element": "SQ", "PrimaryAttribute": "QID99", "Payload": None})
    got = parse_qsf(doc)
    ids = [q["id"] for q in got.raw["questions"]]
    assert ids.count("party") == 1 and "party_QID14" in ids
    assert any(line.startswith("QID99: the export holds no question data") for line in got.skipped)
    assert any("export tag of two questions" in n for n in got.notes)


def test_unfilled_pipes_stay_placeholders_and_are_reported() -> None:
    got = parse_qsf(qsf_document(), pipe={"country": "x"})
    q1 = next(q for q in got.raw["questions"] if q["id"] == "Q1")
    assert "[city]" in q1["text"] and "${" not in q1["text"]
    assert any("--pipe city=VALUE" in n for n in got.notes)
    assert any("--pipe country" in n and "no such piped text" in n for n in got.notes)


def test_a_qsf_loads_as_a_questionnaire(qsf_file: Path) -> None:
    loaded = read_questionnaire(qsf_file, CB, {"city": "Leipzig"})
    qs = {q.id: q for q in loaded.questions}
    # Qualtrics' Q1, Q4_2 ... would be WVS ids with the WVS codebook: renamed, and said so
    assert "QSF_Q1" in qs and "party" in qs and any("Q1 renamed QSF_Q1" in n for n in loaded.notes)
    assert qs["QSF_Q1"].options == {1: "Very dissatisfied", 2: "Dissatisfied", 3: "Satisfied", 4: "Very satisfied"}
    assert qs["Q6_1"].kind is QuestionKind.SCALE
    assert qs["Q6_1"].codes == list(range(0, 101, 10))
    assert qs["Q6_1"].options[0] == "No trust at all" and qs["Q6_1"].options[50] == "50"
    assert qs["party"].kind is QuestionKind.NOMINAL and qs["QSF_Q12"].options == {0: "No", 1: "Yes"}
    assert len(loaded.skipped) == 6


def test_convert_writes_an_editable_yaml_that_loads_the_same(qsf_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "q.yaml"
    res = CliRunner().invoke(
        app, ["questionnaire", "convert", str(qsf_file), "--out", str(out), "--pipe", "city=Leipzig"]
    )
    assert res.exit_code == 0, res.output
    assert "9 question(s)" in res.output and "6 skipped" in res.output and "Skipped:" in res.output
    text = out.read_text("utf-8")
    assert text.startswith("# Questionnaire imported from city.qsf") and "# skipped: Q9 " in text
    assert yaml.safe_load(text)["questions"][0]["id"] == "Q1"
    # the YAML as written (ids as in the file) holds the questions of the .qsf, same options and codes
    from_yaml = {q.id: q for q in load_questionnaire(out, CB.__class__([], [], name="other", phrasing="generic"))}
    from_qsf = read_questionnaire(qsf_file, CB, {"city": "Leipzig"}).questions
    assert [q.id.removeprefix("QSF_") for q in from_qsf] == list(from_yaml)
    assert all(from_yaml[q.id.removeprefix("QSF_")].options == q.options for q in from_qsf)
    again = CliRunner().invoke(app, ["questionnaire", "convert", str(qsf_file), "--out", str(out)])
    assert again.exit_code != 0 and "exists" in str(again.exception)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not valid JSON"),
        ('{"SurveyEntry": {}}', "no SurveyElements"),
        ('{"SurveyElements": []}', "no question ValueSim can simulate"),
    ],
)
def test_bad_qsf_files(tmp_path: Path, content: str, message: str) -> None:
    p = tmp_path / "bad.qsf"
    p.write_text(content, "utf-8")
    with pytest.raises(DataError, match=message):
        read_questionnaire(p, CB)


def test_pipe_needs_a_qsf(tmp_path: Path) -> None:
    p = tmp_path / "q.yaml"
    p.write_text("questions: [{id: A1, text: Is it good?, options: [Yes, No]}]\n", "utf-8")
    with pytest.raises(ConfigError, match="--pipe"):
        read_questionnaire(p, CB, {"city": "x"})


def test_simulate_and_ask_take_a_qsf(qsf_file: Path, tmp_path: Path) -> None:
    base = ["--data", "synthetic:40", "--model", "mock", "--questions", str(qsf_file), "--pipe", "city=Leipzig"]
    res = CliRunner().invoke(app, ["simulate", *base, "-n", "3", "--min-valid", "0", "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    assert "Skipped: Q9 " in res.output and "3 respondents x 9 questions" in res.output
    ask = CliRunner().invoke(app, ["ask", *base[2:], "--data", "synthetic", "-r", "276070001", "-q", "party"])
    assert ask.exit_code == 0, ask.output
    assert "party" in ask.output


# --------------------------------------------------------------------------- labelled export


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_simulate_writes_a_labelled_file_that_reads_back(qsf_file: Path, tmp_path: Path, fmt: str) -> None:
    import pyreadstat

    run = tmp_path / "run"
    base = ["--data", "synthetic:40", "--model", "mock", "--questions", str(qsf_file), "--pipe", "city=Leipzig"]
    res = CliRunner().invoke(
        app, ["simulate", *base, "-n", "5", "--min-valid", "0", "--out", str(run), "--format", fmt]
    )
    assert res.exit_code == 0, res.output
    path = run / f"simulated.{fmt}"
    frame, meta = (pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta)(str(path))
    assert len(frame) == 5 and list(frame.columns[:2]) == ["respondent_id", "country"]
    labels = dict(zip(meta.column_names, meta.column_labels))
    assert labels["party"] == "Which party is closest to your views?"
    assert meta.variable_value_labels["party"] == {1.0: "Greens", 2.0: "Social Democrats", 3.0: "Liberals",
                                                   4.0: "Conservatives", 5.0: "Other"}  # fmt: skip
    # a scale labels every point it was posed on: its ends with their words, the others with their number
    assert meta.variable_value_labels["Q6_1"] == {
        0.0: "No trust at all",
        **{float(c): str(c) for c in range(10, 100, 10)},
        100.0: "Complete trust",
    }
    assert "Q260" in frame.columns  # the profile the method was given (WVS sex), with its labels
    assert set(frame["party"].dropna()) <= {1, 2, 3, 4, 5}
    # the simulated sample is a survey file like any other
    summary = CliRunner().invoke(app, ["data", "summary", "--data", str(path), "--codebook", "auto"])
    assert summary.exit_code == 0, summary.output
    assert "5 respondents" in summary.output or "5 " in summary.output


def test_export_a_finished_run(qsf_file: Path, tmp_path: Path) -> None:
    import pandas as pd

    run = tmp_path / "run"
    base = ["--data", "synthetic:40", "--model", "mock", "--questions", str(qsf_file), "--pipe", "city=Leipzig"]
    assert CliRunner().invoke(app, ["simulate", *base, "-n", "3", "--min-valid", "0", "--out", str(run)]).exit_code == 0
    res = CliRunner().invoke(app, ["export", str(run), "--format", "csv", "--out", str(tmp_path / "s.csv")])
    assert res.exit_code == 0, res.output
    wide = pd.read_csv(tmp_path / "s.csv")
    assert len(wide) == 3 and {"respondent_id", "country", "sex", "age_band", "party", "QSF_Q1"} <= set(wide.columns)
    bad = CliRunner().invoke(app, ["export", str(tmp_path), "--format", "sav"])
    assert bad.exit_code != 0 and "not a finished" in str(bad.exception)
    wrong = CliRunner().invoke(app, ["export", str(run), "--format", "xlsx"])
    assert "Unknown --format xlsx" in str(wrong.exception)
