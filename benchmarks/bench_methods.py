"""Benchmark the ValueSim method and the LLM baselines with the benchmark runner.

Runs each method (and a few ValueSim ablations) on the same split of real WVS-7 data with
``valuesim.bench.runner.run_benchmark`` and prints one table: top-1 / nMAE / within-1 (with
95% CIs), LLM calls and tokens per prediction, wall time. It also sets our token cost beside
the paper's design -- three module calls plus a coordinator call per prediction, each
re-sending a long backstory and generating a rationale -- whose backstory length is measured
on the paper's own stories in ../shared/reference/simvbg/stories/.

Token columns (per prediction):
- ``sent``: prompt tokens of the requests as sent (what a server without prefix caching
  evaluates, and what an API bills);
- ``eval``: prompt tokens the backend reports; for the embedded model that is what it
  actually evaluated after reusing its KV cache (the shared backstory prefix is evaluated
  once per unit);
- ``gen``: completion tokens.

Run directories go to --out-root, outside the repository (predictions derive from WVS data);
the table goes to docs/results/methods.json (``--results NAME``; rendered into the docs by
``python tools/update_docs.py``). Usage::

    python benchmarks/bench_methods.py --respondents 2 --model local
    python benchmarks/bench_methods.py --respondents 1 --methods valuesim,blank --model mock

The embedded SmolLM2-135M model is tiny: expect near-chance accuracy; the run measures the
machinery and the token economy, not the quality a capable model would reach.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _results  # noqa: F401  (records the commit now, at start)

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "wvs7" / "dev"
STORIES = Path(__file__).resolve().parents[2] / "shared" / "reference" / "simvbg" / "stories"

#: name -> (registered method, options). ValueSim variants are configurations, not code.
RUNS: dict[str, tuple[str, dict[str, Any]]] = {
    "valuesim": ("valuesim", {}),
    "valuesim-plain": ("valuesim", {"modules": "plain"}),  # ablation: without CAB
    "valuesim-raw": ("valuesim", {"story": "raw"}),  # ablation: without story
    "valuesim-pool": ("valuesim", {"integration": "pool"}),
    "valuesim-batch": ("valuesim", {"scoring": "generate", "batch_targets": 10}),
    # the cheap path: ten targets per generation, modules combined by mean / mode (no coordinator)
    "valuesim-fast": ("valuesim", {"scoring": "generate", "batch_targets": 10, "integration": "mean"}),
    "blank": ("blank", {}),
    "demographics": ("demographics", {}),
    "full-info": ("full-info", {}),
    "rag": ("rag", {}),
}
DEFAULT_RUNS = "valuesim,valuesim-plain,blank,demographics,full-info,rag"


def paper_story_tokens(model: Any, n: int = 30, seed: int = 0) -> float | None:
    """Mean length, in this model's tokens, of the paper's backstories (DeepSeek-V3, fold 1)."""
    path = STORIES / "v3-250324_fold_1.json.gz"
    if not path.exists():
        return None
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        stories = list(json.loads(fh.read()).values())
    sample = random.Random(seed).sample(stories, min(n, len(stories)))
    return statistics.fmean(model.count_tokens(s) for s in sample)


def per_prediction(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Mean calls and tokens per prediction. Predictions served partly from the LLM cache (a
    resumed run) are left out of the means when others are available: their calls were made
    by an earlier process and are not counted in their usage."""
    keys = ("llm_calls", "prompt_tokens", "completion_tokens", "prompt_tokens_sent", "prefix_tokens", "cache_hits")
    usage = [(r.get("meta") or {}).get("usage") or {} for r in rows]
    fresh = [u for u in usage if not u.get("cache_hits")] or usage
    out = {k: statistics.fmean(float(u.get(k, 0.0)) for u in fresh) if fresh else 0.0 for k in keys}
    out["n"] = len(rows)
    out["n_accounted"] = len(fresh)
    out["failed"] = sum(1 for r in rows if r.get("prediction") is None)
    return out


def fidelity_check(data: Any, model_spec: str, n_people: int, n_items: int, max_words: int, seed: int) -> None:
    """Story fidelity: history answers recovered from the backstory alone, per style, vs none."""
    from valuesim.bench.protocol import ProtocolConfig, build_units
    from valuesim.llm import get_model
    from valuesim.methods.story import build_backstory, story_fidelity

    model = get_model(model_spec)
    split = build_units(data, ProtocolConfig(n_respondents=n_people, folds=5, seed=seed))
    table: dict[str, list[float]] = {}
    for rid in split.respondents:
        person = data.respondent(rid)
        history = [q for q in person.answered() if not data.codebook.get(q).profile]
        for style in ("facts", "raw", "none"):
            story = build_backstory(person, data.codebook, style=style, max_words=max_words)
            # ask only items the (length-limited) story states, so a loss is the model's, not the cut's
            stated = [q for q in history if style == "none" or q in story.meta.get("qids_stated", [])]
            rep = story_fidelity(story, person, data.codebook, model, stated, n=n_items, seed=seed)
            table.setdefault(style, []).append(rep.rate)
            print(f"fidelity {rid} {style}: {rep.recovered}/{rep.n} = {rep.rate:.1%}", flush=True)
    for style, rates in table.items():
        print(f"fidelity {style}: mean {statistics.fmean(rates):.1%} over {len(rates)} respondent(s)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--model", default="local")
    ap.add_argument("--base-url", default=None)
    ap.add_argument("--respondents", type=int, default=2)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--only-fold", type=int, default=None, help="run one fold only (numbered from 0)")
    ap.add_argument("--max-targets", type=int, default=None, help="at most this many targets per person and fold")
    ap.add_argument("--methods", default=DEFAULT_RUNS, help=f"comma list of: {', '.join(RUNS)}")
    ap.add_argument("--max-story-words", type=int, default=1200)
    ap.add_argument(
        "--paper-completion-tokens",
        type=int,
        default=150,
        help="assumed rationale length per call of the paper's design (it generates reasoning in all 4 calls)",
    )
    ap.add_argument("--out-root", default="/tmp/valuesim-bench-methods")
    ap.add_argument("--results", default="methods", help="write docs/results/NAME.json ('' = do not write)")
    ap.add_argument("--overwrite", action="store_true")
    ap.add_argument("--only-finished", action="store_true", help="report finished runs only; compute nothing new")
    ap.add_argument(
        "--fidelity",
        type=int,
        default=0,
        metavar="N_PEOPLE",
        help="instead of benchmarking, measure story fidelity for N respondents (30 items each)",
    )
    args = ap.parse_args(argv)

    from valuesim.bench.protocol import ProtocolConfig
    from valuesim.bench.runner import RunConfig, run_benchmark
    from valuesim.cli._data import load_data
    from valuesim.methods import get_method

    t0 = time.perf_counter()
    data = load_data(args.data)  # a WVS file or folder, or synthetic[:N]
    print(f"data: {len(data)} respondents from {args.data} ({time.perf_counter() - t0:.1f}s)", flush=True)
    if args.fidelity:
        fidelity_check(data, args.model, args.fidelity, 30, args.max_story_words, args.seed)
        return 0
    cfg = RunConfig(
        protocol=ProtocolConfig(
            n_respondents=args.respondents,
            folds=args.folds,
            seed=args.seed,
            only_folds=None if args.only_fold is None else (args.only_fold,),
            max_targets=args.max_targets,
        ),
        overwrite=args.overwrite,
        command=" ".join([sys.executable, *sys.argv]),
    )
    root = Path(args.out_root)
    results: dict[str, dict[str, Any]] = {}
    model_obj = None
    for name in [m.strip() for m in args.methods.split(",") if m.strip()]:
        if name not in RUNS:
            ap.error(f"unknown run {name!r}; choose from {', '.join(RUNS)}")
        method_name, opts = RUNS[name]
        if args.only_finished and not (root / name / "metrics.json").exists():
            print(f"{name}: not finished, skipped", flush=True)
            continue
        # a fresh LLM cache per run: no run profits from another's answers (identical requests
        # inside one run, e.g. the blank baseline's, are still served once)
        cache_dir = root / name / "llm-cache"
        options = {"model": args.model, "max_story_words": args.max_story_words, "cache": str(cache_dir), **opts}
        if args.base_url:
            options["base_url"] = args.base_url
        method = get_method(method_name, data.codebook, **options)
        t = time.perf_counter()
        res = run_benchmark(data, method, cfg, root / name, progress=False)
        usage: dict[str, Any] = getattr(method, "usage", {})  # LLM methods count calls and tokens
        wall = time.perf_counter() - t
        rows = [
            json.loads(line) for line in (root / name / "predictions.jsonl").read_text().splitlines() if line.strip()
        ]
        m = res.metrics or {}
        results[name] = {
            "method": method_name,
            "options": opts,
            "top1": m.get("top1", {}),
            "nmae": m.get("nmae", {}),
            "within1": m.get("within1", {}),
            "per_prediction": per_prediction(rows),
            "wall_seconds_total": m.get("wall_seconds"),
            "wall_seconds_this_call": round(wall, 1),
            "cache_hits": usage.get("cache_hits", 0),
        }
        model_obj = getattr(method, "model", None)
        pp = results[name]["per_prediction"]
        print(
            f"{name}: top1={m.get('top1', {}).get('mean', float('nan')):.3f} "
            f"calls/pred={pp['llm_calls']:.2f} sent/pred={pp['prompt_tokens_sent']:.0f} "
            f"eval/pred={pp['prompt_tokens']:.0f} gen/pred={pp['completion_tokens']:.1f} wall={wall:.0f}s",
            flush=True,
        )

    # The paper's design: 3 modules + 1 coordinator, each re-sending the backstory and generating.
    story = paper_story_tokens(model_obj) if model_obj is not None else None
    paper: dict[str, Any] | None = None
    if story is not None and "valuesim" in results:
        vs = results["valuesim"]["per_prediction"]
        question = max(0.0, vs["prompt_tokens_sent"] / max(vs["llm_calls"], 1e-9) - vs["prefix_tokens"])
        sent = 4 * (story + question)
        gen = 4 * args.paper_completion_tokens
        paper = {
            "story_tokens": round(story, 1),
            "question_tokens_per_call": round(question, 1),
            "calls": 4,
            "prompt_tokens_sent": round(sent, 1),
            "completion_tokens": gen,
            "total": round(sent + gen, 1),
        }
        for r in results.values():
            pp = r["per_prediction"]
            ours_sent = pp["prompt_tokens_sent"] + pp["completion_tokens"]
            ours_eval = pp["prompt_tokens"] + pp["completion_tokens"]
            r["ratio_vs_paper_sent"] = round(paper["total"] / ours_sent, 2) if ours_sent else None
            r["ratio_vs_paper_eval"] = round(paper["total"] / ours_eval, 2) if ours_eval else None

    def fmt(d: dict[str, Any]) -> str:
        if not d or d.get("mean") is None:
            return "n/a"
        lo, hi = (d.get("ci95") or [None, None])[:2]
        ci = f" [{lo:.3f}, {hi:.3f}]" if lo is not None else ""
        return f"{d['mean']:.3f}{ci}"

    columns = [
        "run",
        "top-1",
        "nMAE",
        "within-1",
        "preds (failed)",
        "calls/pred",
        "sent tok/pred",
        "eval tok/pred",
        "gen tok/pred",
        "x paper (sent)",
        "x paper (eval)",
        "wall s",
    ]
    rows_out: list[list[Any]] = []
    for name, r in results.items():
        pp = r["per_prediction"]
        rows_out.append(
            [
                name,
                fmt(r["top1"]),
                fmt(r["nmae"]),
                fmt(r["within1"]),
                f"{pp['n']} ({pp['failed']})",
                f"{pp['llm_calls']:.2f}",
                f"{pp['prompt_tokens_sent']:.0f}",
                f"{pp['prompt_tokens']:.0f}",
                f"{pp['completion_tokens']:.1f}",
                r.get("ratio_vs_paper_sent"),
                r.get("ratio_vs_paper_eval"),
                f"{r['wall_seconds_total']:.1f}" if r["wall_seconds_total"] is not None else None,
            ]
        )
    print()
    print(f"model {args.model}; {args.respondents} respondent(s) x {args.folds} folds; seed {args.seed}")
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows_out:
        print("| " + " | ".join("n/a" if c is None else str(c) for c in row) + " |")
    paper_note = ""
    if paper:
        paper_note = (
            f"paper design per prediction: 4 calls x ({paper['story_tokens']:.0f}-token story + "
            f"{paper['question_tokens_per_call']:.0f}-token question) + 4 x {args.paper_completion_tokens} generated "
            f"= {paper['total']:.0f} tokens (story length measured on the paper's DeepSeek-V3 backstories, "
            "in this model's tokenizer; rationale length assumed)"
        )
        print("\n" + paper_note)
    if args.results and results:
        from _results import describe_data, save_results, table

        simulated = args.model.split(":")[0] == "mock"
        caption = (
            f"{describe_data(data)['description']}; {args.respondents} sampled respondent(s) x "
            + (f"fold {args.only_fold} of {args.folds}" if args.only_fold is not None else f"{args.folds} folds")
            + (f", at most {args.max_targets} targets per person" if args.max_targets else "")
            + f", seed {args.seed}; model `{args.model}`"
            + (" (SIMULATED answers: a mock model, measures the machinery only)" if simulated else "")
            + f"; backstories cut at {args.max_story_words} words. Tokens per prediction; "
            "x paper = the paper's design (4 calls re-sending the backstory, each generating a rationale) "
            "divided by ours" + (f"; {paper_note}." if paper_note else ".")
        )
        save_results(
            args.results,
            {"runs": table(caption, columns, rows_out)},
            data=data,
            raw={"args": vars(args), "paper_design": paper, "runs": results},
        )
    summary = {"args": vars(args), "paper_design": paper, "runs": results}
    root.mkdir(parents=True, exist_ok=True)
    (root / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"\nsummary: {root / 'summary.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
