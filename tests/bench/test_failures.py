"""Failed targets: recorded (never as predictions), the run goes on, a rerun retries only them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from bench_data import FlakyMethod, make_survey

from valuesim.bench import rundir
from valuesim.bench.protocol import ProtocolConfig, Split
from valuesim.bench.record import TooManyFailuresError
from valuesim.bench.runner import RunConfig, run_benchmark
from valuesim.errors import ConfigError

PROTO = ProtocolConfig(n_respondents=10, seed=3, folds=3)


def cfg(**kw: Any) -> RunConfig:
    return RunConfig(protocol=PROTO, n_boot=20, command="test", **kw)


@pytest.fixture(scope="module")
def data():
    return make_survey(40, seed=2)


@pytest.fixture(scope="module")
def clean(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("clean") / "run"
    res = run_benchmark(data, FlakyMethod(data.codebook), cfg(), out, progress=False)
    return out, res


def failure_rows(out) -> list[dict[str, Any]]:
    path = out / rundir.FAILURES_FILE
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_failed_targets_are_recorded_and_the_run_goes_on(data, clean, tmp_path):
    clean_out, clean_res = clean
    split = Split.load(clean_out / rundir.SPLIT_FILE)
    bad = split.respondents[:1]
    bad_targets = sum(len(u.targets) for u in split.units if u.respondent in bad)
    out = tmp_path / "run"
    logs: list[str] = []
    res = run_benchmark(
        data, FlakyMethod(data.codebook, set(bad)), cfg(max_failures="50%"), out, progress=False, log=logs.append
    )
    # every other unit ran; the failed targets have no prediction, but a failure record each
    assert not res.complete and res.n_failed_targets == bad_targets == len(failure_rows(out))
    rows = [json.loads(line) for line in (out / rundir.PREDICTIONS_FILE).read_text().splitlines()]
    assert rows and not any(r["respondent"] in bad for r in rows)
    assert len(rows) + bad_targets == split.n_targets
    fr = failure_rows(out)
    assert set(fr[0]) == set(rundir.FAILURE_COLUMNS)
    assert {r["error"] for r in fr} == {"RequestFailedError"} and "HTTP 503" in fr[0]["message"]
    # metrics are computed on the rest and say so
    metrics = json.loads((out / rundir.METRICS_FILE).read_text())
    assert metrics["complete"] is False and metrics["n_failed_targets"] == bad_targets
    assert metrics["failures_by_error"] == {"RequestFailedError": bad_targets}
    assert metrics["n_predictions"] == len(rows)
    manifest = json.loads((out / rundir.MANIFEST_FILE).read_text())
    assert manifest["status"] == "incomplete" and manifest["failures"]["targets"] == bad_targets
    assert manifest["sessions"][-1]["targets_failed"] == bad_targets
    assert not rundir.open_run(out).complete  # reports and comparisons refuse it

    # the rerun (the server is healthy again) retries exactly the failed units
    healthy = FlakyMethod(data.codebook)
    logs.clear()
    again = run_benchmark(data, healthy, cfg(max_failures="50%"), out, progress=False, log=logs.append)
    assert any(f"retrying {bad_targets} failed targets" in m for m in logs)
    assert again.complete and again.metrics is not None and again.metrics["complete"] is True
    assert sorted(set(healthy.seen)) == sorted({"|".join(map(str, u.key)) for u in split.units if u.respondent in bad})
    assert (out / rundir.PREDICTIONS_FILE).read_text() == (clean_out / rundir.PREDICTIONS_FILE).read_text()
    assert not (out / rundir.FAILURES_FILE).exists()
    strip = ("wall_seconds",)
    same = {k: v for k, v in again.metrics.items() if k not in strip}
    assert same == {k: v for k, v in (clean_res.metrics or {}).items() if k not in strip}
    assert json.loads((out / rundir.MANIFEST_FILE).read_text())["status"] == "complete"


def test_too_many_failures_stop_the_run_early(data, clean, tmp_path):
    clean_out, _ = clean
    split = Split.load(clean_out / rundir.SPLIT_FILE)
    out = tmp_path / "run"
    everyone = FlakyMethod(data.codebook, set(split.respondents))  # a dead server
    with pytest.raises(TooManyFailuresError) as err:
        run_benchmark(data, everyone, cfg(max_failures=7), out, progress=False)
    assert "more than --max-failures allows (7 of" in err.value.message and "re-run" in (err.value.hint or "")
    per_unit = len(split.units[0].targets)
    assert everyone.calls == 7 // per_unit + 1  # stopped at the first unit past the limit
    assert len(failure_rows(out)) == everyone.calls * per_unit
    manifest = json.loads((out / rundir.MANIFEST_FILE).read_text())
    assert manifest["sessions"][-1]["status"] == "stopped: too many failures"
    assert not (out / rundir.METRICS_FILE).exists()
    # the rerun retries the failed units and finishes the rest
    again = run_benchmark(data, FlakyMethod(data.codebook), cfg(), out, progress=False)
    assert again.complete
    assert (out / rundir.PREDICTIONS_FILE).read_text() == (clean_out / rundir.PREDICTIONS_FILE).read_text()


def test_zero_max_failures_stops_at_the_first(data, clean, tmp_path):
    clean_out, _ = clean
    split = Split.load(clean_out / rundir.SPLIT_FILE)
    m = FlakyMethod(data.codebook, {split.respondents[0]})
    with pytest.raises(TooManyFailuresError):
        run_benchmark(data, m, cfg(max_failures="0"), tmp_path / "run", progress=False)
    assert m.calls == 1


def test_other_errors_still_stop_the_run(data, tmp_path):
    m = FlakyMethod(data.codebook, fail_after=2)
    with pytest.raises(RuntimeError, match="planned failure"):
        run_benchmark(data, m, cfg(), tmp_path / "run", progress=False)
    assert failure_rows(tmp_path / "run") == []


@pytest.mark.parametrize(
    ("value", "n_targets", "limit"), [("5%", 151, 7), ("0", 151, 0), (12, 151, 12), ("100%", 40, 40), ("2.5%", 400, 10)]
)
def test_max_failures_forms(value, n_targets, limit):
    assert RunConfig.create(max_failures=value).failure_limit(n_targets) == limit


@pytest.mark.parametrize("bad", ["abc", "-1", "150%", "5 percent"])
def test_bad_max_failures_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="max_failures"):
        RunConfig.create(max_failures=bad)


def test_a_failed_request_costs_its_targets_not_the_unit(data, clean, tmp_path):
    """Two targets of each of three units fail: the units' other targets are predicted, failures
    and --max-failures count targets, and a healthy rerun ends identical to a clean run."""
    from bench_data import TargetFlakyMethod

    clean_out, _ = clean
    split = Split.load(clean_out / rundir.SPLIT_FILE)
    hit = split.units[:3]
    failing = {(u.respondent, q) for u in hit for q in u.targets[:2]}
    out = tmp_path / "run"
    with pytest.raises(TooManyFailuresError, match=f"{len(failing)} targets failed"):  # the limit counts targets
        run_benchmark(
            data, TargetFlakyMethod(data.codebook, failing), cfg(max_failures=len(failing) - 1), out, progress=False
        )
    res = run_benchmark(
        data, TargetFlakyMethod(data.codebook, failing), cfg(max_failures=len(failing)), tmp_path / "r2", progress=False
    )
    assert res.n_failed_targets == len(failing) and not res.complete
    fr = failure_rows(tmp_path / "r2")
    assert {(r["respondent"], r["question"]) for r in fr} == failing
    rows = [json.loads(line) for line in (tmp_path / "r2" / rundir.PREDICTIONS_FILE).read_text().splitlines()]
    assert len(rows) + len(failing) == split.n_targets
    for u in hit:  # the unit's other targets were kept
        kept = {r["question"] for r in rows if (r["respondent"], r["fold"]) == (u.respondent, u.fold)}
        assert kept == set(u.targets[2:])
    metrics = json.loads((tmp_path / "r2" / rundir.METRICS_FILE).read_text())
    assert metrics["n_failed_targets"] == len(failing) and metrics["n_predictions"] == len(rows)
    manifest = json.loads((tmp_path / "r2" / rundir.MANIFEST_FILE).read_text())
    assert manifest["failures"]["targets"] == len(failing) and manifest["failures"]["units"] == len(hit)

    # a rerun in which other targets of those units fail: only the new failures stay on record
    other = {(u.respondent, u.targets[2]) for u in hit}
    mid = run_benchmark(data, TargetFlakyMethod(data.codebook, other), cfg(), tmp_path / "r2", progress=False)
    assert mid.n_failed_targets == len(hit)
    assert {(r["respondent"], r["question"]) for r in failure_rows(tmp_path / "r2")} == other

    again = run_benchmark(data, TargetFlakyMethod(data.codebook), cfg(), tmp_path / "r2", progress=False)
    assert again.complete and again.n_computed == len(hit)  # only the units with failed targets ran again
    assert (tmp_path / "r2" / rundir.PREDICTIONS_FILE).read_text() == (clean_out / rundir.PREDICTIONS_FILE).read_text()
    assert not (tmp_path / "r2" / rundir.FAILURES_FILE).exists()
