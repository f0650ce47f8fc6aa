"""What a newcomer sees at the end of `valuesim demo`: an absolute report path and, with the
embedded model, the smoke-test note (console and report)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from valuesim.cli import app


def test_demo_with_the_embedded_model_says_it_is_a_smoke_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from valuesim.llm import get_model
    from valuesim.methods import llm_methods

    # the embedded model is replaced by the mock model; the runs still record --model local
    monkeypatch.setattr(llm_methods, "get_model", lambda spec, **kw: get_model("mock", **kw))
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["demo", "--model", "local", "--out", "demo", "--no-progress"])
    assert res.exit_code == 0, res.output
    out = res.stdout.replace("\n", "")
    html = (tmp_path / "demo" / "report" / "report.html").resolve()
    assert str(html) in out and os.path.isabs(str(html))  # absolute, like `valuesim report`
    assert "smoke-test model" in out
    assert "smoke-test model" in html.read_text("utf-8")
    md = (tmp_path / "demo" / "report" / "report.md").read_text("utf-8")
    assert "valuesim, hybrid: The embedded model (SmolLM2-135M-Instruct, --model local) is a smoke-test model" in md
