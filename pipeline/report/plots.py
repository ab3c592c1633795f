"""Small inline SVG charts for the run report: no JavaScript, no network, no plotting library.

Each kind of plot draws its data in its own color (`COLORS`), so a screenshot test can tell
that the browser drew every plot.
"""
from __future__ import annotations

import html
import math
from typing import List, Optional, Sequence, Tuple

COLORS = {
    "loss": "#1f77b4",         # training loss over steps
    "eval": "#8c564b",         # eval metrics at checkpoints
    "roc": "#d62728",
    "pr": "#2ca02c",
    "calibration": "#9467bd",
    "histogram": "#ff7f0e",
    "baseline": "#17becf",     # the baseline model's curves
    "speed": "#393b79",
}
# Further series in the same chart (the first series carries the plot's own color).
EXTRA_COLORS = ("#e377c2", "#bcbd22", "#7f7f7f")
_AXIS, _GRID, _TEXT = "#444444", "#e4e4e4", "#222222"

Point = Tuple[float, float]


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 10000 or abs(value) < 0.001:
        return f"{value:.1e}"
    return f"{value:.4g}"


def _ticks(low: float, high: float, count: int = 5) -> List[float]:
    if high <= low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks, value = [], first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _range(values: Sequence[float], pad: float = 0.05) -> Tuple[float, float]:
    low, high = min(values), max(values)
    if high == low:
        return low - 0.5, high + 0.5
    span = high - low
    return low - span * pad, high + span * pad


def line_chart(series: Sequence[dict], *, title: str, x_label: str, y_label: str,
               kind: str, width: int = 380, height: int = 280,
               x_range: Optional[Tuple[float, float]] = None,
               y_range: Optional[Tuple[float, float]] = None, diagonal: bool = False) -> str:
    """An SVG line chart. `series`: dicts with `name`, `points` [(x, y)], `color`,
    optional `dashed` and `markers` (draw dots; for series with few points)."""
    left, right, top, bottom = 58, 14, 30, 44
    points = [p for s in series for p in s["points"]]
    if not points:
        return empty_chart(title, "no data", width, height)
    x_low, x_high = x_range or _range([p[0] for p in points])
    y_low, y_high = y_range or _range([p[1] for p in points])
    plot_w, plot_h = width - left - right, height - top - bottom

    def sx(x):
        return left + (x - x_low) / (x_high - x_low) * plot_w

    def sy(y):
        return top + plot_h - (y - y_low) / (y_high - y_low) * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="plot plot-{kind}" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">',
           f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="13" font-weight="600" '
           f'fill="{_TEXT}">{html.escape(title)}</text>']
    for tick in _ticks(x_low, x_high):
        x = sx(tick)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="{_GRID}"/>')
        out.append(f'<text x="{x:.1f}" y="{top + plot_h + 15}" text-anchor="middle" font-size="10" '
                   f'fill="{_TEXT}">{_fmt(tick)}</text>')
    for tick in _ticks(y_low, y_high):
        y = sy(tick)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="{_GRID}"/>')
        out.append(f'<text x="{left - 5}" y="{y + 3:.1f}" text-anchor="end" font-size="10" '
                   f'fill="{_TEXT}">{_fmt(tick)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="{_AXIS}"/>')
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle" font-size="11" '
               f'fill="{_TEXT}">{html.escape(x_label)}</text>')
    out.append(f'<text transform="translate(13,{top + plot_h / 2}) rotate(-90)" text-anchor="middle" '
               f'font-size="11" fill="{_TEXT}">{html.escape(y_label)}</text>')
    if diagonal:
        out.append(f'<line x1="{sx(x_low):.1f}" y1="{sy(y_low):.1f}" x2="{sx(x_high):.1f}" '
                   f'y2="{sy(y_high):.1f}" stroke="#aaaaaa" stroke-dasharray="4 4"/>')
    for s in reversed(series):  # the first series is drawn last, on top
        if not s["points"]:
            continue
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s["points"])
        dash = ' stroke-dasharray="6 4"' if s.get("dashed") else ""
        if len(s["points"]) > 1:
            out.append(f'<polyline points="{coords}" fill="none" stroke="{s["color"]}" stroke-width="2.5" '
                       f'stroke-linejoin="round"{dash}/>')
        if s.get("markers") or len(s["points"]) == 1:
            out += [f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="5" fill="{s["color"]}"/>'
                    for x, y in s["points"]]
    for i, s in enumerate(series):  # legend
        y = top + 12 + 14 * i
        out.append(f'<line x1="{left + 8}" y1="{y - 4}" x2="{left + 20}" y2="{y - 4}" stroke="{s["color"]}" '
                   f'stroke-width="2"/><text x="{left + 24}" y="{y}" font-size="10" fill="{_TEXT}">'
                   f'{html.escape(s["name"])}</text>')
    out.append("</svg>")
    return "".join(out)


def bar_chart(bars: Sequence[Tuple[str, float]], *, title: str, kind: str = "histogram",
              width: int = 180, height: int = 60) -> str:
    """A small histogram: one bar per (label, count); labels shown on hover (<title>)."""
    if not bars or max(count for _, count in bars) <= 0:
        return empty_chart(title, "no values", width, height)
    top, bottom = 2, 2
    peak = max(count for _, count in bars)
    slot = width / len(bars)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="plot plot-{kind}" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">']
    for i, (label, count) in enumerate(bars):
        bar_h = (height - top - bottom) * count / peak
        out.append(f'<rect x="{i * slot + 0.5:.1f}" y="{height - bottom - bar_h:.1f}" '
                   f'width="{max(slot - 1, 1):.1f}" height="{bar_h:.1f}" fill="{COLORS[kind]}">'
                   f'<title>{html.escape(label)}: {count:,.0f}</title></rect>')
    out.append(f'<line x1="0" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" stroke="{_AXIS}"/>')
    out.append("</svg>")
    return "".join(out)


def empty_chart(title: str, message: str, width: int, height: int) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="plot plot-empty" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}"><rect x="0.5" y="0.5" width="{width - 1}" '
            f'height="{height - 1}" fill="none" stroke="{_GRID}"/><text x="{width / 2}" y="{height / 2}" '
            f'text-anchor="middle" font-size="11" fill="#888888">{html.escape(title)}: '
            f'{html.escape(message)}</text></svg>')
