"""Backend for any OpenAI-compatible chat-completions server (OpenAI, vLLM, llama.cpp, Ollama ...).

Choice scoring first asks for the first answer token's top-20 log-probabilities and reads the
options off that list (exact for single-token options such as letter labels). Servers that do
not return log-probabilities, or options that are not single tokens, go through constrained
generation (``response_format`` with a JSON-schema enum when the server supports it, else a plain
instruction) and the answer is parsed into a one-hot distribution. What each server supports is
learned on first use and remembered for the rest of the process.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import time
import weakref
from dataclasses import dataclass
from typing import Any

import httpx

from valuesim._redact import register_secret
from valuesim.errors import ConfigError, ModelError
from valuesim.llm.backends.base import BatchScores, Completion, Scores, TransientError, batch_prefix
from valuesim.llm.backends.mock import approx_tokens
from valuesim.llm.choices import choice_schema, instruct_choice, one_hot, parse_choice, probs_from_top_logprobs
from valuesim.llm.types import ChatMessage, GenerateConfig

DEFAULT_BASE_URL = "https://api.openai.com/v1"
TOP_LOGPROBS = 20  # the maximum OpenAI and vLLM (by default) accept
MAX_RETRY_AFTER = 300.0
START_HINT = (
    "Start a server, e.g. `python -m llama_cpp.server --model model.gguf --port 8080` "
    "(then --base-url http://127.0.0.1:8080/v1), `vllm serve <model>` (port 8000), or `ollama serve` "
    "(http://127.0.0.1:11434/v1); or pass the right --base-url / set OPENAI_BASE_URL."
)


class _Unsupported(Exception):
    """The server rejected an optional feature (logprobs, response_format) while probing for it."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


#: A probe answered HTTP 500 is asked this often before the feature counts as unsupported: some
#: servers answer 500 to a parameter they do not know, but a flaky server answers 500 at random,
#: and one unlucky probe must not switch scoring off for the whole process.
_PROBE_ATTEMPTS = 3


@dataclass
class ServerCaps:
    logprobs: bool | None = None  # None = not tried yet
    response_format: str | None = None  # "json_schema" | "json_object" | "none" | None (unknown)


_CAPS: dict[tuple[str, str], ServerCaps] = {}
_RESPONSE_FORMATS = ("json_schema", "json_object")


def _response_format(kind: str, schema: dict[str, Any], strict: bool) -> dict[str, Any]:
    if kind == "json_schema":  # OpenAI, vLLM, Ollama, llama.cpp's own server
        return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": strict}}
    return {"type": "json_object", "schema": schema}  # llama-cpp-python's server


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max(when.timestamp() - time.time(), 0.0), MAX_RETRY_AFTER)


def _server_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300].strip()
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("message") or err.get("detail") or err)[:300]
        return str(err)[:300]
    return str(body)[:300]


class OpenAIBackend:
    kind = "openai"
    default_concurrency = 8

    def __init__(
        self, model: str, *, base_url: str | None = None, api_key: str | None = None, timeout: float = 120
    ) -> None:
        if not model:
            raise ConfigError(
                "No model name after 'openai:'.", hint="Use e.g. openai:gpt-4o-mini or openai:qwen2.5:7b."
            )
        base = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise ConfigError(f"Base URL must start with http:// or https://, got {base!r}.")
        self.model = model
        self.base_url = base
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        register_secret(self.api_key)  # never written to a file, page or message (valuesim._redact)
        self.timeout = timeout
        self.spec = f"openai:{model}@{base}"
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )
        self._reached = False  # after one answer, connection errors count as transient

    @property
    def caps(self) -> ServerCaps:
        return _CAPS.setdefault((self.base_url, self.model), ServerCaps())

    def identity(self) -> str:
        return self.spec

    # -- HTTP plumbing ---------------------------------------------------------------------
    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            client = httpx.AsyncClient(
                headers=headers, timeout=httpx.Timeout(self.timeout, connect=min(10.0, self.timeout))
            )
            self._clients[loop] = client
        return client

    async def aclose(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()

    async def _post(self, payload: dict[str, Any], *, probe: bool = False) -> dict[str, Any]:
        for attempt in range(_PROBE_ATTEMPTS if probe else 1):
            try:
                return await self._post_once(payload, probe=probe)
            except _Unsupported as e:
                if e.status < 500 or attempt == _PROBE_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.1 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _post_once(self, payload: dict[str, Any], *, probe: bool = False) -> dict[str, Any]:
        url = f"{self.base_url}/chat/completions"
        try:
            r = await self._client().post(url, json=payload)
        except httpx.TimeoutException as e:
            raise TransientError(
                f"No answer from {url} within {self.timeout:g}s ({type(e).__name__}).",
                hint="The server may be overloaded; lower --concurrency or raise the timeout.",
            ) from e
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as e:
            if self._reached:
                raise TransientError(f"Lost the connection to {url}: {e}", hint=START_HINT) from e
            raise ModelError(
                f"Cannot reach an OpenAI-compatible server at {self.base_url} ({e}).", hint=START_HINT
            ) from e
        status = r.status_code
        if status == 200:
            self._reached = True
            try:
                data = r.json()
                data["choices"][0]
            except (ValueError, KeyError, IndexError, TypeError) as e:
                raise ModelError(f"{url} answered 200 but not with a chat completion: {r.text[:200]!r}") from e
            return data
        self._reached = True
        message = _server_message(r)
        if status in (408, 409, 429, 502, 503, 504) or (status >= 500 and not probe):
            raise TransientError(
                f"{url} answered HTTP {status}: {message}",
                hint="Rate limited or overloaded; retried with backoff. Lower --concurrency if this persists.",
                retry_after=parse_retry_after(r.headers.get("retry-after")),
            )
        if status in (401, 403):
            raise ModelError(
                f"The server at {self.base_url} rejected the API key (HTTP {status}): {message}",
                hint="Set OPENAI_API_KEY (or pass api_key=...) to a valid key for this server.",
            )
        if status == 404:
            raise await self._explain_404(message)
        if probe:
            raise _Unsupported(f"HTTP {status}: {message}", status)
        raise ModelError(f"{url} rejected the request (HTTP {status}): {message}")

    async def list_models(self) -> list[str] | None:
        try:
            r = await self._client().get(f"{self.base_url}/models")
            r.raise_for_status()
            return [str(m["id"]) for m in r.json().get("data", [])]
        except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError):
            return None

    async def _explain_404(self, message: str) -> ModelError:
        served = await self.list_models()
        if served is not None and self.model not in served:
            shown = ", ".join(served[:20]) + (" ..." if len(served) > 20 else "")
            return ModelError(
                f"Model {self.model!r} is not available at {self.base_url}: {message}",
                hint=f"Models served there: {shown or '(none listed)'}. Use --model openai:<one of them>.",
            )
        return ModelError(
            f"{self.base_url}/chat/completions was not found (HTTP 404): {message}",
            hint="OpenAI-compatible base URLs usually end in /v1, e.g. http://127.0.0.1:8080/v1.",
        )

    def _payload(self, messages: tuple[ChatMessage, ...], config: GenerateConfig, **extra: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [m.to_dict() for m in messages],
            "temperature": config.temperature,
            "max_tokens": config.max_tokens,
        }
        seed = config.effective_seed()
        if seed is not None:
            payload["seed"] = seed
        if config.stop:
            payload["stop"] = list(config.stop)
        payload.update(extra)
        return payload

    @staticmethod
    def _text_and_usage(data: dict[str, Any], messages: tuple[ChatMessage, ...]) -> Completion:
        text = (data["choices"][0].get("message") or {}).get("content") or ""
        usage = data.get("usage") or {}
        prompt = usage.get("prompt_tokens")
        completion = usage.get("completion_tokens")
        return Completion(
            text,
            int(prompt) if prompt is not None else sum(approx_tokens(m.content) for m in messages),
            int(completion) if completion is not None else approx_tokens(text),
        )

    # -- generation ------------------------------------------------------------------------
    async def _constrained(
        self, messages: tuple[ChatMessage, ...], config: GenerateConfig, schema: dict[str, Any], strict: bool = False
    ) -> Completion:
        """Generate under a JSON schema, using whichever response_format the server accepts;
        servers that accept none get the schema as an instruction instead."""
        caps = self.caps
        kinds = _RESPONSE_FORMATS if caps.response_format is None else (caps.response_format,)
        for kind in kinds:
            if kind == "none":
                break
            try:
                data = await self._post(
                    self._payload(messages, config, response_format=_response_format(kind, schema, strict)),
                    probe=caps.response_format is None,
                )
            except _Unsupported:
                continue
            caps.response_format = kind
            return self._text_and_usage(data, messages)
        caps.response_format = "none"
        note = "\n\nReply only with JSON that matches this JSON schema: " + json.dumps(schema)
        last_user = (
            max(i for i, m in enumerate(messages) if m.role == "user")
            if any(m.role == "user" for m in messages)
            else None
        )
        if last_user is None:
            messages = (*messages, ChatMessage("user", note.strip()))
        else:
            m = messages[last_user]
            messages = (*messages[:last_user], ChatMessage("user", m.content + note), *messages[last_user + 1 :])
        return self._text_and_usage(await self._post(self._payload(messages, config)), messages)

    async def generate(self, messages: tuple[ChatMessage, ...], config: GenerateConfig) -> Completion:
        if config.json_schema is not None:
            return await self._constrained(messages, config, config.json_schema)
        return self._text_and_usage(await self._post(self._payload(messages, config)), messages)

    # -- choice scoring ----------------------------------------------------------------------
    async def score_choices(
        self, messages: tuple[ChatMessage, ...], options: tuple[str, ...], config: GenerateConfig
    ) -> Scores:
        caps = self.caps
        prompt_tokens = completion_tokens = 0
        single_tokens = all(not any(ch.isspace() for ch in o.strip()) for o in options)
        if caps.logprobs is not False and single_tokens:
            probe = caps.logprobs is None
            try:
                data = await self._post(
                    self._payload(
                        messages,
                        GenerateConfig(temperature=0.0, max_tokens=1, seed=config.seed, sample=config.sample),
                        logprobs=True,
                        top_logprobs=TOP_LOGPROBS,
                    ),
                    probe=probe,
                )
            except _Unsupported:
                caps.logprobs = False
            else:
                top = _first_token_top(data)
                caps.logprobs = top is not None
                used = self._text_and_usage(data, messages)
                prompt_tokens, completion_tokens = used.prompt_tokens, used.completion_tokens
                probs = probs_from_top_logprobs(top or [], options)
                if probs is not None:
                    return Scores(probs, "logprobs", prompt_tokens, completion_tokens)
        # generation fallback: the model names an option, we parse it into a one-hot vector
        gen_config = GenerateConfig(
            temperature=config.temperature,
            max_tokens=32 + max(len(o) for o in options) // 2,
            seed=config.seed,
            sample=config.sample,
        )
        out = await self._constrained(
            instruct_choice(messages, options), gen_config, choice_schema(options), strict=True
        )
        index = parse_choice(out.text, options)
        return Scores(
            one_hot(index, len(options)),
            "generation",
            prompt_tokens + out.prompt_tokens,
            completion_tokens + out.completion_tokens,
            raw=out.text,
        )

    async def score_batch(
        self, messages: tuple[ChatMessage, ...], options: tuple[tuple[str, ...], ...], config: GenerateConfig
    ) -> BatchScores:
        """One greedy generation with per-token ``top_logprobs``; item i's distribution is read at
        the letter that follows "i:" at the start of a line. Items the answer does not reach (or
        a server without log-probabilities) come back as None: the caller asks those one by one."""
        budget = 6 * len(options) + 8
        try:
            data = await self._post(
                self._payload(
                    messages,
                    GenerateConfig(temperature=0.0, max_tokens=budget, seed=config.seed, sample=config.sample),
                    logprobs=True,
                    top_logprobs=TOP_LOGPROBS,
                ),
                probe=self.caps.logprobs is None,
            )
        except _Unsupported:
            self.caps.logprobs = False
            return BatchScores([None] * len(options), "logprobs", 0, 0)
        used = self._text_and_usage(data, messages)
        try:
            content = data["choices"][0]["logprobs"]["content"] or []
        except (KeyError, IndexError, TypeError):
            content = []
        return BatchScores(
            read_batch_logprobs(content, options), "logprobs", used.prompt_tokens, used.completion_tokens
        )

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)


def read_batch_logprobs(
    content: list[dict[str, Any]], options: tuple[tuple[str, ...], ...]
) -> list[list[float] | None]:
    """Per-item distributions from the per-token log-probabilities of a "1: B\\n2: A" answer."""
    out: list[list[float] | None] = [None] * len(options)
    line = ""
    for entry in content:
        token = str(entry.get("token", ""))
        head = line.strip()
        for i, opts in enumerate(options):
            if out[i] is None and head == batch_prefix(i) and token.strip() in opts:
                top = [(str(t["token"]), float(t["logprob"])) for t in entry.get("top_logprobs") or []]
                out[i] = probs_from_top_logprobs(top, opts)
                break
        line = (line + token).rsplit("\n", 1)[-1] if "\n" in token else line + token
    return out


def _first_token_top(data: dict[str, Any]) -> list[tuple[str, float]] | None:
    """[(token, logprob), ...] for the first generated token, or None if the server sent none."""
    try:
        content = data["choices"][0]["logprobs"]["content"]
        first = content[0]
        top = first.get("top_logprobs")
        if not top:
            return None
        return [(str(t["token"]), float(t["logprob"])) for t in top]
    except (KeyError, IndexError, TypeError, ValueError):
        return None
