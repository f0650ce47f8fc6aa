"""Wall and CPU time of whole CLI commands (experiment, demo, report), as a user runs them.

Each command runs in a fresh process with a fresh, empty LLM response cache (so nothing is
served from an earlier run) in a temporary directory; CPU time is that of the command and all
its children. The data are SYNTHETIC (``--data synthetic:2000``), so no WVS file is needed.

    python benchmarks/bench_commands.py                  # the cheap commands (mock model, baselines)
    python benchmarks/bench_commands.py --local          # also the embedded model (about 15 min of CPU)
    python benchmarks/bench_commands.py --only report

The table goes to docs/results/commands.json (rendered into docs/reports.md by
``python tools/update_docs.py``; ``--results ''`` skips it).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _results  # noqa: F401  (records the commit now, at start)

DATA = "synthetic:2000"
VS = [sys.executable, "-m", "valuesim"]


@dataclass(frozen=True)
class Step:
    name: str
    label: str  # what the docs show in the command column
    args: list[str]  # after "valuesim", with {tmp} for the working directory
    local: bool = False  # needs the embedded model (--local)
    timed: bool = True  # False: a preparation step whose time is not reported


STEPS = [
    Step(
        "experiment-mock",
        f"`valuesim experiment paper --data {DATA} --model mock --quick --out q/` (15 runs)",
        ["experiment", "paper", "--data", DATA, "--model", "mock", "--quick", "--out", "{tmp}/q-mock"],
    ),
    *[
        Step(
            f"bench-{m}",
            f"`valuesim bench --data {DATA} --method {m} --respondents 100 --out runs/{m}`",
            ["bench", "--data", DATA, "--method", m, "--respondents", "100", "--out", f"{{tmp}}/runs/{m}"],
            timed=m == "knn",
        )
        for m in ("majority", "country-majority", "knn")
    ],
    Step(
        "report",
        "`valuesim report` of 3 runs (majority, country-majority, knn; 100 people, all questions)",
        ["report", "{tmp}/runs/majority", "{tmp}/runs/country-majority", "{tmp}/runs/knn", "--out", "{tmp}/report"],
    ),
    Step(
        "experiment-local",
        f"`valuesim experiment paper --data {DATA} --model local --quick --out q/` (15 runs, embedded SmolLM2-135M)",
        ["experiment", "paper", "--data", DATA, "--model", "local", "--quick", "--out", "{tmp}/q-local"],
        local=True,
    ),
    Step(
        "demo",
        "`valuesim demo` (embedded model; baselines + ValueSim on synthetic respondents)",
        ["demo", "--out", "{tmp}/demo"],
        local=True,
    ),
]


def run_step(step: Step, tmp: Path) -> tuple[float, float]:
    """Run one command; return (wall seconds, CPU seconds of the command and its children)."""
    env = {**os.environ, "VALUESIM_CACHE_DIR": str(tmp / f"cache-{step.name}"), "VALUESIM_NO_PROGRESS": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*VS, *[a.replace("{tmp}", str(tmp)) for a in step.args]],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{step.name} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--local", action="store_true", help="also time the commands that use the embedded model")
    ap.add_argument("--only", default="", help="comma list of step names (preparation steps always run)")
    ap.add_argument("--results", default="commands", help="write docs/results/NAME.json ('' = do not write)")
    args = ap.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = only - {s.name for s in STEPS}
    if unknown:
        ap.error(f"unknown step(s) {', '.join(sorted(unknown))}; choose from {', '.join(s.name for s in STEPS)}")

    rows: list[list[str | int | float | None]] = []
    raw: dict[str, dict[str, float]] = {}
    loads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="valuesim-bench-commands-") as d:
        tmp = Path(d)
        for step in STEPS:
            if step.local and not args.local:
                continue
            needed = not only or step.name in only or (step.name.startswith("bench-") and "report" in only)
            if not needed:
                continue
            wall, cpu = run_step(step, tmp)
            loads.append(os.getloadavg()[0])
            print(f"{step.name}: wall {duration(wall)}, CPU {duration(cpu)}", flush=True)
            raw[step.name] = {"wall_seconds": wall, "cpu_seconds": cpu, "load": loads[-1]}
            if step.timed:
                rows.append([step.label, duration(wall), duration(cpu)])
    if args.results and rows:
        from _results import save_results, table

        caption = (
            f"SYNTHETIC data ({DATA}); each command in a fresh process with an empty LLM cache; CPU = the command "
            f"and its children; {os.cpu_count()} cores, load average {min(loads):.1f}-{max(loads):.1f} "
            "while it ran (wall times are upper bounds on a busy machine)."
        )
        save_results(
            args.results,
            {"commands": table(caption, ["command", "wall", "CPU"], rows)},
            data=f"SYNTHETIC: generated respondents ({DATA})",
            raw=raw,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
