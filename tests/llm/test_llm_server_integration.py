"""End to end through HTTP: llama-cpp-python's OpenAI-compatible server with the embedded GGUF,
started on 127.0.0.1 as a subprocess, driven by the openai: backend."""

from __future__ import annotations

import importlib.util
import math
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from valuesim.llm import ChatMessage, GenerateConfig, get_model

pytestmark = [pytest.mark.local_model, pytest.mark.slow]

SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
MESSAGES = [
    ChatMessage("system", "You answer survey questions."),
    ChatMessage("user", "Is a cat an animal?\nA. Yes\nB. No\nAnswer with the letter only."),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(gguf_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    missing = [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"llama-cpp-python's server needs {', '.join(missing)}: pip install 'llama-cpp-python[server]'")
    port = _free_port()
    log = (tmp_path_factory.mktemp("llama-server") / "server.log").open("w")
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf_path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--n_threads",
        "1",
    ]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with code {proc.returncode}; see {log.name}")
            try:
                if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start within 120 s; see {log.name}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_generate_over_http(llama_server: str) -> None:
    model = get_model("openai:smollm2", base_url=llama_server, cache=False)
    out = model.generate_sync(MESSAGES, GenerateConfig(max_tokens=8))
    assert out.text.strip() and not out.cached
    assert model.usage.calls == 1 and 0 < model.usage.completion_tokens <= 8 and model.usage.prompt_tokens > 20


def test_choice_scores_over_http_match_in_process(llama_server: str) -> None:
    http = get_model("openai:smollm2", base_url=llama_server, cache=False).score_choices_sync(MESSAGES, ["A", "B"])
    assert http.source == "logprobs" and math.isclose(sum(http.probs), 1.0)
    local = get_model("local", cache=False, n_ctx=2048).score_choices_sync(MESSAGES, ["A", "B"])
    # same weights, same chat format (ChatML with a system turn): the same distribution (measured
    # equal to 1e-8; the top-20 list holds both letters here)
    assert http.probs == pytest.approx(local.probs, abs=1e-4)


def test_multiword_options_use_constrained_generation_over_http(llama_server: str) -> None:
    model = get_model("openai:smollm2", base_url=llama_server, cache=False)
    messages = [MESSAGES[0], ChatMessage("user", "Is a cat an animal?")]
    res = model.score_choices_sync(messages, ["Yes it is", "No it is not"])
    assert res.source == "generation" and sorted(res.probs) == [0.0, 1.0]
    # the server rejects json_schema (HTTP 500 validation error) but takes json_object with a schema
    assert model.backend.caps.response_format == "json_object"
