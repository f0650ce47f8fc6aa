"""Backend over several OpenAI-compatible servers that serve the same model (e.g. one vLLM
server per GPU node).

Each request goes to one endpoint, picked among the healthy ones that have a free slot:
``least-busy`` (fewest requests in flight; ties go round the list) or ``round-robin``.
Every endpoint takes at most ``per_endpoint`` requests at once *from this process* (with
several worker processes a server sees up to workers x per_endpoint). When an endpoint
fails at the transport level (refused connection, reset, timeout) or answers "overloaded"
(HTTP 429/5xx), it is put aside for a cool-down that doubles with each failure in a row
(``cooldown`` .. ``max_cooldown`` seconds) and the request is sent to another endpoint. Only
when every endpoint has failed for one request does the request fail -- as a retryable
error, so :class:`~valuesim.llm.model.Model` backs off and tries again -- or, if no endpoint
has ever answered, with a :class:`ModelError` naming every URL.

Each endpoint is an :class:`~valuesim.llm.backends.openai.OpenAIBackend`, so what a server
supports (log-probabilities, response formats) is learned per server. The cache identity is
the model name plus the sorted URL list: the order of ``--base-url`` does not matter.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from valuesim.errors import ConfigError, ModelError
from valuesim.llm.backends.base import BatchScores, Completion, Scores, TransientError
from valuesim.llm.backends.mock import approx_tokens
from valuesim.llm.backends.openai import START_HINT, OpenAIBackend
from valuesim.llm.types import ChatMessage, GenerateConfig

T = TypeVar("T")

STRATEGIES = ("least-busy", "round-robin")
#: Environment variable for the per-endpoint limit (when not passed explicitly).
PER_ENDPOINT_ENV = "VALUESIM_ENDPOINT_CONCURRENCY"
DEFAULT_PER_ENDPOINT = 8
#: How often a request waiting for a free slot re-checks (slots freed by another event loop,
#: cool-downs that ended).
_POLL_SECONDS = 0.2


def split_base_urls(value: str | Sequence[str] | None) -> list[str]:
    """``"http://a/v1, http://b/v1"`` (or a list) -> ``["http://a/v1", "http://b/v1"]``.

    Empty entries and trailing slashes are dropped; duplicates are kept once.
    """
    if value is None:
        return []
    parts = value.split(",") if isinstance(value, str) else [p for v in value for p in str(v).split(",")]
    urls = [p.strip().rstrip("/") for p in parts if p.strip()]
    return list(dict.fromkeys(urls))


def _is_failover(exc: BaseException) -> bool:
    """Should this error send the request to another endpoint (and rest this one)?"""
    if isinstance(exc, TransientError):  # timeouts, lost connections, HTTP 408/409/429/5xx
        return True
    return isinstance(exc, ModelError) and isinstance(exc.__cause__, httpx.TransportError)


@dataclass
class Endpoint:
    """One server of the pool and what this process knows about it."""

    backend: OpenAIBackend
    limit: int
    in_flight: int = 0
    served: int = 0  # requests answered
    failed: int = 0  # requests that failed over
    failures_in_row: int = 0
    down_until: float = 0.0  # time.monotonic() before which the endpoint is set aside
    last_error: str | None = None
    reached: bool = False  # answered at least once
    epoch: int = 0  # +1 each time the endpoint is set aside

    @property
    def url(self) -> str:
        return self.backend.base_url

    def is_up(self, now: float) -> bool:
        return now >= self.down_until

    def stats(self, now: float | None = None) -> dict[str, Any]:
        now = time.monotonic() if now is None else now
        return {
            "url": self.url,
            "in_flight": self.in_flight,
            "served": self.served,
            "failed": self.failed,
            "down_for_s": round(max(0.0, self.down_until - now), 3),
            "last_error": self.last_error,
        }


class PoolBackend:
    """An OpenAI-compatible model served by several endpoints (see the module docstring)."""

    kind = "openai"

    def __init__(
        self,
        model: str,
        base_urls: Sequence[str] | str,
        *,
        api_key: str | None = None,
        timeout: float = 120,
        per_endpoint: int | None = None,
        strategy: str = "least-busy",
        cooldown: float = 5.0,
        max_cooldown: float = 120.0,
    ) -> None:
        urls = split_base_urls(base_urls)
        if not urls:
            raise ConfigError(
                "No server URL given for the endpoint pool.",
                hint="Pass --base-url URL1,URL2 (comma-separated OpenAI-compatible base URLs).",
            )
        if strategy not in STRATEGIES:
            raise ConfigError(
                f"Unknown load-balancing strategy {strategy!r}.", hint=f"Use one of: {', '.join(STRATEGIES)}."
            )
        limit = per_endpoint if per_endpoint is not None else _env_int(PER_ENDPOINT_ENV, DEFAULT_PER_ENDPOINT)
        if limit < 1:
            raise ConfigError(f"The per-endpoint concurrency must be >= 1, got {limit}.")
        if cooldown <= 0 or max_cooldown < cooldown:
            raise ConfigError(f"Need 0 < cooldown <= max_cooldown, got {cooldown} and {max_cooldown}.")
        self.endpoints = [
            Endpoint(OpenAIBackend(model, base_url=u, api_key=api_key, timeout=timeout), limit) for u in urls
        ]
        self.model = model
        self.strategy = strategy
        self.per_endpoint = limit
        self.cooldown = cooldown
        self.max_cooldown = max_cooldown
        self.default_concurrency = limit * len(self.endpoints)
        self.spec = f"openai:{model}@{','.join(e.url for e in self.endpoints)}"
        self._identity = f"openai:{model}@{','.join(sorted(e.url for e in self.endpoints))}"
        self._lock = threading.Lock()
        self._turn = 0  # rotation point for round-robin and for ties
        # per event loop: set (and replaced) whenever a slot frees up, to wake waiting requests
        self._freed: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Event] = weakref.WeakKeyDictionary()

    def identity(self) -> str:
        return self._identity

    def stats(self) -> list[dict[str, Any]]:
        """Per-endpoint counters of this process (for logs, benchmarks and tests)."""
        now = time.monotonic()
        with self._lock:
            return [e.stats(now) for e in self.endpoints]

    # -- choosing an endpoint -----------------------------------------------------------------
    def _pick(self, exclude: set[int]) -> tuple[tuple[Endpoint, int] | None, bool]:
        """((endpoint with a slot, now reserved; its epoch), True) or (None, whether any
        candidate is left)."""
        now = time.monotonic()
        with self._lock:
            n = len(self.endpoints)
            order = [(self._turn + i) % n for i in range(n)]
            candidates = [i for i in order if i not in exclude]
            if not candidates:
                return None, False
            up = [i for i in candidates if self.endpoints[i].is_up(now)]
            # every remaining endpoint is cooling down: probe the one that comes back first
            pool = up or [min(candidates, key=lambda i: self.endpoints[i].down_until)]
            free = [i for i in pool if self.endpoints[i].in_flight < self.endpoints[i].limit]
            if not free:
                return None, True
            if self.strategy == "least-busy":
                chosen = min(free, key=lambda i: self.endpoints[i].in_flight)  # stable: rotation breaks ties
            else:
                chosen = free[0]
            self._turn = (chosen + 1) % n
            ep = self.endpoints[chosen]
            ep.in_flight += 1
            return (ep, ep.epoch), True

    def _freed_event(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        ev = self._freed.get(loop)
        if ev is None:
            ev = self._freed[loop] = asyncio.Event()
        return ev

    def _wake(self) -> None:
        loop = asyncio.get_running_loop()
        ev = self._freed.pop(loop, None)
        if ev is not None:
            ev.set()

    async def _acquire(self, exclude: set[int]) -> tuple[Endpoint, int] | None:
        while True:
            got, left = self._pick(exclude)
            if got is not None or not left:
                return got
            # slots freed in another event loop and ended cool-downs are noticed by polling
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._freed_event().wait(), timeout=_POLL_SECONDS)

    def _release(self, ep: Endpoint, outcome: str, error: BaseException | None = None, epoch: int = -1) -> None:
        """Free the slot. ``outcome``: "ok" (answered), "failed" (set aside) or "neutral"
        (the request ended some other way, e.g. cancelled). A failure lengthens the cool-down
        only if no other request has set the endpoint aside since this one started (*epoch*),
        so a burst of requests failing together counts as one failure."""
        now = time.monotonic()
        with self._lock:
            ep.in_flight -= 1
            if outcome == "ok":
                ep.served += 1
                ep.failures_in_row = 0
                ep.down_until = 0.0
                ep.reached = True
            elif outcome == "failed":
                ep.failed += 1
                ep.last_error = getattr(error, "message", None) or str(error)
                if epoch == ep.epoch:  # the first failure of a burst sets the endpoint aside
                    ep.epoch += 1
                    ep.failures_in_row += 1
                    pause = min(self.cooldown * 2 ** (ep.failures_in_row - 1), self.max_cooldown)
                    retry_after = getattr(error, "retry_after", None)
                    if retry_after is not None:
                        pause = max(pause, min(float(retry_after), self.max_cooldown))
                    ep.down_until = now + pause
        self._wake()

    async def _route(self, call: Callable[[OpenAIBackend], Awaitable[T]]) -> T:
        tried: set[int] = set()
        errors: list[tuple[Endpoint, BaseException]] = []
        while True:
            got = await self._acquire(tried)
            if got is None:
                break
            ep, epoch = got
            tried.add(self.endpoints.index(ep))
            try:
                result = await call(ep.backend)
            except Exception as e:
                if not _is_failover(e):
                    self._release(ep, "ok" if isinstance(e, ModelError) else "neutral")
                    raise
                self._release(ep, "failed", e, epoch)
                errors.append((ep, e))
                continue
            except BaseException:  # cancelled: free the slot, say nothing about the server
                self._release(ep, "neutral")
                raise
            self._release(ep, "ok")
            return result
        raise self._all_failed(errors)

    def _all_failed(self, errors: list[tuple[Endpoint, BaseException]]) -> ModelError:
        detail = "; ".join(f"{ep.url}: {getattr(e, 'message', e)}" for ep, e in errors)
        if any(isinstance(e, TransientError) for _, e in errors) or any(ep.reached for ep in self.endpoints):
            return TransientError(
                f"All {len(self.endpoints)} endpoint(s) failed for this request: {detail}",
                hint="Servers are down or overloaded; retried with backoff. Check them, or lower --concurrency.",
            )
        urls = ", ".join(e.url for e in self.endpoints)
        return ModelError(f"Cannot reach any of the OpenAI-compatible servers ({urls}): {detail}", hint=START_HINT)

    # -- the backend protocol -----------------------------------------------------------------
    async def generate(self, messages: tuple[ChatMessage, ...], config: GenerateConfig) -> Completion:
        return await self._route(lambda b: b.generate(messages, config))

    async def score_choices(
        self, messages: tuple[ChatMessage, ...], options: tuple[str, ...], config: GenerateConfig
    ) -> Scores:
        return await self._route(lambda b: b.score_choices(messages, options, config))

    async def score_batch(
        self, messages: tuple[ChatMessage, ...], options: tuple[tuple[str, ...], ...], config: GenerateConfig
    ) -> BatchScores:
        return await self._route(lambda b: b.score_batch(messages, options, config))

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    async def aclose(self) -> None:
        for ep in self.endpoints:
            await ep.backend.aclose()


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}.") from None


def make_openai_backend(
    model: str, base_url: str | Sequence[str] | None, *, api_key: str | None = None, timeout: float = 120
) -> OpenAIBackend | PoolBackend:
    """One endpoint -> :class:`OpenAIBackend`; a comma-separated list -> :class:`PoolBackend`.

    ``base_url=None`` falls back to OPENAI_BASE_URL (which may itself be a list).
    """
    urls = split_base_urls(base_url if base_url is not None else os.environ.get("OPENAI_BASE_URL"))
    if len(urls) > 1:
        return PoolBackend(model, urls, api_key=api_key, timeout=timeout)
    return OpenAIBackend(model, base_url=urls[0] if urls else None, api_key=api_key, timeout=timeout)


__all__ = ["PER_ENDPOINT_ENV", "STRATEGIES", "Endpoint", "PoolBackend", "make_openai_backend", "split_base_urls"]
