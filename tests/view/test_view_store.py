"""The viewer's run loader gives the report loader's numbers, faster, and follows growing runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from view_testlib import make_partial

from valuesim.bench import rundir
from valuesim.errors import DataError
from valuesim.report.load import load_run
from valuesim.survey import SurveyData
from valuesim.view.store import RunStore, slug

COLUMNS = ["respondent", "question", "fold", "condition", "truth", "top1", "within1", "nmae", "rank_pred"]


def _same(view_frame, report_frame) -> None:  # type: ignore[no-untyped-def]
    key = ["respondent", "fold", "condition", "question"]
    a = view_frame[COLUMNS].sort_values(key).reset_index(drop=True)
    b = report_frame[COLUMNS].sort_values(key).reset_index(drop=True)
    assert len(a) == len(b)
    for c in COLUMNS:
        x, y = a[c].to_numpy(), b[c].to_numpy()
        if x.dtype.kind == "f":
            assert np.allclose(x, y, equal_nan=True), c
        else:
            assert (x == y).all(), c


@pytest.mark.parametrize("name", ["majority", "valuesim"])
def test_finished_runs_match_the_report_loader(
    view_runs: dict[str, Path], view_survey: SurveyData, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VALUESIM_CACHE_DIR", str(tmp_path / "cache"))  # an empty conversion cache
    cb = view_survey.codebook
    store = RunStore([view_runs[name]], cb)
    run = store.runs[0]
    ref = load_run(view_runs[name], cb)
    assert run.complete and run.n_done == ref.n_predictions == run.n_targets
    _same(run.pred, ref.predictions)
    assert run.data is not None and run.data.metrics == ref.metrics and run.data.split_hash == ref.split_hash
    # the second start reads the cached conversion: same rows
    store.flush()
    again = RunStore([view_runs[name]], cb).runs[0]
    assert again.from_cache and not run.from_cache
    _same(again.pred, ref.predictions)
    # probabilities and module answers come from the file, row by row
    rows = run.rows_for_respondent(str(run.pred["respondent"].iloc[0]))
    extras = run.extras(rows)
    assert len(extras) == len(rows) and all(p is not None for p, _ in extras)
    if name == "valuesim":
        assert all("modules" in m for _, m in extras)


def test_an_unfinished_run_keeps_finished_units_only(
    view_runs: dict[str, Path], view_survey: SurveyData, tmp_path: Path
) -> None:
    run_dir = tmp_path / "partial"
    make_partial(view_runs["knn"], run_dir, keep=0.55)  # a unit cut in the middle and a torn line
    lines = (run_dir / "predictions.jsonl").read_text("utf-8").splitlines(keepends=True)
    # a duplicated row (a resumed unit written twice) must count once
    text = "".join(lines[:-1]) + lines[0] + lines[-1]
    (run_dir / "predictions.jsonl").write_text(text, "utf-8")
    cb = view_survey.codebook
    run = RunStore([run_dir], cb).runs[0]
    ref = load_run(run_dir, cb)
    assert not run.complete and not ref.complete
    _same(run.pred, ref.predictions)
    assert 0 < run.n_done < run.n_targets
    assert run.data is not None and any("unfinished run" in n for n in run.data.notes)


def test_a_damaged_line_falls_back_to_the_exact_reader(
    view_runs: dict[str, Path], view_survey: SurveyData, tmp_path: Path
) -> None:
    run_dir = tmp_path / "damaged"
    shutil.copytree(view_runs["majority"], run_dir)
    lines = (run_dir / "predictions.jsonl").read_text("utf-8").splitlines(keepends=True)
    lines.insert(3, '{"respondent": "x", "broken\n')
    (run_dir / "predictions.jsonl").write_text("".join(lines), "utf-8")
    assert rundir.read_prediction_columns(run_dir / "predictions.jsonl") is None
    cb = view_survey.codebook
    run = RunStore([run_dir], cb).runs[0]
    _same(run.pred, load_run(run_dir, cb).predictions)
    rows = run.rows_for_respondent(str(run.pred["respondent"].iloc[0]))
    assert all(p is not None for p, _ in run.extras(rows))  # probabilities from the frame itself


def test_growing_run_is_re_read(view_runs: dict[str, Path], view_survey: SurveyData, tmp_path: Path) -> None:
    run_dir = tmp_path / "growing"
    rest = make_partial(view_runs["knn"], run_dir, keep=0.3)
    store = RunStore([run_dir], view_survey.codebook, refresh_seconds=0)
    run = store.runs[0]
    before, version = run.n_done, run.version
    assert not store.refresh(run)  # nothing changed
    text = (run_dir / "predictions.jsonl").read_text("utf-8")
    (run_dir / "predictions.jsonl").write_text(text[: text.rfind("\n") + 1] + "".join(rest), "utf-8")
    assert store.refresh(run) and run.version == version + 1
    assert run.n_done == run.n_targets > before


def test_bad_run_directories(view_runs: dict[str, Path], view_survey: SurveyData, tmp_path: Path) -> None:
    cb = view_survey.codebook
    with pytest.raises(DataError, match="not a `valuesim bench` output directory"):
        RunStore([tmp_path], cb)
    with pytest.raises(DataError, match="does not exist"):
        RunStore([tmp_path / "nope"], cb)
    with pytest.raises(DataError, match="twice"):
        RunStore([view_runs["knn"], view_runs["knn"]], cb)
    broken = tmp_path / "broken"
    shutil.copytree(view_runs["knn"], broken)
    (broken / "split.json").write_text("{", "utf-8")
    (broken / "manifest.json").write_text(json.dumps({"status": "running"}), "utf-8")
    with pytest.raises(DataError):
        RunStore([broken], cb)


def test_names() -> None:
    assert slug('a/b <script> "x"') == "a-b-script-x"
    assert slug("$$$") == "run"


def test_a_manifest_recorded_before_redaction_shows_no_credentials(
    view_runs: dict[str, Path], view_survey: SurveyData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VALUESIM_CACHE_DIR", str(tmp_path / "cache"))
    run_dir = tmp_path / "old-run"
    shutil.copytree(view_runs["majority"], run_dir)
    manifest_path = run_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["command"] = "valuesim bench --base-url http://user:S3CRET-KEY@gpu1:8000/v1"
    manifest_path.write_text(json.dumps(manifest))
    run = RunStore([run_dir], view_survey.codebook).runs[0]
    assert run.data is not None
    assert "S3CRET-KEY" not in json.dumps(run.data.manifest)
