"""The LLM pipeline: modules, integration rules, ablations, baselines, errors, accounting, CLI."""

from __future__ import annotations

import json
import pickle

import pytest
from methods_fakes import one_hot, scripted_model
from model_specs import spec_of
from typer.testing import CliRunner

from valuesim.cli import app
from valuesim.errors import ConfigError, ModelError, UnknownQuestionError
from valuesim.llm import get_model
from valuesim.methods import Task, get_method, list_methods
from valuesim.methods.llm_methods import ModuleAnswer, combine, nearest_code, pooled
from valuesim.methods.prompting import parse_batch, parse_letter, target_options
from valuesim.methods.retrieval import QuestionRetriever
from valuesim.survey import Respondent, load_codebook

CB = load_codebook()
TARGETS = ("Q46", "Q57", "Q164")


def person() -> Respondent:
    answers = {
        "Q1": 1,
        "Q2": 2,
        "Q46": 2,
        "Q49": 8,
        "Q57": 2,
        "Q69": 1,
        "Q71": 3,
        "Q164": 9,
        "Q165": 1,
        "Q199": 3,
        "Q260": 2,
        "Q261": 1980,
        "Q262": 38,
        "Q273": 1,
        "Q289": 1,
    }
    return Respondent(id="p1", country="PER", answers=answers)


def task(targets: tuple[str, ...] = TARGETS) -> Task:
    p = person()
    return Task(p.restricted([q for q in p.answered() if q not in targets]), targets)


def run(method_name: str, model, targets: tuple[str, ...] = TARGETS, **options):
    m = get_method(method_name, CB, model=spec_of(model), **options)
    return m, m.predict(task(targets))


def letter_choice(mapping: dict[str, int]):
    """Each module picks the option index in ``mapping`` (default 0)."""
    return lambda module, n, msgs: one_hot(min(mapping.get(module, 0), n - 1), n)


def test_methods_are_registered() -> None:
    names = list_methods()
    for name in ("valuesim", "blank", "demographics", "full-info", "rag"):
        assert name in names


def test_unanimous_modules_skip_the_coordinator() -> None:
    model, backend = scripted_model(choose=letter_choice({"cognitive": 1, "affective": 1, "behavioral": 1}))
    _m, preds = run("valuesim", model)
    assert [p.prediction for p in preds] == [target_options(CB.get(q))[0][1] for q in TARGETS]
    assert "coordinator" not in backend.modules_called()
    assert backend.modules_called().count("cognitive") == len(TARGETS)
    for p in preds:
        assert p.meta["integration"] == {"rule": "unanimous-then-coordinator", "unanimous": True, "coordinator": False}
        assert p.meta["usage"]["llm_calls"] == 3
        assert set(p.meta["modules"]) == {"cognitive", "affective", "behavioral"}
        assert abs(sum(p.probabilities.values()) - 1) < 1e-6
        assert max(p.probabilities, key=p.probabilities.get) == p.prediction


def test_disagreement_calls_the_coordinator_once() -> None:
    model, backend = scripted_model(
        choose=letter_choice({"cognitive": 0, "affective": 1, "behavioral": 1, "coordinator": 2})
    )
    _, preds = run("valuesim", model)
    assert backend.modules_called().count("coordinator") == len(TARGETS)
    for p in preds:
        codes = target_options(CB.get(p.question))[0]
        expected = codes[min(2, len(codes) - 1)]
        assert p.prediction == expected  # the coordinator decides, not the majority
        assert p.meta["integration"]["coordinator"] is True
        assert p.meta["coordinator"]["answer"] == expected
        assert p.meta["usage"]["llm_calls"] == 4
    coord_msgs = [msgs for _, mod, msgs in backend.calls if mod == "coordinator"]
    system, user = coord_msgs[0]
    assert "feelings: B (90%)" in user.content and CB.get(TARGETS[0]).short in user.content
    assert "Family" not in system.content and "Family" not in user.content  # no backstory again (v2 on)
    module_system = next(msgs[0].content for _, mod, msgs in backend.calls if mod != "coordinator")
    assert "Family" in module_system


def test_v1_coordinator_re_reads_the_backstory() -> None:
    model, backend = scripted_model(choose=letter_choice({"cognitive": 0, "affective": 1, "behavioral": 1}))
    run("valuesim", model, prompt_version="v1", story="facts", max_story_words=1200, story_tokens=None)
    coord = [msgs for _, mod, msgs in backend.calls if mod == "coordinator"][0]
    assert "Your feelings" in coord[-1].content and "confidence" in coord[-1].content
    assert "Family is very important in your life." in coord[0].content


def test_all_calls_of_a_unit_share_one_system_prefix() -> None:
    model, backend = scripted_model(choose=letter_choice({"cognitive": 0, "affective": 1}))
    run("valuesim", model)
    systems = {msgs[0].content for _, mod, msgs in backend.calls if mod != "coordinator"}
    assert len(systems) == 1
    system = systems.pop()
    assert "Family is very important in your life." in system
    for q in TARGETS:  # nothing about the targets in the shared prefix
        assert CB.get(q).short not in system


@pytest.mark.parametrize(
    ("rule", "qid", "choices", "expected"),
    [
        ("mean", "Q49", [0, 1, 8], 4),  # scale codes 1, 2, 9 -> mean 4
        ("median", "Q49", [0, 1, 8], 2),
        ("mean", "Q46", [0, 3, 3], 3),  # codes 1, 4, 4 -> mean 3
        ("median", "Q57", [0, 1, 1], 2),  # nominal: mode
        ("mean", "Q57", [1, 0, 0], 1),
    ],
)
def test_mean_and_median_integration(rule: str, qid: str, choices: list[int], expected: int) -> None:
    mods = dict(zip(("cognitive", "affective", "behavioral"), choices))
    model, backend = scripted_model(choose=letter_choice(mods))
    _, preds = run("valuesim", model, targets=(qid,), integration=rule)
    assert preds[0].prediction == expected
    assert "coordinator" not in backend.modules_called()


def test_pool_averages_distributions_where_the_vote_would_not() -> None:
    def choose(module: str, n: int, msgs) -> list[float]:
        return [0.95, 0.05] if module == "cognitive" else [0.45, 0.55]

    model, _ = scripted_model(choose=choose)
    _, pooled_preds = run("valuesim", model, targets=("Q57",), integration="pool")
    assert pooled_preds[0].prediction == 1  # mean P(A) = 0.617
    model, _ = scripted_model(choose=choose)
    _, voted = run("valuesim", model, targets=("Q57",), integration="median")
    assert voted[0].prediction == 2  # two of three modules say B


def test_integration_helpers() -> None:
    q = CB.get("Q46")
    codes = target_options(q)[0]
    answers = [ModuleAnswer("cognitive", 1, {1: 0.6, 2: 0.4, 3: 0.0, 4: 0.0}), ModuleAnswer("affective", 2, None)]
    pool = pooled(answers, codes)
    assert pool == pytest.approx({1: 0.3, 2: 0.7, 3: 0.0, 4: 0.0})
    assert combine(answers, q, "pool")[0] == 2
    assert combine([ModuleAnswer("x", None, error="bad")], q, "mean") == (None, None)
    assert nearest_code(2.5, [1, 2, 3, 4]) == 2
    assert nearest_code(7.6, list(range(11))) == 8


def test_plain_module_ablation_makes_one_call_per_target() -> None:
    model, backend = scripted_model(choose=letter_choice({}))
    _, preds = run("valuesim", model, modules="plain")
    assert backend.modules_called() == ["plain"] * len(TARGETS)
    assert all(p.meta["integration"]["rule"] == "single" for p in preds)


def test_story_ablations_change_only_the_system_message() -> None:
    seen = {}
    for story in ("facts", "raw", "none"):
        model, backend = scripted_model(choose=letter_choice({}))
        run("valuesim", model, story=story, modules="plain")
        seen[story] = backend.calls[0][2][0].content
    assert "Family is very important" in seen["facts"]
    assert "->" in seen["raw"] and "Family is very important" not in seen["raw"]
    assert "Very important" in seen["raw"]  # labels, never codes
    assert "family" not in seen["none"].lower()


def test_llm_baselines_see_what_they_should() -> None:
    prompts = {}
    for name in ("blank", "demographics", "full-info", "rag"):
        model, backend = scripted_model(choose=letter_choice({}))
        _, preds = run(name, model, targets=("Q71",), **({"rag_threshold": 0.2} if name == "rag" else {}))
        assert preds[0].prediction is not None
        prompts[name] = backend.calls[0][2]
        assert len(backend.calls) == 1
    blank_sys = prompts["blank"][0].content
    assert "Peru" not in blank_sys and "born" not in blank_sys
    demo_sys = prompts["demographics"][0].content
    assert "You are a woman." in demo_sys and "family" not in demo_sys.lower()
    assert "How important is family in your life? -> Very important" in prompts["full-info"][0].content
    rag_user = prompts["rag"][1].content
    assert "earlier answers" in rag_user and "confidence in the police" in rag_user
    assert "family" not in prompts["rag"][0].content.lower()


def test_rag_retrieval_picks_the_related_history_item() -> None:
    r = QuestionRetriever(CB)
    hits = r.similar("Q71", ["Q1", "Q46", "Q69", "Q182"], k=3, threshold=0.3)
    assert hits and hits[0].qid == "Q69"
    assert all(h.qid != "Q71" for h in r.similar("Q71", ["Q71", "Q69"]))
    assert r.similar("Q71", ["Q1", "Q261"], threshold=0.9) == []
    model, _ = scripted_model(choose=letter_choice({}))
    _, preds = run("rag", model, targets=("Q71",))
    assert preds[0].meta["retrieved"][0]["question"] == "Q69"


def test_generate_scoring_with_rationales() -> None:
    model, backend = scripted_model(write=lambda module, msgs: "B. Because that is how I live.")
    _, preds = run("valuesim", model, scoring="generate", rationale=True)
    for p in preds:
        assert p.prediction == target_options(CB.get(p.question))[0][1]
        assert p.probabilities is not None  # pooled one-hot votes
        assert p.meta["modules"]["cognitive"]["rationale"] == "Because that is how I live."
        assert p.meta["usage"]["completion_tokens"] > 0
    assert {op for op, _, _ in backend.calls} == {"generate"}


def test_logprob_scoring_with_rationale_reasons_first() -> None:
    model, backend = scripted_model(choose=letter_choice({}), write=lambda module, msgs: "I mostly feel content.")
    _, preds = run("valuesim", model, targets=("Q46",), rationale=True)
    ops = [op for op, _, _ in backend.calls]
    assert ops.count("generate") == 3 and ops.count("score") == 3
    scored = [msgs for op, _, msgs in backend.calls if op == "score"][0]
    assert "Your first thoughts: I mostly feel content." in scored[-1].content
    assert preds[0].meta["modules"]["affective"]["rationale"] == "I mostly feel content."


def test_unparseable_answers_become_none_without_stopping_the_run() -> None:
    def write(module: str, msgs) -> str:
        return "Hmm, hard to tell." if "happy" in msgs[-1].content else "A"

    model, _ = scripted_model(write=write)
    _, preds = run("valuesim", model, scoring="generate", modules="plain")
    by_q = {p.question: p for p in preds}
    assert by_q["Q46"].prediction is None and "unparseable" in by_q["Q46"].meta["error"]
    assert by_q["Q57"].prediction == 1 and by_q["Q164"].prediction == 1


def test_one_failed_module_leaves_the_others() -> None:
    def write(module: str, msgs) -> str:
        return "no idea" if module == "cognitive" else "C"

    model, _ = scripted_model(write=write)
    _, preds = run("valuesim", model, targets=("Q46",), scoring="generate")
    assert preds[0].prediction == 3
    assert "error" in preds[0].meta["modules"]["cognitive"]
    assert preds[0].meta["integration"]["unanimous"] is True


def test_model_errors_stop_the_run() -> None:
    model, _ = scripted_model(fail=True)
    m = get_method("valuesim", CB, model=spec_of(model))
    with pytest.raises(ModelError):
        m.predict(task())


def test_batched_targets_one_call_per_module() -> None:
    model, backend = scripted_model(write=lambda module, msgs: "1: B\n2: A\n3: J")
    _, preds = run("valuesim", model, scoring="generate", modules="plain", batch_targets=3)
    assert len(backend.calls) == 1
    assert [p.prediction for p in preds] == [2, 1, 10]
    assert all(p.meta["batch"] == 3 for p in preds)
    assert sum(p.meta["usage"]["llm_calls"] for p in preds) == pytest.approx(1.0, abs=1e-3)


def test_batch_items_missing_from_the_reply_are_asked_again() -> None:
    def write(module: str, msgs) -> str:
        return "1: B" if "Question 1:" in msgs[-1].content else "D"

    model, backend = scripted_model(write=write)
    _, preds = run("valuesim", model, scoring="generate", modules="plain", batch_targets=3)
    assert len(backend.calls) == 3  # one batch call + two single retries
    assert [p.prediction for p in preds] == [2, None, 4]  # Q57 has only two options: "D" is not one
    assert "unparseable" in preds[1].meta["error"]


def test_numeric_target_is_refused_per_prediction() -> None:
    model, _ = scripted_model(choose=letter_choice({}))
    _, preds = run("valuesim", model, targets=("Q46", "Q262"))
    assert preds[0].prediction is not None
    assert preds[1].prediction is None and "numeric" in preds[1].meta["error"]


@pytest.mark.parametrize(
    "options",
    [
        {"integration": "vote"},
        {"modules": "cognitive,intuition"},
        {"story": "poem"},
        {"scoring": "sampling"},
        {"batch_targets": 4, "rationale": True},  # reasons in a batch need scoring=generate
        {"prompt_version": "v99"},
        {"temperature": 0.7},
        {"max_story_words": 5},
    ],
)
def test_bad_options_are_config_errors(options: dict) -> None:
    with pytest.raises(ConfigError):
        get_method("valuesim", CB, model="mock", **options)


def test_usage_accounting_and_config_with_the_mock() -> None:
    m = get_method("valuesim", CB, model="mock", cache=False)
    preds = m.predict(task())
    total = m.usage
    assert total["llm_calls"] == pytest.approx(sum(p.meta["usage"]["llm_calls"] for p in preds))
    assert total["prompt_tokens"] == pytest.approx(sum(p.meta["usage"]["prompt_tokens"] for p in preds))
    cfg = m.config()
    assert cfg["name"] == "valuesim" and cfg["model"] == "mock" and cfg["prompt_version"] == "v4"
    json.dumps(cfg)
    clone = pickle.loads(pickle.dumps(m))
    assert [p.prediction for p in clone.predict(task())] == [p.prediction for p in preds]


def test_narrative_story_usage_is_shared_by_the_unit() -> None:
    m = get_method("valuesim", CB, model="mock", cache=False, story="narrative", modules="plain", max_story_words=100)
    preds = m.predict(task())
    assert m.usage["completion_tokens"] > 0  # the narrative writer generated text
    assert sum(p.meta["usage"]["llm_calls"] for p in preds) == pytest.approx(m.usage["llm_calls"], abs=1e-3)


def test_parsers() -> None:
    letters = list("ABCD")
    assert parse_letter("C. I think so", letters) == ("C", "I think so")
    assert parse_letter("Answer: B", letters)[0] == "B"
    assert parse_letter("I am not sure", letters)[0] is None
    assert parse_letter("A lot of things matter; my answer is D", letters)[0] == "D"
    assert parse_letter("Rather happy, I would say", letters, ["Very happy", "Rather happy"])[0] == "B"
    assert parse_batch("1: A\n2) C - because\nQuestion 3: B", 3, [letters] * 3) == [
        ("A", ""),
        ("C", "because"),
        ("B", ""),
    ]


# --------------------------------------------------------------------------- CLI


def test_cli_ask_hides_the_truth_and_reports_it() -> None:
    runner = CliRunner()
    res = runner.invoke(
        app, ["ask", "--data", "synthetic", "-r", "276070001", "-q", "Q46", "--model", "mock", "--explain"]
    )
    assert res.exit_code == 0, res.output
    assert "Prediction:" in res.output and "Real answer:" in res.output
    assert "cognitive:" in res.output and "affective:" in res.output and "behavioral:" in res.output


def _ask(*extra: str) -> str:
    res = CliRunner().invoke(app, ["ask", "--data", "synthetic", "-r", "276070001", "-q", "Q46", *extra])
    assert res.exit_code == 0, res.output
    return res.output


def test_cli_ask_explain_never_changes_the_prediction() -> None:
    """Same prediction and probability with and without --explain; reasons come afterwards."""
    for model in ("mock", "mock:3"):
        plain = _ask("--model", model)
        explained = _ask("--model", model, "--explain")
        line = next(x for x in plain.splitlines() if x.startswith("Prediction:"))
        assert line in explained.splitlines()
        assert explained.index("Prediction:") < explained.index("Why (")


@pytest.mark.parametrize("version", ["v1", "v2", "v3", "v4"])
def test_explain_asks_after_the_prediction_with_the_same_prompts(version: str) -> None:
    m = get_method("valuesim", CB, model="mock", cache=False, prompt_version=version)
    t = task(("Q46",))
    before = m.predict(t)[0]
    calls = m.usage["llm_calls"]
    reasons = m.explain(t, [before])["Q46"]
    assert set(reasons) == {"cognitive", "affective", "behavioral"}
    assert m.usage["llm_calls"] == calls + 3  # one follow-up per module, nothing else
    after = m.predict(t)[0]
    assert (after.prediction, after.probabilities) == (before.prediction, before.probabilities)


def test_cli_ask_explain_is_readable() -> None:
    out = _ask("--model", "mock", "--explain")
    assert "{" not in out and '"llm_calls"' not in out  # no raw JSON
    assert "integration:" in out and "usage:" in out and " model calls" in out
    usage = next(x for x in out.splitlines() if "usage:" in x)
    assert ".0 " not in usage  # whole counts, not "7.0"


def test_cli_ask_profile_item_is_not_a_target() -> None:
    res = CliRunner().invoke(app, ["ask", "--data", "synthetic", "-r", "276070001", "-q", "Q262", "--model", "mock"])
    assert res.exit_code != 0 and isinstance(res.exception, ConfigError)
    assert "profile item" in res.exception.message and "not a prediction target" in res.exception.message


def test_cli_ask_notes_the_embedded_smoke_test_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """--model local prints the smoke-test note (the embedded model is replaced by mock here)."""
    from valuesim.llm import get_model
    from valuesim.methods import llm_methods

    monkeypatch.setattr(llm_methods, "get_model", lambda spec, **kw: get_model("mock", **kw))
    assert "smoke-test model" in _ask("--model", "local")
    assert "smoke-test model" not in _ask("--model", "mock")


def test_cli_ask_unknown_question() -> None:
    res = CliRunner().invoke(app, ["ask", "--data", "synthetic", "-r", "276070001", "-q", "Q999", "--model", "mock"])
    assert res.exit_code != 0
    assert isinstance(res.exception, UnknownQuestionError)


def test_cli_backstory_writes_json(tmp_path) -> None:
    out = tmp_path / "story.json"
    res = CliRunner().invoke(
        app, ["backstory", "--data", "synthetic", "-r", "276070001", "--max-words", "300", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["respondent"] == "276070001" and data["synthetic"] is True
    assert data["meta"]["words"] <= 300 and data["text"].startswith("Demographics:")
    res = CliRunner().invoke(app, ["backstory", "--data", "synthetic", "-r", "276070001", "--style", "narrative"])
    assert isinstance(res.exception, ConfigError)
    args = ["backstory", "--data", "synthetic", "-r", "276070001", "--style", "dense", "--max-tokens", "120"]
    res = CliRunner().invoke(app, [*args, "--model", "mock", "--out", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["meta"]["style"] == "dense" and data["meta"]["tokens"] <= 120  # mock tokens: characters / 4
    res = CliRunner().invoke(app, [*args[:5], "--style", "narrative", "--max-tokens", "120", "--model", "mock"])
    assert isinstance(res.exception, ConfigError)


def test_cli_backstory_target_shows_the_shared_story_and_each_target_s_own_answers(tmp_path) -> None:
    out = tmp_path / "parts.json"
    args = ["backstory", "--data", "synthetic", "-r", "276070001", "--style", "dense", "--max-tokens", "400"]
    res = CliRunner().invoke(app, [*args, "--model", "mock", "--target", "Q46,Q164", "--out", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert set(data["targets"]) == {"Q46", "Q164"}
    for part in data["targets"].values():
        assert part["lines"] and part["history"]["selection"] == "relevance" and part["history"]["k"] == 20
    assert data["targets"]["Q46"]["lines"] != data["targets"]["Q164"]["lines"]
    assert "Q46" not in data["meta"]["qids_stated"] and "Q164" not in data["meta"]["qids_stated"]  # hidden
    assert data["meta"]["tokens"] <= 200  # the shared half of the budget
    res = CliRunner().invoke(app, [*args, "--model", "mock", "--target", "Q260"])
    assert isinstance(res.exception, ConfigError) and "profile item" in res.exception.message


def test_scored_batches_answer_k_targets_per_module_call() -> None:
    m = get_method("valuesim", CB, model="mock", cache=False, batch_targets=3, integration="pool")
    preds = m.predict(task())
    assert all(p.prediction is not None and p.probabilities for p in preds)
    assert m.usage["llm_calls"] == 3  # one scored call per module for the three targets
    for p in preds:
        assert p.meta["batch"] == 3 and abs(sum(p.probabilities.values()) - 1) < 1e-6
        assert p.meta["usage"]["llm_calls"] == pytest.approx(1.0)


def test_story_budget_is_in_tokens_of_the_reading_model() -> None:
    m = get_method("valuesim", CB, model="mock", cache=False, story_tokens=40, integration="pool")
    preds = m.predict(task())
    story = preds[0].meta["story"]
    assert story["style"] == "dense" and story["tokens"] <= 40  # mock tokens: characters / 4
    full = get_method("valuesim", CB, model="mock", cache=False, story_tokens=None, integration="pool")
    assert full.predict(task())[0].meta["story"]["n_facts"] > story["n_facts"]


def test_prompt_versions_hold_only_what_they_change() -> None:
    from valuesim.methods.prompts import has, render, resolve, versions

    assert versions()[:4] == ["v1", "v2", "v3", "v4"]
    assert resolve("cognitive", "v3") == "cognitive.v3"
    assert resolve("persona", "v3") == "persona.v2"  # unchanged in v3: the newest earlier file
    assert render("persona", "v3", backstory="X") == render("persona", "v2", backstory="X")
    assert has("coordinator_system", "v2") and not has("coordinator_system", "v1")
    assert resolve("cognitive", "v99") is None
    with pytest.raises(ConfigError, match="v99"):
        render("cognitive", "v99")
    # v3 says each module's side in a few words (fewer tokens computed per module)
    v2 = render("cognitive", "v2", questions=[], context=[], mode="letter", batch=False, reasoning="")
    v3 = render("cognitive", "v3", questions=[], context=[], mode="letter", batch=False, reasoning="")
    assert "Answer from your beliefs." in v3 and len(v3) < len(v2)


def test_timeout_and_retries_reach_the_model_but_not_the_run_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    from valuesim.methods import llm_methods

    seen: dict[str, object] = {}

    def spy(spec: str, **kw: object):
        seen.update(kw)
        return get_model("mock", cache=False)

    monkeypatch.setattr(llm_methods, "get_model", spy)
    m = get_method("valuesim", CB, model="mock", timeout=300, max_retries=1)
    m.predict(task(("Q46",)))
    assert seen["timeout"] == 300 and seen["max_retries"] == 1
    assert m.config() == get_method("valuesim", CB, model="mock").config()  # resumable with other settings
    with pytest.raises(ConfigError):
        get_method("valuesim", CB, model="mock", timeout=0)


def test_default_prompts_end_with_the_answer_instruction_on_its_own_line() -> None:
    """v2/v3 glued the module cue to the answer instruction ("...only.Answer from ..."); from v4
    the instruction is the last line of every module and coordinator prompt."""
    from valuesim.methods.prompts import render

    default = get_method("valuesim", CB, model="mock").opts.prompt_version
    q = [{"text": "Q?", "options": ["A. x", "B. y"]}]
    views = [{"module": "cognitive", "letter": "A", "confidence": 0.5, "rationale": ""}]
    for name in ("cognitive", "affective", "behavioral", "plain", "coordinator"):
        text = render(name, default, questions=q, context=[], mode="letter", batch=False, reasoning="", views=views)
        lines = text.splitlines()
        assert lines[-1] == "Reply with the letter of your answer only.", (name, text)
        assert all(not line.endswith(".Answer from") for line in lines)


# --------------------------------------------------------------------------- failed requests


@pytest.mark.parametrize("batch", [1, 2])
def test_a_failed_request_costs_only_the_targets_that_needed_it(tmp_path, batch: int) -> None:
    """A request that fails after its retries fails its targets (one, or its batch); the others are
    answered, and their calls stay in the cache: a rerun on a healthy server asks only the rest."""
    from valuesim._aio import run_sync
    from valuesim.llm import Model
    from valuesim.llm.backends.base import TransientError
    from valuesim.llm.backends.mock import MockBackend
    from valuesim.llm.cache import CachePolicy
    from valuesim.llm.model import open_cache
    from valuesim.methods import apredict_task, hide_targets

    down = "Question: " + CB.get("Q164").short  # requests about Q164 fail

    class Flaky(MockBackend):
        healthy = False

        async def score_choices(self, messages, options, config):  # type: ignore[no-untyped-def]
            if not self.healthy and any(down in m.content for m in messages):
                raise TransientError("HTTP 503: overloaded")
            return await super().score_choices(messages, options, config)

        async def score_batch(self, messages, options, config):  # type: ignore[no-untyped-def]
            if not self.healthy and any(down in m.content for m in messages):
                raise TransientError("HTTP 503: overloaded")
            return await super().score_batch(messages, options, config)

    backend = Flaky()
    cache = open_cache(CachePolicy(directory=tmp_path / "cache"))
    model = Model(backend, cache=cache, max_retries=0)
    m = get_method("valuesim", CB, model=spec_of(model), batch_targets=batch)
    task = hide_targets(person(), TARGETS)
    outcome = run_sync(lambda: apredict_task(m, task))
    lost = {"Q164"}  # batch 2: Q164 is alone in the second batch
    assert set(outcome.failed) == lost and "HTTP 503" in outcome.failed["Q164"].message
    assert [p.question for p in outcome.predictions] == [q for q in TARGETS if q not in lost]
    assert all(p.prediction is not None for p in outcome.predictions)
    with pytest.raises(Exception) as err:  # the method itself reports the partial result
        m.predict(task)
    assert type(err.value).__name__ == "TargetsFailedError" and len(err.value.predictions) == 2  # type: ignore[attr-defined]

    backend.healthy = True
    model.reset_usage()
    healed = run_sync(lambda: apredict_task(m, task))
    assert not healed.failed and [p.question for p in healed.predictions] == list(TARGETS)
    assert [p.prediction for p in healed.predictions[:2]] == [p.prediction for p in outcome.predictions]
    usage = model.reset_usage()
    assert usage.cache_hits >= 2 and usage.calls >= 1  # the answered requests came from the cache


def test_the_model_is_a_spec_not_a_live_object() -> None:
    """An LLM method builds its model from its options (a spec string), as every entry point
    does: a live Model handed in is refused with the option's message, not used."""
    from valuesim.llm import get_model

    for name in ("valuesim", "hybrid"):
        with pytest.raises(ConfigError, match="model"):
            get_method(name, CB, model=get_model("mock"))
    m = get_method("valuesim", CB, model="mock", cache=False)
    assert m.model.spec == "mock" and m.config()["model"] == "mock"
