"""A run against a fault-injecting local server (seeded 429 + Retry-After, 500, 503, stalls
beyond the client timeout): retries absorb (almost all) 30 % faults; at 60 % the failed targets are recorded,
the run finishes, and a rerun against the healthy server completes identical to a clean run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from valuesim.bench import rundir
from valuesim.bench.protocol import ProtocolConfig
from valuesim.bench.runner import RunConfig, run_benchmark
from valuesim.llm import model as llm_model
from valuesim.methods.base import get_method
from valuesim.scale.faults import FaultInjector
from valuesim.scale.mockserver import MockServer
from valuesim.survey import generate_synthetic

# 6 respondents x 5 folds x 5 targets = 150 targets, one model call each
PROTO = ProtocolConfig(n_respondents=6, seed=1, max_targets=5, min_valid=0)
CFG = RunConfig(protocol=PROTO, n_boot=20, command="test", max_failures="100%")
TIMEOUT = 0.3  # the client's; stalls last 2x that


@pytest.fixture(autouse=True)
def short_backoff(monkeypatch):
    """Retry waits of 10 ms instead of 0.5-30 s (same retry logic, bounded test time)."""
    monkeypatch.setattr(llm_model, "_backoff", lambda attempt: 0.01)


@pytest.fixture(scope="module")
def data():
    return generate_synthetic(n=60, seed=1)


def run(data: Any, server: MockServer, out: Path) -> Any:
    method = get_method(
        "demographics", data.codebook, model="openai:mock", base_url=server.url, cache=False, timeout=TIMEOUT
    )
    return run_benchmark(data, method, CFG, out, progress=False)


def predictions(out: Path) -> str:
    return (out / rundir.PREDICTIONS_FILE).read_text()


def faults(rate: float) -> FaultInjector:
    return FaultInjector(rate=rate, seed=1, stall_seconds=2 * TIMEOUT, retry_after=0)


def test_injector_is_seeded_by_request_not_by_timing():
    a, b = faults(0.5), faults(0.5)
    bodies = [f"request {i}".encode() for i in range(200)]
    first = [a.draw(x) for x in bodies]
    assert [b.draw(x) for x in reversed(bodies)][::-1] == first  # order does not matter
    assert 60 < sum(k is not None for k in first) < 140
    assert set(first) == {None, "429", "500", "503", "stall"}
    assert [a.draw(x) for x in bodies] != first  # a retry of the same request draws again
    assert faults(0.0).draw(b"x") is None and FaultInjector(rate=1.0).draw(b"x") is not None
    with pytest.raises(ValueError, match="fault kinds"):
        FaultInjector(rate=0.1, kinds=("418",))


def test_server_answers_faults_as_a_flaky_server_would():
    with MockServer(faults=FaultInjector(rate=1.0, kinds=("429",), retry_after=2)) as server:
        body = {"model": "mock", "messages": [{"role": "user", "content": "hi"}]}
        r = httpx.post(f"{server.url}/chat/completions", json=body, timeout=5)
        assert r.status_code == 429 and r.headers["retry-after"] == "2"
        assert server.faults is not None and server.faults.injected["429"] == 1


def test_30_and_60_percent_faults(data, tmp_path):
    with MockServer() as clean_server:
        clean = run(data, clean_server, tmp_path / "clean")
    assert clean.complete and clean.metrics is not None

    with MockServer(faults=faults(0.3)) as server:
        res = run(data, server, tmp_path / "f30")
        assert server.faults is not None and server.faults.total > 40
        assert set(server.faults.injected) == {"429", "500", "503", "stall"}
        # retries absorb almost every fault; a request whose attempts were cut off 3 times (a
        # stalled server, MAX_CUT_ATTEMPTS) gives up and costs its one target, which a rerun answers
        assert res.n_failed_targets <= 2
        assert all("cut off" in f.message and len(f.targets) == 1 for f in res.failures)
        if not res.complete:
            server.faults = None
            res = run(data, server, tmp_path / "f30")
    assert res.complete and predictions(tmp_path / "f30") == predictions(tmp_path / "clean")

    out = tmp_path / "f60"
    with MockServer(faults=faults(0.6)) as server:
        res = run(data, server, out)
        assert res.metrics is not None and not res.complete  # finished, with failures recorded
        n_failed = res.n_failed_targets
        assert n_failed > 0 and res.metrics["n_failed_targets"] == n_failed
        assert res.metrics["n_predictions"] + n_failed == 150
        failures = [json.loads(x) for x in (out / rundir.FAILURES_FILE).read_text().splitlines()]
        assert len(failures) == n_failed and {f["error"] for f in failures} == {"RequestFailedError"}
        server.faults = None  # the server is healthy again
        again = run(data, server, out)
    assert again.complete and again.n_computed == len(res.failures)  # only the failed units ran again
    assert predictions(out) == predictions(tmp_path / "clean")


def test_cli_reports_failures_exits_non_zero_and_retries_them(data, tmp_path):
    from typer.testing import CliRunner

    from valuesim.cli import app

    args = ["bench", "--synthetic", "60", "-m", "demographics", "--model", "openai:mock", "-n", "6", "--seed", "1"]
    args += ["--max-targets", "5", "--min-valid", "0", "--n-boot", "20", "-o", "cache=false"]
    args += ["--max-failures", "100%", "--out", str(tmp_path / "run"), "--no-progress"]
    with MockServer(faults=FaultInjector(rate=0.6, kinds=("429", "500", "503"), seed=1, retry_after=0)) as server:
        first = CliRunner().invoke(app, [*args, "--base-url", server.url])
        assert first.exit_code == 1, first.output
        assert "failed targets" in first.output and "RequestFailedError" in first.output
        assert "retry only the failed targets" in " ".join(first.output.split())
        server.faults = None
        second = CliRunner().invoke(app, [*args, "--base-url", server.url])
    assert second.exit_code == 0, second.output
    assert "retrying" in second.output and "failed targets" in second.output
