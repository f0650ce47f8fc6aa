"""Run directories for the report tests, made by the real runner on small synthetic data.

Session-wide (read-only for tests; copy a run directory before changing it): non-LLM
baselines, the ValueSim method with the mock model, a history sweep and a run on another
split. Everything is generated; no WVS data, no network.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from valuesim.bench.protocol import ProtocolConfig
from valuesim.bench.runner import RunConfig, run_benchmark
from valuesim.methods.base import get_method
from valuesim.survey import SurveyData, generate_synthetic


@pytest.fixture(scope="session")
def small_survey() -> SurveyData:
    return generate_synthetic(n=160, seed=5)


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private LLM cache for the session's mock-model runs."""
    cache = tmp_path_factory.mktemp("llm-cache")
    old = os.environ.get("VALUESIM_CACHE_DIR")
    os.environ["VALUESIM_CACHE_DIR"] = str(cache)
    try:
        yield cache
    finally:
        if old is None:
            os.environ.pop("VALUESIM_CACHE_DIR", None)
        else:
            os.environ["VALUESIM_CACHE_DIR"] = old


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that run LLM methods themselves use their own cache directory."""
    monkeypatch.setenv("VALUESIM_CACHE_DIR", str(tmp_path / "cache"))


def _protocol(**kw: object) -> RunConfig:
    # every fold, but at most 8 targets per unit: small runs with full-size histories
    base = {"n_respondents": 6, "seed": 42, "folds": 5, "max_targets": 8, "history_sizes": (0, 8, 16)}
    base.update(kw)
    return RunConfig(protocol=ProtocolConfig(**base), command="pytest", n_boot=200)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def report_runs(
    small_survey: SurveyData, session_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """name -> run directory: majority, knn, valuesim (mock), knn-sweep, majority-sweep, majority-seed7."""
    root = tmp_path_factory.mktemp("runs")
    specs = {
        "majority": ("majority", {}, {}),
        "knn": ("knn", {}, {}),
        "valuesim": ("valuesim", {"model": "mock"}, {}),
        "knn-sweep": ("knn", {}, {"history_sweep": True}),
        "majority-sweep": ("majority", {}, {"history_sweep": True}),
        "majority-seed7": ("majority", {}, {"seed": 7}),
    }
    out = {}
    for name, (method, options, proto) in specs.items():
        m = get_method(method, small_survey.codebook, **options)
        run_benchmark(small_survey, m, _protocol(**proto), root / name, progress=False)
        out[name] = root / name
    return out
