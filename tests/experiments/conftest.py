"""Fixtures for the experiments stage: each test's LLM cache lives in its own directory."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALUESIM_CACHE_DIR", str(tmp_path / "cache"))
