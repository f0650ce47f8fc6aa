"""Benchmark of the LLM layer (prints the numbers; writes docs/results/llm.json, see --results).

Measures, with the embedded SmolLM2-135M-Instruct (Q4_1) unless --model says otherwise:
  * generation throughput (completion tokens/s) and prompt evaluation (prompt tokens/s);
  * option scoring calls/s with 4 and 10 letter options, for a fresh prompt each call and for the
    common ValueSim case "same persona, next question" (the KV-cache prefix is reused);
  * the same 4-option scoring done the naive way (logits_all=True, whole prompt+option per option);
  * peak RSS of the process;
  * HTTP overhead: the same calls through llama-cpp-python's OpenAI-compatible server on 127.0.0.1
    (subprocess, same thread count) vs in-process;
  * the cost of a cache hit (microseconds), and of computing a cache key.

Usage:  python benchmarks/bench_llm.py [--calls 20] [--threads 1] [--skip-http] [--json out.json] [--results llm]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from valuesim.llm import ChatMessage, GenerateConfig, get_model
from valuesim.llm.backends.local import default_model_path, load
from valuesim.llm.cache import request_key

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _results  # noqa: F401  (records the commit now, at start)

PERSONA = (
    "You are a 46-year-old woman who lives in a mid-sized town. You finished secondary school and "
    "trained as a nurse, and you have worked in the regional hospital for twenty years. You are "
    "married with two teenage children, and your elderly mother lives with you. Money is tight but "
    "you get by; you describe your household as lower middle class. You go to religious services "
    "on major holidays. You trust your neighbours and colleagues more than national institutions, "
    "you vote in most elections, and you worry about the cost of living and about the future your "
    "children will have. In your free time you tend a small garden and help at a community kitchen. "
    "Answer every question as this person would, in the first person, honestly and briefly."
)
QUESTIONS = [
    "How important is {topic} in your life?",
    "Would you say that {topic} matters more or less to you than ten years ago?",
    "How much confidence do you have in {topic}?",
    "How often do you think about {topic}?",
]
TOPICS = [
    "family",
    "friends",
    "leisure time",
    "politics",
    "work",
    "religion",
    "the police",
    "the courts",
    "the press",
    "labour unions",
    "the government",
    "the armed forces",
    "charitable organisations",
    "universities",
    "banks",
    "the environment",
    "science",
    "the internet",
    "your neighbourhood",
    "your country",
    "tradition",
    "hard work",
]
LETTERS = "ABCDEFGHIJ"


def question(i: int, k: int) -> list[ChatMessage]:
    q = QUESTIONS[i % len(QUESTIONS)].format(topic=TOPICS[i % len(TOPICS)]) + f" (item {i})"
    opts = "\n".join(f"{LETTERS[j]}. option {j + 1}" for j in range(k))
    return [ChatMessage("system", PERSONA), ChatMessage("user", f"{q}\n{opts}\nAnswer with the letter only.")]


def fresh_question(i: int, k: int) -> list[ChatMessage]:
    """A prompt that shares no prefix with the previous one (the persona text is varied first)."""
    msgs = question(i, k)
    return [ChatMessage("system", f"[respondent {i}] " + msgs[0].content), msgs[1]]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def timed(fn: Callable[[], Any], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def bench_generation(spec: str, n: int, **kw: Any) -> dict[str, float]:
    model = get_model(spec, cache=False, **kw)
    model.generate_sync("Hi", GenerateConfig(max_tokens=4))  # load + warm up
    model.reset_usage()
    start = time.perf_counter()
    for i in range(n):
        model.generate_sync(
            fresh_question(i, 4)[:1] + [ChatMessage("user", f"Describe your week ({i}).")],
            GenerateConfig(max_tokens=64, stop=()),
        )
    wall = time.perf_counter() - start
    u = model.usage
    return {
        "calls": u.calls,
        "completion_tokens": u.completion_tokens,
        "prompt_tokens": u.prompt_tokens,
        "s_per_call": wall / n,
        "tokens_per_s_end_to_end": u.completion_tokens / wall,
    }


def bench_prompt_eval(path: Path, threads: int) -> float:
    loaded = load(path, 4096, threads)
    text = loaded.render(fresh_question(10_000, 4)).text
    tokens = loaded.tokenize(text, True)
    with loaded.lock:
        loaded.llm.reset()
        start = time.perf_counter()
        loaded.llm.eval(tokens)
        dt = time.perf_counter() - start
    return len(tokens) / dt


def bench_scoring(spec: str, k: int, n: int, fresh: bool, **kw: Any) -> float:
    model = get_model(spec, cache=False, **kw)
    make = fresh_question if fresh else question
    model.score_choices_sync(make(-1, k), list(LETTERS[:k]))  # warm up (and fill the persona prefix)
    start = time.perf_counter()
    for i in range(n):
        res = model.score_choices_sync(make(i, k), list(LETTERS[:k]))
        assert res.source == "logprobs" and math.isclose(sum(res.probs), 1.0)
    return n / (time.perf_counter() - start)


def bench_naive_scoring(path: Path, threads: int, n: int) -> float:
    """Per option: evaluate prompt+option in full with logits for every position (logits_all)."""
    from llama_cpp import Llama

    llm = Llama(str(path), n_ctx=1024, n_threads=threads, n_threads_batch=threads, logits_all=True, verbose=False)
    loaded = load(path, 4096, threads)  # only for its chat template
    start = time.perf_counter()
    for i in range(n):
        text = loaded.render(fresh_question(i, 4)).text
        prompt = llm.tokenize(text.encode(), add_bos=False, special=True)
        for letter in LETTERS[:4]:
            full = llm.tokenize((text + letter).encode(), add_bos=False, special=True)
            llm.reset()
            llm.eval(full)
            row = llm.scores[len(prompt) - 1]
            _ = float(row[full[len(prompt)]] - row.max())
    rate = n / (time.perf_counter() - start)
    llm.close()
    return rate


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_http(path: Path, threads: int, n: int) -> dict[str, float]:
    port = free_port()
    log = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False)  # noqa: SIM115 (outlives this scope)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
            "--n_threads",
            str(threads),
            "--n_threads_batch",
            str(threads),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"server did not start, see {log.name}")
        out: dict[str, float] = {}
        for name, spec, kw in (
            ("http", "openai:smollm2", {"base_url": url}),
            ("in_process", "local", {"n_threads": threads, "n_ctx": 4096}),
        ):
            out[f"{name}_score4_per_s"] = bench_scoring(spec, 4, n, fresh=False, **kw)
            gen = bench_generation(spec, max(3, n // 4), **kw)
            out[f"{name}_gen_s_per_call"] = gen["s_per_call"]
            out[f"{name}_gen_tokens_per_s"] = gen["tokens_per_s_end_to_end"]
        out["score4_overhead_ms_per_call"] = 1000 * (1 / out["http_score4_per_s"] - 1 / out["in_process_score4_per_s"])
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def bench_cache(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        model = get_model("mock", cache=d)
        prompts = [fresh_question(i, 4) for i in range(n)]
        for p in prompts:
            model.generate_sync(p)
        sync_hit = timed(lambda: model.generate_sync(prompts[7]), n)

        import asyncio

        async def hits() -> float:
            start = time.perf_counter()
            for p in prompts:
                r = await model.generate(p)
                assert r.cached
            return (time.perf_counter() - start) / n

        async_hit = asyncio.run(hits())
        req = {
            "op": "generate",
            "model": "gguf-sha256:" + "0" * 64,
            "messages": [m.to_dict() for m in prompts[0]],
            "config": GenerateConfig().to_dict(),
        }
        key_cost = timed(lambda: request_key(req), n)
        cache = model.cache
        assert cache is not None  # get_model(..., cache=d) always has one
        lookup = timed(lambda: cache.get(request_key(req)), n)
    return {
        "hit_us_async": 1e6 * async_hit,
        "hit_us_sync_wrapper": 1e6 * sync_hit,
        "key_us": 1e6 * key_cost,
        "sqlite_miss_lookup_us": 1e6 * lookup,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=20, help="calls per measurement")
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: the library default)")
    ap.add_argument("--skip-http", action="store_true")
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--results", default="llm", help="write docs/results/NAME.json ('' = do not write)")
    args = ap.parse_args()

    from valuesim.llm.backends.local import default_threads

    threads = args.threads or default_threads()
    path = default_model_path()
    results: dict[str, Any] = {
        "model": path.name,
        "threads": threads,
        "cores": os.cpu_count(),
        "loadavg_start": os.getloadavg()[0],
        "rss_mb_before_model": peak_rss_mb(),
    }
    kw = {"n_threads": threads}
    results["generation"] = bench_generation("local", max(3, args.calls // 4), **kw)
    results["prompt_eval_tokens_per_s"] = bench_prompt_eval(path, threads)
    results["score4_same_persona_per_s"] = bench_scoring("local", 4, args.calls, fresh=False, **kw)
    results["score10_same_persona_per_s"] = bench_scoring("local", 10, args.calls, fresh=False, **kw)
    results["score4_fresh_prompt_per_s"] = bench_scoring("local", 4, max(3, args.calls // 4), fresh=True, **kw)
    results["score10_fresh_prompt_per_s"] = bench_scoring("local", 10, max(3, args.calls // 4), fresh=True, **kw)
    results["peak_rss_mb_in_process"] = peak_rss_mb()
    if not args.skip_naive:
        results["score4_naive_logits_all_fresh_per_s"] = bench_naive_scoring(path, threads, max(3, args.calls // 4))
        results["peak_rss_mb_after_naive"] = peak_rss_mb()
    if not args.skip_http:
        results["http_vs_in_process"] = bench_http(path, threads, args.calls)
    results["cache"] = bench_cache(1000)
    results["loadavg_end"] = os.getloadavg()[0]

    results = _rounded(results)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.results:
        from _results import save_results

        save_results(
            args.results,
            {"speed": results_table(results, args.calls)},
            data="no survey data: fixed English prompts in benchmarks/bench_llm.py",
            raw=results,
        )


def results_table(r: dict[str, Any], calls: int) -> dict[str, Any]:
    """The measures as rows of one table (``Measure | value``)."""
    from _results import table

    def get(*keys: str) -> Any:
        cur: Any = r
        for k in keys:
            cur = cur.get(k) if isinstance(cur, dict) else None
        return cur

    def num(value: Any, digits: int = 2) -> str | None:
        return None if value is None else f"{value:.{digits}f}"

    http, inproc = get("http_vs_in_process", "http_score4_per_s"), get("http_vs_in_process", "in_process_score4_per_s")
    rows: list[list[Any]] = [
        [
            "generation, completion tokens/s (64-token answers, end to end)",
            num(get("generation", "tokens_per_s_end_to_end"), 1),
        ],
        ["prompt evaluation, tokens/s", num(r.get("prompt_eval_tokens_per_s"), 0)],
        ["scoring, 4 options, same persona next question (calls/s)", num(r.get("score4_same_persona_per_s"))],
        ["scoring, 10 options, same persona next question (calls/s)", num(r.get("score10_same_persona_per_s"))],
        ["scoring, 4 options, fresh ~190-token prompt (calls/s)", num(r.get("score4_fresh_prompt_per_s"))],
        ["scoring, 10 options, fresh prompt (calls/s)", num(r.get("score10_fresh_prompt_per_s"))],
        ["scoring, 4 options, naive logits_all (calls/s)", num(r.get("score4_naive_logits_all_fresh_per_s"), 3)],
        ["peak RSS in-process, MB", num(r.get("peak_rss_mb_in_process"), 0)],
        ["peak RSS after also loading a logits_all context (n_ctx=1024), MB", num(r.get("peak_rss_mb_after_naive"), 0)],
        [
            "HTTP server vs in-process, 4-option scoring (calls/s)",
            f"{http:.2f} vs {inproc:.2f}" if http is not None and inproc is not None else None,
        ],
        [
            "cache hit, async / through the sync wrapper (µs)",
            f"{get('cache', 'hit_us_async'):.0f} / {get('cache', 'hit_us_sync_wrapper'):.0f}",
        ],
        ["computing a cache key (µs)", num(get("cache", "key_us"), 0)],
    ]
    caption = (
        f"Model {r['model']}, llama.cpp {_llama_version()}, {r['threads']} thread(s), {calls} calls per measure; "
        f"{r['cores']} cores, load average {r['loadavg_start']:.1f} at the start and {r['loadavg_end']:.1f} at the end "
        "(absolute speeds drop several-fold on a busy machine; ratios are the useful part)."
    )
    return table(caption, ["measure", "value"], rows)


def _llama_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError:
        return "unknown"


def _rounded(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, 3 if abs(obj) < 100 else 1)
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    return obj


if __name__ == "__main__":
    main()
