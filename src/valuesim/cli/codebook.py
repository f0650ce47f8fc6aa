"""`valuesim codebook ...`: a codebook for any labelled survey (infer, check, an example file)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from valuesim.errors import ConfigError
from valuesim.survey.codebook import Codebook

codebook_app = typer.Typer(
    help="Codebooks for surveys other than WVS-7: infer one from a labelled .sav/.dta, check it, try an example.",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)


@codebook_app.command("infer")
def infer(
    path: Path = typer.Argument(..., help="A labelled SPSS (.sav, .zsav, .por) or Stata (.dta) file."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the codebook (YAML)."),
    name: str | None = typer.Option(None, "--name", help="Survey name (default: the file name)."),
    country: str | None = typer.Option(
        None,
        "--country",
        help="Everybody lives in this country (e.g. USA for the GSS): a file without a country column.",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out file."),
) -> None:
    """Read variable labels, value labels and missing values from PATH and write an editable codebook.

    Prints every decision with its reason (id, country, roles, skipped design/administration
    columns, profile items, demoted items, codes without a label); the same lines head the YAML.
    """
    from valuesim.survey.custom import infer_codebook, write_codebook_yaml

    if out.exists() and not overwrite:
        raise ConfigError(f"{out} exists.", "Pass --overwrite to replace it, or choose another --out.")
    result = infer_codebook(path, name=name, country=country)
    header = [
        f"Codebook for {path.name}, inferred by `valuesim codebook infer` (rules: docs/surveys.md).",
        "Check kinds, profile flags, roles and the question texts; then use it with --codebook THIS_FILE.",
        *[f"check: {n}" for n in result.notes[1:]],
    ]
    write_codebook_yaml(result.codebook, out, header=header)
    # notes quote the file's labels: "[country]", "[Never]" are text, not markup
    console.print(f"[bold]{escape(result.notes[0])}[/]", highlight=False, soft_wrap=True)
    for note in result.notes[1:]:
        console.print(f"  {escape(note)}", highlight=False, soft_wrap=True)
    console.print(f"Wrote {out}. Use it with: --data {path} --codebook {out}", highlight=False, soft_wrap=True)


@codebook_app.command("check")
def check(
    codebook: Path = typer.Argument(..., help="A codebook file (YAML or JSON)."),
    data: str | None = typer.Option(
        None, "--data", help="Also load this data file with it and report what loading found."
    ),
) -> None:
    """Validate a codebook file (and, with --data, load the data with it)."""
    from valuesim.survey.custom import load_codebook_file
    from valuesim.survey.loaders import load_survey

    cb = load_codebook_file(codebook)
    profile = cb.profile()
    console.print(
        f"{codebook}: {len(cb)} items ({len(profile)} profile, {len(cb) - len(profile)} value items); "
        f"roles {', '.join(f'{k}={v}' for k, v in cb.roles.items()) or 'none'}",
        highlight=False,
    )
    for line in posing_warnings(cb):
        console.print(f"  {escape(line)}", highlight=False, soft_wrap=True)
    if data:
        survey = load_survey(data, codebook=cb)
        report = survey.report
        console.print(
            f"{data}: {len(survey)} respondents, {len(survey.country_counts())} country value(s), "
            f"missing rate {survey.missing_rate():.1%}",
            highlight=False,
        )
        for qid, codes in report.out_of_range.items():
            shown = ", ".join(f"{c} ({n}x)" for c, n in sorted(codes.items()))
            console.print(f"  {qid}: codes without a label loaded as missing: {shown}", highlight=False)
        for note in report.notes:
            console.print(f"  {escape(note)}", highlight=False, soft_wrap=True)


def posing_warnings(cb: Codebook) -> list[str]:
    """What LLM methods will do with items that do not fit a lettered question, and answer
    options whose label names a missing answer (they would be told and posed as answers)."""
    from valuesim.methods.prompting import LETTERS, MAX_NUMBERED_OPTIONS, unposable_reason
    from valuesim.survey.codebook import QuestionKind, is_missing_label

    out: list[str] = []
    targets = [q for q in cb if not q.profile and q.kind is not QuestionKind.NUMERIC]
    skipped = [q for q in targets if unposable_reason(q) is not None]
    numbered = [q for q in targets if q not in skipped and len(q.answer_codes) > len(LETTERS)]
    if skipped:
        out.append(
            f"warning: {len(skipped)} item(s) have more than {MAX_NUMBERED_OPTIONS} answer options; LLM methods skip "
            f"them with a note (baselines still predict them): {', '.join(f'{q.id} ({len(q.answer_codes)})' for q in skipped)}"
        )
    if numbered:
        out.append(
            f"note: {len(numbered)} item(s) have more than {len(LETTERS)} answer options; LLM methods pose them with "
            "numbered options (under log-prob scoring the model writes the number: no probabilities): "
            + ", ".join(f"{q.id} ({len(q.answer_codes)})" for q in numbered)
        )
    for q in cb:
        odd = [f"{c} {lab!r}" for c, lab in q.options.items() if is_missing_label(lab)]
        if odd:
            out.append(
                f"warning: {q.id}: option(s) {', '.join(odd)} name a missing answer; stories never tell them, but "
                "methods may predict them. Move them to the item's `missing` map."
            )
    return out


@codebook_app.command("example")
def example(
    out: Path = typer.Argument(..., help="Where to write the example .sav file."),
    n: int = typer.Option(300, "--n", "-n", min=10, help="Number of respondents."),
    seed: int = typer.Option(0, "--seed", min=0, max=2**32 - 1, help="Random seed."),
) -> None:
    """Write a generated, labelled SPSS file (SYNTHETIC respondents, ESS-like items) to try a custom survey."""
    from valuesim.survey.labelled_example import write_labelled_example

    if out.suffix.lower() != ".sav":
        raise ConfigError(f"{out}: the example is an SPSS file; give a path ending in .sav.", "E.g. example.sav")
    write_labelled_example(out, n=n, seed=seed)
    console.print(
        f"Wrote {out}: {n} SYNTHETIC respondents, 40 items. Next: valuesim codebook infer {out} --out codebook.yaml",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(codebook_app, name="codebook")
