"""Where `supervised` spends its time, and what each cheaper variant keeps (issue 28).

On one fold of the WVS-7 dev benchmark split (100 respondents, seed 42, 5 folds: fold 0's
targets; training = the runner's training people), each variant is fitted and its models for
the fold's history set are trained under ``cProfile``; the profile of the per-target LightGBM
model is split into binning the training matrix (``lightgbm.Dataset`` construction), boosting
(``Booster.update``) and the rest. Each variant then predicts fold 0's targets for
``--people`` respondents outside both the sample and the training data (their history: every
other item, as in the benchmark), so accuracy is compared on the same predictions.

    python benchmarks/bench_supervised_profile.py            # writes docs/results/supervised_profile.json
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _results

VARIANTS: dict[str, dict[str, Any]] = {
    "lightgbm (the model before)": {"model": "lightgbm", "n_jobs": 1},
    "lightgbm, 30 most associated inputs": {"model": "lightgbm", "features": 30, "n_jobs": 1},
    "linear (default)": {},
    "linear, history=any": {"history": "any"},
}


def profile_share(prof: cProfile.Profile) -> dict[str, float]:
    """Cumulative seconds in LightGBM's binning and boosting (0 when not called)."""
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    out = {"binning": 0.0, "boosting": 0.0, "solve": 0.0}
    for (file, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.items():
        if func == "construct" and file.endswith("lightgbm/basic.py"):
            out["binning"] = max(out["binning"], ct)
        if func == "update" and file.endswith("lightgbm/basic.py"):
            out["boosting"] = max(out["boosting"], ct)
        if func == "_train_linear":
            out["solve"] = max(out["solve"], ct)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(_results.DEV_DATA))
    ap.add_argument("--people", type=int, default=600, help="held-out respondents predicted per variant")
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--results", default="supervised_profile")
    args = ap.parse_args(argv)

    import numpy as np

    from valuesim.bench.config import RunConfig
    from valuesim.bench.plan import plan_split, training_data
    from valuesim.bench.protocol import ProtocolConfig
    from valuesim.cli._data import load_data
    from valuesim.methods.base import Task, get_method

    data = load_data(args.data)
    cfg = RunConfig(protocol=ProtocolConfig(n_respondents=100, seed=42, folds=5))
    split = plan_split(data, cfg, None)
    train = training_data(data, split, cfg)
    targets = tuple(split.folds[args.fold])
    profile = data.codebook.profile()
    history = [q for q in data.question_ids if q not in set(targets) and q not in set(profile)]
    used = set(train.ids) | set(split.respondents)
    outside = [i for i in data.ids if i not in used]
    people = np.random.default_rng(1).choice(outside, size=min(args.people, len(outside)), replace=False)
    rows = []
    for label, options in VARIANTS.items():
        m = get_method("supervised", data.codebook, **options)
        m.fit(train)
        first = data.respondent(str(people[0]))
        prof = cProfile.Profile()
        c0, t0 = time.process_time(), time.perf_counter()
        prof.enable()
        m.predict(Task(first.restricted(history + profile), targets))
        prof.disable()
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        parts = profile_share(prof)
        hit = n = 0
        for rid in people:
            person = data.respondent(str(rid))
            asked = tuple(q for q in targets if q in person.answers)
            if asked:
                for p in m.predict(Task(person.restricted(history + profile), asked)):
                    hit += p.prediction == person.answers[p.question]
                    n += 1
        n_models = len(m._models)  # type: ignore[attr-defined]
        print(f"{label}: {cpu:.1f} s CPU ({wall:.1f} s wall) for {n_models} targets; top-1 {hit / n:.4f} on {n:,}")
        rows.append({"variant": label, "cpu": cpu, "wall": wall, "models": n_models, "top1": hit / n, "n": n, **parts})
    base = rows[0]
    from _results import save_results, table

    caption = (
        f"WVS-7 dev subset; training the models of fold {args.fold}'s {len(targets)} targets for one history set "
        f"(100-respondent split, seed 42, {len(train):,} training people), profiled; top-1 on the same "
        f"{base['n']:,} predictions for {len(people)} held-out respondents. CPU: seconds of this process "
        "(profiling adds overhead to all variants alike); binning = lightgbm.Dataset construction; boosting = "
        "Booster.update; solve = the ridge solves (all in CPU-share of the wall time measured by cProfile)."
    )
    save_results(
        args.results,
        {
            "profile": table(
                caption,
                ["variant", "CPU s", "x less CPU", "binning s", "boosting s", "solve s", "top-1"],
                [
                    [
                        r["variant"],
                        f"{r['cpu']:.1f}",
                        f"{base['cpu'] / max(r['cpu'], 1e-9):.1f}",
                        f"{r['binning']:.1f}" if r["binning"] else None,
                        f"{r['boosting']:.1f}" if r["boosting"] else None,
                        f"{r['solve']:.1f}" if r["solve"] else None,
                        f"{r['top1']:.4f}",
                    ]
                    for r in rows
                ],
            )
        },
        data=data,
        raw={"rows": rows},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
