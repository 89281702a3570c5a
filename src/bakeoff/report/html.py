"""The bake-off as one self-contained HTML page: header, comparison table, recommendation,
quality-vs-cost and quality-vs-time charts, a task × model grid, paired tests, judge reliability,
and every run's details (answer, timings, usage, transcript, diff, check output, judges). The page
opens offline: CSS and JS are inlined from the package, charts are inline SVG, and a
Content-Security-Policy forbids any fetch. Everything taken from the records is model output or
user data, so every such string goes through `html.escape` before it reaches the page, and the
records, the summary and the finished page go through the redaction filter (`bakeoff.redact`)."""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from importlib import resources
from pathlib import Path

from bakeoff.evals.records import BakeoffSummary, ModelSummary, TrialRecord
from bakeoff.redact import current
from bakeoff.report.charts import Point, choose_axis, scatter_svg
from bakeoff.report.run_details import render_run
from bakeoff.report.terminal import (
    OUTCOME_LEGEND,
    bands_line,
    fmt_ci,
    fmt_cost,
    fmt_cost_per_solved,
    fmt_judge,
    fmt_pass,
    fmt_pct,
    fmt_seconds,
    fmt_tokens,
    judging_line,
    recommendation_lines,
    unranked_lines,
    weights_line,
)
from bakeoff.report.verdicts import matrices, matrix_html, method_lines, ranking_text

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def run_anchor(task: str, model: str, repeat: int) -> str:
    """The stable element id of a run's details: `run-<task>-<model>-<repeat>`, sanitised."""
    raw = f"run-{task}-{model}-{repeat}".lower()
    return re.sub(r"[^a-z0-9_-]+", "-", raw)


MAX_RUN_DETAILS = 1000
"""Runs whose transcript, diff and grades the page carries in full; a 10,000-run sweep would
otherwise make a page of tens of MB that browsers struggle to open."""


def write_html(summary: BakeoffSummary, records: Sequence[TrialRecord], path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(summary, records), encoding="utf-8")
    return path


def render_html(summary: BakeoffSummary, records: Sequence[TrialRecord]) -> str:
    redactor = current()
    summary = redactor.model(summary)
    records = [redactor.model(r) for r in records]
    asset = resources.files("bakeoff.report")
    css = asset.joinpath("report.css").read_text(encoding="utf-8")
    js = asset.joinpath("report.js").read_text(encoding="utf-8")
    anchors = _anchors(records)
    body = [
        _header(summary, records),
        _section("Comparison", _comparison(summary)),
        _section("Recommendation", _recommendation(summary)),
        _section("Quality, cost and speed", _charts(summary)),
        _section("Tasks × models", _grid(summary, records, anchors)),
        _section("By category", _categories(summary)),
        _section("Paired tests", _pairwise(summary)),
        _section("Judges", _judging(summary)),
        _section("Runs", _runs(records, anchors)),
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>bakeoff {escape(summary.run_id)}</title><style>{css}</style></head>"
        f"<body><main>{''.join(b for b in body if b)}</main><script>{js}</script></body></html>\n"
    )
    return redactor.text(page)


def _section(title: str, inner: str) -> str:
    if not inner:
        return ""
    sid = re.sub(r"[^a-z]+", "-", title.lower()).strip("-")
    return f'<section id="{sid}"><h2>{escape(title)}</h2>{inner}</section>'


def _anchors(records: Sequence[TrialRecord]) -> dict[tuple[str, str, int], str]:
    # Sanitising can map two keys to one id (`a:b` and `a-b`); a suffix keeps every id unique.
    out: dict[tuple[str, str, int], str] = {}
    used: set[str] = set()
    for r in records:
        base = anchor = run_anchor(r.task, r.model, r.repeat)
        n = 2
        while anchor in used:
            anchor, n = f"{base}-{n}", n + 1
        used.add(anchor)
        out[r.key] = anchor
    return out


def _when(summary: BakeoffSummary, records: Sequence[TrialRecord]) -> str:
    ts = summary.spec.created_at or min((r.started_at for r in records if r.started_at), default=0)
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else "unknown"


def _header(summary: BakeoffSummary, records: Sequence[TrialRecord]) -> str:
    spec = summary.spec
    rows = [
        ("Run", f"<code>{escape(summary.run_id)}</code>"),
        ("Date", escape(_when(summary, records))),
        ("Tasks", f"{len(spec.task_names)}: " + ", ".join(escape(t) for t in spec.task_names)),
        ("Models", ", ".join(escape(m) for m in spec.models)),
        ("Repeats", str(spec.repeats)),
        ("Judges", ", ".join(escape(j) for j in spec.judges) or "none (checks only)"),
        ("Weights", escape(weights_line(spec.weights).removeprefix("Weights: "))),
        ("Bands", escape(bands_line(spec.weights).removeprefix("Bands: "))),
    ]
    if summary.missing:
        rows.append(
            (
                "Missing",
                f'<span class="unknown">{summary.missing} planned run(s) not in the store</span>',
            )
        )
    notes = "".join(f'<p class="muted">{escape(n)}</p>' for n in summary.notes)
    meta = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<header><h1>Bake-off {escape(summary.run_id)}</h1><dl class="meta">{meta}</dl>{notes}</header>'


def _cell(value: str, ci: str = "") -> str:
    return (
        f'<td class="num">{escape(value)}'
        + (f"<small>{escape(ci)}</small>" if ci else "")
        + "</td>"
    )


def _model_name(m: ModelSummary) -> str:
    out = f"<b>{escape(m.model)}</b>"
    if m.local:
        out += '<span class="badge local">local</span>'
    if m.same_family_judges:
        judges = escape(", ".join(m.same_family_judges))
        out += f'<span class="badge warn" title="judged by its own family: {judges}">same-family judge</span>'
    return out


def _grade(m: ModelSummary) -> str:
    overall = "" if m.overall is None else f" <small>{m.overall:.2f}</small>"
    return f'<td><span class="grade grade-{escape(m.grade)}">{escape(m.grade)}</span>{overall}</td>'


def _comparison(summary: BakeoffSummary) -> str:
    head = "".join(
        f'<th class="{"num" if i > 1 else ""}">{h}</th>'
        for i, h in enumerate(
            [
                "#",
                "Model",
                "Quality",
                "Pass",
                "Judge",
                "Median time",
                "Timeouts",
                "Errors",
                "Tokens in / out",
                "Cost",
                "Cost / solved",
                "Grade",
            ]
        )
    )
    rows = []
    for rank, m in enumerate(summary.ranking, 1):
        cost_cls = " unknown" if m.cost_usd is None else ""
        rows.append(
            f'<tr data-model="{escape(m.model)}">'
            + _cell(str(rank), f"[{m.group}]" if m.group else "")
            + f'<td class="mid">{_model_name(m)}</td>'
            + _cell(fmt_pct(m.quality.value), fmt_ci(m.quality, pct=True))
            + _cell(fmt_pass(m), fmt_ci(m.pass_rate, pct=True) if m.checked else "")
            + _cell(fmt_judge(m.judge_score), fmt_ci(m.judge_score, pct=False))
            + _cell(fmt_seconds(m.median_s), f"model {fmt_seconds(m.median_model_s)}")
            + _count_cell(m.timeouts, "timeout")
            + _count_cell(m.errors, "error")
            + _cell(f"{fmt_tokens(m.usage.input_tokens)} / {fmt_tokens(m.usage.output_tokens)}")
            + f'<td class="num{cost_cls}">{escape(fmt_cost(m.cost_usd))}</td>'
            + _cell(fmt_cost_per_solved(m))
            + _grade(m)
            + "</tr>"
        )
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        + "".join(f'<p class="muted">{escape(line)}</p>' for line in _ranking_lines(summary))
        + '<p class="muted">Small print under a number is its 95% confidence interval. '
        "Judging cost and time are not included in a model's cost and time. "
        f"{escape(OUTCOME_LEGEND[0].upper() + OUTCOME_LEGEND[1:])}.</p>" + _unranked(summary)
    )


def _ranking_lines(summary: BakeoffSummary) -> list[str]:
    if not summary.ranking:
        return []
    return [f"Ranking: {ranking_text(summary)}", *method_lines(summary)]


def _count_cell(n: int, cls: str) -> str:
    return f'<td class="num{f" {cls}" if n else ""}">{n}</td>'


def _unranked(summary: BakeoffSummary) -> str:
    """The models left out of the ranking for want of one valid trial, with why."""
    if not summary.unranked:
        return ""
    items = "".join(f"<li>{escape(line)}</li>" for line in unranked_lines(summary))
    return f'<ul class="unranked" id="unranked">{items}</ul>'


def _recommendation(summary: BakeoffSummary) -> str:
    items = [(k, v) for k, v in recommendation_lines(summary) if k != "Note"]
    notes = [v for k, v in recommendation_lines(summary) if k == "Note"]
    dl = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items)
    extra = "".join(f'<p class="muted">{escape(n)}</p>' for n in notes)
    return f'<div class="rec"><dl>{dl}</dl>{extra}</div>'


def _charts(summary: BakeoffSummary) -> str:
    models = [m for m in summary.ranking if m.quality.value is not None]
    no_quality = [m.model for m in summary.ranking if m.quality.value is None]
    figures = []
    for chart_id, title, key, fmt in (
        ("chart-cost", "Quality vs cost", "cost", _fmt_axis_cost),
        ("chart-time", "Quality vs median time", "time", _fmt_axis_time),
    ):
        pts, left_out = [], list(no_quality)
        for m in models:
            x = m.cost_usd if key == "cost" else m.median_s
            if x is None:
                left_out.append(m.model)
            else:
                q = m.quality
                pts.append(Point(m.model, x, q.value or 0.0, m.local, q.low, q.high))
        axis = choose_axis([p.x for p in pts])
        what = "Total cost of each model's runs" if key == "cost" else "Median wall time per run"
        notes = [
            axis.describe(what),
            "Whiskers: each model's 95% interval of quality. "
            "The dashed line is the Pareto frontier: no other model is both better and "
            + ("cheaper." if key == "cost" else "faster."),
        ]
        if left_out:
            why = "unknown price" if key == "cost" else "no timing"
            notes.append(f"Not shown ({why} or no quality): " + ", ".join(left_out) + ".")
        x_title = "cost (USD)" if key == "cost" else "median time per run (s)"
        svg = scatter_svg(chart_id, pts, x_title, fmt, axis)
        note = "".join(f'<p class="chart-note">{escape(n)}</p>' for n in notes)
        figures.append(f"<figure><figcaption>{title}</figcaption>{svg}{note}</figure>")
    return f'<div class="charts">{"".join(figures)}</div>'


def _fmt_axis_cost(v: float) -> str:
    return "$" + f"{v:,.6f}".rstrip("0").rstrip(".") if v else "$0"


def _fmt_axis_time(v: float) -> str:
    return f"{v:g} s"


def _grid(
    summary: BakeoffSummary,
    records: Sequence[TrialRecord],
    anchors: dict[tuple[str, str, int], str],
) -> str:
    models = [m.model for m in summary.ranking] + [u.model for u in summary.unranked]
    models = models or list(summary.spec.models)
    tasks = list(dict.fromkeys([*summary.spec.task_names, *(r.task for r in records)]))
    by_cell: dict[tuple[str, str], list[TrialRecord]] = {}
    for r in sorted(records, key=lambda r: r.repeat):
        by_cell.setdefault((r.task, r.model), []).append(r)
    head = "".join(f'<th class="mid">{escape(m)}</th>' for m in models)
    rows = []
    for t in tasks:
        cells = []
        for m in models:
            runs = by_cell.get((t, m), [])
            cells.append(_grid_cell(runs, anchors) if runs else '<td class="none">not run</td>')
        rows.append(f"<tr><th>{escape(t)}</th>{''.join(cells)}</tr>")
    return (
        f'<div class="table-wrap"><table class="grid" id="grid"><thead><tr><th>task</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="muted">One mark per repeat: ✓ check passed, ✗ failed, • no check, ! an error '
        "(infrastructure, left out of the grades); underlined: the model ran out of time. Colour: share of "
        "check tests passed (the judges' score where a task has no check). Click a cell for its runs.</p>"
    )


def _grid_cell(runs: list[TrialRecord], anchors: dict[tuple[str, str, int], str]) -> str:
    marks, shares = [], []
    for r in runs:
        sym, cls = {True: ("✓", "pass"), False: ("✗", "fail"), None: ("•", "nocheck")}[r.passed]
        if r.status == "error":  # not the model's doing: no verdict mark at all
            sym, cls = "!", "error"
        elif r.status == "timeout":
            cls += " timeout"
        title = f"repeat {r.repeat}: {r.status}"
        marks.append(
            f'<a class="mark {cls}" href="#{anchors[r.key]}" title="{escape(title)}">{sym}</a>'
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
    q = f' style="--q:{statistics.fmean(shares):.3f}"' if shares else ""
    return (
        f'<td class="cell" data-run="{anchors[runs[0].key]}"{q}>{"".join(marks)}'
        f"<br><small>{escape(score) or '&nbsp;'}</small></td>"
    )


def _categories(summary: BakeoffSummary) -> str:
    if not summary.categories:
        return ""
    models = [m.model for m in summary.ranking]
    head = "".join(f'<th class="num mid">{escape(m)}</th>' for m in models)
    rows = []
    for cat, quals in sorted(summary.categories.items()):
        pick = summary.recommendation.per_category.get(cat)
        cells = "".join(_cell(fmt_pct(quals.get(m))) for m in models)
        rows.append(
            f"<tr><th>{escape(cat)}</th>{cells}<td>{escape(pick or 'none clears the bar')}</td></tr>"
        )
    return (
        f'<div class="table-wrap"><table><thead><tr><th>category</th>{head}<th>cheapest above the bar</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _pairwise(summary: BakeoffSummary) -> str:
    if not summary.pairwise:
        return '<p class="muted">No paired tests (they need at least two models on the same tasks).</p>'
    return "".join(matrix_html(m) for m in matrices(summary)) + (
        '<p class="muted">Each cell compares the row\'s model with a lower-ranked one; hover it '
        "for the test in words.</p>"
    )


def _judging(summary: BakeoffSummary) -> str:
    line = judging_line(summary.judging)
    if line is None:
        return '<p class="muted">No judges: quality comes from the checks alone.</p>'
    fam = "".join(
        f'<p class="unknown">{escape(j)} judged models of its own family: {escape(", ".join(c))}</p>'
        for j, c in summary.judging.same_family.items()
    )
    return f"<p>{escape(line)}</p>{fam}"


def _runs(records: Sequence[TrialRecord], anchors: dict[tuple[str, str, int], str]) -> str:
    buttons = '<p><button data-toggle-runs="open">Expand all</button> <button data-toggle-runs="close">Collapse all</button></p>'
    ordered = sorted(records, key=lambda r: (r.task, r.model, r.repeat))
    shown = ordered[:MAX_RUN_DETAILS]
    rest = len(ordered) - len(shown)
    more = (
        f"<p>{rest} more runs are not detailed here, to keep the page openable; "
        "<code>bakeoff report RUN_ID --export-json FILE</code> exports every record.</p>"
        if rest
        else ""
    )
    return buttons + "".join(render_run(r, anchors[r.key]) for r in shown) + more
