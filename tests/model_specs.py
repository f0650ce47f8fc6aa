"""Models a test builds itself, reached through the spec path like a user's ``--model``.

An LLM method builds its model from its ``model`` option (a spec string), never from a live
object handed to it. A test that needs a model it scripted (a fake backend, a spy, a flaky
server) registers it and passes the spec it gets back: ``get_method("valuesim", cb,
model=spec_of(model))``. ``tests/conftest.py`` routes these specs to the registered models (and
every other spec to the real ``get_model``); the registry is emptied after each test.
"""

from __future__ import annotations

from typing import Any

#: spec -> the Model a test registered under it
TEST_MODELS: dict[str, Any] = {}


def spec_of(model: Any) -> str:
    """Register *model* (a :class:`valuesim.llm.Model`) and return the spec that reaches it."""
    spec = f"test:{len(TEST_MODELS)}"
    TEST_MODELS[spec] = model
    return spec
