"""Inline SVG charts, drawn on the server (no JavaScript, no external asset).

Every text that reaches the SVG passes through :func:`markupsafe.escape`; colours come from
CSS classes ``s0`` .. ``s7`` (static/view.css), so the charts follow the page's palette.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

N_COLORS = 8


@dataclass(frozen=True)
class Series:
    """One coloured series: a value per category, optionally a [lo, hi] interval each."""

    name: str
    values: Sequence[float | None]
    lo: Sequence[float | None] | None = None
    hi: Sequence[float | None] | None = None


def _ok(v: float | None) -> bool:
    return v is not None and math.isfinite(v)


def hbars(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    vmax: float | None = None,
    fmt: str = "{:.3f}",
    width: int = 640,
    label_width: int = 190,
    bar: int = 12,
    title: str = "",
) -> Markup:
    """Horizontal grouped bars: one group per category, one bar per series, CI whiskers."""
    if not categories or not series:
        return Markup("")
    if vmax is None:
        vals = [float(v) for s in series for v in list(s.values) + list(s.hi or []) if v is not None and _ok(v)]
        top = max(vals) if vals else 1.0
        top = top if top > 0 else 1.0
    else:
        top = vmax
    legend_h = 18 if len(series) > 1 else 0
    group_h = bar * len(series) + 8
    height = legend_h + group_h * len(categories) + 22
    plot_w = width - label_width - 60
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
        f' xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    x = label_width
    for i, s in enumerate(series if len(series) > 1 else []):
        parts.append(f'<rect class="s{i % N_COLORS}" x="{x}" y="3" width="10" height="10"/>')
        parts.append(f'<text x="{x + 14}" y="12">{escape(s.name)}</text>')
        x += 24 + 7 * len(s.name)
    for g, cat in enumerate(categories):
        y0 = legend_h + g * group_h
        parts.append(
            f'<text class="cat" x="{label_width - 6}" y="{y0 + group_h / 2 + 3:.1f}" text-anchor="end">'
            f"{escape(_clip(cat, 30))}<title>{escape(cat)}</title></text>"
        )
        for i, s in enumerate(series):
            v = s.values[g] if g < len(s.values) else None
            y = y0 + 4 + i * bar
            if not _ok(v):
                parts.append(f'<text class="na" x="{label_width + 2}" y="{y + bar - 2}">n/a</text>')
                continue
            assert v is not None
            w = max(0.0, min(1.0, v / top)) * plot_w
            parts.append(
                f'<rect class="s{i % N_COLORS}" x="{label_width}" y="{y}" width="{w:.1f}" height="{bar - 2}">'
                f"<title>{escape(s.name)} · {escape(cat)}: {escape(fmt.format(v))}</title></rect>"
            )
            lo = s.lo[g] if s.lo is not None else None
            hi = s.hi[g] if s.hi is not None else None
            end = w
            if _ok(lo) and _ok(hi):
                assert lo is not None and hi is not None
                x1 = label_width + max(0.0, min(1.0, lo / top)) * plot_w
                x2 = label_width + max(0.0, min(1.0, hi / top)) * plot_w
                ym = y + (bar - 2) / 2
                parts.append(f'<line class="ci" x1="{x1:.1f}" x2="{x2:.1f}" y1="{ym}" y2="{ym}"/>')
                end = max(end, x2 - label_width)
            parts.append(f'<text class="val" x="{label_width + end + 4:.1f}" y="{y + bar - 3}">{fmt.format(v)}</text>')
    parts.append(
        f'<line class="axis" x1="{label_width}" x2="{label_width}" y1="{legend_h}" y2="{height - 20}"/>'
        f'<text class="tick" x="{label_width}" y="{height - 6}">0</text>'
        f'<text class="tick" x="{label_width + plot_w}" y="{height - 6}" text-anchor="end">'
        f"{escape(fmt.format(top))}</text></svg>"
    )
    return Markup("".join(parts))


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
