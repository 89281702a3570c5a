"""The report's answer to "is an on-device model useful yet?" as HTML: per category, the best
local model beside the best cloud model (quality, median time, cost per run), and each local
model's measured prompt and output tokens/s and time to first token beside llama.cpp's own
figures for the machine they were measured on (or "no reference" for a model file nobody
measured). The numbers come from `evals.verdict.recommend` (`local_vs_cloud`, `local_speeds`); this
module only lays them out. Model ids are escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from bakeoff.evals.store.rows import Trial
from bakeoff.evals.store.summary_records import BakeoffSummary
from bakeoff.evals.verdict.recommend import Contender, LocalSpeed, local_speeds, local_vs_cloud
from bakeoff.report.text import fmt_cost, fmt_pct, fmt_seconds


def on_device_html(summary: BakeoffSummary, records: Sequence[Trial]) -> str:
    """The section's body, or "" when the run had no local model."""
    speeds = local_speeds(summary.ranking, records)
    if not speeds:
        return ""
    return _matchups(summary, records) + _speeds(speeds)


def local_vs_cloud_lines(summary: BakeoffSummary, records: Sequence[Trial]) -> list[str]:
    """The same answer as plain lines for the terminal, one per category, e.g.
    `implement: local ollama:x 76% · 41.5 s · $0/run vs cloud openai:y 93% · 49.5 s ·
    $0.0410/run (local 17 points behind)`; empty without both a local and a cloud model."""
    out = []
    for v in local_vs_cloud(summary.ranking, summary.categories, records):
        sides = [
            f"{kind} " + ("none graded" if c is None else _plain(c))
            for kind, c in (("local", v.local), ("cloud", v.cloud))
        ]
        gap = _gap(v.local, v.cloud)
        out.append(f"{v.category}: {' vs '.join(sides)}" + (f" ({gap})" if gap else ""))
    return out


def _plain(c: Contender) -> str:
    return (
        f"{c.model} {fmt_pct(c.quality)} · {fmt_seconds(c.median_s)} · "
        f"{fmt_cost(c.cost_per_run_usd)}/run"
    )


def _gap(local: Contender | None, cloud: Contender | None) -> str:
    if local is None or cloud is None:
        return ""
    gap = round(100 * (local.quality - cloud.quality))
    return "local as good" if gap >= 0 else f"local {-gap} points behind"


def _side(c: Contender | None, label: str) -> str:
    if c is None:
        return f'<td class="muted" data-label="{label}">none graded</td>'
    cost = fmt_cost(c.cost_per_run_usd)
    return (
        f'<td class="mid" data-label="{label}"><b>{escape(c.model)}</b><small>'
        f"quality {fmt_pct(c.quality)} · median {fmt_seconds(c.median_s)} · "
        f"{escape(cost)} per run</small></td>"
    )


def _matchups(summary: BakeoffSummary, records: Sequence[Trial]) -> str:
    rows = []
    for v in local_vs_cloud(summary.ranking, summary.categories, records):
        verdict = _gap(v.local, v.cloud)
        rows.append(
            f'<tr><th data-label="category">{escape(v.category)}</th>'
            f"{_side(v.local, 'best local')}{_side(v.cloud, 'best cloud')}"
            f'<td data-label="quality gap">{verdict or "–"}</td></tr>'
        )
    if not rows:
        return '<p class="muted">No cloud model ran beside the local one: nothing to compare.</p>'
    return (
        '<div class="table-wrap"><table class="cards" id="local-vs-cloud"><thead><tr>'
        "<th>category</th><th>best local</th><th>best cloud</th><th>quality gap</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="muted">Best = highest quality in the category, then cheaper, then faster. '
        "Time and cost are per run (median time, mean cost), infrastructure errors left out.</p>"
    )


def _tps(v: float | None) -> str:
    return "–" if v is None else f"{v:,.1f}"


def _speeds(speeds: list[LocalSpeed]) -> str:
    rows, refs = [], []
    for s in speeds:
        ref = s.reference
        rows.append(
            f'<tr><td class="mid" data-label="local model"><b>{escape(s.model)}</b></td>'
            f'<td class="num" data-label="requests">{s.requests}</td>'
            f'<td class="num" data-label="prompt tok/s">{_tps(s.prompt_tps)}'
            f"<small>llama.cpp {_tps(ref.prompt_tps) if ref else 'no reference'}</small></td>"
            f'<td class="num" data-label="output tok/s">{_tps(s.output_tps)}'
            f"<small>llama.cpp {_tps(ref.output_tps) if ref else 'no reference'}</small></td>"
            f'<td class="num" data-label="first token">{fmt_seconds(s.ttft_s)}</td></tr>'
        )
        refs.append(
            f"{s.model}: llama.cpp's figures were measured on {ref.machine}, "
            f"{ref.measured} ({ref.source}); another machine's differ."
            if ref
            else f"{s.model}: no llama.cpp reference for this model on this machine."
        )
    notes = "".join(f'<p class="muted">{escape(n)}</p>' for n in refs)
    return (
        "<h3>Local speed</h3>"
        '<div class="table-wrap"><table class="cards" id="local-speed"><thead><tr>'
        '<th>local model</th><th class="num">requests</th><th class="num">prompt tok/s</th>'
        '<th class="num">output tok/s</th><th class="num">first token (median)</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="muted">Measured over this run\'s model requests: prompt tok/s = input tokens ÷ '
        "time to first token (prompt evaluation as a user sees it; tokens served from a prompt "
        "cache count too, so it can exceed llama.cpp's raw rate); output tok/s = median per "
        "request after the first token. Small print: llama.cpp's own figures for the same model "
        f"file.</p>{notes}"
    )
