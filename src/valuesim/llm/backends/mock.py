"""Deterministic mock model: same (seed, messages, options, config) -> same answer, no latency.

Used by the test-suite and for dry runs of whole pipelines without a model.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from typing import Any

from valuesim.llm.backends.base import BatchScores, Completion, Scores
from valuesim.llm.cache import canonical_json
from valuesim.llm.types import ChatMessage, GenerateConfig, softmax

_LETTERED = re.compile(r"^\s*\(?([A-Z])[.)]\s+(\S.*)$", re.MULTILINE)

_SENTENCES = (
    "I think about this in terms of what my family and community expect of me.",
    "My own experience makes me fairly sure about this.",
    "It depends on the situation, but on balance I lean one way.",
    "People around me would mostly agree with how I see it.",
    "I have thought about this before and my view is settled.",
    "This matters to me, though not above everything else.",
    "I am not certain, but my answer reflects how I usually feel.",
    "Day-to-day life has shaped my opinion on this more than anything.",
)


def _rng(*parts: Any) -> random.Random:
    digest = hashlib.sha256(canonical_json(list(parts)).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def approx_tokens(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


def _mock_json(schema: dict[str, Any], rng: random.Random) -> Any:
    if "enum" in schema:
        return rng.choice(list(schema["enum"]))
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "object":
        props = schema.get("properties", {})
        return {name: _mock_json(sub, rng) for name, sub in props.items()}
    if kind == "array":
        n = max(1, int(schema.get("minItems", 1)))
        return [_mock_json(schema.get("items", {}), rng) for _ in range(n)]
    if kind == "integer":
        return rng.randint(int(schema.get("minimum", 0)), int(schema.get("maximum", 10)))
    if kind == "number":
        return round(rng.uniform(float(schema.get("minimum", 0.0)), float(schema.get("maximum", 1.0))), 3)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return rng.choice(_SENTENCES)


class MockBackend:
    """``oracle``: strength P in [0, 1] of the SIMULATED informative model ``mock:oracle=P``:
    its option distribution is (1 - P) x the mock's noise + P on the true answer of the person
    the prompt describes (read through :mod:`valuesim.llm.simulation`, the only backend that
    does). Log-prob scoring only; generation is the plain mock.

    ``item_oracle``: strength P of the SIMULATED item-level oracle ``mock:item-oracle=P``: when a
    call judges how two items are related (an item judgment), its option distribution is (1 - P) x
    the mock's noise + P x a distribution whose mean is the pair's true association (observed among
    all people of the data, see :func:`valuesim.llm.simulation.true_judgment`); when a call judges
    how the people of a country answer an item, P x the item's true answer distribution there
    (:func:`valuesim.llm.simulation.true_distribution`)."""

    kind = "mock"
    default_concurrency = 64

    def __init__(self, seed: int = 0, oracle: float | None = None, item_oracle: float | None = None) -> None:
        self.seed = seed
        self.oracle = oracle
        self.item_oracle = item_oracle
        if oracle is not None:
            self.spec = f"mock:oracle={oracle:g}"
        elif item_oracle is not None:
            self.spec = f"mock:item-oracle={item_oracle:g}"
        else:
            self.spec = "mock" if seed == 0 else f"mock:{seed}"

    @property
    def simulated(self) -> bool:
        return self.oracle is not None or self.item_oracle is not None

    def identity(self) -> str:
        return self.spec if self.simulated else f"mock:{self.seed}"

    def _text(self, messages: tuple[ChatMessage, ...], config: GenerateConfig) -> str:
        # greedy decoding ignores the sample index; sampling with a new index gives a new draw
        variant = [config.effective_seed(), config.sample] if config.temperature > 0 else None
        rng = _rng(self.seed, [m.to_dict() for m in messages], variant)
        if config.json_schema is not None:
            return json.dumps(_mock_json(config.json_schema, rng))
        prompt = "\n".join(m.content for m in messages if m.role != "assistant")
        lettered = _LETTERED.findall(prompt)
        if lettered:
            letter, label = rng.choice(lettered)
            return f'{letter}. I pick this because "{label.strip()}" is closest to how I see it.'
        return " ".join(rng.sample(_SENTENCES, k=2))

    async def generate(self, messages: tuple[ChatMessage, ...], config: GenerateConfig) -> Completion:
        text = self._text(messages, config)
        for s in config.stop:
            if s and s in text:
                text = text[: text.index(s)]
        if len(text) > config.max_tokens * 4:
            text = text[: config.max_tokens * 4]
        prompt_tokens = sum(approx_tokens(m.content) for m in messages)
        return Completion(text, prompt_tokens, approx_tokens(text))

    async def score_choices(
        self, messages: tuple[ChatMessage, ...], options: tuple[str, ...], config: GenerateConfig
    ) -> Scores:
        rng = _rng(self.seed, [m.to_dict() for m in messages], list(options))
        logits = [rng.gauss(0.0, 1.0) for _ in options]
        logits[rng.randrange(len(options))] += 2.5  # peaked: one clear favourite
        probs = softmax([2.0 * x for x in logits])
        assert math.isclose(sum(probs), 1.0)
        if self.oracle:
            from valuesim.llm.simulation import true_option

            hit = true_option(len(options))
            if hit is not None:
                probs = [(1.0 - self.oracle) * p + (self.oracle if i == hit else 0.0) for i, p in enumerate(probs)]
        if self.item_oracle:
            from valuesim.llm.simulation import true_distribution, true_judgment

            truth = true_judgment(len(options)) or true_distribution(len(options))
            if truth is not None:
                probs = [(1.0 - self.item_oracle) * p + self.item_oracle * t for p, t in zip(probs, truth, strict=True)]
        prompt_tokens = sum(approx_tokens(m.content) for m in messages)
        return Scores(probs, "logprobs", prompt_tokens + sum(approx_tokens(o) for o in options), 0)

    async def score_batch(
        self, messages: tuple[ChatMessage, ...], options: tuple[tuple[str, ...], ...], config: GenerateConfig
    ) -> BatchScores:
        """Each item drawn like :meth:`score_choices` (seeded by the prompt and the item's number)."""
        probs: list[list[float] | None] = []
        for i, opts in enumerate(options):
            item = (*messages, ChatMessage("assistant", f"{i + 1}:"))
            probs.append((await self.score_choices(item, opts, config)).probs)
        prompt_tokens = sum(approx_tokens(m.content) for m in messages)
        return BatchScores(probs, "logprobs", prompt_tokens, 4 * len(options))

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    async def aclose(self) -> None:
        return None
