"""Position bias of an LLM method: the same run with the options shown in their original order
and shuffled (seeded per person and question), paired on one split.

For each order: top-1 and the share of predictions on the first option shown (chance: one over
the number of options); then the paired differences (original - shuffled) with 95% bootstrap
intervals over respondents. Default: ValueSim with the embedded model, WVS-7 dev subset,
10 respondents x fold 0 x <= 10 targets. Run directories go to --out-root (resumable); the
table goes to docs/results/position_bias.json (rendered by ``python tools/update_docs.py``)::

    nice -n 10 python benchmarks/bench_position.py
    python benchmarks/bench_position.py --model openai:NAME --base-url http://gpu:8000/v1 --respondents 100
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import DEV_DATA, save_results, table


def f3(x: Any) -> str:
    return "-" if x is None else f"{x:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEV_DATA))
    ap.add_argument("--method", default="valuesim")
    ap.add_argument("--model", default="local")
    ap.add_argument("--base-url", default=None)
    ap.add_argument("--respondents", type=int, default=10)
    ap.add_argument("--max-targets", type=int, default=10)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out-root", default="/tmp/valuesim-bench-position")
    ap.add_argument("--results", default="position_bias", help="docs/results/NAME.json")
    ap.add_argument("--no-save", action="store_true")
    args = ap.parse_args()

    from valuesim.bench.compare import POSITION_METRIC, paired_comparison
    from valuesim.bench.config import RunConfig
    from valuesim.bench.protocol import ProtocolConfig
    from valuesim.bench.rundir import open_run
    from valuesim.bench.runner import run_benchmark
    from valuesim.cli._data import load_data
    from valuesim.methods import get_method

    data = load_data(args.data)
    proto = ProtocolConfig(
        n_respondents=args.respondents, seed=args.seed, folds=5, only_folds=(0,), max_targets=args.max_targets
    )
    size = f"{args.respondents} respondents x fold 0 x <= {args.max_targets} targets"
    preds, metrics = {}, {}
    for order in ("original", "shuffled"):
        opts: dict[str, Any] = {"model": args.model, "option_order": order}
        if args.base_url:
            opts["base_url"] = args.base_url
        out = Path(args.out_root) / f"{args.method}-{order}"
        method = get_method(args.method, data.codebook, **opts)
        cfg = RunConfig(protocol=proto, n_boot=500, command="benchmarks/bench_position.py")
        res = run_benchmark(data, method, cfg, out, progress=False)
        metrics[order] = res.metrics or {}
        preds[order] = open_run(out).predictions()
        bias = metrics[order].get("position_bias") or {}
        print(f"{order}: top-1 {f3(metrics[order]['top1']['mean'])}, first shown {f3(bias.get('mean'))}")
    cb = data.codebook
    rows: list[list[Any]] = []
    for order in ("original", "shuffled"):
        m, bias = metrics[order], metrics[order].get("position_bias") or {}
        ci = bias.get("ci95") or [None, None]
        rows.append(
            [
                order,
                f3(m["top1"]["mean"]),
                f"{f3(bias.get('mean'))} [{f3(ci[0])}, {f3(ci[1])}]",
                f3(bias.get("chance")),
                int(m["n_predictions"]),
            ]
        )
    for label, metric in (("top-1", "top1"), ("first option shown", POSITION_METRIC)):
        r = paired_comparison(preds["original"], preds["shuffled"], metric, codebook=cb, n_boot=1000, n_perm=2000)
        rows.append(
            [f"original - shuffled: {label}", f"{r.diff:+.3f}", f"[{r.ci95[0]:+.3f}, {r.ci95[1]:+.3f}]", "", ""]
        )
    caption = (
        f"Position bias of {args.method} with model {args.model} ({size}): the share of predictions on the "
        "option shown first, the same split with options in the questionnaire's order and shuffled per "
        "person and question; paired differences with 95% bootstrap intervals over respondents."
    )
    tab = table(caption, ["option order", "top-1", "first option shown chosen [95% CI]", "chance", "predictions"], rows)
    for row in tab["rows"]:
        print(" | ".join(str(c) for c in row))
    if not args.no_save:
        save_results(args.results, {"orders": tab}, data=data)


if __name__ == "__main__":
    main()
