"""Choosing an executor for the benchmark runner by name (what the CLI's --executor maps to)."""

from __future__ import annotations

from valuesim.bench.execute import Executor, run_units
from valuesim.errors import ConfigError

EXECUTORS = ("local", "ray")


def get_executor(
    name: str = "local",
    *,
    address: str | None = None,
    num_workers: int | None = None,
    respondents_per_shard: int | None = None,
    cpus_per_worker: float = 1.0,
    max_retries: int = 3,
    connect: bool = True,
) -> Executor:
    """``"local"``: the runner's in-process executor; ``"ray"``: a :class:`RayExecutor`.

    For Ray, an explicit ``address`` ("auto", HOST:PORT, ray://HOST:PORT) is connected to
    right away (``connect=True``), so a missing or unreachable cluster is reported before any
    work starts; without an address a private local Ray instance is started on first use.
    Raises ConfigError for an unknown name, options given to the local executor, or a
    missing ``ray`` package (with the install hint).
    """
    key = (name or "local").strip().lower()
    if key in ("local", "inprocess", "in-process"):
        if address is not None or num_workers is not None:
            raise ConfigError(
                "--ray-address and --workers apply to --executor ray only.",
                "Add --executor ray, or drop those options.",
            )
        return run_units
    if key == "ray":
        from valuesim.scale.ray_executor import RayExecutor, require_ray

        require_ray()
        executor = RayExecutor(
            address=address,
            num_workers=num_workers,
            respondents_per_shard=respondents_per_shard,
            cpus_per_worker=cpus_per_worker,
            max_retries=max_retries,
        )
        if connect and address is not None:
            executor.connect()
        return executor
    raise ConfigError(f"Unknown executor {name!r}.", f"Use one of: {', '.join(EXECUTORS)}.")


__all__ = ["EXECUTORS", "get_executor"]
