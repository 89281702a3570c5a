"""Quality-vs-cost and quality-vs-time charts for the HTML report, drawn by Plotly (plotly.js,
bundled with the `plotly` Python package and inlined into the page, so it opens offline). This
module turns the field into Plotly figures as plain data: each model one trace with its own
colour and marker shape (so 9+ models stay apart, named in a legend rather than by labels that
could overprint), a whisker for its quality's 95% interval, a hover text with its numbers, and
the Pareto frontier (no other model is both better and cheaper/faster) as a dashed line. The x
axis picks its own scale: linear for a narrow range, logarithmic across decades, and a
symmetric-log scale (linear near zero) when a model costs exactly $0, which a log axis cannot
place; values are plotted at their position on that scale (0..1) with ticks labelled in real
units, and the chart's note says which scale was used."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from html import escape
from importlib import resources
from typing import Any, Literal

LEGEND_CHARS = 32
"""Longer model ids (script paths) are cut to their distinctive tail in the legend; the hover
text has them whole."""
PALETTE = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
]  # fmt: skip
"""Tableau 10: distinct hues that stay apart for common colour-vision deficiencies."""
SYMBOLS = ["circle", "square", "diamond", "triangle-up", "x", "triangle-down", "star", "pentagon"]
"""Marker shapes, cycled at a different period than the colours: no two of 40 models share both."""


@dataclass(frozen=True)
class Point:
    label: str
    x: float
    y: float  # quality, 0..1
    local: bool = False
    y_low: float | None = None  # quality's 95% interval, drawn as a whisker
    y_high: float | None = None


def pareto_frontier(points: Sequence[Point]) -> list[Point]:
    """The points no other point beats on both axes (higher y and lower x), by ascending x."""
    frontier: list[Point] = []
    best = -math.inf
    for p in sorted(points, key=lambda p: (p.x, -p.y)):
        if p.y > best:
            frontier.append(p)
            best = p.y
    return frontier


@dataclass(frozen=True)
class Axis:
    kind: Literal["linear", "log", "symlog"]
    lo: float
    hi: float
    c: float = 1.0  # symlog: the width of the linear part near zero

    def f(self, v: float) -> float:
        if self.kind == "log":
            return math.log10(v)
        if self.kind == "symlog":
            return math.log10(1 + v / self.c)
        return v

    def frac(self, v: float) -> float:
        span = self.f(self.hi) - self.f(self.lo)
        return 0.5 if span <= 0 else (self.f(v) - self.f(self.lo)) / span

    def ticks(self) -> list[float]:
        if self.kind == "linear":
            step = _nice_step(self.hi / 4)
            return [i * step for i in range(round(self.hi / step) + 1)]
        first = math.floor(math.log10(self.c if self.kind == "symlog" else self.lo))
        decades = [10.0**k for k in range(first, math.ceil(math.log10(self.hi)) + 1)]
        return ([0.0] if self.kind == "symlog" else []) + [
            d for d in decades if d <= self.hi * 1.0001
        ]

    def describe(self, what: str) -> str:
        if self.kind == "log":
            return f"{what} on a logarithmic axis."
        if self.kind == "symlog":
            return (
                f"{what} on a symmetric-log axis: linear near 0, logarithmic above — a log axis "
                "cannot show a model that costs $0."
            )
        return f"{what} on a linear axis."


def _nice_step(raw: float) -> float:
    if raw <= 0:
        return 1.0
    mag = 10.0 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


def choose_axis(values: Sequence[float]) -> Axis:
    """A scale that keeps every value visible and apart (all values are >= 0)."""
    positive = [v for v in values if v > 0]
    if not positive:
        return Axis("linear", 0.0, 1.0)
    lo, hi = min(positive), max(positive)
    if hi / lo < 10:
        step = _nice_step(hi * 1.1 / 4)
        return Axis("linear", 0.0, step * math.ceil(hi * 1.1 / step))
    top = 10.0 ** math.ceil(math.log10(hi))
    if len(positive) < len(values):
        return Axis("symlog", 0.0, top, c=lo / 2)
    return Axis("log", 10.0 ** math.floor(math.log10(lo)), top)


def legend_name(label: str, local: bool) -> str:
    """A model's name in the legend: its id (the tail of a long one), `(local)` when local."""
    text = label if len(label) <= LEGEND_CHARS else "…" + label[-(LEGEND_CHARS - 1) :]
    return text + (" (local)" if local else "")


def style_of(index: int) -> tuple[str, str]:
    """The colour and marker shape of the index-th model, the same in both charts."""
    return PALETTE[index % len(PALETTE)], SYMBOLS[index % len(SYMBOLS)]


def scatter_figure(
    points: Sequence[Point],
    x_title: str,
    fmt_x: Callable[[float], str],
    axis: Axis,
    order: Sequence[str] = (),
) -> dict[str, Any]:
    """One chart as a Plotly figure (`data` and `layout`): a trace per model, in `order` (the
    ranking, which also fixes each model's colour and shape), then the frontier line. Every
    string is HTML-escaped: Plotly renders a small subset of HTML in legends and hover text."""
    index = {m: i for i, m in enumerate(order)}
    frontier = pareto_frontier(points)
    on_frontier = {id(p) for p in frontier}
    traces: list[dict[str, Any]] = []
    for n, p in enumerate(sorted(points, key=lambda p: index.get(p.label, len(index)))):
        colour, symbol = style_of(index.get(p.label, len(index) + n))
        best = id(p) in on_frontier
        hover = [f"<b>{escape(p.label)}</b>", f"quality {p.y:.0%}"]
        trace: dict[str, Any] = {
            "type": "scatter",
            "mode": "markers",
            "name": escape(legend_name(p.label, p.local)),
            "meta": escape(p.label),
            "x": [round(axis.frac(p.x), 6)],
            "y": [p.y],
            "marker": {
                "color": colour,
                "symbol": symbol,
                "size": 14 if best else 11,
                "line": {"width": 2 if best else 0.5, "color": "#1d1f24" if best else colour},
            },
            "hoverinfo": "text",
        }
        if p.y_low is not None and p.y_high is not None:
            hover[-1] += f" (95% interval {p.y_low:.0%}–{p.y_high:.0%})"
            trace["error_y"] = {
                "type": "data",
                "symmetric": False,
                "array": [max(0.0, p.y_high - p.y)],
                "arrayminus": [max(0.0, p.y - p.y_low)],
                "color": colour,
                "thickness": 1.5,
                "width": 0,
            }
        hover.append(f"{escape(x_title)}: {escape(fmt_x(p.x))}")
        if best:
            hover.append("on the Pareto frontier")
        trace["hovertext"] = ["<br>".join(hover)]
        traces.append(trace)
    if frontier:
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "Pareto frontier",
                "x": [round(axis.frac(p.x), 6) for p in frontier],
                "y": [p.y for p in frontier],
                "line": {"dash": "dash", "width": 2, "color": "#868e96"},
                "hoverinfo": "skip",
            }
        )
    tickvals, ticktext, last = [], [], -math.inf
    for t in axis.ticks():
        f = axis.frac(t)
        if f - last < 0.07:  # crowded decade ticks near the symlog zero would overprint
            continue
        last = f
        tickvals.append(round(f, 6))
        ticktext.append(fmt_x(t))
    layout = {
        "xaxis": {
            "title": {"text": escape(x_title)},
            "range": [-0.04, 1.04],
            "tickvals": tickvals,
            "ticktext": ticktext,
            "zeroline": False,
        },
        "yaxis": {
            "title": {"text": "quality"},
            "range": [-0.05, 1.05],
            "tickformat": ".0%",
            "dtick": 0.25,
            "zeroline": False,
        },
        "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": -0.2, "yanchor": "top"},
        "margin": {"l": 56, "r": 12, "t": 8, "b": 40},
        "hovermode": "closest",
        "showlegend": True,
    }
    return {"data": traces, "layout": layout}


def figures_script(figures: dict[str, dict[str, Any]]) -> str:
    """The charts' figures as one inert JSON <script> block that report.js reads. `<`, `>` and
    `&` are written as JSON escapes so no string can close the block."""
    data = json.dumps(figures, ensure_ascii=False, separators=(",", ":"))
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="chart-figures">{data}</script>'


@cache
def plotly_js() -> bytes:
    """plotly.js (UTF-8) as shipped inside the `plotly` Python package (the file
    `plotly.offline.get_plotlyjs()` reads), read once per process."""
    return resources.files("plotly").joinpath("package_data", "plotly.min.js").read_bytes()
