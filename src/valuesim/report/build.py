"""Build the report of one or more benchmark runs: a self-contained HTML file (figures
embedded as base64 PNG, styles inline, no external asset), a Markdown file with the same
tables, and the figures as PNG files beside it.

>>> from valuesim.report import build_report
>>> paths = build_report(["runs/knn", "runs/valuesim"], "report", reference="knn")
>>> paths.html  # report/report.html
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from valuesim.bench.metrics import METRICS
from valuesim.errors import ConfigError, DataError
from valuesim.report import plots, tables
from valuesim.report.document import Cell, Document, Figure, Section, Table, to_markdown
from valuesim.report.load import RunData, load_runs
from valuesim.survey.codebook import Codebook, load_codebook

HTML_FILE = "report.html"
MARKDOWN_FILE = "report.md"
FIGURE_DIR = "figures"
#: at most this many runs in the grouped (topic, country, error) figures
MAX_RUNS_PER_FIGURE = 6


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
    #: run (directory) name or method name to compare every other run with; default: the first run
    reference: str | None = None
    #: item of the single-item confusion matrix; default: the ordered item with most predictions
    confusion_item: str | None = None
    max_runs_per_figure: int = MAX_RUNS_PER_FIGURE
    n_perm: int = 5000
    seed: int = 0


# --------------------------------------------------------------------------- helpers


def pick_reference(runs: Sequence[RunData], reference: str | None) -> RunData:
    """The run named *reference* (directory name, else method name); default: the first run."""
    if reference is None:
        return runs[0]
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


def _figure_runs(runs: Sequence[RunData], reference: RunData, limit: int) -> tuple[list[RunData], list[str]]:
    """Runs drawn in grouped figures: k-fold runs, the reference first, at most *limit*."""
    pool = [r for r in runs if not r.is_sweep] or list(runs)
    ordered = ([reference] if reference in pool else []) + [r for r in pool if r is not reference]
    return ordered[:limit], [r.name for r in ordered[limit:]]


def _best_marks(values: list[float], lower_is_better: bool) -> list[str]:
    arr = np.array([np.nan if v is None else v for v in values], dtype=float)
    if np.isnan(arr).all() or len(arr) < 2:
        return [""] * len(values)
    best = np.nanmin(arr) if lower_is_better else np.nanmax(arr)
    return ["best" if np.isfinite(v) and np.isclose(v, best) else "" for v in arr]


def _stamp_synthetic(runs: Sequence[RunData]) -> bool:
    return any(r.synthetic for r in runs)


# --------------------------------------------------------------------------- sections


def _summary_section(runs: Sequence[RunData], comp: pd.DataFrame, reference: RunData, synthetic: bool) -> Section:
    sec = Section("summary", "Method comparison")
    sec.paragraphs.append(
        "Scores over all predictions of each run: top-1 (exact answer), within-1 (at most one option away on "
        "ordered items; exact on nominal ones) and normalized mean absolute error (ordered items only; lower is "
        "better). The headline value is the mean over folds of the per-fold mean; brackets are 95% bootstrap "
        "confidence intervals over respondents. The best value of each column is in bold."
    )
    marks = {m: _best_marks(list(comp[m]), m in tables.LOWER_IS_BETTER) for m in METRICS}
    rows = []
    for i, r in comp.iterrows():
        name = r["run"] + (" (reference)" if r["run"] == reference.name else "")
        rows.append([
            Cell(name, "synthetic" if r["synthetic"] else ""),
            Cell(r["method"]),
            Cell(r["model"] or "-"),
            Cell(r["protocol"] + ("" if r["complete"] else ", unfinished"), "" if r["complete"] else "muted"),
            Cell(tables.fmt(int(r["n_respondents"]))),
            Cell(tables.fmt(int(r["n_predictions"]))),
            *[Cell(tables.fmt_ci(r[m], r[f"{m}_lo"], r[f"{m}_hi"]), marks[m][i]) for m in METRICS],
            Cell(tables.fmt(r["top1_std"])),
            Cell(tables.fmt(r["calls_per_pred"], 2)),
            Cell(tables.fmt(r["tokens_per_pred"], 0)),
            Cell(tables.fmt_seconds(r["wall_seconds"])),
        ])
    sec.blocks.append(
        Table(
            ["Run", "Method", "Model", "Protocol", "Resp.", "Preds", "Top-1 [95% CI]", "nMAE [95% CI]",
             "Within-1 [95% CI]", "Top-1 SD (folds)", "Calls / pred", "Tokens / pred", "Wall time"],
            rows,
            align=["l", "l", "l", "l", "r", "r", "r", "r", "r", "r", "r", "r", "r"],
            caption="SD (folds): standard deviation of the per-fold top-1, as the ValueSim paper reports it.",
        )
    )
    sec.blocks.append(Figure("comparison", "Scores per run", plots.to_png(plots.comparison_figure(comp, synthetic=synthetic)),
                             "Bars: headline value; whiskers: 95% bootstrap CI over respondents."))
    if any(r.is_sweep for r in runs):
        sec.notes.append("History-sweep runs pool all history sizes in this table; see the history curve below.")
    return sec


def _paired_section(runs: Sequence[RunData], reference: RunData, codebook: Codebook, opts: ReportOptions) -> Section:
    sec = Section("paired", f"Paired tests against {reference.name}")
    sec.paragraphs.append(
        f"Each run minus the reference run {reference.name!r}, prediction by prediction on identical work (same "
        "split). Difference with a 95% paired bootstrap CI over respondents, a two-sided sign-flip permutation "
        "test over respondents and a sign test on per-respondent differences. Bold: significantly better than "
        "the reference (p < 0.05 and the CI excludes 0); italic: significantly worse. For nMAE a negative "
        "difference is an improvement."
    )
    rows = []
    for pr in tables.paired_table(runs, reference, codebook, seed=opts.seed, n_perm=opts.n_perm):
        if pr.diff is None:
            rows.append([Cell(pr.run), Cell(tables.METRIC_LABELS.get(pr.metric, pr.metric) or "all"),
                         Cell(pr.note, "muted"), Cell("-"), Cell("-"), Cell("-"), Cell("-")])
            continue
        mark = {"run": "better", "reference": "worse"}.get(pr.better or "", "")
        rows.append([
            Cell(pr.run),
            Cell(tables.METRIC_LABELS[pr.metric]),
            Cell(f"{pr.diff:+.3f} [{pr.lo:+.3f}, {pr.hi:+.3f}]", mark),
            Cell(tables.fmt_p(pr.p_permutation)),
            Cell(tables.fmt_p(pr.p_sign)),
            Cell(tables.fmt(pr.n_respondents)),
            Cell(tables.fmt(pr.n_predictions)),
        ])
    if not rows:
        sec.paragraphs.append("Only one run was given: nothing to compare.")
        return sec
    sec.blocks.append(
        Table(["Run", "Metric", "Run - reference [95% CI]", "p (permutation)", "p (sign test)", "Resp.", "Preds"],
              rows, align=["l", "l", "r", "r", "r", "r", "r"])
    )
    return sec


def _history_section(runs: Sequence[RunData], synthetic: bool) -> Section | None:
    long = tables.history_long(runs, "top1")
    if long.empty:
        return None
    sec = Section("history", "Accuracy against history size")
    sec.paragraphs.append(
        "How much knowing more of a person's answers helps: top-1 accuracy when the method sees h of the "
        "person's other answers besides the profile block (nested random subsets, the same for every method). "
        "Bands: 95% bootstrap CI over respondents."
    )
    sec.blocks.append(Figure("history_curve", "Top-1 against history size",
                             plots.to_png(plots.history_curve_figure(long, metric_label="top-1 accuracy",
                                                                     synthetic=synthetic))))
    for metric in METRICS:
        wide = tables.history_wide(tables.history_long(runs, metric))
        sec.blocks.append(
            Table(list(wide.columns), [[Cell(str(v)) for v in row] for row in wide.itertuples(index=False)],
                  caption=f"{tables.METRIC_LABELS[metric]} by history size [95% CI].",
                  align=["l"] + ["r"] * (len(wide.columns) - 1))
        )
    return sec


def _breakdown_section(
    sid: str, title: str, key: str, runs: Sequence[RunData], fig_runs: list[RunData], omitted: list[str],
    codebook: Codebook, synthetic: bool,
) -> Section | None:
    labels = tables.section_labels(codebook) if key == "section" else None
    long = tables.breakdown_long(fig_runs, key, "top1", labels=labels)
    if long.empty or long["group_id"].nunique() < 1:
        return None
    order = list(codebook.sections) if key == "section" else sorted(long["group_id"].unique())
    long = tables.order_groups(long, order)
    # label groups with their size (predictions of the first run drawn)
    first = long[long["run"] == fig_runs[0].name].set_index("group_id")["n"]
    long = long.assign(group=[f"{g} (n={first.get(gid, 0):,})" for g, gid in zip(long["group"], long["group_id"], strict=True)])
    sec = Section(sid, title)
    what = "questionnaire section (topic)" if key == "section" else "respondent's country"
    sec.paragraphs.append(f"Top-1 accuracy by {what}; whiskers: 95% bootstrap CI over respondents; n = predictions.")
    fig = plots.grouped_bars_figure(long, group_label="", metric_label="top-1 accuracy", synthetic=synthetic,
                                    run_order=[r.name for r in fig_runs])
    sec.blocks.append(Figure(f"by_{key}", title, plots.to_png(fig)))
    wide = long.pivot_table(index="group", columns="run", values="mean", sort=False)
    wide = wide[[r.name for r in fig_runs if r.name in wide.columns]]
    rows = [[Cell(str(g))] + [Cell(tables.fmt(v)) for v in vals] for g, vals in zip(wide.index, wide.to_numpy(), strict=True)]
    sec.blocks.append(Table([title.split(" by ")[-1].capitalize()] + list(wide.columns), rows,
                            caption="Top-1 accuracy (point estimates; CIs in the figure and in each run's metrics.json).",
                            align=["l"] + ["r"] * len(wide.columns)))
    if omitted:
        sec.notes.append(f"Not drawn (limit {len(fig_runs)} runs per figure): {', '.join(omitted)}.")
    return sec


def _errors_section(fig_runs: list[RunData], codebook: Codebook, opts: ReportOptions, synthetic: bool) -> Section | None:
    dist = tables.signed_error(fig_runs)
    if dist.empty:
        return None
    sec = Section("errors", "Ordinal errors and confusion")
    sec.paragraphs.append(
        "Signed error on ordered items in answer options (rank of the prediction minus rank of the truth; "
        "negative = toward the item's first option). A method that hedges toward the middle shows a "
        "narrow, centred peak but compresses the extremes, visible in the confusion matrices."
    )
    sec.blocks.append(Figure("signed_error", "Signed error on ordered items",
                             plots.to_png(plots.signed_error_figure(dist, clip=4, synthetic=synthetic))))
    pooled = {r.name: m for r in fig_runs if (m := tables.pooled_confusion(r)) is not None}
    if pooled:
        sec.blocks.append(Figure(
            "confusion_pooled", "Confusion of answer positions (all ordered items)",
            plots.to_png(plots.confusion_figure(
                pooled, title="True vs predicted position on the answer scale (ordered items, 5 bins; rows sum to 1)",
                synthetic=synthetic)),
            "Each item's options are ranked first to last and scaled to 5 bins.",
        ))
    item = opts.confusion_item or tables.default_confusion_item(fig_runs)
    if item is not None:
        q = codebook.get(item)
        per_item = {r.name: m for r in fig_runs if (m := tables.item_confusion(r, q.id, codebook)) is not None}
        if per_item:
            sec.blocks.append(Figure(
                f"confusion_{q.id}", f"Confusion for {q.id}",
                plots.to_png(plots.confusion_figure(per_item, title=f"{q.id}: {_clip(q.short, 90)} (rows sum to 1)",
                                                    synthetic=synthetic)),
                f"{q.id} ({q.kind.value}): {q.text}",
            ))
        elif opts.confusion_item:
            sec.notes.append(f"{q.id} was not predicted in the runs drawn here: no item confusion matrix.")
    return sec


def _calibration_section(runs: Sequence[RunData], synthetic: bool) -> Section | None:
    curves = tables.calibration_long(runs)
    if curves.empty:
        return None
    sec = Section("calibration", "Calibration")
    sec.paragraphs.append(
        "For methods that return answer probabilities: how often the top answer is right against the "
        "probability the method gave it (top-label reliability, 10 bins), with log-loss, Brier score and "
        "expected calibration error (ECE)."
    )
    sec.blocks.append(Figure("calibration", "Reliability diagram",
                             plots.to_png(plots.calibration_figure(curves, synthetic=synthetic))))
    pt = tables.probabilistic_table(runs)
    sec.blocks.append(Table(
        ["Run", "Log-loss", "Brier", "ECE", "Coverage", "Preds with probabilities"],
        [[Cell(r.run), Cell(tables.fmt(r.log_loss)), Cell(tables.fmt(r.brier)), Cell(tables.fmt(r.ece)),
          Cell(tables.fmt(r.coverage, 2)), Cell(tables.fmt(None if r.n is None else int(r.n)))]
         for r in pt.itertuples(index=False)],
        align=["l", "r", "r", "r", "r", "r"],
    ))
    return sec


def _cost_section(comp: pd.DataFrame, synthetic: bool) -> Section:
    sec = Section("cost", "Calls, tokens and time")
    sec.paragraphs.append(
        "LLM calls and tokens per prediction (cache hits are not calls) and the wall time of each run, summed over "
        "its sessions when it was resumed. Non-LLM methods make no calls."
    )
    sec.blocks.append(Figure("cost", "Cost per run", plots.to_png(plots.cost_figure(comp, synthetic=synthetic))))
    sec.blocks.append(Table(
        ["Run", "LLM calls", "Calls / pred", "Prompt tokens / pred", "Completion tokens / pred", "Cache hits",
         "Wall time"],
        [[Cell(r.run), Cell(tables.fmt(None if r.llm_calls is None else int(r.llm_calls))),
          Cell(tables.fmt(r.calls_per_pred, 2)), Cell(tables.fmt(r.prompt_tokens_per_pred, 1)),
          Cell(tables.fmt(r.completion_tokens_per_pred, 1)),
          Cell(tables.fmt(None if r.cache_hits is None else int(r.cache_hits))), Cell(tables.fmt_seconds(r.wall_seconds))]
         for r in comp.itertuples(index=False)],
        align=["l", "r", "r", "r", "r", "r", "r"],
    ))
    return sec


def _provenance_section(runs: Sequence[RunData]) -> Section:
    sec = Section("provenance", "Provenance")
    sec.paragraphs.append("What made each number: the command, software, data and split of every run. Two runs "
                          "with the same split hash were judged on identical work.")
    rows = []
    for r in runs:
        p = tables.provenance(r)
        rows.append([
            Cell(p["run"]), Cell("SYNTHETIC" if p["synthetic"] else "survey file", "synthetic-only" if p["synthetic"] else ""),
            Cell(p["data_path"] or "-"), Cell(p["data_fingerprint"] or "-"), Cell(p["split_hash"][:12] or "-"),
            Cell(p["valuesim_version"] or "-"), Cell((p["git_commit"] or "none")[:10]), Cell(p["finished"]),
        ])
        sec.details.append((f"{p['run']}: command", p["command"] or "(not recorded)"))
        sec.details.append((
            f"{p['run']}: configuration",
            json.dumps({"method": p["method_config"], "protocol": p["protocol"], "python": p["python"],
                        "platform": p["platform"], "packages": p["packages"], "started": p["started"],
                        "status": p["status"], "path": p["path"]}, indent=1, ensure_ascii=False, default=str),
        ))
        for n in p["notes"]:
            sec.notes.append(f"{p['run']}: {n}")
    sec.blocks.insert(0, Table(["Run", "Data", "Data file", "Fingerprint", "Split hash", "valuesim", "Git commit",
                                "Finished"], rows))
    return sec


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# --------------------------------------------------------------------------- assembly


def build_document(runs: Sequence[RunData], opts: ReportOptions, codebook: Codebook) -> Document:
    """Compute every table and figure of the report."""
    reference = pick_reference(runs, opts.reference)
    synthetic = _stamp_synthetic(runs)
    comp = tables.comparison_table(runs)
    fig_runs, omitted = _figure_runs(runs, reference, opts.max_runs_per_figure)
    from valuesim import __version__

    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    doc = Document(
        title=("[SYNTHETIC] " if synthetic else "") + opts.title,
        subtitle=f"{len(runs)} run(s), reference {reference.name!r}; generated {when} by valuesim {__version__}.",
        synthetic=synthetic,
    )
    if synthetic and not all(r.synthetic for r in runs):
        doc.warnings.append("Runs on synthetic and on survey data are mixed in this report.")
    if len({r.split_hash for r in runs}) > 1:
        groups: dict[str, list[str]] = {}
        for r in runs:
            groups.setdefault(r.split_hash[:12], []).append(r.name)
        doc.warnings.append(
            "The runs were not all made on the same split; only runs sharing a split are tested against each "
            "other (" + "; ".join(f"{h}: {', '.join(n)}" for h, n in groups.items()) + ")."
        )
    fingerprints = {tables.provenance(r)["data_fingerprint"] for r in runs}
    if len(fingerprints) > 1:
        doc.warnings.append("The runs were made on different data files (different fingerprints).")
    for r in runs:
        if not r.complete:
            doc.warnings.append(f"{r.name} is unfinished: its numbers cover the units finished so far.")
    if opts.confusion_item is not None:
        codebook.get(opts.confusion_item)  # unknown id -> UnknownQuestionError before any work
    sections: list[Section | None] = [
        _summary_section(runs, comp, reference, synthetic),
        _paired_section(runs, reference, codebook, opts) if len(runs) > 1 else None,
        _history_section(runs, synthetic),
        _breakdown_section("by-topic", "Accuracy by topic", "section", runs, fig_runs, omitted, codebook, synthetic),
        _breakdown_section("by-country", "Accuracy by country", "country", runs, fig_runs, omitted, codebook, synthetic),
        _errors_section(fig_runs, codebook, opts, synthetic),
        _calibration_section(runs, synthetic),
        _cost_section(comp, synthetic),
        _provenance_section(runs),
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
    return env.get_template("report.html.j2").render(doc=doc, Table=Table, Figure=Figure)


def write_report(doc: Document, out_dir: str | Path) -> ReportPaths:
    """Write report.html, report.md and figures/*.png into *out_dir*."""
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file.", "Pick a directory for the report.")
    fig_dir = out / FIGURE_DIR
    fig_dir.mkdir(parents=True, exist_ok=True)
    figs = []
    for f in doc.figures():
        p = fig_dir / f.filename
        p.write_bytes(f.png)
        figs.append(p)
    html = out / HTML_FILE
    html.write_text(render_html(doc), encoding="utf-8")
    md = out / MARKDOWN_FILE
    md.write_text(to_markdown(doc, FIGURE_DIR), encoding="utf-8")
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
    finished so far, flagged in the report).
    """
    if not run_dirs:
        raise DataError("No run directory given.", "Usage: valuesim report RUN_DIR [RUN_DIR ...] --out DIR")
    cb = codebook or load_codebook()
    opts = ReportOptions(title=title, reference=reference, confusion_item=confusion_item, **options)
    runs = load_runs(run_dirs, cb)
    doc = build_document(runs, opts, cb)
    paths = write_report(doc, out_dir)
    paths.reference = pick_reference(runs, opts.reference).name
    return paths


def template_text() -> str:
    """The HTML template shipped with the package (for users who want their own)."""
    return resources.files("valuesim.report").joinpath("templates/report.html.j2").read_text("utf-8")
