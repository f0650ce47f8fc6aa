"""A tiny OpenAI-compatible server that answers with the mock model.

For dry runs of a cluster set-up without GPUs, for the endpoint-pool tests and for the
scaling benchmark: it speaks just enough of the chat-completions API for
:class:`~valuesim.llm.backends.openai.OpenAIBackend` (plain generation, ``response_format``
with a JSON schema, and first-token ``top_logprobs`` over lettered options), and can add a
fixed latency per request and a limit on requests served at once (``slots``), like a real
inference server whose batch is full. With ``faults`` (a
:class:`~valuesim.scale.faults.FaultInjector`) it answers a seeded share of requests with
HTTP 429 (with Retry-After), 500, 503 or a stall beyond the client's timeout.

Cost accounting (``log``, a :class:`~valuesim.scale.tokencount.RequestLog`): every request is
counted in the tokens of one tokenizer (sent, computed under an ideal prefix cache, completion).
With ``answer_model`` (any :class:`~valuesim.llm.Model`, e.g. the embedded one) the server
answers with that model instead of the mock, so a method run through it gets real answers and
its token bill at once. Multi-question prompts ("Question 1: ... Question 2: ...") asked with
``logprobs`` get a greedy "1: B\\n2: A" answer with ``top_logprobs`` at every answer letter.

    python -m valuesim.scale.mockserver --port 8001 --latency 0.05 --slots 8
    python -m valuesim.scale.mockserver --count-tokens embedded --answer-model local --log requests.jsonl
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

from valuesim.llm.backends.base import batch_prefix
from valuesim.llm.backends.mock import MockBackend, approx_tokens
from valuesim.llm.model import Model
from valuesim.llm.types import ChatMessage, GenerateConfig
from valuesim.scale.faults import FaultInjector, parse_kinds
from valuesim.scale.tokencount import RequestLog, make_tokenizer

#: Lettered answer options in a prompt: "A. text", "(B) text", "C) text" at the start of a line.
_OPTION_LINE = re.compile(r"^\s*\(?([A-Z])[.)]\s+\S", re.MULTILINE)


def lettered_options(messages: tuple[ChatMessage, ...]) -> list[str]:
    """The option letters listed in the user turns, in order of first appearance."""
    text = "\n".join(m.content for m in messages if m.role == "user")
    return list(dict.fromkeys(_OPTION_LINE.findall(text)))


#: "Question 2: ..." at the start of a line: one item of a multi-question prompt.
_ITEM_LINE = re.compile(r"^Question (\d+):", re.MULTILINE)


def question_items(messages: tuple[ChatMessage, ...]) -> list[list[str]]:
    """Option letters of each numbered question ("Question 1: ...") of the last user turn."""
    users = [m.content for m in messages if m.role == "user"]
    if not users:
        return []
    text = users[-1]
    starts = list(_ITEM_LINE.finditer(text))
    items = []
    for k, m in enumerate(starts):
        end = starts[k + 1].start() if k + 1 < len(starts) else len(text)
        items.append(list(dict.fromkeys(_OPTION_LINE.findall(text[m.end() : end]))))
    return items if len(items) >= 2 and all(len(i) >= 2 for i in items) else []


def _top(ranked: list[tuple[str, float]], n: int) -> list[dict[str, Any]]:
    return [{"token": t, "logprob": math.log(max(p, 1e-12)), "bytes": list(t.encode())} for t, p in ranked[:n]]


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
        log: RequestLog | None = None,
        answer_model: Model | None = None,
        faults: FaultInjector | None = None,
    ) -> None:
        if latency < 0:
            raise ValueError("latency must be >= 0")
        if slots is not None and slots < 1:
            raise ValueError("slots must be >= 1")
        self.model = model
        self.latency = latency
        self.backend = MockBackend(seed)
        self.log = log
        self.answer_model = answer_model
        self.faults = faults
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
        top_n = int(body.get("top_logprobs") or 1)
        items = question_items(messages) if body.get("logprobs") else []
        letters = lettered_options(messages) if body.get("logprobs") and not items else []
        if items:
            kind = "batch"
            text, choice["logprobs"] = self._answer_batch(messages, items, config, top_n)
        elif len(letters) >= 2:
            kind = "score"
            probs = asyncio.run(self._score(messages, letters, config))
            ranked = sorted(zip(letters, probs, strict=True), key=lambda lp: -lp[1])
            top = _top(ranked, top_n)
            text = ranked[0][0]
            choice["logprobs"] = {"content": [{**top[0], "top_logprobs": top}]}
        else:
            kind = "generate"
            text = asyncio.run(self._generate(messages, config))
        choice["message"] = {"role": "assistant", "content": text}
        prompt_tokens = sum(approx_tokens(m.content) for m in messages)
        completion_tokens = approx_tokens(text)
        if self.log is not None:
            rec = self.log.record(messages, text, kind)
            prompt_tokens, completion_tokens = rec.sent, rec.completion
        return {
            "id": f"mock-{time.monotonic_ns()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [choice],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    async def _score(
        self, messages: tuple[ChatMessage, ...], letters: list[str], config: GenerateConfig
    ) -> list[float]:
        if self.answer_model is not None:
            return (await self.answer_model.score_choices(messages, letters)).probs
        return (await self.backend.score_choices(messages, tuple(letters), config)).probs

    async def _generate(self, messages: tuple[ChatMessage, ...], config: GenerateConfig) -> str:
        if self.answer_model is not None:
            return (await self.answer_model.generate(messages, config)).text
        return (await self.backend.generate(messages, config)).text

    def _answer_batch(
        self, messages: tuple[ChatMessage, ...], items: list[list[str]], config: GenerateConfig, top_n: int
    ) -> tuple[str, dict[str, Any]]:
        """A greedy "1: B\\n2: A" answer with the answer letters' log-probabilities per position."""
        if self.answer_model is not None:
            res = asyncio.run(self.answer_model.score_batch(messages, items))
            probs = list(res.probs)
        else:
            out = asyncio.run(self.backend.score_batch(messages, tuple(tuple(i) for i in items), config))
            probs = list(out.probs)
        content: list[dict[str, Any]] = []
        text = ""
        for i, (letters, p) in enumerate(zip(items, probs, strict=True)):
            dist = p if p is not None else [1.0 / len(letters)] * len(letters)
            ranked = sorted(zip([f" {x}" for x in letters], dist, strict=True), key=lambda lp: -lp[1])
            top = _top(ranked, top_n)
            for tok in (batch_prefix(i),):
                content.append({"token": tok, "logprob": 0.0, "bytes": list(tok.encode()), "top_logprobs": []})
            content.append({**top[0], "top_logprobs": top})
            content.append({"token": "\n", "logprob": 0.0, "bytes": [10], "top_logprobs": []})
            text += f"{batch_prefix(i)}{ranked[0][0]}\n"
        return text, {"content": content}

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

            def _send(self, status: int, obj: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(obj).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a stalled request)
                    self.close_connection = True

            def _fault(self, raw: bytes) -> bool:
                """Inject the seeded fault of this request, if any; True when the request is answered."""
                kind = server.faults.draw(raw) if server.faults is not None else None
                if kind is None:
                    return False
                if kind == "stall":
                    time.sleep(server.faults.stall_seconds)  # type: ignore[union-attr]
                    return False  # then answer (the client has given up by now)
                status = int(kind)
                headers = {"Retry-After": f"{server.faults.retry_after:g}"} if status == 429 else None  # type: ignore[union-attr]
                message = {429: "rate limit reached (injected)", 500: "internal error (injected)"}.get(
                    status, "server overloaded (injected)"
                )
                self._send(status, {"error": {"message": message, "type": "injected_fault"}}, headers)
                return True

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": server.model, "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
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
                if self._fault(raw):
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
    p.add_argument("--count-tokens", default=None, help="count tokens with: embedded, bytes or a .gguf path")
    p.add_argument("--log", default=None, help="append one JSON line per request here (needs --count-tokens)")
    p.add_argument("--answer-model", default=None, help="answer with this model spec (e.g. local) instead of the mock")
    p.add_argument("--fault-rate", type=float, default=0.0, help="share of requests answered with a fault")
    p.add_argument("--faults", default="429,500,503,stall", help="fault kinds: 429,500,503,stall")
    p.add_argument("--fault-seed", type=int, default=0)
    p.add_argument("--stall-seconds", type=float, default=3.0, help="length of a stall")
    args = p.parse_args(argv)
    if args.log and not args.count_tokens:
        p.error("--log needs --count-tokens (embedded, bytes or a .gguf path)")
    log = RequestLog(make_tokenizer(args.count_tokens), args.log) if args.count_tokens else None
    answerer = None
    if args.answer_model:
        from valuesim.llm import get_model

        answerer = get_model(args.answer_model)
    faults = None
    if args.fault_rate:
        faults = FaultInjector(
            rate=args.fault_rate, kinds=parse_kinds(args.faults), seed=args.fault_seed, stall_seconds=args.stall_seconds
        )
    server = MockServer(
        host=args.host,
        port=args.port,
        model=args.model,
        seed=args.seed,
        latency=args.latency,
        slots=args.slots,
        log=log,
        answer_model=answerer,
        faults=faults,
    )
    print(f"mock OpenAI-compatible server for model {args.model!r} at {server.url} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
