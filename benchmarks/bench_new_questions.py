"""Questions nobody has answered: every method under the ``new-questions`` protocol.

Under ``--protocol new-questions`` the fold's target questions are hidden from everyone
(training people included): ``fit()`` gets the data without those columns, so no method can
learn from other people's answers to a target. This is the one setting where a trained
predictor of the target does not exist and an LLM has to earn its place. Rows:

* ``uniform`` -- every option equally likely (the middle option as the point answer);
* ``item-transfer`` -- the person's answers on the items the question is related to (relations
  predicted from the wording, valuesim.relations), combined by a Gaussian copula;
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

The hybrid for new questions (prior=item-transfer x an LLM method, calibrated on pseudo-new items)
against item-transfer on the same predictions, one row per ``--hybrid-models`` model (LLM calls per
person-question include the calibration's)::

    flock /tmp/valuesim-heavy.lock python benchmarks/bench_new_questions.py --methods item-transfer \
        --respondents 10 --targets 10 --hybrid-models local,mock:oracle=0.6 --results new_questions_hybrid

The non-LLM acceptance run of item-transfer (every fold, every target, plus the relations table:
predicted vs observed associations of each fold's held-out items with the known items)::

    python benchmarks/bench_new_questions.py --methods uniform,text-transfer,item-transfer \
        --respondents 100 --folds all --targets 0 --relations --results new_questions_items

Item judgments (item-transfer ``-o judge=SPEC``: the relations of each question's top ``judge_k``
known items judged by a model once per pair of items, weighted on known pairs; and the question's
answer distribution in each person's country, once per question and country, mixed into the
marginal at a calibrated share). ``--item-oracle`` adds the SIMULATED item-level oracle at strengths
P (``mock:item-oracle=P``: it knows each pair's association and each item's answer distribution
among all people of the data, mixed with noise at 1 - P; a test instrument of the machinery,
labelled SIMULATED), ``--judge-model`` real models (e.g. ``local``, the embedded smoke-test model,
or ``openai:NAME`` with a server); the table gives the paired top-1 difference against the first
judge (P = 0: judgments that are pure noise), the marginal each fold chose, the pairs and
distributions judged and the LLM calls per person-question (the judgments amortised over the
sample)::

    python benchmarks/bench_new_questions.py --methods item-transfer --respondents 100 --folds all \
        --targets 0 --item-oracle 0,0.3,0.6 --results new_questions_judgments
    # a capable model on a server (cached: a pair is asked once, ever):
    python benchmarks/bench_new_questions.py --methods item-transfer --respondents 100 --folds all \
        --targets 0 --item-oracle 0 --judge-model openai:NAME@http://127.0.0.1:8000/v1 --results NAME
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import DEV_DATA, save_results, table

from valuesim.llm.simulation import is_simulated
from valuesim.methods.item_transfer import ItemTransferOptions

METHODS = "uniform,text-transfer,item-transfer,blank,demographics,rag,valuesim"


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
    ap.add_argument("--targets", type=int, default=10, help="at most this many targets per respondent (0: all)")
    ap.add_argument("--fold", type=int, default=0, help="the one fold (of 5) every method predicts")
    ap.add_argument("--folds", default=None, help="'all' (every fold of 5) or a comma list; overrides --fold")
    ap.add_argument("--relations", action="store_true", help="add the relations table (held-out items per fold)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--methods", default=METHODS, help=f"comma list (default: {METHODS})")
    ap.add_argument("--model", default="local", help="model of the LLM methods")
    ap.add_argument("--out-root", default="/tmp/valuesim-bench-new-questions", help="run directories (resumable)")
    ap.add_argument(
        "--item-oracle", default="", help="comma list of P: item-transfer judged by the SIMULATED mock:item-oracle=P"
    )
    ap.add_argument("--judge-model", default="", help="comma list of model specs judging item pairs (item-transfer)")
    ap.add_argument("--judge-k", type=int, default=None, help="item-transfer judge_k (default: the method's)")
    ap.add_argument("--judge-items", type=int, default=None, help="item-transfer judge_items (default: the method's)")
    ap.add_argument("--judge-orders", type=int, default=None, help="item-transfer judge_orders (default: the method's)")
    ap.add_argument(
        "--judge-power",
        type=float,
        default=None,
        help="item-transfer judge_power (default: fitted on the pseudo-new items; 1: the judged distributions as judged)",
    )
    ap.add_argument("--results", default="new_questions", help="docs/results/NAME.json")
    ap.add_argument("--no-save", action="store_true", help="print only")
    ap.add_argument(
        "--hybrid-models",
        default="",
        help="comma list of models: add the hybrid (prior=item-transfer x valuesim) table, one row per model",
    )
    args = ap.parse_args()

    from valuesim.bench.compare import paired_comparison
    from valuesim.bench.protocol import ProtocolConfig
    from valuesim.bench.rundir import open_run
    from valuesim.bench.runner import RunConfig, run_benchmark
    from valuesim.cli._data import load_data
    from valuesim.methods import get_method, method_info

    data = load_data(args.data)
    if args.folds is None:
        only: tuple[int, ...] | None = (args.fold,)
    else:
        only = None if args.folds == "all" else tuple(int(f) for f in args.folds.split(","))
    fold_text = f"fold {args.fold} of 5" if args.folds is None else f"folds {args.folds} of 5"
    proto = ProtocolConfig(
        name="new-questions",
        n_respondents=args.respondents,
        seed=args.seed,
        folds=5,
        only_folds=only,
        max_targets=args.targets or None,
    )
    root = Path(args.out_root)
    names = [m.strip() for m in args.methods.split(",") if m.strip()]
    results: dict[str, dict[str, Any]] = {}
    splits: dict[str, Any] = {}
    fitted_relations: list[Any] = []  # item-transfer's relations model of each fold, in fold order
    built: dict[str, Any] = {}  # the method objects of the rows (the hybrid table shares item-transfer's fit)
    for name in names:
        t0 = time.perf_counter()
        opts = {"model": args.model} if method_info(name).uses_llm else {}
        method = built[name] = get_method(name, data.codebook, **opts)
        if name == "item-transfer" and args.relations:
            _record_relations(method, fitted_relations)
        cfg = RunConfig(protocol=proto, n_boot=1000, command="benchmarks/bench_new_questions.py")
        res = run_benchmark(data, method, cfg, root / name, progress=False)
        m = res.metrics or {}
        results[name] = {"metrics": m, "predictions": open_run(root / name).predictions()}
        splits[name] = res.split
        print(
            f"  {name}: top-1 {ci(m, 'top1')}, {m.get('n_predictions')} predictions, {time.perf_counter() - t0:.0f} s"
        )

    judges = [f"mock:item-oracle={float(p):g}" for p in args.item_oracle.split(",") if p.strip()]
    judges += [j.strip() for j in args.judge_model.split(",") if j.strip()]
    judge_opts = {
        k: v
        for k, v in (
            ("judge_k", args.judge_k),
            ("judge_items", args.judge_items),
            ("judge_orders", args.judge_orders),
            ("judge_power", args.judge_power),
        )
        if v is not None
    }
    judged: dict[str, dict[str, Any]] = {}
    for spec in judges:
        t0 = time.perf_counter()
        method = get_method("item-transfer", data.codebook, judge=spec, **judge_opts)
        reports: list[Any] = []
        _record_judgments(method, reports)
        cfg = RunConfig(protocol=proto, n_boot=1000, command="benchmarks/bench_new_questions.py")
        out = root / ("item-transfer-judge-" + "".join(c if c.isalnum() or c in ".-" else "_" for c in spec))
        res = run_benchmark(data, method, cfg, out, progress=False)
        run = open_run(out)
        kept = out / "judgments.json"  # each fold's judgment weights, kept for a resumed run
        if reports:
            kept.write_text(json.dumps(reports, indent=1))
        elif kept.exists():
            reports = json.loads(kept.read_text())
        else:  # the manifest keeps the last fit's report (the last fold's) of each session
            fits = [s.get("fit") for s in run.manifest.get("sessions") or [] if s.get("fit")]
            last = ((fits[-1] if fits else {}).get("relations") or {}).get("judgments")
            reports = [dict(last, only="the last fold")] if last else []
        # distinct pairs and (question, country) distributions the judge was asked (its memo, fit and prediction
        # of every fold); kept for a resumed run
        counts_file = out / "judged_counts.json"
        if res.n_computed and method._judge is not None:
            counts = {"pairs": method._judge.pairs_judged, "distributions": method._judge.distributions_judged}
            counts_file.write_text(json.dumps(counts))
        counts = json.loads(counts_file.read_text()) if counts_file.exists() else {}
        judged[spec] = {
            "metrics": res.metrics or {},
            "predictions": run.predictions(),
            "judgments": reports,
            "counts": counts,
        }
        m = res.metrics or {}
        print(f"  item-transfer judge={spec}: top-1 {ci(m, 'top1')}, {time.perf_counter() - t0:.0f} s")

    base = results.get("uniform")
    tables: dict[str, Any] = {}
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
    is_dev = args.data == str(DEV_DATA) or Path(args.data).resolve().parts[-2:] == ("wvs7", "dev")
    where = "WVS-7 dev data (a subset of the public file)" if is_dev else f"data {args.data}"
    firsts = [*results.values(), *judged.values()]
    n_pred = firsts[0]["metrics"].get("n_predictions") if firsts else 0
    caption = (
        f"Protocol new-questions (targets hidden from every method's fit), {where}, {args.respondents} "
        f"respondents x {fold_text} x {'<= ' + str(args.targets) if args.targets else 'all'} targets "
        f"({n_pred} predictions per method), seed "
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
    if rows:
        tables["methods"] = table(caption, cols, rows)
        print(f"\n{caption}\n" + " | ".join(cols))
        for row in rows:
            print(" | ".join(str(c) for c in row))
    if "item-transfer" in results and "text-transfer" in results:
        tables["paired"] = paired_table(results, where, args)
        raw["paired_vs_text_transfer"] = tables["paired"]["rows"]
    if judged:
        tables["judgments"], raw["judgments"] = judgments_table(judged, results.get("item-transfer"), where, args)
    hybrid_models = [m.strip() for m in args.hybrid_models.split(",") if m.strip()]
    if hybrid_models:
        tables["hybrid"], raw["hybrid"] = hybrid_table(data, proto, root, hybrid_models, built, results, where, args)
    if args.relations:
        split = next(iter(splits.values()))
        tables["relations"], raw["relations"] = relations_table(data, split, proto, where, fitted_relations)
    if not args.no_save:
        simulated = any(is_simulated(j) for j in judged)
        save_results(
            args.results,
            tables,
            data=data,
            raw=raw,
            notes=(
                "SIMULATED item judgments: mock:item-oracle=P knows each pair's association among all people; "
                if simulated
                else ""
            )
            + "embedded model: the tiny SmolLM2-135M, a smoke test of the machinery, not a capable LLM",
        )


def paired_table(results: dict[str, dict[str, Any]], where: str, args: argparse.Namespace) -> dict[str, Any]:
    """item-transfer minus text-transfer, prediction by prediction (the acceptance comparison)."""
    from valuesim.bench.compare import paired_comparison

    a, b = results["item-transfer"]["predictions"], results["text-transfer"]["predictions"]
    rows = []
    for metric in ("top1", "nmae", "within1"):
        p = paired_comparison(a, b, metric, n_boot=1000, n_perm=2000, seed=0)
        scale = 100 if metric != "nmae" else 1
        unit = " pt" if metric != "nmae" else ""
        fmt = "{:+.1f}" if metric != "nmae" else "{:+.3f}"
        rows.append(
            [
                metric,
                fmt.format(p.diff * scale) + unit,
                f"[{fmt.format(p.ci95[0] * scale)}, {fmt.format(p.ci95[1] * scale)}]",
                f"{p.p_permutation:.4f}",
            ]
        )
    caption = (
        f"item-transfer minus text-transfer on the same predictions ({where}, protocol new-questions, "
        f"{args.respondents} respondents, seed {args.seed}); 95% bootstrap CI over respondents, permutation p."
    )
    return table(caption, ["metric", "difference", "95% CI", "p"], rows)


def _record_judgments(method: Any, into: list[Any]) -> None:
    """Keep the judgment weights item-transfer's relations model fits for each fold."""
    fit = method.fit

    def recording_fit(train: Any) -> None:
        fit(train)
        judge = method._judge
        into.append(
            dict(
                method.relations.judge_report or {},
                marginal=method.params.get("marginal"),
                judged_power=method.params.get("judged_power"),
                # distinct (question, country) answer distributions judged so far in the run (the judge's memo)
                distributions_judged=judge.distributions_judged if judge is not None else 0,
            )
        )

    method.fit = recording_fit


def marginal_label(rep: dict[str, Any]) -> str:
    """The marginal a fold chose, with the fitted power of its judged distributions when it uses them."""
    label = str(rep.get("marginal") or "-")
    power = rep.get("judged_power")
    return f"{label} ^{power:.2f}" if label.startswith("judged=") and power is not None else label


def judgments_table(
    judged: dict[str, dict[str, Any]], plain: dict[str, Any] | None, where: str, args: argparse.Namespace
) -> tuple[dict[str, Any], dict[str, Any]]:
    """item-transfer with item judgments: one row per judge (and item-transfer without judgments when
    it ran), the paired top-1 difference against the first judge, and the judgments' cost amortised
    over the sample: pairs judged (model calls + answers from the LLM cache; each pair once per run)
    per prediction (= per person-question)."""
    from valuesim.bench.compare import paired_comparison

    first = next(iter(judged))
    ref = judged[first]["predictions"]
    entries = ([("no judgments", plain)] if plain is not None else []) + list(judged.items())
    rows, raw = [], {}
    for name, r in entries:
        m = r["metrics"]
        n = m.get("n_predictions") or 0
        pairs = float(m.get("llm_calls") or 0) + float(m.get("cache_hits") or 0)
        diff = "-"
        if name != first:
            p = paired_comparison(r["predictions"], ref, "top1", n_boot=1000, n_perm=2000, seed=0)
            diff = f"{p.diff * 100:+.1f} pt [{p.ci95[0] * 100:+.1f}, {p.ci95[1] * 100:+.1f}]"
        reps = [x for x in r.get("judgments") or [] if x]
        weight, marginal = "-", "-"
        if reps:
            ws = [x["weights"]["judgment"] for x in reps if x.get("weights")]
            if ws:
                weight = f"{sum(ws) / len(ws):.2f}" + (f" ({len(ws)} folds)" if len(ws) > 1 else " (last fold)")
            marginal = ", ".join(marginal_label(x) for x in reps)
        counts = r.get("counts") or {}
        n_pairs, dists = counts.get("pairs"), counts.get("distributions")
        asked = "?" if n_pairs is None else f"{n_pairs:,} + {dists:,}"
        label = f"{name} (SIMULATED)" if is_simulated(name) else name
        rows.append(
            [
                label,
                ci(m, "top1"),
                ci(m, "nmae"),
                ci(m, "within1"),
                diff,
                weight,
                marginal,
                asked if name != "no judgments" else "0",
                f"{pairs / n:.3f}" if n and name != "no judgments" else "0",
            ]
        )
        raw[name] = {
            "simulated": is_simulated(name),
            "n_predictions": n,
            "top1": m.get("top1"),
            "nmae": m.get("nmae"),
            "within1": m.get("within1"),
            "requests": pairs,
            "pairs_judged": n_pairs,
            "distributions_judged": dists,
            "llm_calls": m.get("llm_calls"),
            "cache_hits": m.get("cache_hits"),
            "calls_per_person_question": pairs / n if n else None,
            "judgments_per_fold": reps,
        }
    n_pred = next(iter(judged.values()))["metrics"].get("n_predictions")
    orders = args.judge_orders or ItemTransferOptions().judge_orders
    fold_text = f"fold {args.fold} of 5" if args.folds is None else f"folds {args.folds} of 5"
    caption = (
        f"item-transfer with item judgments ({where}, protocol new-questions, {args.respondents} respondents x "
        f"{fold_text} x {'<= ' + str(args.targets) if args.targets else 'all'} targets, {n_pred} predictions per row, "
        f"seed {args.seed}). SIMULATED rows: mock:item-oracle=P judges each pair with its association among all "
        "people of the data at strength P (noise at 1 - P): a test instrument of the machinery, not a model. "
        f"Δ top-1 paired against {first}; judgment weight: the fitted b of a·wording + b·judgment (mean over folds, or the last "
        "fold's when only that one was kept); marginal: the marginal each fold's calibration chose ('judged=W ^v': "
        "the similar items' marginal mixed at share W with the judged answer distribution of the question in the "
        "person's country raised to the fitted power v, renormalised); judgments: distinct item pairs + distinct (question, "
        f"country) answer distributions asked in the run (fit and prediction, every fold; a distribution is "
        f"{orders} requests: its options in {orders} listings); LLM calls per person-question: the judge's requests (model calls + LLM cache hits) / predictions."
    )
    cols = [
        "judge",
        "top-1",
        "nMAE",
        "within-1",
        f"Δ top-1 vs {first}",
        "judgment weight",
        "marginal",
        "judgments (pairs + distributions)",
        "LLM calls / person-question",
    ]
    print(f"\n{caption}\n" + " | ".join(cols))
    for row in rows:
        print(" | ".join(str(c) for c in row))
    return table(caption, cols, rows), raw


def hybrid_table(
    data: Any,
    proto: Any,
    root: Path,
    models: list[str],
    built: dict[str, Any],
    results: dict[str, dict[str, Any]],
    where: str,
    args: argparse.Namespace,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The hybrid for new questions (prior=item-transfer x valuesim, calibrated on pseudo-new items)
    against item-transfer on the same predictions, one row per model.

    The hybrid's evaluation prior is item-transfer's fit of the same split (one fold: the same
    training data), shared rather than refitted; its calibration prior is fitted apart, without the
    pseudo-new items. LLM calls per person-question count the calibration's calls with the
    evaluation's (both include answers from the LLM cache), divided by the predictions."""
    from valuesim.bench.compare import paired_comparison
    from valuesim.bench.rundir import open_run
    from valuesim.bench.runner import RunConfig, run_benchmark
    from valuesim.methods import get_method

    cfg = RunConfig(protocol=proto, n_boot=1000, command="benchmarks/bench_new_questions.py")
    one_fold = proto.only_folds is not None and len(proto.only_folds) == 1
    prior = built.get("item-transfer")
    if "item-transfer" not in results:  # the prior's own row on the same split
        prior = get_method("item-transfer", data.codebook)
        res = run_benchmark(data, prior, cfg, root / "item-transfer", progress=False)
        results["item-transfer"] = {
            "metrics": res.metrics or {},
            "predictions": open_run(root / "item-transfer").predictions(),
        }
    base = results["item-transfer"]
    rows: list[list[Any]] = []
    raw: dict[str, Any] = {}
    for spec in models:
        t0 = time.perf_counter()
        hybrid = get_method("hybrid", data.codebook, prior="item-transfer", llm="valuesim", model=spec)
        if one_fold and prior is not None and prior.fit_report() is not None:
            hybrid.share_prior(prior)  # type: ignore[attr-defined]  # fitted on this one fold's training data
        out = root / ("hybrid-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", spec))
        res = run_benchmark(data, hybrid, cfg, out, progress=False)
        m = res.metrics or {}
        preds = open_run(out).predictions()
        manifest = open_run(out).manifest
        fits = [s.get("fit") for s in manifest.get("sessions", []) if s.get("fit")]
        calib = (fits[-1] or {}).get("calibration", {}) if fits else {}
        usage = calib.get("llm_usage") or {}
        calls_cal = float(usage.get("llm_calls") or 0) + float(usage.get("cache_hits") or 0)
        # the run's usage totals include the calibration's (made inside fit)
        calls_eval = max(0.0, float(m.get("llm_calls") or 0) + float(m.get("cache_hits") or 0) - calls_cal)
        n = m.get("n_predictions") or 0
        p = paired_comparison(preds, base["predictions"], "top1", n_boot=1000, n_perm=2000, seed=0)
        weights = calib.get("weights", {}).get("all", {})
        check = calib.get("checks", {}).get("all", {})
        gain = check.get("heldout_gain_ci95")
        rows.append(
            [
                f"hybrid (item-transfer x valuesim, {spec})",
                ci(m, "top1"),
                ci(m, "nmae"),
                f"{p.diff * 100:+.1f} pt [{p.ci95[0] * 100:+.1f}, {p.ci95[1] * 100:+.1f}]",
                f"{weights.get('llm', 0):.2f}",
                "-" if not gain else f"[{gain[0]:+.3f}, {gain[1]:+.3f}]",
                f"{calib.get('predictions', {}).get('all', 0)}",
                f"{calls_cal:,.0f}",
                "-" if not n else f"{calls_eval / n:,.2f}",
                "-" if not n else f"{(calls_cal + calls_eval) / n:,.2f}",
            ]
        )
        raw[spec] = {
            "metrics": {k: m.get(k) for k in ("n_respondents", "n_predictions", "top1", "nmae", "within1")},
            "paired_top1_vs_item_transfer": {"diff": p.diff, "ci95": list(p.ci95), "p": p.p_permutation},
            "calibration": calib,
            "llm_requests": {"calibration": calls_cal, "evaluation": calls_eval},
        }
        print(
            f"  hybrid {spec}: top-1 {ci(m, 'top1')}, {rows[-1][3]} vs item-transfer, {time.perf_counter() - t0:.0f} s"
        )
    bm = base["metrics"]
    rows.insert(0, ["item-transfer (the prior)", ci(bm, "top1"), ci(bm, "nmae"), "-", "-", "-", "-", "-", "-", "-"])
    n_pred = bm.get("n_predictions")
    caption = (
        f"The hybrid for new questions: p ∝ item-transfer^a · valuesim^b, the weights fitted on pseudo-new items "
        f"(known items hidden from everyone while calibrating; 6 calibration respondents x 10 targets from "
        f"training people), the LLM kept only when its held-out log-loss gain has a 95% lower bound > 0. Protocol "
        f"new-questions, {where}, {args.respondents} respondents x fold {args.fold} of 5 x "
        f"{'<= ' + str(args.targets) if args.targets else 'all'} targets ({n_pred} predictions), seed {args.seed}. "
        "'local' is the embedded SmolLM2-135M (a smoke-test model); mock:oracle=P is a SIMULATED model that "
        "reveals the true answer with probability P (a check of the machinery, not an LLM). Δ top-1 paired on the "
        "same predictions; LLM requests count answers from the LLM cache too; the calibration's are made once per "
        "fit (per fold), whatever the number of people asked, so per person-question they shrink as the sample grows."
    )
    cols = [
        "method",
        "top-1",
        "nMAE",
        "Δ top-1 vs item-transfer",
        "LLM weight b",
        "held-out gain 95% CI (nats)",
        "calibration answers",
        "LLM requests: calibration (once per fit)",
        "LLM requests / person-question: evaluation",
        "LLM requests / person-question: with the calibration",
    ]
    print(f"\n{caption}\n" + " | ".join(cols))
    for row in rows:
        print(" | ".join(str(c) for c in row))
    return table(caption, cols, rows), raw


def _record_relations(method: Any, into: list[Any]) -> None:
    """Keep the relations model item-transfer fits for each fold (the runner fits it without the fold's questions)."""
    fit = method.fit

    def recording_fit(train: Any) -> None:
        fit(train)
        into.append((frozenset(train.frame.columns), method.relations))

    method.fit = recording_fit


def relations_table(
    data: Any, split: Any, proto: Any, where: str, fitted: list[Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Predicted vs observed associations of each fold's hidden items with the known items.

    Per fold: the relations model item-transfer fitted on the training people without the fold's
    questions (without item-transfer in the run: fitted here the same way); its predictions for the
    fold's items are compared with the associations observed among the same training people with
    every column present."""
    import numpy as np

    from valuesim.bench.config import RunConfig
    from valuesim.bench.plan import training_data, without_questions
    from valuesim.relations import RelationsModel, RelationsOptions, association_quality, observed_associations

    cfg = RunConfig(protocol=proto)
    train = training_data(data, split, cfg)
    groups = train.frame["country"].astype(str).to_numpy()
    truth = observed_associations(train, data.codebook, groups=groups)
    rows, raw = [], {}
    pred_all, obs_all = [], []
    done = [k for k in range(len(split.folds)) if proto.only_folds is None or k in proto.only_folds]
    for k in done:
        fold = split.folds[k]
        present = set(fold) & set(train.frame.columns)
        mine = [m for cols, m in fitted if present and not present & cols]  # fitted with this fold hidden
        if mine:
            model = mine[0]
        else:
            model = RelationsModel.from_data(without_questions(train, fold), data.codebook, RelationsOptions())
        pred, obs = [], []
        for qid in fold:
            if qid not in truth.index:
                continue
            assoc, _ = model.predict(data.codebook.get(qid))
            for j, item in enumerate(model.items):
                if np.isfinite(assoc[j]) and item in truth.index:
                    pred.append(assoc[j])
                    obs.append(truth.get(qid, item))
        q = association_quality(np.array(pred), np.array(obs))
        pred_all += pred
        obs_all += obs
        raw[f"fold {k}"] = {**q, "crossfit_known_items": model.quality, "encoder": model.report()["encoder"]}
        rows.append(
            [f"fold {k}", q["n_pairs"], _r(q["correlation"]), _r(q["sign_accuracy"]), q["n_strong"], _r(q["mae"])]
        )
    q = association_quality(np.array(pred_all), np.array(obs_all))
    raw["all"] = q
    rows.append(["all folds", q["n_pairs"], _r(q["correlation"]), _r(q["sign_accuracy"]), q["n_strong"], _r(q["mae"])])
    caption = (
        f"Item relations on held-out items ({where}): per fold the relations model is fitted without the "
        "fold's questions and predicts their association (normal-score correlation within countries) with every "
        "known item; compared with the association observed among the same training people. Sign accuracy "
        "where |observed| > 0.2."
    )
    cols = ["held-out items", "pairs", "correlation", "sign accuracy", "pairs |obs| > 0.2", "MAE"]
    print(f"\n{caption}\n" + " | ".join(cols))
    for row in rows:
        print(" | ".join(str(c) for c in row))
    return table(caption, cols, rows), raw


def _r(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


if __name__ == "__main__":
    main()
