"""Value types shared by every part of the LLM layer: messages, configs, results, usage."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Union

from valuesim.errors import ConfigError

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class ChatMessage:
    """One chat turn. ``role`` is "system", "user" or "assistant"."""

    role: str
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ConfigError(f"Unknown chat role {self.role!r}.", hint=f"Use one of: {', '.join(ROLES)}.")
        if not isinstance(self.content, str):
            raise ConfigError(f"Message content must be a string, got {type(self.content).__name__}.")

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


MessagesLike = Union[str, Sequence[ChatMessage | Mapping[str, str]]]  # noqa: UP007 (runtime alias)


def normalize_messages(messages: MessagesLike) -> tuple[ChatMessage, ...]:
    """A prompt string becomes one user turn; dicts with role/content become ChatMessages."""
    if isinstance(messages, str):
        return (ChatMessage("user", messages),)
    out: list[ChatMessage] = []
    for m in messages:
        if isinstance(m, ChatMessage):
            out.append(m)
        elif isinstance(m, Mapping) and "role" in m and "content" in m:
            out.append(ChatMessage(str(m["role"]), m["content"]))
        else:
            raise ConfigError(
                f"Cannot use {m!r} as a chat message.",
                hint="Pass a string, ChatMessage objects, or dicts with 'role' and 'content'.",
            )
    if not out:
        raise ConfigError("No messages given.", hint="Pass at least one user message.")
    return tuple(out)


@dataclass(frozen=True)
class GenerateConfig:
    """Decoding parameters. Every field is part of the cache key.

    ``sample`` is the sample index: the same request with ``sample=1`` is a deliberate second
    sample (a new model call, and a different random seed when ``temperature > 0``).
    """

    temperature: float = 0.0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int | None = 0
    sample: int = 0
    json_schema: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not (self.temperature >= 0 and math.isfinite(self.temperature)):
            raise ConfigError(f"temperature must be >= 0, got {self.temperature}.")
        if self.max_tokens < 1:
            raise ConfigError(f"max_tokens must be >= 1, got {self.max_tokens}.")
        if self.sample < 0:
            raise ConfigError(f"sample must be >= 0, got {self.sample}.")
        if isinstance(self.stop, str) or not isinstance(self.stop, tuple):
            # accept a list or a single string for convenience, store a tuple (hashable, cacheable)
            object.__setattr__(self, "stop", (self.stop,) if isinstance(self.stop, str) else tuple(self.stop))

    def effective_seed(self) -> int | None:
        """Seed actually sent to the backend: the sample index shifts it, so sample=1 differs."""
        if self.seed is None:
            return None
        return (self.seed * 1_000_003 + self.sample) % (2**31 - 1) if self.sample else self.seed

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d


@dataclass
class Usage:
    """Additive call accounting. Cache hits count in ``cache_hits`` only (no calls, no tokens).

    Fields are floats: a call shared by several predictions (a batch, a backstory) is split
    between them, so one prediction may account for 1/3 of a call."""

    calls: float = 0.0
    prompt_tokens: float = 0.0
    completion_tokens: float = 0.0
    cache_hits: float = 0.0
    latency_s: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            self.calls + other.calls,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cache_hits + other.cache_hits,
            self.latency_s + other.latency_s,
        )

    def scaled(self, share: float) -> Usage:
        """This usage times *share* (the part of it one of several predictions accounts for)."""
        return Usage(
            self.calls * share,
            self.prompt_tokens * share,
            self.completion_tokens * share,
            self.cache_hits * share,
            self.latency_s * share,
        )

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any] | None) -> Usage:
        """Read a mapping written by :meth:`to_dict` or :meth:`to_metrics` (unknown keys ignored)."""
        d = d or {}
        return cls(
            float(d.get("calls", d.get("llm_calls", 0.0))),
            float(d.get("prompt_tokens", 0.0)),
            float(d.get("completion_tokens", 0.0)),
            float(d.get("cache_hits", 0.0)),
            float(d.get("latency_s", d.get("llm_latency_s", 0.0))),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_metrics(self, latency: bool = True) -> dict[str, float]:
        """Key names used in ``metrics.json`` of ``valuesim bench`` and in a prediction's
        ``meta["usage"]`` (calls and hits to 6 decimals, tokens to 3: shares of a call)."""
        out = {
            "llm_calls": round(self.calls, 6),
            "prompt_tokens": round(self.prompt_tokens, 3),
            "completion_tokens": round(self.completion_tokens, 3),
            "cache_hits": round(self.cache_hits, 6),
        }
        if latency:
            out["llm_latency_s"] = round(self.latency_s, 3)
        return out


@dataclass
class GenerateResult:
    text: str
    usage: Usage
    cached: bool


@dataclass
class ChoiceResult:
    """P(option_i | prompt) for each option, in the order given.

    ``source`` is "logprobs" (token log-probabilities) or "generation" (the model generated an
    answer that was parsed into a one-hot distribution; uniform if it named no option, in which
    case ``raw`` holds the text it produced).
    """

    probs: list[float]
    source: str
    usage: Usage
    cached: bool
    raw: str | None = field(default=None)

    @property
    def best(self) -> int:
        return max(range(len(self.probs)), key=self.probs.__getitem__)


@dataclass
class BatchChoiceResult:
    """Per-item option distributions read from one answer to several questions.

    ``probs[i]`` is P(option | prompt, earlier answers) over item ``i``'s options, or None when
    the answer did not reach item ``i`` (the caller asks it on its own). ``source`` is
    "logprobs" (per-position log-probabilities of the answer letters, greedy decoding).
    """

    probs: list[list[float] | None]
    source: str
    usage: Usage
    cached: bool

    def best(self, i: int) -> int | None:
        p = self.probs[i]
        return None if p is None else max(range(len(p)), key=p.__getitem__)


def validate_options(options: Sequence[str]) -> tuple[str, ...]:
    opts = tuple(options)
    if not opts:
        raise ConfigError("score_choices needs at least one option.")
    for o in opts:
        if not isinstance(o, str) or not o.strip():
            raise ConfigError(f"Every option must be a non-empty string, got {o!r}.")
    if len(set(opts)) != len(opts):
        raise ConfigError(f"Options must be distinct, got {list(opts)}.")
    return opts


def softmax(logps: Sequence[float]) -> list[float]:
    """Normalize log-scores into probabilities (stable; -inf entries get 0)."""
    finite = [x for x in logps if math.isfinite(x)]
    if not finite:
        return [1.0 / len(logps)] * len(logps)
    top = max(finite)
    ex = [math.exp(x - top) if math.isfinite(x) else 0.0 for x in logps]
    total = sum(ex)
    return [e / total for e in ex]
