"""The package's layers and acyclic modules ([tool.importlinter] in pyproject.toml, `lint-imports`
in .ci/run): the real tree keeps them, and an arrow back up or a cycle breaks them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter")
REPO = Path(__file__).resolve().parents[1]


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run(
        [sys.executable, "-c", code, "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        check=False,
    )


def test_the_package_keeps_its_layers_and_has_no_cycles() -> None:
    proc = _lint(REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 kept, 0 broken" in proc.stdout


def test_an_import_up_the_layers_or_a_cycle_breaks_the_contracts(tmp_path: Path) -> None:
    shutil.copytree(REPO / "src" / "valuesim", tmp_path / "src" / "valuesim", ignore=shutil.ignore_patterns("*.pyc"))
    plan = tmp_path / "src" / "valuesim" / "bench" / "plan.py"
    plan.write_text(plan.read_text("utf-8") + "\nfrom valuesim.report import tables  # noqa\n", "utf-8")
    phrasing = tmp_path / "src" / "valuesim" / "methods" / "phrasing.py"
    phrasing.write_text(phrasing.read_text("utf-8") + "\nfrom valuesim.methods import story  # noqa\n", "utf-8")
    facts = tmp_path / "src" / "valuesim" / "methods" / "story" / "facts.py"
    facts.write_text(facts.read_text("utf-8") + "\nfrom valuesim.methods.story import store  # noqa\n", "utf-8")
    proc = _lint(tmp_path)
    assert proc.returncode == 1, proc.stdout
    assert "valuesim.bench is not allowed to import valuesim.report" in proc.stdout
    assert "valuesim.bench.plan -> valuesim.report" in proc.stdout
    assert "No cycles are allowed in valuesim.methods" in proc.stdout
    # the story package's modules by job: the facts never reach up to the store
    assert "valuesim.methods.story.facts is not allowed to import valuesim.methods.story.store" in proc.stdout
