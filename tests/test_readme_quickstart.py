"""The README quickstart is exactly two commands, and its test-suite install step is the one
CI runs (`.ci/run`): a newcomer installs what CI tests."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def quickstart_commands(readme: str) -> list[str]:
    """The shell commands of the README's Quickstart section (its ```bash blocks, not subsections)."""
    section = readme.split("## Quickstart", 1)[1]
    section = re.split(r"^##+ ", section, maxsplit=1, flags=re.M)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return [line.strip() for b in blocks for line in b.splitlines() if line.strip() and not line.startswith("#")]


def pip_install_args(command: str) -> list[str]:
    """The arguments after `pip install` in one shell command (`python -m pip` or `pip`; redirections dropped)."""
    words = [w for w in shlex.split(command.split("&&")[0]) if not w.startswith(("<", ">"))]
    at = next(i for i in range(len(words) - 1) if words[i] == "pip" and words[i + 1] == "install")
    return words[at + 2 :]


def ci_install_steps(script: str) -> list[list[str]]:
    return [pip_install_args(line) for line in script.splitlines() if re.match(r"\s*(python -m )?pip install", line)]


def test_quickstart_is_two_commands() -> None:
    commands = quickstart_commands((REPO / "README.md").read_text("utf-8"))
    assert commands == ['pip install ".[local]" && valuesim demo', 'pip install -e ".[dev]" && pytest']


def test_quickstart_test_install_matches_ci() -> None:
    readme_test = quickstart_commands((REPO / "README.md").read_text("utf-8"))[1]
    ci = ci_install_steps((REPO / ".ci" / "run").read_text("utf-8"))
    assert ci, ".ci/run has no pip install step"
    assert pip_install_args(readme_test) in ci, (
        f"README installs {pip_install_args(readme_test)}, CI installs {ci}: make them the same"
    )


def test_parsers_see_a_mismatch() -> None:
    assert pip_install_args('python -m pip install -e ".[dev]" </dev/null') == ["-e", ".[dev]"]
    assert pip_install_args('pip install -e ".[test]" && pytest') != ["-e", ".[dev]"]
