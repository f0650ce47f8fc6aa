"""The LLM layer: one small interface through which every method talks to language models.

>>> from valuesim.llm import get_model, GenerateConfig
>>> model = get_model("mock")                      # or "local", "local:/x.gguf", "openai:<name>"
>>> model.generate_sync("Hello").text              # doctest: +SKIP
>>> model.score_choices_sync("Pick one. A. yes B. no", ["A", "B"]).probs  # doctest: +SKIP

See docs/llm.md for model specs, servers, the cache and usage accounting.
"""

from __future__ import annotations

from valuesim.llm.cache import CachePolicy, ResponseCache, default_cache_dir
from valuesim.llm.model import Model, get_model, parse_spec
from valuesim.llm.types import (
    BatchChoiceResult,
    ChatMessage,
    ChoiceResult,
    GenerateConfig,
    GenerateResult,
    Usage,
    normalize_messages,
)

__all__ = [
    "BatchChoiceResult",
    "CachePolicy",
    "ChatMessage",
    "ChoiceResult",
    "GenerateConfig",
    "GenerateResult",
    "Model",
    "ResponseCache",
    "Usage",
    "default_cache_dir",
    "get_model",
    "normalize_messages",
    "parse_spec",
]
