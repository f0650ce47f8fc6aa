"""Pre-flight checks for a distributed run: are the model servers answering, and is the Ray
cluster what you think it is (nodes, CPUs, GPUs, the same valuesim on every node)?

Used by ``valuesim scale check``; both functions return plain data for scripts too.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from valuesim.errors import ModelError
from valuesim.llm.backends.openai import OpenAIBackend
from valuesim.llm.backends.pool import split_base_urls
from valuesim.llm.types import ChatMessage, GenerateConfig


@dataclass
class EndpointReport:
    url: str
    ok: bool
    models: list[str] | None  # what /models lists (None: the server does not say)
    latency_s: float | None  # one 1-token completion, when a model name was given
    error: str | None = None


async def _check_one(url: str, model: str | None, timeout: float) -> EndpointReport:
    backend = OpenAIBackend(model or "-", base_url=url, timeout=timeout)
    try:
        served = await backend.list_models()
        if model is None:
            ok = served is not None
            return EndpointReport(url, ok, served, None, None if ok else "no answer from /models")
        t0 = time.perf_counter()
        try:
            await backend.generate((ChatMessage("user", "Say OK."),), GenerateConfig(max_tokens=1))
        except ModelError as e:
            return EndpointReport(url, False, served, None, e.message)
        return EndpointReport(url, True, served, time.perf_counter() - t0)
    finally:
        await backend.aclose()


def check_endpoints(
    base_urls: str | list[str], model: str | None = None, timeout: float = 30.0
) -> list[EndpointReport]:
    """Ask every server for its model list and, given *model*, for a 1-token completion."""
    urls = split_base_urls(base_urls)

    async def run() -> list[EndpointReport]:
        return list(await asyncio.gather(*(_check_one(u, model, timeout) for u in urls)))

    return asyncio.run(run())


def _node_info() -> dict[str, Any]:
    import os
    import platform
    import sys

    from valuesim import __version__

    return {"host": platform.node(), "pid": os.getpid(), "python": sys.version.split()[0], "valuesim": __version__}


def cluster_report(address: str | None = None) -> dict[str, Any]:
    """Resources of the Ray cluster and, per alive node, the valuesim version a worker there imports."""
    from valuesim.scale.ray_executor import connect

    ray = connect(address)
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    probe = ray.remote(num_cpus=0)(_node_info)
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    refs = [
        probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote()
        for n in nodes
    ]
    out_nodes = []
    for n, ref in zip(nodes, refs, strict=True):
        try:
            info = ray.get(ref, timeout=120)
            error = None
        except Exception as e:
            info, error = {}, f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
        res = n.get("Resources", {})
        out_nodes.append(
            {
                "address": n.get("NodeManagerAddress"),
                "cpus": res.get("CPU", 0),
                "gpus": res.get("GPU", 0),
                **info,
                "error": error,
            }
        )
    total = ray.cluster_resources()
    return {"cpus": total.get("CPU", 0), "gpus": total.get("GPU", 0), "nodes": out_nodes}


__all__ = ["EndpointReport", "check_endpoints", "cluster_report"]
