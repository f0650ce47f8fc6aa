"""The `valuesim` command line. Each stage registers its commands from its own module."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from valuesim._redact import redact_text
from valuesim.cli._help import fix_help_rendering
from valuesim.errors import ValueSimError, os_error

fix_help_rendering()

app = typer.Typer(
    name="valuesim",
    help="Simulate how one specific person answers value questions (World Values Survey).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
err_console = Console(stderr=True)


def _register() -> None:
    from valuesim.cli import bench, codebook, data, items, llm, methods, questionnaire, report, scale, simulate, view

    for mod in (data, codebook, questionnaire, items, bench, methods, simulate, report, scale, view, llm):
        mod.register(app)


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True),
) -> None:
    if version:
        from valuesim import __version__

        typer.echo(__version__)
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit()


_register()


def print_error(e: ValueSimError) -> None:
    """Print a user error (message, hint) to stderr, secrets redacted, no markup interpreted."""
    err_console.print(f"[bold red]Error:[/] {escape(redact_text(e.message))}", highlight=False)
    if e.hint:
        err_console.print(f"[yellow]Hint:[/] {escape(redact_text(e.hint))}", highlight=False)


def main() -> None:
    """Console-script entry point: user errors print a message and a hint, never a traceback.

    Operating-system errors (permission denied, disk full, a file where a directory should
    be, ...) are user errors too: they name the path and what to do.
    """
    try:
        app()
    except ValueSimError as e:
        print_error(e)
        sys.exit(2)
    except OSError as e:
        print_error(os_error(e))
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("[yellow]Interrupted.[/] Finished work is saved; re-run the same command to resume.")
        sys.exit(130)


if __name__ == "__main__":
    main()
