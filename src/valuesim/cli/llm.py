"""`valuesim llm`: check that a model spec works, inspect or clear the response cache."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from valuesim._redact import redact_text
from valuesim.llm.cache import CachePolicy
from valuesim.llm.model import get_model, open_cache
from valuesim.llm.types import ChatMessage, GenerateConfig

console = Console()
llm_app = typer.Typer(help="Language models: check a model spec, manage the response cache.", add_completion=False)

CHECK_MESSAGES = [
    ChatMessage("system", "You answer survey questions briefly."),
    ChatMessage("user", "Is a cat an animal?\nA. Yes\nB. No\nAnswer with the letter only."),
]


@llm_app.command("check")
def check(
    model: str = typer.Option("local", "--model", "-m", help="Model spec: local, local:/x.gguf, openai:<name>, mock."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server (else OPENAI_BASE_URL)."),
    api_key: str | None = typer.Option(None, "--api-key", help="API key (else OPENAI_API_KEY)."),
    timeout: float = typer.Option(
        60.0, "--timeout", help="Wall-clock seconds per attempt of a request (a request cut off 3 times gives up)."
    ),
) -> None:
    """Run one generation and one choice scoring (uncached) and report what happened."""
    m = get_model(model, base_url=base_url, api_key=api_key, cache=False, timeout=timeout, max_retries=1)
    start = time.perf_counter()
    gen = m.generate_sync(CHECK_MESSAGES, GenerateConfig(max_tokens=16))
    mid = time.perf_counter()
    choice = m.score_choices_sync(CHECK_MESSAGES, ["A", "B"])
    end = time.perf_counter()
    table = Table(title=f"valuesim llm check: {redact_text(m.spec)}", show_header=False)
    table.add_row("generation", repr(gen.text.strip()[:80]))
    table.add_row("generation seconds", f"{mid - start:.2f}")
    table.add_row("choice probs (A, B)", ", ".join(f"{p:.3f}" for p in choice.probs))
    table.add_row("choice source", choice.source + ("" if choice.source == "logprobs" else " (no log-probs: one-hot)"))
    table.add_row("choice seconds", f"{end - mid:.2f}")
    table.add_row("usage", str(m.usage.to_dict()))
    console.print(table)


@llm_app.command("cache")
def cache(
    directory: Path | None = typer.Option(
        None, "--dir", help="Cache directory (else VALUESIM_CACHE_DIR or ~/.cache/valuesim)."
    ),
    clear: bool = typer.Option(False, "--clear", help="Delete every cached response."),
) -> None:
    """Show where the response cache is and how many entries it holds (or clear it)."""
    if clear:  # also when the database is damaged and cannot be opened
        from valuesim.errors import ConfigError
        from valuesim.llm.cache import CACHE_FILE, remove_cache_files

        folder = CachePolicy(directory=directory).resolved_dir()
        try:
            store = open_cache(CachePolicy(directory=directory))
            assert store is not None
            n = len(store)
            store.clear()
        except ConfigError:
            if not (folder / CACHE_FILE).exists():
                raise
            removed = remove_cache_files(folder)
            typer.echo(f"The cache database in {folder} was damaged; removed {', '.join(p.name for p in removed)}.")
            return
        typer.echo(f"Cleared {n} cached responses from {store.path}")
        return
    store = open_cache(CachePolicy(directory=directory))
    assert store is not None
    files = [store.path, store.path.with_name(store.path.name + "-wal")]
    size = sum(f.stat().st_size for f in files if f.exists())
    typer.echo(f"{store.path}: {len(store)} cached responses, {size / 1e6:.1f} MB")


def register(app: typer.Typer) -> None:
    app.add_typer(llm_app, name="llm")
