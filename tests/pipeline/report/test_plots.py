"""The report's inline SVG charts: axes, series, placeholders, and user text escaped."""
from __future__ import annotations

import re

from pipeline.report import plots
from tests.pipeline.report.conftest import ESCAPED, HOSTILE


def test_ticks_are_round_numbers_covering_the_range():
    assert plots._ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert plots._ticks(0, 2000) == [0, 500, 1000, 1500, 2000]


def test_line_chart_draws_each_series_in_its_color():
    svg = plots.line_chart([{"name": "a", "points": [(0, 0), (1, 1)], "color": "#123456"},
                            {"name": "b", "points": [(0.5, 0.2)], "color": "#654321"}],
                           title="T", x_label="x", y_label="y", kind="roc", x_range=(0, 1), y_range=(0, 1))
    assert svg.startswith("<svg") and svg.endswith("</svg>") and 'class="plot plot-roc"' in svg
    line = re.search(r'<polyline points="([^"]+)" fill="none" stroke="#123456"', svg)
    (x0, y0), (x1, y1) = [tuple(map(float, p.split(","))) for p in line.group(1).split()]
    assert x0 < x1 and y0 > y1  # up and to the right: y grows downwards in SVG
    assert '<circle' in svg and 'fill="#654321"' in svg  # a one-point series is a dot


def test_empty_inputs_give_a_labelled_placeholder_not_an_error():
    assert "no data" in plots.line_chart([{"name": "a", "points": [], "color": "#000000"}],
                                         title="T", x_label="x", y_label="y", kind="roc")
    assert "no values" in plots.bar_chart([], title="f")


def test_plots_escape_titles_labels_and_names():
    svg = plots.line_chart([{"name": HOSTILE, "points": [(0, 0), (1, 1)], "color": "#123456"}],
                           title=HOSTILE, x_label=HOSTILE, y_label=HOSTILE, kind="roc")
    svg += plots.bar_chart([(HOSTILE, 3)], title=HOSTILE) + plots.empty_chart(HOSTILE, HOSTILE, 10, 10)
    assert "<script" not in svg and "&co" not in svg
    assert svg.count(ESCAPED) == 9  # line: aria-label, title, 2 axes, legend; bar: aria-label, title; empty: 2
