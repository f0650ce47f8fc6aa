"""Every LLM method answers a new (custom) question from its wording; trained predictors refuse."""

from __future__ import annotations

from pathlib import Path

import pytest
from methods_fakes import one_hot, scripted_model
from model_specs import spec_of
from typer.testing import CliRunner

from valuesim.cli import app
from valuesim.errors import ConfigError, ValueSimError
from valuesim.methods import Task, get_method, method_info, method_infos, refuse_trained
from valuesim.survey import Respondent, load_codebook
from valuesim.survey.questionnaire import extend_codebook, inline_question, load_questionnaire

CB = load_codebook()
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "questionnaire.yaml"
NEW = load_questionnaire(EXAMPLE, CB)
EXT = extend_codebook(CB, NEW)


def person() -> Respondent:
    answers = {"Q1": 1, "Q46": 2, "Q49": 8, "Q57": 2, "Q164": 9, "Q260": 2, "Q262": 38, "Q273": 1}
    return Respondent(id="p1", country="PER", answers=answers)


# the hybrid needs training people (fit) and its prior refuses new questions: not answerable unfitted
@pytest.mark.parametrize("name", [i.name for i in method_infos() if i.uses_llm and i.name != "hybrid"])
def test_every_llm_method_answers_new_questions_from_their_wording(name: str) -> None:
    model, backend = scripted_model(choose=lambda module, n, msgs: one_hot(n - 1, n))
    m = get_method(name, EXT, model=spec_of(model))
    targets = tuple(q.id for q in NEW)
    preds = m.predict(Task(person(), targets))
    assert [p.question for p in preds] == list(targets)
    for q, p in zip(NEW, preds):
        assert p.prediction == q.answer_codes[-1], (name, q.id, p.meta)
        assert set(p.probabilities or {}) == set(q.answer_codes)
    prompts = "\n".join(m.content for _, _, msgs in backend.calls for m in msgs)
    for q in NEW:
        assert q.text in prompts
    assert "Always at the workplace" in prompts and "10 (Completely)" in prompts


def test_rag_retrieves_history_for_a_new_question() -> None:
    model, _ = scripted_model()
    q = inline_question("How important is your family to you?", "Very|Somewhat|Not", CB, qid="FAM_NEW")
    m = get_method("rag", extend_codebook(CB, [q]), model=spec_of(model), rag_threshold=0.0)
    pred = m.predict(Task(person(), ("FAM_NEW",)))[0]
    assert pred.prediction is not None
    assert [r["question"] for r in pred.meta["retrieved"]][:1] == ["Q1"]  # Q1: importance of family


#: Written out here, not taken from the code under test: which built-in trained predictors can answer
#: a question nobody was asked (from its wording or by chance), and which need others' answers to it.
ANSWER_NEW = {"uniform", "text-transfer", "item-transfer"}
REFUSE_NEW = {"majority", "country-majority", "demographic-majority", "knn", "supervised"}


def test_every_built_in_trained_predictor_is_classified_here() -> None:
    built_in = {i.name for i in method_infos() if not i.uses_llm and i.source == "built-in"}
    assert built_in == ANSWER_NEW | REFUSE_NEW, "a new trained predictor: say above whether it answers new questions"


@pytest.mark.parametrize("name", sorted(REFUSE_NEW))
def test_trained_predictors_refuse_new_questions(name: str) -> None:
    with pytest.raises(ConfigError, match="nobody has answered a new one"):
        refuse_trained(name, method_info(name).cls)
    with pytest.raises(ConfigError, match="new-questions"):
        refuse_trained(name, method_info(name).cls, protocol=True)


@pytest.mark.parametrize("name", sorted(ANSWER_NEW))
def test_text_and_chance_predictors_answer_new_questions(name: str) -> None:
    from valuesim.survey import generate_synthetic

    refuse_trained(name, method_info(name).cls)  # legal
    refuse_trained(name, method_info(name).cls, protocol=True)
    train = generate_synthetic(n=40, seed=0)
    m = get_method(name, EXT)
    m.fit(train)
    preds = m.predict(Task(person(), tuple(q.id for q in NEW)))
    assert [p.question for p in preds] == [q.id for q in NEW]
    for q, p in zip(NEW, preds, strict=True):
        assert p.prediction in q.answer_codes, (name, q.id, p.prediction)


def _ask(*args: str):
    return CliRunner().invoke(app, ["ask", "--data", "synthetic:40", "-r", "276070001", "--model", "mock", *args])


def test_cli_ask_a_new_question() -> None:
    res = _ask("--text", "AI will make life better.", "--options", "Agree|Disagree", "-q", "AI_LIFE")
    assert res.exit_code == 0, res.output
    assert "AI_LIFE AI will make life better." in res.output
    assert "Prediction: " in res.output and "nobody was asked it" in res.output
    res = _ask("--questions", str(EXAMPLE), "-q", "CARBON_TAX", "--explain")
    assert res.exit_code == 0, res.output
    assert "CARBON_TAX" in res.output and "AI_JOBS" not in res.output and "How it was made" in res.output
    res = _ask("--questions", str(EXAMPLE))
    assert res.exit_code == 0 and all(q.id in res.output for q in NEW)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--text", "", "--options", "A|B"], "text is empty"),
        (["--text", "Why?", "--options", "A"], "at least 2 options"),
        (["--text", "Why?"], "--text needs --options"),
        (["--options", "A|B"], "--options and --unordered describe"),
        (["--text", "Why?", "--options", "A|B", "-q", "Q46"], "already a question id"),
        (["--questions", "/no/such/file.yaml"], "does not exist"),
        (["--text", "Why?", "--options", "A|B", "--method", "knn"], "cannot answer new questions"),
        ([], "Nothing to ask"),
    ],
)
def test_cli_ask_bad_new_questions(args: list[str], message: str) -> None:
    res = _ask(*args)  # `valuesim` (cli.main) prints a ValueSimError without a traceback, exit 2
    assert isinstance(res.exception, ValueSimError), res.output
    assert message in str(res.exception)


def test_the_hybrid_learns_from_others_so_new_questions_refuse_it(tmp_path) -> None:
    with pytest.raises(ConfigError, match="nobody has answered a new one"):
        refuse_trained("hybrid", method_info("hybrid").cls)
    res = _ask("--method", "hybrid", "--text", "Why?", "--options", "A|B")
    assert res.exit_code != 0 and isinstance(res.exception, ConfigError)
    res = _ask("--method", "hybrid", "-q", "Q46")  # a survey item: fitted on everybody else, then asked
    assert res.exit_code == 0, res.output
    assert "Answered by hybrid (model mock), trained on" in res.output
    out = tmp_path / "sim"
    res = CliRunner().invoke(
        app,
        ["simulate", "--data", "synthetic:40", "--questions", str(EXAMPLE), "--respondents", "2"]
        + ["--method", "hybrid", "--model", "mock", "--out", str(out)],
    )
    assert res.exit_code != 0 and isinstance(res.exception, ConfigError)
    assert not out.exists()  # refused before anything is written
