"""`valuesim llm check` and `valuesim llm cache` (registered on a private Typer app)."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from valuesim.cli.llm import register
from valuesim.llm import get_model


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:  # a group, so `llm` stays a sub-command
        pass

    register(app)
    return app


def test_check_reports_generation_and_choice_scores() -> None:
    result = CliRunner().invoke(_app(), ["llm", "check", "--model", "mock"])
    assert result.exit_code == 0, result.output
    assert "choice probs (A, B)" in result.output and "logprobs" in result.output and "'calls': 2" in result.output


def test_cache_info_and_clear(tmp_path: Path) -> None:
    get_model("mock", cache=tmp_path).generate_sync("hello")
    runner = CliRunner()
    info = runner.invoke(_app(), ["llm", "cache", "--dir", str(tmp_path)])
    assert info.exit_code == 0 and "1 cached responses" in info.output
    cleared = runner.invoke(_app(), ["llm", "cache", "--dir", str(tmp_path), "--clear"])
    assert cleared.exit_code == 0 and "Cleared 1" in cleared.output
    assert len(get_model("mock", cache=tmp_path).cache) == 0
