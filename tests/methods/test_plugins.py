"""Plug-in methods: the example of docs/extending.md, installed as a package with an entry
point, is found by `valuesim bench --list-methods` and runs in a benchmark."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from valuesim.errors import ConfigError
from valuesim.methods import Method, get_method, method_info, register
from valuesim.survey.codebook import load_codebook

DOC = Path(__file__).resolve().parents[2] / "docs" / "extending.md"


def doc_example() -> str:
    return re.search(r"```python\n(.*?)```", DOC.read_text("utf-8"), re.S).group(1)  # type: ignore[union-attr]


def install(site: Path, entry_points: str) -> None:
    """A minimal installed distribution: the module, and a dist-info with the entry points."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "my_methods.py").write_text(doc_example(), "utf-8")
    info = site / "my_methods-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-methods\nVersion: 0.1\n", "utf-8")
    (info / "entry_points.txt").write_text(f"[valuesim.methods]\n{entry_points}\n", "utf-8")


def valuesim(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250", "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    env["VALUESIM_CACHE_DIR"] = str(site.parent / "cache")
    return subprocess.run(
        [sys.executable, "-m", "valuesim", *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def test_the_documented_method_is_short() -> None:
    code = [line for line in doc_example().splitlines() if line.strip()]
    assert len(code) < 30


def test_entry_point_method_is_listed_and_runs(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, "usual-position = my_methods:UsualPosition\nbroken = no_such_module:Nothing")
    listed = valuesim(site, "bench", "--list-methods")
    assert listed.returncode == 0, listed.stderr
    assert "usual-position" in listed.stdout and "entry point my_methods:UsualPosition" in listed.stdout
    assert "sharpness" in listed.stdout and "how fast probability falls off" in listed.stdout
    assert "knn" in listed.stdout  # the built-ins are still there
    assert "broken" in listed.stderr and "no_such_module" in listed.stderr  # reported, not fatal

    out = tmp_path / "run"
    args = ("--data", "synthetic:80", "-n", "4", "--folds", "2", "--n-boot", "20", "--no-progress")
    run = valuesim(site, "bench", *args, "--method", "usual-position", "-o", "sharpness=2", "--out", str(out))
    assert run.returncode == 0, run.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "usual-position" and metrics["n_predictions"] > 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["method"]["sharpness"] == 2.0

    bad = valuesim(
        site, "bench", *args, "--method", "usual-position", "-o", "sharpness=-1", "--out", str(tmp_path / "x")
    )
    assert bad.returncode == 2 and "sharpness" in bad.stderr and "Traceback" not in bad.stderr

    direct = valuesim(site, "bench", *args, "--method", "my_methods:UsualPosition", "--out", str(tmp_path / "direct"))
    assert direct.returncode == 0, direct.stderr


def test_import_path_errors_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="Cannot import"):
        method_info("no_such_package.mod:Thing")
    with pytest.raises(ConfigError, match="not a method"):
        method_info("valuesim.errors:ConfigError")
    with pytest.raises(ConfigError, match="Unknown method"):
        method_info("no-such-method")


def test_register_and_describe_without_building(monkeypatch: pytest.MonkeyPatch) -> None:
    from valuesim.methods import base

    base.method_infos()  # the built-ins are loaded into the real registry first
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))  # this test's method stays here

    @register("test-constant", "always the first option")
    class Constant(Method):
        def predict(self, task):  # type: ignore[no-untyped-def]
            return []

    info = method_info("test-constant")
    assert info.cls is Constant and info.description == "always the first option" and not info.uses_llm
    assert info.options == []
    assert get_method("test-constant", load_codebook()).config() == {"name": "test-constant"}
    with pytest.raises(ConfigError, match="test-constant"):
        get_method("test-constant", load_codebook(), k=3)  # no options: every option is an error
    assert method_info("valuesim").uses_llm and method_info("knn").options[0].name == "k"
