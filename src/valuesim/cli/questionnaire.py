"""`valuesim questionnaire ...`: see and edit what ValueSim reads from a questionnaire file."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from valuesim.errors import ConfigError

questionnaire_app = typer.Typer(
    help="Questionnaires of new questions: convert a Qualtrics export (.qsf) into an editable YAML file.",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)


def print_import_notes(skipped: list[str], notes: list[str], to: Console = err_console) -> None:
    """What reading a questionnaire left out (one line each) and what it did not simulate."""
    for line in skipped:
        to.print(f"[yellow]Skipped:[/] {escape(line)}", highlight=False, soft_wrap=True)
    for line in notes:
        to.print(f"[cyan]Note:[/] {escape(line)}", highlight=False, soft_wrap=True)


@questionnaire_app.command("convert")
def convert(
    path: Path = typer.Argument(..., help="A Qualtrics survey export (.qsf)."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the questionnaire (YAML)."),
    pipe: list[str] | None = typer.Option(
        None, "--pipe", help="Fill piped text: FIELD=VALUE for ${e://Field/FIELD} (repeatable)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out file."),
) -> None:
    """Import PATH and write the questions ValueSim can pose as a questionnaire YAML, with what was
    skipped and why as comments. Edit it (e.g. `ordered: false` for unordered options), then pass it
    to `valuesim ask --questions` or `valuesim simulate --questions`.

    Example: valuesim questionnaire convert survey.qsf --out q.yaml --pipe city=Berlin
    """
    import yaml
    from pydantic import ValidationError

    from valuesim.errors import validation_error
    from valuesim.survey.qualtrics import read_qsf
    from valuesim.survey.questionnaire import Questionnaire, parse_pipes

    if path.suffix.lower() != ".qsf":
        raise ConfigError(f"{path} is not a .qsf file.", "Export the survey from Qualtrics (Export survey -> .qsf).")
    if out.exists() and not overwrite:
        raise ConfigError(f"{out} exists.", "Pass --overwrite to replace it, or choose another --out.")
    qsf = read_qsf(path, pipe=parse_pipes(pipe))
    try:
        Questionnaire.model_validate(qsf.raw)
    except ValidationError as e:  # an import the questionnaire schema cannot express
        raise validation_error(str(path), e, "Report the file's question to the ValueSim developers.") from None
    lines = [f"Questionnaire imported from {path.name} by `valuesim questionnaire convert`.", ""]
    lines += [f"skipped: {s}" for s in qsf.skipped] + [f"note: {n}" for n in qsf.notes]
    header = "".join(f"# {line}\n" if line else "#\n" for line in lines)
    body = yaml.dump(qsf.raw, Dumper=_no_aliases_dumper(), sort_keys=False, allow_unicode=True, width=100)
    out.write_text(header + body, "utf-8")
    n = len(qsf.raw["questions"])
    console.print(f"[bold]{n} question(s)[/] imported, {len(qsf.skipped)} skipped.", highlight=False)
    print_import_notes(qsf.skipped, qsf.notes, to=console)
    console.print(f"Wrote {escape(str(out))}. Use it with: --questions {escape(str(out))}", highlight=False)


def _no_aliases_dumper() -> type:
    import yaml

    class NoAliases(yaml.SafeDumper):
        """Every matrix row written out in full: YAML anchors (``&id001`` / ``*id001``) would make an
        edit of one row's options silently change every row sharing them."""

        def ignore_aliases(self, data: object) -> bool:
            return True

    return NoAliases


def register(app: typer.Typer) -> None:
    app.add_typer(questionnaire_app, name="questionnaire")
