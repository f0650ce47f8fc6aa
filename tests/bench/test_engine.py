"""The run engine on a plan and a finisher of its own: what bench and simulate share lives there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bench_data import make_survey

from valuesim.bench.config import RunConfig
from valuesim.bench.engine import Finished, RunPlan, run_plan
from valuesim.bench.plan import plan_split, training_data
from valuesim.bench.protocol import ProtocolConfig
from valuesim.errors import RunLockedError
from valuesim.methods import get_method
from valuesim.survey.dataset import SurveyData


class CountingPlan(RunPlan):
    """A kind of run the engine does not know: the benchmark's split, its own provenance."""

    kind = "counting"
    learns_from = "people outside the sample"

    def __init__(self, data: SurveyData, cfg: RunConfig) -> None:
        super().__init__(data, plan_split(data, cfg))
        self.cfg = cfg
        self.trainings = 0

    def training(self) -> SurveyData:
        self.trainings += 1
        return training_data(self.data, self.split, self.cfg)

    def train_source(self, method: Any) -> str:
        return "counted"

    def manifest(self, manifest: dict[str, Any]) -> dict[str, Any]:
        manifest["counting"] = True
        return manifest


def count(done: Finished) -> tuple[dict[str, Any], int]:
    """A finisher: the number of rows, and how many people the method learned from."""
    return {"rows": len(done.rows), "trained_on": len(done.training())}, len(done.rows)


def test_engine_runs_resumes_and_finishes_a_plan_of_its_own(tmp_path: Path) -> None:
    data = make_survey(60, seed=3)
    cfg = RunConfig.create(protocol=ProtocolConfig.create(n_respondents=4, folds=2, min_valid=0), n_boot=10)
    plan = CountingPlan(data, cfg)
    method = get_method("majority", data.codebook)
    lines: list[str] = []
    first = run_plan(plan, method, count, tmp_path / "run", cfg=cfg, progress=False, log=lines.append)
    n = plan.split.n_targets
    assert first.value == n and first.n_computed == len(plan.split.units) and first.n_resumed == 0
    assert plan.trainings == 1 and any("fitting majority on" in x and "people outside the sample" in x for x in lines)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["kind"] == "counting" and manifest["counting"] is True and manifest["status"] == "complete"
    assert manifest["config"]["train"]["source"] == "counted" and manifest["config"]["train"]["n_respondents"] > 0
    recorded = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert recorded["rows"] == n and recorded["trained_on"] == manifest["config"]["train"]["n_respondents"]
    assert sum(1 for _ in (tmp_path / "run" / "predictions.jsonl").open()) == n

    again = run_plan(plan, method, count, tmp_path / "run", cfg=cfg, progress=False)
    # resumed: nothing computed or fitted, the finisher still sees every row (its training data rebuilt)
    assert again.value == n and again.n_computed == 0 and again.n_resumed == len(plan.split.units)
    assert plan.trainings == 2 and len(json.loads((tmp_path / "run" / "manifest.json").read_text())["sessions"]) == 2


def test_engine_holds_the_run_directory_lock_while_it_finishes(tmp_path: Path) -> None:
    data = make_survey(40, seed=4)
    cfg = RunConfig.create(protocol=ProtocolConfig.create(n_respondents=2, folds=2, min_valid=0), n_boot=10)
    plan = CountingPlan(data, cfg)
    method = get_method("majority", data.codebook)

    def second_writer(done: Finished) -> tuple[dict[str, Any], None]:
        with pytest.raises(RunLockedError):  # the finisher runs under the lock: a second run is refused
            run_plan(CountingPlan(data, cfg), method, count, tmp_path / "run", cfg=cfg, progress=False)
        return {}, None

    run_plan(plan, method, second_writer, tmp_path / "run", cfg=cfg, progress=False)
