"""New questions: the questionnaire schema, its validation and the extended codebook."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from valuesim.errors import ConfigError, DataError
from valuesim.survey import load_codebook
from valuesim.survey.codebook import QuestionKind
from valuesim.survey.questionnaire import (
    extend_codebook,
    inline_question,
    is_custom,
    load_questionnaire,
    parse_questionnaire,
)

CB = load_codebook()
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "questionnaire.yaml"


def one(**fields: object) -> dict[str, object]:
    return {"questions": [{"id": "AI_JOBS", "text": "AI creates jobs.", "options": ["Yes", "No"], **fields}]}


def test_the_example_questionnaire_loads() -> None:
    qs = load_questionnaire(EXAMPLE, CB)
    assert len(qs) == 5 and all(is_custom(q) for q in qs)
    by_id = {q.id: q for q in qs}
    assert by_id["AI_JOBS"].options == {1: "Strongly agree", 2: "Agree", 3: "Disagree", 4: "Strongly disagree"}
    assert by_id["AI_JOBS"].kind is QuestionKind.ORDINAL and by_id["AI_JOBS"].ordered
    # unquoted YAML Yes/No are labels, not booleans
    assert by_id["AI_TRUST_MEDICAL"].options == {1: "Yes", 2: "No", 3: "It depends"}
    assert by_id["AI_TRUST_MEDICAL"].kind is QuestionKind.NOMINAL and not by_id["AI_TRUST_MEDICAL"].ordered
    tax = by_id["CARBON_TAX"]
    assert tax.kind is QuestionKind.SCALE and tax.answer_codes == list(range(1, 11))
    assert tax.options[1] == "Not at all" and tax.options[10] == "Completely" and tax.options[5] == "5"


def test_json_and_yaml_give_the_same_questions(tmp_path: Path) -> None:
    raw = one(section="Tech")
    (tmp_path / "q.json").write_text(json.dumps(raw))
    (tmp_path / "q.yml").write_text(
        "questions:\n  - {id: AI_JOBS, text: AI creates jobs., options: [Yes, No], section: Tech}\n"
    )
    assert load_questionnaire(tmp_path / "q.json", CB) == load_questionnaire(tmp_path / "q.yml", CB)
    # a bare list of questions is accepted too
    assert parse_questionnaire(raw["questions"], CB) == load_questionnaire(tmp_path / "q.json", CB)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (one(text="   "), "text is empty"),
        (one(options=["Only"]), "at least 2 options"),
        (one(options=["A", "A"]), "duplicate options: A"),
        (one(id="Q46"), "Q46 is already a question id of the WVS-7 codebook"),
        (one(id="Q300"), "looks like a WVS question id"),
        (one(id="9lives"), "must start with a letter"),
        (one(options=None), "either options"),
        (one(scale={"min": 1, "max": 10, "low": "lo", "high": "hi"}), "either options"),
        (one(colour="red"), "colour"),
        ({"questions": []}, "no questions"),
        ({"questions": [one()["questions"][0], {**one()["questions"][0], "id": "ai_jobs"}]}, "duplicate question ids"),
        ("just text", "expected a mapping"),
    ],
)
def test_bad_questionnaires_say_what_is_wrong(raw: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_questionnaire(raw, CB)


def test_an_id_of_a_wvs_column_is_refused() -> None:
    assert "Q223_ABREV" in CB.excluded  # a WVS column that is not used as a question
    with pytest.raises(ConfigError, match="Q223_ABREV is already a question id of the WVS-7 codebook"):
        parse_questionnaire(one(id="Q223_ABREV"), CB)


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_questionnaire(tmp_path / "missing.yaml", CB)
    bad = tmp_path / "bad.yaml"
    bad.write_text("questions: [unclosed\n")
    with pytest.raises(DataError, match="not valid YAML"):
        load_questionnaire(bad, CB)
    badj = tmp_path / "bad.json"
    badj.write_text("{")
    with pytest.raises(DataError, match="not valid JSON"):
        load_questionnaire(badj, CB)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x00")
    with pytest.raises(DataError, match="Cannot read"):
        load_questionnaire(binary, CB)


def test_inline_questions() -> None:
    q = inline_question("Is AI good?", "Yes | No | Unsure", CB, qid="AI", ordered=False)
    assert q.options == {1: "Yes", 2: "No", 3: "Unsure"} and q.kind is QuestionKind.NOMINAL
    with pytest.raises(ConfigError, match="at least 2 options"):
        inline_question("Is AI good?", "", CB)


def test_the_extended_codebook_keeps_wvs_and_adds_the_new_items_last() -> None:
    qs = load_questionnaire(EXAMPLE, CB)
    ext = extend_codebook(CB, qs)
    assert ext.ids()[: len(CB)] == CB.ids() and ext.ids()[len(CB) :] == [q.id for q in qs]
    assert ext.get("AI_JOBS") is qs[0] and ext.get("q46") is CB.get("Q46")
    assert set(ext.substantive()) == set(CB.substantive()) | {q.id for q in qs}
    assert ext.section_of("AI_JOBS").title == "Technology"
    assert "AI_JOBS" not in CB  # the packaged codebook is untouched
    with pytest.raises(ConfigError, match="already a question id of the WVS-7 codebook"):
        extend_codebook(ext, qs)
