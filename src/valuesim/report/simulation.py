"""The report of a ``valuesim simulate`` run: answer distributions of new questions by group.

Built from the run's answers and distributions tables with the benchmark report's document
model (:mod:`valuesim.report.document`) and writer (:func:`valuesim.report.build.write_report`),
so it has the same HTML + Markdown + figures layout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from valuesim.bench.simulate import REPORT_DIR, SimulationResult
from valuesim.report import plots
from valuesim.report.document import Cell, Document, Figure, Section, Table
from valuesim.survey import demographics
from valuesim.survey.codebook import Question
from valuesim.survey.countries import find_country

GROUP_TITLES = {"country": "country", "sex": "sex", "age_band": "age band"}


def _label(by: str, group: str) -> str:
    if by == "country":
        found = find_country(group)  # a survey without a country column has the group "unknown"
        return f"{found.name} ({group})" if found is not None else f"country {group}"
    return "all respondents" if by == "all" else group


#: the simulated answer distribution: the mean over people of the method's probabilities
MEAN_PROBABILITY = "mean_probability"
#: the share of people whose most likely answer an option is (argmax), reported separately
ARGMAX_SHARE = "share"


def share_matrix(dists: pd.DataFrame, q: Question, bys: Sequence[str], value: str = MEAN_PROBABILITY) -> pd.DataFrame:
    """Rows: groups (all, then each group of *bys*) with their n; columns: option labels;
    cells: *value* (``mean_probability``, default, or ``share`` = argmax shares)."""
    sub = dists[(dists["question"] == q.id) & (dists["by"].isin(["all", *bys]))]
    rows: dict[str, pd.Series] = {}
    for by in ["all", *bys]:
        part = sub[sub["by"] == by]
        groups = list(dict.fromkeys(part["group"]))
        for group in demographics.sort_bands(groups) if by == "age_band" else groups:
            g = part[part["group"] == group]
            n = int(g["n"].iloc[0]) if len(g) else 0
            rows[f"{_label(by, group)}, n={n}"] = g.set_index("answer")[value]
    frame = pd.DataFrame(rows).T
    return frame[[q.label(c) for c in q.answer_codes]]


def _table(matrix: pd.DataFrame, caption: str) -> Table:
    cols = ["group", *matrix.columns]
    body = [
        [Cell(str(idx)), *(Cell("" if pd.isna(v) else f"{v:.0%}") for v in row)]
        for idx, row in zip(matrix.index, matrix.to_numpy(), strict=True)
    ]
    return Table(cols, body, caption=caption, align=["l"] + ["r"] * len(matrix.columns))


def _question_section(q: Question, dists: pd.DataFrame, synthetic: bool) -> Section:
    sec = Section(q.id.lower(), f"{q.id}: {q.text}")
    kind = "ordered" if q.ordered else "unordered"
    sec.paragraphs.append(f"Options ({kind}): " + " / ".join(q.label(c) for c in q.answer_codes) + ".")
    by_country = share_matrix(dists, q, ["country"])
    sec.blocks.append(
        Figure(
            f"dist_{q.id.lower()}",
            f"{q.id} by country",
            plots.to_png(
                plots.distribution_figure(
                    by_country,
                    title=f"{q.id} by country",
                    ordered=q.ordered,
                    synthetic=synthetic,
                    xlabel="mean predicted probability",
                )
            ),
            caption="Simulated answer distribution per country: the mean over the simulated respondents of the "
            "probability the method gave each option (n = simulated respondents).",
        )
    )
    sec.blocks.append(_table(by_country, f"{q.id}: simulated answer distribution (mean probability) by country"))
    for by in ("sex", "age_band"):
        m = share_matrix(dists, q, [by])
        if len(m) > 2:  # more than "all" and one group
            sec.blocks.append(
                _table(m, f"{q.id}: simulated answer distribution (mean probability) by {GROUP_TITLES[by]}")
            )
    sec.blocks.append(
        _table(
            share_matrix(dists, q, ["country"], ARGMAX_SHARE),
            f"{q.id}: share of respondents whose most likely answer (argmax) is each option, by country. Not a "
            "distribution of answers: a method that gives everyone 43% for one option shows 100% here.",
        )
    )
    return sec


def build_simulation_document(
    answers: pd.DataFrame, dists: pd.DataFrame, questions: Sequence[Question], manifest: Mapping[str, Any]
) -> Document:
    method = manifest.get("config", {}).get("method", {})
    data = manifest.get("data", {})
    synthetic = bool(data.get("synthetic"))
    n_people = answers["respondent"].nunique()
    countries = answers.drop_duplicates("respondent")["country"].value_counts().sort_index()
    doc = Document(
        title="Simulated answers to new questions",
        subtitle=f"{len(questions)} questions, {n_people} respondents of {data.get('path') or 'the data'}; "
        f"method {method.get('name')}" + (f", model {method['model']}" if method.get("model") else ""),
        synthetic=synthetic,
    )
    doc.warnings.append(
        "These are SIMULATED answers: a language model's prediction of what each real respondent would say, "
        "given their survey record. Nobody was asked these questions."
    )
    from valuesim.bench.simulate import smoke_test_note

    note = smoke_test_note(str(method.get("model") or ""))
    if note:
        doc.warnings.append(note)
    overview = Section("overview", "Sample")
    overview.blocks.append(
        Table(
            ["country", "respondents"],
            [[Cell(_label("country", str(c))), Cell(str(int(n)))] for c, n in countries.items()],
            caption="Simulated respondents per country",
            align=["l", "r"],
        )
    )
    abst = int(answers["code"].isna().sum())
    overview.paragraphs.append(
        f"{len(answers):,} simulated answers"
        + (f" ({abst} without an answer: the method abstained)" if abst else "")
        + "."
    )
    overview.details.append(("command", str(manifest.get("command", ""))))
    doc.sections = [overview, *(_question_section(q, dists, synthetic) for q in questions)]
    return doc


def write_simulation_report(
    answers: pd.DataFrame,
    dists: pd.DataFrame,
    questions: Sequence[Question],
    manifest: Mapping[str, Any],
    out_dir: Path,
) -> Path:
    """Write report.html (+ report.md, figures/) into *out_dir*; the HTML path."""
    from valuesim.report.build import write_report

    return write_report(build_simulation_document(answers, dists, questions, manifest), out_dir).html


def report_simulation(result: SimulationResult) -> Path | None:
    """Write the report of a finished :func:`~valuesim.bench.simulate.run_simulation` into
    ``<run>/report/`` (report.html, report.md, figures/); None when there are no answers."""
    if not len(result.answers):
        return None
    return write_simulation_report(
        result.answers, result.distributions, result.questions, result.manifest, result.out_dir / REPORT_DIR
    )
