"""Report stage: HTML / Markdown reports of benchmark runs, the paper's experiments, the demo.

>>> from valuesim.report import build_report
>>> build_report(["runs/knn", "runs/valuesim"], "report/", reference="knn").html
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_report", "load_run", "load_runs", "run_demo", "run_experiment"]

_EXPORTS = {
    "build_report": "valuesim.report.build",
    "load_run": "valuesim.report.load",
    "load_runs": "valuesim.report.load",
    "run_experiment": "valuesim.report.experiment",
    "run_demo": "valuesim.report.demo",
}


def __getattr__(name: str) -> Any:  # lazy: importing matplotlib is slow
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'valuesim.report' has no attribute {name!r}")
