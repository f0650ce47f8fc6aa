"""``Model``: the one object methods talk to. It wraps a backend (how to call a model) with
everything around a call: the persistent cache, retries with backoff, a concurrency limit and
usage accounting. ``get_model(spec)`` builds one from a spec string."""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from valuesim._aio import run_sync
from valuesim.errors import ConfigError, RequestFailedError
from valuesim.llm.backends.base import AttemptTimeout, Backend, TransientError
from valuesim.llm.cache import CachePolicy, ResponseCache, request_key
from valuesim.llm.types import (
    BatchChoiceResult,
    ChatMessage,
    ChoiceResult,
    GenerateConfig,
    GenerateResult,
    MessagesLike,
    Usage,
    normalize_messages,
    validate_options,
)

T = TypeVar("T")

SPEC_HELP = (
    'Model specs: "local" (embedded SmolLM2-135M-Instruct), "local:/path/model.gguf", '
    '"openai:<model>" (with --base-url or OPENAI_BASE_URL), "mock" or "mock:<seed>"; SIMULATED test models: '
    '"mock:oracle=P", "mock:item-oracle=P".'
)

#: A request gives up when this many of its attempts were cut off by the ``timeout`` (a server
#: that stalls or drips persistently); other transient failures are retried ``max_retries`` times.
#: A cut-off attempt is retried at once: its ``timeout`` was the wait.
MAX_CUT_ATTEMPTS = 3


def _backoff(attempt: int) -> float:
    """Wait after failed attempt *attempt* (1-based): 0.5 s, 1 s, 2 s ... capped at 30 s, plus up
    to 1 s of random jitter so parallel workers spread out."""
    return min(30.0, 0.5 * 2 ** (attempt - 1)) + random.uniform(0.0, 1.0)


def _wait(exc: BaseException, attempt: int) -> float:
    """The server's Retry-After when it sent one (capped by the backend), else :func:`_backoff`."""
    retry_after = getattr(exc, "retry_after", None)
    return float(retry_after) if retry_after is not None else _backoff(attempt)


class Model:
    """A language model with caching, retries, a concurrency limit and usage totals."""

    def __init__(
        self,
        backend: Backend,
        *,
        cache: ResponseCache | None = None,
        max_concurrency: int | None = None,
        max_retries: int = 5,
        timeout: float | None = None,
    ) -> None:
        """``timeout``: the wall-clock deadline of one attempt in seconds (a reply still arriving
        then is cut off, however slowly it drips); the request gives up after ``MAX_CUT_ATTEMPTS``
        cut-off attempts. None: no deadline (an in-process model)."""
        if timeout is not None and not timeout > 0:
            raise ConfigError(f"timeout must be > 0 seconds, got {timeout}.")
        concurrency = max_concurrency if max_concurrency is not None else backend.default_concurrency
        if concurrency < 1:
            raise ConfigError(f"max_concurrency must be >= 1, got {concurrency}.")
        if max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {max_retries}.")
        self.backend = backend
        self.cache = cache
        self.max_concurrency = concurrency
        self.max_retries = max_retries
        self.timeout = timeout
        self.usage = Usage()
        self._usage_lock = threading.Lock()
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    # -- identity --------------------------------------------------------------------------
    @property
    def spec(self) -> str:
        return self.backend.spec

    @property
    def identity(self) -> str:
        return self.backend.identity()

    def __repr__(self) -> str:
        where = str(self.cache.path) if self.cache is not None else "off"
        return f"Model({self.spec!r}, cache={where}, max_concurrency={self.max_concurrency})"

    # -- public calls ----------------------------------------------------------------------
    async def generate(self, messages: MessagesLike, config: GenerateConfig | None = None) -> GenerateResult:
        msgs = normalize_messages(messages)
        config = config or GenerateConfig()
        key = self._key("generate", msgs, config)
        hit = self._lookup(key, _generate_entry_problem)
        if hit is not None:
            return GenerateResult(hit["text"], self._count_hit(), cached=True)
        out, latency = await self._call(lambda: self.backend.generate(msgs, config))
        usage = self._count_call(out.prompt_tokens, out.completion_tokens, latency)
        self._store(
            key, {"text": out.text, "prompt_tokens": out.prompt_tokens, "completion_tokens": out.completion_tokens}
        )
        return GenerateResult(out.text, usage, cached=False)

    async def score_choices(
        self, messages: MessagesLike, options: Sequence[str], config: GenerateConfig | None = None
    ) -> ChoiceResult:
        msgs = normalize_messages(messages)
        opts = validate_options(options)
        config = config or GenerateConfig()
        if len(opts) == 1:
            return ChoiceResult([1.0], "logprobs", Usage(), cached=False)
        key = self._key("score_choices", msgs, config, opts)
        hit = self._lookup(key, lambda v: _choice_entry_problem(v, len(opts)))
        if hit is not None:
            return ChoiceResult(hit["probs"], hit["source"], self._count_hit(), cached=True, raw=hit.get("raw"))
        out, latency = await self._call(lambda: self.backend.score_choices(msgs, opts, config))
        usage = self._count_call(out.prompt_tokens, out.completion_tokens, latency)
        self._store(key, {"probs": out.probs, "source": out.source, "raw": out.raw})
        return ChoiceResult(list(out.probs), out.source, usage, cached=False, raw=out.raw)

    async def score_batch(
        self, messages: MessagesLike, options: Sequence[Sequence[str]], config: GenerateConfig | None = None
    ) -> BatchChoiceResult:
        """One call answers several questions: the prompt asks for one line per question
        ("1: B"), and the answer to item ``i`` is read as the distribution over
        ``options[i]`` at its position (greedy decoding: later items see the argmax of earlier
        ones). Items a backend cannot read come back as None. Backends without multi-question
        scoring answer each item with its own :meth:`score_choices` call (same prompt, the
        item's number as a prefilled answer start)."""
        msgs = normalize_messages(messages)
        opts = [validate_options(o) for o in options]
        if not opts:
            raise ConfigError("score_batch needs at least one item.")
        config = config or GenerateConfig()
        key = self._key("score_batch", msgs, config, tuple("|".join(o) for o in opts))
        hit = self._lookup(key, lambda v: _batch_entry_problem(v, [len(o) for o in opts]))
        if hit is not None:
            return BatchChoiceResult(hit["probs"], hit["source"], self._count_hit(), cached=True)
        scorer = getattr(self.backend, "score_batch", None)
        if scorer is None:
            return await self._score_batch_singly(msgs, opts, config)
        out, latency = await self._call(lambda: scorer(msgs, tuple(opts), config))
        usage = self._count_call(out.prompt_tokens, out.completion_tokens, latency)
        self._store(key, {"probs": out.probs, "source": out.source})
        return BatchChoiceResult(list(out.probs), out.source, usage, cached=False)

    async def _score_batch_singly(
        self, msgs: tuple[ChatMessage, ...], opts: list[tuple[str, ...]], config: GenerateConfig
    ) -> BatchChoiceResult:
        from valuesim.llm.backends.base import batch_prefix

        probs: list[list[float] | None] = []
        usage = Usage()
        cached = True
        answer = ""
        for i, o in enumerate(opts):
            prefill = ChatMessage("assistant", answer + batch_prefix(i))
            res = await self.score_choices((*msgs, prefill), o, config)
            probs.append(res.probs)
            usage, cached = usage + res.usage, cached and res.cached
            answer += f"{batch_prefix(i)} {o[res.best]}\n"
        return BatchChoiceResult(probs, "logprobs", usage, cached)

    def score_batch_sync(
        self, messages: MessagesLike, options: Sequence[Sequence[str]], config: GenerateConfig | None = None
    ) -> BatchChoiceResult:
        return self._run_sync(lambda: self.score_batch(messages, options, config))

    def generate_sync(self, messages: MessagesLike, config: GenerateConfig | None = None) -> GenerateResult:
        return self._run_sync(lambda: self.generate(messages, config))

    def score_choices_sync(
        self, messages: MessagesLike, options: Sequence[str], config: GenerateConfig | None = None
    ) -> ChoiceResult:
        return self._run_sync(lambda: self.score_choices(messages, options, config))

    def count_tokens(self, text: str) -> int:
        return self.backend.count_tokens(text)

    def reset_usage(self) -> Usage:
        """Return the totals so far and start counting from zero."""
        with self._usage_lock:
            old, self.usage = self.usage, Usage()
        return old

    async def aclose(self) -> None:
        await self.backend.aclose()

    async def __aenter__(self) -> Model:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- internals -------------------------------------------------------------------------
    def _key(
        self, op: str, msgs: tuple[ChatMessage, ...], config: GenerateConfig, options: tuple[str, ...] | None = None
    ) -> str | None:
        if self.cache is None:
            return None
        request: dict[str, Any] = {
            "op": op,
            "model": self.identity,
            "messages": [m.to_dict() for m in msgs],
            "config": config.to_dict(),
        }
        if options is not None:
            request["options"] = list(options)
        return request_key(request)

    def _lookup(self, key: str | None, problem: Callable[[dict[str, Any]], str | None]) -> dict[str, Any] | None:
        """A cached value of the right shape, else None (a damaged entry warns and is recomputed)."""
        if self.cache is None or key is None:
            return None
        hit = self.cache.get(key)
        if hit is None:
            return None
        what = problem(hit)
        if what is not None:
            self.cache.warn_damaged(key, what)
            return None
        return hit

    def _store(self, key: str | None, value: dict[str, Any]) -> None:
        if self.cache is not None and key is not None:
            self.cache.put(key, value)

    def _count_hit(self) -> Usage:
        usage = Usage(cache_hits=1)
        with self._usage_lock:
            self.usage = self.usage + usage
        return usage

    def _count_call(self, prompt_tokens: int, completion_tokens: int, latency: float) -> Usage:
        usage = Usage(calls=1, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, latency_s=latency)
        with self._usage_lock:
            self.usage = self.usage + usage
        return usage

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        sem = self._semaphores.get(loop)
        if sem is None:
            sem = self._semaphores[loop] = asyncio.Semaphore(self.max_concurrency)
        return sem

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> tuple[T, float]:
        """Run one request: retried on transient failures (HTTP 429/5xx, lost connections, malformed
        replies, attempts cut off at ``timeout`` of wall clock) up to ``max_retries`` times, and
        given up after ``MAX_CUT_ATTEMPTS`` cut-off attempts. Raises :class:`RequestFailedError`."""
        async with self._semaphore():
            start = time.perf_counter()
            attempt = cut = 0
            while True:
                attempt += 1
                try:
                    if self.timeout is None:
                        result = await fn()
                    else:
                        try:
                            result = await asyncio.wait_for(fn(), self.timeout)
                        except TimeoutError:  # a stalled or dripping server: the attempt is cut off
                            raise AttemptTimeout(
                                f"No complete answer within {self.timeout:g} s (wall clock).",
                                hint="The server is stalled or too slow; raise the timeout (-o timeout=SECONDS, "
                                "llm check --timeout) or lower the concurrency.",
                            ) from None
                    return result, time.perf_counter() - start
                except TransientError as e:
                    cut += isinstance(e, AttemptTimeout)
                    tries = f"{attempt} attempt{'s' if attempt > 1 else ''}"
                    if attempt > self.max_retries or cut >= MAX_CUT_ATTEMPTS:
                        timed_out = f", {cut} of them cut off by the timeout" if cut > 1 else ""
                        raise RequestFailedError(f"Gave up after {tries}{timed_out}: {e.message}", hint=e.hint) from e
                    if not isinstance(e, AttemptTimeout):  # a cut-off attempt has waited its timeout already
                        await asyncio.sleep(_wait(e, attempt))

    def _run_sync(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        async def runner() -> T:
            try:
                return await make()
            finally:
                await self.backend.aclose()  # the loop ends here; drop its HTTP connections

        return run_sync(runner)


def _generate_entry_problem(v: dict[str, Any]) -> str | None:
    return None if isinstance(v.get("text"), str) else "no text"


def _probs_problem(probs: Any, n_options: int) -> str | None:
    if not isinstance(probs, list) or len(probs) != n_options:
        return f"no list of {n_options} probabilities"
    if not all(isinstance(p, (int, float)) and not isinstance(p, bool) and 0 <= p <= 1 for p in probs):
        return "probabilities outside [0, 1]"
    return None


def _choice_entry_problem(v: dict[str, Any], n_options: int) -> str | None:
    if not isinstance(v.get("source"), str):
        return "no source"
    return _probs_problem(v.get("probs"), n_options)


def _batch_entry_problem(v: dict[str, Any], n_options: list[int]) -> str | None:
    items = v.get("probs")
    if not isinstance(v.get("source"), str):
        return "no source"
    if not isinstance(items, list) or len(items) != len(n_options):
        return f"no list of {len(n_options)} items"
    for probs, n in zip(items, n_options, strict=True):
        problem = None if probs is None else _probs_problem(probs, n)  # None: an item the backend could not read
        if problem:
            return problem
    return None


_CACHES: dict[tuple[str, float | None], ResponseCache] = {}
_CACHES_LOCK = threading.Lock()


def open_cache(policy: CachePolicy) -> ResponseCache | None:
    """The process-wide ResponseCache for a policy (one per directory), or None when disabled."""
    if not policy.enabled:
        return None
    directory = policy.resolved_dir().resolve()
    key = (str(directory), policy.expiry_seconds)
    with _CACHES_LOCK:
        if key not in _CACHES:
            _CACHES[key] = ResponseCache(directory, policy.expiry_seconds)
        return _CACHES[key]


def parse_spec(spec: str) -> tuple[str, str]:
    """Split a spec into (kind, argument). Raises ConfigError for anything unknown."""
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError("Empty model spec.", hint=SPEC_HELP)
    spec = spec.strip()
    kind, _, arg = spec.partition(":")
    if kind in ("local", "mock", "openai"):
        return kind, arg.strip()
    if spec.lower().endswith(".gguf"):
        return "local", spec
    raise ConfigError(f"Unknown model spec {spec!r}.", hint=SPEC_HELP)


def _oracle_strength(arg: str) -> float:
    """P of ``mock:oracle=P`` or ``mock:item-oracle=P`` (SIMULATED informative models, see
    valuesim.llm.simulation)."""
    _, sep, value = arg.replace(" ", "").partition("=")
    try:
        strength = float(value) if sep else float("nan")
    except ValueError:
        strength = float("nan")
    if not 0.0 <= strength <= 1.0:
        raise ConfigError(
            f"Bad simulated model spec 'mock:{arg}': the oracle strength P must be a number in [0, 1].",
            "Write e.g. --model mock:oracle=0.4 (a SIMULATED model that knows the true answer; for testing).",
        )
    return strength


def get_model(
    spec: str = "local",
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    cache: CachePolicy | bool | str | Path | None = None,
    max_concurrency: int | None = None,
    timeout: float = 120,
    max_retries: int = 5,
    n_ctx: int | None = None,
    n_threads: int | None = None,
) -> Model:
    """Build a :class:`Model` from a spec string.

    ``n_ctx`` / ``n_threads`` apply to local models only (defaults: 4096 / all cores, or the
    VALUESIM_N_CTX / VALUESIM_N_THREADS environment variables).
    """
    kind, arg = parse_spec(spec)
    if base_url is not None and kind != "openai":
        raise ConfigError(f"--base-url applies to openai:<model> specs only, not {spec!r}.")
    if timeout <= 0:
        raise ConfigError(f"timeout must be > 0 seconds, got {timeout}.")
    store = open_cache(CachePolicy.coerce(cache))
    backend: Backend
    if kind == "mock" and arg.replace(" ", "").startswith(("oracle", "item-oracle")):
        from valuesim.llm.backends.mock import MockBackend

        strength = _oracle_strength(arg)
        item = arg.replace(" ", "").startswith("item-oracle")
        backend = MockBackend(oracle=None if item else strength, item_oracle=strength if item else None)
        store = None  # its answers depend on the hidden truth, not only on the prompt: never cached
    elif kind == "mock":
        try:
            seed = int(arg) if arg else 0
        except ValueError:
            raise ConfigError(
                f"The mock seed must be an integer, got {arg!r}.", hint="e.g. mock:7, or mock:oracle=0.4"
            ) from None
        from valuesim.llm.backends.mock import MockBackend

        backend = MockBackend(seed)
    elif kind == "local":
        from valuesim.llm.backends.local import LocalBackend

        backend = LocalBackend(arg or None, n_ctx=n_ctx, n_threads=n_threads, hash_store=store)
    else:
        from valuesim.llm.backends.openai import OpenAIBackend

        model, url = arg, base_url
        for scheme in ("@http://", "@https://"):
            if scheme in arg and url is None:
                model, _, rest = arg.partition(scheme)
                url = scheme[1:] + rest
        urls = url if url is not None else os.environ.get("OPENAI_BASE_URL")
        if urls and "," in urls:  # several servers with the same model: spread requests over them
            from valuesim.llm.backends.pool import make_openai_backend

            backend = make_openai_backend(model, urls, api_key=api_key, timeout=timeout)
        else:
            backend = OpenAIBackend(model, base_url=url, api_key=api_key, timeout=timeout)
    cutoff = timeout if kind == "openai" else None  # an in-process model cannot be cut off mid-call
    return Model(backend, cache=store, max_concurrency=max_concurrency, max_retries=max_retries, timeout=cutoff)
