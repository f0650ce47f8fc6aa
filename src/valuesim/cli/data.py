"""`valuesim data ...`: inspect survey files, one respondent, the codebook; write synthetic data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from valuesim.cli._data import CODEBOOK_HELP, load_data, pick_data
from valuesim.errors import DataError
from valuesim.survey import countries as country_table
from valuesim.survey.codebook import Codebook, Question, load_codebook
from valuesim.survey.custom import load_codebook_file
from valuesim.survey.dataset import SurveyData
from valuesim.survey.respondent import Missing, Respondent

data_app = typer.Typer(
    help="Survey data: summarise a WVS-7 file, show one respondent, list questions, make synthetic data.",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)

#: How a typed missing answer is shown to people (never as a raw negative code).
MISSING_SHOWN: dict[Missing, str] = {
    Missing.DONT_KNOW: "(don't know)",
    Missing.NO_ANSWER: "(no answer)",
    Missing.NOT_APPLICABLE: "(not applicable)",
    Missing.NOT_ASKED: "(not asked)",
    Missing.MISSING: "(missing)",
}

_PATH_HELP = (
    "A WVS-7 file (.csv[.gz], .sav, .dta, .parquet, .zip) or a directory of per-country files; "
    "'synthetic' for generated respondents."
)
_ALIAS_HELP = "Same as --data (the positional form is kept for existing scripts)."
_COUNTRY_HELP = "Keep only this country (alpha-3, ISO numeric or name); repeat or comma-separate for several."
_ID_HELP = (
    "Respondent id: the file's interview id (D_INTERVIEW); for rows without a unique one, "
    "<country>-<row within the country>, e.g. URY-17."
)


def _country_name(alpha3: str) -> str:
    found = country_table.find_country(alpha3)
    return found.name if found else alpha3


def _synthetic_banner(data: SurveyData) -> None:
    if data.synthetic:
        console.print("[bold black on yellow] SYNTHETIC DATA [/] generated respondents, not real survey answers")


def summary_dict(data: SurveyData) -> dict[str, Any]:
    """Everything `data summary --json` prints (stable keys)."""
    qids = data.question_ids
    values = data.frame[qids].to_numpy() if qids else None
    by_code: dict[str, float] = {}
    if values is not None and values.size:
        for m in Missing:
            by_code[m.name.lower()] = round(float((values == int(m)).mean()), 6)
    report = data.report
    return {
        "source": data.source,
        "version": data.version,
        "synthetic": data.synthetic,
        "respondents": len(data),
        "countries": data.country_counts(),
        "questions": len(qids),
        "profile_questions": sum(1 for q in qids if data.codebook.get(q).profile),
        "missing_rate": round(data.missing_rate(), 6),
        "missing_by_kind": by_code,
        "ignored_columns": len(report.ignored_columns),
        "missing_questions": report.missing_questions,
        "out_of_range": {q: {str(k): v for k, v in sorted(d.items())} for q, d in report.out_of_range.items()},
        "unlabelled_codes": {q: {str(k): v for k, v in sorted(d.items())} for q, d in report.unlabelled_codes.items()},
        "rows_filtered_out": report.rows_filtered_out,
        "notes": report.notes,
        "warnings": data_warnings(data),
        "fingerprint": data.fingerprint(),
    }


def data_warnings(data: SurveyData) -> list[str]:
    """Findings a user should act on before benchmarking (duplicated records, duplicated ids)."""
    out = [n for n in data.report.notes if "duplicated D_INTERVIEW" in n]
    groups = data.identical_rows()
    if groups:
        extra = sum(len(g) - 1 for g in groups)
        example = " = ".join(groups[0][:3])
        out.append(
            f"{extra} respondent row(s) are exact copies of another row (same country and answers; "
            f"e.g. ids {example}): duplicated records. `valuesim bench` never trains on a copy of an "
            "evaluated respondent; remove the copies from the file for any other analysis."
        )
    return out


def _print_summary(info: dict[str, Any]) -> None:
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("source", info["source"])
    head.add_row("version", info["version"] + ("  [bold yellow](SYNTHETIC)[/]" if info["synthetic"] else ""))
    head.add_row("respondents", f"{info['respondents']:,}")
    head.add_row("countries", str(len(info["countries"])))
    head.add_row("questions", f"{info['questions']} ({info['profile_questions']} profile items)")
    kinds = ", ".join(
        f"{MISSING_SHOWN[Missing[k.upper()]].strip('()')} {v:.1%}" for k, v in info["missing_by_kind"].items() if v > 0
    )
    head.add_row("missing rate", f"{info['missing_rate']:.1%}" + (f" ({kinds})" if kinds else ""))
    head.add_row("ignored columns", str(info["ignored_columns"]))
    if info["rows_filtered_out"]:
        head.add_row("rows of other countries (--country)", f"{info['rows_filtered_out']:,}")
    if info["missing_questions"]:
        shown = ", ".join(info["missing_questions"][:12]) + (" ..." if len(info["missing_questions"]) > 12 else "")
        head.add_row("codebook items absent", f"{len(info['missing_questions'])}: {shown}")
    console.print(head)

    countries = Table(title="Respondents by country", title_justify="left")
    countries.add_column("code")
    countries.add_column("country")
    countries.add_column("respondents", justify="right")
    for code, n in sorted(info["countries"].items(), key=lambda kv: -kv[1]):
        countries.add_row(code, _country_name(code), f"{n:,}")
    console.print(countries)

    if info["out_of_range"]:
        bad = Table(title="Out-of-range codes (stored as missing, -5)", title_justify="left")
        bad.add_column("question")
        bad.add_column("cells", justify="right")
        bad.add_column("codes (count)")
        for qid, codes in info["out_of_range"].items():
            top = sorted(codes.items(), key=lambda kv: -kv[1])
            text = ", ".join(f"{c} ({n})" for c, n in top[:8]) + (" ..." if len(top) > 8 else "")
            bad.add_row(qid, f"{sum(codes.values()):,}", text)
        console.print(bad)
    for qid, codes in (info.get("unlabelled_codes") or {}).items():
        q = load_codebook().get(qid)
        console.print(
            f"{qid} ({q.short}): {sum(codes.values()):,} cells hold {len(codes)} country-specific code(s) of the "
            f"WVS list that the codebook has no label for (it names {q.n_options} codes); they are real answers, "
            "not errors, and are treated as missing (never shown to a model).",
            highlight=False,
            soft_wrap=True,
        )
    for note in info["notes"]:
        console.print(f"[dim]note: {escape(note)}[/]", highlight=False)
    for warning in info["warnings"]:
        err_console.print(f"[yellow]Warning:[/] {escape(warning)}", highlight=False)


def _answer_text(q: Question, respondent: Respondent) -> tuple[str, int | None, str | None]:
    if q.id in respondent.answers:
        code = respondent.answers[q.id]
        return q.label(code), q.file_code(code), None  # the code as the data file writes it
    m = respondent.missing.get(q.id)
    if m is None:
        return "(not in file)", None, None
    return MISSING_SHOWN[m], int(m), m.name.lower()


def record_dict(data: SurveyData, respondent: Respondent) -> dict[str, Any]:
    """The decoded record `data show --json` prints: profile first, then answers by section."""
    cb = data.codebook
    present = data.question_ids

    def item(qid: str) -> dict[str, Any]:
        q = cb.get(qid)
        answer, code, missing = _answer_text(q, respondent)
        return {"id": qid, "question": q.short, "answer": None if missing else answer, "code": code, "missing": missing}

    sections: list[dict[str, Any]] = []
    for sid, section in cb.sections.items():
        items = [item(q) for q in present if not cb.get(q).profile and cb.get(q).section == sid]
        if items:
            sections.append({"id": sid, "title": section.title, "items": items})
    return {
        "id": respondent.id,
        "country": respondent.country,
        "country_name": _country_name(respondent.country),
        "row": respondent.row,
        "synthetic": data.synthetic,
        "source": data.source,
        "version": data.version,
        "profile": [item(q) for q in present if cb.get(q).profile],
        "sections": sections,
        "respondent": respondent.to_dict(),
    }


def _print_record(record: dict[str, Any]) -> None:
    title = f"Respondent {record['id']} - {record['country_name']} ({record['country']})"
    if record["synthetic"]:
        title += "  [bold black on yellow] SYNTHETIC [/]"
    console.print(f"[bold]{title}[/]")
    console.print(f"[dim]{record['source']} - version {record['version']} - row {record['row']}[/]", highlight=False)

    def table(name: str, items: list[dict[str, Any]]) -> Table:
        t = Table(title=name, title_justify="left", show_header=False, expand=False)
        t.add_column("id", style="cyan", no_wrap=True)
        t.add_column("question", ratio=3)
        t.add_column("answer", ratio=2)
        for it in items:
            # the survey's own words: "[country]", "[pay/pensions/social benefits]" are text, not markup
            answer = escape(str(it["answer"])) if it["missing"] is None else f"[dim italic]{_missing_text(it)}[/]"
            t.add_row(escape(it["id"]), escape(it["question"]), answer)
        return t

    console.print(table("Profile", record["profile"]))
    for section in record["sections"]:
        console.print(table(section["title"], section["items"]))


def _missing_text(item: dict[str, Any]) -> str:
    return MISSING_SHOWN[Missing[item["missing"].upper()]]


def _countries_arg(country: list[str] | None) -> list[str] | None:
    return [c for c in country if c.strip()] if country else None


@data_app.command("summary")
def summary(
    path: str | None = typer.Argument(None, metavar="PATH", help=_ALIAS_HELP, show_default=False),
    data_opt: str | None = typer.Option(None, "--data", help=_PATH_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
    country: list[str] | None = typer.Option(None, "--country", "-c", help=_COUNTRY_HELP),
    codebook: str | None = typer.Option(None, "--codebook", help=CODEBOOK_HELP),
) -> None:
    """Respondents, countries, questions present, missing rate, version and validation findings."""
    data = load_data(pick_data(path, data_opt), countries=_countries_arg(country), codebook=codebook)
    info = summary_dict(data)
    if as_json:
        typer.echo(json.dumps(info, ensure_ascii=False))
        return
    _synthetic_banner(data)
    _print_summary(info)


@data_app.command("show")
def show(
    path: str | None = typer.Argument(None, metavar="PATH", help=_ALIAS_HELP, show_default=False),
    data_opt: str | None = typer.Option(None, "--data", help=_PATH_HELP),
    respondent: str = typer.Option(..., "--respondent", "-r", help=_ID_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the decoded record as JSON."),
    country: list[str] | None = typer.Option(None, "--country", "-c", help=_COUNTRY_HELP),
    codebook: str | None = typer.Option(None, "--codebook", help=CODEBOOK_HELP),
) -> None:
    """One person's decoded record: profile first, then answers grouped by questionnaire section."""
    data = load_data(pick_data(path, data_opt), countries=_countries_arg(country), codebook=codebook)
    record = record_dict(data, data.respondent(respondent.strip()))
    if as_json:
        typer.echo(json.dumps(record, ensure_ascii=False))
        return
    _print_record(record)


def _match_section(cb: Codebook, section: str) -> list[str]:
    key = section.strip().lower()
    hits = [sid for sid, s in cb.sections.items() if key == sid.lower() or key in s.title.lower()]
    if not hits:
        choices = ", ".join(cb.sections)
        raise DataError(f"No questionnaire section matches {section!r}.", f"Sections: {choices}.")
    return hits


@data_app.command("questions")
def questions(
    qids: list[str] | None = typer.Argument(None, help="Show these questions in full (wording and options)."),
    section: str | None = typer.Option(None, "--section", "-s", help="Only this section (id or part of its title)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    codebook: str | None = typer.Option(
        None,
        "--codebook",
        help="List the items of this codebook file instead of WVS-7's (see `valuesim codebook infer`).",
    ),
) -> None:
    """List the codebook's questions (id, section, kind, short text), or show a few in full."""
    cb = load_codebook_file(codebook) if codebook else load_codebook()
    if qids:
        chosen = [cb.get(q) for q in qids]
    else:
        sections = _match_section(cb, section) if section else list(cb.sections)
        chosen = [cb.get(q) for q in cb.ids() if cb.get(q).section in sections]
    if as_json:
        typer.echo(json.dumps([_question_dict(q, full=bool(qids)) for q in chosen], ensure_ascii=False))
        return
    if qids:
        for q in chosen:
            _print_question(cb, q)
        return
    t = Table(title=f"{cb.name} codebook: {len(chosen)} question(s)", title_justify="left")
    for col in ("id", "section", "kind", "options", "question"):
        t.add_column(col, no_wrap=col != "question")
    for q in chosen:
        kind = q.kind.value + (" (profile)" if q.profile else "")
        options = (
            str(q.n_options) if q.n_options else (f"{q.value_range[0]}-{q.value_range[1]}" if q.value_range else "")
        )
        t.add_row(escape(q.id), escape(q.section), kind, options, escape(q.short))
    console.print(t)


def _question_dict(q: Question, full: bool) -> dict[str, Any]:
    d: dict[str, Any] = {"id": q.id, "section": q.section, "kind": q.kind.value, "profile": q.profile, "short": q.short}
    if full:
        d.update(text=q.text, options={str(k): v for k, v in q.options.items()}, value_range=q.value_range, note=q.note)
    else:
        d["n_options"] = q.n_options
    return d


def _print_question(cb: Codebook, q: Question) -> None:
    console.print(
        f"[bold cyan]{q.id}[/] [dim]({cb.sections[q.section].title if q.section in cb.sections else q.section}; "
        f"{q.kind.value}{', profile item' if q.profile else ''})[/]"
    )
    console.print(escape(q.text))
    for code, label in q.options.items():
        console.print(f"  {code:>4}  {escape(label)}", highlight=False)
    if q.value_range:
        console.print(f"  a number from {q.value_range[0]} to {q.value_range[1]}")
    if q.note:
        console.print(f"  [dim]{q.note}[/]")


@data_app.command("synth")
def synth(
    out: Path = typer.Argument(..., help="Where to write: .csv, .csv.gz or .parquet."),
    n: int = typer.Option(500, "--n", "-n", min=1, help="Number of respondents."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same file)."),
    country: list[str] | None = typer.Option(
        None, "--country", "-c", help="Countries to simulate (default: DEU USA JPN BRA NGA EGY IND MEX)."
    ),
    no_missing: bool = typer.Option(False, "--no-missing", help="Every item answered (no missing codes)."),
) -> None:
    """Write a synthetic WVS-shaped file (same columns and codes as the real one, marked synthetic)."""
    from valuesim.survey.synthetic import (
        generate_synthetic,
        to_wvs_frame,
        write_wvs_csv,
    )

    name = out.name.lower()
    if not (name.endswith((".csv", ".csv.gz", ".parquet"))):
        raise DataError(f"Cannot write {out.name}: unsupported extension.", "Use .csv, .csv.gz or .parquet.")
    if not out.parent.exists():
        raise DataError(f"The directory {out.parent} does not exist.", "Create it first or pick another path.")
    data = generate_synthetic(n=n, seed=seed, countries=_countries_arg(country), missing=not no_missing)
    if name.endswith(".parquet"):
        to_wvs_frame(data).to_parquet(out, index=False)
    else:
        write_wvs_csv(data, out)
    counts = ", ".join(f"{c} {k}" for c, k in data.country_counts().items())
    console.print(f"Wrote {len(data):,} [bold]synthetic[/] respondents ({counts}) to {out}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the `data` command group to *app*."""
    app.add_typer(data_app, name="data")


__all__ = ["data_app", "record_dict", "register", "summary_dict"]
