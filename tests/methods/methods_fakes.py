"""A scriptable in-process backend: tests decide what each module answers and count the calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from valuesim.errors import ModelError
from valuesim.llm import Model
from valuesim.llm.backends.base import Completion, Scores
from valuesim.llm.types import ChatMessage, GenerateConfig

#: words that identify each prompt template in a user message (prompt versions v1/v2, v3)
MARKERS = {
    "cognitive": ("Answer with your head", "Answer from your beliefs"),
    "affective": ("Answer with your heart", "Answer from your feelings"),
    "behavioral": ("Answer from your habits",),
    "coordinator": ("several sides", "Your views differ"),
}


def module_of(messages: tuple[ChatMessage, ...]) -> str:
    user = messages[-1].content
    for name, markers in MARKERS.items():
        if any(m in user for m in markers):
            return name
    return "plain"


@dataclass
class ScriptedBackend:
    """``choose(module, n_options, messages) -> probabilities``; ``write(module, messages) -> text``."""

    choose: Callable[[str, int, tuple[ChatMessage, ...]], list[float]] | None = None
    write: Callable[[str, tuple[ChatMessage, ...]], str] | None = None
    fail: bool = False
    calls: list[tuple[str, str, tuple[ChatMessage, ...]]] = field(default_factory=list)
    kind: str = "mock"
    spec: str = "scripted"
    default_concurrency: int = 8

    def identity(self) -> str:
        return "scripted"

    async def generate(self, messages: tuple[ChatMessage, ...], config: GenerateConfig) -> Completion:
        if self.fail:
            raise ModelError("server down", hint="start it")
        module = module_of(messages)
        self.calls.append(("generate", module, messages))
        text = self.write(module, messages) if self.write else "A"
        return Completion(text, sum(len(m.content) // 4 for m in messages), max(1, len(text) // 4))

    async def score_choices(
        self, messages: tuple[ChatMessage, ...], options: tuple[str, ...], config: GenerateConfig
    ) -> Scores:
        if self.fail:
            raise ModelError("server down", hint="start it")
        module = module_of(messages)
        self.calls.append(("score", module, messages))
        probs = self.choose(module, len(options), messages) if self.choose else [1.0 / len(options)] * len(options)
        total = sum(probs)
        return Scores([p / total for p in probs], "logprobs", sum(len(m.content) // 4 for m in messages), 0)

    def count_tokens(self, text: str) -> int:
        return len(text) // 4

    async def aclose(self) -> None:
        return None

    def modules_called(self) -> list[str]:
        return [m for _, m, _ in self.calls]


def scripted_model(**kwargs: object) -> tuple[Model, ScriptedBackend]:
    backend = ScriptedBackend(**kwargs)  # type: ignore[arg-type]
    return Model(backend, cache=None, max_retries=0), backend


def one_hot(index: int, n: int, peak: float = 0.9) -> list[float]:
    rest = (1.0 - peak) / (n - 1)
    return [peak if i == index else rest for i in range(n)]
