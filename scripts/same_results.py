"""Check that a refactoring changed no result: run every method with one tree, then compare.

Runs, with the ``valuesim`` found on ``PYTHONPATH`` (point it at the tree to test):

* ``bench`` for every registered method on synthetic data (80 people, 6 respondents, at most
  5 targets per unit, ``--model mock --no-cache`` for LLM methods);
* ``simulate`` of examples/questionnaire.yaml for every method that can answer new questions
  (6 respondents);
* ``demo`` (the experiment driver: several runs and a report) with ``--model mock``.

Usage (one tree against another)::

    PYTHONPATH=/work/main/src   python scripts/same_results.py run /tmp/same/main
    PYTHONPATH=/path/branch/src python scripts/same_results.py run /tmp/same/branch
    python scripts/same_results.py compare /tmp/same/main /tmp/same/branch

``compare`` checks ``predictions.jsonl``, ``answers.csv``, ``distributions.csv`` byte for byte
and ``metrics.json`` / ``summary.json`` equal except timing fields (``*_seconds``); it exits 1
on the first kind of difference it lists. ``run --only bench`` (or simulate, demo) runs a part;
``run --method knn`` one method. The LLM response cache and story store go to ``OUT/cache``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

QUESTIONNAIRE = Path(__file__).resolve().parent.parent / "examples" / "questionnaire.yaml"
N_SYNTHETIC = 80
N_RESPONDENTS = 6
MAX_TARGETS = 5


def _methods() -> list[tuple[str, bool, bool]]:
    """(name, uses an LLM, can answer a new question) of every registered method."""
    from valuesim.methods import method_infos

    return [(i.name, i.uses_llm, not i.cls.learns_from_target_answers()) for i in method_infos()]


def _valuesim(args: list[str], out: Path, log: Path) -> int:
    env = {**os.environ, "VALUESIM_CACHE_DIR": str(out / "cache"), "VALUESIM_NO_PROGRESS": "1"}
    with open(log, "a", encoding="utf-8") as f:
        f.write("$ valuesim " + " ".join(args) + "\n")
        f.flush()
        return subprocess.call([sys.executable, "-m", "valuesim", *args], stdout=f, stderr=f, env=env)


def run(out: Path, only: set[str], method: str | None) -> int:
    import valuesim

    out.mkdir(parents=True, exist_ok=True)
    log = out / "log.txt"
    print(f"valuesim from {Path(valuesim.__file__).parent}; log in {log}")
    failed = 0
    for name, llm, new_questions in _methods():
        if method and name != method:
            continue
        model = ["--model", "mock", "--no-cache"] if llm else []
        if "bench" in only:
            rc = _valuesim(
                ["bench", "--synthetic", str(N_SYNTHETIC), "-m", name, "-n", str(N_RESPONDENTS)]
                + ["--max-targets", str(MAX_TARGETS), "--no-progress", "--out", str(out / "bench" / name), *model],
                out,
                log,
            )
            print(f"bench {name}: exit {rc}")
            failed += rc != 0
        if "simulate" in only and new_questions:
            rc = _valuesim(
                ["simulate", "--data", f"synthetic:{N_SYNTHETIC}", "--questions", str(QUESTIONNAIRE), "-m", name]
                + ["-n", str(N_RESPONDENTS), "--no-progress", "--out", str(out / "simulate" / name), *model],
                out,
                log,
            )
            print(f"simulate {name}: exit {rc}")
            failed += rc != 0
    if "demo" in only and method is None:
        rc = _valuesim(["demo", "--model", "mock", "-n", "2", "--no-progress", "--out", str(out / "demo")], out, log)
        print(f"demo: exit {rc}")
        failed += rc != 0
    return 1 if failed else 0


def _without_timing(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _without_timing(v) for k, v in obj.items() if not str(k).endswith("_seconds")}
    if isinstance(obj, list):
        return [_without_timing(v) for v in obj]
    return obj


BYTES = ("predictions.jsonl", "answers.csv", "distributions.csv")
JSON = ("metrics.json", "summary.json")


def compare(a: Path, b: Path) -> int:
    compared = differ = 0
    for pa in sorted(p for p in a.rglob("*") if p.name in BYTES + JSON and "cache" not in p.parts):
        rel = pa.relative_to(a)
        pb = b / rel
        if not pb.exists():
            print(f"MISSING in {b}: {rel}")
            differ += 1
            continue
        compared += 1
        if pa.name in BYTES:
            same = pa.read_bytes() == pb.read_bytes()
        else:
            same = _without_timing(json.loads(pa.read_text())) == _without_timing(json.loads(pb.read_text()))
        if not same:
            print(f"DIFFERS: {rel}")
            differ += 1
    extra = [p.relative_to(b) for p in b.rglob("*") if p.name in BYTES + JSON and not (a / p.relative_to(b)).exists()]
    for rel in extra:
        if "cache" not in rel.parts:
            print(f"MISSING in {a}: {rel}")
            differ += 1
    print(f"{compared} files compared, {differ} differ or are missing")
    return 1 if differ or not compared else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run every method into OUT with the valuesim on PYTHONPATH")
    r.add_argument("out", type=Path)
    r.add_argument("--only", action="append", choices=("bench", "simulate", "demo"))
    r.add_argument("--method")
    c = sub.add_parser("compare", help="compare two output directories of `run`")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    args = ap.parse_args()
    if args.cmd == "run":
        return run(args.out, set(args.only or ("bench", "simulate", "demo")), args.method)
    return compare(args.a, args.b)


if __name__ == "__main__":
    sys.exit(main())
