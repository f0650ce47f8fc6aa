"""The run directory on disk: one writer at a time (OS lock), atomic files with unique temporary
names, damaged files reported clearly (issue 11, findings 2 and 4)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from bench_data import make_survey

from valuesim.bench import rundir
from valuesim.bench.config import RunConfig
from valuesim.bench.protocol import ProtocolConfig
from valuesim.bench.runner import run_benchmark
from valuesim.errors import DataError, RunLockedError
from valuesim.methods.base import get_method

CFG = RunConfig(protocol=ProtocolConfig(n_respondents=4, seed=1), n_boot=10, command="test")

HOLD_LOCK = textwrap.dedent(
    """
    import sys, time
    from valuesim.bench.rundir import RunLock
    lock = RunLock(sys.argv[1]).acquire()
    print("locked", flush=True)
    time.sleep(120)
    """
)


@pytest.fixture(scope="module")
def data():
    return make_survey(60, seed=5)


def _holder(directory: Path) -> subprocess.Popen[str]:
    """Another process that takes the directory's lock and keeps it (until killed)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(directory)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_second_lock_in_one_process_is_refused_with_the_pid(tmp_path):
    with rundir.RunLock(tmp_path / "r"), pytest.raises(RunLockedError) as err:
        rundir.RunLock(tmp_path / "r").acquire()
    assert f"PID {os.getpid()}" in err.value.message and "another --out" in (err.value.hint or "")
    with rundir.RunLock(tmp_path / "r") as again:  # released: free for the next writer
        assert again.took_over is None


def test_a_run_is_refused_while_another_process_writes_the_directory(tmp_path, data):
    out = tmp_path / "run"
    holder = _holder(out)
    try:
        with pytest.raises(RunLockedError, match=f"PID {holder.pid}"):
            run_benchmark(data, get_method("majority", data.codebook), CFG, out, progress=False)
        assert not (out / rundir.SPLIT_FILE).exists()  # nothing was touched
    finally:
        holder.kill()
        holder.wait()


def test_lock_of_a_killed_process_is_taken_over(tmp_path, data):
    out = tmp_path / "run"
    holder = _holder(out)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    said: list[str] = []
    res = run_benchmark(data, get_method("majority", data.codebook), CFG, out, progress=False, log=said.append)
    assert res.complete
    assert any(f"took over from PID {holder.pid}" in line for line in said)
    # a run that ended normally leaves no holder behind
    assert (out / rundir.LOCK_FILE).read_text() == ""


def test_the_lock_is_released_when_a_run_fails(tmp_path, data):
    from valuesim.errors import ConfigError

    out = tmp_path / "run"
    run_benchmark(data, get_method("majority", data.codebook), CFG, out, progress=False)
    other = RunConfig(protocol=ProtocolConfig(n_respondents=4, seed=2), n_boot=10)
    with pytest.raises(ConfigError, match="different split"):
        run_benchmark(data, get_method("majority", data.codebook), other, out, progress=False)
    with rundir.RunLock(out):  # not left locked by the failed call
        pass


def test_atomic_writes_use_unique_temporary_files(tmp_path):
    """Two writers of one file never collide on a shared *.tmp name (the FileNotFoundError of issue 11)."""
    path = tmp_path / "metrics.json"
    errors: list[BaseException] = []

    def write(k: int) -> None:
        try:
            for i in range(60):
                rundir.write_json_atomic(path, {"writer": k, "i": i})
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert json.loads(path.read_text())["i"] == 59
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary file left


def test_a_failed_atomic_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "manifest.json"
    rundir.write_json_atomic(path, {"ok": 1})

    def full(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rundir.os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        rundir.write_json_atomic(path, {"ok": 2})
    assert json.loads(path.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("metrics.json", b"\x00\x01\xff", "not valid JSON"),
        ("metrics.json", b"[1, 2, 3]", "a JSON list where an object was expected"),
        ("manifest.json", b"[1]", "a JSON list where an object was expected"),
        ("split.json", b"\x00\x01\xff", "damaged"),
        ("split.json", b"[1]", "damaged"),
    ],
)
def test_damaged_run_files_are_data_errors(tmp_path, data, name, content, expected):
    out = tmp_path / "run"
    run_benchmark(data, get_method("majority", data.codebook), CFG, out, progress=False)
    (out / name).write_bytes(content)
    with pytest.raises(DataError, match=expected) as err:
        rundir.open_run(out)
    assert str(out / name) in err.value.message and err.value.hint


def test_overwrite_removes_leftover_temporary_files(tmp_path, data):
    out = tmp_path / "run"
    run_benchmark(data, get_method("majority", data.codebook), CFG, out, progress=False)
    (out / ".metrics.json.x1.tmp").write_text("{")
    (out / "manifest.json.tmp").write_text("{")
    cfg = CFG.model_copy(update={"overwrite": True})
    assert run_benchmark(data, get_method("majority", data.codebook), cfg, out, progress=False).complete
    expected = {*rundir.RUN_FILES, rundir.LOCK_FILE} - {rundir.FAILURES_FILE}  # no target failed
    assert {p.name for p in out.iterdir()} == expected


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_run_files_keep_the_users_umask(tmp_path, data, umask):
    """Every file of a run gets 0o666 less the umask, as `open()` gives (not mkstemp's private 0o600)."""
    old = os.umask(umask)
    try:
        out = tmp_path / "run"
        run_benchmark(data, get_method("majority", data.codebook), CFG, out, progress=False)
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir() if p.is_file()}
    assert {"manifest.json", "metrics.json", "split.json", "predictions.jsonl"} <= set(modes)
    assert set(modes.values()) == {0o666 & ~umask}, modes


def test_the_columnar_and_the_exact_reader_keep_the_same_rows(tmp_path, data):
    """predictions.jsonl of a run being resumed: a unit cut short, a target written twice, a row
    of a unit the split does not have and a torn last line. The columnar reader (the viewer's)
    keeps exactly the rows the exact reader (resume, report) keeps."""
    out = tmp_path / "run"
    run_benchmark(data, get_method("majority", data.codebook), CFG, out, progress=False)
    path = out / rundir.PREDICTIONS_FILE
    lines = path.read_text("utf-8").splitlines(keepends=True)
    rows = [json.loads(line) for line in lines]
    first = rundir.unit_key(rows[0])
    cut = max(i for i, r in enumerate(rows) if rundir.unit_key(r) == first)  # the first unit loses a target
    stranger = dict(rows[-1], respondent="nobody")
    text = "".join(lines[:cut] + lines[cut + 1 :] + [lines[-1], json.dumps(stranger) + "\n"]) + lines[2][:25]
    path.write_text(text, "utf-8")
    rd = rundir.open_run(out)
    cols = rundir.read_prediction_columns(path)
    assert cols is not None
    keep = rundir.finished_positions(cols.frame, rd.split.units)
    exact = rundir.scan_predictions(path, rd.split.units).rows
    fast = rundir.read_rows_at(path, cols.offsets[keep])

    def key(r):
        return (str(r["respondent"]), int(r["fold"]), str(r["condition"]), str(r["question"]))

    assert sorted(map(key, fast)) == sorted(map(key, exact))
    assert len(exact) == len(rows) - sum(rundir.unit_key(r) == first for r in rows)  # the cut unit is dropped
    assert sorted(fast, key=key) == sorted(exact, key=key)  # whole rows (probabilities, meta) too
    finished = rd.finished_columns()
    assert finished is not None and len(finished.frame) == len(rd.predictions()) == len(exact)
