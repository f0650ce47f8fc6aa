"""The progress display: ETA from per-unit timings, one-off fitting kept out of it."""

from __future__ import annotations

import pytest

from valuesim.bench.progress import UnitProgress, UnitTimer


def naive_eta(durations: list[float], remaining: int) -> float:
    """What a plain progress bar shows: elapsed / done x remaining."""
    return sum(durations) / len(durations) * remaining


def test_eta_excludes_the_fitting_carried_by_the_first_unit_of_each_fold():
    # supervised: the first unit of each of 5 folds trains that fold's models (40 s), the rest take 0.1 s
    timer = UnitTimer(concurrency=1)
    done = [40.0] * 5 + [0.1] * 95
    for d in done:
        timer.add(d)
    remaining = 900
    assert timer.eta(remaining) == pytest.approx(90.0)  # 900 units x 0.1 s
    assert naive_eta(done, remaining) > 1800  # the plain estimate is 20x too long
    assert timer.fitting_seconds == pytest.approx(5 * 39.9)


def test_eta_accounts_for_concurrency_and_the_end_of_the_run():
    timer = UnitTimer(concurrency=4)
    assert timer.eta(10) is None  # nothing measured yet
    for _ in range(8):
        timer.add(2.0)
    assert timer.eta(100) == pytest.approx(50.0)  # 4 units in flight, 2 s each
    assert timer.eta(2) == pytest.approx(2.0)  # the last units run side by side
    assert timer.eta(0) == 0.0
    assert timer.fitting_seconds == 0.0


def test_without_per_unit_timings_the_gaps_between_units_are_used():
    timer = UnitTimer(concurrency=2, _last=0.0)
    for k in range(1, 11):
        timer.add(None, now=0.5 * k)  # a unit finishes every 0.5 s
    assert timer.eta(20) == pytest.approx(10.0)


def test_progress_status_shows_eta_fitting_and_failures():
    bar = UnitProgress("knn: units", total=100, concurrency=1)
    for _ in range(3):
        bar.unit_done(None, 30.0)
    for _ in range(20):
        bar.unit_done(None, 0.2)
    bar.unit_done(None, 0.2, failed=True)
    status = bar.status()
    assert "eta 0:00:15" in status  # 76 units x 0.2 s
    assert "fitting 0:01:29" in status  # 3 x (30 - 0.2) s and "1 failed" in status


def test_fitting_the_method_reports_is_taken_out_from_the_first_unit_on():
    # the first unit of fold 0 trains for 45 s and predicts in 0.05 s: the ETA is right at once
    timer = UnitTimer(concurrency=1)
    timer.add(45.05, fitting=45.0)
    assert timer.eta(99) == pytest.approx(99 * 0.05)
    assert timer.fitting_seconds == pytest.approx(45.0)


def test_the_executor_reports_a_methods_own_fitting_time():
    import asyncio

    from bench_data import FirstOptionMethod, make_survey

    from valuesim.bench.plan import make_work_items
    from valuesim.bench.protocol import ProtocolConfig, build_units
    from valuesim.bench.runner import run_units_async

    class LazyFit(FirstOptionMethod):
        fitting_seconds = 0.0

        def predict(self, task):  # the first unit of each fold "trains" for 2 s
            if task.fold not in self.folds_seen:
                self.folds_seen.add(task.fold)
                self.fitting_seconds += 2.0
            return super().predict(task)

    data = make_survey(30, seed=1)
    items = make_work_items(data, build_units(data, ProtocolConfig(n_respondents=4, seed=1, folds=2)).units)
    method = LazyFit(data.codebook)
    method.folds_seen = set()
    seen: list[float] = []

    class Sink:
        def write_unit(self, rows):
            pass

    def on_unit(item, seconds, failed, fitting=0.0):
        seen.append(fitting)

    asyncio.run(run_units_async(method, items, Sink(), on_unit=on_unit))
    assert sorted(seen, reverse=True)[:3] == [2.0, 2.0, 0.0] and len(seen) == len(items)
