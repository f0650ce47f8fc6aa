"""The endpoint pool over real local servers (mock model behind real sockets on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from valuesim.errors import ConfigError, ModelError
from valuesim.llm import GenerateConfig
from valuesim.llm.backends import openai as openai_backend
from valuesim.llm.backends.openai import OpenAIBackend
from valuesim.llm.backends.pool import PoolBackend, make_openai_backend, split_base_urls
from valuesim.llm.model import Model
from valuesim.scale.mockserver import MockServer, lettered_options, mock_servers

QUESTION = "How important is family in your life?\nA. Very important\nB. Rather important\nC. Not important"


@pytest.fixture(autouse=True)
def _fresh_caps():
    openai_backend._CAPS.clear()
    yield
    openai_backend._CAPS.clear()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ActiveCounter:
    """Wraps MockServer._serve_chat to record the most requests served at once."""

    def __init__(self, server: MockServer) -> None:
        self.active = 0
        self.peak = 0
        self.lock = threading.Lock()
        inner = server._serve_chat

        def counted(body):
            with self.lock:
                self.active += 1
                self.peak = max(self.peak, self.active)
            try:
                return inner(body)
            finally:
                with self.lock:
                    self.active -= 1

        server._serve_chat = counted  # type: ignore[method-assign]


def pool_model(urls, **kw) -> Model:
    return Model(PoolBackend("mock", urls, **kw), cache=None, max_retries=0)


async def many(model: Model, n: int, *, prefix: str = "q") -> list[str]:
    results = await asyncio.gather(*(model.generate(f"{prefix} {i}: {QUESTION}") for i in range(n)))
    return [r.text for r in results]


def test_split_base_urls():
    assert split_base_urls("http://a:1/v1, http://b:2/v1/ ,,http://a:1/v1") == ["http://a:1/v1", "http://b:2/v1"]
    assert split_base_urls(["http://a/v1,http://b/v1", "http://c/v1"]) == ["http://a/v1", "http://b/v1", "http://c/v1"]
    assert split_base_urls(None) == [] and split_base_urls(" ") == []


def test_make_openai_backend_picks_single_or_pool(monkeypatch):
    assert isinstance(make_openai_backend("m", "http://a/v1"), OpenAIBackend)
    pool = make_openai_backend("m", "http://a/v1,http://b/v1")
    assert isinstance(pool, PoolBackend) and len(pool.endpoints) == 2
    monkeypatch.setenv("OPENAI_BASE_URL", "http://x/v1,http://y/v1")
    assert isinstance(make_openai_backend("m", None), PoolBackend)
    with pytest.raises(ConfigError):
        PoolBackend("m", [])
    with pytest.raises(ConfigError, match="strategy"):
        PoolBackend("m", ["http://a/v1"], strategy="random")
    with pytest.raises(ConfigError, match="per-endpoint"):
        PoolBackend("m", ["http://a/v1"], per_endpoint=0)


def test_identity_ignores_url_order():
    a = PoolBackend("m", ["http://a/v1", "http://b/v1"])
    b = PoolBackend("m", "http://b/v1,http://a/v1")
    assert a.identity() == b.identity() and a.spec != b.spec
    assert a.default_concurrency == 2 * a.per_endpoint


def test_requests_spread_over_both_servers_and_answers_match_a_single_server():
    with mock_servers(2, latency=0.02) as (s1, s2):
        model = pool_model([s1.url, s2.url], per_endpoint=4)
        texts = asyncio.run(many(model, 24))
        assert s1.requests + s2.requests == 24
        assert s1.requests >= 8 and s2.requests >= 8, (s1.requests, s2.requests)
        assert [s["served"] for s in model.backend.stats()] == [s1.requests, s2.requests]
        single = Model(OpenAIBackend("mock", base_url=s1.url), cache=None)
        assert asyncio.run(many(single, 24)) == texts  # same model behind every endpoint
        assert all(s["failed"] == 0 for s in model.backend.stats())


def test_round_robin_alternates():
    with mock_servers(2) as (s1, s2):
        model = pool_model([s1.url, s2.url], strategy="round-robin")

        async def one_at_a_time() -> None:
            for i in range(6):
                await model.generate(f"hello {i}")

        asyncio.run(one_at_a_time())
        assert s1.requests == s2.requests == 3  # strict alternation


def test_per_endpoint_limit_is_respected():
    with mock_servers(2, latency=0.05) as (s1, s2):
        c1, c2 = ActiveCounter(s1), ActiveCounter(s2)
        backend = PoolBackend("mock", [s1.url, s2.url], per_endpoint=2)
        model = Model(backend, cache=None, max_concurrency=16)  # the pool, not the model, must limit
        asyncio.run(many(model, 16))
        assert c1.peak <= 2 and c2.peak <= 2
        assert c1.peak == 2 and c2.peak == 2  # and both were used fully
        assert s1.requests + s2.requests == 16


def test_fails_over_when_a_server_is_down():
    dead_url = f"http://127.0.0.1:{free_port()}/v1"
    with MockServer() as live:
        backend = PoolBackend("mock", [dead_url, live.url], cooldown=30)
        model = Model(backend, cache=None, max_retries=0)
        texts = asyncio.run(many(model, 10))
        assert len(texts) == 10 and live.requests == 10
        dead, alive = backend.stats()
        assert dead["failed"] >= 1 and dead["served"] == 0 and dead["down_for_s"] > 20
        assert alive["served"] == 10
        # set aside: later requests do not try the dead server again during its cool-down
        before = dead["failed"]
        asyncio.run(many(model, 5, prefix="again"))
        assert backend.stats()[0]["failed"] == before


def test_server_that_dies_mid_run_is_set_aside_and_comes_back():
    with MockServer() as stable:
        flaky = MockServer().start()
        port = flaky.port
        backend = PoolBackend("mock", [flaky.url, stable.url], cooldown=0.3, max_cooldown=0.3)
        model = Model(backend, cache=None, max_retries=0)
        asyncio.run(many(model, 6))
        assert flaky.requests > 0
        flaky.stop()
        asyncio.run(many(model, 6, prefix="during"))  # every request still answered
        assert backend.stats()[0]["failed"] >= 1
        time.sleep(0.35)
        revived = MockServer(port=port).start()  # same address, back after the cool-down
        try:
            asyncio.run(many(model, 8, prefix="after"))
            assert revived.requests > 0
        finally:
            revived.stop()


def test_all_servers_down_is_a_clear_model_error():
    urls = [f"http://127.0.0.1:{free_port()}/v1" for _ in range(2)]
    model = Model(PoolBackend("mock", urls), cache=None, max_retries=0)
    with pytest.raises(ModelError) as err:
        model.generate_sync("hello")
    assert "Cannot reach any" in err.value.message
    assert all(u in err.value.message for u in urls)
    assert "--base-url" in (err.value.hint or "")


def test_choice_scoring_through_the_pool_uses_logprobs():
    with mock_servers(2) as (s1, s2):
        model = pool_model([s1.url, s2.url])
        res = model.score_choices_sync(QUESTION, ["A", "B", "C"], GenerateConfig())
        assert res.source == "logprobs" and abs(sum(res.probs) - 1) < 1e-9


def test_mock_server_reads_lettered_options():
    from valuesim.llm.types import ChatMessage

    assert lettered_options((ChatMessage("user", QUESTION),)) == ["A", "B", "C"]
    assert lettered_options((ChatMessage("user", "no options here"),)) == []


def test_check_endpoints_reports_live_and_dead_servers():
    from valuesim.scale.check import check_endpoints

    dead = f"http://127.0.0.1:{free_port()}/v1"
    with MockServer() as live:
        ok, bad = check_endpoints(f"{live.url},{dead}", "mock", timeout=5)
        assert live.requests == 1
    assert ok.ok and ok.models == ["mock"] and ok.latency_s is not None
    assert not bad.ok and bad.models is None and "Cannot reach" in (bad.error or "")


def test_scale_check_command_exit_codes():
    from typer.testing import CliRunner

    from valuesim.cli import app

    runner = CliRunner()
    with MockServer() as live:
        good = runner.invoke(app, ["scale", "check", "--base-url", live.url, "--model", "openai:mock"])
        assert good.exit_code == 0, good.output
        assert live.url in good.output
        wrong_model = runner.invoke(app, ["scale", "check", "--base-url", live.url, "--model", "openai:other"])
        assert wrong_model.exit_code == 1
    dead = runner.invoke(app, ["scale", "check", "--base-url", f"http://127.0.0.1:{free_port()}/v1", "--model", "m"])
    assert dead.exit_code == 1
    nothing = runner.invoke(app, ["scale", "check"])
    assert isinstance(nothing.exception, ConfigError)


def test_a_burst_of_failures_counts_once():
    dead_url = f"http://127.0.0.1:{free_port()}/v1"
    with MockServer() as live:
        backend = PoolBackend("mock", [dead_url, live.url], cooldown=1.0, max_cooldown=60)
        model = Model(backend, cache=None, max_retries=0)
        asyncio.run(many(model, 12))  # several requests hit the dead server at the same time
        dead = backend.endpoints[0]
        assert dead.failed >= 2
        assert dead.failures_in_row == 1 and dead.down_until - time.monotonic() <= 1.0
