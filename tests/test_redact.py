"""Secrets never reach a file or the terminal (issue 11, finding 3).

Unit tests of :mod:`valuesim._redact`, then a whole run with credentials in ``--base-url``:
every file of the run directory, of the report and of the LLM cache, and everything printed,
is searched for the secret.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run_cli

from valuesim._redact import MASK, redact, redact_text
from valuesim.errors import ModelError

SECRET = "S3CRET-pw"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://user:S3CRET-pw@host/v1", "http://***@host/v1"),
        ("https://S3CRET-pw@h:8000/v1,http://a:S3CRET-pw@c/v1", "https://***@h:8000/v1,http://***@c/v1"),
        ("http://u:p@ss@host/v1", "http://***@host/v1"),  # an "@" inside the password
        ("http://h/v1?api_key=S3CRET-pw&model=x", "http://h/v1?api_key=***&model=x"),
        ("http://h/v1?token=S3CRET-pw", "http://h/v1?token=***"),
        ("http://h/v1?sig=S3CRET-pw#x", "http://h/v1?sig=***#x"),
        ("valuesim llm check --api-key S3CRET-pw --model m", "valuesim llm check --api-key *** --model m"),
        ("x --api-key=S3CRET-pw", "x --api-key=***"),
        ("openai:m@http://u:S3CRET-pw@h/v1", "openai:m@http://***@h/v1"),
        (
            "Cannot reach http://u:S3CRET-pw@10.0.0.1:8000/v1 (refused)",
            "Cannot reach http://***@10.0.0.1:8000/v1 (refused)",
        ),
    ],
)
def test_redact_text_masks_credentials(text: str, expected: str) -> None:
    assert redact_text(text) == expected
    assert SECRET not in redact_text(text)


@pytest.mark.parametrize(
    "text",
    ["http://127.0.0.1:8080/v1", "http://h/v1?model=x&n=2", "runs/knn-k20", "a-b c=d", "valuesim bench --seed 42"],
)
def test_redact_text_keeps_harmless_text(text: str) -> None:
    assert redact_text(text) == text


def test_redact_walks_nested_records() -> None:
    rec = {"command": "x --base-url http://a:S3CRET-pw@h/v1", "config": {"urls": ["http://b:S3CRET-pw@h"], "k": 3}}
    out = redact(rec)
    assert SECRET not in str(out) and out["config"]["k"] == 3 and MASK in out["config"]["urls"][0]


def test_errors_are_redacted_when_made() -> None:
    e = ModelError("Cannot reach http://u:S3CRET-pw@h/v1.", "Check http://h/v1?api_key=S3CRET-pw")
    assert SECRET not in str(e) and SECRET not in e.message and SECRET not in (e.hint or "")


def _files_holding(root: Path, secret: str) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_no_secret_in_any_output_of_a_run(tmp_path, monkeypatch, capsys) -> None:
    """A run with credentials in --base-url, then a report: no file, no output holds the secret."""
    from valuesim.scale.mockserver import MockServer

    cache = tmp_path / "cache"
    monkeypatch.setenv("VALUESIM_CACHE_DIR", str(cache))
    out, rep = tmp_path / "run", tmp_path / "report"
    with MockServer() as server:
        url = server.url.replace("http://", f"http://alice:{SECRET}@")
        args = ["bench", "--data", "synthetic:120", "--method", "blank", "--model", "openai:mock"]
        args += ["--base-url", url, "-n", "3", "--folds", "2", "--max-targets", "4", "--n-boot", "20"]
        run = run_cli(monkeypatch, capsys, *args, "--out", str(out))
        assert run.code == 0, run.text
        report = run_cli(monkeypatch, capsys, "report", str(out), "--out", str(rep))
        assert report.code == 0, report.text
    manifest = (out / "manifest.json").read_text()
    assert "alice" not in manifest and "http://***@127.0.0.1" in manifest  # the server is still named
    assert _files_holding(tmp_path, SECRET) == []
    assert SECRET not in run.text + report.text

    # an unreachable server: the error message names it without the secret; the query key is masked too
    bad = run_cli(
        monkeypatch,
        capsys,
        *args[:-10],
        "--base-url",
        f"http://bob:{SECRET}@127.0.0.1:9/v1",
        "-n",
        "3",
        "--folds",
        "2",
        "--out",
        str(tmp_path / "bad"),
    )
    assert bad.code == 2 and "127.0.0.1:9" in bad.err and "Traceback" not in bad.text
    assert SECRET not in bad.text
    assert _files_holding(tmp_path, SECRET) == []
