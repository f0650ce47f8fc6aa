"""Report figures. Pure functions: tidy summary tables in, matplotlib Figures out.

Every function takes the summary tables built in :mod:`valuesim.report.tables` (one row
per run / group / bin) and a ``synthetic`` flag: figures made from synthetic data carry a
visible SYNTHETIC stamp, so a PNG copied out of a report cannot be mistaken for a result
on real survey data. Rendering uses the Agg backend (no display needed).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

SYNTHETIC_STAMP = "SYNTHETIC DATA - not survey results"

_STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 110,
    "font.size": 9.5,
    "axes.titlesize": 10.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "legend.frameon": False,
}


def run_colors(names: Sequence[str]) -> dict[str, tuple[float, float, float, float]]:
    """A stable colour per run (tab10, then tab20 for larger comparisons)."""
    cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    return {n: cmap(i % cmap.N) for i, n in enumerate(names)}


def to_png(fig: Figure) -> bytes:
    """Render a figure to PNG bytes and release it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _stamp(fig: Figure, synthetic: bool) -> Figure:
    if synthetic:
        fig.text(
            0.995, 0.995, SYNTHETIC_STAMP, ha="right", va="top", fontsize=8.5, fontweight="bold",
            color="white", bbox={"boxstyle": "round,pad=0.3", "fc": "#c0392b", "ec": "none"},
        )
    return fig


def _errs(frame: pd.DataFrame) -> np.ndarray | None:
    """Asymmetric error bars from mean/lo/hi columns (None when no CI is known)."""
    if frame[["lo", "hi"]].isna().all().all():
        return None
    lo = (frame["mean"] - frame["lo"]).clip(lower=0).fillna(0).to_numpy()
    hi = (frame["hi"] - frame["mean"]).clip(lower=0).fillna(0).to_numpy()
    return np.vstack([lo, hi])


def comparison_figure(table: pd.DataFrame, *, synthetic: bool = False) -> Figure:
    """One bar per run for top-1, within-1 and nMAE, with 95% CI whiskers.

    ``table``: rows = runs in display order; columns ``run`` and, per metric m in
    (top1, within1, nmae), ``m``, ``m_lo``, ``m_hi``.
    """
    metrics = [("top1", "Top-1 accuracy (higher is better)"),
               ("within1", "Within-1 accuracy (higher is better)"),
               ("nmae", "Normalized MAE (lower is better)")]
    n = len(table)
    colors = run_colors(list(table["run"]))
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(1, 3, figsize=(12, 0.9 + 0.32 * n), sharey=True)
        y = np.arange(n)
        for ax, (m, title) in zip(axes, metrics, strict=True):
            sub = pd.DataFrame({"mean": table[m], "lo": table[f"{m}_lo"], "hi": table[f"{m}_hi"]})
            ax.barh(y, sub["mean"].fillna(0), xerr=_errs(sub), color=[colors[r] for r in table["run"]],
                    error_kw={"elinewidth": 1, "capsize": 2.5, "ecolor": "#333"}, height=0.7)
            for yi, v in zip(y, sub["mean"], strict=True):
                if pd.notna(v):
                    ax.text(0.005, yi, f"{v:.3f}", va="center", ha="left", fontsize=7.5, color="white",
                            transform=ax.get_yaxis_transform(), fontweight="bold")
            ax.set_title(title)
            ax.set_xlim(0, max(1.0, float(np.nanmax(sub["hi"].fillna(sub["mean"]).to_numpy(), initial=0))))
            ax.grid(axis="y", visible=False)
        axes[0].set_yticks(y, list(table["run"]))
        axes[0].invert_yaxis()
        fig.tight_layout()
    return _stamp(fig, synthetic)


def grouped_bars_figure(
    long: pd.DataFrame, *, group_label: str, metric_label: str, synthetic: bool = False,
    run_order: Sequence[str] | None = None,
) -> Figure:
    """Horizontal grouped bars: one group per row (topic, country...), one bar per run,
    with CI whiskers. ``long`` columns: run, group, mean, lo, hi."""
    runs = list(run_order) if run_order is not None else list(dict.fromkeys(long["run"]))
    groups = list(dict.fromkeys(long["group"]))
    colors = run_colors(runs)
    k = len(runs)
    bar_h = 0.8 / max(k, 1)
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(10, 1.2 + len(groups) * max(0.32, 0.17 * k)))
        base = np.arange(len(groups))
        for i, run in enumerate(runs):
            sub = long[long["run"] == run].set_index("group").reindex(groups)
            ax.barh(base + (i - (k - 1) / 2) * bar_h, sub["mean"].fillna(0), height=bar_h,
                    xerr=_errs(sub), color=colors[run], label=run,
                    error_kw={"elinewidth": 0.8, "capsize": 1.5, "ecolor": "#333"})
        ax.set_yticks(base, groups)
        ax.invert_yaxis()
        ax.set_xlabel(metric_label)
        ax.set_ylabel(group_label)
        ax.set_xlim(0, 1)
        ax.grid(axis="y", visible=False)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
        fig.tight_layout()
    return _stamp(fig, synthetic)


def history_curve_figure(long: pd.DataFrame, *, metric_label: str, synthetic: bool = False) -> Figure:
    """Accuracy against history length with 95% CI bands. ``long``: run, h, mean, lo, hi."""
    runs = list(dict.fromkeys(long["run"]))
    colors = run_colors(runs)
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


def signed_error_figure(dist: pd.DataFrame, *, clip: int, synthetic: bool = False) -> Figure:
    """Share of predictions by signed error in option steps (prediction - truth) on ordered
    items, clipped at +-clip. ``dist`` columns: run, step (int), share, bias (per run)."""
    runs = list(dict.fromkeys(dist["run"]))
    colors = run_colors(runs)
    steps = np.arange(-clip, clip + 1)
    k = len(runs)
    w = 0.8 / max(k, 1)
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(10, 4.2))
        for i, run in enumerate(runs):
            sub = dist[dist["run"] == run].set_index("step").reindex(steps)
            bias = float(sub["bias"].dropna().iloc[0]) if sub["bias"].notna().any() else float("nan")
            ax.bar(steps + (i - (k - 1) / 2) * w, sub["share"].fillna(0), width=w, color=colors[run],
                   label=f"{run} (mean signed error {bias:+.2f})")
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
    matrices: Mapping[str, pd.DataFrame], *, title: str, synthetic: bool = False,
) -> Figure:
    """Row-normalized confusion heatmaps (rows = true answer, columns = prediction), one
    panel per run. Each matrix is a DataFrame with labelled index/columns; NaN rows (no
    such true answer) are drawn blank."""
    names = list(matrices)
    n = len(names)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    size = max(len(next(iter(matrices.values()))), 1)
    cell = 0.55 if size <= 6 else 0.38
    with plt.rc_context({**_STYLE, "axes.grid": False}):
        fig, axes = plt.subplots(rows, cols, figsize=(cols * (1.9 + cell * size), rows * (1.5 + cell * size)),
                                 squeeze=False)
        for ax in axes.ravel()[n:]:
            ax.set_visible(False)
        for ax, name in zip(axes.ravel(), names, strict=False):
            m = matrices[name]
            im = ax.imshow(m.to_numpy(dtype=float), cmap="Blues", vmin=0, vmax=1, aspect="equal")
            ax.set_xticks(range(m.shape[1]), [str(c) for c in m.columns], rotation=45, ha="right", fontsize=7.5)
            ax.set_yticks(range(m.shape[0]), [str(i) for i in m.index], fontsize=7.5)
            if size <= 8:
                for (i, j), v in np.ndenumerate(m.to_numpy(dtype=float)):
                    if np.isfinite(v):
                        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                                color="white" if v > 0.55 else "#222")
            ax.set_title(name, fontsize=9)
            ax.set_xlabel("predicted")
            ax.set_ylabel("true")
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="share of the true row")
        fig.suptitle(title, fontsize=10.5)
    return _stamp(fig, synthetic)


def calibration_figure(curves: pd.DataFrame, *, synthetic: bool = False) -> Figure:
    """Reliability diagram: accuracy of the top answer against its stated probability, per
    run, plus how many predictions fall in each confidence bin. ``curves`` columns: run,
    confidence (mean in bin), accuracy, n, ece (per run)."""
    runs = list(dict.fromkeys(curves["run"]))
    colors = run_colors(runs)
    with plt.rc_context(_STYLE):
        fig, (ax, axn) = plt.subplots(2, 1, figsize=(7, 6.2), height_ratios=[3, 1], sharex=True)
        ax.plot([0, 1], [0, 1], ls="--", color="#888", lw=1, label="perfect calibration")
        for run in runs:
            sub = curves[curves["run"] == run].sort_values("confidence")
            ece = float(sub["ece"].iloc[0])
            ax.plot(sub["confidence"], sub["accuracy"], marker="o", color=colors[run], label=f"{run} (ECE {ece:.3f})")
            axn.plot(sub["confidence"], sub["n"], marker=".", color=colors[run])
        ax.set_ylabel("observed accuracy")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(loc="upper left", fontsize=8)
        axn.set_xlabel("predicted probability of the chosen answer")
        axn.set_ylabel("predictions")
        fig.tight_layout()
    return _stamp(fig, synthetic)


def cost_figure(table: pd.DataFrame, *, synthetic: bool = False) -> Figure:
    """LLM calls and tokens per prediction, and wall time, per run. ``table`` columns: run,
    calls_per_pred, prompt_tokens_per_pred, completion_tokens_per_pred, wall_seconds."""
    n = len(table)
    colors = run_colors(list(table["run"]))
    y = np.arange(n)
    c = [colors[r] for r in table["run"]]
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(1, 3, figsize=(12, 0.9 + 0.32 * n), sharey=True)
        axes[0].barh(y, table["calls_per_pred"].fillna(0), color=c, height=0.7)
        axes[0].set_title("LLM calls per prediction")
        axes[1].barh(y, table["prompt_tokens_per_pred"].fillna(0), color=c, height=0.7, label="prompt")
        axes[1].barh(y, table["completion_tokens_per_pred"].fillna(0), left=table["prompt_tokens_per_pred"].fillna(0),
                     color=c, height=0.7, hatch="///", alpha=0.6, label="completion (hatched)")
        axes[1].set_title("tokens per prediction")
        axes[2].barh(y, table["wall_seconds"].fillna(0), color=c, height=0.7)
        axes[2].set_title("wall time of the run (s)")
        for ax, col in zip(axes, ["calls_per_pred", "tokens_per_pred", "wall_seconds"], strict=True):
            vals = table[col].fillna(0) if col in table else (
                table["prompt_tokens_per_pred"].fillna(0) + table["completion_tokens_per_pred"].fillna(0))
            top = float(vals.max()) if len(vals) else 0.0
            for yi, v in zip(y, vals, strict=True):
                ax.text(v + top * 0.01, yi, f"{v:,.1f}" if v < 100 else f"{v:,.0f}", va="center", fontsize=7.5)
            ax.set_xlim(0, top * 1.18 if top > 0 else 1)
            ax.grid(axis="y", visible=False)
        axes[0].set_yticks(y, list(table["run"]))
        axes[0].invert_yaxis()
        fig.tight_layout()
    return _stamp(fig, synthetic)
