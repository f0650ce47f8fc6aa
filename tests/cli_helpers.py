"""Run the `valuesim` console entry point in this process, as a user would (exit code + output).

``valuesim.cli.main`` is what the installed script calls: user errors (and operating-system
errors) become a message, a hint and exit code 2. An exception that escapes it would be a
traceback for the user; here it propagates and fails the test.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    from valuesim.cli import main

    capsys.readouterr()  # drop earlier output
    monkeypatch.setattr(sys, "argv", ["valuesim", *args])
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)
