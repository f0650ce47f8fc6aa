"""How long `pip install ".[local]"` takes to build llama-cpp-python, and what a missing compiler prints.

PyPI ships llama-cpp-python as source only, so the first install compiles llama.cpp (C/C++,
CMake). This script builds the same source distribution pip would use with ``pip wheel``
and records the wall time, the CPU time of the build processes and the machine's load before
the build (other work running at the same time). Run it once on a quiet machine and once on a
busy one; each run replaces the row of its condition (``--condition``, default from the load)
and keeps the other, so the table shows both::

    python benchmarks/bench_install.py                       # condition from the load average
    python benchmarks/bench_install.py --condition idle      # say it yourself
    python benchmarks/bench_install.py --missing-compiler    # only record the no-compiler error

``--missing-compiler`` builds with a PATH that holds Python, CMake and the other build tools
but no C/C++ compiler, and keeps the error lines pip prints (README: what a missing compiler
looks like).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path

from _results import RESULTS_DIR, save_results, table

NAME = "install"
#: Load average (1 min) per core below which a machine counts as idle.
IDLE_LOAD_PER_CORE = 0.25


def sdist(version: str, dest: Path) -> Path:
    """The llama-cpp-python source distribution pip would build (from the configured index)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", f"llama-cpp-python=={version}", "--no-binary", ":all:"]
        + ["--no-deps", "-d", str(dest), "-q"],
        check=True,
    )
    return next(dest.glob("llama_cpp_python-*.tar.gz"))


class LoadSampler:
    """Mean of the 1-minute load average sampled every few seconds while a build runs."""

    def __init__(self, every: float = 5.0) -> None:
        self.every, self.samples, self._stop = every, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def build(source: Path, env: dict[str, str]) -> tuple[int, float, float, str]:
    """(exit code, wall seconds, CPU seconds of the build processes, output) of ``pip wheel``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-w", out, "-v"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc.returncode, wall, cpu, proc.stdout + proc.stderr


#: Tools a build may call besides the compilers (a machine "without a compiler" still has these).
BUILD_TOOLS = ("cmake", "ninja", "git", "sh", "bash", "env", "uname", "make")


def no_compiler_env(tmp: Path) -> dict[str, str]:
    """An environment whose PATH has Python and the build tools but no C/C++ compiler."""
    import shutil

    bin_dir = tmp / "bin-without-compilers"
    bin_dir.mkdir(exist_ok=True)
    for name, target in [("python", sys.executable), ("python3", sys.executable)] + [
        (t, shutil.which(t)) for t in BUILD_TOOLS
    ]:
        if target and not (bin_dir / name).exists():
            (bin_dir / name).symlink_to(target)
    env = {k: v for k, v in os.environ.items() if k not in ("CC", "CXX")}
    return {**env, "PATH": str(bin_dir), "CMAKE_BUILD_PARALLEL_LEVEL": "1"}


def missing_compiler_error(output: str) -> list[str]:
    """The lines of a failed build that say what is wrong (CMake's compiler errors, pip's summary)."""
    keep = re.compile(r"CMAKE_C(XX)?_COMPILER|compiler|^\s*gcc\.?$|Failed building wheel|ERROR:", re.I)
    lines = [ln.strip() for ln in output.splitlines() if keep.search(ln)]
    return list(dict.fromkeys(lines))[:12]


def previous_rows() -> dict[str, list[object]]:
    path = RESULTS_DIR / f"{NAME}.json"
    if not path.exists():
        return {}
    doc = json.loads(path.read_text("utf-8"))
    rows = (doc.get("tables") or {}).get("build", {}).get("rows") or []
    return {str(r[0]): r for r in rows}


def previous_raw() -> dict[str, object]:
    path = RESULTS_DIR / f"{NAME}.json"
    return (json.loads(path.read_text("utf-8")).get("raw") or {}) if path.exists() else {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--condition", choices=("idle", "loaded"), help="Default: from the load average before the build.")
    ap.add_argument(
        "--sdist", type=Path, help="A llama-cpp-python .tar.gz (default: pip download the installed version)."
    )
    ap.add_argument("--missing-compiler", action="store_true", help="Only record the error a missing compiler gives.")
    args = ap.parse_args()

    version = metadata.version("llama-cpp-python")
    nproc = os.cpu_count() or 1
    raw = previous_raw()
    rows = previous_rows()
    with tempfile.TemporaryDirectory() as tmp:
        source = args.sdist or sdist(version, Path(tmp))
        code, wall, _cpu, out = build(source, no_compiler_env(Path(tmp)))
        raw["missing_compiler"] = {"exit_code": code, "seconds": round(wall, 1), "lines": missing_compiler_error(out)}
        print(f"missing compiler: exit {code} after {wall:.0f} s")
        print("\n".join("  " + ln for ln in raw["missing_compiler"]["lines"]))  # type: ignore[index]
        if not args.missing_compiler:
            load_before = os.getloadavg()[0]
            condition = args.condition or ("idle" if load_before / nproc < IDLE_LOAD_PER_CORE else "loaded")
            env = {**os.environ, "CMAKE_BUILD_PARALLEL_LEVEL": str(nproc)}
            with LoadSampler() as sampler:
                code, wall, cpu, out = build(source, env)
            if code != 0:
                sys.exit(f"the build failed (exit {code}):\n{out[-3000:]}")
            during = sum(sampler.samples) / len(sampler.samples) if sampler.samples else float("nan")
            rows[condition] = [
                condition,
                f"{load_before:.1f}",
                f"{during:.1f}",
                nproc,
                f"{wall / 60:.1f} min",
                f"{cpu / 60:.1f} min",
            ]
            raw[condition] = {"wall_s": wall, "cpu_s": cpu, "load_before": load_before, "load_during": during}
            print(f"{condition}: {wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU, load {load_before:.1f} before")
    order = [rows[c] for c in ("idle", "loaded") if c in rows]
    tables = {}
    if order:  # a build has been measured (--missing-compiler alone records only the error)
        tables["build"] = table(
            f'Building llama-cpp-python {version} from source (what `pip install ".[local]"` does the first time): '
            "wall time, and CPU time of the build (independent of other load). Load: 1-minute load average "
            "before and during the build (other work running on the machine).",
            ["condition", "load before", "load during", "cores", "build time", "CPU time"],
            order,
        )
    save_results(NAME, tables, data=f"not survey data: llama-cpp-python {version} source build", raw=raw)


if __name__ == "__main__":
    main()
