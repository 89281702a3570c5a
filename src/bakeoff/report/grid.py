"""The report's task × model grid: one cell per task and model, one mark per repeat (✓ passed,
✗ failed, • no check, ! infrastructure error; underlined: timed out; on hover its status and
tokens), coloured by the share of check tests passed. A mark links to its run's details, and a
cell to its first run's, only when the page carries those details (it carries at most
`MAX_RUN_DETAILS`), so no link leads nowhere."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from html import escape

from bakeoff.evals.store.rows import Trial
from bakeoff.evals.store.summary_records import BakeoffSummary
from bakeoff.report.tokens import fmt_in_out

MAX_RUN_DETAILS = 1000
"""Runs whose transcript, diff and grades the page carries in full; a 10,000-run sweep would
otherwise make a page of tens of MB that browsers struggle to open."""
MAX_MARKS = 25
"""Marks per cell; further repeats show as "+N" (the colour and scores count them all), so a
100,000-trial run still makes a page a browser opens."""


def grid_html(
    summary: BakeoffSummary,
    records: Sequence[Trial],
    anchors: dict[tuple[str, str, int], str],
    detailed: Sequence[Trial],
) -> str:
    """The grid; marks and cells link to a run's details only for runs in `detailed`."""
    linked = {anchors[r.key] for r in detailed}
    models = [m.model for m in summary.ranking] + [u.model for u in summary.unranked]
    models = models or list(summary.spec.models)
    tasks = list(dict.fromkeys([*summary.spec.task_names, *(r.task for r in records)]))
    by_cell: dict[tuple[str, str], list[Trial]] = {}
    for r in sorted(records, key=lambda r: r.repeat):
        by_cell.setdefault((r.task, r.model), []).append(r)
    head = "".join(f'<th class="mid">{escape(m)}</th>' for m in models)
    rows = []
    for t in tasks:
        cells = []
        for m in models:
            runs = by_cell.get((t, m), [])
            cells.append(
                _grid_cell(runs, anchors, linked) if runs else '<td class="none">not run</td>'
            )
        rows.append(f"<tr><th>{escape(t)}</th>{''.join(cells)}</tr>")
    return (
        f'<div class="table-wrap"><table class="grid" id="grid"><thead><tr><th>task</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="muted">One mark per repeat (at most '
        f"{MAX_MARKS}, then +N): ✓ check passed, ✗ failed, • no check, ! an error "
        "(infrastructure, left out of the grades); underlined: the model ran out of time. Colour: share of "
        "check tests passed (the judges' score where a task has no check). Click a cell for its runs "
        "(the page details the first runs and every run that did not pass; marks of the others "
        "link nowhere).</p>"
    )


def _grid_cell(
    runs: list[Trial], anchors: dict[tuple[str, str, int], str], linked: set[str]
) -> str:
    marks: list[str] = []
    shares: list[float] = []
    for r in runs:
        sym, cls = {True: ("✓", "pass"), False: ("✗", "fail"), None: ("•", "nocheck")}[r.passed]
        if r.status == "error":  # not the model's doing: no verdict mark at all
            sym, cls = "!", "error"
        elif r.status == "timeout":
            cls += " timeout"
        if len(marks) < MAX_MARKS:
            title = f"repeat {r.repeat}: {r.status} · tokens {fmt_in_out(r.agent.usage)}"
            anchor = anchors[r.key]
            marks.append(
                f'<a class="mark {cls}" href="#{anchor}" title="{escape(title)}">{sym}</a>'
                if anchor in linked
                else f'<span class="mark {cls}" title="{escape(title + " (not detailed)")}">{sym}</span>'
            )
        if r.status == "error":
            continue  # says nothing about the model: no part of the cell's colour
        if r.check is not None:
            c = r.check
            shares.append(
                (c.tests_passed or 0) / c.tests_total if c.tests_total else float(c.passed)
            )
        elif r.judge_overall is not None:
            shares.append((r.judge_overall - 1) / 9)
    judged = [r.judge_overall for r in runs if r.judge_overall is not None]
    score = f"judge {statistics.fmean(judged):.1f}" if judged else ""
    tests = [
        (r.check.tests_passed, r.check.tests_total) for r in runs if r.check and r.check.tests_total
    ]
    if tests:
        score += (
            " · " if score else ""
        ) + f"tests {sum(a or 0 for a, _ in tests)}/{sum(b or 0 for _, b in tests)}"
    if len(runs) > MAX_MARKS:
        marks.append(
            f'<span class="muted" title="repeats without a mark">+{len(runs) - MAX_MARKS}</span>'
        )
    q = f' style="--q:{statistics.fmean(shares):.3f}"' if shares else ""
    first = next((anchors[r.key] for r in runs if anchors[r.key] in linked), None)
    run = f' data-run="{first}"' if first else ""
    return (
        f'<td class="cell{" linked" if first else ""}"{run}{q}>{"".join(marks)}'
        f"<br><small>{escape(score) or '&nbsp;'}</small></td>"
    )
