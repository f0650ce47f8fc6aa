"""Scale-out: benchmark runs sharded over a Ray cluster, and model endpoint pools.

>>> from valuesim.scale import get_executor
>>> run_benchmark(data, method, cfg, "runs/x", executor=get_executor("ray", address="auto"))  # doctest: +SKIP

See docs/scale.md for the cluster recipe (Ray head/workers, vLLM servers, --base-url lists).
The endpoint pool itself is a model backend: :mod:`valuesim.llm.backends.pool`.
"""

from __future__ import annotations

from valuesim.scale.executors import EXECUTORS, get_executor
from valuesim.scale.shards import Shard, auto_shard_size, make_shards

__all__ = ["EXECUTORS", "Shard", "auto_shard_size", "get_executor", "make_shards"]


def __getattr__(name: str):  # the Ray parts load lazily: ray is an optional extra
    if name in ("RayExecutor", "ScaleError", "connect"):
        from valuesim.scale import ray_executor

        return getattr(ray_executor, name)
    raise AttributeError(name)
