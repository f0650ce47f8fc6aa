"""Report stage: HTML / Markdown reports of benchmark runs.

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
    # the experiments run benchmarks and then this stage's report: they live in valuesim.experiments
    "run_experiment": "valuesim.experiments.experiment",
    "run_demo": "valuesim.experiments.demo",
}


def __getattr__(name: str) -> Any:  # lazy: importing matplotlib is slow
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'valuesim.report' has no attribute {name!r}")
