"""The bake-off as one self-contained HTML page: header, comparison table, recommendation,
quality-vs-cost and quality-vs-time charts, the local-vs-cloud answer, a task × model grid,
paired tests, judge reliability, and the details of some runs (`DETAILED_FIRST`: answer,
timings, usage, transcript, diff, check output, judges); a grid mark links to a run's details
only when the page carries them. The page opens offline: CSS, JS and plotly.js (the charts) are
inlined from the installed packages, and a Content-Security-Policy forbids any fetch. On a
phone the summary tables become one card per row, so the page never scrolls sideways; wide
tables (grid, matrices) scroll inside their own box. Everything taken from the records is model
output or user data, so every such string goes through `html.escape` before it reaches the
page, and the records, the summary and the page (all but plotly.js, our own asset) go through
the redaction filter (`bakeoff.redact`)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from bakeoff.evals.store.records import TrialRecord
from bakeoff.evals.store.rows import Trial
from bakeoff.evals.store.summary_records import BakeoffSummary, ModelSummary
from bakeoff.evals.verdict.outcomes import BakeoffOutcome, internal_errors_line
from bakeoff.redact import current
from bakeoff.report.charts import Point, choose_axis, figures_script, plotly_js, scatter_figure
from bakeoff.report.grid import MAX_RUN_DETAILS, grid_html
from bakeoff.report.on_device import on_device_html
from bakeoff.report.run_details import render_run
from bakeoff.report.text import (
    OUTCOME_LEGEND,
    bands_line,
    fmt_ci,
    fmt_cost,
    fmt_cost_per_solved,
    fmt_judge,
    fmt_pass,
    fmt_pct,
    fmt_seconds,
    judge_lines,
    judging_line,
    recommendation_lines,
    solved_legend,
    unranked_lines,
    weights_line,
)
from bakeoff.report.tokens import TOKENS_LEGEND, fmt_in_out
from bakeoff.report.verdicts import matrices, matrix_html, method_lines, ranking_text

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def run_anchor(task: str, model: str, repeat: int) -> str:
    """The stable element id of a run's details: `run-<task>-<model>-<repeat>`, sanitised."""
    raw = f"run-{task}-{model}-{repeat}".lower()
    return re.sub(r"[^a-z0-9_-]+", "-", raw)


def write_run_report(outcome: BakeoffOutcome, report_dir: Path) -> Path:
    """Write a bake-off's HTML report as `report_dir/RUN_ID.html`, note its path on the
    outcome, and return it. The shells call this; the runner only returns results. A run id
    that is not a plain name (`store.check_run_id`) is refused: it must not reach a path."""
    from bakeoff.evals.store.store import check_run_id

    name = f"{check_run_id(outcome.run_id)}.html"
    outcome.report_html = write_outcome_html(outcome, report_dir / name)
    return outcome.report_html


DETAILED_FIRST = 200
"""The page details the first `DETAILED_FIRST` runs (by task, model, repeat) and every run that
did not pass, `MAX_RUN_DETAILS` in all: details for every run of a 1,000-trial run took 1.96 s
of a 14.5 s profile (BENCHMARKS.md §7); the others are in `bakeoff view` and `--export-json`."""


def write_outcome_html(outcome: BakeoffOutcome, path: Path | str) -> Path:
    """Write a graded run's page at `path`: every trial from its lean rows, the details of
    the runs `DETAILED_FIRST` names streamed from the store (passed runs past the first are
    never read)."""
    store, run_id = outcome.store, outcome.run_id
    if store is None:
        return write_html(outcome.summary, outcome.rows, path, ())
    first = list(store.iter_trials(run_id, limit=DETAILED_FIRST))
    seen = {r.key for r in first}
    unpassed = store.iter_trials(run_id, except_status="passed")
    rest = (r for r in unpassed if r.key not in seen)
    picked = [*first, *itertools.islice(rest, MAX_RUN_DETAILS - len(first))]
    picked.sort(key=lambda r: r.key)
    return write_html(outcome.summary, outcome.rows, path, map(outcome.shown, picked))


def default_report_dir(store_path: Path) -> Path:
    """Where reports go by default: `reports/` beside the results database."""
    return store_path.parent / "reports"


def write_html(
    summary: BakeoffSummary,
    records: Sequence[Trial],
    path: Path | str,
    details: Iterable[TrialRecord] | None = None,
) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render_page(summary, records, details))
    return path


def render_html(
    summary: BakeoffSummary,
    records: Sequence[Trial],
    details: Iterable[TrialRecord] | None = None,
) -> str:
    """`render_page` as text."""
    return render_page(summary, records, details).decode("utf-8")


def render_page(
    summary: BakeoffSummary,
    records: Sequence[Trial],
    details: Iterable[TrialRecord] | None = None,
) -> bytes:
    """The page (UTF-8) for every trial in `records` (full records or the store's lean rows);
    the runs it details are `details` (full records, at most `MAX_RUN_DETAILS` are read), else
    the first full records of `records`. Rows came redacted out of the store; the whole page
    is redacted again at the end."""
    redactor = current()
    summary = redactor.model(summary)
    records = [redactor.model(r) if isinstance(r, TrialRecord) else r for r in records]
    picked = (
        _detailed(records) if details is None else list(itertools.islice(details, MAX_RUN_DETAILS))
    )
    asset = resources.files("bakeoff.report")
    css = asset.joinpath("report.css").read_text(encoding="utf-8")
    js = asset.joinpath("report.js").read_text(encoding="utf-8")
    anchors = _anchors(records)
    detailed = [redactor.model(r) for r in picked]
    figures: dict[str, dict[str, Any]] = {}
    body = [
        _header(summary, records),
        _section("Comparison", _comparison(summary)),
        _section("Recommendation", _recommendation(summary)),
        _section("Quality, cost and speed", _charts(summary, figures)),
        _section("Local or cloud", on_device_html(summary, records)),
        _section("Tasks × models", grid_html(summary, records, anchors, detailed)),
        _section("By category", _categories(summary)),
        _section("Paired tests", _pairwise(summary)),
        _section("Judges", _judging(summary)),
        _section("Runs", _runs(detailed, len(records), anchors)),
    ]
    page = redactor.text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>bakeoff {escape(summary.run_id)}</title><style>{css}</style></head>"
        f"<body><main>{''.join(b for b in body if b)}</main>{figures_script(figures)}"
    )
    # plotly.js is our own asset, not data: it is added after redaction, untouched, and as
    # bytes (decoding and encoding its 4.8 MB again cost 0.15 s of every run).
    end = f"</script><script>{js}</script></body></html>\n"
    return b"".join((page.encode("utf-8"), b"<script>", plotly_js(), end.encode("utf-8")))


def _section(title: str, inner: str) -> str:
    if not inner:
        return ""
    sid = re.sub(r"[^a-z]+", "-", title.lower()).strip("-")
    return f'<section id="{sid}"><h2>{escape(title)}</h2>{inner}</section>'


def _detailed(records: Sequence[Trial]) -> list[TrialRecord]:
    """The runs whose details the page carries (`DETAILED_FIRST`) among the full records in
    `records` (lean rows carry no details)."""
    full = sorted((r for r in records if isinstance(r, TrialRecord)), key=lambda r: r.key)
    first, later = full[:DETAILED_FIRST], full[DETAILED_FIRST:]
    return [*first, *(r for r in later if r.status != "passed")][:MAX_RUN_DETAILS]


def _anchors(records: Sequence[Trial]) -> dict[tuple[str, str, int], str]:
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


def _when(summary: BakeoffSummary, records: Sequence[Trial]) -> str:
    ts = summary.spec.created_at or min((r.started_at for r in records if r.started_at), default=0)
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else "unknown"


def _header(summary: BakeoffSummary, records: Sequence[Trial]) -> str:
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
    if spec.tags:  # the run's labels (`bakeoff run --label`)
        rows.append(("Labels", escape(", ".join(f"{k}={v}" for k, v in spec.tags.items()))))
    if summary.missing:
        rows.append(
            (
                "Missing",
                f'<span class="unknown">{summary.missing} planned run(s) not in the store</span>',
            )
        )
    if internal := internal_errors_line(summary):  # a bakeoff bug: in plain sight, never muted
        rows.append(("Internal errors", f'<span class="unknown">{escape(internal)}</span>'))
    notes = "".join(f'<p class="muted">{escape(n)}</p>' for n in summary.notes)
    meta = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<header><h1>Bake-off {escape(summary.run_id)}</h1><dl class="meta">{meta}</dl>{notes}</header>'


def _cell(value: str, ci: str = "", label: str = "") -> str:
    data = f' data-label="{escape(label)}"' if label else ""
    return (
        f'<td class="num"{data}>{escape(value)}'
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
    if m.missing:
        out += f'<span class="badge warn">incomplete: {m.missing} of {m.planned} missing</span>'
    if m.injections:
        out += f'<span class="badge warn">{m.injections} judge-injection</span>'
    return out


def _grade(m: ModelSummary) -> str:
    overall = "" if m.overall is None else f" <small>{m.overall:.2f}</small>"
    if m.withheld:
        overall = f" <small>{escape(m.withheld)}</small>"
    if m.partial_credit_grade != "-":
        overall += f' <small class="unknown">{m.partial_credit_grade} by partial credit</small>'
    return f'<td class="grade-cell" data-label="grade"><span class="grade grade-{escape(m.grade)}">{escape(m.grade)}</span>{overall}</td>'


def _comparison(summary: BakeoffSummary) -> str:
    head = "".join(
        f'<th class="{"num" if i > 1 else ""}">{h}</th>'
        for i, h in enumerate(
            [
                "#",
                "Model",
                "Solved",
                "Grade",
                "Quality",
                "Judge",
                "Median time",
                "Timeouts",
                "Errors",
                "Tokens in / out",
                "Cost",
                "Cost / solved",
            ]
        )
    )
    rows = []
    for rank, m in enumerate(summary.ranking, 1):
        cost_cls = " unknown" if m.cost_usd is None else ""
        rows.append(
            f'<tr data-model="{escape(m.model)}">'
            + _cell(str(rank), f"[{m.group}]" if m.group else "", "rank")
            + f'<td class="mid model">{_model_name(m)}</td>'
            + _cell(fmt_pass(m), fmt_ci(m.pass_rate, pct=True) if m.checked else "", "solved")
            + _grade(m)
            + _cell(fmt_pct(m.quality.value), fmt_ci(m.quality, pct=True), "quality")
            + _cell(fmt_judge(m.judge_score), fmt_ci(m.judge_score, pct=False), "judge")
            + _cell(fmt_seconds(m.median_s), f"model {fmt_seconds(m.median_model_s)}", "time")
            + _count_cell(m.timeouts, "timeout")
            + _count_cell(m.errors, "error")
            + _tokens_cell(m)
            + f'<td class="num{cost_cls}" data-label="cost">{escape(fmt_cost(m.cost_usd))}</td>'
            + _cell(fmt_cost_per_solved(m), label="cost / solved")
            + "</tr>"
        )
    return (
        f'<div class="table-wrap"><table class="cards"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        + "".join(f'<p class="muted">{escape(line)}</p>' for line in _ranking_lines(summary))
        + f'<p class="muted">{escape(_sentence(solved_legend(summary.spec.weights)))}</p>'
        + '<p class="muted">Small print under a number is its 95% confidence interval. '
        "Judging cost and time are not included in a model's cost and time. "
        f"{escape(OUTCOME_LEGEND[0].upper() + OUTCOME_LEGEND[1:])}.</p>"
        + (
            ""
            if all(m.usage.known for m in summary.ranking)
            else f'<p class="muted">{escape(TOKENS_LEGEND[0].upper() + TOKENS_LEGEND[1:])}</p>'
        )
        + _unranked(summary)
    )


def _tokens_cell(m: ModelSummary) -> str:
    """Tokens in / out; a lower bound or unknown count says why on hover."""
    u = m.usage
    if u.known:
        return _cell(fmt_in_out(u), label="tokens in / out")
    why = f"{u.unreported} request(s) without token usage from the server"
    return (
        f'<td class="num unknown" data-label="tokens in / out" title="{escape(why)}">'
        f"{escape(fmt_in_out(u))}</td>"
    )


def _ranking_lines(summary: BakeoffSummary) -> list[str]:
    if not summary.ranking:
        return []
    return [f"Ranking: {ranking_text(summary)}", *method_lines(summary)]


def _count_cell(n: int, cls: str) -> str:
    # A non-zero count is coloured by its class (which also labels it on a phone); zeros are
    # left off the phone cards.
    return (
        f'<td class="num {cls}">{n}</td>'
        if n
        else f'<td class="num zero" data-label="{cls}s">0</td>'
    )


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


def _charts(summary: BakeoffSummary, figures: dict[str, dict[str, Any]]) -> str:
    """Two Plotly charts (their figures go into `figures`, keyed by element id) with notes."""
    models = [m for m in summary.ranking if m.quality.value is not None]
    no_quality = [m.model for m in summary.ranking if m.quality.value is None]
    order = [m.model for m in summary.ranking]
    out = []
    for chart_id, title, key, fmt in (
        ("chart-cost", "Quality vs cost per task", "cost", _fmt_axis_cost),
        ("chart-time", "Quality vs median time", "time", _fmt_axis_time),
    ):
        pts, left_out = [], list(no_quality)
        for m in models:
            x = cost_per_task(m) if key == "cost" else m.median_s
            if x is None:
                left_out.append(m.model)
            else:
                q = m.quality
                pts.append(Point(m.model, x, q.value or 0.0, m.local, q.low, q.high))
        axis = choose_axis([p.x for p in pts])
        what = (
            "Mean cost of one run of a task (total cost ÷ valid runs, from the price table)"
            if key == "cost"
            else "Median wall time per run"
        )
        notes = [
            axis.describe(what),
            "Hover or tap a point for its numbers. Whiskers: each model's 95% interval of "
            "quality. The dashed line is the Pareto frontier (outlined points): no other model "
            "is both better and " + ("cheaper." if key == "cost" else "faster."),
        ]
        if left_out:
            why = "unknown price" if key == "cost" else "no timing"
            notes.append(f"Not shown ({why} or no quality): " + ", ".join(left_out) + ".")
        x_title = "cost per task run (USD)" if key == "cost" else "median time per run (s)"
        figures[chart_id] = scatter_figure(pts, x_title, fmt, axis, order)
        label = f"{title}: " + "; ".join(f"{p.label} {p.y:.0%} at {fmt(p.x)}" for p in pts)
        note = "".join(f'<p class="chart-note">{escape(n)}</p>' for n in notes)
        out.append(
            f"<figure><figcaption>{title}</figcaption>"
            f'<div id="{chart_id}" class="chart" role="img" aria-label="{escape(label)}"></div>'
            f"{note}</figure>"
        )
    return f'<div class="charts">{"".join(out)}</div>'


def cost_per_task(m: ModelSummary) -> float | None:
    """A model's mean cost per valid run of a task, so models that ran different numbers of
    trials sit on one scale; None when a price is unknown (never plotted as $0)."""
    return None if m.cost_usd is None or not m.runs else m.cost_usd / m.runs


def _fmt_axis_cost(v: float) -> str:
    return "$" + f"{v:,.6f}".rstrip("0").rstrip(".") if v else "$0"


def _fmt_axis_time(v: float) -> str:
    return f"{v:g} s"


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
    judges = "".join(
        f'<p class="{"unknown" if "UNCOUNTED" in j else ""}">{escape(j)}</p>'
        for j in judge_lines(summary.judges)
    )
    return f"<p>{escape(line)}</p>{judges}{fam}"


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def _runs(
    detailed: Sequence[TrialRecord], total: int, anchors: dict[tuple[str, str, int], str]
) -> str:
    buttons = '<p><button data-toggle-runs="open">Expand all</button> <button data-toggle-runs="close">Collapse all</button></p>'
    rest = total - len(detailed)
    more = (
        f"<p>{rest} more runs are not detailed here: the page details the first "
        f"{DETAILED_FIRST} runs and every run that did not pass ({MAX_RUN_DETAILS:,} at most), "
        "to stay quick to write and to open. <code>bakeoff view</code> shows every run, and "
        "<code>bakeoff report RUN_ID --export-json FILE</code> exports every record.</p>"
        if rest
        else ""
    )
    return buttons + "".join(render_run(r, anchors[r.key]) for r in detailed) + more
