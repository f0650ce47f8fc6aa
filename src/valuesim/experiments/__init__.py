"""Experiments stage: many benchmark runs and their report as one resumable job.

:mod:`~valuesim.experiments.experiment` runs a list of run specifications (the ValueSim
paper's main table, ablations and history curve: ``PAPER_EXPERIMENT``) with the benchmark
runner and then writes the report; :mod:`~valuesim.experiments.demo` is a small instance of
it on synthetic people (``valuesim demo``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["run_demo", "run_experiment"]


def __getattr__(name: str) -> Any:  # lazy: the report stage imports matplotlib
    if name == "run_experiment":
        from valuesim.experiments.experiment import run_experiment

        return run_experiment
    if name == "run_demo":
        from valuesim.experiments.demo import run_demo

        return run_demo
    raise AttributeError(f"module 'valuesim.experiments' has no attribute {name!r}")
