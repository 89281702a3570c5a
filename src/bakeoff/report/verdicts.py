"""The ranking line, the statement of the tests behind it, and the pairwise results as one
compact matrix, shared by the terminal and HTML reports. Everything shown comes from the
summary's tests: models sharing a letter group cannot be told apart, and a matrix cell is marked
where the Holm-corrected test tells the two models apart, in either direction (the sign or the
wins show which)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from rich import box
from rich.table import Table
from rich.text import Text

from bakeoff.evals.store.summary_records import BakeoffSummary, PairwiseTest
from bakeoff.evals.verdict.compare import pair_sentence

METRIC_TITLES = {
    "quality": "Quality, row − column in points",
    "pass": "Pass rate, row − column in points",
    "judge": "Head-to-head judging, consistent wins row:column",
}
MARK = "*"
"""Appended to a matrix cell whose difference the Holm-corrected test confirms."""


@dataclass(frozen=True)
class Cell:
    text: str  # "+22*", "-3", "2:1"
    significant: bool
    sentence: str  # the test in words (HTML tooltip)


@dataclass(frozen=True)
class Matrix:
    """Upper triangle of a metric's tests: cells[(i, j)] for rank i above rank j (0-based)."""

    metric: str
    title: str
    models: list[str]
    ranks: list[int]  # each model's place in the ranking, 1 = best
    cells: dict[tuple[int, int], Cell]


def ranking_text(summary: BakeoffSummary) -> str:
    """`1 a A [a] · 2 b A [ab] · …`: rank, model, grade letter and, in brackets, the letter
    group of the quality tests."""
    parts = []
    for rank, m in enumerate(summary.ranking, 1):
        group = f" [{m.group}]" if m.group else ""
        parts.append(f"{rank} {m.model} {m.grade}{group}")
    return " · ".join(parts)


def method_lines(summary: BakeoffSummary) -> list[str]:
    """How the ranking and the tests were made, and what the run's tasks could show."""
    res = summary.resolution
    lines = [
        "Quality first: speed and cost only order models whose quality cannot be told apart"
        + ("; models sharing a letter in [ ] cannot be told apart." if res.pairs else ".")
    ]
    if not res.pairs:
        return lines
    pairs = f"{res.pairs} pair{'s' if res.pairs != 1 else ''}"
    lines.append(
        "Tests: sign-flip test (exact up to 16 tasks, sampled above) on the per-task quality "
        "differences over the compared tasks (where every graded model has a graded trial; "
        "repeats averaged per task), "
        f"Holm-corrected across {pairs} (α = "
        f"{res.alpha:g} for the whole field). Intervals: Wilson with continuity correction, "
        "over tasks."
    )
    tasks = f"{res.tasks} task{'s' if res.tasks != 1 else ''}"
    if res.detectable_gap is None:
        lines.append(
            f"With {tasks} no quality gap can show over {pairs}: {res.tasks_needed} tasks are "
            "the fewest that could."
        )
    return lines + power_lines(summary)


def power_lines(summary: BakeoffSummary) -> list[str]:
    """What the run could and could not detect (compare.power_estimates), in words."""
    res = summary.resolution
    if not res.power or res.level is None:
        return []

    def design(n: int, k: int) -> str:
        return f"{n} task{'s' if n != 1 else ''} × {k} repeat{'s' if k != 1 else ''}"

    here = [p for p in res.power if (p.tasks, p.repeats) == (res.tasks, res.repeats)]
    other = [p for p in res.power if p not in here]
    found = ", ".join(f"{_pts(p.gap)} {100 * p.found:.0f}%" for p in here)
    eighty = (
        f"a gap is found 80% of the time only from {_pts(res.gap_found_80)} up"
        if res.gap_found_80 is not None
        else "no gap up to 100 points is found 80% of the time"
    )
    lines = [
        f"Power: with {design(res.tasks, res.repeats)}, a true quality gap between two "
        f"models is found this often: {found}; {eighty}. Not told apart is no evidence of equal."
    ]
    if other:
        gap = _pts(other[0].gap)
        lines.append(
            f"A {gap} gap would be found with "
            + "; ".join(f"{design(p.tasks, p.repeats)}: {100 * p.found:.0f}%" for p in other)
            + f" (simulated pass/fail trials at this run's mean quality {100 * res.level:.0f}%, "
            f"tested as above at α/{res.pairs} = {res.alpha / res.pairs:.3g})."
        )
    return lines


def _pts(gap: float | None) -> str:
    return "–" if gap is None else f"{100 * gap:.0f} points"


def matrices(summary: BakeoffSummary) -> list[Matrix]:
    """One matrix per metric tested, models in rank order."""
    order = [m.model for m in summary.ranking]
    out = []
    for metric, title in METRIC_TITLES.items():
        tests = [t for t in summary.pairwise if t.metric == metric]
        if tests:
            out.append(_matrix(metric, title, order, tests))
    return out


def _matrix(metric: str, title: str, order: Sequence[str], tests: list[PairwiseTest]) -> Matrix:
    index = {m: i for i, m in enumerate(order)}
    models = [m for m in order if any(m in (t.model_a, t.model_b) for t in tests)]
    pos = {m: i for i, m in enumerate(models)}
    cells: dict[tuple[int, int], Cell] = {}
    for t in tests:
        if t.model_a not in index or t.model_b not in index:
            continue
        flip = index[t.model_a] > index[t.model_b]
        row, col = (t.model_b, t.model_a) if flip else (t.model_a, t.model_b)
        significant = t.verdict != "indistinguishable"
        if metric == "judge":
            wins = (t.b_wins, t.a_wins) if flip else (t.a_wins, t.b_wins)
            text = f"{wins[0]}:{wins[1]}"
        else:
            diff = (t.mean_diff or 0.0) * (-1 if flip else 1)
            text = f"{100 * diff:+.0f}"
        cells[(pos[row], pos[col])] = Cell(
            text + (MARK if significant else ""), significant, pair_sentence(t)
        )
    return Matrix(metric, title, models, [index[m] + 1 for m in models], cells)


def matrix_caption(matrix: Matrix) -> str:
    return f"{matrix.title} ({MARK} = significant after Holm)"


def matrix_table(matrix: Matrix) -> Table:
    """The matrix for the terminal (its caption: `matrix_caption`): row = the better-ranked
    model, column = a model ranked below it (#rank); `*` and bold = the Holm-corrected test
    confirms the difference."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("#", justify="right")
    table.add_column("model", overflow="fold", max_width=32)
    cols = range(1, len(matrix.models))
    for j in cols:
        table.add_column(f"#{matrix.ranks[j]}", justify="right")
    for i, model in enumerate(matrix.models[:-1]):
        cells = [matrix.cells.get((i, j)) for j in cols]
        table.add_row(
            f"#{matrix.ranks[i]}",
            Text(model),
            *(
                Text("" if c is None else c.text, style="bold" if c and c.significant else "dim")
                for c in cells
            ),
        )
    return table


def matrix_html(matrix: Matrix) -> str:
    """The matrix for the HTML report: confirmed differences in bold green, each cell's test in
    words as its tooltip. Model ids are escaped: they may come from anywhere."""
    head = "".join(
        f'<th class="num" title="{escape(m)}">{r}</th>'
        for m, r in zip(matrix.models[1:], matrix.ranks[1:], strict=True)
    )
    rows = []
    for i, model in enumerate(matrix.models[:-1]):
        cells = []
        for j in range(1, len(matrix.models)):
            c = matrix.cells.get((i, j))
            cls = "pass" if c and c.significant else "muted"
            cells.append(
                "<td></td>"
                if c is None
                else f'<td class="num {cls}" title="{escape(c.sentence)}">{escape(c.text)}</td>'
            )
        rows.append(
            f'<tr><td class="num">{matrix.ranks[i]}</td><td class="mid">{escape(model)}</td>'
            f"{''.join(cells)}</tr>"
        )
    return (
        f"<h3>{escape(matrix_caption(matrix))}</h3>"
        f'<div class="table-wrap"><table class="matrix" id="pairwise-{escape(matrix.metric)}">'
        f'<thead><tr><th class="num">#</th><th>model</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"
