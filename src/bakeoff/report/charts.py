"""Inline SVG scatter charts for the HTML report: each model a labelled point of quality against
cost or time, a whisker for its quality's 95% interval, and the Pareto frontier (no other model
is both better and cheaper/faster) drawn as a line. Pure string building, no plotting library,
so the report stays one offline file. The x axis picks its own scale: linear for a narrow
range, logarithmic across decades, and a symmetric-log scale (linear near zero) when a model
costs exactly $0, which a log axis cannot place; the chart's note says which was used."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Literal

W, H = 600, 380
LEFT, RIGHT, TOP, BOTTOM = 58, 24, 16, 46
LABEL_CHARS = 30
CHAR_PX = 6.2  # rough width of one 11px label character, to keep labels inside the chart


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


def scatter_svg(
    chart_id: str,
    points: Sequence[Point],
    x_title: str,
    fmt_x: Callable[[float], str],
    axis: Axis,
) -> str:
    """One chart as an <svg> element: gridlines, ticks, frontier line, labelled points."""
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def px(v: float) -> float:
        return LEFT + axis.frac(v) * pw

    def py(q: float) -> float:
        return TOP + (1 - q) * ph

    out = [
        f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {W} {H}" role="img" '
        f'aria-label="quality against {escape(x_title)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for q in (0, 0.25, 0.5, 0.75, 1.0):
        y = py(q)
        out.append(
            f'<line class="gridline" x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        out.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{q:.0%}</text>'
        )
    last = -math.inf
    for t in axis.ticks():
        x = px(t)
        if x - last < 36:  # crowded decade ticks near the symlog zero would overprint
            continue
        last = x
        out.append(f'<line class="gridline" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{TOP + ph}"/>')
        out.append(
            f'<text class="tick" x="{x:.1f}" y="{TOP + ph + 16}" text-anchor="middle">'
            f"{escape(fmt_x(t))}</text>"
        )
    out.append(f'<line class="axis" x1="{LEFT}" x2="{W - RIGHT}" y1="{TOP + ph}" y2="{TOP + ph}"/>')
    out.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + ph}"/>')
    out.append(
        f'<text x="{LEFT + pw / 2:.1f}" y="{H - 8}" text-anchor="middle">{escape(x_title)}</text>'
    )
    out.append(
        f'<text x="14" y="{TOP + ph / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {TOP + ph / 2:.1f})">quality</text>'
    )
    frontier = pareto_frontier(points)
    if frontier:
        d = " ".join(
            f"{'M' if i == 0 else 'L'}{px(p.x):.1f},{py(p.y):.1f}" for i, p in enumerate(frontier)
        )
        out.append(f'<path class="frontier-line" d="{d}"><title>Pareto frontier</title></path>')
    on_frontier = {id(p) for p in frontier}
    placed: list[tuple[float, float]] = []
    for p in sorted(points, key=lambda p: -p.y):
        x, y = px(p.x), py(p.y)
        # Labels go right of the point (left where they would run off the chart) and step down
        # past earlier labels they would overprint, so close models stay readable. Long ids
        # (script paths) are cut to their distinctive tail; the tooltip has them whole.
        text = p.label if len(p.label) <= LABEL_CHARS else "…" + p.label[-(LABEL_CHARS - 1) :]
        right = x + 9 + len(text) * CHAR_PX < W - 4
        ly = y + 4
        while any(abs(ly - oy) < 13 and abs(x - ox) < 150 for ox, oy in placed):
            ly += 13
        placed.append((x, ly))
        classes = (
            "point" + (" frontier" if id(p) in on_frontier else "") + (" local" if p.local else "")
        )
        tip = f"{p.label}: quality {p.y:.0%}, {fmt_x(p.x)}"
        whisker = ""
        if p.y_low is not None and p.y_high is not None:
            tip += f" (95% interval {p.y_low:.0%}–{p.y_high:.0%})"
            whisker = (
                f'<line class="ci" x1="{x:.1f}" x2="{x:.1f}" y1="{py(p.y_low):.1f}" '
                f'y2="{py(p.y_high):.1f}" style="stroke: var(--muted); stroke-width: 1.5"/>'
            )
        out.append(
            f'<g class="{classes}" data-model="{escape(p.label)}"><title>{escape(tip)}</title>'
            f"{whisker}"
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{6 if id(p) in on_frontier else 5}"/>'
            f'<text x="{x + 9 if right else x - 9:.1f}" y="{ly:.1f}" '
            f'text-anchor="{"start" if right else "end"}">{escape(text)}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)
