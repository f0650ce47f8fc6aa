"""kill -9 of a real `valuesim bench` process after thousands of predictions, then resume:
identical predictions, none twice (issue 11, acceptance)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import run_cli

from valuesim.bench import rundir

BENCH = ["bench", "--data", "synthetic:600", "--method", "country-majority", "-n", "120", "--n-boot", "20"]
KILL_AFTER = 5000  # predictions on disk before the kill


def _lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_kill_9_after_thousands_of_predictions_then_resume(tmp_path, monkeypatch, capsys):
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "VALUESIM_NO_PROGRESS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "valuesim", *BENCH, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    pred = out / rundir.PREDICTIONS_FILE
    deadline = time.monotonic() + 240
    while _lines(pred) < KILL_AFTER and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed: the test would prove nothing"
    at_kill = _lines(pred)
    assert at_kill >= KILL_AFTER and not (out / rundir.METRICS_FILE).exists()

    resumed = run_cli(monkeypatch, capsys, *BENCH, "--out", str(out))
    assert resumed.code == 0, resumed.text
    assert "resuming" in resumed.err and "took over from PID" in resumed.err

    clean = tmp_path / "clean"
    reference = run_cli(monkeypatch, capsys, *BENCH, "--out", str(clean))
    assert reference.code == 0, reference.text

    rows = [json.loads(line) for line in pred.read_text().splitlines()]
    keys = [(r["respondent"], r["question"], r["fold"], r["condition"]) for r in rows]
    split = json.loads((out / rundir.SPLIT_FILE).read_text())
    assert len(keys) == len(set(keys)) == sum(len(u["targets"]) for u in split["units"]) > 4 * KILL_AFTER
    assert pred.read_bytes() == (clean / rundir.PREDICTIONS_FILE).read_bytes()
    m_killed = json.loads((out / rundir.METRICS_FILE).read_text())
    m_clean = json.loads((clean / rundir.METRICS_FILE).read_text())
    for name in ("top1", "nmae", "within1", "n_predictions"):
        assert m_killed[name] == m_clean[name], name
