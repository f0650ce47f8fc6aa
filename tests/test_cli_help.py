"""Help screens of every command: flags take no value, usage names arguments plainly,
markup does not eat text, defaults are stated; mistyped names get a "did you mean"."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from valuesim.cli import app
from valuesim.errors import ConfigError, UnknownQuestionError
from valuesim.methods import get_method
from valuesim.survey import load_codebook


def _commands(cmd: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [path]
    if hasattr(cmd, "commands"):  # a group (typer's own click or the real one)
        for name, sub in cmd.commands.items():
            out += _commands(sub, (*path, name))
    return out


ALL = _commands(typer.main.get_command(app))


def _help(path: tuple[str, ...]) -> str:
    res = CliRunner().invoke(app, [*path, "--help"], terminal_width=200, env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return res.output


@pytest.mark.parametrize("path", ALL, ids=lambda p: " ".join(p) or "valuesim")
def test_help_renders_cleanly(path: tuple[str, ...]) -> None:
    text = _help(path)
    assert "<bool>" not in text  # a flag takes no value
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert not re.search(r"\{\w+\}", usage), usage  # PATH, not {path}
    assert "( )" not in text and "extra )" not in text  # no [..] eaten by markup


def test_specific_help_texts() -> None:
    assert "valuesim[dist]" in _help(("bench",))
    ask = _help(("ask",))
    assert "smoke-test model" in ask  # --model states its default
    assert "default: (local, the embedded" in _help(("bench",))
    assert "never changes the answer" in ask
    summary = _help(("data", "summary"))
    assert "--data" in summary and "PATH" in summary


def test_did_you_mean_for_methods_and_questions() -> None:
    cb = load_codebook()
    with pytest.raises(ConfigError) as e:
        get_method("knnn", cb)
    assert "Did you mean 'knn'?" in (e.value.hint or "")
    with pytest.raises(ConfigError) as e:
        get_method("country_majority", cb)
    assert "'country-majority'" in (e.value.hint or "")
    with pytest.raises(UnknownQuestionError) as q:
        cb.get("46")
    assert "Did you mean 'Q46'?" in (q.value.hint or "")
    with pytest.raises(UnknownQuestionError) as q:
        cb.get("Q46x")
    assert "'Q46'" in (q.value.hint or "")


def test_cli_method_typo_suggests() -> None:
    res = CliRunner().invoke(app, ["bench", "--data", "synthetic:40", "--method", "majorty", "--out", "unused"])
    assert res.exit_code != 0 and "Did you mean 'majority'" in (res.exception.hint or "")  # type: ignore[union-attr]
