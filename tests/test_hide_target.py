"""No entry point ever shows a method (or a prompt) the answer it predicts.

Every entry point that predicts -- ``valuesim ask``, the viewer's Ask, ``bench`` and
``simulate`` -- builds its task with :func:`valuesim.methods.hide_targets`. The spies here
record every task a method gets and every prompt a model gets, and check, per entry point:

* the task's person holds neither the target's answer nor its missing status;
* the prompts are byte-identical whatever the person's real answer to the target is (two
  different codes, and a "don't know"): no phrasing of it -- the option label, the code, the
  story sentence -- can reach the model;
* the target's story sentence is in no prompt, while the same spy does find it when a task is
  built without hiding (so the check can fail).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli
from model_specs import spec_of

from valuesim.errors import ConfigError
from valuesim.llm import Model
from valuesim.llm.backends.mock import MockBackend
from valuesim.methods import Task, get_method
from valuesim.methods.story import build_backstory, phrase_for
from valuesim.survey.dataset import SurveyData

TARGET = "Q46"  # Feeling of happiness: 1 Very happy ... 4 Not at all happy


class SpyBackend(MockBackend):
    """The mock model, recording the text of every request."""

    def __init__(self) -> None:
        super().__init__(0)
        self.prompts: list[str] = []

    def _log(self, messages: Any) -> None:
        self.prompts.append("\n".join(f"{m.role}: {m.content}" for m in messages))

    async def generate(self, messages: Any, config: Any) -> Any:
        self._log(messages)
        return await super().generate(messages, config)

    async def score_choices(self, messages: Any, options: Any, config: Any) -> Any:
        self._log(messages)
        return await super().score_choices(messages, options, config)

    async def score_batch(self, messages: Any, options: Any, config: Any) -> Any:
        self._log(messages)
        return await super().score_batch(messages, options, config)


def spy_model() -> tuple[Model, SpyBackend]:
    backend = SpyBackend()
    return Model(backend, cache=None), backend


@pytest.fixture
def spied(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[SpyBackend]]:
    """Every model an LLM method builds from its spec is a spy (the CLI builds its own)."""
    made: list[SpyBackend] = []

    def fake_get_model(spec: str, **kw: Any) -> Model:
        model, backend = spy_model()
        made.append(backend)
        return model

    monkeypatch.setattr("valuesim.methods.llm_methods.get_model", fake_get_model)
    yield made


def variant(data: SurveyData, rid: str, code: int) -> SurveyData:
    """*data* with respondent *rid*'s answer to the target set to *code* (-1: don't know)."""
    frame = data.frame.copy()
    frame.loc[rid, TARGET] = code
    return SurveyData(frame=frame, codebook=data.codebook, source=data.source, version=data.version, synthetic=True)


def someone(data: SurveyData) -> str:
    return next(str(i) for i in data.frame.index if int(data.frame.loc[i, TARGET]) > 0)


def story_sentence(data: SurveyData, rid: str, code: int) -> str:
    person = data.respondent(rid)
    fact = phrase_for(data.codebook, TARGET, code, None)
    assert fact is not None
    del person
    return fact.sentence


def assert_hidden(prompts_by_code: dict[int, list[str]], sentences: dict[int, str]) -> None:
    runs = list(prompts_by_code.values())
    assert runs[0], "the spy saw no request"
    for other in runs[1:]:
        assert sorted(other) == sorted(runs[0]), "a prompt changed with the person's answer to the target"
    for code, prompts in prompts_by_code.items():
        if code in sentences:
            assert not any(sentences[code] in p for p in prompts), f"the story sentence of code {code} reached a prompt"


# --------------------------------------------------------------------------- the spy can catch a leak


def test_a_task_that_does_not_hide_the_answer_is_refused_before_any_request(synthetic_data: SurveyData) -> None:
    rid = someone(synthetic_data)
    data = variant(synthetic_data, rid, 4)
    model, spy = spy_model()
    method = get_method("valuesim", data.codebook, model=spec_of(model), story="facts")
    person = data.respondent(rid)
    with pytest.raises(ConfigError, match="holds the answer"):
        method.predict(Task(person, (TARGET,)))  # NOT hidden: what the old `ask` did
    assert not spy.prompts
    # the needle the spies look for is real: the unhidden record's story states it
    story = build_backstory(person, data.codebook, style="facts", max_words=None)
    assert story_sentence(data, rid, 4) in story.text


# --------------------------------------------------------------------------- valuesim ask


@pytest.mark.parametrize("story", ["facts", "dense", "raw"])
def test_ask_never_shows_the_answer(
    story: str, synthetic_data: SurveyData, wvs_csv: Any, spied: list[SpyBackend], monkeypatch: Any, capsys: Any
) -> None:
    rid = someone(synthetic_data)
    prompts: dict[int, list[str]] = {}
    for code in (1, 4, -1):
        path = wvs_csv(f"v{code}.csv", data=variant(synthetic_data, rid, code))
        loaded = __import__("valuesim.survey", fromlist=["load_survey"]).load_survey(path)
        person_id = loaded.ids[list(synthetic_data.ids).index(rid)]
        before = len(spied)
        res = run_cli(
            monkeypatch, capsys, "ask", "--data", str(path), "-r", person_id, "-q", TARGET,
            "--model", "mock", "-o", f"story={story}", "-o", "story_tokens=0",
        )  # fmt: skip
        assert res.code == 0, res.text
        assert len(spied) == before + 1
        prompts[code] = spied[-1].prompts
        if code > 0:
            assert "Real answer:" in res.out  # the truth is shown next to the prediction, after it
    assert_hidden(prompts, {c: story_sentence(synthetic_data, rid, c) for c in (1, 4)})


# --------------------------------------------------------------------------- the viewer's Ask


def test_viewer_ask_never_shows_the_answer(synthetic_data: SurveyData, spied: list[SpyBackend]) -> None:
    from valuesim.view.ask import AskRunner

    rid = someone(synthetic_data)
    prompts: dict[int, list[str]] = {}
    for code in (1, 4, -1):
        before = len(spied)
        runner = AskRunner(variant(synthetic_data, rid, code), {"model": "mock"})
        try:
            job = runner.submit(rid, TARGET, "valuesim")
            for _ in range(600):
                if job.status in ("done", "failed"):
                    break
                time.sleep(0.05)
            assert job.status == "done", (job.error, job.hint)
        finally:
            runner.close()
        assert len(spied) == before + 1  # the method built its model from the spec: a spy
        prompts[code] = spied[-1].prompts
    assert_hidden(prompts, {c: story_sentence(synthetic_data, rid, c) for c in (1, 4)})


# --------------------------------------------------------------------------- bench


def test_bench_never_shows_the_answers(synthetic_data: SurveyData, tmp_path: Path) -> None:
    from valuesim.bench.protocol import ProtocolConfig, build_units
    from valuesim.bench.runner import RunConfig, run_benchmark

    cfg = RunConfig(
        protocol=ProtocolConfig(n_respondents=3, seed=3, only_folds=(0,), max_targets=4, min_valid=50),
        n_boot=10,
        command="test",
    )
    split = build_units(synthetic_data, cfg.protocol)
    prompts: dict[int, list[str]] = {}
    for shift in (0, 1):
        frame = synthetic_data.frame.copy()
        for u in split.units:  # every target of every unit gets another valid code
            for q in u.targets:
                codes = [c for c in synthetic_data.codebook.get(q).codes if c > 0]
                old = int(frame.loc[u.respondent, q])
                frame.loc[u.respondent, q] = codes[(codes.index(old) + shift) % len(codes)]
        data = SurveyData(frame=frame, codebook=synthetic_data.codebook, source="t", version="t", synthetic=True)
        model, spy = spy_model()
        method = get_method("valuesim", data.codebook, model=spec_of(model), story="facts")
        tasks: list[Task] = []
        apredict = method.apredict

        async def spy_apredict(task: Task, apredict: Any = apredict, tasks: list[Task] = tasks) -> Any:
            tasks.append(task)
            return await apredict(task)

        method.apredict = spy_apredict  # type: ignore[method-assign]
        run_benchmark(data, method, cfg, tmp_path / f"run{shift}", progress=False)
        assert tasks
        for t in tasks:
            known = set(t.respondent.answers) | set(t.respondent.missing)
            assert not known & set(t.targets), "a target reached the method"
            for q in t.targets:  # no phrasing of the truth in the prompts
                fact = phrase_for(data.codebook, q, int(data.frame.loc[t.respondent.id, q]), None)
                assert fact is None or not any(fact.sentence in p for p in spy.prompts)
        prompts[shift] = spy.prompts
    assert sorted(prompts[0]) == sorted(prompts[1]), "a prompt changed with the answers to the targets"


# --------------------------------------------------------------------------- simulate


def test_simulate_tasks_hide_the_asked_questions(synthetic_data: SurveyData, tmp_path: Path) -> None:
    from valuesim.bench.simulate import SimulationConfig, run_simulation
    from valuesim.survey.questionnaire import extend_codebook, inline_question

    q = inline_question("Do you like tea?", "Yes|No", synthetic_data.codebook, qid="TEA", ordered=True)
    book = extend_codebook(synthetic_data.codebook, [q])
    model, _ = spy_model()
    method = get_method("valuesim", book, model=spec_of(model))
    tasks: list[Task] = []
    apredict = method.apredict

    async def spy_apredict(task: Task) -> Any:
        tasks.append(task)
        return await apredict(task)

    method.apredict = spy_apredict  # type: ignore[method-assign]
    run_simulation(
        synthetic_data,
        method,
        SimulationConfig(questions=(q,), n_respondents=3, min_valid=50),
        tmp_path / "sim",
        progress=False,
    )
    assert len(tasks) == 3
    for t in tasks:
        assert t.targets == ("TEA",)
        assert "TEA" not in t.respondent.answers and "TEA" not in t.respondent.missing


def test_hide_targets_refuses_question_objects(synthetic_data: SurveyData) -> None:
    from valuesim.methods import hide_targets

    person = synthetic_data.respondent(someone(synthetic_data))
    with pytest.raises(TypeError, match="question ids"):
        hide_targets(person, [synthetic_data.codebook.get(TARGET)])  # type: ignore[list-item]
    task = hide_targets(person, [TARGET])
    assert TARGET not in task.respondent.answers and task.targets == (TARGET,)
