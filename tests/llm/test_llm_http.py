"""OpenAI-compatible backend against a scripted server on a real 127.0.0.1 socket."""

from __future__ import annotations

import math
import socket
import time
from typing import Any

import pytest
from llm_fakes import FakeServer, chat_reply

from valuesim.errors import ModelError
from valuesim.llm import GenerateConfig, get_model
from valuesim.llm import model as model_module

OPTIONS = ["A", "B", "C", "D"]
PROMPT = "Is work important?\nA. Very\nB. Rather\nC. Not very\nD. Not at all"


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The pauses the retry loop chose between attempts, in seconds (recorded, not timed)."""
    seen: list[float] = []

    def wait(state: Any) -> float:
        seen.append(real(state))
        return 0.0

    real = model_module._wait
    monkeypatch.setattr(model_module, "_wait", wait)
    return seen


def _model(server: FakeServer, **kw: Any):
    kw.setdefault("cache", False)
    return get_model("openai:fake-model", base_url=server.url, **kw)


def test_retries_429_honouring_retry_after_then_succeeds(fake_server: FakeServer, waits: list[float]) -> None:
    calls = {"n": 0}

    def handler(path: str, body: dict[str, Any]):
        calls["n"] += 1
        if calls["n"] <= 2:
            return 429, {"error": {"message": "slow down"}}, {"Retry-After": "0"}
        return chat_reply("Hello there.")

    fake_server.handler = handler
    model = _model(fake_server, api_key="sk-test")
    out = model.generate_sync("Hi", GenerateConfig(max_tokens=5, stop=("\n",)))
    assert waits == [0.0, 0.0]  # Retry-After: 0 means no backoff sleep
    assert out.text == "Hello there." and calls["n"] == 3
    assert model.usage.calls == 1 and model.usage.prompt_tokens == 11 and model.usage.completion_tokens == 3
    path, body, headers = fake_server.requests[-1]
    assert path == "/v1/chat/completions"
    assert body["model"] == "fake-model" and body["max_tokens"] == 5 and body["stop"] == ["\n"]
    assert body["messages"] == [{"role": "user", "content": "Hi"}] and body["seed"] == 0
    assert headers["Authorization"] == "Bearer sk-test"


def test_gives_up_after_max_retries_with_clear_error(fake_server: FakeServer) -> None:
    fake_server.handler = lambda p, b: (503, {"error": {"message": "overloaded"}}, {"Retry-After": "0"})
    with pytest.raises(ModelError, match=r"Gave up after 3 attempts.*503.*overloaded"):
        _model(fake_server, max_retries=2).generate_sync("Hi")
    assert len(fake_server.requests) == 3


def test_timeout_is_retried_then_reported(fake_server: FakeServer) -> None:
    def slow(path: str, body: dict[str, Any]):
        time.sleep(1.0)
        return chat_reply("late")

    fake_server.handler = slow
    with pytest.raises(ModelError, match=r"No answer .* within 0.2s"):
        _model(fake_server, timeout=0.2, max_retries=1).generate_sync("Hi")


def test_bad_api_key_is_not_retried(fake_server: FakeServer) -> None:
    fake_server.handler = lambda p, b: (401, {"error": {"message": "Incorrect API key provided"}}, {})
    with pytest.raises(ModelError, match="rejected the API key") as err:
        _model(fake_server).generate_sync("Hi")
    assert "OPENAI_API_KEY" in (err.value.hint or "") and len(fake_server.requests) == 1


def test_unknown_model_lists_served_models(fake_server: FakeServer) -> None:
    fake_server.models = ["llama-3-8b", "qwen2.5-7b"]
    fake_server.handler = lambda p, b: (404, {"error": {"message": "The model `fake-model` does not exist."}}, {})
    with pytest.raises(ModelError, match="'fake-model' is not available") as err:
        _model(fake_server).generate_sync("Hi")
    assert "llama-3-8b, qwen2.5-7b" in (err.value.hint or "")


def test_unreachable_server_fails_fast_with_how_to_start_one(waits: list[float]) -> None:
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ModelError, match=f"Cannot reach .*127.0.0.1:{port}/v1") as err:
        get_model("openai:m", base_url=f"http://127.0.0.1:{port}/v1", cache=False).generate_sync("Hi")
    assert waits == []  # nobody listening: reported at once, not retried with backoff
    assert "llama_cpp.server" in (err.value.hint or "") and "ollama" in (err.value.hint or "")


def test_choice_scoring_from_top_logprobs(fake_server: FakeServer) -> None:
    top = [("B", math.log(0.6)), ("A", math.log(0.2)), (" B", math.log(0.1)), ("The", math.log(0.05))]
    fake_server.handler = lambda p, b: chat_reply("B", top=top)
    res = _model(fake_server).score_choices_sync(PROMPT, OPTIONS)
    assert res.source == "logprobs"
    assert res.probs == pytest.approx([0.2 / 0.9, 0.7 / 0.9, 0.0, 0.0])
    body = fake_server.requests[0][1]
    assert body["logprobs"] is True and body["top_logprobs"] == 20 and body["max_tokens"] == 1
    assert body["temperature"] == 0.0


def test_falls_back_to_constrained_generation_and_remembers(fake_server: FakeServer) -> None:
    """Like llama-cpp-python's server without logits: logprobs and json_schema are rejected
    (as HTTP 500 validation errors), json_object with a schema works."""

    def handler(path: str, body: dict[str, Any]):
        if body.get("logprobs"):
            return 500, {"error": {"message": "logprobs is not supported"}}, {}
        fmt = body.get("response_format")
        if fmt and fmt["type"] != "json_object":
            return 500, {"error": {"message": "Input should be 'text' or 'json_object'"}}, {}
        return chat_reply('{"answer": "C"}')

    fake_server.handler = handler
    model = _model(fake_server)
    res = model.score_choices_sync(PROMPT, OPTIONS)
    assert (res.source, res.probs, res.raw) == ("generation", [0.0, 0.0, 1.0, 0.0], '{"answer": "C"}')
    probes = len(fake_server.requests)
    assert probes == 7  # logprobs, json_schema (each asked 3 times: HTTP 500 may be a flake), json_object
    last = fake_server.requests[-1][1]
    assert last["response_format"]["schema"]["properties"]["answer"]["enum"] == OPTIONS
    assert "Reply with exactly one of: A, B, C, D" in last["messages"][-1]["content"]
    model.score_choices_sync(PROMPT + "?", OPTIONS)
    assert len(fake_server.requests) == probes + 1  # what the server supports was remembered


def test_one_http_500_while_probing_does_not_switch_logprobs_off(fake_server: FakeServer) -> None:
    """A flaky server's random 500 on the first (probing) request is asked again, not taken as 'unsupported'."""
    answered = []

    def handler(path: str, body: dict[str, Any]):
        answered.append(body)
        if len(answered) == 1:
            return 500, {"error": {"message": "internal error"}}, {}
        return chat_reply("B", top=[("B", -0.1), ("A", -2.5)])

    fake_server.handler = handler
    res = _model(fake_server).score_choices_sync(PROMPT, OPTIONS)
    assert res.source == "logprobs" and len(answered) == 2


def test_unparseable_answer_gives_uniform_and_keeps_raw(fake_server: FakeServer) -> None:
    fake_server.handler = lambda p, b: chat_reply("I'd rather not say.", top=[("I", -0.1)])
    res = _model(fake_server).score_choices_sync(PROMPT, OPTIONS)
    assert res.source == "generation" and res.probs == [0.25] * 4 and res.raw == "I'd rather not say."


def test_multiword_options_skip_the_logprob_path(fake_server: FakeServer) -> None:
    fake_server.handler = lambda p, b: chat_reply("Rather important")
    res = _model(fake_server).score_choices_sync(PROMPT, ["Very important", "Rather important"])
    assert res.source == "generation" and res.probs == [0.0, 1.0]
    assert not any(b.get("logprobs") for _, b, _ in fake_server.requests)


def test_http_results_are_cached(fake_server: FakeServer, cache_dir) -> None:
    fake_server.handler = lambda p, b: chat_reply("cached text")
    assert not _model(fake_server, cache=cache_dir).generate_sync("Hi").cached
    again = _model(fake_server, cache=cache_dir)
    assert again.generate_sync("Hi").text == "cached text" and again.usage.cache_hits == 1
    assert len(fake_server.requests) == 1
