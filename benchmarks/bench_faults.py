"""Failing requests: a run against a fault-injecting mock server, then a rerun against a healthy one.

An LLM baseline (``demographics``: one model call per target) runs on SYNTHETIC respondents
against the mock OpenAI-compatible server (SIMULATED model), which answers a seeded share of
requests with HTTP 429 (Retry-After: 1), 500, 503 or a 3-second stall (the client's timeout is
2 s per attempt, wall clock). The client retries with its normal backoff (5 retries; a request
cut off three times gives up); a call that still fails costs its one target. Scenarios:

  clean   no faults: the reference predictions;
  30 %    retries absorb the faults: predictions identical to the clean run;
  60 %    some calls fail after all retries: their targets are recorded as failed and the run
          finishes (--max-failures 100%); then the same command against the healthy server
          retries only the failed targets and must end identical to the clean run.

Usage:
  python benchmarks/bench_faults.py [--respondents 6] [--max-targets 5] [--rates 0.3,0.6] [--seed 1]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from _results import save_results, table

from valuesim.bench import rundir
from valuesim.bench.protocol import ProtocolConfig
from valuesim.bench.runner import RunConfig, RunResult, run_benchmark
from valuesim.llm.model import MAX_CUT_ATTEMPTS
from valuesim.methods.base import get_method
from valuesim.scale.faults import FaultInjector
from valuesim.scale.mockserver import MockServer
from valuesim.survey import generate_synthetic

TIMEOUT = 2.0
STALL = 3.0


def run(data: Any, server: MockServer, proto: ProtocolConfig, out: Path) -> tuple[RunResult, float]:
    method = get_method(
        "demographics", data.codebook, model="openai:mock", base_url=server.url, cache=False, timeout=TIMEOUT
    )
    cfg = RunConfig(protocol=proto, n_boot=100, command="bench_faults", max_failures="100%")
    t0 = time.perf_counter()
    res = run_benchmark(data, method, cfg, out, progress=False)
    return res, time.perf_counter() - t0


def predictions(out: Path) -> str:
    return (out / rundir.PREDICTIONS_FILE).read_text()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--respondents", type=int, default=6)
    p.add_argument("--max-targets", type=int, default=5)
    p.add_argument("--rates", default="0.3,0.6")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    data = generate_synthetic(n=200, seed=args.seed)
    proto = ProtocolConfig(n_respondents=args.respondents, seed=args.seed, max_targets=args.max_targets, min_valid=0)
    work = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    rows: list[list[Any]] = []
    raw: dict[str, Any] = {}
    try:
        with MockServer() as server:
            clean, wall = run(data, server, proto, work / "clean")
        reference = predictions(work / "clean")
        n_targets = clean.split.n_targets
        rows.append(["clean", "0 %", 0, 0, n_targets, "-", f"{wall:.1f}", "reference"])
        raw["clean"] = {"wall_seconds": wall, "n_targets": n_targets}
        for rate in (float(r) for r in args.rates.split(",")):
            out = work / f"rate{rate}"
            faults = FaultInjector(rate=rate, seed=args.seed, stall_seconds=STALL, retry_after=1.0)
            with MockServer(faults=faults) as server:
                res, wall = run(data, server, proto, out)
                injected = dict(faults.injected)
                label = f"{rate:.0%}".replace("%", " %")
                failed = res.n_failed_targets
                rows.append(
                    [
                        label,
                        label,
                        faults.total,
                        failed,
                        (res.metrics or {}).get("n_predictions", 0),
                        "-",
                        f"{wall:.1f}",
                        str(predictions(out) == reference) if not failed else "- (incomplete)",
                    ]
                )
                entry: dict[str, Any] = {"faults": injected, "failed_targets": failed, "wall_seconds": wall}
                if failed:
                    server.faults = None  # the server is healthy again: rerun the same command
                    again, wall2 = run(data, server, proto, out)
                    identical = predictions(out) == reference and again.complete
                    rows.append(
                        [
                            f"{label}, rerun on a healthy server",
                            "0 %",
                            0,
                            again.n_failed_targets,
                            (again.metrics or {}).get("n_predictions", 0),
                            failed,
                            f"{wall2:.1f}",
                            str(identical),
                        ]
                    )
                    entry.update({"rerun_retried_targets": failed, "rerun_wall_seconds": wall2, "identical": identical})
                else:
                    entry["identical"] = predictions(out) == reference
                raw[f"rate_{rate}"] = entry
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for r in rows:
        print(r)
    save_results(
        "faults",
        {
            "faults": table(
                f"A run through failing requests: demographics baseline, {args.respondents} respondents x "
                f"{n_targets // args.respondents} targets, one model call per target; seeded 429 (Retry-After 1 s), "
                f"500, 503 and {STALL:g} s stalls (client timeout {TIMEOUT:g} s per attempt, wall clock; "
                f"5 retries with backoff, at most {MAX_CUT_ATTEMPTS} attempts cut off); "
                "--max-failures 100%",
                [
                    "scenario",
                    "faults",
                    "faults injected",
                    "failed targets",
                    "predictions",
                    "targets retried",
                    "wall s",
                    "identical to clean run",
                ],
                rows,
            )
        },
        data="SYNTHETIC respondents (generate_synthetic n=200), SIMULATED model (mock OpenAI-compatible server)",
        raw=raw,
    )


if __name__ == "__main__":
    main()
