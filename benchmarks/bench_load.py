"""Time and memory of `load_survey` on a file the size of the full WVS-7 cross-national file.

The full file (v6.0: 97,220 respondents x ~613 columns) cannot be shipped, so this script builds
a stand-in from the development copy in ../shared/wvs7/dev/ (56 per-country files, 72,184 rows):
all rows, plus a random sample of them repeated until there are --rows rows (default 97,220),
written without the index column, as the official file is. Each variant is then loaded in a
fresh Python process, which reports wall time (imports included) and peak resident memory
(VmHWM).

    python benchmarks/bench_load.py                      # csv, ';'+BOM csv, .gz, the dev directory
    python benchmarks/bench_load.py --formats csv,sav,dta,parquet --keep /tmp/wvs-bench

The table goes to docs/results/load.json (rendered into docs/data.md by
``python tools/update_docs.py``; ``--results ''`` skips it).

Requirements from issue 3: < 20 s and < 4 GiB for the full file. The script exits non-zero when
a variant misses them. It also prints what the dev directory loads to (expected: 72,184
respondents in 56 countries).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _results  # noqa: F401  (records the commit now, at start)

DEV = Path(__file__).resolve().parents[1].parent / "shared" / "wvs7" / "dev"
FULL_ROWS = 97_220
LIMIT_SECONDS = 20.0
LIMIT_GIB = 4.0


def _child(path: str, countries: str | None) -> None:
    """Run inside a fresh interpreter: load, then print one JSON line."""
    import resource

    start = time.perf_counter()
    from valuesim.survey import load_survey

    data = load_survey(path, countries=countries.split(",") if countries else None)
    seconds = time.perf_counter() - start
    peak_kib = _peak_rss_kib() or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": round(seconds, 2),
                "peak_mib": round(peak_kib / 1024, 1),
                "respondents": len(data),
                "countries": len(data.country_counts()),
                "questions": len(data.question_ids),
                "version": data.version,
                "ignored_columns": len(data.report.ignored_columns),
                "out_of_range_questions": sorted(data.report.out_of_range),
            }
        )
    )


LABELS = {
    "csv": "CSV, comma",
    "semicolon": "CSV, `;` + BOM",
    "gz": "CSV, gzip",
    "parquet": "parquet",
    "dta": "Stata `.dta`",
    "sav": "SPSS `.sav`",
}


def _gib(r: dict[str, Any]) -> str:
    return f"{float(r['peak_mib']) / 1024:.2f} GiB"


def _peak_rss_kib() -> int | None:
    """This process's peak resident set size (Linux VmHWM). ru_maxrss is not used first because
    Linux carries it over from the parent across fork+exec, which would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _measure(path: Path, countries: str | None = None) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", str(path)] + (["--countries", countries] if countries else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def build_full(dev: Path, rows: int, seed: int = 0) -> Any:
    """The dev files concatenated, padded with a resample to *rows* rows (a pandas DataFrame)."""
    import pandas as pd

    frames = [pd.read_csv(f, low_memory=False) for f in sorted(dev.glob("*.csv.gz"))]
    full = pd.concat(frames, ignore_index=True)
    full = full.drop(columns=[c for c in full.columns if c.startswith("Unnamed")])
    for c in full.columns[full.dtypes == object]:  # noqa: E721  # mixed text/number columns across countries
        full[c] = full[c].astype("string")
    if rows > len(full):
        extra = full.sample(n=rows - len(full), replace=True, random_state=seed)
        full = pd.concat([full, extra], ignore_index=True)
    return full


def write_variants(full: Any, out: Path, formats: list[str]) -> dict[str, Path]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pa.Table.from_pandas(full, preserve_index=False)
    paths: dict[str, Path] = {}
    for fmt in formats:
        t0 = time.perf_counter()
        if fmt == "csv":
            p = out / "WVS_Cross-National_Wave_7_csv_v6_0.csv"
            pacsv.write_csv(table, p)
        elif fmt == "semicolon":
            p = out / "WVS_Cross-National_Wave_7_semicolon_bom.csv"
            with p.open("wb") as fh:
                fh.write("\ufeff".encode())
                pacsv.write_csv(table, fh, pacsv.WriteOptions(delimiter=";"))
        elif fmt == "gz":
            p = out / "WVS_Cross-National_Wave_7_csv_v6_0.csv.gz"
            with gzip.open(p, "wb", compresslevel=1) as fh:
                pacsv.write_csv(table, fh)
        elif fmt == "parquet":
            import pyarrow.parquet as pq

            p = out / "WVS_Cross-National_Wave_7.parquet"
            pq.write_table(table, p)
        elif fmt in ("sav", "dta"):
            import pyreadstat

            p = out / f"WVS_Cross-National_Wave_7.{fmt}"
            numeric = full.select_dtypes("number")
            (pyreadstat.write_sav if fmt == "sav" else pyreadstat.write_dta)(pd_with_text(full, numeric), str(p))
        else:
            raise SystemExit(f"unknown format {fmt!r}")
        paths[fmt] = p
        size = p.stat().st_size / 2**20
        print(f"  wrote {p.name}: {size:,.0f} MiB in {time.perf_counter() - t0:.1f} s", flush=True)
    return paths


def pd_with_text(full: Any, numeric: Any) -> Any:
    """Numeric columns plus the three text meta columns (SPSS/Stata need simple types)."""
    keep = [c for c in ("version", "B_COUNTRY_ALPHA") if c in full.columns]
    out = numeric.copy()
    for c in keep:
        out[c] = full[c].astype(str)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--countries", help=argparse.SUPPRESS)
    ap.add_argument("--dev", type=Path, default=DEV, help="directory of dev files (default: ../shared/wvs7/dev)")
    ap.add_argument("--rows", type=int, default=FULL_ROWS, help="rows of the simulated full file")
    ap.add_argument("--formats", default="csv,semicolon,gz", help="csv,semicolon,gz,parquet,sav,dta")
    ap.add_argument("--keep", type=Path, help="write the simulated files here and keep them")
    ap.add_argument("--results", default="load", help="write docs/results/NAME.json ('' = do not write)")
    args = ap.parse_args()
    if args.child:
        _child(args.child, args.countries)
        return 0
    if not args.dev.is_dir():
        print(f"no dev data at {args.dev}; pass --dev", file=sys.stderr)
        return 2

    failures = 0
    rows: list[list[str | int | float | None]] = []
    print(f"dev directory {args.dev}:", flush=True)
    r = _measure(args.dev)
    dev_result = r
    n_files = len(list(args.dev.glob("*.csv.gz")))
    print(
        f"  {r['respondents']:,} respondents in {r['countries']} countries, {r['questions']} questions, "
        f"version {r['version']}: {r['seconds']} s, peak {r['peak_mib']:,} MiB",
        flush=True,
    )
    if r["out_of_range_questions"]:
        print(f"  out-of-range codes reported for: {', '.join(r['out_of_range_questions'])}")

    print(f"building a {args.rows:,}-row stand-in for the full file ...", flush=True)
    full = build_full(args.dev, args.rows)
    print(f"  {len(full):,} rows x {full.shape[1]} columns", flush=True)
    with tempfile.TemporaryDirectory(prefix="valuesim-bench-") as tmp:
        out = args.keep or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        paths = write_variants(full, out, [f.strip() for f in args.formats.split(",") if f.strip()])
        shape = f"{len(full):,} rows x {full.shape[1]} columns"
        del full
        for fmt, path in paths.items():
            r = _measure(path)
            size = path.stat().st_size / 2**20
            rows.append([f"{LABELS.get(fmt, fmt)} ({size:,.0f} MiB)", f"{r['seconds']:.1f} s", _gib(r)])
            ok = r["seconds"] < LIMIT_SECONDS and r["peak_mib"] < LIMIT_GIB * 1024
            failures += not ok
            print(
                f"{fmt:>9}: {r['respondents']:,} respondents, {r['countries']} countries, "
                f"{r['seconds']} s, peak RSS {r['peak_mib']:,} MiB  [{'ok' if ok else 'TOO SLOW/BIG'}]",
                flush=True,
            )
        if "csv" in paths:
            r = _measure(paths["csv"], countries="DEU")
            rows.append(["CSV, `--country DEU`", f"{r['seconds']:.1f} s", _gib(r)])
            print(f" csv, DEU: {r['respondents']:,} respondents, {r['seconds']} s, peak RSS {r['peak_mib']:,} MiB")
    print(f"limits: < {LIMIT_SECONDS:.0f} s and < {LIMIT_GIB:.0f} GiB per load; cores: {os.cpu_count()}")
    d = dev_result
    rows.append(
        [f"folder {args.dev.name}/ ({n_files} `.csv.gz`, {d['respondents']:,} rows)", f"{d['seconds']:.1f} s", _gib(d)]
    )
    if args.results:
        from _results import machine_state, save_results, table

        load = machine_state()["loadavg"][0]
        caption = (
            f"Input: a stand-in for the full cross-national file built from the WVS-7 dev subset "
            f"({d['countries']} countries, {d['respondents']:,} respondents) plus a resample: {shape}. "
            f"Each load in a fresh process, wall time including Python start and imports, peak RSS (VmHWM); "
            f"{os.cpu_count()} cores at load {load:.1f}. Requirement: < {LIMIT_SECONDS:.0f} s and < {LIMIT_GIB:.0f} GiB."
        )
        save_results(
            args.results,
            {"formats": table(caption, ["input", "load time", "peak RSS"], rows)},
            data={
                "description": f"WVS-7 dev subset: {d['countries']} countries, {d['respondents']:,} respondents "
                f"(padded to {args.rows:,} rows)",
                "source": str(args.dev),
            },
            raw={"dev": d},
        )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
