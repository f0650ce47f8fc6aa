"""Cost per prediction of every LLM method, counted by one server in one tokenizer.

Every run goes through a local counting OpenAI-compatible server (``MockServer`` with a
:class:`~valuesim.scale.tokencount.RequestLog` in the embedded SmolLM2 tokenizer) that answers
with the embedded model itself (``--answer-model local``), so one run gives both the token
bill and the accuracy:

* ``calls``: chat-completion requests per prediction;
* ``sent``: prompt tokens per prediction as sent (chat template included): what a server
  without prefix caching computes and what a hosted API bills;
* ``computed``: prompt tokens per prediction beyond the longest common prefix with any earlier
  request of the same run (an ideal, unbounded prefix cache, as in vLLM / llama.cpp / SGLang);
* ``completion``: generated tokens per prediction;
* ``top-1``: accuracy of the predictions (embedded SmolLM2-135M: near chance, see docs).

Every row uses the same respondents and split (``--respondents`` of the WVS-7 dev subset,
fold ``--fold`` of 5, seed 42). The original design's figures are an external reference row
copied from issue 15 (measured there with the same server and tokenizer on 3 dev respondents).

The client side runs without the LLM cache (every request must reach the server); the server's
answering model keeps the shared cache, so reruns and runs that repeat a prompt are cheap.
Run directories (predictions derive from WVS data) go to ``--out-root``, outside the repository;
``valuesim bench compare OUT/valuesim OUT/valuesim-v1`` gives the paired accuracy difference.

    nice -n 10 python benchmarks/bench_cost.py --runs valuesim,valuesim-k10,valuesim-v1   # docs/results/cost.json
    nice -n 10 python benchmarks/bench_cost.py --respondents 1 --results cost-methods      # every method
    python benchmarks/bench_cost.py --runs valuesim,valuesim-k10 --respondents 2
    python benchmarks/bench_cost.py --answer-model mock --data synthetic:300   # plumbing only
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import DEV_DATA, save_results, table

#: name -> (registered method, options, what it is). Variants are configurations, not code.
RUNS: dict[str, tuple[str, dict[str, Any], str]] = {
    "valuesim": ("valuesim", {}, "ValueSim default"),
    "valuesim-position": (
        "valuesim",
        {"selection": "position", "profile_share": 1.0},
        "previous default (dense 600-token story chosen by position, profile uncapped)",
    ),
    "valuesim-k10": ("valuesim", {"batch_targets": 10}, "ValueSim, 10 targets per call (scored)"),
    "valuesim-v1": (
        "valuesim",
        {
            "story": "facts",
            "max_story_words": 1200,
            "story_tokens": None,
            "prompt_version": "v1",
            "selection": "position",
            "profile_share": 1.0,
        },
        "earlier default (1,200-word facts story by position, v1 prompts)",
    ),
    "valuesim-v3": (
        "valuesim",
        {"prompt_version": "v3"},
        "ablation: prompts v3 (module cue after the answer instruction)",
    ),
    "valuesim-v2": ("valuesim", {"prompt_version": "v2"}, "ablation: prompts v2 (longer module instructions)"),
    "valuesim-v1-prompts": ("valuesim", {"prompt_version": "v1"}, "ablation: v1 prompts, default dense story"),
    "valuesim-plain": ("valuesim", {"modules": "plain"}, "ablation: without CAB (one plain module)"),
    "valuesim-raw": ("valuesim", {"story": "raw"}, "ablation: without story (raw answer list)"),
    "valuesim-pool": ("valuesim", {"integration": "pool"}, "ablation: pooled modules, no coordinator"),
    "valuesim-rationale": ("valuesim", {"rationale": True}, "with module rationales (generated)"),
    "blank": ("blank", {}, "baseline: question only"),
    "demographics": ("demographics", {}, "baseline: profile only"),
    "full-info": ("full-info", {}, "baseline: raw list of every known answer"),
    "rag": ("rag", {}, "baseline: profile + 3 most similar answers"),
    "hybrid": (
        "hybrid",
        {},
        "hybrid (supervised x valuesim), with its calibration: a fixed cost per run, large per prediction on a small run",
    ),
}
SUMMARY = ("valuesim", "valuesim-position", "valuesim-k10", "valuesim-v1")
#: runs whose method learns from people outside the sample (the hybrid's prior and calibration)
LEARNS_FROM_OTHERS = frozenset({"hybrid"})
#: paired top-1 comparisons written beside the table: (A, B) -> A - B
PAIRS = (
    ("valuesim", "valuesim-position"),
    ("valuesim", "valuesim-v1"),
    ("valuesim-k10", "valuesim"),
    # which change moved the accuracy: the prompts (v4 vs v3 / v2 / v1 with the same dense story)
    # or the story (dense 600 tokens vs facts 1,200 words, both with v1 prompts)
    ("valuesim", "valuesim-v3"),
    ("valuesim", "valuesim-v2"),
    ("valuesim", "valuesim-v1-prompts"),
    ("valuesim-v1-prompts", "valuesim-v1"),
)
DEFAULT_RUNS = "valuesim,valuesim-position,valuesim-k10,valuesim-v1,valuesim-plain,valuesim-raw,valuesim-pool,blank,demographics,full-info,rag,hybrid"

#: Issue 15: the original research code (SimVBG) and the first ValueSim default, measured with
#: one logging OpenAI-compatible server and the embedded SmolLM2 tokenizer on 3 dev respondents.
REFERENCE = [
    ["original design, README setting (issue 15)", "3.99", "5,040", "~475", "~80 per call (free text)", "-", "-"],
    ["original design + story optimisation loop (issue 15)", "4.2-4.5", "6,933-9,569", "-", "-", "-", "-"],
]


def per_prediction(totals: dict[str, int], n: int) -> dict[str, float]:
    return {
        "calls": totals["requests"] / n,
        "sent": totals["sent"] / n,
        "computed": totals["computed"] / n,
        "completion": totals["completion"] / n,
        "system": totals["system"] / n,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEV_DATA), help="survey file/folder, or synthetic:N")
    ap.add_argument(
        "--respondents",
        type=int,
        default=7,
        help="respondents of the sample (7: about 340 predictions on fold 0, enough for a paired CI on >= 300)",
    )
    ap.add_argument("--fold", type=int, default=0, help="the one fold (of 5) every run predicts")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--first-units",
        type=int,
        default=None,
        metavar="K",
        help="only the first K respondents of the --respondents sample (same units as the full run; a cheaper "
        "subset that reuses its cached answers)",
    )
    ap.add_argument("--runs", default=DEFAULT_RUNS, help=f"comma list of: {', '.join(RUNS)}")
    ap.add_argument("--answer-model", default="local", help="model the server answers with (local, mock ...)")
    ap.add_argument("--tokenizer", default="embedded", help="tokenizer of the counts: embedded, bytes or a .gguf")
    ap.add_argument("--out-root", default="/tmp/valuesim-bench-cost")
    ap.add_argument("--results", default="cost", help="name of the results file docs/results/NAME.json")
    ap.add_argument("--no-save", action="store_true", help="print only; do not write docs/results/NAME.json")
    args = ap.parse_args(argv)

    from valuesim.bench.protocol import ProtocolConfig
    from valuesim.bench.runner import RunConfig, run_benchmark
    from valuesim.cli._data import load_data
    from valuesim.llm import get_model
    from valuesim.methods import get_method, list_methods
    from valuesim.scale.mockserver import MockServer
    from valuesim.scale.tokencount import RequestLog, make_tokenizer

    names = [r.strip() for r in args.runs.split(",") if r.strip()]
    for name in names:
        if name not in RUNS:
            ap.error(f"unknown run {name!r}; choose from {', '.join(RUNS)}")
    t0 = time.perf_counter()
    data = load_data(args.data)
    print(f"data: {len(data):,} respondents from {args.data} ({time.perf_counter() - t0:.1f}s)", flush=True)
    protocol = ProtocolConfig(n_respondents=args.respondents, folds=5, seed=args.seed, only_folds=[args.fold])
    sample = f"{args.respondents} respondents"
    if args.first_units is not None:
        from valuesim.bench.protocol import build_units

        keep = [u.respondent for u in build_units(data, protocol).units][: args.first_units]
        data = data.subset(keep)
        protocol = protocol.model_copy(update={"n_respondents": len(keep)})
        sample = f"the first {len(keep)} of a {args.respondents}-respondent sample"
    cfg = RunConfig(protocol=protocol, concurrency=1, overwrite=True, command=" ".join([sys.executable, *sys.argv]))
    log = RequestLog(make_tokenizer(args.tokenizer))
    answerer = get_model(args.answer_model)  # with the shared LLM cache
    root = Path(args.out_root)
    results: dict[str, dict[str, Any]] = {}
    with MockServer(log=log, answer_model=answerer) as server:
        for name in names:
            method_name, opts, what = RUNS[name]
            if method_name not in list_methods():
                print(f"{name}: method {method_name!r} is not registered here, skipped", flush=True)
                continue
            if args.first_units is not None and name in LEARNS_FROM_OTHERS:
                # --first-units keeps only the sampled people: a method that learns from the others
                # (the hybrid's prior and calibration) would see nobody and its row would mislead
                print(f"{name}: needs training people, which --first-units removes; skipped", flush=True)
                continue
            log.reset()  # a new run starts with an empty prefix cache
            # no client cache (every request must reach the server), no timeout and no retries (a
            # retried request would be counted twice; the embedded model can be slow on a busy machine)
            client = {"model": "openai:mock", "base_url": server.url, "cache": False}
            transport = {"timeout": 24 * 3600, "max_retries": 0}
            if method_name == "hybrid":  # the hybrid hands its LLM method's options on as llm.KEY
                transport = {f"llm.{k}": v for k, v in transport.items()}
            method = get_method(method_name, data.codebook, **client, **transport, **opts)
            t = time.perf_counter()
            res = run_benchmark(data, method, cfg, root / name, progress=False)
            wall = time.perf_counter() - t
            m = res.metrics or {}
            n = int(m.get("n_predictions") or m.get("n") or 0) or sum(
                1 for line in (root / name / "predictions.jsonl").read_text().splitlines() if line.strip()
            )
            pp = per_prediction(log.totals(), n)
            kinds: dict[str, int] = {}
            for r in log.records:
                kinds[r.kind] = kinds.get(r.kind, 0) + 1
            preds = [
                json.loads(line)
                for line in (root / name / "predictions.jsonl").read_text().splitlines()
                if line.strip()
            ]
            block = [
                p["meta"]["history"]["target_facts"]
                for p in preds
                if isinstance((p.get("meta") or {}).get("history"), dict) and "target_facts" in p["meta"]["history"]
            ]
            results[name] = {
                "history_recall": m.get("history_recall"),
                "prompt_split": {
                    # per request with a system message: the shared part (persona + shared story, byte-identical
                    # for every call of a person) and the rest (the target's answers, question, instruction)
                    "system_per_call": sum(r.system for r in log.records) / max(1, len(log.records)),
                    "rest_per_call": sum(r.sent - r.system for r in log.records) / max(1, len(log.records)),
                    "target_facts_mean": sum(block) / len(block) if block else 0.0,
                },
                "method": method_name,
                "options": opts,
                "what": what,
                "n_predictions": n,
                "per_prediction": pp,
                "requests_by_kind": kinds,
                "top1": m.get("top1", {}),
                "abstained": m.get("n_abstained"),
                "wall_seconds": round(wall, 1),
                "config": method.config(),
            }
            top = (m.get("top1") or {}).get("mean")
            rec = (m.get("history_recall") or {}).get("mean")
            print(f"{name}: recall@k={rec}", flush=True)
            print(
                f"{name}: n={n} calls={pp['calls']:.2f} sent={pp['sent']:.0f} computed={pp['computed']:.0f} "
                f"completion={pp['completion']:.2f} top1={top if top is None else round(top, 3)} wall={wall:.0f}s",
                flush=True,
            )

    simulated = args.answer_model.split(":", 1)[0] == "mock"
    where = "SYNTHETIC data" if data.synthetic else "WVS-7 dev"

    def fmt_top(d: dict[str, Any]) -> str:
        if simulated or not d or d.get("mean") is None:
            return "-"
        ci = d.get("ci95") or d.get("ci")
        return f"{d['mean']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{d['mean']:.3f}"

    def fmt_recall(d: dict[str, Any] | None) -> str:
        return "-" if not d or d.get("mean") is None else f"{d['mean']:.2f}"

    rows: list[list[Any]] = []
    for name, r in results.items():
        pp = r["per_prediction"]
        rows.append(
            [
                f"{name}: {r['what']}",
                f"{pp['calls']:.2f}",
                f"{pp['sent']:,.0f}",
                f"{pp['computed']:,.0f}",
                f"{pp['completion']:.2f}",
                fmt_top(r["top1"]),
                fmt_recall(r.get("history_recall")),
            ]
        )
    rows.extend(REFERENCE)
    n_pred = max((r["n_predictions"] for r in results.values()), default=0)
    answers = (
        "answers from the mock model (SIMULATED: token counts are exact for every run without a coordinator; "
        "runs with one depend on how often the mock's modules disagree; no top-1)"
        if simulated
        else f"answers and top-1 (95% CI) from the embedded SmolLM2-135M ({args.answer_model})"
    )
    caption = (
        f"Cost per prediction, counted by the counting mock server in the embedded SmolLM2 tokenizer; {answers}; "
        f"{sample} ({where}), "
        f"fold {args.fold} of 5, seed {args.seed}, {n_pred} predictions per row. Last rows: the original design, "
        "figures copied from issue 15 (same kind of server and tokenizer, 3 dev respondents)."
    )
    k = next((r["history_recall"]["k"] for r in results.values() if r.get("history_recall")), 20)
    columns = [
        "run",
        "calls",
        "prompt tokens sent",
        "computed (ideal prefix cache)",
        "completion tokens",
        "top-1",
        f"history recall@{k}",
    ]
    print()
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    root.mkdir(parents=True, exist_ok=True)
    (root / "summary.json").write_text(json.dumps(results, indent=1, default=str))
    key = [r for r, name in zip(rows, results) if name in SUMMARY] + REFERENCE[:1]
    summary_caption = (
        f"Per prediction, embedded SmolLM2 tokenizer and answers, {n_pred} predictions ({sample}, {where}); "
        "last row: the original design as measured in issue 15. All rows: docs/method.md."
    )
    tables = {"per_prediction": table(caption, columns, rows), "summary": table(summary_caption, columns, key)}
    split_rows = [
        [
            f"{name}: {r['what']}",
            f"{r['prompt_split']['system_per_call']:,.0f}",
            f"{r['prompt_split']['rest_per_call']:,.0f}",
            f"{r['prompt_split']['target_facts_mean']:.1f}",
            f"{r['per_prediction']['computed']:,.0f}",
            fmt_recall(r.get("history_recall")),
        ]
        for name, r in results.items()
    ]
    tables["prompt_split"] = table(
        "Shared and per-target parts of the prompt, per request, counted by the same server and tokenizer: the "
        "system message (persona + the shared story: byte-identical for every call of one person, the part a "
        "prefix cache reuses) and the rest (the answers chosen for the target, the question, the instruction; "
        f"the coordinator's short system prompt counts as shared); {sample} ({where}), fold {args.fold}.",
        [
            "run",
            "shared system message / request",
            "rest / request",
            "answers chosen per target",
            "computed / prediction",
            f"history recall@{k}",
        ],
        split_rows,
    )
    pairs = [(a, b) for a, b in PAIRS if a in results and b in results]
    if pairs and not simulated:
        from valuesim.bench.compare import paired_comparison
        from valuesim.bench.rundir import open_run

        paired_rows: list[list[Any]] = []
        for a, b in pairs:
            r = paired_comparison(
                open_run(root / a).predictions(), open_run(root / b).predictions(), "top1", codebook=data.codebook
            )
            results[a].setdefault("paired_top1", {})[b] = r.to_dict()
            paired_rows.append(
                [
                    f"{a} - {b}",
                    r.n_predictions,
                    r.n_respondents,
                    f"{r.diff:+.3f}",
                    f"[{r.ci95[0]:+.3f}, {r.ci95[1]:+.3f}]",
                    f"{r.p_permutation:.2f}",
                ]
            )
        tables["paired"] = table(
            f"Paired top-1 differences on the same predictions (valuesim bench compare: bootstrap over respondents, "
            f"sign-flip permutation test); embedded SmolLM2-135M, {sample} ({where}).",
            ["A - B", "predictions", "respondents", "top-1 difference", "95% CI", "p (permutation)"],
            paired_rows,
        )
    if not args.no_save:
        save_results(
            args.results,
            tables,
            data=data,
            raw={"runs": results, "reference_source": "issue 15 (original design, measured by the issue's author)"},
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
