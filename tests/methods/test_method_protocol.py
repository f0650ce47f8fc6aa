"""The Method protocol as declared on the base class, and how its options are shown to users."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from valuesim.bench.protocol import ProtocolConfig
from valuesim.bench.runner import RunConfig, run_benchmark
from valuesim.cli import app
from valuesim.llm.cache import CACHE_ENV
from valuesim.methods import Method, Prediction, Task, describe_options, method_info
from valuesim.methods.llm_methods import LLMOptions
from valuesim.survey import Respondent, generate_synthetic, load_codebook
from valuesim.survey.codebook import Codebook


def test_options_with_a_default_factory_show_their_real_default() -> None:
    docs = {d.name: d for d in describe_options(method_info("hybrid").cls.Options)}
    assert docs["prior_options"].default == {} and docs["llm_options"].default == {}
    assert "Undefined" not in docs["prior_options"].default_text


def test_list_methods_never_prints_an_undefined_default() -> None:
    res = CliRunner().invoke(app, ["bench", "--list-methods"])
    assert res.exit_code == 0, res.output
    assert "prior_options" in res.stdout and "Undefined" not in res.stdout


def test_list_methods_says_which_option_lets_the_hybrid_answer_new_questions() -> None:
    """The hybrid answers new questions only with a prior that does: the list says with which option,
    and that option really makes it legal (its capability is read from the class, not typed here)."""
    info = method_info("hybrid")
    assert not info.answers_new_questions and info.new_questions_with == {"prior": "item-transfer"}
    assert not info.cls.learns_from_target_answers(info.new_questions_with)
    assert method_info("item-transfer").new_questions_with is None  # answers them by default
    assert method_info("supervised").new_questions_with is None  # under no option
    from valuesim.cli.bench import new_questions_cell

    assert new_questions_cell(info) == "with -o prior=item-transfer"
    assert new_questions_cell(method_info("item-transfer")) == "yes"
    assert new_questions_cell(method_info("supervised")) == "no"


def test_cache_option_names_the_environment_variable_the_code_reads() -> None:
    help_text = LLMOptions.model_fields["cache"].description or ""
    assert CACHE_ENV == "VALUESIM_CACHE_DIR" and f"${CACHE_ENV}" in help_text


class Plain(Method):
    """A plug-in that declares none of the optional protocol members."""

    def predict(self, task: Task) -> list[Prediction]:
        return [Prediction(task.respondent.id, q, task.fold, None) for q in task.targets]


class Declared(Plain):
    """A plug-in that declares them all (as an LLM method would)."""

    def __init__(self, codebook: Codebook, **options: Any) -> None:
        super().__init__(codebook, **options)
        self.calls = 0

    @property
    def default_concurrency(self) -> int:
        return 3

    @property
    def usage(self) -> Mapping[str, float]:
        return {"llm_calls": float(self.calls), "prompt_tokens": 10.0 * self.calls}

    def predict(self, task: Task) -> list[Prediction]:
        self.calls += 1
        self.fitting_seconds += 0.5  # "trained lazily" inside predict
        return super().predict(task)

    def explain(self, task: Task, predictions: Sequence[Prediction]) -> dict[str, dict[str, str]]:
        return {p.question: {"why": "declared"} for p in predictions}


def test_the_base_class_declares_every_protocol_member_with_a_default() -> None:
    cb = load_codebook()
    m = Plain(cb)
    task = Task(Respondent(id="p", country="DEU", answers={"Q1": 1}), ("Q46",))
    assert m.default_concurrency == 1 and m.usage is None and m.fitting_seconds == 0.0
    assert m.explain(task, m.predict(task)) == {}
    d = Declared(cb)
    assert d.explain(task, d.predict(task)) == {"Q46": {"why": "declared"}}


def test_the_runner_reads_the_declared_members(tmp_path: Path) -> None:
    data = generate_synthetic(n=30, seed=0)
    cfg = RunConfig(protocol=ProtocolConfig(n_respondents=6, seed=3, max_targets=3), n_boot=20, command="test")
    plain = run_benchmark(data, Plain(data.codebook), cfg, tmp_path / "plain", progress=False)
    m = Declared(data.codebook)
    res = run_benchmark(data, m, cfg, tmp_path / "declared", progress=False)
    manifest = json.loads((tmp_path / "declared" / "manifest.json").read_text())
    assert manifest["config"]["run"]["concurrency"] == 3  # default_concurrency, not 1
    plain_manifest = json.loads((tmp_path / "plain" / "manifest.json").read_text())
    assert plain_manifest["config"]["run"]["concurrency"] == 1 and plain.metrics["llm_calls"] == 0
    assert res.metrics["llm_calls"] == m.calls == res.n_units  # usage counted per unit
    assert res.metrics["prompt_tokens"] == 10 * res.n_units


def test_no_protocol_member_is_read_by_name() -> None:
    src = Path(__file__).resolve().parents[2] / "src" / "valuesim"
    hits = [
        f"{p.relative_to(src)}:{i}: {line.strip()}"
        for p in sorted(src.rglob("*.py"))
        for i, line in enumerate(p.read_text("utf-8").splitlines(), 1)
        if re.search(r"getattr\(.*method", line)
    ]
    assert hits == []
