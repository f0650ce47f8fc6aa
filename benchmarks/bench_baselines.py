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

A method may carry options: ``supervised(model=lightgbm)`` is the per-target LightGBM model
that was the default before the multi-output linear one (issue 28). When both run, each table
prints the CPU ratio of the two (``--reference`` / ``--default``). ``--generated-items 1000``
also runs every method on a GENERATED survey (1,000 items, ``--generated-people`` people, made in
code: latent traits, 2-11 options, nominal items, missing codes, items not asked in some
countries) -- the shape of an integrated ESS round or a GSS wave.

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
BASELINES = "majority,country-majority,demographic-majority,knn,supervised,supervised(model=lightgbm)"
REFERENCE = "supervised(model=lightgbm)"
DEFAULT = "supervised"


def parse_method(spec: str) -> tuple[str, dict[str, str]]:
    """``name`` or ``name(key=value;key=value)`` -> (name, options)."""
    name, _, rest = spec.partition("(")
    options = {}
    for part in rest.rstrip(")").split(";"):
        if part.strip():
            key, _, value = part.partition("=")
            options[key.strip()] = value.strip()
    return name.strip(), options


def generated_survey(n_items: int, n_people: int, seed: int = 0) -> Any:
    """A GENERATED survey of *n_items* items: 12 latent traits (shifted per country), each item
    loading on one or two of them; 2-11 options (ordinal, 10-point scales, nominal), 3%
    "don't know"/refusal codes (-1/-2), 2% of items not asked in a country (-4); profile: sex,
    age, education. No WVS ids, no country column name: any labelled survey looks like this."""
    import numpy as np
    import pandas as pd

    from valuesim.survey.codebook import Codebook, Question, QuestionKind, Section
    from valuesim.survey.dataset import SurveyData

    rng = np.random.default_rng(seed)
    countries = ["DEU", "FRA", "ESP", "ITA", "POL", "SWE", "NLD", "GBR", "HUN", "PRT", "CZE", "FIN"]
    country = rng.choice(countries, n_people)
    shift = {c: rng.normal(0, 0.6, 12) for c in countries}
    traits = rng.normal(0, 1, (n_people, 12)) + np.stack([shift[c] for c in country])
    sex = rng.integers(1, 3, n_people)
    age = rng.integers(18, 90, n_people)
    edu = np.clip(np.round(traits[:, 0] * 1.5 + 4 + rng.normal(0, 1, n_people)), 1, 8).astype(int)
    questions = [
        Question("sex", "Sex", "sex", QuestionKind.NOMINAL, "P", True, {1: "Male", 2: "Female"}),
        Question("age", "Age", "age", QuestionKind.NUMERIC, "P", True, value_range=(15, 100)),
        Question("edu", "Education", "education", QuestionKind.ORDINAL, "P", True, {i: str(i) for i in range(1, 9)}),
    ]
    cols: dict[str, Any] = {"sex": sex, "age": age, "edu": edu}
    kinds = rng.choice(["ord4", "ord5", "scale10", "bin", "nom3", "ord3"], n_items, p=[0.35, 0.1, 0.2, 0.2, 0.05, 0.1])
    for i, kind in enumerate(kinds):
        qid = f"v{i + 1:04d}"
        f = rng.choice(12, 2, replace=False)
        w = rng.normal(0, 1, 2) * np.array([1.0, rng.random() < 0.4])
        latent = traits[:, f] @ w + 0.3 * (age - 50) / 20 * rng.normal() + rng.normal(0, 1, n_people)
        k = {"ord4": 4, "ord5": 5, "scale10": 10, "bin": 2, "nom3": 3, "ord3": 3}[str(kind)]
        cuts = np.quantile(latent, np.sort(rng.uniform(0.05, 0.95, k - 1)))
        codes = np.searchsorted(cuts, latent) + 1
        if kind == "nom3":
            codes = rng.permutation(np.arange(1, 4))[codes - 1]
        codes[rng.random(n_people) < 0.03] = rng.choice([-1, -2])
        for c in countries:
            if rng.random() < 0.02:
                codes[country == c] = -4
        nominal = kind in ("bin", "nom3")
        kind_q = QuestionKind.NOMINAL if nominal else QuestionKind.SCALE if kind == "scale10" else QuestionKind.ORDINAL
        labels = {j: ("Mentioned" if j == 1 else "Not mentioned") if kind == "bin" else str(j) for j in range(1, k + 1)}
        questions.append(Question(qid, f"Generated item {i + 1}", f"item {i + 1}", kind_q, "S", False, labels))
        cols[qid] = codes
    book = Codebook(
        questions,
        [Section("P", "Profile"), Section("S", "Items")],
        name="generated",
        phrasing="generic",
        roles={"sex": "sex", "age": "age"},
        id_column=None,
        country_column=None,
    )
    frame = pd.DataFrame({q: np.asarray(v, dtype=np.int16) for q, v in cols.items()})
    frame.index = pd.Index([f"g{i}" for i in range(n_people)])
    frame.insert(0, "country", country)
    return SurveyData(frame=frame, codebook=book, source=f"generated:{n_items}", synthetic=True)


def fmt_ci(block: dict[str, Any]) -> str:
    lo, hi = block["ci95"]
    return f"{block['mean']:.3f} [{lo:.3f}, {hi:.3f}]"


def run_one(data: Any, name: str, n: int, args: argparse.Namespace, tag: str = "") -> dict[str, Any]:
    from valuesim.bench.protocol import ProtocolConfig
    from valuesim.bench.runner import RunConfig, run_benchmark
    from valuesim.methods.base import get_method

    cfg = RunConfig(
        protocol=ProtocolConfig(
            n_respondents=n,
            seed=args.seed,
            folds=args.folds,
            only_folds=tuple(int(f) for f in args.only_folds.split(",")) if args.only_folds else None,
        ),
        overwrite=True,  # time a full run, never a resumed one
        n_boot=args.n_boot,
        command=" ".join([sys.executable, *sys.argv]),
    )
    out = Path(args.out_root) / f"{tag}n{n}" / name.replace("(", "_").replace(")", "").replace(";", "_")
    base, options = parse_method(name)
    method = get_method(base, data.codebook, **options)
    t0, c0 = time.perf_counter(), time.process_time()
    result = run_benchmark(data, method, cfg, out, progress=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    m = result.metrics or {}
    manifest = json.loads((out / "manifest.json").read_text())
    return {
        "method": name,
        "data": tag.rstrip("_") or "dev",
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
    ratio = cpu_ratio(rows)
    if ratio is not None:
        print(
            f"CPU {REFERENCE} / {DEFAULT} = {ratio['ratio']:.1f}x "
            f"({ratio['reference_cpu']:.1f} s / {ratio['default_cpu']:.1f} s); "
            f"top-1 {ratio['default_top1']:.3f} vs {ratio['reference_top1']:.3f}"
        )


def cpu_ratio(rows: list[dict[str, Any]]) -> dict[str, float] | None:
    """CPU seconds of the reference model over the default one, when both ran."""
    by = {r["method"]: r for r in rows}
    if REFERENCE not in by or DEFAULT not in by:
        return None
    ref, new = by[REFERENCE], by[DEFAULT]
    return {
        "ratio": ref["cpu_seconds"] / max(new["cpu_seconds"], 1e-9),
        "reference_cpu": ref["cpu_seconds"],
        "default_cpu": new["cpu_seconds"],
        "reference_top1": ref["top1"]["mean"],
        "default_top1": new["top1"]["mean"],
    }


def folds_text(t: dict[str, Any]) -> str:
    only = t.get("only_folds")
    return f"{t['folds']} folds" + (f" (only fold {only} run)" if only else "")


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
            f"{data_desc}; {n:,} sampled respondents, seed {t['seed']}, {folds_text(t)}, "
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
        f"{data_desc}; {largest:,} sampled respondents, seed {t['seed']}, {folds_text(t)} "
        f"({part[0]['n_predictions']:,} predictions per method); all {len(part)} methods ran in "
        f"{t['wall']:.0f} s wall ({t['cpu']:.0f} s CPU) on {t['nproc']} cores at load {t['load']:.1f}.",
        ["method", "top-1 [95% CI]", "nMAE", "within-1"],
        [[r["method"], fmt_ci(r["top1"]), f"{r['nmae']['mean']:.3f}", f"{r['within1']['mean']:.3f}"] for r in part],
    )
    methods = list(dict.fromkeys(r["method"] for r in rows))
    by = {(r["method"], r["respondents"]): r for r in rows}
    tables["top1_by_size"] = table(
        f"{data_desc}; top-1 [95% CI] by sample size (seed {t['seed']}, {folds_text(t)}).",
        ["method", *[f"{n:,} respondents" for n in sizes]],
        [[m, *[fmt_ci(by[m, n]["top1"]) if (m, n) in by else None for n in sizes]] for m in methods],
    )
    return tables


def cost_table(rows: list[dict[str, Any]], totals: dict[str, dict[str, Any]], descs: dict[str, str]) -> dict[str, Any]:
    """What each method costs: CPU and wall seconds with the load, per data set and sample size,
    and the CPU ratio of the reference model over the default."""
    from _results import table

    out = []
    for key in totals:
        part = [r for r in rows if f"{r['data']}:{r['respondents']}" == key]
        ratio = cpu_ratio(part)
        for r in part:
            share = None
            if ratio is not None and r["method"] == DEFAULT:
                share = f"{ratio['ratio']:.1f}x less than {REFERENCE}"
            out.append(
                [
                    descs[r["data"]].split(":")[0],
                    f"{r['respondents']:,}",
                    r["method"],
                    f"{r['top1']['mean']:.3f}",
                    f"{r['cpu_seconds']:.1f}",
                    f"{r['wall_seconds']:.1f}",
                    f"{r['load_average']:.1f}",
                    share,
                ]
            )
    first = next(iter(totals.values()))
    return table(
        f"CPU seconds (all threads of the process: fit + predict + metrics, data loading excluded), wall seconds "
        f"and the 1-minute load average when each method finished; {first['folds']} folds"
        + (f" (only fold {first['only_folds']} run)" if first.get("only_folds") else "")
        + f", seed {first['seed']}, "
        f"{first['nproc']} cores. Data: " + "; ".join(descs.values()) + ".",
        ["data", "respondents", "method", "top-1", "CPU s", "wall s", "load", "CPU vs the per-target model"],
        out,
    )


def generated_table(rows: list[dict[str, Any]], desc: str) -> dict[str, Any]:
    from _results import table

    return table(
        f"{desc}; mean over folds ± sd over folds [95% bootstrap CI over respondents].",
        ["method", "respondents", "top-1", "nMAE", "log-loss", "CPU s", "wall s"],
        [
            [
                r["method"],
                f"{r['respondents']:,}",
                fmt_sd_ci(r["top1"]),
                fmt_sd_ci(r["nmae"]),
                f"{r['log_loss']:.3f}" if r["log_loss"] is not None else None,
                f"{r['cpu_seconds']:.1f}",
                f"{r['wall_seconds']:.1f}",
            ]
            for r in rows
        ],
    )


def run_sizes(
    data: Any, sizes: list[int], methods: list[str], args: argparse.Namespace, tag: str
) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    totals: dict[int, dict[str, Any]] = {}
    for n in sizes:
        part = []
        t_n, c_n = time.perf_counter(), time.process_time()
        for name in methods:
            row = run_one(data, name, n, args, tag)
            print(f"  {name}: {row['wall_seconds']:.1f} s wall, {row['cpu_seconds']:.1f} s CPU", flush=True)
            part.append(row)
        wall, cpu = time.perf_counter() - t_n, time.process_time() - c_n
        print_table(part, n, wall, cpu)
        totals[n] = {
            "wall": wall,
            "cpu": cpu,
            "load": os.getloadavg()[0],
            "nproc": os.cpu_count() or 1,
            "seed": args.seed,
            "folds": args.folds,
            "only_folds": args.only_folds,
        }
        rows.extend(part)
    return rows, totals


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--respondents", default="100,1000", help="comma-separated sample sizes ('' = skip)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--only-folds", default="", help="run only these folds, e.g. 0 (a quick look; '' = all)")
    ap.add_argument("--methods", default=BASELINES, help="comma-separated; options as name(key=value;key=value)")
    ap.add_argument("--generated-items", type=int, default=1000, help="items of the generated survey (0 = skip)")
    ap.add_argument("--generated-people", type=int, default=3000, help="people of the generated survey")
    ap.add_argument("--generated-respondents", default="100", help="sample sizes on the generated survey")
    ap.add_argument(
        "--generated-methods", default=f"knn,{DEFAULT},{REFERENCE}", help="methods run on the generated survey"
    )
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--out-root", default="/tmp/valuesim-bench-baselines")
    ap.add_argument("--results", default="baselines", help="write docs/results/NAME.json ('' = do not write)")
    args = ap.parse_args(argv)

    from _results import describe_data, save_results

    from valuesim.cli._data import load_data

    def sizes(text: str) -> list[int]:
        return [int(x) for x in text.split(",") if x.strip()]

    def names(text: str) -> list[str]:
        return [m.strip() for m in text.split(",") if m.strip()]

    all_rows: list[dict[str, Any]] = []
    cost_totals: dict[str, dict[str, Any]] = {}
    descs: dict[str, str] = {}
    tables: dict[str, Any] = {}
    data = None
    if sizes(args.respondents):
        t0 = time.perf_counter()
        data = load_data(args.data)  # a WVS file or folder, or synthetic[:N]
        print(f"loaded {len(data)} respondents from {args.data} in {time.perf_counter() - t0:.1f} s")
        rows, totals = run_sizes(data, sizes(args.respondents), names(args.methods), args, "")
        descs["dev"] = describe_data(data)["description"]
        tables.update(result_tables(rows, totals, descs["dev"]))
        all_rows.extend(rows)
        cost_totals.update({f"dev:{n}": t for n, t in totals.items()})
    if args.generated_items and sizes(args.generated_respondents):
        gen = generated_survey(args.generated_items, args.generated_people)
        print(f"generated a survey of {args.generated_items} items x {len(gen)} people")
        rows, totals = run_sizes(
            gen, sizes(args.generated_respondents), names(args.generated_methods), args, "generated_"
        )
        descs["generated"] = (
            f"GENERATED survey: {args.generated_items:,} items, {len(gen):,} people, 12 countries "
            "(made in code by benchmarks/bench_baselines.py)"
        )
        tables["generated"] = generated_table(rows, descs["generated"])
        all_rows.extend(rows)
        cost_totals.update({f"generated:{n}": t for n, t in totals.items()})
    summary = Path(args.out_root) / "summary.json"
    summary.parent.mkdir(parents=True, exist_ok=True)
    summary.write_text(json.dumps(all_rows, indent=1))
    print(f"\nsummary: {summary}")
    if args.results and all_rows:
        tables["cost"] = cost_table(all_rows, cost_totals, descs)
        raw = [{k: v for k, v in r.items() if k != "out"} for r in all_rows]
        save_results(
            args.results,
            tables,
            data=data if data is not None else descs.get("generated", ""),
            raw={"rows": raw, "totals": cost_totals},
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
