"""The small protocol every provider implements. Everything around a call (cache, retries,
concurrency, accounting) lives in :class:`valuesim.llm.model.Model`, so backends stay tiny."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from valuesim.errors import ModelError
from valuesim.llm.types import ChatMessage, GenerateConfig


class TransientError(ModelError):
    """A failure worth retrying (HTTP 429/5xx, timeout). ``retry_after`` is the server's wish, in s."""

    def __init__(self, message: str, hint: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, hint)
        self.retry_after = retry_after


class AttemptTimeout(TransientError):
    """An attempt got no complete answer within the timeout (a stalled or dripping server)."""


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Scores:
    probs: list[float]
    source: str  # "logprobs" | "generation"
    prompt_tokens: int
    completion_tokens: int
    raw: str | None = None


@dataclass(frozen=True)
class BatchScores:
    """Per-item option distributions of one multi-question answer (None: item not reached)."""

    probs: list[list[float] | None]
    source: str  # "logprobs"
    prompt_tokens: int
    completion_tokens: int


#: The answer format of a multi-question call: one line per item, "1: B". Backends that score
#: such a call read item i's distribution at the position after "i:".
def batch_prefix(i: int) -> str:
    """What precedes the answer letter of item ``i`` (0-based) in a multi-question answer."""
    return f"{i + 1}:"


@runtime_checkable
class Backend(Protocol):
    kind: str  # "local" | "openai" | "mock"
    spec: str  # normalized model spec
    default_concurrency: int  # used when get_model(max_concurrency=None)

    def identity(self) -> str:
        """Stable string naming the exact model (weights) for cache keys."""

    async def generate(self, messages: tuple[ChatMessage, ...], config: GenerateConfig) -> Completion: ...

    async def score_choices(
        self, messages: tuple[ChatMessage, ...], options: tuple[str, ...], config: GenerateConfig
    ) -> Scores: ...

    def count_tokens(self, text: str) -> int: ...

    async def aclose(self) -> None: ...
