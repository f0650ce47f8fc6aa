"""Benchmark the five non-LLM baselines with the benchmark runner on real WVS-7 data.

For each sample size it runs every baseline on the same split (``run_benchmark`` with the
default protocol: 5-fold cross-validation over the substantive questions, seeded sample)
and prints top-1 / nMAE / within-1 with 95% bootstrap CIs, the Wasserstein distance of the
answer distributions, log-loss, and the wall time of each method (fit + predict + metrics,
data loading excluded) with the total per sample size. ``cpu s`` is the CPU time of all
threads of the process and ``load`` the 1-minute load average when the method finished: on
a shared machine, wall time mostly measures the other jobs.

Usage (results go to --out-root, outside the repository: predictions derive from WVS data)::

    python benchmarks/bench_baselines.py                       # 100 and 1,000 respondents
    python benchmarks/bench_baselines.py --respondents 100 --methods majority,knn

Speed target: all five baselines on 1,000 respondents x 5 folds in under 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "wvs7" / "dev"
BASELINES = "majority,country-majority,demographic-majority,knn,supervised"


def fmt_ci(block: dict[str, Any]) -> str:
    lo, hi = block["ci95"]
    return f"{block['mean']:.3f} [{lo:.3f}, {hi:.3f}]"


def run_one(data: Any, name: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    from valuesim.bench.protocol import ProtocolConfig
    from valuesim.bench.runner import RunConfig, run_benchmark
    from valuesim.methods.base import get_method

    cfg = RunConfig(
        protocol=ProtocolConfig(n_respondents=n, seed=args.seed, folds=args.folds),
        overwrite=True,  # time a full run, never a resumed one
        n_boot=args.n_boot,
        command=" ".join([sys.executable, *sys.argv]),
    )
    out = Path(args.out_root) / f"n{n}" / name
    method = get_method(name, data.codebook)
    t0, c0 = time.perf_counter(), time.process_time()
    result = run_benchmark(data, method, cfg, out, progress=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    m = result.metrics or {}
    manifest = json.loads((out / "manifest.json").read_text())
    return {
        "method": name,
        "respondents": n,
        "n_predictions": m.get("n_predictions"),
        "top1": m.get("top1"),
        "nmae": m.get("nmae"),
        "within1": m.get("within1"),
        "wasserstein_mean": (m.get("distribution") or {}).get("wasserstein_mean"),
        "log_loss": (m.get("probabilistic") or {}).get("log_loss"),
        "ece": (m.get("probabilistic") or {}).get("ece"),
        "fit_seconds": manifest.get("timings", {}).get("fit_seconds"),
        "predict_seconds": manifest.get("timings", {}).get("predict_seconds"),
        "wall_seconds": wall,
        "cpu_seconds": cpu,  # all threads of this process
        "load_average": os.getloadavg()[0],
        "out": str(out),
    }


def print_table(rows: list[dict[str, Any]], n: int, total: float, cpu: float) -> None:
    head = (
        f"{'method':<22}{'top-1 [95% CI]':<26}{'nMAE [95% CI]':<26}{'within-1 [95% CI]':<26}"
        f"{'W1':>7}{'logloss':>9}{'fit s':>8}{'pred s':>8}{'wall s':>8}{'cpu s':>8}{'load':>6}"
    )
    print(f"\n{n} respondents, {rows[0]['n_predictions'] if rows else 0} predictions per method")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['method']:<22}{fmt_ci(r['top1']):<26}{fmt_ci(r['nmae']):<26}{fmt_ci(r['within1']):<26}"
            f"{r['wasserstein_mean']:>7.3f}{r['log_loss']:>9.3f}{r['fit_seconds'] or 0:>8.1f}"
            f"{r['predict_seconds'] or 0:>8.1f}{r['wall_seconds']:>8.1f}"
            f"{r['cpu_seconds']:>8.1f}{r['load_average']:>6.1f}"
        )
    print(f"total for {len(rows)} methods: wall {total:.1f} s, cpu {cpu:.1f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--respondents", default="100,1000", help="comma-separated sample sizes")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--methods", default=BASELINES)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--out-root", default="/tmp/valuesim-bench-baselines")
    args = ap.parse_args(argv)

    from valuesim import load_survey

    t0 = time.perf_counter()
    data = load_survey(args.data)
    print(f"loaded {len(data)} respondents from {args.data} in {time.perf_counter() - t0:.1f} s")
    all_rows = []
    for n in [int(x) for x in args.respondents.split(",") if x.strip()]:
        rows = []
        t_n, c_n = time.perf_counter(), time.process_time()
        for name in [m.strip() for m in args.methods.split(",") if m.strip()]:
            row = run_one(data, name, n, args)
            print(f"  {name}: {row['wall_seconds']:.1f} s", flush=True)
            rows.append(row)
        print_table(rows, n, time.perf_counter() - t_n, time.process_time() - c_n)
        all_rows.extend(rows)
    summary = Path(args.out_root) / "summary.json"
    summary.parent.mkdir(parents=True, exist_ok=True)
    summary.write_text(json.dumps(all_rows, indent=1))
    print(f"\nsummary: {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
