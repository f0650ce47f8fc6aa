"""Does a cheaper fit for a single `valuesim ask` lose accuracy? Two finished benchmark runs of the
same split, paired prediction by prediction.

`valuesim ask` fits a method for one person; a method may declare cheaper ``single_person_options``
(item-transfer: ``calibration_people=200`` instead of 600). This script compares a run made with
those options against one made with the defaults, on the same respondents, folds and targets
(top-1, nMAE, within-1: difference with a 95% bootstrap CI over respondents and a permutation p),
and writes docs/results/NAME.json::

    valuesim bench --data ../shared/wvs7/dev --protocol new-questions --method item-transfer \\
        --respondents 100 --seed 42 --out /tmp/it-default
    valuesim bench --data ../shared/wvs7/dev --protocol new-questions --method item-transfer \\
        -o calibration_people=200 --respondents 100 --seed 42 --out /tmp/it-single
    python benchmarks/bench_single_person.py --cheap /tmp/it-single --default /tmp/it-default
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import DEV_DATA, save_results, table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cheap", required=True, help="run directory made with the single-person options")
    ap.add_argument("--default", required=True, help="run directory of the same split with the defaults")
    ap.add_argument("--results", default="ask_item_transfer", help="docs/results/NAME.json")
    args = ap.parse_args(argv)

    from valuesim.bench.compare import paired_comparison
    from valuesim.bench.rundir import open_run

    cheap, default = open_run(args.cheap), open_run(args.default)
    if cheap.split.folds != default.split.folds or cheap.split.respondents != default.split.respondents:
        raise SystemExit("the two runs were made on different splits: use the same --respondents, --seed, protocol")
    name = cheap.manifest.get("config", {}).get("method", {})
    differs = {k: v for k, v in name.items() if default.manifest["config"]["method"].get(k) != v}
    a, b = cheap.predictions(), default.predictions()
    rows = []
    for metric in ("top1", "nmae", "within1"):
        p = paired_comparison(a, b, metric, n_boot=1000, n_perm=2000, seed=0)
        scale, unit, fmt = (1, "", "{:+.4f}") if metric == "nmae" else (100, " pt", "{:+.2f}")
        rows.append(
            [
                metric,
                f"{(cheap.metrics or {})[metric]['mean']:.3f}",
                f"{(default.metrics or {})[metric]['mean']:.3f}",
                fmt.format(p.diff * scale) + unit,
                f"[{fmt.format(p.ci95[0] * scale)}, {fmt.format(p.ci95[1] * scale)}]",
                f"{p.p_permutation:.3f}",
            ]
        )
    proto = cheap.split.protocol
    caption = (
        f"{name.get('name')} with {differs} (a single `valuesim ask`'s fit) minus the defaults, paired on the "
        f"same {len(a):,} predictions: protocol {proto.get('name')}, {proto.get('n_respondents')} respondents, "
        f"{proto.get('folds')} folds, seed {proto.get('seed')}; 95% bootstrap CI over respondents, permutation p."
    )
    cols = ["metric", "single-person options", "defaults", "difference", "95% CI", "p"]
    print(caption)
    for row in rows:
        print(" | ".join(row))
    data = cheap.manifest.get("data") or {}
    where = "WVS-7 dev subset" if Path(str(data.get("path", ""))).resolve() == DEV_DATA.resolve() else data.get("path")
    described = {
        "description": f"{where}: {data.get('n_rows', 0):,} respondents",
        "fingerprint": data.get("fingerprint"),
    }
    save_results(args.results, {"paired": table(caption, cols, rows)}, data=described)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
