"""Report figures. Pure functions: tidy summary tables in, matplotlib Figures out.

Every function takes the summary tables built in :mod:`valuesim.report.tables` (one row
per run / group / bin) and a ``synthetic`` flag: figures made from synthetic data carry a
visible SYNTHETIC stamp, so a PNG copied out of a report cannot be mistaken for a result
on real survey data. Rendering uses the Agg backend (no display needed).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

SYNTHETIC_STAMP = "SYNTHETIC DATA - not survey results"

_STYLE: Any = {
    "figure.dpi": 100,
    "savefig.dpi": 110,
    "font.size": 9.5,
    "axes.titlesize": 10.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "legend.frameon": False,
    # run names and titles are plain text: a "$" in a directory name must not start mathtext
    "text.parse_math": False,
}


Color = tuple[float, float, float, float]


def run_colors(names: Sequence[str]) -> dict[str, Color]:
    """One colour per run, fixed for the whole report: the 10 tab10 colours, then their
    light tab20 variants (20 distinct colours before any repeats)."""
    tab20 = plt.get_cmap("tab20")
    palette = [tab20(2 * i) for i in range(10)] + [tab20(2 * i + 1) for i in range(10)]
    return {n: palette[i % len(palette)] for i, n in enumerate(dict.fromkeys(names))}


def _palette(names: Sequence[str], colors: Mapping[str, Color] | None) -> Mapping[str, Color]:
    if colors is not None and all(n in colors for n in names):
        return colors
    return run_colors(names)


def _ink(background: Color) -> str:
    """Readable text colour on a bar of colour *background*."""
    r, g, b = background[:3]
    return "#1d2733" if 0.299 * r + 0.587 * g + 0.114 * b > 0.6 else "white"


def to_png(fig: Figure) -> bytes:
    """Render a figure to PNG bytes and release it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _stamp(fig: Figure, synthetic: bool) -> Figure:
    if synthetic:
        # above the axes (bbox_inches="tight" keeps it), so it never hides data or titles
        fig.text(
            0.99,
            1.0,
            SYNTHETIC_STAMP,
            ha="right",
            va="bottom",
            fontsize=8.5,
            fontweight="bold",
            color="white",
            bbox={"boxstyle": "round,pad=0.3", "fc": "#c0392b", "ec": "none"},
        )
    return fig


def _errs(frame: pd.DataFrame) -> np.ndarray | None:
    """Asymmetric error bars from mean/lo/hi columns (None when no CI is known)."""
    if frame[["lo", "hi"]].isna().all().all():
        return None
    lo = (frame["mean"] - frame["lo"]).clip(lower=0).fillna(0).to_numpy()
    hi = (frame["hi"] - frame["mean"]).clip(lower=0).fillna(0).to_numpy()
    return np.vstack([lo, hi])


def comparison_figure(
    table: pd.DataFrame, *, synthetic: bool = False, colors: Mapping[str, Color] | None = None
) -> Figure:
    """One bar per run for top-1, within-1 and nMAE, with 95% CI whiskers.

    ``table``: rows = runs in display order; columns ``run`` and, per metric m in
    (top1, within1, nmae), ``m``, ``m_lo``, ``m_hi``.
    """
    metrics = [
        ("top1", "Top-1 accuracy (higher is better)"),
        ("within1", "Within-1 accuracy (higher is better)"),
        ("nmae", "Normalized MAE (lower is better)"),
    ]
    n = len(table)
    colors = _palette(list(table["run"]), colors)
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(1, 3, figsize=(12, 0.9 + 0.32 * n), sharey=True)
        y = np.arange(n)
        for ax, (m, title) in zip(axes, metrics, strict=True):
            sub = pd.DataFrame({"mean": table[m], "lo": table[f"{m}_lo"], "hi": table[f"{m}_hi"]})
            ax.barh(
                y,
                sub["mean"].fillna(0),
                xerr=_errs(sub),
                color=[colors[r] for r in table["run"]],
                error_kw={"elinewidth": 1, "capsize": 2.5, "ecolor": "#333"},
                height=0.7,
            )
            for yi, v, run in zip(y, sub["mean"], table["run"], strict=True):
                if pd.notna(v):
                    ax.text(
                        0.005,
                        yi,
                        f"{v:.3f}",
                        va="center",
                        ha="left",
                        fontsize=7.5,
                        color=_ink(colors[run]),
                        transform=ax.get_yaxis_transform(),
                        fontweight="bold",
                    )
            ax.set_title(title)
            ax.set_xlim(0, max(1.0, float(np.nanmax(sub["hi"].fillna(sub["mean"]).to_numpy(), initial=0))))
            ax.grid(axis="y", visible=False)
        axes[0].set_yticks(y, list(table["run"]))
        axes[0].invert_yaxis()
        fig.tight_layout()
    return _stamp(fig, synthetic)


def grouped_bars_figure(
    long: pd.DataFrame,
    *,
    group_label: str,
    metric_label: str,
    synthetic: bool = False,
    run_order: Sequence[str] | None = None,
    colors: Mapping[str, Color] | None = None,
) -> Figure:
    """Horizontal grouped bars: one group per row (topic, country...), one bar per run,
    with CI whiskers. ``long`` columns: run, group, mean, lo, hi (and optionally ``note``:
    non-empty for a group without an interval, drawn pale and hatched)."""
    runs = list(run_order) if run_order is not None else list(dict.fromkeys(long["run"]))
    groups = list(dict.fromkeys(long["group"]))
    colors = _palette(runs, colors)
    k = len(runs)
    bar_h = 0.8 / max(k, 1)
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(10, 1.2 + len(groups) * max(0.32, 0.17 * k)))
        base = np.arange(len(groups))
        for i, run in enumerate(runs):
            sub = long[long["run"] == run].set_index("group").reindex(groups)
            bars = ax.barh(
                base + (i - (k - 1) / 2) * bar_h,
                sub["mean"].fillna(0),
                height=bar_h,
                xerr=_errs(sub),
                color=colors[run],
                label=run,
                error_kw={"elinewidth": 0.8, "capsize": 1.5, "ecolor": "#333"},
            )
            # groups too small for an interval: pale and hatched, so a missing whisker never reads as precision
            notes = sub["note"].fillna("") if "note" in sub else pd.Series("", index=sub.index)
            for patch, note in zip(bars.patches, notes, strict=True):
                if note:
                    patch.set_alpha(0.35)
                    patch.set_hatch("///")
        ax.set_yticks(base, groups)
        ax.invert_yaxis()
        ax.set_xlabel(metric_label)
        ax.set_ylabel(group_label)
        ax.set_xlim(0, 1)
        ax.grid(axis="y", visible=False)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
        fig.tight_layout()
    return _stamp(fig, synthetic)


def history_curve_figure(
    long: pd.DataFrame, *, metric_label: str, synthetic: bool = False, colors: Mapping[str, Color] | None = None
) -> Figure:
    """Accuracy against history length with 95% CI bands. ``long``: run, h, mean, lo, hi."""
    runs = list(dict.fromkeys(long["run"]))
    colors = _palette(runs, colors)
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(8, 4.6))
        for run in runs:
            sub = long[long["run"] == run].sort_values("h")
            ax.plot(sub["h"], sub["mean"], marker="o", color=colors[run], label=run, lw=1.8)
            if sub[["lo", "hi"]].notna().all().all():
                ax.fill_between(sub["h"], sub["lo"], sub["hi"], color=colors[run], alpha=0.18, lw=0)
        ax.set_xlabel("history size (known answers besides the profile)")
        ax.set_ylabel(metric_label)
        hs = sorted(long["h"].unique())
        ax.set_xticks(hs)
        ax.legend(loc="best", fontsize=8)
        fig.tight_layout()
    return _stamp(fig, synthetic)


def signed_error_figure(
    dist: pd.DataFrame, *, clip: int, synthetic: bool = False, colors: Mapping[str, Color] | None = None
) -> Figure:
    """Share of predictions by signed error in option steps (prediction - truth) on ordered
    items, clipped at +-clip. ``dist`` columns: run, step (int), share, bias (per run)."""
    runs = list(dict.fromkeys(dist["run"]))
    colors = _palette(runs, colors)
    steps = np.arange(-clip, clip + 1)
    k = len(runs)
    w = 0.8 / max(k, 1)
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(10, 4.2))
        for i, run in enumerate(runs):
            sub = dist[dist["run"] == run].set_index("step").reindex(steps)
            bias = float(sub["bias"].dropna().iloc[0]) if sub["bias"].notna().any() else float("nan")
            ax.bar(
                steps + (i - (k - 1) / 2) * w,
                sub["share"].fillna(0),
                width=w,
                color=colors[run],
                label=f"{run} (mean signed error {bias:+.2f})",
            )
        labels = [str(s) for s in steps]
        labels[0], labels[-1] = f"<={-clip}", f">={clip}"
        ax.set_xticks(steps, labels)
        ax.set_xlabel("prediction - truth (answer options; negative = toward the first option)")
        ax.set_ylabel("share of predictions")
        ax.legend(loc="upper left", fontsize=8)
        ax.grid(axis="x", visible=False)
        fig.tight_layout()
    return _stamp(fig, synthetic)


def confusion_figure(
    matrices: Mapping[str, pd.DataFrame],
    *,
    title: str,
    synthetic: bool = False,
) -> Figure:
    """Row-normalized confusion heatmaps (rows = true answer, columns = prediction), one
    panel per run, sharing axes. Each matrix is a DataFrame with short labelled
    index/columns (the same for every run); NaN rows (no such true answer) are blank."""
    names = list(matrices)
    n = len(names)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    first = next(iter(matrices.values()))
    size = max(len(first), 1)
    cell = 0.42 if size <= 6 else 0.3
    label_w = max(len(str(i)) for i in first.index) * 0.065
    with plt.rc_context({**_STYLE, "axes.grid": False}):
        fig, axes = plt.subplots(
            rows,
            cols,
            figsize=(label_w + cols * (0.6 + cell * size) + 1.2, rows * (1.0 + cell * size) + 0.7),
            squeeze=False,
            sharex=True,
            sharey=True,
            layout="constrained",
        )
        for ax in axes.ravel()[n:]:
            ax.set_visible(False)
        im = None
        for k, (ax, name) in enumerate(zip(axes.ravel(), names, strict=False)):
            m = matrices[name]
            vals = m.to_numpy(dtype=float)
            im = ax.imshow(vals, cmap="Blues", vmin=0, vmax=1, aspect="equal")
            ax.set_xticks(
                range(m.shape[1]),
                [str(c) for c in m.columns],
                rotation=45 if size > 5 else 0,
                ha="right" if size > 5 else "center",
                fontsize=7.5,
            )
            ax.set_yticks(range(m.shape[0]), [str(i) for i in m.index], fontsize=7.5)
            ax.tick_params(labelbottom=True)
            if size <= 8:
                for (i, j), v in np.ndenumerate(vals):
                    if np.isfinite(v):
                        ax.text(
                            j,
                            i,
                            f"{v:.2f}",
                            ha="center",
                            va="center",
                            fontsize=6.5,
                            color="white" if v > 0.55 else "#222",
                        )
            ax.set_title(name, fontsize=9)
            if k % cols == 0:
                ax.set_ylabel("true")
            if k // cols == rows - 1 or k + cols >= n:
                ax.set_xlabel("predicted")
        if im is not None:
            fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="share of the true row")
        fig.suptitle(title, fontsize=10)
    return _stamp(fig, synthetic)


def calibration_figure(
    curves: pd.DataFrame,
    *,
    synthetic: bool = False,
    min_bin: int | None = None,
    colors: Mapping[str, Color] | None = None,
) -> Figure:
    """Reliability diagram: accuracy of the top answer against its stated probability, per
    run, plus how many predictions fall in each confidence bin. ``curves`` columns: run,
    confidence (mean in bin), accuracy, n, ece (per run). Bins with fewer than ``min_bin``
    predictions (default: 5% of the run's predictions, between 3 and 20) are left out of
    the upper panel: their accuracy is noise."""
    runs = list(dict.fromkeys(curves["run"]))
    colors = _palette(runs, colors)
    with plt.rc_context(_STYLE):
        fig, (ax, axn) = plt.subplots(2, 1, figsize=(7, 6.2), height_ratios=[3, 1], sharex=True)
        ax.plot([0, 1], [0, 1], ls="--", color="#888", lw=1, label="perfect calibration")
        for run in runs:
            sub = curves[curves["run"] == run].sort_values("confidence")
            ece = float(sub["ece"].iloc[0])
            floor = min_bin if min_bin is not None else int(np.clip(sub["n"].sum() // 20, 3, 20))
            big = sub[sub["n"] >= floor]
            ax.plot(big["confidence"], big["accuracy"], marker="o", color=colors[run], label=f"{run} (ECE {ece:.3f})")
            axn.plot(sub["confidence"], sub["n"] / sub["n"].sum(), marker=".", color=colors[run])
        ax.set_ylabel("observed accuracy")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)
        axn.set_xlabel("predicted probability of the chosen answer")
        axn.set_ylabel("share of preds")
        fig.tight_layout()
    return _stamp(fig, synthetic)


def cost_figure(table: pd.DataFrame, *, synthetic: bool = False, colors: Mapping[str, Color] | None = None) -> Figure:
    """LLM calls and tokens per prediction (when any run used an LLM), and wall time, per
    run. ``table`` columns: run, calls_per_pred, prompt_tokens_per_pred,
    completion_tokens_per_pred, wall_seconds."""
    n = len(table)
    colors = _palette(list(table["run"]), colors)
    y = np.arange(n)
    c = [colors[r] for r in table["run"]]
    calls = table["calls_per_pred"].astype(float).fillna(0)
    prompt = table["prompt_tokens_per_pred"].astype(float).fillna(0)
    completion = table["completion_tokens_per_pred"].astype(float).fillna(0)
    wall = table["wall_seconds"].astype(float).fillna(0)
    llm = bool((calls > 0).any() or (prompt > 0).any())
    panels: list[tuple[str, pd.Series]] = []
    if llm:
        panels += [
            ("LLM calls per prediction", calls),
            ("tokens per prediction (hatched: completion)", prompt + completion),
        ]
    panels.append(("wall time of the run (s)", wall))
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(
            1, len(panels), figsize=(4 * len(panels) + 1.5, 0.9 + 0.32 * n), sharey=True, squeeze=False
        )
        axes = axes[0]
        for ax, (title, vals) in zip(axes, panels, strict=True):
            if title.startswith("tokens"):
                ax.barh(y, prompt, color=c, height=0.7)
                ax.barh(y, completion, left=prompt, color=c, height=0.7, hatch="///", alpha=0.55)
            else:
                ax.barh(y, vals, color=c, height=0.7)
            ax.set_title(title)
            top = float(vals.max()) if len(vals) else 0.0
            for yi, v in zip(y, vals, strict=True):
                ax.text(v + top * 0.01, yi, f"{v:,.1f}" if v < 100 else f"{v:,.0f}", va="center", fontsize=7.5)
            ax.set_xlim(0, top * 1.18 if top > 0 else 1)
            ax.grid(axis="y", visible=False)
        axes[0].set_yticks(y, list(table["run"]))
        axes[0].invert_yaxis()
        fig.tight_layout()
    return _stamp(fig, synthetic)


def distribution_figure(
    shares: pd.DataFrame,
    *,
    title: str,
    ordered: bool = True,
    synthetic: bool = False,
    simulated: bool = True,
    xlabel: str | None = None,
) -> Figure:
    """Stacked horizontal bars of answer shares: one bar per group (rows of *shares*), one
    segment per answer option (columns, in option order). Ordered options get a diverging
    colour ramp, unordered ones distinct colours; segments of 8% or more are labelled."""
    options = list(shares.columns)
    k = len(options)
    cmap = plt.get_cmap("RdYlBu" if ordered else "tab10")
    colors = [cmap(i / max(1, k - 1)) if ordered else cmap(i % 10) for i in range(k)]
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(10, 1.3 + 0.36 * len(shares)))
        y = np.arange(len(shares))
        left = np.zeros(len(shares))
        for j, opt in enumerate(options):
            vals = shares[opt].fillna(0).to_numpy(dtype=float)
            ax.barh(y, vals, left=left, color=colors[j], label=str(opt), height=0.7)
            for i, v in enumerate(vals):
                if v >= 0.08:
                    ax.text(
                        left[i] + v / 2, y[i], f"{v:.0%}", ha="center", va="center", fontsize=7.5, color=_ink(colors[j])
                    )
            left += vals
        ax.set_yticks(y, list(shares.index))
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel(xlabel or ("share of simulated answers" if simulated else "share of answers"))
        ax.set_title(title, loc="left")
        ax.grid(axis="y", visible=False)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18 - 0.6 / (1 + len(shares))), ncol=min(k, 5), fontsize=8)
        fig.tight_layout()
    return _stamp(fig, synthetic)
