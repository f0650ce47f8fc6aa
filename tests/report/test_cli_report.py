"""`valuesim report` on the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from valuesim.cli import app, main

runner = CliRunner()


def test_report_command_writes_html_and_markdown(report_runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "rep"
    result = runner.invoke(
        app,
        [
            "report",
            str(report_runs["majority"]),
            str(report_runs["knn"]),
            "--out",
            str(out),
            "--reference",
            "knn",
            "--title",
            "Baselines",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "reference knn" in result.stdout
    assert (out / "report.html").exists() and (out / "report.md").exists()
    assert "[SYNTHETIC] Baselines" in (out / "report.md").read_text("utf-8")


def test_report_user_errors_print_message_and_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["valuesim", "report", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = " ".join(capsys.readouterr().err.split())  # the console wraps long lines
    assert "does not exist" in err and "Hint:" in err and "Traceback" not in err


def test_report_requires_out(report_runs: dict[str, Path]) -> None:
    result = runner.invoke(app, ["report", str(report_runs["knn"])])
    assert result.exit_code != 0


def test_report_prints_absolute_paths_like_the_demo(
    report_runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["report", str(report_runs["knn"]), "--out", "rel"])
    assert result.exit_code == 0, result.output
    assert str((tmp_path / "rel" / "report.html").resolve()) in result.stdout.replace("\n", "")
