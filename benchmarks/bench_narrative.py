"""Fidelity of narrative backstories and what they do to accuracy (writes docs/results/narrative.json).

Runs ``valuesim`` twice on the same split -- ``story=narrative`` (each section rewritten by the
model, checked against its facts, regenerated once, else replaced by its facts sentences) and
``story=facts`` -- and reports:

* per run, from ``metrics.json["story"]``: sections written / regenerated / fallen back, the
  share of facts preserved (after fallback), kept by the first drafts and told in prose, and
  the problems the checks found by kind;
* top-1 (and nMAE, within-1) of both runs with 95% CIs and their paired difference
  (narrative - facts; bootstrap over respondents, as ``valuesim bench compare``).

Run directories (predictions derive from WVS data) go to ``--out-root``, outside the repository.

    nice -n 10 python benchmarks/bench_narrative.py                      # 10 dev respondents, fold 0, 10 targets
    python benchmarks/bench_narrative.py --model mock --data synthetic:300 --no-save   # plumbing only
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import DEV_DATA, save_results, table

STORIES = ("narrative", "facts")


def pct(v: Any) -> str:
    return "-" if v is None else f"{100 * float(v):.1f}%"


def ci(entry: Any) -> str:
    if not isinstance(entry, dict):
        return "-"
    lo, hi = entry.get("ci95", [None, None])
    return f"{entry['mean']:.3f} [{lo:.3f}, {hi:.3f}]" if lo is not None else f"{entry['mean']:.3f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEV_DATA), help="survey file/folder, or synthetic:N")
    ap.add_argument("--respondents", type=int, default=10)
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--targets", type=int, default=10, help="at most this many targets per respondent")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--model", default="local")
    ap.add_argument("--story-check", default="rules", choices=["rules", "model"])
    ap.add_argument("--out-root", default="/tmp/valuesim-bench-narrative")
    ap.add_argument("--results", default="narrative")
    ap.add_argument("--no-save", action="store_true")
    args = ap.parse_args(argv)

    from valuesim.bench.compare import paired_comparison
    from valuesim.bench.protocol import ProtocolConfig
    from valuesim.bench.rundir import open_run
    from valuesim.bench.runner import RunConfig, run_benchmark
    from valuesim.cli._data import load_data
    from valuesim.methods import get_method

    t0 = time.perf_counter()
    data = load_data(args.data)
    print(f"data: {len(data):,} respondents ({time.perf_counter() - t0:.1f}s)", flush=True)
    protocol = ProtocolConfig(
        n_respondents=args.respondents, seed=args.seed, only_folds=(args.fold,), max_targets=args.targets
    )
    cfg = RunConfig(protocol=protocol, concurrency=1, command=" ".join([sys.executable, *sys.argv]))
    root = Path(args.out_root)
    metrics: dict[str, dict[str, Any]] = {}
    for story in STORIES:
        opts: dict[str, Any] = {"story": story}
        if story == "narrative":
            opts["story_check"] = args.story_check
        method = get_method("valuesim", data.codebook, model=args.model, **opts)
        t = time.perf_counter()
        res = run_benchmark(data, method, cfg, root / story, progress=False)
        metrics[story] = res.metrics or {}
        print(f"{story}: {time.perf_counter() - t:.0f}s, top-1 {ci(metrics[story].get('top1'))}", flush=True)

    nar = (metrics["narrative"].get("story") or {}).get("narrative") or {}
    problems = nar.get("problems", {})
    fidelity_rows: list[list[Any]] = [
        [
            nar.get("stories"),
            nar.get("sections"),
            nar.get("sections_written"),
            nar.get("sections_regenerated"),
            nar.get("sections_fell_back"),
            pct(nar.get("facts_preserved")),
            pct(nar.get("facts_preserved_first_draft")),
            pct(nar.get("facts_in_prose")),
            ", ".join(f"{k} {v}" for k, v in problems.items() if v) or "none",
        ]
    ]
    if nar.get("model_fidelity"):
        print(f"model fidelity: {nar['model_fidelity']}")
    runs = {s: open_run(root / s) for s in STORIES}
    pairs = []
    for metric in ("top1", "nmae", "within1"):
        r = paired_comparison(
            runs["narrative"].predictions(), runs["facts"].predictions(), metric, codebook=data.codebook, seed=0
        )
        pairs.append(
            [
                metric,
                ci(metrics["narrative"].get(metric)),
                ci(metrics["facts"].get(metric)),
                f"{r.diff:+.3f} [{r.ci95[0]:+.3f}, {r.ci95[1]:+.3f}]",
                f"{r.p_permutation:.2f}",
            ]
        )
    n_pred = metrics["narrative"].get("n_predictions")
    what = (
        f"{args.respondents} respondents x fold {args.fold} x <= {args.targets} targets ({n_pred} predictions), "
        f"model {args.model}, story check {args.story_check}"
    )
    tables = {
        "fidelity": table(
            f"Narrative stories of valuesim -o story=narrative: {what}",
            [
                "stories",
                "sections",
                "written",
                "regenerated",
                "fell back",
                "facts preserved",
                "kept by first drafts",
                "told in prose",
                "problems found (first drafts and retries)",
            ],
            fidelity_rows,
        ),
        "accuracy": table(
            f"valuesim with a narrative vs a facts story, same split ({what}); difference = narrative - facts, "
            "95% paired bootstrap CI over respondents",
            ["metric", "narrative", "facts", "difference", "p (perm.)"],
            pairs,
        ),
    }
    for tab in tables.values():
        print(f"\n{tab['caption']}")
        print(" | ".join(tab["columns"]))
        for row in tab["rows"]:
            print(" | ".join(str(c) for c in row))
    if not args.no_save:
        save_results(
            args.results,
            tables,
            data=data,
            raw={s: {k: metrics[s].get(k) for k in ("top1", "nmae", "within1", "story", "llm_calls")} for s in STORIES},
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
