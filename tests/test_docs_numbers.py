"""Numbers in README.md and docs/*.md come from docs/results/*.json (tools/update_docs.py).

The first test is the project's consistency check; the others prove, on temporary copies,
that the check fails when a number is edited by hand, a results file or table is missing, a
block is broken, or a measured-looking number is typed outside a block.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


update_docs = _load(REPO / "tools" / "update_docs.py")
results = _load(REPO / "benchmarks" / "_results.py")


def _check(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "tools" / "update_docs.py"), "--check", "--root", str(root), *extra],
        capture_output=True,
        text=True,
        check=False,
    )


def test_docs_numbers_match_their_results_files() -> None:
    """Every generated block matches its JSON, and no measured-looking number is typed by hand."""
    proc = _check(REPO)
    assert proc.returncode == 0, proc.stderr


def test_check_fails_when_a_number_in_the_real_docs_is_edited(tmp_path: Path) -> None:
    """The same check on a copy of this repository's README, docs and results."""
    shutil.copy(REPO / "README.md", tmp_path / "README.md")
    shutil.copytree(REPO / "docs", tmp_path / "docs")
    edited = []
    for path in update_docs.documents(tmp_path):
        lines = path.read_text().split("\n")
        blocks, _ = update_docs.find_blocks(path, lines)
        for b in blocks:
            row = next(
                (i for i in range(b.start + 1, b.end) if lines[i].startswith("| ") and re.search(r"\d\.\d", lines[i])),
                None,
            )
            if row is not None:
                lines[row] = re.sub(r"\d(?=\.\d)", lambda m: str((int(m.group()) + 1) % 10), lines[row], count=1)
                path.write_text("\n".join(lines))
                edited.append(f"{path.relative_to(tmp_path)}:{b.start + 1}")
                break
    assert len(edited) >= 5  # README, baselines, benchmark, data, llm, ... all have generated tables
    proc = _check(tmp_path)
    assert proc.returncode == 1
    for where in edited:
        assert where in proc.stderr


@pytest.fixture
def mini_repo(tmp_path: Path) -> Path:
    """A README with one generated block rendered from a results file written by save_results."""
    (tmp_path / "docs").mkdir()
    results.save_results(
        "toy",
        {
            "main": results.table(
                "Toy table (SYNTHETIC: 3 respondents)",
                ["method", "top-1"],
                [["majority", "0.493"], ["knn", "0.583"]],
            )
        },
        command="python benchmarks/toy.py --respondents 3",
        data="SYNTHETIC: 3 respondents",
        raw={"nan": float("nan")},
        out_dir=tmp_path / "docs" / "results",
    )
    (tmp_path / "README.md").write_text("# Toy\n\nIntro.\n\n<!-- results:toy/main -->\n<!-- /results -->\n\nEnd.\n")
    (tmp_path / "docs" / "more.md").write_text("Same table:\n<!-- results:toy/main -->\nstale\n<!-- /results -->\n")
    assert update_docs.main(["--root", str(tmp_path)]) == 0
    return tmp_path


def test_render_writes_caption_table_and_source(mini_repo: Path) -> None:
    readme = (mini_repo / "README.md").read_text()
    assert "*Toy table (SYNTHETIC: 3 respondents)*" in readme
    assert "| knn | 0.583 |" in readme
    assert "[docs/results/toy.json](docs/results/toy.json)" in readme
    assert "`python benchmarks/toy.py --respondents 3`; SYNTHETIC: 3 respondents;" in readme
    # a document under docs/ links relative to itself; the stale content is replaced
    more = (mini_repo / "docs" / "more.md").read_text()
    assert "(results/toy.json)" in more and "stale" not in more
    assert readme.endswith("<!-- /results -->\n\nEnd.\n")
    doc = json.loads((mini_repo / "docs" / "results" / "toy.json").read_text())
    assert doc["raw"] == {"nan": None}  # NaN is stored as null, the file stays valid JSON
    assert {"command", "commit", "dirty", "created", "data", "machine", "tables"} <= set(doc)
    assert doc["machine"]["nproc"] >= 1 and len(doc["machine"]["loadavg"]) == 3
    assert _check(mini_repo).returncode == 0
    assert update_docs.main(["--root", str(mini_repo)]) == 0  # idempotent
    assert (mini_repo / "README.md").read_text() == readme


def test_check_fails_when_a_number_is_edited_by_hand(mini_repo: Path) -> None:
    readme = mini_repo / "README.md"
    readme.write_text(readme.read_text().replace("0.583", "0.593"))
    proc = _check(mini_repo)
    assert proc.returncode == 1
    assert "README.md:5: results:toy/main differs from docs/results/toy.json" in proc.stderr
    assert "0.593" in proc.stderr and "0.583" in proc.stderr


def test_check_fails_when_the_results_file_changes(mini_repo: Path) -> None:
    path = mini_repo / "docs" / "results" / "toy.json"
    doc = json.loads(path.read_text())
    doc["tables"]["main"]["rows"][0][1] = "0.500"
    path.write_text(json.dumps(doc))
    assert _check(mini_repo).returncode == 1
    assert update_docs.main(["--root", str(mini_repo)]) == 0
    assert "| majority | 0.500 |" in (mini_repo / "README.md").read_text()
    assert _check(mini_repo).returncode == 0


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("<!-- results:nope/main -->\n<!-- /results -->", "docs/results/nope.json does not exist"),
        ("<!-- results:toy/other -->\n<!-- /results -->", "has no table 'other' (tables: main)"),
        ("<!-- results:toy/main -->\n", "is never closed"),
        ("<!-- /results -->", "without an opening"),
        ("<!-- results: toy -->", "malformed results marker"),
    ],
)
def test_check_fails_on_broken_blocks(mini_repo: Path, block: str, message: str) -> None:
    (mini_repo / "docs" / "broken.md").write_text(f"# Broken\n\n{block}\n")
    proc = _check(mini_repo)
    assert proc.returncode == 1
    assert message in proc.stderr


def test_check_flags_hand_typed_numbers_outside_blocks(mini_repo: Path) -> None:
    doc = mini_repo / "docs" / "typed.md"
    doc.write_text("| method | top-1 |\n| --- | --- |\n| knn | 0.58 |\n")
    proc = _check(mini_repo)
    assert proc.returncode == 1 and "docs/typed.md:3: number(s) 0.58 typed by hand" in proc.stderr
    doc.write_text("The model gets top-1 0.325 on twenty respondents.\n")
    assert "docs/typed.md:1: number(s) 0.325" in _check(mini_repo).stderr
    # not measurements: code (also a marker shown as an example), an explicit marker, versions, thresholds
    doc.write_text(
        "```\nvaluesim bench --alpha 0.125\n<!-- results:nope/x -->\n```\n"
        "Run `--latency 0.050` with llama.cpp 0.3.36, p < 0.05.\n"
        "| Python | 3.10 | <!-- not-a-result -->\n"
    )
    assert _check(mini_repo).returncode == 0


@pytest.mark.parametrize(
    ("line", "hit"),
    [
        ("The embedded model is 98 MB on disk.", "98 MB"),
        ("The buffer takes 0.8 GB.", "0.8 GB"),
        ("Undeclared: 1,117 of 72,068 answers.", "1,117 of 72,068"),
        ("The full file (~97k respondents × ~600 columns) loads column-wise.", "~97k respondents × ~600"),
        ("A matrix of 97,220 rows x 606 columns.", "97,220 rows x 606"),
        ("That is 1.5 % of the answers.", "1.5 %"),
        ("Missing at about 5% of answers.", "5%"),
        ("Loads in < 20 s on a laptop.", "20 s"),
        ("It refreshes every 3 seconds.", "3 seconds"),
        ("A history has about 280 facts.", "about 2"),
    ],
)
def test_check_flags_measured_looking_numbers_of_every_shape(mini_repo: Path, line: str, hit: str) -> None:
    doc = mini_repo / "docs" / "typed.md"
    doc.write_text(f"Intro.\n{line}\n")
    proc = _check(mini_repo)
    assert proc.returncode == 1 and "docs/typed.md:2: number(s) " in proc.stderr and hit in proc.stderr, proc.stderr
    doc.write_text(f"Intro.\n{line} <!-- not-a-result -->\n")  # the line marker allows it
    assert _check(mini_repo).returncode == 0
    doc.write_text(f"Intro.\n```\n{line}\n```\n")  # code is never a result
    assert _check(mini_repo).returncode == 0


def test_allow_list_and_plain_numbers_are_not_flagged(mini_repo: Path) -> None:
    doc = mini_repo / "docs" / "typed.md"
    doc.write_text(
        "Top-1 with 95% bootstrap CIs over respondents; a 95% CI; 95 % confidence intervals.\n"
        "Take 200 respondents and 5 folds with `--timeout 30` on Python 3.11; WVS wave 7.\n"
    )
    assert _check(mini_repo).returncode == 0, _check(mini_repo).stderr
    doc.write_text("95% of answers were valid.\n")  # not a CI: a measurement
    assert "95%" in _check(mini_repo).stderr


def test_a_table_kept_from_an_earlier_run_names_that_run(mini_repo: Path) -> None:
    path = mini_repo / "docs" / "results" / "toy.json"
    old = json.loads(path.read_text())
    kept = results.carried_over(old, "main")
    assert kept["source"]["command"] == "python benchmarks/toy.py --respondents 3"
    results.save_results(
        "toy",
        {"main": kept, "new": results.table("New", ["a"], [["1"]])},
        command="python benchmarks/toy.py --only-new",
        data="SYNTHETIC: 3 respondents",
        out_dir=mini_repo / "docs" / "results",
    )
    doc = mini_repo / "docs" / "two.md"
    doc.write_text("<!-- results:toy/main -->\n<!-- /results -->\n<!-- results:toy/new -->\n<!-- /results -->\n")
    assert update_docs.main(["--root", str(mini_repo)]) == 0
    sources = [x for x in doc.read_text().splitlines() if x.startswith("<sub>Source")]
    assert "`python benchmarks/toy.py --respondents 3`" in sources[0]
    assert "`python benchmarks/toy.py --only-new`" in sources[1]
    assert results.carried_over(json.loads(path.read_text()), "main")["source"] == kept["source"]  # kept again


def test_table_rejects_ragged_rows_and_odd_cells() -> None:
    with pytest.raises(ValueError, match="row 0 has 1 cells"):
        results.table("t", ["a", "b"], [["x"]])
    with pytest.raises(TypeError, match="use str, int, float or None"):
        results.table("t", ["a"], [[object()]])
