"""`valuesim report`, `valuesim experiment paper` and `valuesim demo`."""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from valuesim.cli._data import CODEBOOK_HELP, load_data
from valuesim.cli._help import API_KEY_HELP, NO_CACHE_HELP
from valuesim.cli._run import err_console, run_and_print, safe, say
from valuesim.llm.backends.local import SMOKE_TEST_NOTE, is_embedded_default

if TYPE_CHECKING:
    from valuesim.experiments.experiment import ExperimentResult, RunSpec

console = Console()

experiment_app = typer.Typer(
    help="Run a whole experiment (many benchmark runs + report) as one resumable job.",
    add_completion=False,
    no_args_is_help=True,
)


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def _command() -> str:
    return shlex.join(["valuesim", *sys.argv[1:]])


def report(
    run_dirs: list[Path] = typer.Argument(..., help="Run directories written by `valuesim bench --out DIR`."),
    out: Path = typer.Option(..., "--out", help="Directory for report.html, report.md and figures/."),
    reference: str | None = typer.Option(
        None,
        "--reference",
        help="Run (directory or method name) every other run is tested against; default: the strongest run by top-1.",
    ),
    title: str = typer.Option("ValueSim benchmark report", "--title", help="Report title."),
    confusion_item: str | None = typer.Option(
        None, "--confusion-item", help="Question id of the single-item confusion matrix (default: most predicted)."
    ),
) -> None:
    """Write an HTML report (self-contained) and a Markdown report of benchmark runs.

    Example: valuesim report runs/knn runs/valuesim --out report/ --reference knn
    """
    from valuesim.report.build import build_report

    t0 = time.perf_counter()
    paths = build_report(run_dirs, out, reference=reference, title=title, confusion_item=confusion_item)
    console.print(
        f"Report ({len(run_dirs)} runs, reference {safe(paths.reference)}, {time.perf_counter() - t0:.1f} s):",
        highlight=False,
    )
    console.print(f"  HTML:     {safe(paths.html.resolve())}", highlight=False, soft_wrap=True)
    console.print(
        f"  Markdown: {safe(paths.markdown.resolve())}  (figures in {safe(paths.out_dir.resolve() / 'figures')})",
        highlight=False,
        soft_wrap=True,
    )


@experiment_app.command("paper")
def experiment_paper(
    data: str = typer.Option(..., "--data", help="WVS-7 file or folder; 'synthetic' for generated data."),
    codebook: str | None = typer.Option(None, "--codebook", help=CODEBOOK_HELP),
    model: str = typer.Option(
        ..., "--model", help="Model spec for the LLM methods: local, local:PATH, openai:NAME, mock."
    ),
    out: Path = typer.Option(..., "--out", help="Experiment directory (runs/ and report/); re-run to resume."),
    base_url: str | None = typer.Option(None, "--base-url", help="OpenAI-compatible server URL (openai:NAME models)."),
    api_key: str | None = typer.Option(None, "--api-key", help=API_KEY_HELP),
    quick: bool = typer.Option(
        False,
        "--quick",
        help="Few predictions (4 respondents, 10 targets of fold 0 each), full-size histories: a first look.",
    ),
    respondents: int | None = typer.Option(
        None, "--respondents", "-n", min=1, help="Respondents (default 100; --quick: 4)."
    ),
    seed: int = typer.Option(42, "--seed", help="Seed of the sample, folds and histories."),
    only: list[str] | None = typer.Option(
        None, "--only", help="Run only these runs or groups (main, ablation, history)."
    ),
    skip: list[str] | None = typer.Option(None, "--skip", help="Leave out these runs or groups."),
    list_runs: bool = typer.Option(False, "--list", help="List the experiment's runs and exit."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Delete and redo the selected runs (combine with --only to redo some)."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bars (TTY only)."),
    no_cache: bool = typer.Option(False, "--no-cache", help=NO_CACHE_HELP),
) -> None:
    """The ValueSim paper's main table, ablations and history curve as one resumable job, then the report.

    Each run goes to OUT/runs/<name>/ (a `valuesim bench` run directory); re-running the same
    command resumes unfinished runs and skips finished ones. The report goes to OUT/report/.
    """
    from valuesim.experiments.experiment import (
        PAPER_EXPERIMENT,
        Sizes,
        run_experiment,
        select_specs,
    )

    if list_runs:
        _print_specs(select_specs(PAPER_EXPERIMENT, quick=quick, only=_split(only), skip=_split(skip)))
        return
    from valuesim.cli.bench import model_flags

    llm_options = model_flags({}, None, model=model, base_url=base_url, api_key=api_key, no_cache=no_cache)
    survey = load_data(data, codebook=codebook)
    sizes = Sizes.quick(respondents, seed) if quick else Sizes.full(respondents, seed)
    say(
        f"on {survey.source} ({len(survey):,} respondents{', SYNTHETIC' if survey.synthetic else ''}), model {model}: "
        f"{sizes.describe()} -> {out}",
        markup=f"[bold]Paper experiment[/]{' (quick)' if quick else ''} ",
    )
    result = run_and_print(
        lambda log: run_experiment(
            survey,
            out,
            llm_options=llm_options,
            quick=quick,
            respondents=respondents,
            seed=seed,
            only=_split(only),
            skip=_split(skip),
            command=_command(),
            progress=progress,
            overwrite=overwrite,
            on_event=log,
        ),
        interrupted=f"Finished runs and units are saved in {out}; re-run the same command to resume.",
        notes=lambda _result: (),
        style=None,
    )
    _finish(result)


def demo(
    out: Path = typer.Option(Path("valuesim-demo"), "--out", help="Directory for the demo's runs and report."),
    model: str | None = typer.Option(
        None, "--model", help="Model spec (default: the embedded local model, or mock when it is not installed)."
    ),
    respondents: int = typer.Option(3, "--respondents", "-n", min=1, help="Respondents to evaluate."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Delete the demo's earlier runs in --out and redo them."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bars (TTY only)."),
    no_cache: bool = typer.Option(False, "--no-cache", help=NO_CACHE_HELP),
) -> None:
    """Try ValueSim in a few minutes: synthetic respondents, baselines and the ValueSim method, a report.

    No server, no download, no API key. Everything it shows is labelled SYNTHETIC.
    """
    from valuesim.cli.bench import model_flags
    from valuesim.experiments.demo import run_demo

    llm_options = model_flags({}, None, model=model, no_cache=no_cache)
    result = run_and_print(
        lambda log: run_demo(
            out,
            llm_options=llm_options,
            respondents=respondents,
            progress=progress,
            command=_command(),
            overwrite=overwrite,
            on_event=log,
        ),
        interrupted=f"Finished runs and units are saved in {out}; re-run the same command to resume.",
        notes=lambda _result: (),
        style=None,
    )
    _finish(result.experiment, demo=True, model=result.model)


def _finish(result: ExperimentResult, demo: bool = False, model: str | None = None) -> None:
    done = [o for o in result.outcomes if o.status == "complete"]
    console.print(
        f"{len(done)} of {len(result.outcomes)} runs complete in {result.wall_seconds:.0f} s.", highlight=False
    )
    for o in result.failed:
        say(f"{o.spec.name}: {o.error}" + (f"\n  Hint: {o.hint}" if o.hint else ""), markup="[red]Failed:[/] ")
    if result.report_html is not None:
        console.print(f"[bold]Report:[/] {safe(Path(result.report_html).resolve())}", highlight=False, soft_wrap=True)
        if result.report_markdown is not None:
            console.print(f"        {safe(Path(result.report_markdown).resolve())}", highlight=False, soft_wrap=True)
        if demo:
            console.print(
                "Open the HTML file in a browser. Everything in it is SYNTHETIC: generated people, not survey results.",
                highlight=False,
                soft_wrap=True,
            )
            if is_embedded_default(model):
                console.print(f"[bold yellow]Note:[/] {SMOKE_TEST_NOTE}", highlight=False, soft_wrap=True)
    if result.failed:
        err_console.print("Re-run the same command to retry the failed runs (finished work is kept).", highlight=False)
        raise typer.Exit(1)


def _print_specs(specs: Sequence[RunSpec]) -> None:
    """One line per run: name, group, method, options, protocol overrides, description."""
    width = max(len(s.name) for s in specs)
    for s in specs:
        extra = [f"{k}={','.join(v) if isinstance(v, tuple) else v}" for k, v in {**s.options, **s.protocol}.items()]
        console.print(
            f"{s.name:<{width}}  [{s.group}] {s.method}{' ' + ' '.join(extra) if extra else ''} -- {s.description}",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )


def register(app: typer.Typer) -> None:
    """Add `valuesim report`, `valuesim experiment ...` and `valuesim demo` to *app*."""
    app.command("report")(report)
    app.add_typer(experiment_app, name="experiment")
    app.command("demo")(demo)
