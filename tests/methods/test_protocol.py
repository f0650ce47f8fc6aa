"""The Method protocol as declared on the base class, and how its options are shown to users."""

from __future__ import annotations

from typer.testing import CliRunner

from valuesim.cli import app
from valuesim.llm.cache import CACHE_ENV
from valuesim.methods import describe_options, method_info
from valuesim.methods.llm_methods import LLMOptions


def test_options_with_a_default_factory_show_their_real_default() -> None:
    docs = {d.name: d for d in describe_options(method_info("hybrid").cls.Options)}
    assert docs["prior_options"].default == {} and docs["llm_options"].default == {}
    assert "Undefined" not in docs["prior_options"].default_text


def test_list_methods_never_prints_an_undefined_default() -> None:
    res = CliRunner().invoke(app, ["bench", "--list-methods"])
    assert res.exit_code == 0, res.output
    assert "prior_options" in res.stdout and "Undefined" not in res.stdout


def test_cache_option_names_the_environment_variable_the_code_reads() -> None:
    help_text = LLMOptions.model_fields["cache"].description or ""
    assert CACHE_ENV == "VALUESIM_CACHE_DIR" and f"${CACHE_ENV}" in help_text
