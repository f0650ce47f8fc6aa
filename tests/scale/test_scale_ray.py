"""The Ray executor on a local 2-CPU Ray instance: same results as in-process, survives a
killed worker without losing or duplicating units, stops cleanly on method errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import scale_helpers
from scale_helpers import CrashOnceMethod, FailingMethod, LowestCodeMethod, count_marker

from valuesim.bench import rundir
from valuesim.bench.protocol import ProtocolConfig, build_units
from valuesim.bench.runner import FittedMethod, RunConfig, make_work_items, run_benchmark
from valuesim.errors import ConfigError, ModelError
from valuesim.methods.base import get_method
from valuesim.survey import generate_synthetic

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.ray


_STARTED_HERE: list[bool] = []


@pytest.fixture(scope="module")
def ray_session() -> Any:
    """One local Ray instance for the module (starting Ray takes seconds)."""
    # workers cannot import modules from tests/: ship the helper classes by value
    ray.cloudpickle.register_pickle_by_value(scale_helpers)
    started = not ray.is_initialized()
    if started:
        # address="local": a private instance even if another Ray cluster runs on this machine,
        # started the way `valuesim bench --executor ray` starts it (loopback only)
        from valuesim.scale.ray_executor import connect

        connect("local", num_cpus=2)
    _STARTED_HERE.append(started)
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def data():
    return generate_synthetic(n=80, seed=5)


class ListSink:
    def __init__(self) -> None:
        self.units: list[list[dict[str, Any]]] = []

    def write_unit(self, rows):
        self.units.append(list(rows))

    def keys(self) -> list[tuple[str, int, str]]:
        return [rundir.unit_key(rows[0]) for rows in self.units]


def lines(path: Path) -> list[str]:
    return (path / rundir.PREDICTIONS_FILE).read_text().splitlines()


def test_ray_gives_the_same_predictions_as_in_process(ray_session, data, tmp_path):
    from valuesim.scale import RayExecutor

    cfg = RunConfig(protocol=ProtocolConfig(n_respondents=4, seed=3, max_targets=5), n_boot=20, command="test")
    local = get_method("valuesim", data.codebook, model="mock", cache=False)
    run_benchmark(data, local, cfg, tmp_path / "local", progress=False)

    executor = RayExecutor(num_workers=2, respondents_per_shard=1)
    remote = get_method("valuesim", data.codebook, model="mock", cache=False)
    res = run_benchmark(data, remote, cfg, tmp_path / "ray", progress=False, executor=executor)

    assert res.complete and res.n_computed == res.n_units
    assert lines(tmp_path / "ray") == lines(tmp_path / "local")  # byte-identical after the runner's sort
    assert executor.last_run["shards"] == 4 and executor.last_run["retries"] == 0
    # the workers did every LLM call; the driver's copy of the method did none
    assert executor.last_run["usage"]["llm_calls"] == local.usage["llm_calls"] > 0
    assert remote.usage["llm_calls"] == 0
    m_local = json.loads((tmp_path / "local" / "metrics.json").read_text())
    m_ray = json.loads((tmp_path / "ray" / "metrics.json").read_text())
    for name in ("top1", "nmae", "within1", "llm_calls", "prompt_tokens", "n_predictions"):
        assert m_ray[name] == m_local[name], name


def test_killed_worker_loses_nothing_and_duplicates_nothing(ray_session, data, tmp_path):
    from valuesim.scale import RayExecutor

    split = build_units(data, ProtocolConfig(n_respondents=10, seed=4, folds=3))
    items = make_work_items(data, split.units)
    marker = tmp_path / "crashed"
    method = CrashOnceMethod(data.codebook, marker=str(marker), crash_at=4)
    sink = ListSink()
    executor = RayExecutor(num_workers=2, respondents_per_shard=3, max_retries=2)
    executor(FittedMethod(method), items, sink, concurrency=1, progress=False)

    assert marker.exists(), "the worker was not killed: the test would prove nothing"
    assert executor.last_run["retries"] >= 1
    keys = sink.keys()
    assert len(keys) == len(set(keys)), "a unit was written twice"
    assert sorted(keys) == sorted(u.key for u in split.units), "a unit was lost"
    # the rows are what an undisturbed method predicts
    expected = {it.unit.key: it for it in items}
    plain = LowestCodeMethod(data.codebook)
    for rows in sink.units:
        item = expected[rundir.unit_key(rows[0])]
        want = {p.question: p.prediction for p in plain.predict(item.task)}
        assert {r["question"]: r["prediction"] for r in rows} == want


def test_killed_worker_run_completes_and_matches_in_process(ray_session, data, tmp_path):
    from valuesim.scale import RayExecutor

    cfg = RunConfig(protocol=ProtocolConfig(n_respondents=8, seed=6, folds=4), n_boot=20, command="test")
    run_benchmark(data, LowestCodeMethod(data.codebook), cfg, tmp_path / "local", progress=False)
    marker = tmp_path / "crashed"
    method = CrashOnceMethod(data.codebook, marker=str(marker), crash_at=2)
    executor = RayExecutor(num_workers=2, respondents_per_shard=2)
    # CrashOnceMethod has another name than LowestCodeMethod: compare the rows without it
    res = run_benchmark(data, method, cfg, tmp_path / "ray", progress=False, executor=executor)
    assert marker.exists() and res.complete and res.n_computed == res.n_units
    assert lines(tmp_path / "ray") == lines(tmp_path / "local")


def test_resume_with_ray_computes_only_missing_units(ray_session, data, tmp_path):
    from valuesim.scale import RayExecutor

    cfg = RunConfig(protocol=ProtocolConfig(n_respondents=6, seed=8, folds=3), n_boot=20, command="test")
    out = tmp_path / "run"
    run_benchmark(data, LowestCodeMethod(data.codebook), cfg, out, progress=False)
    full = lines(out)
    # keep the first half of the rows plus a truncated line, as after a crash
    half = full[: len(full) // 2]
    (out / rundir.PREDICTIONS_FILE).write_text("\n".join(half) + "\n" + full[len(half)][:25])
    res = run_benchmark(
        data, LowestCodeMethod(data.codebook), cfg, out, progress=False, executor=RayExecutor(num_workers=2)
    )
    assert 0 < res.n_resumed < res.n_units and res.n_computed == res.n_units - res.n_resumed
    assert lines(out) == full


def test_method_error_stops_the_run_with_its_message_and_is_not_retried(ray_session, data, tmp_path):
    from valuesim.scale import RayExecutor

    split = build_units(data, ProtocolConfig(n_respondents=6, seed=4, folds=2))
    items = make_work_items(data, split.units)
    bad = sorted(split.respondents)[0]
    counter = tmp_path / "failures"
    sink = ListSink()
    executor = RayExecutor(num_workers=1, respondents_per_shard=6)
    with pytest.raises(ModelError) as err:
        executor(
            FittedMethod(FailingMethod(data.codebook, bad, str(counter))), items, sink, concurrency=1, progress=False
        )
    assert err.value.message == "planned failure" and err.value.hint == "a hint that must survive the trip"
    assert count_marker(counter) == 1  # not retried
    assert all(rundir.unit_key(rows[0])[0] != bad for rows in sink.units)


def test_get_executor(ray_session, monkeypatch):
    from valuesim.bench.runner import run_units
    from valuesim.scale import RayExecutor, get_executor

    assert get_executor() is run_units and get_executor("local") is run_units
    ex = get_executor("ray", num_workers=2)
    assert isinstance(ex, RayExecutor) and ex.num_workers == 2
    with pytest.raises(ConfigError, match="Unknown executor"):
        get_executor("dask")
    with pytest.raises(ConfigError, match="executor ray"):
        get_executor("local", address="auto")
    with pytest.raises(ConfigError, match="num_workers"):
        get_executor("ray", num_workers=0)


def test_unreachable_ray_address_fails_fast():
    import socket

    from valuesim.scale.ray_executor import check_address

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConfigError, match="Cannot reach the Ray cluster") as err:
        check_address(f"127.0.0.1:{port}")
    assert "ray start --head" in (err.value.hint or "")
    with pytest.raises(ConfigError, match="Cannot read the Ray address"):
        check_address("no-port-here")
    check_address(None)
    check_address("auto")


def test_missing_ray_gives_install_hint(monkeypatch):
    from valuesim.scale import get_executor

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ConfigError) as err:
        get_executor("ray")
    assert 'pip install "valuesim[dist]"' in (err.value.hint or "")


def test_worker_that_cannot_import_the_method_gives_install_hint(ray_session, data, tmp_path, monkeypatch):
    from valuesim.scale import RayExecutor

    # a method class from a module only the driver can import (like a node without valuesim)
    (tmp_path / "driver_only_methods.py").write_text(
        "from scale_helpers import LowestCodeMethod\n\nclass DriverOnly(LowestCodeMethod):\n    name = 'driver-only'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import driver_only_methods

    split = build_units(data, ProtocolConfig(n_respondents=2, seed=4, folds=2))
    items = make_work_items(data, split.units)
    with pytest.raises(ConfigError, match="cannot import") as err:
        RayExecutor(num_workers=1)(
            FittedMethod(driver_only_methods.DriverOnly(data.codebook)),
            items,
            ListSink(),
            concurrency=1,
            progress=False,
        )
    assert "every node" in (err.value.hint or "")


def test_failed_targets_on_ray_are_recorded_and_retried(ray_session, data, tmp_path):
    """Model calls failing after all retries on a worker: recorded, the run goes on; a rerun retries them."""
    from scale_helpers import FlakyLowestCodeMethod

    from valuesim.scale import RayExecutor

    proto = ProtocolConfig(n_respondents=6, seed=4, folds=2)
    cfg = RunConfig(protocol=proto, n_boot=20, command="test", max_failures="50%")
    clean = run_benchmark(data, LowestCodeMethod(data.codebook), cfg, tmp_path / "clean", progress=False)
    bad = clean.split.respondents[0]
    out = tmp_path / "ray"
    executor = RayExecutor(num_workers=2, respondents_per_shard=2)
    flaky = FlakyLowestCodeMethod(data.codebook, bad)
    res = run_benchmark(data, flaky, cfg, out, executor=executor, progress=False)
    bad_units = [u for u in clean.split.units if u.respondent == bad]
    assert not res.complete and len(res.failures) == len(bad_units)
    assert res.n_failed_targets == sum(len(u.targets) for u in bad_units)
    assert (out / rundir.FAILURES_FILE).exists()
    healthy = FlakyLowestCodeMethod(data.codebook, "nobody")
    again = run_benchmark(data, healthy, cfg, out, executor=executor, progress=False)
    assert again.complete and again.n_computed == len(bad_units)
    assert lines(out) == lines(tmp_path / "clean")


def _listening_beyond_loopback() -> list[str]:
    """Listening sockets of this process and its descendants not bound to a loopback address."""
    import ipaddress

    import psutil

    me = psutil.Process()
    tree = {p.pid: p for p in [me, *me.children(recursive=True)]}
    out = []
    for c in psutil.net_connections(kind="inet"):
        if c.status != psutil.CONN_LISTEN or c.pid not in tree:
            continue
        ip = ipaddress.ip_address(c.laddr.ip.split("%")[0])
        mapped = getattr(ip, "ipv4_mapped", None)
        if not (ip.is_loopback or (mapped is not None and mapped.is_loopback)):
            out.append(f"{tree[c.pid].name()} (pid {c.pid}) on {c.laddr.ip}:{c.laddr.port}")
    return out


def test_local_ray_instance_listens_on_loopback_only(ray_session, data, tmp_path):
    """Issue 11: a private instance must not expose an unauthenticated cluster to the network."""
    pytest.importorskip("psutil")
    if not _STARTED_HERE[-1]:
        pytest.skip("Ray was started outside this module (not by valuesim)")
    from valuesim.scale import RayExecutor

    cfg = RunConfig(protocol=ProtocolConfig(n_respondents=3, seed=1), n_boot=10, command="test")
    m = get_method("country-majority", data.codebook)
    res = run_benchmark(data, m, cfg, tmp_path / "r", progress=False, executor=RayExecutor(num_workers=2))
    assert res.complete
    # the servers of GCS, raylet, agents and workers are all up now, and stay up until shutdown
    assert _listening_beyond_loopback() == []
