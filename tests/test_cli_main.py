"""The CLI entry point: version, help, and user errors printed without a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from valuesim import __version__
from valuesim.cli import app, main
from valuesim.errors import DataError


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_user_error_is_message_and_hint_not_traceback(monkeypatch, capsys) -> None:
    def boom() -> None:
        raise DataError("No file at /nowhere.csv.", "Check the path.")

    monkeypatch.setattr("valuesim.cli.app", boom)
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "No file at /nowhere.csv." in err
    assert "Check the path." in err
    assert "Traceback" not in err


def test_module_entry_point_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "valuesim", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "valuesim" in out.stdout.lower()


def test_errors_keep_their_hint_across_pickling() -> None:
    import pickle

    from valuesim.errors import UnknownQuestionError

    e = pickle.loads(pickle.dumps(UnknownQuestionError("Unknown question id 'Q999'.", "Use Q1-Q290.")))
    assert isinstance(e, UnknownQuestionError)
    assert (e.message, e.hint) == ("Unknown question id 'Q999'.", "Use Q1-Q290.")
