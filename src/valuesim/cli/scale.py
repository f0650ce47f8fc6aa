"""`valuesim scale ...`: pre-flight checks of a cluster set-up, and a mock model server.

The distributed run itself is `valuesim bench ... --executor ray`; see docs/scale.md.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from valuesim._redact import redact_text
from valuesim.errors import ConfigError

scale_app = typer.Typer(help="Scale-out helpers: check Ray and model servers, run a mock server.", no_args_is_help=True)
console = Console()


@scale_app.command("check")
def check(
    ray_address: str | None = typer.Option(
        None, "--ray-address", help='Ray cluster to inspect ("auto", HOST:PORT or ray://HOST:PORT).'
    ),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server URL(s), comma-separated."),
    model: str | None = typer.Option(None, "--model", help="Model name to test on each server (openai:NAME or NAME)."),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds to wait for each server."),
) -> None:
    """Check model servers (one 1-token completion each) and/or the Ray cluster's nodes.

    Example: valuesim scale check --ray-address auto --base-url http://gpu1:8000/v1,http://gpu2:8000/v1 --model openai:qwen
    """
    if ray_address is None and base_url is None:
        raise ConfigError("Nothing to check.", "Pass --ray-address and/or --base-url (with --model).")
    failed = False
    if base_url is not None:
        from valuesim.scale.check import check_endpoints

        name = model.split(":", 1)[1] if model and model.startswith("openai:") else model
        reports = check_endpoints(base_url, name, timeout=timeout)
        table = Table(title="Model servers", title_justify="left")
        for col in ("url", "status", "latency", "models served"):
            table.add_column(col)
        for r in reports:
            served = ", ".join(r.models[:5]) + (" ..." if len(r.models) > 5 else "") if r.models else "?"
            latency = f"{r.latency_s * 1000:.0f} ms" if r.latency_s is not None else "-"
            status = "[green]ok[/]" if r.ok else f"[red]{r.error or 'failed'}[/]"
            table.add_row(escape(redact_text(r.url)), status, latency, served)
            failed |= not r.ok
        console.print(table)
    if ray_address is not None:
        from valuesim.scale.check import cluster_report

        rep = cluster_report(ray_address)
        table = Table(title=f"Ray cluster: {rep['cpus']:g} CPUs, {rep['gpus']:g} GPUs", title_justify="left")
        for col in ("node", "CPUs", "GPUs", "valuesim", "python", "problem"):
            table.add_column(col)
        versions = {n.get("valuesim") for n in rep["nodes"] if n.get("valuesim")}
        for n in rep["nodes"]:
            table.add_row(
                str(n.get("address")),
                f"{n['cpus']:g}",
                f"{n['gpus']:g}",
                str(n.get("valuesim", "-")),
                str(n.get("python", "-")),
                n.get("error") or "",
            )
            failed |= bool(n.get("error"))
        console.print(table)
        if len(versions) > 1:
            console.print(f"[red]Different valuesim versions on the nodes: {', '.join(sorted(versions))}[/]")
            failed = True
    if failed:
        raise typer.Exit(1)


@scale_app.command("mock-server")
def mock_server(
    port: int = typer.Option(8001, "--port", min=0, max=65535, help="TCP port (0: any free port)."),
    host: str = typer.Option("127.0.0.1", "--host"),
    model: str = typer.Option("mock", "--model", help="Model name the server answers to."),
    latency: float = typer.Option(0.0, "--latency", help="Seconds added to every request."),
    slots: int | None = typer.Option(None, "--slots", help="Requests served at once (default: unlimited)."),
    seed: int = typer.Option(0, "--seed"),
    count_tokens: str | None = typer.Option(
        None, "--count-tokens", help="Count every request's tokens with: embedded (SmolLM2), bytes, or a .gguf path."
    ),
    log: Path | None = typer.Option(None, "--log", help="Append one JSON line per request (needs --count-tokens)."),
    answer_model: str | None = typer.Option(
        None, "--answer-model", help="Answer with this model spec (e.g. local) instead of the mock."
    ),
    fault_rate: float = typer.Option(
        0.0, "--fault-rate", help="Share of requests answered with a fault (0-1), to test a run's resilience."
    ),
    faults: str = typer.Option("429,500,503,stall", "--faults", help="Fault kinds: 429, 500, 503, stall."),
    fault_seed: int = typer.Option(0, "--fault-seed", help="Seed of which requests fail."),
    stall_seconds: float = typer.Option(3.0, "--stall-seconds", help="Length of a stall (beyond the client timeout)."),
    retry_after: float = typer.Option(1.0, "--retry-after", help="Retry-After seconds sent with an HTTP 429."),
) -> None:
    """Serve the mock model over the OpenAI API, for dry runs of a cluster set-up without GPUs.

    With --count-tokens it is a counting server: each request's prompt tokens as sent, as
    computed under an ideal prefix cache, and its completion tokens (see docs/scale.md).
    With --fault-rate it is a flaky server: a seeded share of requests gets HTTP 429 (with
    Retry-After), 500, 503 or a stall, to try how a long run copes (see docs/benchmark.md)."""
    from valuesim.scale.faults import FaultInjector, parse_kinds
    from valuesim.scale.mockserver import MockServer
    from valuesim.scale.tokencount import RequestLog, make_tokenizer

    if latency < 0 or (slots is not None and slots < 1):
        raise ConfigError("--latency must be >= 0 and --slots >= 1.")
    if log is not None and count_tokens is None:
        raise ConfigError("--log needs --count-tokens.", "E.g. --count-tokens embedded --log requests.jsonl")
    request_log = RequestLog(make_tokenizer(count_tokens), log) if count_tokens else None
    answerer = None
    if answer_model:
        from valuesim.llm import get_model

        answerer = get_model(answer_model)
    injector = None
    if fault_rate:
        try:
            injector = FaultInjector(
                rate=fault_rate,
                kinds=parse_kinds(faults),
                seed=fault_seed,
                stall_seconds=stall_seconds,
                retry_after=retry_after,
            )
        except ValueError as e:
            raise ConfigError(f"Bad fault settings: {e}.", "E.g. --fault-rate 0.3 --faults 429,500,503,stall") from None
    try:
        server = MockServer(
            host=host,
            port=port,
            model=model,
            seed=seed,
            latency=latency,
            slots=slots,
            log=request_log,
            answer_model=answerer,
            faults=injector,
        )
    except OSError as e:
        raise ConfigError(f"Cannot listen on {host}:{port}: {e}", "Pick another --port.") from None
    console.print(f"Mock model {model!r} at {server.url} -- use --model openai:{model} --base-url {server.url}")
    if injector is not None:
        console.print(f"Injecting faults into {fault_rate:.0%} of requests ({', '.join(injector.kinds)}).")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


def register(app: typer.Typer) -> None:
    """Add the `scale` command group to *app*."""
    app.add_typer(scale_app, name="scale")
