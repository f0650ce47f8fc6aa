"""A tiny OpenAI-compatible server that answers with the mock model.

For dry runs of a cluster set-up without GPUs, for the endpoint-pool tests and for the
scaling benchmark: it speaks just enough of the chat-completions API for
:class:`~valuesim.llm.backends.openai.OpenAIBackend` (plain generation, ``response_format``
with a JSON schema, and first-token ``top_logprobs`` over lettered options), and can add a
fixed latency per request and a limit on requests served at once (``slots``), like a real
inference server whose batch is full.

    python -m valuesim.scale.mockserver --port 8001 --latency 0.05 --slots 8
    valuesim bench ... --model openai:mock --base-url http://127.0.0.1:8001/v1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from valuesim.llm.backends.mock import MockBackend, approx_tokens
from valuesim.llm.types import ChatMessage, GenerateConfig

#: Lettered answer options in a prompt: "A. text", "(B) text", "C) text" at the start of a line.
_OPTION_LINE = re.compile(r"^\s*\(?([A-Z])[.)]\s+\S", re.MULTILINE)


def lettered_options(messages: tuple[ChatMessage, ...]) -> list[str]:
    """The option letters listed in the user turns, in order of first appearance."""
    text = "\n".join(m.content for m in messages if m.role == "user")
    return list(dict.fromkeys(_OPTION_LINE.findall(text)))


class MockServer:
    """OpenAI-compatible mock server on a background thread (see the module docstring).

    ``port=0`` picks a free port; :attr:`url` is the base URL to give to a client.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        model: str = "mock",
        seed: int = 0,
        latency: float = 0.0,
        slots: int | None = None,
    ) -> None:
        if latency < 0:
            raise ValueError("latency must be >= 0")
        if slots is not None and slots < 1:
            raise ValueError("slots must be >= 1")
        self.model = model
        self.latency = latency
        self.backend = MockBackend(seed)
        self._slots = threading.BoundedSemaphore(slots) if slots else None
        self._count_lock = threading.Lock()
        self.requests = 0  # chat completions answered
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = str(self._httpd.server_address[0])
        return f"http://{host}:{self.port}/v1"

    def start(self) -> MockServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name=f"mockserver-{self.port}", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread until interrupted (the command-line entry point)."""
        try:
            self._httpd.serve_forever()
        finally:
            self._httpd.server_close()

    def stop(self) -> None:
        """Stop serving and close the socket (later connections are refused)."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- answering ------------------------------------------------------------------------------
    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        """The chat-completion response to a request body (no HTTP involved)."""
        messages = tuple(ChatMessage(str(m["role"]), str(m["content"])) for m in body["messages"])
        schema = None
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            schema = (fmt.get("json_schema") or {}).get("schema")
        elif fmt.get("type") == "json_object":
            schema = fmt.get("schema")
        config = GenerateConfig(
            temperature=float(body.get("temperature", 0.0)),
            max_tokens=int(body.get("max_tokens") or 256),
            stop=tuple(body.get("stop") or ()),
            seed=body.get("seed"),
            json_schema=schema,
        )
        choice: dict[str, Any] = {"index": 0, "finish_reason": "stop"}
        letters = lettered_options(messages) if body.get("logprobs") else []
        if len(letters) >= 2:
            scores = asyncio.run(self.backend.score_choices(messages, tuple(letters), config))
            ranked = sorted(zip(letters, scores.probs, strict=True), key=lambda lp: -lp[1])
            top_n = int(body.get("top_logprobs") or 1)
            top = [
                {"token": t, "logprob": math.log(max(p, 1e-12)), "bytes": list(t.encode())} for t, p in ranked[:top_n]
            ]
            text = ranked[0][0]
            choice["logprobs"] = {"content": [{**top[0], "top_logprobs": top}]}
        else:
            text = asyncio.run(self.backend.generate(messages, config)).text
        choice["message"] = {"role": "assistant", "content": text}
        return {
            "id": f"mock-{time.monotonic_ns()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [choice],
            "usage": {
                "prompt_tokens": sum(approx_tokens(m.content) for m in messages),
                "completion_tokens": approx_tokens(text),
                "total_tokens": sum(approx_tokens(m.content) for m in messages) + approx_tokens(text),
            },
        }

    def _serve_chat(self, body: dict[str, Any]) -> dict[str, Any]:
        if self._slots is not None:
            self._slots.acquire()
        try:
            if self.latency:
                time.sleep(self.latency)
            out = self.answer(body)
        finally:
            if self._slots is not None:
                self._slots.release()
        with self._count_lock:
            self.requests += 1
        return out

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def log_message(self, *args: Any) -> None:  # quiet
                return

            def _send(self, status: int, obj: dict[str, Any]) -> None:
                data = json.dumps(obj).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": server.model, "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self._send(400, {"error": {"message": "body is not JSON"}})
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                if body.get("model") != server.model:
                    self._send(404, {"error": {"message": f"model {body.get('model')!r} not found"}})
                    return
                if not isinstance(body.get("messages"), list) or not body["messages"]:
                    self._send(400, {"error": {"message": "messages must be a non-empty list"}})
                    return
                self._send(200, server._serve_chat(body))

        return Handler


@contextmanager
def mock_servers(n: int, **options: Any) -> Iterator[list[MockServer]]:
    """*n* mock servers on free local ports, stopped on exit."""
    servers = [MockServer(**options).start() for _ in range(n)]
    try:
        yield servers
    finally:
        for s in servers:
            s.stop()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m valuesim.scale.mockserver", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8001)
    p.add_argument("--model", default="mock", help="model name the server answers to (default: mock)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    p.add_argument("--slots", type=int, default=None, help="requests served at once (default: unlimited)")
    args = p.parse_args(argv)
    server = MockServer(
        host=args.host, port=args.port, model=args.model, seed=args.seed, latency=args.latency, slots=args.slots
    )
    print(f"mock OpenAI-compatible server for model {args.model!r} at {server.url} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
