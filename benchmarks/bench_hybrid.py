"""What the LLM adds on top of the best trained predictor: ``hybrid`` against ``supervised``.

Two tables, both on real WVS-7 data (the dev subset by default), every number paired on the
same split:

1. ``oracle`` -- SIMULATED. The hybrid pools supervised with ValueSim run on ``mock:oracle=P``,
   a simulated model that puts probability P on the true answer of the person the prompt
   describes (valuesim.llm.simulation). It validates the machinery without a capable model:
   the gain over supervised must be about 0 at P = 0 (the calibration gives the LLM weight 0)
   and grow with P. Default: 200 respondents x 5 folds.
2. ``embedded`` -- the embedded model (SmolLM2-135M via llama.cpp): supervised, valuesim,
   valuesim with ``persona=shuffled``, hybrid on >= 30 respondents x fold 0 x <= 10 targets;
   top-1, nMAE, log-loss, ECE, LLM calls and prompt tokens per prediction (calibration calls
   included), paired difference in top-1 against supervised with its 95% CI.

Run directories go to --out-root (outside the repository); the tables go to
docs/results/hybrid.json (rendered into README/docs by ``python tools/update_docs.py``)::

    nice -n 10 python benchmarks/bench_hybrid.py                       # both tables
    python benchmarks/bench_hybrid.py --skip-embedded --respondents 50  # a quicker look
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import DEV_DATA, carried_over, save_results, table


def f3(x: Any) -> str:
    return "-" if x is None else f"{x:.3f}"


def run(data: Any, name: str, options: dict[str, Any], protocol: Any, out: Path, prior: Any = None) -> dict[str, Any]:
    """One benchmark run (resumed when its directory holds it); returns metrics + predictions.
    ``prior``: a fitted prior run on the same split whose trained models the hybrid reuses."""
    from valuesim.bench.rundir import open_run
    from valuesim.bench.runner import RunConfig, run_benchmark
    from valuesim.methods import get_method

    t0 = time.perf_counter()
    method = get_method(name, data.codebook, **options)
    if prior is not None:
        method.share_prior(prior)  # type: ignore[attr-defined]
    cfg = RunConfig(protocol=protocol, n_boot=500, command="benchmarks/bench_hybrid.py")
    res = run_benchmark(data, method, cfg, out, progress=False)
    m = res.metrics or {}
    print(
        f"  {out.name}: top-1 {f3(m['top1']['mean'])}, {m['n_predictions']} predictions, {time.perf_counter() - t0:.0f} s"
    )
    fit = {}
    for s in open_run(out).manifest.get("sessions", []):
        fit = s.get("fit") or fit
    # the method is fitted only when this call computed units (a finished run is just read back)
    fitted = method if res.n_computed else None
    return {"metrics": m, "predictions": open_run(out).predictions(), "fit": fit, "fitted": fitted}


def small(m: dict[str, Any]) -> dict[str, Any]:
    """The metrics worth keeping in the results file (no per-question / per-country breakdowns)."""
    keep = ("method", "n_respondents", "n_predictions", "top1", "nmae", "within1", "llm_calls", "prompt_tokens")
    out = {k: m.get(k) for k in keep}
    out["probabilistic"] = {k: v for k, v in (m.get("probabilistic") or {}).items() if k != "reliability"}
    return out


def paired(a: dict[str, Any], b: dict[str, Any], metric: str = "top1") -> tuple[float, float, float]:
    from valuesim.bench.compare import paired_comparison

    r = paired_comparison(a["predictions"], b["predictions"], metric, n_boot=1000, n_perm=2000, seed=0)
    return r.diff, r.ci95[0], r.ci95[1]


def prob(m: dict[str, Any], key: str) -> float | None:
    return ((m.get("probabilistic") or {}) or {}).get(key)


def per_prediction(m: dict[str, Any], key: str) -> float | None:
    n = m.get("n_predictions") or 0
    v = m.get(key)
    return None if not n or v is None else float(v) / n


def oracle_table(data: Any, args: argparse.Namespace, root: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from valuesim.bench.protocol import ProtocolConfig

    folds = tuple(range(args.oracle_folds)) if args.oracle_folds < 5 else None
    proto = ProtocolConfig(
        n_respondents=args.respondents, seed=args.seed, folds=5, only_folds=folds, max_targets=args.oracle_max_targets
    )
    size = f"{args.respondents} respondents x {args.oracle_folds} of 5 folds x <= {args.oracle_max_targets} targets"
    print(f"oracle table (SIMULATED): {size}")
    sup = run(data, "supervised", {}, proto, root / "oracle" / "supervised")
    rows, raw = [], {"supervised": sup["metrics"]}
    for p in args.oracle:
        # the oracle's knowledge does not depend on the story: the quick facts story keeps 1,000 units fast
        opts = {"model": f"mock:oracle={p:g}", "llm.story": "facts"}
        h = run(data, "hybrid", opts, proto, root / "oracle" / f"hybrid-oracle-{p:g}", prior=sup["fitted"])
        d, lo, hi = paired(h, sup)
        dn, _, _ = paired(h, sup, "nmae")
        weights = ((h["fit"].get("calibration") or {}).get("weights") or {}).get("all") or {}
        sm, hm = sup["metrics"], h["metrics"]
        rows.append(
            [
                f"{p:g}",
                f3(sm["top1"]["mean"]),
                f3(hm["top1"]["mean"]),
                f"{d * 100:+.1f} pt [{lo * 100:+.1f}, {hi * 100:+.1f}]",
                f3(sm["nmae"]["mean"]),
                f3(hm["nmae"]["mean"]),
                f"{dn:+.3f}",
                f3(prob(sm, "log_loss")),
                f3(prob(hm, "log_loss")),
                f3(weights.get("llm")),
            ]
        )
        raw[f"hybrid-oracle-{p:g}"] = {"metrics": small(hm), "fit": h["fit"], "diff_top1": [d, lo, hi], "diff_nmae": dn}
    n_pred = sup["metrics"]["n_predictions"]
    caption = (
        f"SIMULATED LLM (mock:oracle=P) on WVS-7 dev data: hybrid (supervised prior x ValueSim) vs supervised, "
        f"{size} per unit ({n_pred:,} predictions), seed {args.seed}, ValueSim with a facts story; Δ = hybrid - "
        "supervised, paired, 95% bootstrap CI over respondents; log-loss in nats; w_llm = fitted LLM weight."
    )
    cols = [
        "P",
        "supervised top-1",
        "hybrid top-1",
        "Δ top-1",
        "supervised nMAE",
        "hybrid nMAE",
        "Δ nMAE",
        "supervised log-loss",
        "hybrid log-loss",
        "w_llm",
    ]
    return table(caption, cols, rows), raw


def embedded_table(data: Any, args: argparse.Namespace, root: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from valuesim.bench.protocol import ProtocolConfig

    proto = ProtocolConfig(
        n_respondents=args.embedded_respondents, seed=args.seed, folds=5, only_folds=(0,), max_targets=args.max_targets
    )
    print(f"embedded-model table: {args.embedded_respondents} respondents x fold 0 x <= {args.max_targets} targets")
    model = {"model": args.model}
    runs = {
        "supervised": ("supervised", {}),
        "valuesim": ("valuesim", model),
        "valuesim persona=shuffled": ("valuesim", {**model, "persona": "shuffled"}),
        "hybrid": ("hybrid", model),
    }
    results = {
        label: run(data, name, opts, proto, root / "embedded" / label.replace(" ", "-").replace("=", "-"))
        for label, (name, opts) in runs.items()
    }
    sup = results["supervised"]
    rows, raw = [], {}
    for label, r in results.items():
        m = r["metrics"]
        diff = (
            "-" if label == "supervised" else "{:+.1f} pt [{:+.1f}, {:+.1f}]".format(*(x * 100 for x in paired(r, sup)))
        )
        # requests answered from the LLM cache count as requests (the hybrid asks the same prompts
        # as the valuesim run, so its answers mostly come from the cache); tokens are those the
        # model evaluated in this run (0 for a cached answer)
        n = m.get("n_predictions") or 0
        calls = (float(m.get("llm_calls") or 0) + float(m.get("cache_hits") or 0)) / n if n else None
        tokens = per_prediction(m, "prompt_tokens")
        rows.append(
            [
                label,
                f3(m["top1"]["mean"]),
                f3(m["nmae"]["mean"]),
                f3(prob(m, "log_loss")),
                f3(prob(m, "ece")),
                "-" if not calls else f"{calls:.2f}",
                "-" if not tokens else f"{tokens:,.0f}",
                diff,
            ]
        )
        raw[label] = {"metrics": small(m), "fit": r["fit"]}
    n_pred = sup["metrics"]["n_predictions"]
    caption = (
        f"Embedded model ({args.model}: SmolLM2-135M-Instruct via llama.cpp) on WVS-7 dev data, "
        f"{args.embedded_respondents} respondents x fold 0 x <= {args.max_targets} targets ({n_pred} predictions), "
        "seed 42. Requests per prediction include the hybrid's calibration and answers from the LLM cache; prompt "
        "tokens are those the model evaluated in the run (after llama.cpp prefix reuse; '-' when every answer "
        "came from the cache, as for the hybrid, whose LLM asks the valuesim run's prompts); Δ top-1 = method - "
        "supervised, paired, 95% bootstrap CI over respondents."
    )
    cols = [
        "method",
        "top-1",
        "nMAE",
        "log-loss",
        "ECE",
        "requests / pred.",
        "prompt tokens evaluated / pred.",
        "Δ top-1 vs supervised",
    ]
    return table(caption, cols, rows), raw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEV_DATA), help="WVS-7 folder or file (default: the dev subset)")
    ap.add_argument("--respondents", type=int, default=200, help="oracle table: respondents (5 folds each)")
    ap.add_argument("--oracle", type=lambda s: [float(x) for x in s.split(",")], default=[0.0, 0.2, 0.4, 0.6])
    ap.add_argument("--oracle-max-targets", type=int, default=10, help="oracle table: targets per unit")
    ap.add_argument("--oracle-folds", type=int, default=5, help="oracle table: the first N of the 5 folds")
    ap.add_argument("--embedded-respondents", type=int, default=30)
    ap.add_argument("--max-targets", type=int, default=10)
    ap.add_argument("--model", default="local", help="model of the embedded table")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--skip-oracle", action="store_true")
    ap.add_argument("--skip-embedded", action="store_true")
    ap.add_argument("--out-root", default="/tmp/valuesim-bench-hybrid", help="run directories (resumable)")
    ap.add_argument("--results", default="hybrid", help="docs/results/NAME.json")
    args = ap.parse_args()

    import json

    from valuesim.cli._data import load_data

    data = load_data(args.data)
    root = Path(args.out_root)
    out_path = Path(__file__).resolve().parents[1] / "docs" / "results" / f"{args.results}.json"
    previous = json.loads(out_path.read_text()) if out_path.exists() else {}
    tables = {k: carried_over(previous, k) for k in previous.get("tables") or {}}
    raw = dict(previous.get("raw") or {})
    if not args.skip_oracle:
        tables["oracle"], raw["oracle"] = oracle_table(data, args, root)
    if not args.skip_embedded:
        tables["embedded"], raw["embedded"] = embedded_table(data, args, root)
    for name, t in tables.items():
        print(f"\n{name}: {t['caption']}")
        print(" | ".join(t["columns"]))
        for row in t["rows"]:
            print(" | ".join(str(c) for c in row))
    save_results(
        args.results,
        tables,
        data=data,
        raw=raw,
        notes="oracle: SIMULATED model (mock:oracle=P); embedded: the tiny embedded model, not a capable LLM",
    )


if __name__ == "__main__":
    main()
