"""Run directories for the viewer's tests, made by the real runner on small synthetic data.

The survey is ``generate_synthetic(n=120, seed=0)``, exactly what ``--data synthetic:120``
loads, so a server started from the command line sees the same people. Session-wide and
read-only: copy a run directory before changing it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from view_testlib import HOSTILE, N_PEOPLE

from valuesim.bench.protocol import ProtocolConfig
from valuesim.bench.runner import RunConfig, run_benchmark
from valuesim.methods.base import get_method
from valuesim.survey import SurveyData, generate_synthetic


@pytest.fixture(scope="session")
def view_survey() -> SurveyData:
    return generate_synthetic(n=N_PEOPLE, seed=0)


@pytest.fixture(scope="session")
def view_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    cache = tmp_path_factory.mktemp("view-llm-cache")
    old = os.environ.get("VALUESIM_CACHE_DIR")
    os.environ["VALUESIM_CACHE_DIR"] = str(cache)
    try:
        yield cache
    finally:
        if old is None:
            os.environ.pop("VALUESIM_CACHE_DIR", None)
        else:
            os.environ["VALUESIM_CACHE_DIR"] = old


def _config(**kw: object) -> RunConfig:
    base = {"n_respondents": 6, "seed": 42, "folds": 5, "max_targets": 6}
    base.update(kw)
    return RunConfig(protocol=ProtocolConfig(**base), command="pytest", n_boot=100)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def view_runs(view_survey: SurveyData, view_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """name -> run directory: majority, knn (same split), valuesim with the mock model and
    rationales (fold 0 only: another split), and a copy of majority with a hostile name whose
    country labels are hostile too."""
    root = tmp_path_factory.mktemp("view-runs")
    specs = {
        "majority": ("majority", {}, {}),
        "knn": ("knn", {}, {}),
        "valuesim": ("valuesim", {"model": "mock", "rationale": True}, {"only_folds": (0,), "max_targets": 3}),
    }
    out = {}
    for name, (method, options, proto) in specs.items():
        m = get_method(method, view_survey.codebook, **options)
        run_benchmark(view_survey, m, _config(**proto), root / name, progress=False)
        out[name] = root / name
    hostile = root / HOSTILE
    shutil.copytree(out["majority"], hostile)
    lines = (hostile / "predictions.jsonl").read_text("utf-8").splitlines()
    rows = [json.loads(x) for x in lines]
    for r in rows:
        r["country"] = HOSTILE
    (hostile / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    (hostile / "metrics.json").unlink()  # recomputed from the predictions: the hostile label reaches by_country
    out["hostile"] = hostile
    return out
