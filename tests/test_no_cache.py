"""`--no-cache` on every command that calls a model (issue 24, item 8): nothing is read from or
written to the response cache or the backstory store. Each case runs once with the flag (no
cache file appears) and the control runs without it (the files appear), so the check can fail."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run_cli

from valuesim.llm.cache import CACHE_FILE
from valuesim.methods.story import STORE_FILE

DATA = ["--data", "synthetic:80"]
RID = "276070001"

COMMANDS = {
    "ask": ["ask", *DATA, "-r", RID, "-q", "Q46", "--method", "blank", "--model", "mock"],
    "simulate": ["simulate", *DATA, "--questions", "examples/questionnaire.yaml", "-n", "2", "--min-valid", "0",
                 "--method", "blank", "--model", "mock", "--no-progress", "--out", "{tmp}/sim"],
    "backstory": ["backstory", *DATA, "-r", RID, "--style", "narrative", "--model", "mock"],
    "bench": ["bench", *DATA, "-m", "blank", "--model", "mock", "-n", "1", "--folds", "2", "--max-targets", "2",
              "--n-boot", "10", "--no-progress", "--out", "{tmp}/bench"],
    "hybrid": ["bench", *DATA, "-m", "hybrid", "--model", "mock", "-n", "1", "--folds", "2", "--max-targets", "2",
               "--n-boot", "10", "-o", "prior=majority", "-o", "calibration_respondents=1", "-o",
               "calibration_targets=2", "--no-progress", "--out", "{tmp}/hybrid"],
    "experiment": ["experiment", "paper", *DATA, "--model", "mock", "--quick", "-n", "1", "--only", "blank",
                   "--no-progress", "--out", "{tmp}/exp"],
}  # fmt: skip


def _cache_files(cache: Path) -> set[str]:
    return {p.name for p in cache.glob("*.sqlite3")} if cache.exists() else set()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_no_cache_reads_and_writes_no_cache(name, tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    monkeypatch.setenv("VALUESIM_CACHE_DIR", str(cache))
    args = [a.replace("{tmp}", str(tmp_path)) for a in COMMANDS[name]]
    res = run_cli(monkeypatch, capsys, *args, "--no-cache")
    assert res.code == 0, res.text
    assert CACHE_FILE not in _cache_files(cache) and STORE_FILE not in _cache_files(cache)
    if name in ("ask", "backstory"):  # the control: without the flag, the same command fills the cache
        assert run_cli(monkeypatch, capsys, *args).code == 0
        assert CACHE_FILE in _cache_files(cache)
        if name == "backstory":
            assert STORE_FILE in _cache_files(cache)


def test_view_no_cache_gives_ask_a_model_without_cache(monkeypatch, capsys):
    import valuesim.cli.view as view_cli
    import valuesim.view as view_pkg

    monkeypatch.setattr(view_cli, "serve", lambda app, sock: None)
    original, captured = view_pkg.create_app, {}

    def spy(store, **kw):  # type: ignore[no-untyped-def]
        captured["options"] = kw.get("model_options")
        return original(store, **kw)

    def ask_model():  # type: ignore[no-untyped-def]
        """The model of a method the Ask page builds from the options it was given."""
        from valuesim.methods import get_method
        from valuesim.survey import load_codebook

        return get_method("valuesim", load_codebook(), **captured["options"], rationale=True).model

    monkeypatch.setattr(view_pkg, "create_app", spy)
    res = run_cli(monkeypatch, capsys, "view", *DATA, "--model", "mock", "--no-cache", "--port", "0")
    assert res.code == 0, res.text
    assert captured["options"]["cache"] is False and ask_model().cache is None
    res = run_cli(monkeypatch, capsys, "view", *DATA, "--model", "mock", "--port", "0")
    assert res.code == 0 and "cache" not in captured["options"] and ask_model().cache is not None
