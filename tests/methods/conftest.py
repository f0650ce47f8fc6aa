"""Fixtures for the methods stage: private cache dirs and small synthetic survey data."""

from __future__ import annotations

from pathlib import Path

import pytest

from valuesim.survey import SurveyData, generate_synthetic


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The LLM cache and the backstory store live in this test's own directory."""
    monkeypatch.setenv("VALUESIM_CACHE_DIR", str(tmp_path / "cache"))
    from valuesim.methods.story import store

    store._STORES.clear()


@pytest.fixture(scope="session")
def synth() -> SurveyData:
    return generate_synthetic(n=40, seed=11)
