"""`valuesim items ...`: what a question (a survey item or a new one) is related to."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from valuesim.cli._data import CODEBOOK_HELP, load_data
from valuesim.errors import ConfigError, DataError

items_app = typer.Typer(
    help="Item relations: which known items a question is related to, read from its wording and options.",
    no_args_is_help=True,
)
console = Console()


@items_app.command("related")
def related(
    data: str = typer.Option(..., "--data", help="Survey file or folder whose people's answers teach the relations."),
    codebook: str | None = typer.Option(None, "--codebook", help=CODEBOOK_HELP),
    text: str | None = typer.Option(None, "--text", help="A new question's wording (with --options)."),
    options_text: str | None = typer.Option(
        None, "--options", help='Its answer options in scale order, separated by | ("Agree|Neutral|Disagree").'
    ),
    unordered: bool = typer.Option(False, "--unordered", help="The --options have no order (nominal question)."),
    question: str | None = typer.Option(
        None, "--question", "-q", help="A survey item instead (its answers are hidden from the model), e.g. Q46."
    ),
    top: int = typer.Option(10, "--top", "-k", min=1, help="How many related items to show."),
    max_people: int = typer.Option(20_000, "--max-people", min=50, help="Most people the relations learn from."),
    encoder: str = typer.Option("auto", "--encoder", help="Sentence encoder: auto, static (wordllama), none."),
    out: Path | None = typer.Option(None, "--json", help="Also write the relations (and their quality) as JSON."),
    judge: str | None = typer.Option(
        None,
        "--judge",
        help="Also ask a language model about the top related items, once per pair of items (cached), weighted on "
        "known pairs: local, openai:NAME (OPENAI_BASE_URL / OPENAI_API_KEY), mock:item-oracle=P (SIMULATED).",
    ),
) -> None:
    """Print the known items most related to a question: predicted association (direction and
    strength, with its spread) and why. Learned from pairs of known items; nobody's answer to
    the question itself is used."""
    from valuesim.cli.methods import _ask_targets
    from valuesim.relations import RelationsModel, RelationsOptions, fit_sample

    if encoder not in ("auto", "static", "none"):
        raise ConfigError(f"Unknown --encoder {encoder!r}.", "Use auto, static or none.")
    if text is None and question is None:
        raise ConfigError("Nothing to relate.", 'Pass --text "..." --options "A|B|C", or --question Q46.')
    survey = load_data(data, codebook=codebook)
    book, targets = _ask_targets(survey.codebook, question, text, options_text, unordered, None)
    q = targets[0]
    train = fit_sample(survey, hide=[q.id], max_people=max_people)
    console.print(f"[dim]learning item relations from {len(train):,} people ...[/]", highlight=False)
    pair_judge = None
    if judge is not None:
        from valuesim.llm.simulation import is_simulated
        from valuesim.methods.item_judge import ItemJudge

        pair_judge = ItemJudge(judge)
        _ = pair_judge.model  # a bad spec is an error before anything is fitted
        if is_simulated(judge):
            console.print(
                f"[bold red]SIMULATED[/] item judge {judge}: outside a benchmark it knows no truth (its judgments "
                "are noise); a test instrument only.",
                highlight=False,
            )
    opts = RelationsOptions(encoder=encoder)  # type: ignore[arg-type]
    model = RelationsModel.from_data(train, book, opts, judge=pair_judge)
    rels = model.related(q, top)
    if not rels:
        raise DataError(
            f"No signed relation for {q.id}: its options have no order.",
            "Relations are predicted for ordered (or yes/no) questions; drop --unordered if the options are a scale.",
        )
    quality = model.quality
    table = Table(title=f"{q.id}: {q.short}", title_justify="left", show_lines=False)
    for col in ("item", "question", "assoc.", "±", "direction", "why"):
        table.add_column(col, overflow="fold")
    for r in rels:
        item = book.get(r.item)
        direction = "same" if r.association > 0 else "opposite"
        why = r.why + ("; judged by the model" if r.source == "wording+judgment" else "")
        table.add_row(r.item, item.short, f"{r.association:+.2f}", f"{r.spread:.2f}", direction, why)
    console.print(table)
    if model.judge_report is not None and pair_judge is not None:
        w = model.judge_report["weights"]
        console.print(
            f"Judgments by {judge}: {pair_judge.pairs_judged:,} pairs judged ({pair_judge.failed} failed); "
            f"association = {w['wording']:.2f} x wording + {w['judgment']:.2f} x judgment (fitted on "
            f"{model.judge_report['pairs_fitted']:,} judged known pairs).",
            highlight=False,
            soft_wrap=True,
        )
    corr = quality.get("correlation")
    console.print(
        f"Association = predicted normal-score correlation within countries (+: the answers rise together in "
        f"code order, -: one rises as the other falls). Quality on held-out known items: correlation "
        f"{'-' if corr is None else f'{corr:.2f}'} with the observed associations, sign accuracy "
        f"{'-' if quality.get('sign_accuracy') is None else format(quality['sign_accuracy'], '.0%')} where |observed| > 0.2 "
        f"({quality.get('n_pairs', 0):,} pairs); encoder {model.report()['encoder']}.",
        highlight=False,
        soft_wrap=True,
    )
    if out is not None:
        payload = {"question": {"id": q.id, "text": q.text, "options": list(q.options.values())},
                   "relations": [r.to_dict() for r in rels], "model": model.report()}  # fmt: skip
        try:
            out.write_text(json.dumps(payload, ensure_ascii=False, indent=2), "utf-8")
        except OSError as e:
            raise DataError(f"Cannot write {out}: {e.strerror or e}.", "Pick a writable --json path.") from None


def register(app: typer.Typer) -> None:
    app.add_typer(items_app, name="items")
