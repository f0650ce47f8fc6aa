"""Write benchmark results as JSON under ``docs/results/`` (numbers in the docs come from code).

Every benchmark script ends with one call::

    from _results import save_results, table

    save_results(
        "baselines",
        {"n1000": table("Non-LLM baselines, 1,000 respondents ...", ["method", "top-1"], rows)},
        data=survey,                     # a SurveyData, or a plain description string
    )

``docs/results/<name>.json`` then holds the tables plus where they came from: the command,
the git commit (and whether the tree had uncommitted changes), a description and fingerprint
of the data, the machine's load (``os.getloadavg``, ``nproc``) and a UTC timestamp.
``python tools/update_docs.py`` renders the tables into every ``<!-- results:NAME/TABLE -->``
block of README.md and docs/*.md; ``--check`` (run by the test suite) fails when a block and
its JSON disagree. A table cell is a string (formatted by the script: it decides the
precision), an int, a float or None; keep raw numbers for machines under ``raw``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from valuesim._redact import redact_text

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "docs" / "results"
#: Folder of the real WVS-7 development subset (benchmarks only; never in tests or the repository).
DEV_DATA = REPO.parent / "shared" / "wvs7" / "dev"

Cell = str | int | float | None


def table(caption: str, columns: list[str], rows: list[list[Cell]]) -> dict[str, Any]:
    """One results table: ``{"caption", "columns", "rows"}`` (every row as long as ``columns``)."""
    for i, row in enumerate(rows):
        if len(row) != len(columns):
            raise ValueError(f"row {i} has {len(row)} cells, the table has {len(columns)} columns: {row!r}")
        for cell in row:
            if cell is not None and not isinstance(cell, str | int | float):
                raise TypeError(f"row {i}: cell {cell!r} is a {type(cell).__name__}; use str, int, float or None")
    return {"caption": caption, "columns": list(columns), "rows": [list(r) for r in rows]}


def describe_data(data: Any, label: str | None = None) -> dict[str, Any]:
    """Description + fingerprint of the data a benchmark ran on.

    ``data`` is a loaded ``SurveyData`` (described as e.g. "WVS-7 dev subset: 56 countries,
    72,184 respondents") or a string written by the caller (e.g. "SIMULATED: mock model").
    """
    if isinstance(data, str):
        return {"description": data, "fingerprint": None, "synthetic": "SYNTHETIC" in data or "SIMULATED" in data}
    if isinstance(data, dict):
        return {"fingerprint": None, "synthetic": False, **data}
    source = str(getattr(data, "source", "") or "")
    synthetic = bool(getattr(data, "synthetic", False))
    if label is None:
        if synthetic:
            label = "SYNTHETIC"
        elif Path(source).resolve() == DEV_DATA.resolve() or source.rstrip("/").endswith("wvs7/dev"):
            label = "WVS-7 dev subset"
        else:
            label = f"{getattr(data, 'version', '') or 'survey'} ({Path(source).name or 'in memory'})"
    n_countries = int(data.frame["country"].nunique()) if "country" in data.frame.columns else 0
    return {
        "description": f"{label}: {n_countries} countries, {len(data):,} respondents",
        "fingerprint": data.fingerprint(),
        "synthetic": synthetic,
        "source": source,
        "respondents": len(data),
        "countries": n_countries,
    }


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None, numpy scalars and arrays -> Python, tuples -> lists, paths -> str."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist") and not isinstance(value, str):  # numpy scalar or array
        return _clean(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def git_state() -> dict[str, Any]:
    """Commit of this checkout and whether it had uncommitted changes (None outside git)."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    sha = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no", "--", "src", "benchmarks")
    return {"commit": sha, "dirty": bool(status) if status is not None else None}


#: The checkout's state when the benchmark started (import time): a long run records the code
#: it ran, not whatever the checkout holds when it finishes.
START_STATE = git_state()


def machine_state() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {
        "loadavg": [round(x, 2) for x in load],
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def default_command() -> str:
    """The command that ran this script, relative to the repository (``python benchmarks/x.py ...``)."""
    script = Path(sys.argv[0])
    try:
        script = script.resolve().relative_to(REPO)
    except ValueError:
        pass
    return shlex.join(["python", str(script), *sys.argv[1:]])


def carried_over(previous: dict[str, Any], name: str) -> dict[str, Any]:
    """Table ``name`` of an earlier results file, kept by a run that did not re-measure it, with
    the provenance of the run that did (its command, commit and date), so its source note stays true."""
    tab = dict(previous["tables"][name])
    tab.setdefault(
        "source",
        {k: previous.get(k) for k in ("command", "commit", "dirty", "created")},
    )
    return tab


def save_results(
    name: str,
    tables: dict[str, dict[str, Any]],
    *,
    command: str | None = None,
    data: Any,
    raw: Any = None,
    notes: str | None = None,
    out_dir: Path | None = None,
) -> Path:
    """Write ``<out_dir or docs/results>/<name>.json`` and return its path.

    ``tables`` maps a table name (the ``TABLE`` in ``<!-- results:NAME/TABLE -->``) to
    :func:`table` output. ``raw`` holds whatever machine-readable detail the script wants to
    keep (per-method metrics, timings); it is not rendered.
    """
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"results name {name!r}: use letters, digits, '-' and '_'")
    for key, tab in tables.items():
        if not key.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"table name {key!r}: use letters, digits, '-' and '_'")
        table(tab["caption"], tab["columns"], tab["rows"])  # validates the shape
    doc: dict[str, Any] = {
        "name": name,
        "command": redact_text(command or default_command()),  # no credentials of a --base-url
        **START_STATE,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data": describe_data(data),
        "machine": machine_state(),
        "notes": notes,
        "tables": tables,
        "raw": raw,
    }
    doc = _clean(doc)
    out = (out_dir or RESULTS_DIR) / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n")
    tmp.replace(out)
    print(
        f"results: {out.relative_to(REPO) if out.is_relative_to(REPO) else out}  (render: python tools/update_docs.py)"
    )
    return out
