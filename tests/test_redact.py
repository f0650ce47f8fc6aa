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
        ("valuesim bench -o api_key=S3CRET-pw -o max_tokens=20", "valuesim bench -o api_key=*** -o max_tokens=20"),
        ("-o llm.api_key=S3CRET-pw,x", "-o llm.api_key=***,x"),
        ("<td>auth_token=S3CRET-pw</td>", "<td>auth_token=***</td>"),
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


# --------------------------------------------------------------------------- every command, every byte
#: Planted secrets: the userinfo of the server URL, a key in its query string, the environment's
#: API key and the key given on the command line (`--api-key`).
USERINFO, QUERY_KEY, ENV_KEY, ARG_KEY = "S3CRET-userinfo", "S3CRET-query", "S3CRET-environ", "S3CRET-argument"
PLANTED = (USERINFO, QUERY_KEY, ENV_KEY, ARG_KEY)


def _leaks(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [s for s in PLANTED if s.encode() in data]


def _files_leaking(root: Path) -> dict[str, list[str]]:
    """Every file under *root* (run files, reports, JSON, the LLM cache and the backstory store
    with their SQLite WAL files) that holds a planted secret."""
    found = {}
    for p in root.rglob("*"):
        if p.is_file() and (hit := _leaks(p.read_bytes())):
            found[str(p.relative_to(root))] = hit
    return found


def _wait_for_job(client, url: str) -> str:  # type: ignore[no-untyped-def]
    import time

    for _ in range(600):
        page = client.get(url).text
        if 'data-status="done"' in page or 'data-status="failed"' in page:
            return page
        time.sleep(0.05)
    raise AssertionError(f"the Ask job {url} did not finish")


def test_no_planted_secret_reaches_any_file_database_output_or_page(tmp_path, monkeypatch, capsys) -> None:
    """Issue 24 item 3: every command that takes a model (bench, ask, simulate, backstory, experiment,
    demo, llm check, view with Ask), run against the mock server with secrets in the URL's userinfo,
    in its query string, in OPENAI_API_KEY and in --api-key: no byte written (files, SQLite
    databases), printed or served holds any of them."""
    from starlette.testclient import TestClient

    import valuesim.cli.view as view_cli
    import valuesim.experiments.demo as demo
    from valuesim.scale.mockserver import MockServer

    monkeypatch.setenv("VALUESIM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
    # the demo's path, on two of its runs (one LLM run) to stay fast
    monkeypatch.setattr(demo, "DEMO_RUNS", tuple(s for s in demo.DEMO_RUNS if s.name in ("majority", "valuesim")))
    data = ["--data", "synthetic:80"]
    rid = "276070001"
    printed: dict[str, str] = {}

    def run(name: str, *args: str, code: int = 0) -> None:
        res = run_cli(monkeypatch, capsys, *args)
        assert res.code == code, (name, res.text)
        printed[name] = res.text

    with MockServer() as server:
        url = server.url.replace("http://", f"http://alice:{USERINFO}@") + f"?api_key={QUERY_KEY}"
        spec = f"openai:mock@{url}"  # a model spec that names the server (same credentials)
        llm = ["--model", "openai:mock", "--base-url", url, "--api-key", ARG_KEY]
        run("llm check", "llm", "check", "--model", "openai:mock", "--base-url", url, "--api-key", ARG_KEY)
        run("bench", "bench", *data, "-m", "blank", *llm, "-n", "2", "--folds", "2", "--max-targets", "3",
            "--n-boot", "10", "--no-progress", "--out", str(tmp_path / "bench"))  # fmt: skip
        run("report", "report", str(tmp_path / "bench"), "--out", str(tmp_path / "bench-report"))
        run("ask", "ask", *data, "-r", rid, "-q", "Q46", "--method", "blank", *llm)
        run("ask --explain", "ask", *data, "-r", rid, "-q", "Q46", "--model", spec, "--api-key", ARG_KEY, "--explain")
        run("simulate", "simulate", *data, "--questions", "examples/questionnaire.yaml", "-n", "2", "--min-valid", "0",
            "--method", "blank", *llm, "--no-progress", "--out", str(tmp_path / "sim"))  # fmt: skip
        run("backstory", "backstory", *data, "-r", rid, "--style", "narrative", "--model", spec,
            "--api-key", ARG_KEY, "--out", str(tmp_path / "story.json"))  # fmt: skip
        run("experiment", "experiment", "paper", *data, *llm, "--quick", "-n", "1", "--only", "blank",
            "--no-progress", "--out", str(tmp_path / "experiment"))  # fmt: skip
        run("demo", "demo", "--model", spec, "-n", "1", "--no-progress", "--out", str(tmp_path / "demo"))

        apps = []
        monkeypatch.setattr(view_cli, "serve", lambda app, sock: apps.append(app))
        run("view", "view", str(tmp_path / "bench"), *data, "--model", spec, "--api-key", ARG_KEY, "--port", "0")
        client = TestClient(apps[0], base_url="http://127.0.0.1")
        served = {p: client.get(p).text for p in ("/", "/people", f"/people/{rid}", "/ask")}
        assert "Narrative backstories (cached)" in served[f"/people/{rid}"]  # the stored story is shown, with its model
        for method in ("blank", "valuesim"):
            r = client.post("/ask", data={"person": rid, "question": "Q46", "method": method}, follow_redirects=False)
            assert r.status_code == 303, r.text
            served[r.headers["location"]] = _wait_for_job(client, r.headers["location"])
            assert 'data-status="done"' in served[r.headers["location"]]
        served["/ask (after)"] = client.get("/ask").text

    assert (tmp_path / "cache" / "backstories.sqlite3").exists()  # the store was written (and searched)
    assert (tmp_path / "story.json").exists() and (tmp_path / "sim" / "summary.json").exists()
    assert _files_leaking(tmp_path) == {}
    assert {k: _leaks(v) for k, v in printed.items() if _leaks(v)} == {}
    assert {k: _leaks(v) for k, v in served.items() if _leaks(v)} == {}
    # still says which server was used
    assert "127.0.0.1" in (tmp_path / "sim" / "summary.json").read_text()


def test_api_key_option_reaches_the_server_but_no_record() -> None:
    """`--api-key` / `-o api_key=` is what the backend sends, is left out of config() (manifests),
    and is masked wherever it would still appear (a recorded command line)."""
    from valuesim.methods.base import get_method
    from valuesim.survey import load_codebook

    cb = load_codebook()
    key = "S3CRET-option-key"
    for name in ("blank", "hybrid"):
        m = get_method(name, cb, model="openai:x", base_url="http://127.0.0.1:9/v1", api_key=key)
        llm = m if name == "blank" else m.llm  # type: ignore[attr-defined]
        assert llm.model.backend.api_key == key
        assert key not in str(m.config()) and key not in repr(m.opts)
    assert redact_text(f"valuesim bench -o api_key={key} --api-key {key}") == (
        f"valuesim bench -o api_key={MASK} --api-key {MASK}"
    )
