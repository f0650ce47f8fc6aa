"""The viewer's Ask offers every method whose class declares it can: a plug-in LLM method too.

Which methods Ask accepts is derived from the registry (``uses_llm`` and no fit on other
respondents), never a typed list; the method is built by name with the model options of the
command line (``--model mock``), like `valuesim ask` builds it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from starlette.testclient import TestClient

from valuesim.llm import get_model
from valuesim.methods import Method, Prediction, Task, base, method_infos, register
from valuesim.methods.llm_methods import LLMOptions
from valuesim.survey import SurveyData
from valuesim.view import RunStore, create_app
from valuesim.view.ask import ask_methods

PLUGIN = "test-plugin-oracle-of-doubt"


class DoubtfulLLM(Method):
    """A plug-in LLM method: asks its model (built from the ``model`` option) to score the
    options and answers the one it finds least likely."""

    uses_llm: ClassVar[bool] = True
    Options = LLMOptions
    built_with: ClassVar[list[str]] = []

    async def apredict(self, task: Task) -> list[Prediction]:
        model = get_model(self.opts.model, cache=self.opts.cache)
        type(self).built_with.append(self.opts.model)
        out = []
        for qid in task.targets:
            q = self.codebook.get(qid)
            codes = list(q.answer_codes)
            scored = await model.score_choices(q.text, [q.label(c) for c in codes])
            least = min(range(len(codes)), key=scored.probs.__getitem__)
            probs = {c: p for c, p in zip(codes, scored.probs, strict=True)}
            out.append(
                Prediction(task.respondent.id, qid, task.fold, codes[least], probs, task.condition, {"doubt": True})
            )
        return out

    def explain(self, task: Task, predictions: Sequence[Prediction]) -> dict[str, dict[str, str]]:
        return {}


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch) -> Any:
    method_infos()  # the built-in methods first, so the copy below holds them
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))  # the registration ends with the test
    DoubtfulLLM.built_with.clear()
    return register(PLUGIN, "a plug-in LLM method of the test")(DoubtfulLLM)


def test_ask_methods_come_from_the_registry(plugin: Any) -> None:
    names = ask_methods()
    assert names[0] == "valuesim" and PLUGIN in names
    # every LLM method that answers from the person alone; not the trained ones, not the hybrid (it fits)
    assert {"blank", "demographics", "full-info", "rag"} <= set(names)
    assert not {"hybrid", "knn", "supervised", "uniform", "item-transfer"} & set(names)


def test_viewer_ask_runs_a_plugin_llm_method(
    plugin: Any, view_runs: dict[str, Path], view_survey: SurveyData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VALUESIM_CACHE_DIR", str(tmp_path / "cache"))
    store = RunStore([view_runs["knn"]], view_survey.codebook)
    c = TestClient(create_app(store, survey=view_survey, model_options={"model": "mock", "cache": False}))
    try:
        page = c.get("/ask")
        assert page.status_code == 200 and f"<option >{PLUGIN}</option>" in page.text.replace("<option>", "<option >")
        rid = view_survey.ids[0]
        r = c.post("/ask", data={"person": rid, "question": "Q46", "method": PLUGIN}, follow_redirects=False)
        assert r.status_code == 303, r.text
        for _ in range(300):
            job = c.get(r.headers["location"])
            if 'data-status="done"' in job.text or 'data-status="failed"' in job.text:
                break
            time.sleep(0.05)
        assert 'data-status="done"' in job.text, job.text
        assert DoubtfulLLM.built_with == ["mock"]  # the model option reached the plug-in, by spec
        done = c.app.state.view.asker.jobs  # type: ignore[attr-defined]
        (only,) = done.values()
        assert only.method == PLUGIN and only.prediction is not None and only.prediction["meta"] == {"doubt": True}
        # an unknown method is still refused, naming what Ask offers (the plug-in among them)
        bad = c.post("/ask", data={"person": rid, "question": "Q46", "method": "no-such-method"})
        assert bad.status_code == 400 and PLUGIN in bad.text
    finally:
        c.app.state.view.asker.close()  # type: ignore[attr-defined]
