"""Scale-out benchmark: predictions/s with the in-process executor and with Ray at 1 and 2 workers.

Scenarios (each runs the same work units through every executor and checks that the
predictions are identical):

  mock    the ValueSim pipeline with the in-process mock model (no latency: CPU-bound; shows
          what Ray costs and what extra processes buy on this machine);
  server  the same pipeline against two mock OpenAI-compatible servers (subprocesses) that add
          --latency seconds per request, through the endpoint pool (--base-url URL1,URL2):
          a stand-in for remote GPU servers, where the client's requests in flight are the limit;
  llama   an LLM baseline against --llama-servers llama.cpp servers (`python -m llama_cpp.server`,
          embedded SmolLM2-135M, --llama-threads threads each) through the endpoint pool.

Timing covers the executor only (the units of a fixed split, already fitted method): no Ray
start-up, no metrics. Ray workers are warmed up first on other units; the best of --reps runs
is kept (machines shared with other jobs make single runs noisy).

Usage:
  python benchmarks/bench_scale.py [--scenarios mock,server,llama] [--workers 1,2]
      [--respondents 4] [--latency 0.05] [--llama-respondents 2] [--llama-units 1] [--json out.json]
      [--results scale]

The table goes to docs/results/scale.json (rendered into docs/scale.md by
``python tools/update_docs.py``; ``--results ''`` skips it).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from valuesim.bench.protocol import ProtocolConfig, build_units
from valuesim.bench.runner import FittedMethod, WorkItem, make_work_items, run_units
from valuesim.methods.base import get_method
from valuesim.scale import RayExecutor
from valuesim.scale.ray_executor import connect
from valuesim.survey import generate_synthetic, load_survey

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _results  # noqa: F401  (records the commit now, at start)


class CountingSink:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.units = 0

    def write_unit(self, rows: Sequence[dict[str, Any]]) -> None:
        self.rows.extend(rows)
        self.units += 1

    def canonical(self) -> list[tuple[Any, ...]]:
        return sorted((r["respondent"], r["fold"], r["question"], r["prediction"]) for r in self.rows)


@dataclass
class Result:
    scenario: str
    executor: str
    workers: int
    units: int
    predictions: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.predictions / self.seconds if self.seconds > 0 else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server for {url} exited with code {proc.returncode}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"server at {url} did not come up within {timeout:g}s")


@contextmanager
def servers(commands: list[list[str]], urls: list[str]) -> Iterator[list[str]]:
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for cmd in commands]
    try:
        for url, proc in zip(urls, procs, strict=True):
            wait_ready(url, proc)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def mock_server_commands(n: int, latency: float) -> tuple[list[list[str]], list[str]]:
    ports = [free_port() for _ in range(n)]
    cmds = [
        [sys.executable, "-m", "valuesim.scale.mockserver", "--port", str(p), "--latency", str(latency)] for p in ports
    ]
    return cmds, [f"http://127.0.0.1:{p}/v1" for p in ports]


def llama_server_commands(n: int, threads: int) -> tuple[list[list[str]], list[str]]:
    from valuesim.llm.backends.local import default_model_path

    gguf = str(default_model_path())
    ports = [free_port() for _ in range(n)]
    cmds = [
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            gguf,
            "--model_alias",
            "smollm2",
            "--host",
            "127.0.0.1",
            "--port",
            str(p),
            "--n_threads",
            str(threads),
            "--n_threads_batch",
            str(threads),
            "--n_ctx",
            "4096",
        ]
        for p in ports
    ]
    return cmds, [f"http://127.0.0.1:{p}/v1" for p in ports]


def measure(
    scenario: str,
    make_method: Any,
    items: list[WorkItem],
    warmup: list[WorkItem],
    workers: Sequence[int],
    concurrency: int,
    reps: int,
) -> list[Result]:
    """Run *items* in-process and on Ray with each worker count; best of *reps* runs each."""
    out = []
    reference: list[tuple[Any, ...]] | None = None
    configs: list[tuple[str, int]] = [("in-process", 1)] + [("ray", w) for w in workers]
    for name, w in configs:
        best = float("inf")
        sink = CountingSink()
        for _ in range(reps):
            method = make_method()
            if name == "in-process":
                run_units(FittedMethod(method), warmup, CountingSink(), concurrency=concurrency)
                execute: Any = run_units
            else:
                execute = RayExecutor(num_workers=w, respondents_per_shard=1)
                execute(FittedMethod(method), warmup, CountingSink(), concurrency=concurrency)  # start workers
            sink = CountingSink()
            t0 = time.perf_counter()
            execute(FittedMethod(method), items, sink, concurrency=concurrency)
            best = min(best, time.perf_counter() - t0)
        got = sink.canonical()
        if reference is None:
            reference = got
        elif got != reference:
            raise SystemExit(f"{scenario}/{name}-{w}: predictions differ from the in-process run")
        res = Result(scenario, name, w, sink.units, len(sink.rows), best)
        print(
            f"  {scenario:7s} {name:10s} workers={w}  {res.predictions:6d} predictions in {best:7.2f}s  "
            f"-> {res.per_second:8.1f} predictions/s",
            flush=True,
        )
        out.append(res)
    return out


def _burn(n: int) -> float:
    t0 = time.perf_counter()
    x = 0
    for i in range(n):
        x += i * i
    return time.perf_counter() - t0


def cpu_capacity(ray: Any, workers: int, n: int = 10_000_000) -> float:
    """How many pure-Python loops this machine runs in parallel right now (other jobs count):
    ``workers`` x (time of one loop alone) / (time of ``workers`` loops at once)."""
    burn = ray.remote(_burn)
    ray.get([burn.remote(10) for _ in range(workers)])  # start the worker processes
    alone = ray.get(burn.remote(n))
    together = max(ray.get([burn.remote(n) for _ in range(workers)]))
    return workers * alone / together


def pick_units(
    data: Any, respondents: int, folds: int, units_per_respondent: int | None, seed: int
) -> tuple[list[WorkItem], list[WorkItem]]:
    """(measured items, warm-up items) from one split of respondents+2 people."""
    split = build_units(data, ProtocolConfig(n_respondents=respondents + 2, seed=seed, folds=folds, min_valid=50))
    people = list(dict.fromkeys(u.respondent for u in split.units))
    warm_people = set(people[respondents:])
    per: dict[str, int] = {}
    chosen, warm = [], []
    for u in split.units:
        if u.respondent in warm_people:
            if u.fold == 0:
                warm.append(u)
            continue
        if units_per_respondent is None or per.get(u.respondent, 0) < units_per_respondent:
            chosen.append(u)
            per[u.respondent] = per.get(u.respondent, 0) + 1
    return make_work_items(data, chosen), make_work_items(data, warm)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenarios", default="mock,server,llama")
    p.add_argument("--workers", default="1,2", help="Ray worker counts to measure")
    p.add_argument("--data", default=None, help="WVS file/folder (default: synthetic respondents)")
    p.add_argument("--respondents", type=int, default=4, help="respondents measured (mock, server)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--method", default="valuesim", help="method of the mock and server scenarios")
    p.add_argument("--latency", type=float, default=0.05, help="seconds per request of the mock servers")
    p.add_argument("--server-concurrency", type=int, default=2, help="units in flight per worker (server scenario)")
    p.add_argument("--llama-method", default="demographics")
    p.add_argument("--llama-servers", type=int, default=2)
    p.add_argument("--llama-threads", type=int, default=1)
    p.add_argument("--llama-respondents", type=int, default=2)
    p.add_argument("--llama-units", type=int, default=1, help="units (folds) per respondent in the llama scenario")
    p.add_argument(
        "--reps",
        type=int,
        default=3,
        help="repetitions per configuration in the mock and server scenarios (best is kept; llama: 1)",
    )
    p.add_argument("--ray-address", default=None)
    p.add_argument("--json", default=None)
    p.add_argument("--results", default="scale", help="write docs/results/NAME.json ('' = do not write)")
    args = p.parse_args()
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]

    os.environ.setdefault("VALUESIM_NO_PROGRESS", "1")
    data = load_survey(args.data) if args.data else generate_synthetic(400, seed=1)
    cb = data.codebook
    ray = connect(args.ray_address, num_cpus=max(workers))
    capacity = cpu_capacity(ray, max(workers))
    print(
        f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}, "
        f"parallel capacity for {max(workers)} CPU-bound workers right now: {capacity:.2f}",
        flush=True,
    )

    results: list[Result] = []
    if "mock" in scenarios:
        items, warm = pick_units(data, args.respondents, args.folds, None, args.seed)
        print(f"mock: {args.method} with the in-process mock model, {len(items)} units", flush=True)
        results += measure(
            "mock", lambda: get_method(args.method, cb, model="mock", cache=False), items, warm, workers, 8, args.reps
        )
    if "server" in scenarios:
        items, warm = pick_units(data, args.respondents, args.folds, None, args.seed)
        cmds, urls = mock_server_commands(2, args.latency)
        with servers(cmds, urls):
            base = ",".join(urls)
            print(
                f"server: {args.method} via 2 mock servers ({args.latency * 1000:.0f} ms/request) "
                f"{args.server_concurrency} unit(s) in flight per worker, {len(items)} units",
                flush=True,
            )
            results += measure(
                "server",
                lambda: get_method(args.method, cb, model="openai:mock", base_url=base, cache=False),
                items,
                warm,
                workers,
                args.server_concurrency,
                args.reps,
            )
    if "llama" in scenarios:
        items, warm = pick_units(data, args.llama_respondents, args.folds, args.llama_units, args.seed)
        warm = warm[:1]
        cmds, urls = llama_server_commands(args.llama_servers, args.llama_threads)
        with servers(cmds, urls):
            base = ",".join(urls)
            print(
                f"llama: {args.llama_method} via {len(urls)} llama.cpp server(s) x {args.llama_threads} thread(s), "
                f"1 unit in flight per worker, {len(items)} units",
                flush=True,
            )
            results += measure(
                "llama",
                lambda: get_method(args.llama_method, cb, model="openai:smollm2", base_url=base, cache=False),
                items,
                warm,
                workers,
                1,
                1,
            )

    print("\nscenario  executor    workers  predictions  seconds  pred/s  x(ray-1)")
    for r in results:
        one = next((o for o in results if o.scenario == r.scenario and o.executor == "ray" and o.workers == 1), None)
        speed = f"{r.per_second / one.per_second:7.2f}" if one else "      -"
        print(
            f"{r.scenario:9s} {r.executor:11s} {r.workers:7d} {r.predictions:12d} {r.seconds:8.2f} "
            f"{r.per_second:7.1f} {speed}"
        )
    if args.results and results:
        from _results import save_results

        save_results(
            args.results,
            {"throughput": results_table(results, args, capacity)},
            data=data,
            raw={
                "parallel_capacity": capacity,
                "args": vars(args),
                "results": [{**r.__dict__, "per_second": r.per_second} for r in results],
            },
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(
                {
                    "cores": os.cpu_count(),
                    "load_average": os.getloadavg()[0],
                    "parallel_capacity": capacity,
                    "args": vars(args),
                    "results": [{**r.__dict__, "per_second": r.per_second} for r in results],
                },
                f,
                indent=1,
            )


def results_table(results: list[Result], args: argparse.Namespace, capacity: float) -> dict[str, Any]:
    """One row per scenario, one column per executor configuration (pred/s, speed-up vs Ray 1 worker)."""
    from _results import table

    what = {
        "mock": f"`mock`: {args.method} pipeline, in-process mock model (CPU-bound)",
        "server": f"`server`: {args.method} pipeline, 2 mock servers at {args.latency * 1000:.0f} ms/request, "
        f"{args.server_concurrency} units in flight per worker",
        "llama": f"`llama`: `{args.llama_method}` baseline, {args.llama_servers} llama.cpp servers "
        f"(SmolLM2-135M, {args.llama_threads} thread(s) each)",
    }
    configs = list(dict.fromkeys((r.executor, r.workers) for r in results))
    columns = [
        "scenario",
        *[("in-process" if e != "ray" else f"Ray, {w} worker{'s' if w > 1 else ''}") for e, w in configs],
    ]
    rows: list[list[Any]] = []
    for scenario in dict.fromkeys(r.scenario for r in results):
        mine = {(r.executor, r.workers): r for r in results if r.scenario == scenario}
        one = mine.get(("ray", 1))
        cells: list[Any] = []
        for cfg in configs:
            r = mine.get(cfg)
            if r is None:
                cells.append(None)
                continue
            speed = f" (x{r.per_second / one.per_second:.2f})" if one and cfg[0] == "ray" and cfg[1] > 1 else ""
            cells.append(f"{r.per_second:.1f} pred/s{speed}")
        n = next(iter(mine.values())).predictions
        rows.append([f"{what.get(scenario, scenario)}, {n:,} predictions", *cells])
    caption = (
        f"Predictions per second (executor only, after warm-up; mock/server best of {args.reps} runs, llama 1 run); "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, parallel capacity {capacity:.2f} "
        "(2.0 = two idle cores). Every executor gave identical predictions."
    )
    return table(caption, columns, rows)


if __name__ == "__main__":
    main()
