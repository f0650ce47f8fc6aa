"""Run a job from the command line and print what it says: one helper for every run command
(`valuesim bench`, `valuesim simulate`, `valuesim experiment paper`, `valuesim demo`).

Everything a run prints comes from text the user or the data chose -- paths (``--out
'runs/X[/x]'``), survey sources, question wordings, model specs with credentials in a server
URL -- so every line is escaped (never read as rich markup) and redacted (no secret on the
terminal). Warnings raised during the run become one yellow line each; the run's notes follow
it (those not already shown as warnings); Ctrl-C says what was kept and exits 130.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from valuesim._redact import redact_text

T = TypeVar("T")

err_console = Console(stderr=True)


def safe(text: Any) -> str:
    """*text* redacted and escaped, to be embedded in a rich markup line."""
    return escape(redact_text(str(text)))


def say(text: str, *, style: str | None = None, markup: str = "") -> None:
    """One status line on stderr: *markup* (the caller's own rich markup) then *text*, escaped and redacted."""
    body = safe(text)
    err_console.print(markup + (f"[{style}]{body}[/]" if style else body), highlight=False, soft_wrap=True)


def note(text: str) -> None:
    say(text, markup="[cyan]Note:[/] ")


@contextlib.contextmanager
def warnings_to_console(shown: set[str]) -> Iterator[None]:
    """Print warnings raised during a run as one yellow line each (no source lines), once each;
    their texts are added to *shown*."""
    old = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        text = redact_text(str(message))
        if text not in shown:
            shown.add(text)
            say(text, markup="[yellow]Warning:[/] ")

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show
        try:
            yield
        finally:
            warnings.showwarning = old


def run_and_print(
    job: Callable[[Callable[[str], None]], T],
    *,
    interrupted: str,
    notes: Callable[[T], Iterable[str]] = lambda result: getattr(result, "notes", ()),
    style: str | None = "dim",
) -> T:
    """Run ``job(log)`` and return its result: ``log`` prints one status line (escaped, redacted,
    in *style*); warnings print as one line each, then the result's *notes* not shown as
    warnings. Ctrl-C prints "Interrupted." and *interrupted* (what was kept) and exits 130."""
    shown: set[str] = set()
    try:
        with warnings_to_console(shown):
            result = job(lambda msg: say(msg, style=style))
    except KeyboardInterrupt:
        say(interrupted, markup="[yellow]Interrupted.[/] ")
        raise typer.Exit(130) from None
    for text in notes(result):
        if redact_text(text) not in shown:
            note(text)
    return result


__all__ = ["err_console", "note", "run_and_print", "safe", "say", "warnings_to_console"]
