"""Simulated answers as a data file a survey researcher opens: one row per person.

:func:`labelled_table` turns the long answers table of ``valuesim simulate`` (one row per
respondent x question) into a wide one: the respondent id, the country, the profile items the
method was given (their codes as in the survey file), then one column per simulated question
holding the code of the simulated answer (empty where the method abstained or failed).

:func:`write_labelled` writes it as CSV, Parquet, SPSS (.sav) or Stata (.dta); the SPSS and
Stata files carry variable labels (the question text) and value labels (the options; a rating
scale labels every point it was posed on, the inner ones with their own number, as the ESS
labels its 0-10 scales), so every simulated answer reads back with ``--data FILE --codebook
auto`` and the file opens in SPSS, Stata, R (haven) or pandas (pyreadstat).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from valuesim.errors import ConfigError
from valuesim.survey.codebook import Question, QuestionKind
from valuesim.survey.respondent import Respondent

ExportFormat = Literal["csv", "parquet", "sav", "dta"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "parquet", "sav", "dta")
#: names of the first two columns (``respondent_id`` is what ``codebook infer`` reads as the id)
ID_COLUMN, COUNTRY_COLUMN = "respondent_id", "country"
_MEASURE = {
    QuestionKind.NOMINAL: "nominal",
    QuestionKind.ORDINAL: "ordinal",
    QuestionKind.SCALE: "scale",
    QuestionKind.NUMERIC: "scale",
}
#: the file label of every .sav/.dta written here (at most 64 characters, the .sav limit): whoever
#: opens the file in SPSS or Stata sees that its answers are a model's, not people's
FILE_LABEL = "Simulated by ValueSim: model predictions, not survey responses"
#: longest variable name and variable label each format keeps
_NAME_MAX = {"sav": 64, "dta": 32}
_LABEL_MAX = {"sav": 255, "dta": 80}


@dataclass
class LabelledTable:
    """A wide table with its labels (``column -> question text``, ``column -> {code: label}``)."""

    frame: pd.DataFrame
    variable_labels: dict[str, str] = field(default_factory=dict)
    value_labels: dict[str, dict[int, str]] = field(default_factory=dict)
    measures: dict[str, str] = field(default_factory=dict)
    #: renamed columns and shortened labels, one line each
    notes: list[str] = field(default_factory=list)


def _value_labels(q: Question) -> dict[int, str]:
    if q.kind is QuestionKind.NUMERIC:
        return {}
    # every option, also a scale's inner points (labelled with their number, as the ESS labels
    # its 0-10 scales): a scale with only its ends labelled reads back from the file as a
    # two-option item whose other answers are unlabelled codes -- lost, when its ends are
    # numbers themselves (a slider without labels: "0" ... "100")
    return {c: q.options.get(c, str(c)) for c in q.answer_codes}


def labelled_table(
    answers: pd.DataFrame,
    questions: Sequence[Question],
    profile: Sequence[Question] = (),
    respondents: Mapping[str, Respondent] | None = None,
) -> LabelledTable:
    """The wide, labelled form of a simulate run's ``answers`` table (see the module docstring).

    ``profile`` items are taken from ``respondents`` (the survey's own codes); without them the
    table keeps the run's ``sex`` and ``age_band`` columns as text."""
    ids = list(dict.fromkeys(answers["respondent"].astype(str)))
    first = answers.assign(respondent=answers["respondent"].astype(str)).drop_duplicates("respondent")
    first = first.set_index("respondent")
    cols: dict[str, list[object]] = {ID_COLUMN: ids, COUNTRY_COLUMN: [first.loc[i, "country"] for i in ids]}
    out = LabelledTable(pd.DataFrame())
    out.variable_labels = {
        ID_COLUMN: "Respondent id (of the survey file)",
        COUNTRY_COLUMN: "Country (ISO 3166 alpha-3)",
    }
    if respondents is not None:
        for q in profile:
            cols[q.id] = [respondents[i].answers.get(q.id) if i in respondents else None for i in ids]
            out.variable_labels[q.id] = q.text
            out.value_labels[q.id] = _value_labels(q)
            out.measures[q.id] = _MEASURE[q.kind]
    else:
        for extra, label in (("sex", "Sex (as the run grouped it)"), ("age_band", "Age band (as the run grouped it)")):
            if extra in first:
                cols[extra] = [first.loc[i, extra] for i in ids]
                out.variable_labels[extra] = label
    wide = answers.assign(respondent=answers["respondent"].astype(str)).pivot_table(
        index="respondent", columns="question", values="code", aggfunc="first"
    )
    for q in questions:
        column = wide[q.id] if q.id in wide else pd.Series(dtype="float64")
        cols[q.id] = [None if pd.isna(v := column.get(i)) else int(v) for i in ids]
        out.variable_labels[q.id] = q.text
        out.value_labels[q.id] = _value_labels(q)
        out.measures[q.id] = _MEASURE[q.kind]
    frame = pd.DataFrame(cols)
    for c in frame.columns[2:]:
        if c in out.value_labels or pd.api.types.is_numeric_dtype(frame[c]):
            frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("Int64")
    out.frame = frame
    return out


def _var_name(name: str, fmt: str, taken: set[str]) -> str:
    """A valid SPSS/Stata variable name for *name* (unique among *taken*)."""
    clean = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not clean or not (clean[0].isalpha()):
        clean = f"v{clean}"
    clean = clean[: _NAME_MAX[fmt]]
    base, n = clean, 1
    while clean.lower() in taken:
        n += 1
        clean = f"{base[: _NAME_MAX[fmt] - len(str(n)) - 1]}_{n}"
    taken.add(clean.lower())
    return clean


def _for_format(table: LabelledTable, fmt: str) -> LabelledTable:
    """Names and labels within the limits of SPSS or Stata, each change in a note."""
    taken: set[str] = set()
    rename = {c: _var_name(str(c), fmt, taken) for c in table.frame.columns}
    notes = [f"column {old} is named {new} in the .{fmt} file" for old, new in rename.items() if old != new]
    limit = _LABEL_MAX[fmt]
    labels = {}
    cut: list[str] = []
    for col, text in table.variable_labels.items():
        if len(text) > limit:
            cut.append(rename[col])
            text = text[: limit - 1].rstrip() + "\u2026"
        labels[rename[col]] = text
    if cut:  # one line, not one per variable (a WVS profile alone has ~20 long labels)
        shown = ", ".join(cut[:8]) + (f" ... (+{len(cut) - 8})" if len(cut) > 8 else "")
        notes.append(f"{len(cut)} variable label(s) cut to {limit} characters (the .{fmt} limit): {shown}")
    return LabelledTable(
        table.frame.rename(columns=rename),
        labels,
        {rename[c]: v for c, v in table.value_labels.items() if v},
        {rename[c]: v for c, v in table.measures.items()},
        [*table.notes, *notes],
    )


def write_labelled(table: LabelledTable, path: str | Path, fmt: ExportFormat) -> list[str]:
    """Write *table* as ``fmt`` to *path* (through a temporary file); the notes of what changed."""
    import pyreadstat

    if fmt not in FORMATS:
        raise ConfigError(f"Unknown export format {fmt!r}.", f"Use one of: {', '.join(FORMATS)}.")
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(final.name + ".tmp")
    notes = list(table.notes)
    if fmt == "csv":
        table.frame.to_csv(tmp, index=False)
    elif fmt == "parquet":
        table.frame.to_parquet(tmp, index=False)
    else:
        t = _for_format(table, fmt)
        notes = t.notes
        frame = t.frame.copy()
        for c in frame.columns:  # pyreadstat writes floats with NaN as system-missing
            if isinstance(frame[c].dtype, pd.Int64Dtype):
                frame[c] = frame[c].astype("float64")
        labels: dict[str, str | None] = {c: t.variable_labels.get(c) for c in frame.columns}
        value_labels = {c: {float(k): v for k, v in lab.items()} for c, lab in t.value_labels.items()}
        if fmt == "sav":
            pyreadstat.write_sav(
                frame,
                str(tmp),
                file_label=FILE_LABEL,
                column_labels=labels,
                variable_value_labels=value_labels,
                variable_measure=t.measures or None,
            )
        else:
            pyreadstat.write_dta(
                frame, str(tmp), file_label=FILE_LABEL, column_labels=labels, variable_value_labels=value_labels
            )
    tmp.replace(final)
    return notes
