"""`valuesim view`: serve the local web viewer over run directories (and the survey)."""

from __future__ import annotations

import errno
import ipaddress
import socket
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from valuesim.cli._data import CODEBOOK_HELP
from valuesim.cli._help import API_KEY_HELP, NO_CACHE_HELP
from valuesim.errors import ConfigError

err_console = Console(stderr=True)

LOOPBACK_NAMES = frozenset({"localhost"})
#: Host headers a loopback-bound viewer answers (anything else: 400, against DNS rebinding)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind the listening socket now, so a port in use is a clear error before anything loads."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a TCP port.", "Use a number from 1 to 65535, e.g. --port 8765.")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise ConfigError(
            f"Cannot resolve --host {host!r}: {e.strerror}.", "Use an address such as 127.0.0.1."
        ) from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"Port {port} on {host} is already in use.",
                f"Stop the other server, or pick another port: --port {port + 1}.",
            ) from None
        raise ConfigError(f"Cannot listen on {host}:{port}: {e.strerror or e}.", "Check --host and --port.") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def view(
    run_dirs: list[Path] = typer.Argument(None, help="Run directories written by `valuesim bench --out DIR`."),
    data: str | None = typer.Option(
        None, "--data", help="WVS-7 file or folder (or synthetic:N): people's records and backstories, Ask."
    ),
    codebook: str | None = typer.Option(None, "--codebook", help=CODEBOOK_HELP),
    model: str | None = typer.Option(
        None, "--model", help="Model spec that enables the Ask page: local, local:PATH, openai:NAME, mock."
    ),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server URL (openai:NAME models)."),
    api_key: str | None = typer.Option(None, "--api-key", help=API_KEY_HELP),
    no_cache: bool = typer.Option(False, "--no-cache", help="Ask: " + NO_CACHE_HELP[0].lower() + NO_CACHE_HELP[1:]),
    port: int = typer.Option(8765, "--port", help="TCP port."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to listen on; anything but loopback exposes the viewer without a password."
    ),
) -> None:
    """Explore runs, questions, people and their predictions in a local web app.

    Example: valuesim view runs/knn runs/supervised --data WVS_Cross-National_Wave_7_csv_v6_0.csv
    """
    from valuesim.cli._data import load_data
    from valuesim.survey.codebook import load_codebook
    from valuesim.view import RunStore, create_app

    paths = list(run_dirs or [])
    if not paths and data is None:
        raise ConfigError(
            "Nothing to view: give run directories and/or --data.",
            "E.g. valuesim view runs/knn runs/supervised --data WVS_FILE",
        )
    model_options: dict[str, Any] | None = None
    if model is not None:
        from valuesim.cli.bench import model_flags
        from valuesim.llm.model import parse_spec

        parse_spec(model)  # an unknown spec is a ConfigError here, before the viewer starts
        model_options = model_flags({}, None, model=model, base_url=base_url, api_key=api_key, no_cache=no_cache)
    elif base_url is not None or api_key is not None or no_cache:
        raise ConfigError(
            "--base-url, --api-key and --no-cache go with --model (the Ask page's model).", "Add --model."
        )
    if model is not None and data is None:
        err_console.print("[yellow]Note:[/] Ask needs the person's answers: add --data to enable it.", highlight=False)
    sock = bind_socket(host, port)
    try:
        t0 = time.perf_counter()
        survey = load_data(data, codebook=codebook) if data is not None else None
        if survey is not None:
            book = survey.codebook
        else:  # the codebook the runs were made with (a survey other than WVS-7 is in their manifests)
            from valuesim.bench.rundir import open_run, shared_codebook

            book = shared_codebook([open_run(p) for p in paths]) if paths else load_codebook()
        store = RunStore(paths, book)
        app = create_app(
            store,
            survey=survey,
            model_options=model_options if survey is not None else None,
            allowed_hosts=sorted(LOOPBACK_HOSTS | {host}) if is_loopback(host) else None,
        )
        err_console.print(
            f"Loaded {len(store)} run{'s' if len(store) != 1 else ''}"
            + (f" and {len(survey):,} respondents from {survey.source}" if survey is not None else "")
            + f" in {time.perf_counter() - t0:.1f} s.",
            highlight=False,
            soft_wrap=True,
        )
        if not is_loopback(host):
            err_console.print(
                f"[bold yellow]Warning:[/] listening on {escape(host)}, not loopback: anyone who can reach this "
                "address can read every run, every person's record and answers"
                + (" and, on the Ask page, run your model (spending its calls)" if model_options is not None else "")
                + " -- there is no authentication, and the Host-header check that stops other web pages "
                "from reaching the viewer (DNS rebinding) is off. Use --host 127.0.0.1 unless that is intended.",
                highlight=False,
                soft_wrap=True,
            )
        shown = f"[{host}]" if ":" in host else host
        err_console.print(f"[bold]valuesim view[/] at http://{shown}:{port}/  (Ctrl+C to stop)", highlight=False)
        serve(app, sock)
    finally:
        sock.close()


def serve(app: Any, sock: socket.socket) -> None:
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    server.run(sockets=[sock])


def register(app: typer.Typer) -> None:
    """Add `valuesim view` to *app*."""
    app.command("view")(view)
