"""Build the report of one or more benchmark runs: a self-contained HTML file (figures
embedded as base64 PNG, styles inline, no external asset), a Markdown file with the same
tables, and the figures as PNG files beside it.

>>> from valuesim.report import build_report
>>> paths = build_report(["runs/knn", "runs/valuesim"], "report", reference="knn")
>>> paths.html  # report/report.html
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from valuesim._redact import redact_text
from valuesim.bench.metrics import METRICS, MIN_GROUP_RESPONDENTS, SMALL_GROUP_NOTE
from valuesim.bench.rundir import refuse_dangerous_dir
from valuesim.errors import ConfigError, DataError
from valuesim.llm.backends.local import SMOKE_TEST_NOTE, is_embedded_default
from valuesim.llm.simulation import is_simulated
from valuesim.report import plots, tables
from valuesim.report.added import added_section
from valuesim.report.document import Cell, Document, Figure, Section, Table, to_markdown
from valuesim.report.load import RunData, load_runs
from valuesim.survey.codebook import Codebook

HTML_FILE = "report.html"
MARKDOWN_FILE = "report.md"
FIGURE_DIR = "figures"
#: at most this many runs in the grouped (topic, country, error, calibration) figures
MAX_RUNS_PER_FIGURE = 6
_NUMERIC_COLUMNS = frozenset(
    {"Resp.", "Preds", "Top-1", "nMAE", "Within-1", "SD (folds)", "Calls / pred", "Tokens / pred", "Wall time"}
)


@dataclass
class ReportPaths:
    out_dir: Path
    html: Path
    markdown: Path
    figures: list[Path] = field(default_factory=list)
    reference: str | None = None


@dataclass(frozen=True)
class ReportOptions:
    title: str = "ValueSim benchmark report"
    #: run (directory) name or method name to compare every other run with; default: the
    #: strongest run by top-1 (:func:`strongest`)
    reference: str | None = None
    #: item of the single-item confusion matrix; default: the ordered item with most predictions
    confusion_item: str | None = None
    max_runs_per_figure: int = MAX_RUNS_PER_FIGURE
    #: runs drawn in the topic / country / error figures, in this order (default: the
    #: reference, then the other k-fold runs, up to ``max_runs_per_figure``)
    figure_runs: tuple[str, ...] | None = None
    #: run name -> group label ("main table", "ablation", ...), shown under the run name
    groups: Mapping[str, str] | None = None
    n_perm: int = 5000
    seed: int = 0


@dataclass
class _Ctx:
    """Everything the section builders share."""

    runs: list[RunData]
    reference: RunData
    codebook: Codebook
    opts: ReportOptions
    synthetic: bool
    colors: Mapping[str, plots.Color]
    fig_runs: list[RunData]
    omitted: list[str]
    comp: pd.DataFrame


# --------------------------------------------------------------------------- helpers


#: the metric that picks the default reference (the strongest run)
PRIMARY_METRIC = "top1"


def strongest(runs: Sequence[RunData]) -> RunData:
    """The run with the best headline :data:`PRIMARY_METRIC` among the finished k-fold runs
    (history sweeps and unfinished runs only when there is nothing else); ties: the first given."""
    pool = [r for r in runs if r.complete and not r.is_sweep] or [r for r in runs if not r.is_sweep] or list(runs)

    def score(r: RunData) -> float:
        v = (r.metrics.get(PRIMARY_METRIC) or {}).get("mean")
        return float(v) if isinstance(v, (int, float)) and np.isfinite(v) else -np.inf

    return max(pool, key=score)  # max keeps the first of equal scores


def pick_reference(runs: Sequence[RunData], reference: str | None) -> RunData:
    """The run named *reference* (directory name, else method name); default: the strongest
    run by top-1 (:func:`strongest`), so every other run is tested against the best one."""
    if reference is None:
        return strongest(runs)
    by_name = [r for r in runs if r.name == reference or r.path.name == reference]
    if len(by_name) == 1:
        return by_name[0]
    by_method = [r for r in runs if r.method == reference]
    if len(by_method) == 1:
        return by_method[0]
    names = ", ".join(r.name for r in runs)
    if len(by_method) > 1 or len(by_name) > 1:
        raise ConfigError(f"Reference {reference!r} matches several runs.", f"Name one run directory: {names}.")
    raise ConfigError(f"No run named {reference!r} among the runs given.", f"Use one of: {names}.")


def _figure_runs(
    runs: Sequence[RunData], reference: RunData, limit: int, wanted: Sequence[str] | None = None
) -> tuple[list[RunData], list[str]]:
    """Runs drawn in grouped figures: *wanted* (names, in order) when given, else k-fold
    runs with the reference first; at most *limit*. Also returns the k-fold runs left out."""
    pool = [r for r in runs if not r.is_sweep] or list(runs)
    if wanted:
        by_name = {r.name: r for r in runs}
        chosen = [by_name[n] for n in wanted if n in by_name][:limit]
        if chosen:
            return chosen, [r.name for r in pool if r not in chosen]
    ordered = ([reference] if reference in pool else []) + [r for r in pool if r is not reference]
    return ordered[:limit], [r.name for r in ordered[limit:]]


def _best_marks(values: list[float], lower_is_better: bool) -> list[str]:
    arr = np.array([np.nan if v is None else v for v in values], dtype=float)
    if np.isnan(arr).all() or len(arr) < 2:
        return [""] * len(values)
    best = np.nanmin(arr) if lower_is_better else np.nanmax(arr)
    return ["best" if np.isfinite(v) and np.isclose(v, best) else "" for v in arr]


def _ci_text(lo: float | None, hi: float | None, signed: bool = False) -> str:
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return ""
    return f"[{lo:+.3f}, {hi:+.3f}]" if signed else f"[{lo:.3f}, {hi:.3f}]"


def _split_ci(text: str) -> Cell:
    """ "0.412 [0.400, 0.425]" -> Cell("0.412", sub="[0.400, 0.425]")."""
    head, sep, rest = text.partition(" [")
    return Cell(head, sub=f"[{rest}" if sep else "")


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _figure(fig_id: str, title: str, fig: Any, caption: str = "") -> Figure:
    return Figure(fig_id, title, plots.to_png(fig), caption)


# --------------------------------------------------------------------------- sections


def _summary_section(c: _Ctx) -> Section:
    comp = c.comp
    sec = Section("summary", "Method comparison")
    sec.paragraphs.append(
        "Scores over all predictions of each run: top-1 (exact answer), within-1 (at most one option away on "
        "ordered items; exact on nominal ones) and normalized mean absolute error (ordered items only; lower is "
        "better). The headline value is the mean over folds of the per-fold mean; under it, the 95% bootstrap "
        "confidence interval over respondents. The best value of each column is in bold."
    )
    marks = {m: _best_marks(list(comp[m]), m in tables.LOWER_IS_BETTER) for m in METRICS}
    models = sorted({m for m in comp["model"] if m})
    llm = bool(models) or bool(comp["llm_calls"].fillna(0).gt(0).any())
    model_col = len(models) > 1
    sd_col = bool((comp["n_folds"] > 1).any())
    columns = (
        ["Run", "Method"]
        + (["Model"] if model_col else [])
        + ["Protocol", "Resp.", "Preds", "Top-1", "nMAE", "Within-1"]
    )
    columns += ["SD (folds)"] if sd_col else []
    columns += (["Calls / pred", "Tokens / pred"] if llm else []) + ["Wall time"]
    rows = []
    for i, r in comp.iterrows():
        name = r["run"] + (" (reference)" if r["run"] == c.reference.name else "")
        row = [Cell(name, sub=(c.opts.groups or {}).get(r["run"], "")), Cell(r["method"])]
        row += [Cell(r["model"] or "-")] if model_col else []
        row += [
            Cell(r["protocol"] + ("" if r["complete"] else ", unfinished"), "" if r["complete"] else "muted"),
            Cell(tables.fmt(int(r["n_respondents"]))),
            Cell(tables.fmt(int(r["n_predictions"]))),
            *[Cell(tables.fmt(r[m]), marks[m][i], _ci_text(r[f"{m}_lo"], r[f"{m}_hi"])) for m in METRICS],
        ]
        if sd_col:
            row.append(Cell(tables.fmt(r["top1_std"]) if r["n_folds"] > 1 else "-"))
        if llm:
            uses = bool(r["model"]) or (r["llm_calls"] or 0) > 0
            row += [
                Cell(tables.fmt(r["calls_per_pred"], 2) if uses else "-"),
                Cell(tables.fmt(r["tokens_per_pred"], 0) if uses else "-"),
            ]
        row.append(Cell(tables.fmt_seconds(r["wall_seconds"])))
        rows.append(row)
    caption = "Preds: scored predictions."
    if sd_col:
        caption += " SD (folds): standard deviation of the per-fold top-1, as the ValueSim paper reports it."
    if llm:
        caption += (
            " Calls and tokens count model calls made by the run; answers served from the LLM cache "
            "(e.g. identical prompts of an earlier run) are cache hits, listed under cost below."
        )
    if len(models) == 1:
        caption += f" Model of the LLM methods: {models[0]}."
    sec.blocks.append(
        Table(columns, rows, caption=caption, align=[("r" if col in _NUMERIC_COLUMNS else "l") for col in columns])
    )
    sec.blocks.append(
        _figure(
            "comparison",
            "Scores per run",
            plots.comparison_figure(comp, synthetic=c.synthetic, colors=c.colors),
            "Bars: headline value; whiskers: 95% bootstrap CI over respondents.",
        )
    )
    if any(r.is_sweep for r in c.runs):
        sec.notes.append("History-sweep runs pool all history sizes in this table; see the history curve below.")
    return sec


def _paired_section(c: _Ctx) -> Section | None:
    if len(c.runs) < 2:
        return None
    ref = c.reference
    sec = Section("paired", f"Paired tests against {ref.name}")
    sec.paragraphs.append(
        f"Each run minus the reference run {ref.name!r}, prediction by prediction on identical work (same split): "
        "the difference with its 95% paired bootstrap CI over respondents (under it) and the p-value of a "
        "two-sided sign-flip permutation test over respondents (sign test on per-respondent differences under "
        "it). Bold: significantly better than the reference (p < 0.05 and the CI excludes 0); italic: "
        "significantly worse. For nMAE a negative difference is an improvement."
    )
    results = tables.paired_table(c.runs, ref, c.codebook, seed=c.opts.seed, n_perm=c.opts.n_perm)
    by_run: dict[str, dict[str, tables.PairedRow]] = {}
    for pr in results:
        by_run.setdefault(pr.run, {})[pr.metric] = pr
    columns = ["Run"]
    for m in METRICS:
        columns += [f"Δ {tables.METRIC_LABELS[m]}", "p"]
    columns += ["Resp.", "Preds"]
    rows = []
    untested = []
    for run, entries in by_run.items():
        if "" in entries:  # not tested at all (other split, unfinished)
            untested.append(f"{run} ({entries[''].note})")
            continue
        row = [Cell(run)]
        n_resp = n_pred = None
        for m in METRICS:
            e = entries.get(m)
            if e is None or e.diff is None:
                row += [Cell("-", "muted", e.note if e else ""), Cell("-")]
                continue
            mark = {"run": "better", "reference": "worse"}.get(e.better or "", "")
            row += [
                Cell(f"{e.diff:+.3f}", mark, _ci_text(e.lo, e.hi, signed=True)),
                Cell(tables.fmt_p(e.p_permutation), sub=f"sign {tables.fmt_p(e.p_sign)}"),
            ]
            n_resp = e.n_respondents
            if m == "top1":
                n_pred = e.n_predictions
        row += [Cell(tables.fmt(n_resp)), Cell(tables.fmt(n_pred))]
        rows.append(row)
    if rows:
        sec.blocks.append(
            Table(
                columns,
                rows,
                align=["l"] + ["r"] * (len(columns) - 1),
                caption="Δ = run minus reference. Preds: predictions compared for top-1 (nMAE "
                "compares ordered items answered by both runs).",
            )
        )
    else:
        sec.paragraphs.append("No other run shares the reference's split: nothing could be tested.")
    for u in untested:
        sec.notes.append(f"Not tested: {u}.")
    smallest = min((pr.n_respondents for pr in results if pr.n_respondents), default=None)
    if smallest is not None and smallest < 10:
        sec.notes.append(
            f"Only {smallest} respondents: a sign-flip test over so few people cannot reach small p-values "
            f"(the smallest possible is about {2 / 2**smallest:.3f}). Use more respondents for conclusions."
        )
    return sec


def _history_section(c: _Ctx) -> Section | None:
    long = tables.history_long(c.runs, "top1")
    if long.empty:
        return None
    sec = Section("history", "Accuracy against history size")
    sec.paragraphs.append(
        "How much knowing more of a person's answers helps: top-1 accuracy when the method sees h of the "
        "person's other answers besides the profile block (nested random subsets, the same for every method). "
        "Bands: 95% bootstrap CI over respondents."
    )
    sec.blocks.append(
        _figure(
            "history_curve",
            "Top-1 against history size",
            plots.history_curve_figure(long, metric_label="top-1 accuracy", synthetic=c.synthetic, colors=c.colors),
        )
    )
    sweeps = [r for r in c.runs if r.is_sweep]
    ref = next((r for r in sweeps if r.method == c.reference.method), sweeps[0] if sweeps else None)
    if ref is not None:
        paired = tables.paired_by_condition(sweeps, ref, c.codebook, seed=c.opts.seed, n_perm=c.opts.n_perm)
        if not paired.empty:
            hs = sorted(paired["h"].unique())
            rows = []
            for run, sub in paired.groupby("run", sort=False):
                by_h = sub.set_index("h")
                cells = [Cell(str(run))]
                for h in hs:
                    if h not in by_h.index:
                        cells.append(Cell("-"))
                        continue
                    e = by_h.loc[h]
                    sig = e["p_permutation"] < 0.05 and not (e["lo"] <= 0 <= e["hi"])
                    cells.append(
                        Cell(
                            f"{e['diff']:+.3f}",
                            ("better" if e["diff"] > 0 else "worse") if sig else "",
                            f"{_ci_text(e['lo'], e['hi'], signed=True)} p={tables.fmt_p(e['p_permutation'])}",
                        )
                    )
                rows.append(cells)
            sec.blocks.append(
                Table(
                    ["Run"] + [f"h={h}" for h in hs],
                    rows,
                    align=["l"] + ["r"] * len(hs),
                    caption=f"Paired top-1 difference to {ref.name} at each history size (same "
                    "split), 95% paired bootstrap CI and permutation p-value below; bold / italic: "
                    "significantly better / worse.",
                )
            )
    for metric in METRICS:
        wide = tables.history_wide(tables.history_long(c.runs, metric))
        sec.blocks.append(
            Table(
                list(wide.columns),
                [[_split_ci(str(v)) for v in row] for row in wide.itertuples(index=False)],
                caption=f"{tables.METRIC_LABELS[metric]} by history size, 95% CI below.",
                align=["l"] + ["r"] * (len(wide.columns) - 1),
            )
        )
    return sec


def _breakdown_section(c: _Ctx, sid: str, title: str, key: str) -> Section | None:
    labels = tables.section_labels(c.codebook) if key == "section" else None
    long = tables.breakdown_long(c.fig_runs, key, "top1", labels=labels)
    if long.empty:
        return None
    order = list(c.codebook.sections) if key == "section" else sorted(long["group_id"].unique())
    long = tables.order_groups(long, order)
    # label groups with their size in people and predictions (of the first run drawn)
    first = long[long["run"] == c.fig_runs[0].name].set_index("group_id")
    sizes = {
        gid: tables.group_size_label(
            None if pd.isna(row["n_respondents"]) else int(row["n_respondents"]), int(row["n"])
        )
        + (f"; no CI: {row['note']}" if row["note"] else "")
        for gid, row in first.iterrows()
    }
    long = long.assign(
        group=[
            f"{g} ({sizes.get(gid, 'not in the first run')})"
            for g, gid in zip(long["group"], long["group_id"], strict=True)
        ]
    )
    sec = Section(sid, title)
    what = "questionnaire section (topic)" if key == "section" else "respondent's country"
    sec.paragraphs.append(
        f"Top-1 accuracy by {what}; whiskers: 95% bootstrap CI resampling the group's respondents. "
        f"Groups with fewer than {MIN_GROUP_RESPONDENTS} respondents get no interval ({SMALL_GROUP_NOTE}): "
        "their bars are single people, not estimates."
    )
    fig = plots.grouped_bars_figure(
        long,
        group_label="",
        metric_label="top-1 accuracy",
        synthetic=c.synthetic,
        run_order=[r.name for r in c.fig_runs],
        colors=c.colors,
    )
    sec.blocks.append(_figure(f"by_{key}", title, fig))
    cells = long.assign(
        cell=[
            f"{tables.fmt(m)} ({note})" if note else tables.fmt_ci(m, lo, hi)
            for m, lo, hi, note in zip(long["mean"], long["lo"], long["hi"], long["note"], strict=True)
        ]
    )
    wide = cells.pivot(index="group", columns="run", values="cell").reindex(long["group"].drop_duplicates())
    wide = wide[[r.name for r in c.fig_runs if r.name in wide.columns]]
    rows = [
        [Cell(str(g))] + [Cell("-" if not isinstance(v, str) else v) for v in vals]
        for g, vals in zip(wide.index, wide.to_numpy(), strict=True)
    ]
    sec.blocks.append(
        Table(
            ["Topic" if key == "section" else "Country"] + list(wide.columns),
            rows,
            caption="Top-1 accuracy [95% CI resampling the group's respondents]; "
            f"no interval for groups of fewer than {MIN_GROUP_RESPONDENTS} people.",
            align=["l"] + ["r"] * len(wide.columns),
        )
    )
    if c.omitted:
        sec.notes.append(f"Not drawn in the figures: {', '.join(c.omitted)} (see the comparison table).")
    return sec


def _errors_section(c: _Ctx) -> Section | None:
    dist = tables.signed_error(c.fig_runs)
    if dist.empty:
        return None
    sec = Section("errors", "Ordinal errors and confusion")
    sec.paragraphs.append(
        "Signed error on ordered items in answer options (rank of the prediction minus rank of the truth; "
        "negative = toward the item's first option). A method that hedges toward the middle shows a "
        "narrow, centred peak but compresses the extremes, visible in the confusion matrices."
    )
    sec.blocks.append(
        _figure(
            "signed_error",
            "Signed error on ordered items",
            plots.signed_error_figure(dist, clip=4, synthetic=c.synthetic, colors=c.colors),
        )
    )
    pooled = {r.name: m for r in c.fig_runs if (m := tables.pooled_confusion(r)) is not None}
    if pooled:
        sec.blocks.append(
            _figure(
                "confusion_pooled",
                "Confusion of answer positions (all ordered items)",
                plots.confusion_figure(
                    pooled,
                    title="True vs predicted position on the answer scale (ordered items, 5 bins; rows sum to 1)",
                    synthetic=c.synthetic,
                ),
                "Each item's options are ranked first to last and scaled to 5 bins.",
            )
        )
    item = c.opts.confusion_item or tables.default_confusion_item(c.fig_runs)
    if item is not None:
        q = c.codebook.get(item)
        per_item = {r.name: m for r in c.fig_runs if (m := tables.item_confusion(r, q.id, c.codebook)) is not None}
        if per_item:
            sec.blocks.append(
                _figure(
                    f"confusion_{q.id}",
                    f"Confusion for {q.id}",
                    plots.confusion_figure(
                        per_item, title=f"{q.id}: {_clip(q.short, 90)} (rows sum to 1)", synthetic=c.synthetic
                    ),
                    f"{q.id} ({q.kind.value}): {q.text} Answers: {tables.option_legend(q.id, c.codebook)}.",
                )
            )
        elif c.opts.confusion_item:
            sec.notes.append(f"{q.id} was not predicted in the runs drawn here: no item confusion matrix.")
    return sec


def _individuation_section(c: _Ctx) -> Section | None:
    """Per run: what its predictions know about the person beyond the demographic group."""
    blocks = [(r, r.metrics.get("individuation")) for r in c.runs]
    if not any(isinstance(b, Mapping) for _, b in blocks):
        return None
    sec = Section("individuation", "Individuation: beyond the demographic group")
    sec.paragraphs.append(
        "Accuracy alone does not say whether a method tells people apart: a method can score well by "
        "answering what people of the same country, sex and age band usually answer. Each run is compared, on "
        "the same targets, with that group answer (demographic-majority fit on the run's training people, "
        "whether or not that baseline was run). Top-1 lift: the run's top-1 minus the group answer's; "
        "log-loss lift: the group's log-loss minus the run's (positive: better than the group); both with a 95% "
        "bootstrap CI over respondents. r beyond group: on ordered items, the correlation of the predicted "
        "score (expected answer) with the true answer, both taken relative to the group's expected answer "
        "(0: the predictions know the group only). r in sample cells: the same correlation within demographic "
        "cells of the evaluated people that hold at least "
        f"{next((b.get('min_cell') for _, b in blocks if isinstance(b, Mapping)), 3)} people. "
        "Definitions: docs/metrics.md."
    )
    rows = []
    missing = []
    for r, b in blocks:
        if not isinstance(b, Mapping):
            missing.append(r.name)
            continue
        t1, ll = b.get("top1_lift") or {}, b.get("log_loss_lift") or {}
        wr, ws = b.get("within_cell_r") or {}, b.get("within_cell_r_sample") or {}

        def lift(e: Mapping[str, Any]) -> Cell:
            ci = e.get("ci95") or [None, None]
            return Cell(
                "-" if e.get("mean") is None else f"{e['mean']:+.3f}",
                "",
                _ci_text(ci[0], ci[1], signed=True) if e.get("mean") is not None else "",
            )

        def corr(e: Mapping[str, Any], n_key: str = "n") -> Cell:
            v = e.get("r")
            return Cell("-" if v is None else f"{v:+.2f}", "", f"n={e.get(n_key, 0)}")

        rows.append(
            [
                Cell(r.name),
                Cell(tables.fmt(b.get("group_top1"))),
                lift(t1),
                lift(ll),
                corr(wr),
                corr(ws),
            ]
        )
    sec.blocks.append(
        Table(
            ["Run", "Group top-1", "Top-1 lift", "Log-loss lift", "r beyond group", "r in sample cells"],
            rows,
            align=["l", "r", "r", "r", "r", "r"],
            caption="Group top-1: top-1 of the demographic group's answer on the run's targets. n under r: "
            "predictions correlated (ordered items; for sample cells only people in cells large enough).",
        )
    )
    if missing:
        sec.notes.append(
            f"No individuation numbers for {', '.join(missing)} (unfinished, or scored before this measure "
            "existed: rerun the same `valuesim bench` command to rescore)."
        )
    return sec


def _position_section(c: _Ctx) -> Section | None:
    """Share of predictions on the first option the prompt showed (LLM runs record the order)."""
    rows = [(r, b) for r in c.runs if isinstance(b := r.metrics.get("position_bias"), dict)]
    if not rows:
        return None
    sec = Section("position-bias", "Position bias")
    sec.paragraphs.append(
        "How often an LLM method chose the option its prompt showed first, against chance (one over the "
        "number of options, averaged over the same predictions). A share far above chance is position bias; "
        "run the method again with -o option_order=shuffled (or reversed) on the same split and compare the "
        "two runs with `valuesim bench compare` for the paired difference."
    )
    sec.blocks.append(
        Table(
            ["Run", "Option order", "First option shown chosen", "Chance", "Predictions"],
            [
                [
                    Cell(r.name),
                    Cell(str(r.method_config.get("option_order", "original"))),
                    Cell(tables.fmt_ci(b.get("mean"), *(b.get("ci95") or [None, None]))),
                    Cell(tables.fmt(b.get("chance"))),
                    Cell(tables.fmt(b.get("n"))),
                ]
                for r, b in rows
            ],
            align=["l", "l", "r", "r", "r"],
        )
    )
    return sec


def _calibration_section(c: _Ctx) -> Section | None:
    pt = tables.probabilistic_table(c.runs)
    if pt.empty:
        return None
    sec = Section("calibration", "Calibration")
    sec.paragraphs.append(
        "For methods that return answer probabilities: how often the top answer is right against the "
        "probability the method gave it (top-label reliability, 10 bins), with log-loss, Brier score and "
        "expected calibration error (ECE); lower is better for all three."
    )
    drawn = [r for r in c.fig_runs if r.has_probabilities] or [r for r in c.runs if r.has_probabilities][
        : c.opts.max_runs_per_figure
    ]
    curves = tables.calibration_long(drawn)
    if not curves.empty:
        sec.blocks.append(
            _figure(
                "calibration",
                "Reliability diagram",
                plots.calibration_figure(curves, synthetic=c.synthetic, colors=c.colors),
                "Upper panel: bins holding at least 5% of a run's predictions (at least 3, at most 20 needed); "
                "lower panel: share of predictions per bin.",
            )
        )
    sec.blocks.append(
        Table(
            ["Run", "Log-loss", "Brier", "ECE", "Coverage", "Preds with probabilities"],
            [
                [
                    Cell(r.run),
                    Cell(tables.fmt(r.log_loss)),
                    Cell(tables.fmt(r.brier)),
                    Cell(tables.fmt(r.ece)),
                    Cell(tables.fmt(r.coverage, 2)),
                    Cell(tables.fmt(None if r.n is None else int(r.n))),
                ]
                for r in pt.itertuples(index=False)
            ],
            align=["l", "r", "r", "r", "r", "r"],
            caption="Coverage: share of the run's predictions that came with probabilities.",
        )
    )
    return sec


def _story_section(c: _Ctx) -> Section | None:
    """Fidelity of the LLM-written (narrative) backstories of each run (metrics.json "story")."""
    runs = [r for r in c.runs if (r.metrics.get("story") or {}).get("narrative")]
    if not runs:
        return None
    sec = Section("story-fidelity", "Story fidelity")
    sec.paragraphs.append(
        "Every section of a narrative backstory is checked against the facts it was written from (answers, "
        "numbers and scale ends present; no instructions or remarks; no repetition; length). A failing section "
        "is written once more, then replaced by its facts sentences, so the methods are never told about "
        "someone else. First drafts: facts the model's first version kept; in prose: facts the final story "
        "tells in the model's words rather than as facts sentences."
    )

    def pct(v: Any) -> str:
        return "-" if v is None else f"{100 * float(v):.1f}%"

    rows = []
    for r in runs:
        n = r.metrics["story"]["narrative"]
        mf = n.get("model_fidelity") or {}
        problems = ", ".join(f"{k} {v}" for k, v in n.get("problems", {}).items() if v) or "none"
        rows.append(
            [
                Cell(r.name),
                Cell(str(n["stories"])),
                Cell(f"{n['sections_written']} / {n['sections_regenerated']} / {n['sections_fell_back']}"),
                Cell(pct(n.get("facts_preserved"))),
                Cell(pct(n.get("facts_preserved_first_draft"))),
                Cell(pct(n.get("facts_in_prose"))),
                Cell(pct(mf.get("rate")) if mf else "off"),
                Cell(problems),
            ]
        )
    sec.blocks.append(
        Table(
            [
                "Run",
                "Stories",
                "Sections written / regenerated / fell back",
                "Facts preserved",
                "Kept by first drafts",
                "In prose",
                "Model check",
                "Problems found",
            ],
            rows,
            align=["l", "r", "r", "r", "r", "r", "r", "l"],
        )
    )
    return sec


def _recall_text(value: Any, k: Any) -> str:
    if value is None or k is None or pd.isna(value) or pd.isna(k):
        return "-"
    return f"{float(value):.2f} (k={int(k)})"


def _cost_section(c: _Ctx) -> Section:
    comp = c.comp
    sec = Section("cost", "Calls, tokens and time")
    sec.paragraphs.append(
        "LLM calls and tokens per prediction and the wall time of each run (summed over its sessions when it "
        "was resumed). Answers served from the LLM cache are cache hits, not calls: a run that re-asks prompts "
        "an earlier run already sent costs nothing. Non-LLM methods make no calls. History recall@k (LLM runs): "
        "of the k known answers most associated with the target among training people, the share the prompt "
        "stated (mean over predictions; model-free)."
    )
    sec.blocks.append(_figure("cost", "Cost per run", plots.cost_figure(comp, synthetic=c.synthetic, colors=c.colors)))
    n = comp["n_predictions"].clip(lower=1)
    sec.blocks.append(
        Table(
            [
                "Run",
                "LLM calls",
                "Calls / pred",
                "Prompt tokens / pred",
                "Completion tokens / pred",
                "Cache hits / pred",
                "History recall@k",
                "Wall time",
            ],
            [
                [Cell(r.run)]
                + (
                    [
                        Cell(tables.fmt(None if r.llm_calls is None else int(r.llm_calls))),
                        Cell(tables.fmt(r.calls_per_pred, 2)),
                        Cell(tables.fmt(r.prompt_tokens_per_pred, 1)),
                        Cell(tables.fmt(r.completion_tokens_per_pred, 1)),
                        Cell(tables.fmt(None if r.cache_hits is None else r.cache_hits / k, 2)),
                        Cell(_recall_text(r.history_recall, r.history_recall_k)),
                    ]
                    if (r.model or (r.llm_calls or 0) > 0 or (r.cache_hits or 0) > 0)
                    else [Cell("-")] * 6
                )
                + [Cell(tables.fmt_seconds(r.wall_seconds))]
                for r, k in zip(comp.itertuples(index=False), n, strict=True)
            ],
            align=["l", "r", "r", "r", "r", "r", "r", "r"],
        )
    )
    return sec


def _provenance_section(c: _Ctx) -> Section:
    sec = Section("provenance", "Provenance")
    sec.paragraphs.append(
        "What made each number: the command, software, data and split of every run. Two runs "
        "with the same split hash were judged on identical work."
    )
    rows = []
    for r in c.runs:
        p = tables.provenance(r)
        rows.append(
            [
                Cell(p["run"]),
                Cell("SYNTHETIC" if p["synthetic"] else "survey file", "synthetic-only" if p["synthetic"] else ""),
                Cell(p["data_path"] or "-"),
                Cell(p["data_fingerprint"] or "-"),
                Cell(p["split_hash"][:12] or "-"),
                Cell(p["valuesim_version"] or "-"),
                Cell(p["git_commit"][:10] or tables.NO_GIT_COMMIT),
                Cell(p["finished"]),
            ]
        )
        sec.details.append((f"{p['run']}: command", p["command"] or "(not recorded)"))
        sec.details.append(
            (
                f"{p['run']}: configuration",
                json.dumps(
                    {
                        "method": p["method_config"],
                        "protocol": p["protocol"],
                        "python": p["python"],
                        "platform": p["platform"],
                        "packages": p["packages"],
                        "started": p["started"],
                        "status": p["status"],
                        "path": p["path"],
                    },
                    indent=1,
                    ensure_ascii=False,
                    default=str,
                ),
            )
        )
        for n in p["notes"]:
            sec.notes.append(f"{p['run']}: {n}")
    sec.blocks.insert(
        0, Table(["Run", "Data", "Data file", "Fingerprint", "Split hash", "valuesim", "Git commit", "Finished"], rows)
    )
    return sec


# --------------------------------------------------------------------------- assembly


def build_document(runs: Sequence[RunData], opts: ReportOptions, codebook: Codebook) -> Document:
    """Compute every table and figure of the report."""
    from valuesim import __version__

    runs = list(runs)
    if opts.confusion_item is not None:
        codebook.get(opts.confusion_item)  # unknown id -> UnknownQuestionError before any work
    reference = pick_reference(runs, opts.reference)
    synthetic = any(r.synthetic for r in runs)
    fig_runs, omitted = _figure_runs(runs, reference, opts.max_runs_per_figure, opts.figure_runs)
    ctx = _Ctx(
        runs=runs,
        reference=reference,
        codebook=codebook,
        opts=opts,
        synthetic=synthetic,
        colors=plots.run_colors([r.name for r in runs]),
        fig_runs=fig_runs,
        omitted=omitted,
        comp=tables.comparison_table(runs),
    )
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    simulated = sorted({r.name for r in runs if is_simulated(r.model)})
    doc = Document(
        title=("[SYNTHETIC] " if synthetic else "") + ("[SIMULATED] " if simulated else "") + opts.title,
        subtitle=f"{len(runs)} run(s), reference {reference.name!r}"
        + (" (the strongest by top-1)" if opts.reference is None and len(runs) > 1 else " (chosen)")
        + f"; generated {when} by valuesim {__version__}.",
        synthetic=synthetic,
    )
    if simulated:
        doc.warnings.append(
            f"SIMULATED model in {', '.join(simulated)}: mock:oracle=P knows the true answer of the person the "
            "prompt describes (a test instrument for the machinery). These numbers say nothing about any real model."
        )
    if synthetic and not all(r.synthetic for r in runs):
        doc.warnings.append("Runs on synthetic and on survey data are mixed in this report.")
    if len({r.split_hash for r in runs}) > 1:
        groups: dict[str, list[str]] = {}
        for r in runs:
            groups.setdefault(r.split_hash[:12], []).append(r.name)
        doc.warnings.append(
            "The runs were not all made on the same split; only runs sharing the reference's split are tested "
            "against it (" + "; ".join(f"split {h}: {', '.join(n)}" for h, n in groups.items()) + ")."
        )
    if len({tables.provenance(r)["data_fingerprint"] for r in runs}) > 1:
        doc.warnings.append("The runs were made on different data (different fingerprints).")
    for r in runs:
        if not r.complete:
            doc.warnings.append(f"{r.name} is unfinished: its numbers cover the units finished so far.")
    smoke = [r.name for r in runs if is_embedded_default(r.model)]
    if smoke:
        doc.warnings.append(f"{', '.join(smoke)}: {SMOKE_TEST_NOTE}")
    sections = [
        _summary_section(ctx),
        _paired_section(ctx),
        added_section(runs, codebook, seed=opts.seed),
        _individuation_section(ctx),
        _history_section(ctx),
        _breakdown_section(ctx, "by-topic", "Accuracy by topic", "section"),
        _breakdown_section(ctx, "by-country", "Accuracy by country", "country"),
        _errors_section(ctx),
        _calibration_section(ctx),
        _position_section(ctx),
        _story_section(ctx),
        _cost_section(ctx),
        _provenance_section(ctx),
    ]
    doc.sections = [s for s in sections if s is not None]
    return doc


def render_html(doc: Document) -> str:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("valuesim.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return redact_text(env.get_template("report.html.j2").render(doc=doc))  # no report shows a secret


def write_report(doc: Document, out_dir: str | Path) -> ReportPaths:
    """Write report.html, report.md and figures/*.png into *out_dir*."""
    out = Path(out_dir).expanduser()
    refuse_dangerous_dir(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file.", "Pick a directory for the report.")
    fig_dir = out / FIGURE_DIR
    fig_dir.mkdir(parents=True, exist_ok=True)
    for stale in fig_dir.glob("*.png"):  # figures of an earlier report that this one lacks
        stale.unlink()
    figs = []
    for f in doc.figures():
        p = fig_dir / f.filename
        p.write_bytes(f.png)
        figs.append(p)
    html = out / HTML_FILE
    html.write_text(render_html(doc), encoding="utf-8")
    md = out / MARKDOWN_FILE
    md.write_text(redact_text(to_markdown(doc, FIGURE_DIR)), encoding="utf-8")
    return ReportPaths(out_dir=out, html=html, markdown=md, figures=figs)


def build_report(
    run_dirs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    reference: str | None = None,
    title: str = ReportOptions.title,
    confusion_item: str | None = None,
    codebook: Codebook | None = None,
    **options: Any,
) -> ReportPaths:
    """Read the runs in *run_dirs* and write the report into *out_dir* (see module doc).

    ``reference``: the run (directory name or method name) every other run is tested
    against; default the first one. Runs may be unfinished (numbers then cover the units
    finished so far, flagged in the report). Further keyword options: see
    :class:`ReportOptions`.
    """
    if not run_dirs:
        raise DataError("No run directory given.", "Usage: valuesim report RUN_DIR [RUN_DIR ...] --out DIR")
    try:
        opts = ReportOptions(title=title, reference=reference, confusion_item=confusion_item, **options)
    except TypeError as e:
        raise ConfigError(f"Unknown report option: {e}.", "See valuesim.report.build.ReportOptions.") from None
    from valuesim.bench import rundir

    cb = codebook or rundir.shared_codebook([rundir.open_run(p) for p in run_dirs])
    runs = load_runs(run_dirs, cb)
    doc = build_document(runs, opts, cb)
    paths = write_report(doc, out_dir)
    paths.reference = pick_reference(runs, opts.reference).name
    return paths
