"""Bad-input corpus (issue 11): the CLI, run as a user runs it, on each hostile or careless input.

Every case must end with exit code 2, a message that says what and where (and a hint), and no
traceback -- or, where the input is merely odd (a "$" in a name, damaged cache entries), work.
Nothing written before the failure may be lost: the damaged-run and disk-full cases resume.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import CliResult, run_cli

from valuesim.bench import rundir
from valuesim.bench.config import RunConfig
from valuesim.bench.protocol import ProtocolConfig
from valuesim.bench.runner import run_benchmark
from valuesim.cli._data import load_data
from valuesim.methods.base import get_method

DATA = "synthetic:200"
BENCH = ["bench", "--data", DATA, "--method", "majority", "-n", "10", "--n-boot", "20", "--no-progress"]


def assert_clean_error(res: CliResult, *needles: str) -> None:
    """Exit 2, the message (and each needle) on stderr, a hint, no traceback."""
    assert res.code == 2, res.text
    assert "Error:" in res.err and "Hint:" in res.err, res.err
    assert "Traceback" not in res.text
    flat = " ".join(res.err.split())
    for n in needles:
        assert n in flat, (n, flat)


@pytest.fixture(scope="module")
def base_run(tmp_path_factory) -> Path:
    """A finished run made exactly as `valuesim bench` with BENCH's settings makes it."""
    out = tmp_path_factory.mktemp("base") / "run"
    data = load_data(DATA)
    cfg = RunConfig(protocol=ProtocolConfig(n_respondents=10), n_boot=20, command="valuesim " + " ".join(BENCH))
    assert run_benchmark(data, get_method("majority", data.codebook), cfg, out, progress=False).complete
    return out


@pytest.fixture
def run_copy(base_run, tmp_path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(base_run, out)
    return out


def predictions(out: Path) -> list[str]:
    return (out / rundir.PREDICTIONS_FILE).read_text().splitlines()


def rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in predictions(out)]


# --------------------------------------------------------------------------- where --out points


def test_out_is_a_file(tmp_path, monkeypatch, capsys):
    (tmp_path / "afile").write_text("x")
    res = run_cli(monkeypatch, capsys, *BENCH, "--out", str(tmp_path / "afile"))
    assert_clean_error(res, "is a file, not a directory")


def test_out_below_a_file(tmp_path, monkeypatch, capsys):
    (tmp_path / "afile").write_text("x")
    res = run_cli(monkeypatch, capsys, *BENCH, "--out", str(tmp_path / "afile" / "sub"))
    assert_clean_error(res, "afile/sub", "Not a directory", "part of the path is a file")


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux /proc")
def test_out_in_proc(monkeypatch, capsys):
    res = run_cli(monkeypatch, capsys, *BENCH, "--out", "/proc/valuesim-test/run")
    assert_clean_error(res, "/proc/valuesim-test/run")


def test_report_out_below_a_file(run_copy, tmp_path, monkeypatch, capsys):
    (tmp_path / "afile").write_text("x")
    res = run_cli(monkeypatch, capsys, "report", str(run_copy), "--out", str(tmp_path / "afile" / "rep"))
    assert_clean_error(res, "Not a directory")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_read_only_output_directory(tmp_path, monkeypatch, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: make the kernel's answer for this directory explicit
        real_open, real_mkdir = os.open, Path.mkdir

        def deny(path: object) -> None:
            if str(path).startswith(str(ro)):
                raise PermissionError(errno.EACCES, "Permission denied", str(path))

        monkeypatch.setattr(rundir.os, "open", lambda p, *a, **k: (deny(p), real_open(p, *a, **k))[1])
        monkeypatch.setattr(Path, "mkdir", lambda self, *a, **k: (deny(self / "x"), real_mkdir(self, *a, **k))[1])
    for out in (ro, ro / "sub"):
        res = run_cli(monkeypatch, capsys, *BENCH, "--out", str(out))
        assert_clean_error(res, "Permission denied", "pick a directory you can write to")
    assert list(ro.iterdir()) == []


# --------------------------------------------------------------------------- damaged run files


DAMAGE = {
    "metrics-binary": ("metrics.json", b"\x00\x01\xff\xfe"),
    "metrics-list": ("metrics.json", b"[1, 2, 3]"),
    "manifest-list": ("manifest.json", b"[1]"),
    "manifest-binary": ("manifest.json", b"\xff\xfe\x00"),
    "split-binary": ("split.json", b"\x00\x01\xff\xfe"),
    "split-list": ("split.json", b"[1]"),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_report_on_damaged_run_files(case, run_copy, tmp_path, monkeypatch, capsys):
    name, content = DAMAGE[case]
    (run_copy / name).write_bytes(content)
    res = run_cli(monkeypatch, capsys, "report", str(run_copy), "--out", str(tmp_path / "rep"))
    assert_clean_error(res, str(run_copy / name), "damaged")


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_resume_on_damaged_run_files(case, run_copy, monkeypatch, capsys):
    """Resume refuses a damaged manifest or split with a way forward, never losing predictions;
    a damaged metrics.json is simply recomputed."""
    name, content = DAMAGE[case]
    before = predictions(run_copy)
    (run_copy / name).write_bytes(content)
    res = run_cli(monkeypatch, capsys, *BENCH, "--out", str(run_copy))
    if name == "metrics.json":
        assert res.code == 0, res.text
        assert json.loads((run_copy / name).read_text())["method"] == "majority"
    else:
        assert_clean_error(res, str(run_copy / name), "damaged")
    assert predictions(run_copy) == before
    if name == "manifest.json":  # the hint's way forward works and keeps every prediction
        (run_copy / name).unlink()
        again = run_cli(monkeypatch, capsys, *BENCH, "--out", str(run_copy))
        assert again.code == 0 and "0 units computed" in again.out, again.text
        assert predictions(run_copy) == before


def test_disk_full_during_a_run_then_resume(base_run, tmp_path, monkeypatch, capsys):
    """ENOSPC (simulated at the predictions file after 7 units): clear error, finished units kept,
    the same command resumes to exactly the predictions of an uninterrupted run."""
    out = tmp_path / "run"
    real = rundir.JsonlSink.write_unit

    def write_unit(self, rows):  # type: ignore[no-untyped-def]
        if self.units_written >= 7:
            raise OSError(28, "No space left on device", str(self.path))
        real(self, rows)

    monkeypatch.setattr(rundir.JsonlSink, "write_unit", write_unit)
    res = run_cli(monkeypatch, capsys, *BENCH, "--out", str(out))
    assert_clean_error(res, "No space left on device", "predictions.jsonl", "disk is full", "re-run the same command")
    assert len({rundir.unit_key(json.loads(line)) for line in predictions(out)}) == 7
    assert json.loads((out / rundir.MANIFEST_FILE).read_text())["sessions"][0]["status"] == "failed: OSError"

    monkeypatch.setattr(rundir.JsonlSink, "write_unit", real)
    res = run_cli(monkeypatch, capsys, *BENCH, "--out", str(out))
    assert res.code == 0, res.text
    assert predictions(out) == predictions(base_run)


def test_second_writer_is_refused_with_the_pid(tmp_path, monkeypatch, capsys):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys,time; from valuesim.bench.rundir import RunLock; "
         "RunLock(sys.argv[1]).acquire(); print('locked', flush=True); time.sleep(120)", str(tmp_path / "run")],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        res = run_cli(monkeypatch, capsys, *BENCH, "--out", str(tmp_path / "run"))
        assert_clean_error(res, "is in use", f"PID {holder.pid}", f"kill {holder.pid}")
    finally:
        holder.kill()
        holder.wait()


# --------------------------------------------------------------------------- reports: names and titles


def test_dollar_in_run_directory_name(run_copy, tmp_path, monkeypatch, capsys):
    odd = run_copy.rename(tmp_path / r"r$\x$ 5$")
    res = run_cli(monkeypatch, capsys, "report", str(odd), "--out", str(tmp_path / "rep"))
    assert res.code == 0, res.text
    assert (tmp_path / "rep" / "figures" / "comparison.png").exists()


def outside_code_fences(md: str) -> str:
    """The Markdown without its fenced code blocks (their content is shown literally)."""
    kept, fence = [], ""
    for line in md.splitlines():
        if fence:
            fence = "" if line == fence else fence
        elif re.fullmatch(r"`{3,}", line):
            fence = line
        else:
            kept.append(line)
    return "\n".join(kept)


def test_markdown_report_escapes_names_and_title(run_copy, tmp_path, monkeypatch, capsys):
    odd = run_copy.rename(tmp_path / "<img src=x onerror=alert(1)>")
    title = "<script>alert(1)</script> **bold** [link](http://evil)"
    res = run_cli(monkeypatch, capsys, "report", str(odd), "--out", str(tmp_path / "rep"), "--title", title)
    assert res.code == 0, res.text
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "<script>" not in outside_code_fences(md) and "<img" not in outside_code_fences(md)
    assert "[link](http://evil)" not in md
    assert "&lt;script>" in md and "&lt;img src=x onerror=alert(1)>" in md
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "<script>alert" not in html and "<img src=x" not in html


# --------------------------------------------------------------------------- data files


def _csv(tmp_path: Path, n: int = 40, duplicate: tuple[int, ...] = ()) -> Path:
    from valuesim.survey import generate_synthetic
    from valuesim.survey.synthetic import write_wvs_csv

    path = write_wvs_csv(generate_synthetic(n=n, seed=3), tmp_path / "wvs.csv")
    if duplicate:
        lines = path.read_text().splitlines()
        path.write_text("\n".join(lines + [lines[1 + i] for i in duplicate]) + "\n")
    return path


def test_header_only_file(tmp_path, monkeypatch, capsys):
    path = _csv(tmp_path)
    path.write_text(path.read_text().splitlines()[0] + "\n")
    assert_clean_error(run_cli(monkeypatch, capsys, "data", "summary", str(path)), "no respondents")
    res = run_cli(monkeypatch, capsys, "bench", "--data", str(path), "-m", "majority", "--out", str(tmp_path / "r"))
    assert_clean_error(res, "no respondents")


def test_duplicated_respondents_warned_and_kept_out_of_training(tmp_path, monkeypatch, capsys):
    path = _csv(tmp_path, n=60, duplicate=tuple(range(60)))  # every person twice
    res = run_cli(monkeypatch, capsys, "data", "summary", str(path))
    assert res.code == 0
    flat = " ".join(res.err.split())
    assert "Warning:" in flat and "duplicated D_INTERVIEW" in flat and "60 respondent row(s) are exact copies" in flat
    out = tmp_path / "run"
    res = run_cli(monkeypatch, capsys, "bench", "--data", str(path), "-m", "majority", "-n", "5", "--out", str(out))
    assert res.code == 0, res.text
    flat = " ".join(res.err.split())
    assert "5 respondent(s) outside the sample are exact copies of evaluated respondents" in flat
    manifest = json.loads((out / rundir.MANIFEST_FILE).read_text())
    evaluated = 5 * 2  # ... and the copies of the 5 evaluated people are not trained on
    assert manifest["config"]["train"]["n_respondents"] <= 120 - evaluated


# --------------------------------------------------------------------------- the LLM cache


def test_corrupt_cache_database(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VALUESIM_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "llm-cache.sqlite3").write_bytes(b"this is not a database" * 100)
    res = run_cli(monkeypatch, capsys, "llm", "cache")
    assert_clean_error(res, "llm-cache.sqlite3", "valuesim llm cache --clear", "--no-cache", "VALUESIM_CACHE_DIR")
    assert "cache=" not in res.err  # the hint names the CLI, not a Python argument
    llm_bench = [*BENCH[:4], "valuesim", "--model", "mock", "-n", "2", "--max-targets", "2", "--folds", "2"]
    res = run_cli(monkeypatch, capsys, *llm_bench, "--out", str(tmp_path / "r"))
    assert_clean_error(res, "--no-cache")
    res = run_cli(monkeypatch, capsys, *llm_bench, "--no-cache", "--out", str(tmp_path / "r"))
    assert res.code == 0, res.text  # --no-cache works around it
    res = run_cli(monkeypatch, capsys, "llm", "cache", "--clear")
    assert res.code == 0 and "damaged" in res.out
    res = run_cli(monkeypatch, capsys, "llm", "cache")
    assert res.code == 0 and "0 cached responses" in res.out


def test_damaged_cache_entries_are_misses_with_a_warning(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VALUESIM_CACHE_DIR", str(tmp_path / "cache"))
    llm_bench = [*BENCH[:4], "blank", "--model", "mock", "-n", "3", "--max-targets", "3", "--folds", "2"]
    first = run_cli(monkeypatch, capsys, *llm_bench, "--out", str(tmp_path / "a"))
    assert first.code == 0, first.text
    db = tmp_path / "cache" / "llm-cache.sqlite3"
    with sqlite3.connect(db) as conn:
        keys = [k for (k,) in conn.execute("SELECT key FROM responses ORDER BY key")]
        assert len(keys) >= 4
        bad = {keys[0]: "{not json", keys[1]: '{"probs": [1.0]}', keys[2]: "[1, 2]", keys[3]: '{"source": "x"}'}
        for k, v in bad.items():
            conn.execute("UPDATE responses SET value = ? WHERE key = ?", (v, k))
    second = run_cli(monkeypatch, capsys, *llm_bench, "--out", str(tmp_path / "b"))
    assert second.code == 0, second.text
    assert "Damaged entry" in second.err and "recomputed and rewritten" in " ".join(second.err.split())
    answers = [
        {k: r[k] for k in ("respondent", "question", "prediction", "probabilities")} for r in rows(tmp_path / "a")
    ]
    assert [{k: r[k] for k in answers[0]} for r in rows(tmp_path / "b")] == answers  # same answers as before
    with sqlite3.connect(db) as conn:  # rewritten: every entry is valid again
        for k in bad:
            (value,) = conn.execute("SELECT value FROM responses WHERE key = ?", (k,)).fetchone()
            assert isinstance(json.loads(value), dict) and "probs" in json.loads(value)


# --------------------------------------------------------------------------- issue 24: probes 6 and 7


def assert_usage_error(res: CliResult, option: str) -> None:
    """A bad value caught by the option's bounds: exit 2, names the option and the bound, points at --help."""
    assert res.code == 2, res.text
    assert "Traceback" not in res.text
    flat = " ".join(res.err.split())
    assert f"Invalid value for '{option}'" in flat and "should be" in flat and "--help" in flat, flat


SIM = ["simulate", "--data", DATA, "--questions", "examples/questionnaire.yaml", "-m", "uniform", "-n", "2"]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        ([*BENCH, "--seed", "-1"], ["seed", "from 0 to 2**63-1, got -1"]),
        ([*SIM, "--seed", "-1"], ["seed", "from 0 to 2**63-1, got -1", "valuesim simulate --help"]),
        ([*BENCH, "--train-max", "0"], ["train_max", "at least 1, got 0", "nobody to learn from"]),
        ([*BENCH, "--n-boot", "-1"], ["n_boot", "at least 1 bootstrap replicate", "got -1"]),
        ([*BENCH, "--n-boot", "0"], ["n_boot", "at least 1 bootstrap replicate", "got 0"]),
        ([*BENCH, "--history-sizes", "0,10"], ["--history-sizes", "--history-sweep is not given"]),
    ],
    ids=["bench-seed", "simulate-seed", "train-max-0", "n-boot-neg", "n-boot-0", "history-sizes-alone"],
)
def test_bad_run_settings_are_refused_before_any_work(args, needles, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    res = run_cli(monkeypatch, capsys, *args, "--out", str(out))
    assert_clean_error(res, *needles)
    assert not (out / rundir.PREDICTIONS_FILE).exists()


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["backstory", "--data", DATA, "-r", "276070001", "--model", "mock", "--fidelity", "-3"], "--fidelity"),
        (["backstory", "--data", DATA, "-r", "276070001", "--max-words", "0"], "--max-words"),
        (["backstory", "--data", DATA, "-r", "276070001", "--max-words", "-10"], "--max-words"),
        (["backstory", "--data", DATA, "-r", "276070001", "--max-tokens", "0"], "--max-tokens"),
        (["scale", "mock-server", "--port", "-1"], "--port"),
        (["scale", "mock-server", "--port", "70000"], "--port"),
        (["experiment", "paper", "--data", DATA, "--model", "mock", "--out", "x", "-n", "0"], "'--respondents' / '-n"),
        (["demo", "--out", "x", "-n", "0"], "'--respondents' / '-n"),
        (["codebook", "example", "x.sav", "--seed", "-1"], "--seed"),
    ],
    ids=[
        "fidelity",
        "max-words-0",
        "max-words-neg",
        "max-tokens-0",
        "port-neg",
        "port-big",
        "experiment-n0",
        "demo-n0",
        "example-seed",
    ],
)
def test_out_of_bounds_options_are_usage_errors(args, option, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # nothing may be written, but if it were, only here
    res = run_cli(monkeypatch, capsys, *args)
    if option.startswith("'"):  # an option with a short alias: typer names both
        assert res.code == 2 and "Traceback" not in res.text and f"Invalid value for {option}" in res.err, res.text
    else:
        assert_usage_error(res, option)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("flag", "value"), [("--seed", "-1"), ("--n-boot", "-5"), ("--n-boot", "0"), ("--n-perm", "0")]
)
def test_bench_compare_bounds(flag, value, base_run, monkeypatch, capsys):
    res = run_cli(monkeypatch, capsys, "bench", "compare", str(base_run), str(base_run), flag, value)
    assert_usage_error(res, flag)


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux /proc")
def test_codebook_example_where_nothing_can_be_written(monkeypatch, capsys):
    res = run_cli(monkeypatch, capsys, "codebook", "example", "/proc/e.sav")
    assert_clean_error(res, "Cannot write /proc/e.sav", "a directory you can write to")


def test_huge_cells_are_out_of_range_codes_without_warnings(tmp_path, monkeypatch, capsys):
    """A cell of 1e30 (or inf) is an out-of-range code: reported as written, no RuntimeWarning, no int64 overflow."""
    import csv
    import warnings

    path = _csv(tmp_path, n=30)
    table = list(csv.reader(path.open()))
    head = table[0]
    table[1][head.index("Q46")] = "1e30"
    table[2][head.index("Q262")] = "-1e30"  # age, a numeric item
    table[3][head.index("Q1")] = "inf"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(table)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a leaked RuntimeWarning fails the test
        res = run_cli(monkeypatch, capsys, "data", "summary", str(path))
        show = run_cli(monkeypatch, capsys, "data", "show", str(path), "-r", table[1][head.index("D_INTERVIEW")])
    assert res.code == 0 and show.code == 0, res.text + show.text
    assert "9223372036854775808" not in res.text + show.text and "RuntimeWarning" not in res.text + show.text
    flat = " ".join(res.text.split())
    assert "1000000000000000019884624838656 (1)" in flat and "-1000000000000000019884624838656 (1)" in flat
    assert "Q46" in show.out and "(missing)" in show.out


def test_clean_codes_keeps_every_huge_cell_out():
    import numpy as np

    from valuesim.survey import load_codebook
    from valuesim.survey.loaders import MISSING_OTHER, clean_codes

    q = load_codebook().get("Q46")
    col = clean_codes(np.array([1.0, 1e30, -1e30, np.inf, -np.inf, np.nan, 2**53 + 2.0, 2.5]), q, [-1, -2])
    assert col.codes.tolist() == [1, *[MISSING_OTHER] * 7]
    assert col.out_of_range == {10**30 + 19884624838656: 1, -(10**30 + 19884624838656): 1, 2**53 + 2: 1}
    assert col.non_integer == 3 and col.blank == 1  # inf, -inf, 2.5; nan


def test_reversed_value_range_fails_codebook_check(tmp_path, monkeypatch, capsys):
    sav = tmp_path / "ex.sav"
    assert run_cli(monkeypatch, capsys, "codebook", "example", str(sav), "-n", "30").code == 0
    book = tmp_path / "cb.yaml"
    assert run_cli(monkeypatch, capsys, "codebook", "infer", str(sav), "--out", str(book)).code == 0
    text = book.read_text()
    m = re.search(r"value_range:\n(\s*)- (\d+)\n\s*- (\d+)\n", text)
    assert m is not None, text
    lo, hi = m.group(2), m.group(3)
    book.write_text(text.replace(m.group(0), f"value_range:\n{m.group(1)}- {hi}\n{m.group(1)}- {lo}\n", 1))
    res = run_cli(monkeypatch, capsys, "codebook", "check", str(book))
    assert_clean_error(res, "value_range", f"[{hi}, {lo}] is reversed", f"[{lo}, {hi}]", "load as missing")
    assert "Value error" not in res.err


@pytest.mark.parametrize("where", ["/", "/usr", "/etc", "/tmp"])
def test_out_never_a_root_or_system_directory(where):
    from valuesim.errors import ConfigError

    with pytest.raises(ConfigError, match="Pick a directory of its own"):
        rundir.refuse_dangerous_dir(where)
    rundir.refuse_dangerous_dir(Path(where) / "valuesim-run-xyz")  # a directory of its own is fine


def test_out_and_overwrite_refuse_the_home_directory(tmp_path, monkeypatch, capsys, base_run):
    """--out $HOME (with --overwrite, it would delete files there): bench, simulate, report, experiment refuse."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "manifest.json").write_text("mine")  # a user's own file with a run file's name
    monkeypatch.setenv("HOME", str(home))
    for args in (
        [*BENCH, "--overwrite"],
        [*SIM, "--overwrite"],
        ["report", str(base_run)],
        ["experiment", "paper", "--data", DATA, "--model", "mock", "--quick", "--only", "majority"],
    ):
        res = run_cli(monkeypatch, capsys, *args, "--out", "~")
        assert_clean_error(res, "is your home directory", "Pick a directory of its own")
    assert sorted(p.name for p in home.iterdir() if not p.name.startswith(".")) == ["manifest.json"]  # .cache: fonts
    assert (home / "manifest.json").read_text() == "mine"
