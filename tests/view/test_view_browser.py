"""A real server and a real browser: `valuesim view` on a small synthetic run, every page loaded
in headless Chromium (offline), checked for rendered content and JavaScript errors, screenshotted."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from view_testlib import N_PEOPLE

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(view_runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`valuesim view` as a user starts it, on a free port; yields its base URL."""
    port = _free_port()
    log = tmp_path_factory.mktemp("view-server") / "server.log"
    runs = [str(view_runs[k]) for k in ("majority", "knn", "valuesim")]
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "valuesim", "view", *runs, "--data", f"synthetic:{N_PEOPLE}", "--model", "mock"]
            + ["--port", str(port)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200"},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"the server exited: {log.read_text()}")
            try:
                if httpx.get(url + "/", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail(f"the server did not answer: {log.read_text()}")
        assert f"valuesim view at {url}/" in log.read_text()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _person(view_runs: dict[str, Path]) -> str:
    first = (view_runs["valuesim"] / "predictions.jsonl").read_text("utf-8").splitlines()[0]
    return str(json.loads(first)["respondent"])


def test_the_server_answers_over_http(server: str, view_runs: dict[str, Path]) -> None:
    person = httpx.get(f"{server}/people/{_person(view_runs)}", timeout=30)
    assert person.status_code == 200
    for name in ("majority", "knn", "valuesim"):
        assert f"<th>{name}</th>" in person.text
    assert httpx.get(f"{server}/runs/nope", timeout=30).status_code == 404


def pages(view_runs: dict[str, Path]) -> dict[str, tuple[str, str]]:
    """name -> (path, id of an element the page must show)."""
    person = _person(view_runs)
    qid = json.loads((view_runs["knn"] / "predictions.jsonl").read_text("utf-8").splitlines()[0])["question"]
    return {
        "runs": ("/", "runs-table"),
        "run": ("/runs/knn", "run-metrics"),
        "compare": ("/compare?a=knn&b=majority", "paired-table"),
        "breakdown": ("/breakdown?by=section", "breakdown-table"),
        "question": (f"/question/{qid}", "confusion"),
        "people": ("/people", "people-table"),
        "person": (f"/people/{person}", "predictions"),
        "ask": (f"/ask?person={person}&question=Q46", "ask-form"),
        "live": ("/live/knn", "latest"),
        "missing": ("/people/nobody", "error"),
    }


def render(url: str, shot: Path, height: int = 1000) -> tuple[str, list[str]]:
    """(DOM after scripts ran, console messages) of one page, and its screenshot in ``shot``.
    Offline: an unreachable proxy for everything but the loopback server."""
    assert BROWSER is not None
    profile = shot.parent / f".profile-{shot.stem}"
    res = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions", "--no-first-run"]
        + ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
        + [f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9", "--hide-scrollbars"]
        + ["--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", f"--window-size=1280,{height}"]
        + ["--dump-dom", f"--screenshot={shot}", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    shutil.rmtree(profile, ignore_errors=True)
    console = [line for line in res.stderr.splitlines() if ":CONSOLE" in line]
    return res.stdout, console


def _not_blank(png: Path) -> None:
    from PIL import Image

    with Image.open(png) as im:
        gray = im.convert("L")
        lo, hi = gray.getextrema()
        dark = sum(gray.histogram()[:200])
        assert hi - lo > 100 and dark > 0.01 * gray.width * gray.height, f"{png} looks blank"


@pytest.mark.slow
@pytest.mark.skipif(BROWSER is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_every_page_renders_in_a_browser(server: str, view_runs: dict[str, Path], tmp_path: Path) -> None:
    for _ in range(600):  # the paired tests run in the background on the first visit
        if 'id="paired-pending"' not in httpx.get(server + "/compare?a=knn&b=majority", timeout=30).text:
            break
        time.sleep(0.1)
    for name, (path, element) in pages(view_runs).items():
        shot = tmp_path / f"{name}.png"
        dom, console = render(server + path, shot)
        assert console == [], f"{name}: {console}"
        assert re.search(r'<html[^>]*data-js="ok"', dom), f"{name}: the page script did not finish"
        assert not re.search(r"<html[^>]*data-errors=", dom), name
        assert f'id="{element}"' in dom, f"{name}: no #{element}"
        text = re.sub(r"<[^>]+>", " ", dom.split("<body", 1)[1])
        assert len(text.split()) > 20, f"{name}: almost no text"
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        _not_blank(shot)


@pytest.mark.slow
@pytest.mark.skipif(BROWSER is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_a_javascript_error_would_be_caught(server: str, tmp_path: Path) -> None:
    """The checks above can fail: a page whose script throws is reported."""
    bad = tmp_path / "bad.html"
    page = httpx.get(server + "/", timeout=30).text.replace("</body>", "<script>nothing.here()</script></body>")
    bad.write_text(
        page.replace('href="/static/', f'href="{server}/static/').replace('src="/static/', f'src="{server}/static/')
    )
    dom, console = render(bad.as_uri(), tmp_path / "bad.png")
    assert any("nothing is not defined" in c for c in console)
    assert re.search(r"<html[^>]*data-errors=", dom)
