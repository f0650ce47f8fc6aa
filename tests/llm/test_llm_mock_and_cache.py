"""Mock backend, cache and usage accounting."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from valuesim.errors import ConfigError
from valuesim.llm import CachePolicy, ChatMessage, GenerateConfig, Usage, get_model

QUESTION = (
    "How important is work in your life?\nA. Very important\nB. Rather important\nC. Not very important\n"
    "D. Not at all important"
)


def test_mock_is_deterministic_and_answers_lettered_questions() -> None:
    a = get_model("mock", cache=False).generate_sync(QUESTION)
    b = get_model("mock", cache=False).generate_sync(QUESTION)
    assert a.text == b.text
    assert a.text[0] in "ABCD" and a.text[1] == "."
    assert a.text.count(".") >= 2  # letter plus a one-sentence rationale
    # another seed is another "model": over several prompts at least one answer differs
    prompts = [f"{QUESTION}\n(variant {i})" for i in range(6)]
    m0, m7 = get_model("mock", cache=False), get_model("mock:7", cache=False)
    assert [m0.generate_sync(p).text for p in prompts] != [m7.generate_sync(p).text for p in prompts]


def test_mock_scores_are_peaked_distributions() -> None:
    model = get_model("mock:3", cache=False)
    res = model.score_choices_sync(QUESTION, ["A", "B", "C", "D"])
    assert math.isclose(sum(res.probs), 1.0) and len(res.probs) == 4
    assert res.source == "logprobs" and not res.cached
    assert res.probs[res.best] == max(res.probs) and max(res.probs) > 0.4
    assert model.score_choices_sync(QUESTION, ["A", "B", "C", "D"]).probs == res.probs


def test_mock_json_schema_output_follows_schema() -> None:
    import json

    schema = {"type": "object", "properties": {"answer": {"enum": ["A", "B"]}, "confidence": {"type": "number"}}}
    out = get_model("mock", cache=False).generate_sync("Pick", GenerateConfig(json_schema=schema)).text
    obj = json.loads(out)
    assert obj["answer"] in ("A", "B") and isinstance(obj["confidence"], float)


def test_mock_respects_stop_and_sampling() -> None:
    model = get_model("mock", cache=False)
    text = model.generate_sync(QUESTION).text
    assert model.generate_sync(QUESTION, GenerateConfig(stop=(".",))).text == text.split(".")[0]
    hot = [model.generate_sync("Tell me about you.", GenerateConfig(temperature=1.0, sample=i)).text for i in range(8)]
    assert len(set(hot)) > 1  # sample index changes the draw when sampling


def test_cache_hit_makes_no_new_call_and_sample_index_does(cache_dir: Path) -> None:
    model = get_model("mock", cache=cache_dir)
    first = model.generate_sync(QUESTION)
    assert not first.cached and model.usage.calls == 1
    again = get_model("mock", cache=cache_dir)  # a fresh object (e.g. a re-run) shares the disk cache
    second = again.generate_sync(QUESTION)
    assert second.cached and second.text == first.text
    assert again.usage.calls == 0 and again.usage.cache_hits == 1 and again.usage.prompt_tokens == 0
    third = again.generate_sync(QUESTION, GenerateConfig(sample=1))
    assert not third.cached and again.usage.calls == 1
    # choice scoring is cached under its own key (options are part of it)
    s1 = again.score_choices_sync(QUESTION, ["A", "B", "C", "D"])
    s2 = again.score_choices_sync(QUESTION, ["A", "B", "C", "D"])
    s3 = again.score_choices_sync(QUESTION, ["A", "B", "C"])
    assert (s1.cached, s2.cached, s3.cached) == (False, True, False)
    assert s2.probs == s1.probs


def test_cache_key_covers_messages_config_and_model(cache_dir: Path) -> None:
    model = get_model("mock", cache=cache_dir)
    model.generate_sync(QUESTION)
    variants = [
        (model, [ChatMessage("system", "You are terse."), ChatMessage("user", QUESTION)], None),
        (model, QUESTION, GenerateConfig(max_tokens=10)),
        (model, QUESTION, GenerateConfig(seed=1)),
        (model, QUESTION, GenerateConfig(stop=("x",))),
        (get_model("mock:1", cache=cache_dir), QUESTION, None),
    ]
    for m, msgs, cfg in variants:
        assert not m.generate_sync(msgs, cfg).cached
    assert len(model.cache) == 1 + len(variants)


def test_usage_totals_add_up() -> None:
    model = get_model("mock", cache=False)
    results = [model.generate_sync(f"Question {i}?") for i in range(3)]
    results.append(model.score_choices_sync(QUESTION, ["A", "B"]))
    total = sum((r.usage for r in results), Usage())
    assert model.usage.calls == 4 == total.calls
    assert model.usage.prompt_tokens == total.prompt_tokens > 0
    assert model.usage.completion_tokens == total.completion_tokens > 0
    assert model.usage.to_metrics()["llm_calls"] == 4
    old = model.reset_usage()
    assert old.calls == 4 and model.usage == Usage()


def test_cache_disabled_and_moved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    off = get_model("mock", cache=False)
    assert off.cache is None
    assert not off.generate_sync(QUESTION).cached and not off.generate_sync(QUESTION).cached
    assert off.usage.calls == 2
    monkeypatch.setenv("VALUESIM_CACHE_DIR", str(tmp_path / "env-dir"))
    assert get_model("mock").cache.path.parent == (tmp_path / "env-dir").resolve()
    moved = get_model("mock", cache=CachePolicy(directory=tmp_path / "elsewhere"))
    assert moved.cache.path.parent == (tmp_path / "elsewhere").resolve()
    with pytest.raises(ConfigError):
        get_model("mock", cache=3.5)  # type: ignore[arg-type]


def test_cache_expiry(cache_dir: Path) -> None:
    get_model("mock", cache=cache_dir).generate_sync(QUESTION)
    assert get_model("mock", cache=CachePolicy(directory=cache_dir)).generate_sync(QUESTION).cached
    expired = get_model("mock", cache=CachePolicy(directory=cache_dir, expiry_seconds=-1))
    assert not expired.generate_sync(QUESTION).cached


def test_concurrent_async_calls_and_threads_share_one_cache(cache_dir: Path) -> None:
    model = get_model("mock", cache=cache_dir, max_concurrency=4)

    async def many() -> list[str]:
        outs = await asyncio.gather(*(model.generate(f"Prompt {i % 20}") for i in range(60)))
        return [o.text for o in outs]

    texts = asyncio.run(many())
    assert len(texts) == 60 and len(model.cache) == 20
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            m = get_model("mock", cache=cache_dir)
            for i in range(30):
                m.generate_sync(f"Thread {k} prompt {i}")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(model.cache) == 20 + 4 * 30


def test_concurrent_writers_from_two_processes(cache_dir: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from valuesim.llm import get_model
        m = get_model("mock", cache={str(cache_dir)!r})
        for i in range(150):
            m.generate_sync(f"shared prompt {{i}}")              # both processes write these keys
            m.generate_sync(f"own prompt {{sys.argv[1]}} {{i}}")  # and these are private
        print(int(m.usage.calls + m.usage.cache_hits))
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(k)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for k in range(2)
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.strip() == "300"
    check = get_model("mock", cache=cache_dir)
    assert len(check.cache) == 150 + 2 * 150
    for i in (0, 77, 149):
        assert check.generate_sync(f"shared prompt {i}").cached
        assert check.generate_sync(f"own prompt 1 {i}").cached
    assert check.usage.calls == 0


def test_inputs_are_validated() -> None:
    model = get_model("mock", cache=False)
    with pytest.raises(ConfigError):
        ChatMessage("robot", "hi")
    with pytest.raises(ConfigError):
        model.generate_sync([])
    with pytest.raises(ConfigError):
        model.score_choices_sync("x", [])
    with pytest.raises(ConfigError):
        model.score_choices_sync("x", ["A", "A"])
    with pytest.raises(ConfigError):
        GenerateConfig(max_tokens=0)
    with pytest.raises(ConfigError):
        GenerateConfig(temperature=-1)
    assert GenerateConfig(stop=["a"]).stop == ("a",)  # type: ignore[arg-type]
    assert model.score_choices_sync("x", ["only"]).probs == [1.0]
    # dict messages are accepted and equal to ChatMessage ones
    a = model.generate_sync([{"role": "user", "content": "hello"}]).text
    assert a == model.generate_sync([ChatMessage("user", "hello")]).text == model.generate_sync("hello").text


def test_sync_wrapper_works_inside_a_running_loop() -> None:
    model = get_model("mock", cache=False)

    async def inside() -> str:
        return model.generate_sync("hello").text  # e.g. a Jupyter cell

    assert asyncio.run(inside()) == model.generate_sync("hello").text


def test_score_batch_is_cached_and_falls_back_to_one_call_per_item(tmp_path) -> None:
    from valuesim.llm import Model
    from valuesim.llm.backends.mock import MockBackend
    from valuesim.llm.cache import ResponseCache

    msgs = "Question 1: a?\nA. x\nB. y\n\nQuestion 2: b?\nA. x\nB. y\nC. z"
    model = Model(MockBackend(3), cache=ResponseCache(tmp_path))
    first = model.score_batch_sync(msgs, [["A", "B"], ["A", "B", "C"]])
    again = model.score_batch_sync(msgs, [["A", "B"], ["A", "B", "C"]])
    assert first.usage.calls == 1 and again.cached and again.probs == first.probs
    assert [len(p or []) for p in first.probs] == [2, 3]

    class NoBatch:  # a backend with single-question scoring only
        kind, spec, default_concurrency = "mock", "nobatch", 4

        def __init__(self) -> None:
            self.inner = MockBackend(3)
            self.prompts: list[str] = []

        def identity(self) -> str:
            return "nobatch"

        async def generate(self, messages, config):  # pragma: no cover - not used
            return await self.inner.generate(messages, config)

        async def score_choices(self, messages, options, config):
            self.prompts.append(messages[-1].content)
            return await self.inner.score_choices(messages, options, config)

        def count_tokens(self, text: str) -> int:
            return len(text)

        async def aclose(self) -> None:
            return None

    backend = NoBatch()
    res = Model(backend).score_batch_sync(msgs, [["A", "B"], ["A", "B", "C"]])
    assert res.usage.calls == 2 and all(p is not None for p in res.probs)
    assert backend.prompts[0] == "1:" and backend.prompts[1].startswith("1: ") and backend.prompts[1].endswith("\n2:")
