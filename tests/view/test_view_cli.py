"""`valuesim view` on the command line: bad arguments exit 2 with a message, a real server answers."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from valuesim.cli import app
from valuesim.cli.view import is_loopback


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "valuesim", "view", *args], capture_output=True, text=True, timeout=120, check=False
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _clean_error(res: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    for n in needles:
        assert n in res.stderr, res.stderr


def test_a_path_that_is_not_a_run(tmp_path: Path) -> None:
    _clean_error(_cli(str(tmp_path)), "not a `valuesim bench` output directory")
    _clean_error(_cli(str(tmp_path / "missing")), "does not exist")


def test_nothing_to_view() -> None:
    _clean_error(_cli(), "Nothing to view")


def test_unknown_model(view_runs: dict[str, Path]) -> None:
    _clean_error(_cli(str(view_runs["knn"]), "--model", "gpt-17"), "Unknown model spec")


def test_port_in_use(view_runs: dict[str, Path]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        _clean_error(_cli(str(view_runs["knn"]), "--port", str(port)), f"Port {port}", "already in use")
    _clean_error(_cli(str(view_runs["knn"]), "--port", "70000"), "is not a TCP port")


def test_loopback_by_default_and_a_warning_otherwise(
    view_runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import valuesim.cli.view as view_cli

    served: list[tuple[str, int]] = []
    monkeypatch.setattr(view_cli, "serve", lambda app_, sock: served.append(sock.getsockname()[:2]))
    runner = CliRunner()
    res = runner.invoke(app, ["view", str(view_runs["knn"]), "--port", "0"])
    assert res.exit_code == 0, res.output
    assert served[-1][0] == "127.0.0.1"
    assert "no authentication" not in res.output
    res = runner.invoke(app, ["view", str(view_runs["knn"]), "--port", "0", "--host", "0.0.0.0"])
    assert res.exit_code == 0, res.output
    assert served[-1][0] == "0.0.0.0"
    assert "Warning" in res.output and "no authentication" in res.output
    # it says what it exposes and that the Host check (against DNS rebinding) is off
    flat = " ".join(res.output.split())
    assert "every person's record and answers" in flat and "Host-header check" in flat and "is off" in flat
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")
