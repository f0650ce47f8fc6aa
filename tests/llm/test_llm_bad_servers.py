"""Broken servers: a reply that drips, a reply that is not a chat completion, an absurd Retry-After.

A timeout is a wall-clock deadline (a server sending one byte at a time cannot hold a request
open), a request cut off ``MAX_CUT_ATTEMPTS`` times gives up, Retry-After is capped,
and a malformed reply is a failed request -- retried, then recorded as a failure -- in the
model layer, ``ask``, ``llm check``, ``bench`` and the viewer's Ask; never an abstention or a
traceback.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from llm_fakes import FakeServer, chat_reply

from valuesim.errors import RequestFailedError
from valuesim.llm import get_model
from valuesim.llm import model as llm_model
from valuesim.llm.backends.openai import MAX_RETRY_AFTER, completion_problem, parse_retry_after


@pytest.fixture(autouse=True)
def short_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llm_model, "_backoff", lambda attempt: 0.01)


@pytest.fixture
def drip_server() -> Iterator[dict[str, Any]]:
    """Answers every POST with headers and then one byte every 50 ms of a long body."""
    state: dict[str, Any] = {"posts": 0, "stop": threading.Event()}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state["posts"] += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                while not state["stop"].is_set():
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:  # the client gave up
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        state["stop"].set()
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- deadlines


def test_a_dripping_server_cannot_hold_a_request(drip_server: dict[str, Any]) -> None:
    model = get_model("openai:m", base_url=drip_server["url"], cache=False, timeout=0.3, max_retries=50)
    match = r"Gave up after 3 attempts, 3 of them cut off by the timeout: No complete answer within 0.3 s"
    with pytest.raises(RequestFailedError, match=match):
        model.generate_sync("Hi")
    # each attempt is cut at 0.3 s of wall clock and retried at once; the third cut ends the request
    assert drip_server["posts"] == llm_model.MAX_CUT_ATTEMPTS == 3


def test_ask_and_llm_check_fail_cleanly_on_a_dripping_server(
    drip_server: dict[str, Any], wvs_csv: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli_helpers import run_cli

    from valuesim.survey import load_survey

    check = run_cli(
        monkeypatch, capsys, "llm", "check", "--model", "openai:m", "--base-url", drip_server["url"], "--timeout", "0.3"
    )
    assert check.code == 2 and "No complete answer within" in check.text and "Traceback" not in check.text
    path = wvs_csv(n=5)
    rid = load_survey(path).ids[0]
    args = ["ask", "--data", str(path), "-r", rid, "-q", "Q46", "--model", "openai:m"]
    ask = run_cli(
        monkeypatch, capsys, *args, "--base-url", drip_server["url"], "-o", "timeout=0.3", "-o", "cache=false"
    )
    assert ask.code == 2 and "got no prediction" in ask.text and "No complete answer within" in ask.text
    assert "Traceback" not in ask.text


def test_retry_after_is_capped() -> None:
    assert MAX_RETRY_AFTER == 60
    assert parse_retry_after("999999999") == MAX_RETRY_AFTER
    assert parse_retry_after("Wed, 21 Oct 2099 07:28:00 GMT") == MAX_RETRY_AFTER
    assert parse_retry_after("2") == 2.0 and parse_retry_after("-5") == 0.0 and parse_retry_after("soon") is None


def test_the_wait_before_a_retry_is_the_capped_retry_after(fake_server: FakeServer) -> None:
    from valuesim.llm.backends.base import TransientError

    absurd = TransientError("HTTP 429", retry_after=parse_retry_after("999999999"))
    assert llm_model._wait(absurd, 1) == MAX_RETRY_AFTER
    assert llm_model._wait(TransientError("HTTP 503"), 1) == 0.01  # no Retry-After: the backoff


# --------------------------------------------------------------------------- malformed replies


def _good() -> dict[str, Any]:
    return chat_reply("A", top=[("A", -0.1), ("B", -2.5)])[1]


def _malformed(kind: str) -> dict[str, Any]:
    body = _good()
    if kind == "message-null":
        body["choices"][0]["message"] = None
    elif kind == "usage-many":
        body["usage"]["completion_tokens"] = "many"
    elif kind == "no-choices":
        del body["choices"]
    elif kind == "empty-choices":
        body["choices"] = []
    elif kind == "content-number":
        body["choices"][0]["message"]["content"] = 5
    elif kind == "logprobs-garbage":
        body["choices"][0]["logprobs"] = {"content": [{"token": "A", "top_logprobs": [{"token": 1}]}]}
    elif kind == "not-an-object":
        return ["choices"]  # type: ignore[return-value]
    return body


MALFORMED = ["message-null", "usage-many", "no-choices", "empty-choices", "content-number", "logprobs-garbage"]


def test_completion_problem_names_each_defect() -> None:
    assert completion_problem(_good()) is None
    assert completion_problem(_malformed("not-an-object")) == "not a JSON object"
    for kind in MALFORMED:
        assert completion_problem(_malformed(kind)), kind


@pytest.mark.parametrize("kind", MALFORMED)
def test_a_malformed_reply_is_a_failed_request_not_an_answer(fake_server: FakeServer, kind: str) -> None:
    fake_server.handler = lambda p, b: (200, _malformed(kind), {})
    model = get_model("openai:fake-model", base_url=fake_server.url, cache=False, max_retries=1)
    with pytest.raises(RequestFailedError, match="malformed chat completion"):
        model.score_choices_sync("Pick one\nA. x\nB. y", ["A", "B"])
    with pytest.raises(RequestFailedError, match="malformed chat completion"):
        model.generate_sync("Hi")
    assert len(fake_server.requests) >= 4  # each request was retried


def test_a_malformed_reply_is_retried_and_the_next_good_one_used(fake_server: FakeServer, tmp_path: Path) -> None:
    replies = iter([_malformed("message-null"), _good()])
    fake_server.handler = lambda p, b: (200, next(replies, _good()), {})
    model = get_model("openai:fake-model", base_url=fake_server.url, cache=tmp_path / "c", max_retries=2)
    assert model.generate_sync("Hi").text == "A"


@pytest.fixture
def broken(fake_server: FakeServer) -> FakeServer:
    fake_server.handler = lambda p, b: (200, _malformed("message-null"), {})
    return fake_server


def test_ask_and_llm_check_report_a_malformed_reply(
    broken: FakeServer, wvs_csv: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli_helpers import run_cli

    from valuesim.survey import load_survey

    for body in ({"usage-many": 1}, {"message-null": 1}):
        kind = next(iter(body))
        broken.handler = lambda p, b, kind=kind: (200, _malformed(kind), {})
        check = run_cli(monkeypatch, capsys, "llm", "check", "--model", "openai:fake-model", "--base-url", broken.url)
        assert check.code == 2 and "malformed chat completion" in check.text and "Traceback" not in check.text
    path = wvs_csv(n=5)
    rid = load_survey(path).ids[0]
    args = [
        "ask",
        "--data",
        str(path),
        "-r",
        rid,
        "-q",
        "Q46",
        "--model",
        "openai:fake-model",
        "--base-url",
        broken.url,
    ]
    ask = run_cli(monkeypatch, capsys, *args, "-o", "max_retries=1")
    assert ask.code == 2, ask.text
    assert "Prediction: failed" in ask.out and "malformed chat completion" in ask.text
    assert "abstain" not in ask.text and "Prediction: none" not in ask.text and "Traceback" not in ask.text


def test_bench_records_a_malformed_reply_as_a_failure_and_retries_it(broken: FakeServer, tmp_path: Path) -> None:
    from valuesim.bench import rundir
    from valuesim.bench.protocol import ProtocolConfig
    from valuesim.bench.runner import RunConfig, run_benchmark
    from valuesim.methods import get_method
    from valuesim.survey import generate_synthetic

    data = generate_synthetic(n=20, seed=1)
    cfg = RunConfig(
        protocol=ProtocolConfig(n_respondents=2, seed=1, max_targets=2, min_valid=0, only_folds=(0,)),
        n_boot=10,
        command="test",
        max_failures="100%",
    )

    def run() -> Any:
        method = get_method(
            "demographics",
            data.codebook,
            model="openai:fake-model",
            base_url=broken.url,
            cache=str(tmp_path / "cache"),
            max_retries=1,
        )
        return run_benchmark(data, method, cfg, tmp_path / "run")

    from valuesim.bench.record import TooManyFailuresError

    with pytest.raises(TooManyFailuresError, match="Every target failed"):
        run()
    rows = [json.loads(x) for x in (tmp_path / "run" / rundir.FAILURES_FILE).read_text().splitlines()]
    assert len(rows) == 4 and all("malformed chat completion" in r["message"] for r in rows)
    assert not (tmp_path / "run" / rundir.PREDICTIONS_FILE).read_text().strip()  # no "abstentions"
    broken.handler = lambda p, b: chat_reply("A", top=[("A", -0.1), ("B", -2.5)])
    again = run()
    assert again.complete and again.metrics is not None and again.metrics["n_predictions"] == 4


def test_viewer_ask_shows_a_malformed_reply_as_a_failed_request(broken: FakeServer) -> None:
    from valuesim.survey import generate_synthetic
    from valuesim.view.ask import AskRunner

    data = generate_synthetic(n=5, seed=1)
    # the model options of `valuesim view --model openai:fake-model --base-url URL --no-cache`
    runner = AskRunner(data, {"model": "openai:fake-model", "base_url": broken.url, "cache": False, "max_retries": 1})
    try:
        job = runner.submit(data.ids[0], "Q46", "valuesim")
        for _ in range(600):
            if job.status in ("done", "failed"):
                break
            time.sleep(0.05)
    finally:
        runner.close()
    assert job.status == "failed" and "malformed chat completion" in job.error
    assert "Traceback" not in job.error + job.hint and job.prediction is None
