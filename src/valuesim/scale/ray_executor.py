"""Run benchmark units on a Ray cluster (optional extra ``valuesim[dist]``).

:class:`RayExecutor` has the signature of the runner's executor
(:class:`valuesim.bench.execute.Executor`). The driver -- the ``valuesim bench`` process --
keeps the run directory; workers only compute:

* the pending units are cut into shards of whole respondents (:mod:`valuesim.scale.shards`);
* each shard runs as one Ray *generator task*: the worker builds the fitted method (once
  per worker process and run), runs the shard's units with the runner's usual in-process
  concurrency and yields every unit as soon as it is finished;
* the driver collects yielded units from all shards with ``ray.wait`` and writes each one
  through the sink at once -- so a worker, or a whole node, that dies loses only the units
  it had in flight;
* a shard whose worker died is resubmitted with only its unfinished units (up to
  ``max_retries`` times); the driver also drops any unit it has already written, so no row
  is ever written twice. An error raised by the method itself (a bug, a model error) is not
  retried: the run stops, finished units stay on disk, and the same command resumes.

The order in which units finish does not matter: the runner sorts the predictions at the
end, so a Ray run gives the same ``predictions.jsonl`` as an in-process run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from valuesim.bench.execute import MethodFactory, Sink, UnitFailure, run_units_async
from valuesim.bench.plan import WorkItem
from valuesim.bench.progress import UnitProgress, progress_enabled
from valuesim.bench.record import add_usage, method_usage, usage_delta
from valuesim.bench.rundir import unit_key
from valuesim.errors import ConfigError, RequestFailedError, ValueSimError
from valuesim.methods.base import Method
from valuesim.scale.shards import Shard, UnitKey, auto_shard_size, make_shards

INSTALL_HINT = 'Install the distributed extra: pip install "valuesim[dist]"'
#: Thread count a local (llama.cpp) model uses in a worker, unless the user set it.
THREADS_ENV = "VALUESIM_N_THREADS"
#: Seconds for the TCP check of an explicit Ray address.
CONNECT_TIMEOUT = 5.0
#: How long one ``ray.wait`` blocks before the driver loop looks around (Ctrl-C, progress).
_WAIT_SECONDS = 1.0


class ScaleError(ValueSimError):
    """A distributed run could not go on (workers keep dying, cluster lost)."""


def require_ray() -> Any:
    """The ``ray`` module, or a ConfigError telling how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError("The Ray executor needs the `ray` package, which is not installed.", INSTALL_HINT) from None
    return ray


# --------------------------------------------------------------------------- connecting


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of an explicit address ("10.0.0.5:6379", "ray://head:10001"), else None."""
    if address in ("auto", "local"):
        return None
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise ConfigError(
            f"Cannot read the Ray address {address!r}.",
            'Use "auto" (the cluster this machine belongs to), HOST:PORT of the head node (port 6379 by '
            "default) or ray://HOST:10001 (Ray Client).",
        )
    return parts.hostname, port


def check_address(address: str | None) -> None:
    """Fail fast (ConfigError) when an explicit Ray address does not accept connections.

    Without this check ``ray.init`` waits for minutes on an address nobody listens on.
    """
    if address is None:
        return
    hp = _host_port(address)
    if hp is None:
        return
    try:
        with socket.create_connection(hp, timeout=CONNECT_TIMEOUT):
            pass
    except OSError as e:
        raise ConfigError(
            f"Cannot reach the Ray cluster at {address} ({e}).",
            "Start the head node with `ray start --head` and pass its address (see `ray status` on the head), "
            "or use --ray-address auto on a machine that is part of the cluster.",
        ) from None


def connect(
    address: str | None = None, *, num_cpus: int | None = None, runtime_env: Mapping[str, Any] | None = None
) -> Any:
    """Connect this process to Ray (once) and return the ``ray`` module.

    ``address=None`` joins the cluster named by RAY_ADDRESS if that is set, else starts a
    private local instance (``num_cpus`` caps it; default: all cores) even when this machine
    belongs to a cluster; ``"auto"`` joins the cluster this machine belongs to;
    ``HOST:PORT`` / ``ray://HOST:PORT`` join that cluster. An already connected process is
    left as it is.
    """
    ray = require_ray()
    if ray.is_initialized():
        return ray
    if address is None:
        address = os.environ.get("RAY_ADDRESS") or "local"
    check_address(address)
    kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": "WARNING"}
    if runtime_env:
        kwargs["runtime_env"] = dict(runtime_env)
    if address == "local" and num_cpus is not None:
        kwargs["num_cpus"] = num_cpus
    try:
        if address == "local":
            with _loopback_only(ray):
                ray.init(address=address, **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except ConnectionError as e:
        where = address
        chain = _causes(e)
        if any(type(c).__name__ == "AuthenticationError" or "InvalidAuthToken" in str(c) for c in chain):
            raise ConfigError(
                f"The Ray cluster at {where} refused the connection: it uses token authentication.",
                "Set RAY_AUTH_MODE=token and make the cluster's token available on this machine "
                "(~/.ray/auth_token, RAY_AUTH_TOKEN_PATH or RAY_AUTH_TOKEN), as on the cluster's nodes.",
            ) from None
        raise ConfigError(
            f"No Ray cluster found at {where}: {str(chain[-1]).strip().splitlines()[0][:300]}",
            "Start one with `ray start --head` (and `ray start --address HEAD:6379` on the other nodes), "
            "or drop --ray-address to run on a private local Ray instance.",
        ) from None
    return ray


#: Ray's switch between a multi-node capable node (servers on the machine's network address)
#: and a single-machine one (servers on the loopback address, as on macOS / Windows).
_RAY_CLUSTER_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


@contextlib.contextmanager
def _loopback_only(ray: Any) -> Iterator[None]:
    """While starting a private local instance: every Ray server binds to 127.0.0.1 only.

    By default Ray makes the machine's network address the node address, and its servers
    (GCS, raylet, workers, agents) listen on all interfaces: anyone who can reach the machine
    could submit jobs, i.e. run code, while a benchmark runs. A private instance needs no
    other machine, so it is started as Ray starts single-machine nodes on macOS and Windows:
    node address 127.0.0.1, which every server then binds to (checked by
    tests/scale/test_scale_ray.py with psutil). Clusters joined with ``--ray-address`` are
    left as they are (docs/scale.md: securing a cluster).
    """
    constants = ray._private.ray_constants
    old_env = os.environ.get(_RAY_CLUSTER_ENV)
    old_flag = getattr(constants, "ENABLE_RAY_CLUSTER", None)
    os.environ[_RAY_CLUSTER_ENV] = "0"  # child processes (GCS, raylet, workers) see it too
    constants.ENABLE_RAY_CLUSTER = False  # read at import time: patch the loaded module as well
    try:
        yield
    finally:
        if old_env is None:
            os.environ.pop(_RAY_CLUSTER_ENV, None)
        else:
            os.environ[_RAY_CLUSTER_ENV] = old_env
        if old_flag is not None:
            constants.ENABLE_RAY_CLUSTER = old_flag


def _import_error(e: object) -> ImportError | None:
    """The ImportError behind a worker failure (plain, chained, or inside a RaySystemError)."""
    if not isinstance(e, BaseException):
        return None
    for c in _causes(e):
        inner = getattr(c, "client_exc", None)  # RaySystemError: failed to deserialize
        for x in (c, inner):
            if isinstance(x, ImportError):
                return x
    return None


def _causes(e: BaseException) -> list[BaseException]:
    """*e* and the exceptions it was raised from, outermost first."""
    out: list[BaseException] = []
    cur: BaseException | None = e
    while cur is not None and cur not in out:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


# --------------------------------------------------------------------------- the worker side

#: Per worker process: the method of the current run, built once (token -> method).
_WORKER_METHODS: dict[str, Method] = {}
_WORKER_LOCK = threading.Lock()
_DONE = object()


@dataclass
class _Failed:
    error: BaseException


class _QueueSink:
    """Sink that hands finished units to the generator (the worker's event loop runs in a thread)."""

    def __init__(self, q: queue.Queue[Any]) -> None:
        self.q = q

    def write_unit(self, rows: Sequence[dict[str, Any]]) -> None:
        self.q.put(list(rows))

    def write_failure(self, failure: UnitFailure) -> None:
        self.q.put(failure)


def _usage_now(method: Method) -> dict[str, float]:
    return dict(method_usage(method) or {})


def _worker_method(token: str, factory_box: list[Any]) -> Method:
    """The fitted method of run *token* in this worker process (deserialized once)."""
    with _WORKER_LOCK:
        method = _WORKER_METHODS.get(token)
        if method is None:
            import ray

            factory = ray.get(factory_box[0])
            method = factory()
            _WORKER_METHODS.clear()  # one run at a time per process: drop older ones
            _WORKER_METHODS[token] = method
        return method


def run_shard(
    factory_box: list[Any], token: str, items: Sequence[WorkItem], concurrency: int, threads: int | None
) -> Iterator[dict[str, Any]]:
    """Ray generator task: run *items*, yield ``{"rows": [...], "usage": {...}}`` per finished unit
    (``{"failed": UnitFailure, "usage": {...}}`` for a unit whose model calls failed after all retries).

    ``usage`` is the method's LLM usage since the previous yield (so the driver can add up
    the usage of all workers). ``factory_box`` holds the ObjectRef of the method factory in a
    list, so Ray does not fetch it for every shard.
    """
    if threads is not None:
        os.environ.setdefault(THREADS_ENV, str(threads))
    method = _worker_method(token, factory_box)
    q: queue.Queue[Any] = queue.Queue()

    def work() -> None:
        try:
            asyncio.run(run_units_async(method, items, _QueueSink(q), concurrency=concurrency))
        except BaseException as e:  # handed to the generator, which raises it in the task
            q.put(_Failed(e))
        else:
            q.put(_DONE)

    last = _usage_now(method)
    thread = threading.Thread(target=work, name="valuesim-shard", daemon=True)
    thread.start()
    while True:
        msg = q.get()
        if msg is _DONE:
            break
        if isinstance(msg, _Failed):
            raise msg.error
        now = _usage_now(method)
        delta = {k: v for k, v in usage_delta(now, last).items() if v}
        last = now
        yield {"failed": msg, "usage": delta} if isinstance(msg, UnitFailure) else {"rows": msg, "usage": delta}
    thread.join()


# --------------------------------------------------------------------------- the driver side


@dataclass
class _Running:
    shard: Shard
    attempt: int


@dataclass
class RayExecutor:
    """Executor that shards units over Ray workers (see the module docstring).

    ``num_workers`` shards run at once (default: the cluster's CPUs / ``cpus_per_worker``);
    each runs ``concurrency`` units at a time (the runner's setting), so up to
    num_workers x concurrency units are in flight. ``respondents_per_shard`` defaults to
    about four shards per worker. ``cpus_per_worker`` is the Ray CPU reservation of a shard
    task and the thread count of an in-process llama.cpp model in it (unless
    VALUESIM_N_THREADS is set). ``max_retries``: resubmissions of a shard whose worker died.
    """

    address: str | None = None
    num_workers: int | None = None
    respondents_per_shard: int | None = None
    cpus_per_worker: float = 1.0
    max_retries: int = 3
    num_cpus: int | None = None  # size of a private local Ray instance (address=None)
    runtime_env: dict[str, Any] | None = None
    #: filled by each call: shards, retries, workers, usage
    last_run: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.num_workers is not None and self.num_workers < 1:
            raise ConfigError(f"num_workers must be at least 1, got {self.num_workers}.")
        if self.cpus_per_worker <= 0:
            raise ConfigError(f"cpus_per_worker must be > 0, got {self.cpus_per_worker}.")
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {self.max_retries}.")
        if self.respondents_per_shard is not None and self.respondents_per_shard < 1:
            raise ConfigError(f"respondents_per_shard must be at least 1, got {self.respondents_per_shard}.")

    def connect(self) -> Any:
        return connect(self.address, num_cpus=self.num_cpus, runtime_env=self.runtime_env)

    def workers(self, ray: Any) -> int:
        if self.num_workers is not None:
            return self.num_workers
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        return max(1, int(cpus // self.cpus_per_worker))

    def __call__(
        self,
        method_factory: MethodFactory,
        items: Sequence[WorkItem],
        sink: Sink,
        *,
        concurrency: int = 1,
        progress: bool = False,
    ) -> dict[str, float]:
        """Run *items* on Ray; return the LLM usage summed over all workers."""
        self.last_run = {}
        if not items:
            return {}
        ray = self.connect()
        n_workers = self.workers(ray)
        per_shard = self.respondents_per_shard or auto_shard_size(len({it.unit.respondent for it in items}), n_workers)
        shards = make_shards(items, per_shard)
        with _ProgressBar(progress, len(items), n_workers * concurrency) as advance:
            usage, retries = self._drive(ray, method_factory, shards, sink, concurrency, n_workers, advance)
        self.last_run = {
            "workers": n_workers,
            "shards": len(shards),
            "respondents_per_shard": per_shard,
            "retries": retries,
            "usage": usage,
        }
        return usage

    def _drive(
        self,
        ray: Any,
        method_factory: MethodFactory,
        shards: list[Shard],
        sink: Sink,
        concurrency: int,
        n_workers: int,
        advance: Any,
    ) -> tuple[dict[str, float], int]:
        from ray.exceptions import RayError, RayTaskError, RuntimeEnvSetupError, TaskCancelledError

        token = uuid.uuid4().hex
        box = [ray.put(method_factory)]
        threads = max(1, int(self.cpus_per_worker))
        task = ray.remote(run_shard).options(num_cpus=self.cpus_per_worker, max_retries=0)
        todo: list[tuple[Shard, int]] = [(s, 0) for s in shards]
        todo.reverse()  # pop() takes shards in order
        running: dict[Any, _Running] = {}
        done: set[UnitKey] = set()
        usage: dict[str, float] = {}
        retries = 0

        def retry(run: _Running, error: BaseException) -> None:
            nonlocal retries
            rest = run.shard.without(done)
            if not rest.items:
                return
            if run.attempt >= self.max_retries:
                raise ScaleError(
                    f"Shard {run.shard.index} ({len(rest)} unit(s) left) failed {run.attempt + 1} time(s); "
                    f"last error: {error}",
                    "Finished units are saved; re-run the same command to resume. If workers keep dying, "
                    "check their memory and logs (`ray logs`), or use fewer workers.",
                )
            retries += 1
            todo.append((rest, run.attempt + 1))

        try:
            while todo or running:
                while todo and len(running) < n_workers:
                    shard, attempt = todo.pop()
                    gen = task.remote(box, token, list(shard.items), concurrency, threads)
                    running[gen] = _Running(shard, attempt)
                ready, _ = ray.wait(list(running), num_returns=1, timeout=_WAIT_SECONDS)
                for gen in ready:
                    run = running[gen]
                    try:
                        ref = next(gen)
                    except StopIteration:
                        del running[gen]
                        if run.shard.without(done).items:  # ended without finishing: treat as lost
                            retry(run, RuntimeError("the shard task ended before finishing its units"))
                        continue
                    try:
                        msg = ray.get(ref)
                    except RayTaskError as e:  # the method raised: not retried
                        cause = getattr(e, "cause", None)
                        if isinstance(cause, ValueSimError):  # user-fixable: message + hint, no traceback
                            raise cause from None
                        missing = _import_error(cause)
                        if missing is not None:
                            raise ConfigError(
                                f"A Ray worker cannot import what the method needs: {missing}",
                                "Install the same valuesim and packages on every node (pip install "
                                '"valuesim[dist]"); `valuesim scale check --ray-address ...` shows each node.',
                            ) from None
                        raise  # a bug: keep the worker's traceback
                    except RuntimeEnvSetupError as e:
                        raise ConfigError(f"Ray could not set up the workers' environment: {e}", INSTALL_HINT) from None
                    except TaskCancelledError:
                        raise
                    except RayError as e:  # worker or node died, object lost: run the rest again
                        del running[gen]
                        retry(run, e)
                        continue
                    usage = add_usage((usage, msg["usage"]))
                    failure = msg.get("failed")
                    if failure is not None:  # the unit's model calls failed after all retries
                        if failure.key not in done:
                            done.add(failure.key)
                            advance(True)
                            _write_failure(sink, failure)
                        continue
                    rows = msg["rows"]
                    if not rows:
                        continue
                    key = unit_key(rows[0])
                    if key in done:
                        continue
                    sink.write_unit(rows)
                    done.add(key)
                    advance(False)
        finally:
            for gen in running:
                try:
                    ray.cancel(gen, force=True)
                except Exception:
                    pass
        return usage, retries


def _write_failure(sink: Sink, failure: UnitFailure) -> None:
    write_failure = getattr(sink, "write_failure", None)
    if write_failure is None:  # a sink that cannot record failures: stop as before
        raise RequestFailedError(failure.message)
    write_failure(failure)


class _ProgressBar:
    """Context manager yielding an ``advance(failed=False)`` callable (a rich bar on a TTY, else a no-op)."""

    def __init__(self, enabled: bool, total: int, concurrency: int = 1) -> None:
        self.enabled = progress_enabled(enabled)
        self.total = total
        self.concurrency = concurrency
        self._bar: UnitProgress | None = None

    def __enter__(self) -> Callable[..., None]:
        if not self.enabled:
            return lambda failed=False: None
        self._bar = UnitProgress("ray: units", self.total, concurrency=self.concurrency).__enter__()
        bar = self._bar
        return lambda failed=False: bar.unit_done(None, None, failed)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


__all__ = ["INSTALL_HINT", "RayExecutor", "ScaleError", "check_address", "connect", "require_ray", "run_shard"]
