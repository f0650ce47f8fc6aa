"""Benchmark the five non-LLM baselines with the benchmark runner on real WVS-7 data.

For each sample size it runs every baseline on the same split (``run_benchmark`` with the
default protocol: 5-fold cross-validation over the substantive questions, seeded sample)
and prints top-1 / nMAE / within-1 with 95% bootstrap CIs, the Wasserstein distance of the
answer distributions, log-loss, and the wall time of each method (fit + predict + metrics,
data loading excluded) with the total per sample size. ``cpu s`` is the CPU time of all
threads of the process and ``load`` the 1-minute load average when the method finished: on
a shared machine, wall time mostly measures the other jobs.

Run directories go to --out-root, outside the repository (predictions derive from WVS data);
the tables go to docs/results/baselines.json (rendered into README.md and docs/ by
``python tools/update_docs.py``). Usage::

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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from typing import Any

import _results  # noqa: F401  (records the commit now, at start)

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


def fmt_sd_ci(block: dict[str, Any]) -> str:
    lo, hi = block["ci95"]
    sd = "" if block.get("std") is None else f" ± {block['std']:.3f}"  # null with one fold
    return f"{block['mean']:.3f}{sd} [{lo:.3f}, {hi:.3f}]"


def result_tables(rows: list[dict[str, Any]], totals: dict[int, dict[str, float]], data_desc: str) -> dict[str, Any]:
    """Tables for docs/results/baselines.json: one per sample size, one across sizes, a short one."""
    from _results import table

    sizes = sorted(totals)
    tables: dict[str, Any] = {}
    for n in sizes:
        part = [r for r in rows if r["respondents"] == n]
        t = totals[n]
        caption = (
            f"{data_desc}; {n:,} sampled respondents, seed {t['seed']}, {t['folds']} folds, "
            f"{part[0]['n_predictions']:,} predictions per method. Cells: mean over folds ± sd over folds "
            f"[95% bootstrap CI over respondents]; W1 = mean Wasserstein distance of the answer distributions. "
            f"All {len(part)} methods: {t['wall']:.0f} s wall, {t['cpu']:.0f} s CPU "
            f"on {t['nproc']} cores at load {t['load']:.1f} (data loading excluded)."
        )
        tables[f"n{n}"] = table(
            caption,
            ["method", "top-1", "nMAE", "within-1", "W1", "log-loss", "fit s", "predict s", "wall s", "CPU s"],
            [
                [
                    r["method"],
                    fmt_sd_ci(r["top1"]),
                    fmt_sd_ci(r["nmae"]),
                    fmt_sd_ci(r["within1"]),
                    f"{r['wasserstein_mean']:.3f}",
                    f"{r['log_loss']:.3f}" if r["log_loss"] is not None else None,
                    f"{r['fit_seconds'] or 0:.1f}",
                    f"{r['predict_seconds'] or 0:.1f}",
                    f"{r['wall_seconds']:.1f}",
                    f"{r['cpu_seconds']:.1f}",
                ]
                for r in part
            ],
        )
    largest = sizes[-1]
    part = [r for r in rows if r["respondents"] == largest]
    t = totals[largest]
    tables["summary"] = table(
        f"{data_desc}; {largest:,} sampled respondents, seed {t['seed']}, {t['folds']} folds "
        f"({part[0]['n_predictions']:,} predictions per method); all {len(part)} methods ran in "
        f"{t['wall']:.0f} s wall ({t['cpu']:.0f} s CPU) on {t['nproc']} cores at load {t['load']:.1f}.",
        ["method", "top-1 [95% CI]", "nMAE", "within-1"],
        [[r["method"], fmt_ci(r["top1"]), f"{r['nmae']['mean']:.3f}", f"{r['within1']['mean']:.3f}"] for r in part],
    )
    methods = list(dict.fromkeys(r["method"] for r in rows))
    by = {(r["method"], r["respondents"]): r for r in rows}
    tables["top1_by_size"] = table(
        f"{data_desc}; top-1 [95% CI] by sample size (seed {t['seed']}, {t['folds']} folds).",
        ["method", *[f"{n:,} respondents" for n in sizes]],
        [[m, *[fmt_ci(by[m, n]["top1"]) if (m, n) in by else None for n in sizes]] for m in methods],
    )
    return tables


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--respondents", default="100,1000", help="comma-separated sample sizes")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--methods", default=BASELINES)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--out-root", default="/tmp/valuesim-bench-baselines")
    ap.add_argument("--results", default="baselines", help="write docs/results/NAME.json ('' = do not write)")
    args = ap.parse_args(argv)

    from _results import describe_data, save_results

    from valuesim.cli._data import load_data

    t0 = time.perf_counter()
    data = load_data(args.data)  # a WVS file or folder, or synthetic[:N]
    print(f"loaded {len(data)} respondents from {args.data} in {time.perf_counter() - t0:.1f} s")
    all_rows = []
    totals: dict[int, dict[str, float]] = {}
    for n in [int(x) for x in args.respondents.split(",") if x.strip()]:
        rows = []
        t_n, c_n = time.perf_counter(), time.process_time()
        for name in [m.strip() for m in args.methods.split(",") if m.strip()]:
            row = run_one(data, name, n, args)
            print(f"  {name}: {row['wall_seconds']:.1f} s", flush=True)
            rows.append(row)
        wall, cpu = time.perf_counter() - t_n, time.process_time() - c_n
        print_table(rows, n, wall, cpu)
        totals[n] = {
            "wall": wall,
            "cpu": cpu,
            "load": os.getloadavg()[0],
            "nproc": os.cpu_count() or 1,
            "seed": args.seed,
            "folds": args.folds,
        }
        all_rows.extend(rows)
    summary = Path(args.out_root) / "summary.json"
    summary.parent.mkdir(parents=True, exist_ok=True)
    summary.write_text(json.dumps(all_rows, indent=1))
    print(f"\nsummary: {summary}")
    if args.results and all_rows:
        desc = describe_data(data)["description"]
        raw = [{k: v for k, v in r.items() if k != "out"} for r in all_rows]
        save_results(
            args.results, result_tables(all_rows, totals, desc), data=data, raw={"rows": raw, "totals": totals}
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
