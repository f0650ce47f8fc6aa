"""Embedded llama.cpp backend with the shipped SmolLM2-135M-Instruct GGUF."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from valuesim.errors import ModelError
from valuesim.llm import ChatMessage, GenerateConfig, get_model
from valuesim.llm.backends.local import load

pytestmark = pytest.mark.local_model

SYSTEM = ChatMessage("system", "You answer survey questions.")
QUESTION = ChatMessage(
    "user",
    "How important is family in your life?\nA. Very important\nB. Rather important\n"
    "C. Not very important\nD. Not at all important\nAnswer with the letter only.",
)


def test_chat_template_is_the_models_own(gguf_path: Path) -> None:
    rendered = load(gguf_path, 1024, 1).render([SYSTEM, QUESTION])
    assert rendered.text == (
        f"<|im_start|>system\n{SYSTEM.content}<|im_end|>\n<|im_start|>user\n{QUESTION.content}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    prefilled = load(gguf_path, 1024, 1).render([SYSTEM, QUESTION, ChatMessage("assistant", "My answer:")])
    assert prefilled.text == rendered.text + "My answer:"


def test_generation_is_deterministic_and_counted(gguf_path: Path) -> None:
    model = get_model("local", cache=False, n_ctx=1024)
    assert model.spec == f"local:{gguf_path.resolve()}"
    cfg = GenerateConfig(max_tokens=12)
    a = model.generate_sync([SYSTEM, QUESTION], cfg)
    assert a.text.strip() and 0 < a.usage.completion_tokens <= 12 and a.usage.prompt_tokens > 40
    # scoring in between moves the KV cache around; generation must not be affected by that
    model.score_choices_sync([SYSTEM, QUESTION], ["A", "B", "C", "D"])
    b = model.generate_sync([SYSTEM, QUESTION], cfg)
    assert b.text == a.text
    assert model.usage.calls == 3 and model.usage.latency_s > 0


def test_json_schema_constrains_local_generation(gguf_path: Path) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string", "enum": ["A", "B", "C", "D"]}},
        "required": ["answer"],
    }
    out = get_model("local", cache=False, n_ctx=1024).generate_sync(
        [SYSTEM, QUESTION], GenerateConfig(max_tokens=20, json_schema=schema)
    )
    assert json.loads(out.text)["answer"] in "ABCD"


@pytest.fixture(scope="module")
def reference_llm(gguf_path: Path) -> Iterator[Any]:
    """An independent llama.cpp context that keeps logits for every position."""
    from llama_cpp import Llama

    llm = Llama(str(gguf_path), n_ctx=256, n_threads=1, logits_all=True, verbose=False)
    yield llm
    llm.close()


def _reference_logprob(llm: Any, text: str, option: str) -> float:
    """log P(option | text) by evaluating text+option in full with logits for every position."""
    prompt = llm.tokenize(text.encode(), add_bos=False, special=True)
    full = llm.tokenize((text + option).encode(), add_bos=False, special=True)
    assert full[: len(prompt)] == prompt
    llm.reset()
    llm.eval(full)
    total = 0.0
    for i in range(len(prompt), len(full)):
        row = llm.scores[i - 1].astype(np.float64)
        row = row - row.max()
        total += float(row[full[i]] - math.log(np.exp(row).sum()))
    return total


@pytest.mark.slow
@pytest.mark.parametrize(
    "options",
    [["A", "B", "C", "D"], ["1", "2", "10"], ["Very important", "Not at all important"]],
    ids=["letters", "numbers-sharing-tokens", "full-texts"],
)
def test_choice_scores_match_full_evaluation(gguf_path: Path, reference_llm: Any, options: list[str]) -> None:
    model = get_model("local", cache=False, n_ctx=1024)
    res = model.score_choices_sync([SYSTEM, QUESTION], options)
    assert res.source == "logprobs" and math.isclose(sum(res.probs), 1.0)
    text = load(gguf_path, 1024, model.backend.n_threads).render([SYSTEM, QUESTION]).text
    ref = np.array([_reference_logprob(reference_llm, text, o) for o in options])
    ref = np.exp(ref - ref.max())
    np.testing.assert_allclose(res.probs, ref / ref.sum(), atol=2e-3)


def test_prompt_longer_than_context_is_a_clear_error(gguf_path: Path) -> None:
    model = get_model("local", cache=False, n_ctx=64)
    with pytest.raises(ModelError, match="context") as err:
        model.generate_sync("word " * 200)
    assert "n_ctx" in (err.value.hint or "")


def test_identity_is_the_file_hash_and_is_memoized(gguf_path: Path, cache_dir: Path) -> None:
    digest = hashlib.sha256(gguf_path.read_bytes()).hexdigest()
    model = get_model("local", cache=cache_dir)
    assert model.identity == f"gguf-sha256:{digest}"
    st = gguf_path.resolve().stat()
    assert model.cache.file_hash(gguf_path.resolve(), st.st_size, st.st_mtime_ns) == digest
    assert model.count_tokens("Hello world") == 2


def test_batch_scoring_is_teacher_forced_from_the_kv_cache(gguf_path: Path) -> None:
    """Item i is read after "i:" with the argmax of the earlier items written into the answer."""
    model = get_model("local", cache=False, n_ctx=1024)
    user = ChatMessage(
        "user",
        "Question 1: How important is family in your life?\nA. Very important\nB. Not important\n\n"
        "Question 2: How important is work in your life?\nA. Very important\nB. Rather important\nC. Not important\n\n"
        'Answer each question on its own line, as "1: B".',
    )
    res = model.score_batch_sync([SYSTEM, user], [["A", "B"], ["A", "B", "C"]])
    assert res.source == "logprobs" and res.usage.calls == 1
    first, second = res.probs
    assert first is not None and second is not None
    assert math.isclose(sum(first), 1.0) and math.isclose(sum(second), 1.0) and len(second) == 3
    one = model.score_choices_sync([SYSTEM, user, ChatMessage("assistant", "1:")], [" A", " B"])
    # the same distribution up to llama.cpp batch-split float noise (KV cache reused vs fresh)
    assert first == pytest.approx(one.probs, abs=0.03)
    best = "AB"[max(range(2), key=first.__getitem__)]
    two = model.score_choices_sync([SYSTEM, user, ChatMessage("assistant", f"1: {best}\n2:")], [" A", " B", " C"])
    assert second == pytest.approx(two.probs, abs=0.03)


def test_a_long_prefix_evicted_by_another_prompt_is_restored_from_a_snapshot(gguf_path: Path) -> None:
    model = get_model("local", cache=False, n_ctx=2048)
    story = ChatMessage("system", "You answer survey questions. " + "You live in a small town by the sea. " * 40)
    q1 = ChatMessage("user", QUESTION.content)
    q2 = ChatMessage("user", QUESTION.content.replace("family", "work"))
    first = model.score_choices_sync([story, q1], ["A", "B", "C", "D"])
    assert first.usage.prompt_tokens > 300
    model.score_choices_sync([SYSTEM, q1], ["A", "B"])  # another prefix: the live KV cache loses the story
    again = model.score_choices_sync([story, q2], ["A", "B", "C", "D"])
    assert again.usage.prompt_tokens < 60  # the story came back from its snapshot, not re-evaluated
    fresh = get_model("local", cache=False, n_ctx=1024).score_choices_sync([story, q2], ["A", "B", "C", "D"])
    assert again.probs == pytest.approx(fresh.probs, abs=0.03)
