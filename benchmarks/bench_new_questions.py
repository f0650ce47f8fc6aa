"""Questions nobody has answered: every method under the ``new-questions`` protocol.

Under ``--protocol new-questions`` the fold's target questions are hidden from everyone
(training people included): ``fit()`` gets the data without those columns, so no method can
learn from other people's answers to a target. This is the one setting where a trained
predictor of the target does not exist and an LLM has to earn its place. Rows:

* ``uniform`` -- every option equally likely (the middle option as the point answer);
* ``text-transfer`` -- the person's own answer to the known question most similar in wording
  (BM25), moved onto the target's scale (docs/baselines.md);
* ``blank`` / ``demographics`` / ``rag`` / ``valuesim`` -- LLM methods with the embedded model.

Every row uses the same respondents and split (WVS-7 dev subset by default, seed 42, fold 0 of
5, at most ``--targets`` targets per respondent); top-1, nMAE and within-1 with their 95% CIs
(bootstrap over respondents), LLM calls and prompt tokens per prediction, and each method's
paired top-1 difference against ``uniform``. Run directories go to --out-root (outside the
repository; resumable); the table goes to docs/results/new_questions.json, rendered into
docs/new-questions.md by ``python tools/update_docs.py``::

    nice -n 10 python benchmarks/bench_new_questions.py
    python benchmarks/bench_new_questions.py --methods uniform,text-transfer --respondents 100
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import DEV_DATA, save_results, table

METHODS = "uniform,text-transfer,blank,demographics,rag,valuesim"


def ci(m: dict[str, Any], key: str) -> str:
    v = m.get(key) or {}
    if v.get("mean") is None:
        return "-"
    lo, hi = v.get("ci95") or (None, None)
    return f"{v['mean']:.3f}" + ("" if lo is None else f" [{lo:.3f}, {hi:.3f}]")


def requests(m: dict[str, Any]) -> str:
    """Model requests per prediction, answers from the LLM cache included (blank asks every
    person the same prompt, so most of its answers come from the cache)."""
    n, v = m.get("n_predictions") or 0, float(m.get("llm_calls") or 0) + float(m.get("cache_hits") or 0)
    return "-" if not n or not v else f"{v / n:,.2f}"


def evaluated(m: dict[str, Any]) -> str:
    """Prompt tokens the model evaluated per prediction in this run (0 for a cached answer)."""
    n, v = m.get("n_predictions") or 0, m.get("prompt_tokens")
    return "-" if not n or not v else f"{v / n:,.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DEV_DATA), help="survey file/folder (default: the WVS-7 dev subset)")
    ap.add_argument("--respondents", type=int, default=20)
    ap.add_argument("--targets", type=int, default=10, help="at most this many targets per respondent")
    ap.add_argument("--fold", type=int, default=0, help="the one fold (of 5) every method predicts")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--methods", default=METHODS, help=f"comma list (default: {METHODS})")
    ap.add_argument("--model", default="local", help="model of the LLM methods")
    ap.add_argument("--out-root", default="/tmp/valuesim-bench-new-questions", help="run directories (resumable)")
    ap.add_argument("--results", default="new_questions", help="docs/results/NAME.json")
    ap.add_argument("--no-save", action="store_true", help="print only")
    args = ap.parse_args()

    from valuesim.bench.compare import paired_comparison
    from valuesim.bench.protocol import ProtocolConfig
    from valuesim.bench.rundir import open_run
    from valuesim.bench.runner import RunConfig, run_benchmark
    from valuesim.cli._data import load_data
    from valuesim.methods import get_method, method_info

    data = load_data(args.data)
    proto = ProtocolConfig(
        name="new-questions",
        n_respondents=args.respondents,
        seed=args.seed,
        folds=5,
        only_folds=(args.fold,),
        max_targets=args.targets,
    )
    root = Path(args.out_root)
    names = [m.strip() for m in args.methods.split(",") if m.strip()]
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        t0 = time.perf_counter()
        opts = {"model": args.model} if method_info(name).uses_llm else {}
        method = get_method(name, data.codebook, **opts)
        cfg = RunConfig(protocol=proto, n_boot=1000, command="benchmarks/bench_new_questions.py")
        res = run_benchmark(data, method, cfg, root / name, progress=False)
        m = res.metrics or {}
        results[name] = {"metrics": m, "predictions": open_run(root / name).predictions()}
        print(
            f"  {name}: top-1 {ci(m, 'top1')}, {m.get('n_predictions')} predictions, {time.perf_counter() - t0:.0f} s"
        )

    base = results.get("uniform")
    rows, raw = [], {}
    for name, r in results.items():
        m = r["metrics"]
        diff = "-"
        if base is not None and name != "uniform":
            p = paired_comparison(r["predictions"], base["predictions"], "top1", n_boot=1000, n_perm=2000, seed=0)
            diff = f"{p.diff * 100:+.1f} pt [{p.ci95[0] * 100:+.1f}, {p.ci95[1] * 100:+.1f}]"
        rows.append(
            [
                name,
                ci(m, "top1"),
                ci(m, "nmae"),
                ci(m, "within1"),
                requests(m),
                evaluated(m),
                diff,
            ]
        )
        raw[name] = {k: m.get(k) for k in ("n_respondents", "n_predictions", "top1", "nmae", "within1")}
        raw[name].update(
            llm_calls=m.get("llm_calls"), cache_hits=m.get("cache_hits"), prompt_tokens=m.get("prompt_tokens")
        )
    where = "WVS-7 dev data (a subset of the public file)" if args.data == str(DEV_DATA) else f"data {args.data}"
    n_pred = next(iter(results.values()))["metrics"].get("n_predictions") if results else 0
    caption = (
        f"Protocol new-questions (targets hidden from every method's fit), {where}, {args.respondents} "
        f"respondents x fold {args.fold} of 5 x <= {args.targets} targets ({n_pred} predictions per method), seed "
        f"{args.seed}; LLM methods with {args.model!r} (SmolLM2-135M-Instruct via llama.cpp when 'local'). "
        "Means with 95% bootstrap CIs over respondents; requests include answers from the LLM cache; tokens are "
        "those the model evaluated in the run (after llama.cpp prefix reuse); Δ top-1 vs uniform paired on the "
        "same predictions."
    )
    cols = [
        "method",
        "top-1",
        "nMAE",
        "within-1",
        "requests / pred.",
        "prompt tokens evaluated / pred.",
        "Δ top-1 vs uniform",
    ]
    t = table(caption, cols, rows)
    print(f"\n{caption}\n" + " | ".join(cols))
    for row in rows:
        print(" | ".join(str(c) for c in row))
    if not args.no_save:
        save_results(
            args.results,
            {"methods": t},
            data=data,
            raw=raw,
            notes="embedded model: the tiny SmolLM2-135M, a smoke test of the machinery, not a capable LLM",
        )


if __name__ == "__main__":
    main()
