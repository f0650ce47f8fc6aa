"""CLI of `valuesim simulate`: new questions answered by a sample of real respondents."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from valuesim.cli._data import CODEBOOK_HELP, load_data
from valuesim.cli._help import API_KEY_HELP, NO_CACHE_HELP
from valuesim.cli._run import note, run_and_print, safe, say
from valuesim.errors import ConfigError, DataError

console = Console()


def simulate(
    data: str = typer.Option(..., "--data", help="WVS-7 file or folder; 'synthetic' for generated respondents."),
    codebook: str | None = typer.Option(None, "--codebook", help=CODEBOOK_HELP),
    questions: Path = typer.Option(
        ..., "--questions", help="Questionnaire file (YAML, JSON or a Qualtrics .qsf) of new questions."
    ),
    pipe: list[str] | None = typer.Option(
        None, "--pipe", help="Fill piped text of a .qsf: FIELD=VALUE for ${e://Field/FIELD} (repeatable)."
    ),
    respondents: int = typer.Option(100, "--respondents", "-n", help="Respondents to simulate (a seeded sample)."),
    country: list[str] | None = typer.Option(
        None,
        "--country",
        "-c",
        help="Only these countries (alpha-3, ISO number or name; repeatable or comma-separated).",
    ),
    stratify: bool = typer.Option(
        True, "--stratify/--no-stratify", help="Spread the sample evenly over countries (default) or draw at random."
    ),
    seed: int = typer.Option(42, "--seed", help="Seed of the sample."),
    min_valid: int = typer.Option(
        150, "--min-valid", help="Only respondents with this many valid answers (their record is the history)."
    ),
    method: str = typer.Option(
        "valuesim",
        "--method",
        "-m",
        help="A method that answers new questions (marked so in `valuesim bench --list-methods`).",
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        help="Model spec: local, local:PATH, openai:NAME, mock.",
        show_default="local: the embedded SmolLM2-135M smoke-test model",
    ),
    base_url: str | None = typer.Option(
        None, "--base-url", help="OpenAI-compatible server URL; several comma-separated = a load-balanced pool."
    ),
    option: list[str] | None = typer.Option(None, "--option", "-o", help="Method option key=value (repeatable)."),
    api_key: str | None = typer.Option(None, "--api-key", help=API_KEY_HELP),
    no_cache: bool = typer.Option(False, "--no-cache", help=NO_CACHE_HELP),
    concurrency: int | None = typer.Option(None, "--concurrency", "-j", help="Respondents in flight at once."),
    executor: str = typer.Option(
        "local",
        "--executor",
        help=r"Where respondents run: local (this process) or ray (pip install 'valuesim\[dist]').",
    ),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="Ray cluster: auto, HOST:PORT or ray://HOST:PORT."
    ),
    workers: int | None = typer.Option(
        None, "--workers", help="Ray: shards run at once (default: the cluster's CPUs)."
    ),
    max_failures: str = typer.Option(
        "5%", "--max-failures", help="Stop when more answers than this failed (N or P%; 0 = at the first)."
    ),
    out: Path = typer.Option(..., "--out", help="Run directory (created; re-run the same command to resume)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Delete an earlier run in --out first."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar (TTY only)."),
    fmt: list[str] | None = typer.Option(
        None,
        "--format",
        help="Also write the simulated sample as a labelled file, one row per person: csv, parquet, sav "
        "(SPSS) or dta (Stata); repeatable. Written to --out as simulated.FORMAT.",
    ),
) -> None:
    """Simulate how a sample of real respondents answer new questions (a questionnaire file).

    Writes answers.parquet/.csv, distributions.parquet/.csv (per question x country, sex, age
    band) and report/report.html to --out; incremental and resumable like `valuesim bench`.

    Example: valuesim simulate --data wvs7/ --questions examples/questionnaire.yaml -n 60 -c DEU,JPN,BRA --out runs/sim
    """
    from valuesim.bench.config import RunConfig
    from valuesim.bench.simulate import SimulationConfig, build_method, run_simulation, smoke_test_note
    from valuesim.cli.bench import _split_list, model_flags, parse_options
    from valuesim.cli.questionnaire import print_import_notes
    from valuesim.scale import get_executor
    from valuesim.survey.loaders import resolve_countries
    from valuesim.survey.questionnaire import parse_pipes, read_questionnaire

    formats = _export_formats(fmt)
    from valuesim.methods.base import method_info, refuse_trained

    refuse_trained(method, method_info(method).cls)  # before its flags: the method cannot run at all
    options = model_flags(
        parse_options(option), method, model=model, base_url=base_url, api_key=api_key, no_cache=no_cache
    )
    run = RunConfig.create(
        concurrency=concurrency,
        max_failures=max_failures,
        overwrite=overwrite,
        command=shlex.join(["valuesim", *sys.argv[1:]]),
    )
    run_on = get_executor(executor, address=ray_address, num_workers=workers)
    survey = load_data(data, codebook=codebook)
    loaded = read_questionnaire(questions, survey.codebook, parse_pipes(pipe))
    print_import_notes(loaded.skipped, loaded.notes)
    new = loaded.questions
    cfg = SimulationConfig(
        questions=tuple(new),
        n_respondents=respondents,
        countries=tuple(resolve_countries(_split_list(country))) or None,
        seed=seed,
        min_valid=min_valid,
        stratify_by_country=stratify,
    )
    m = build_method(method, survey.codebook, new, **options)
    say(
        f"simulating {len(new)} new questions on {survey.source or 'data'} -> {out}", markup=f"[bold]{safe(m.name)}[/] "
    )
    result = run_and_print(
        lambda log: run_simulation(survey, m, cfg, out, run=run, executor=run_on, progress=progress, log=log),
        interrupted=f"Finished respondents are saved in {out}; re-run to resume.",
    )
    from valuesim.report.simulation import report_simulation

    report = report_simulation(result)
    _print_overview(result, report)
    if formats and len(result.answers):
        people = {r: survey.respondent(r) for r in dict.fromkeys(result.answers["respondent"].astype(str))}
        profile = [survey.codebook.get(q) for q in survey.codebook.profile()]
        _export(result.answers, list(new), out, formats, profile, people)
    smoke = smoke_test_note(str(m.config().get("model") or ""))
    if smoke:
        console.print(f"[bold yellow]Note:[/] {smoke}", highlight=False, soft_wrap=True)
    if result.failures:
        n = sum(len(f.targets) for f in result.failures)
        say("(model calls failed after all retries); re-run to retry them.", markup=f"[red]{n} answers failed[/] ")
        raise typer.Exit(1)


def _print_overview(result: Any, report: Path | None) -> None:
    answers = result.answers
    resumed = f", {result.n_resumed} resumed" if result.n_resumed else ""
    calls = int(result.usage.get("llm_calls", 0) or 0)
    hits = int(result.usage.get("cache_hits", 0) or 0)
    console.print(
        f"{answers['respondent'].nunique()} respondents x {answers['question'].nunique()} questions "
        f"({result.n_computed} respondents computed{resumed}); this session: {calls:,} model calls, "
        f"{hits:,} cache hits",
        highlight=False,
    )
    dist = result.distributions
    overall = dist[dist["by"] == "all"]
    console.print("Simulated distributions (mean predicted probability; most likely answer shares in brackets):")
    for qid, g in overall.groupby("question", sort=False):
        top = g[g["mean_probability"].notna()].sort_values("mean_probability", ascending=False).head(3)
        probs = ", ".join(f"{a} {p:.0%}" for a, p in zip(top["answer"], top["mean_probability"]))
        chosen = g[g["share"].fillna(0) > 0].sort_values("share", ascending=False).head(2)
        argmax = ", ".join(f"{a} {s:.0%}" for a, s in zip(chosen["answer"], chosen["share"]))
        line = f"{probs} (most likely: {argmax})" if probs else "no answers"
        console.print(f"  {qid}: {line}", highlight=False, markup=False)
    files = "answers.parquet/.csv, distributions.parquet/.csv, summary.json"
    console.print(f"Results: {result.out_dir}/ ({files})", highlight=False, markup=False)
    if report is not None:
        console.print(f"Report: {report}", highlight=False, markup=False)


def _export_formats(fmt: list[str] | None) -> list[str]:
    from valuesim.survey.export import FORMATS

    formats = [f.strip().lower().lstrip(".") for item in fmt or [] for f in item.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ConfigError(f"Unknown --format {', '.join(bad)}.", f"Use one of: {', '.join(FORMATS)}.")
    return list(dict.fromkeys(formats))


def _export(
    answers: Any,
    questions: list[Any],
    out: Path,
    formats: list[str],
    profile: list[Any] | None = None,
    people: dict[str, Any] | None = None,
    stem: str = "simulated",
) -> None:
    from valuesim.survey.export import labelled_table, write_labelled

    table = labelled_table(answers, questions, profile or (), people)
    for f in formats:
        path = out / f"{stem}.{f}" if out.is_dir() or out.suffix.lower() != f".{f}" else out
        for text in write_labelled(table, path, f):  # type: ignore[arg-type]
            note(text)
        console.print(f"Labelled file: {escape(str(path))}", highlight=False)


def export(
    run_dir: Path = typer.Argument(..., help="The --out directory of a finished `valuesim simulate` run."),
    fmt: list[str] = typer.Option(..., "--format", help="csv, parquet, sav (SPSS) or dta (Stata); repeatable."),
    out: Path | None = typer.Option(None, "--out", "-o", help="File to write (default: RUN_DIR/simulated.FORMAT)."),
    data: str | None = typer.Option(
        None, "--data", help="The run's survey file: adds the profile items (demographics) with their codes."
    ),
    codebook: str | None = typer.Option(None, "--codebook", help=CODEBOOK_HELP),
) -> None:
    """Write the answers of a simulate run as a labelled file, one row per person (variable labels =
    question texts, value labels = options).

    Example: valuesim export runs/sim --format sav --data wvs7/   (then: valuesim data summary --data
    runs/sim/simulated.sav --codebook auto)
    """
    import pandas as pd

    from valuesim.bench.protocol import Split
    from valuesim.bench.rundir import SPLIT_FILE
    from valuesim.bench.simulate import ANSWERS_FILE
    from valuesim.survey.codebook import Question, QuestionKind

    formats = _export_formats(fmt)
    if out is not None and len(formats) > 1:
        raise ConfigError("--out names one file; several --format were given.", "Leave out --out or give one format.")
    if out is not None and out.suffix and not out.is_dir() and out.suffix.lower() != f".{formats[0]}":
        # else `--out x.dta --format sav` made a directory x.dta holding simulated.sav
        raise ConfigError(
            f"--out {out} does not end in .{formats[0]}, the --format given.",
            f"Name the file {out.with_suffix('.' + formats[0])}, or pass the --format its name says.",
        )
    split_file = run_dir / SPLIT_FILE
    answers_file = run_dir / f"{ANSWERS_FILE}.parquet"
    if not split_file.is_file() or not answers_file.is_file():
        raise DataError(
            f"{run_dir} is not a finished `valuesim simulate` run (no split.json or {answers_file.name}).",
            "Pass the --out directory of `valuesim simulate`; re-run it to finish first.",
        )
    protocol = Split.load(split_file).protocol
    if protocol.get("kind") != "simulate":
        raise DataError(f"{run_dir} is a `valuesim bench` run, not a simulate run.", "Export simulate runs only.")
    questions = [
        Question(
            id=q["id"],
            text=q["text"],
            short=q["text"],
            kind=QuestionKind(q["kind"]),
            section=q.get("section", ""),
            profile=False,
            options={int(k): v for k, v in q["options"].items()},
        )
        for q in protocol["questions"]
    ]
    answers = pd.read_parquet(answers_file)
    profile = people = None
    if data is not None:
        survey = load_data(data, codebook=codebook)
        ids = [r for r in dict.fromkeys(answers["respondent"].astype(str))]
        people = {r: survey.respondent(r) for r in ids}
        profile = [survey.codebook.get(q) for q in survey.codebook.profile()]
    _export(answers, questions, out if out is not None else run_dir, formats, profile, people)


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
    app.command("export")(export)
