"""The HTML report's page source: self-contained, escaped, one id per run, no link to a run
the page does not detail, charts whose axes, styles and frontier are right for the field, and
the local-vs-cloud answer. The browser tests show it working."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bakeoff.evals.store.records import BakeoffSpec, TrialRecord
from bakeoff.evals.store.summary_records import BakeoffSummary, UnrankedModel
from bakeoff.report.charts import Point, choose_axis, pareto_frontier, plotly_js
from bakeoff.report.grid import MAX_MARKS, MAX_RUN_DETAILS
from bakeoff.report.html import DETAILED_FIRST, render_html, run_anchor, write_html
from bakeoff.report.on_device import local_vs_cloud_lines


def figures(page: str) -> dict[str, Any]:
    block = re.search(r'<script type="application/json" id="chart-figures">(.*?)</script>', page)
    assert block is not None
    data: dict[str, Any] = json.loads(block.group(1))
    return data


def test_page_is_self_contained(
    tmp_path: Path, summary: BakeoffSummary, records: list[TrialRecord]
) -> None:
    page = write_html(summary, records, tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    library = plotly_js().decode("utf-8")
    assert f"<script>{library}</script>" in page  # the charting library, inlined whole
    ours = page.replace(library, "")
    urls = re.findall(r"(?:src|href)\s*=\s*[\"']([^\"'#][^\"']*)", ours)
    assert urls == []  # no stylesheet, script, font or image is fetched
    assert re.findall(r"https?://[^\s\"'<]+", ours) == []
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "<style>" in page and ".grade-A" in page and "openRun" in page


def test_record_text_is_escaped(summary: BakeoffSummary, records: list[TrialRecord]) -> None:
    page = render_html(summary, records)
    assert "<script>window.__pwned" not in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert "&lt;/pre&gt;&lt;i&gt;not markup&lt;/i&gt;" in page  # a judge's rationale
    assert "&lt;sum&gt; &amp; done" in page  # the diff
    assert page.count("<script>") == 2  # plotly.js and the report's own script only


def test_every_run_has_one_unique_details_id(
    summary: BakeoffSummary, records: list[TrialRecord]
) -> None:
    page = render_html(summary, records)
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    runs = re.findall(r'<details class="run" id="([^"]+)"', page)
    assert len(runs) == len(records)
    assert (
        run_anchor("add-numbers", "ollama:gpt-oss:20b", 2) == "run-add-numbers-ollama-gpt-oss-20b-2"
    )


def test_ids_stay_unique_when_sanitising_collides(
    summary: BakeoffSummary, records: list[TrialRecord]
) -> None:
    twin = records[0].model_copy(update={"model": records[0].model.replace(":", "/")})
    page = render_html(summary, [records[0], twin])
    runs = re.findall(r'<details class="run" id="([^"]+)"', page)
    assert len(set(runs)) == 2


def test_zero_cost_uses_a_symlog_axis_and_says_so(
    summary: BakeoffSummary, records: list[TrialRecord]
) -> None:
    cheap = summary.ranking[1]
    cheap.cost_usd = 0.0004  # the field now spans three decades and includes a $0 model
    page = render_html(summary, records)
    assert "symmetric-log axis" in page
    assert "cannot show a model that costs $0" in page


def test_empty_bakeoff_renders() -> None:
    spec = BakeoffSpec(run_id="empty", task_paths=[], task_names=[], models=[])
    page = render_html(BakeoffSummary(run_id="empty", spec=spec, ranking=[]), [])
    assert "Bake-off empty" in page and "No paired tests" in page


def test_pareto_frontier_keeps_only_undominated_points() -> None:
    pts = [
        Point("cheap", 0.0, 0.2),
        Point("mid", 1.0, 0.8),
        Point("worse", 2.0, 0.7),
        Point("best", 5.0, 0.9),
    ]
    assert [p.label for p in pareto_frontier(pts)] == ["cheap", "mid", "best"]


def test_axis_choice_follows_the_range() -> None:
    assert choose_axis([1.0, 2.0, 5.0]).kind == "linear"
    assert choose_axis([0.001, 0.5]).kind == "log"
    symlog = choose_axis([0.0, 0.001, 0.5])
    assert symlog.kind == "symlog" and symlog.frac(0.0) == 0.0 and symlog.frac(0.5) <= 1.0
    assert 0.0 in symlog.ticks()
    assert choose_axis([]).kind == "linear"


def test_timeouts_errors_and_unranked_models_are_shown(
    summary: BakeoffSummary, records: list[TrialRecord]
) -> None:
    local = summary.ranking[3]
    local.timeouts, local.errors = 1, 2
    down = "ollama:gpt-oss:20b"
    summary.unranked.append(
        UnrankedModel(model=down, reason="no server is answering at <http://x>", errors=1)
    )
    errored = records[0].model_copy(
        update={"model": down, "status": "error", "check": None, "judges": []}
    )
    page = render_html(summary, [*records, errored])
    assert '<td class="num timeout">1</td><td class="num error">2</td>' in page
    assert f"Not ranked: {down} — 1 error: no server is answering at &lt;http://x&gt;" in page
    grid = page[page.index('id="grid"') :]
    assert f'<th class="mid">{down}</th>' in grid  # its column is there, marked as an error
    assert grid.count('class="mark error"') == 1


def test_grid_links_only_to_runs_the_page_details(
    summary: BakeoffSummary, records: list[TrialRecord]
) -> None:
    base = records[0].model_copy(update={"status": "passed"})
    # Past the first DETAILED_FIRST runs only those that did not pass are detailed, up to
    # MAX_RUN_DETAILS: here every second of 2,000 runs failed.
    many = [
        base.model_copy(update={"repeat": k, "status": "failed" if k % 2 else "passed"})
        for k in range(1, 2001)
    ]
    page = render_html(summary, [*many, *records[2:]])  # records[1] is repeat 2
    ids = set(re.findall(r'<details class="run" id="([^"]+)"', page))
    assert len(ids) == MAX_RUN_DETAILS
    anchor = run_anchor(base.task, base.model, DETAILED_FIRST + 10)  # passed, past the first
    assert anchor not in ids and run_anchor(base.task, base.model, 1001) in ids  # failed
    targets = re.findall(r'href="#([^"]+)"', page) + re.findall(r'data-run="([^"]+)"', page)
    assert targets and set(targets) <= ids  # every link and clickable cell leads somewhere
    rest = len(many) + len(records) - 2 - MAX_RUN_DETAILS
    # Every mark that links nowhere says so; a cell marks at most MAX_MARKS repeats, then +N.
    assert page.count("(not detailed)") == page.count('<span class="mark ') > 0
    assert f">+{len(many) - MAX_MARKS}</span>" in page
    assert f"{rest} more runs are not detailed here" in page


def test_nine_models_get_a_legend_entry_and_a_style_each(
    wide_summary: BakeoffSummary, wide_records: list[TrialRecord]
) -> None:
    charts = figures(render_html(wide_summary, wide_records))
    time = charts["chart-time"]["data"]
    models = [t for t in time if t["name"] != "Pareto frontier"]
    assert len(models) == 9 == len(wide_summary.ranking)
    assert [t["meta"] for t in models] == [m.model for m in wide_summary.ranking]
    styles = {(t["marker"]["color"], t["marker"]["symbol"]) for t in models}
    assert len(styles) == 9  # no two models look alike
    assert all(t["mode"] == "markers" for t in models)  # named by the legend, not by labels
    assert charts["chart-time"]["layout"]["showlegend"] is True
    # The same model keeps its look in both charts.
    cost = {t["meta"]: t["marker"]["color"] for t in charts["chart-cost"]["data"] if "meta" in t}
    assert all(cost[t["meta"]] == t["marker"]["color"] for t in models if t["meta"] in cost)
    long_id = "openrouter:qwen/qwen3-coder-480b-a35b-instruct"
    entry = next(t for t in models if t["meta"] == long_id)
    assert entry["name"].startswith("…") and len(entry["name"]) <= 32
    assert long_id in entry["hovertext"][0]  # the hover text has the whole id


def test_hover_text_and_frontier_of_a_chart(
    summary: BakeoffSummary, records: list[TrialRecord]
) -> None:
    time = figures(render_html(summary, records))["chart-time"]["data"]
    gpt5 = next(t for t in time if t.get("meta") == "openai:gpt-5")
    assert gpt5["hovertext"] == [
        "<b>openai:gpt-5</b><br>quality 93% (95% interval 83%–99%)<br>"
        "median time per run (s): 49.5 s<br>on the Pareto frontier"
    ]
    assert gpt5["error_y"]["array"] == [pytest.approx(0.06)]
    frontier = next(t for t in time if t["name"] == "Pareto frontier")
    assert frontier["y"] == [0.74, 0.81, 0.93]  # haiku, gpt-5-mini, gpt-5; not the local model


def test_a_hostile_model_id_cannot_break_out_of_the_chart_data(
    summary: BakeoffSummary, records: list[TrialRecord]
) -> None:
    evil = "x:</script><script>window.__pwned=1</script>"
    summary.ranking[0].model = evil
    page = render_html(summary, records)
    assert "<script>window.__pwned" not in page
    names = [t.get("meta") for t in figures(page)["chart-time"]["data"]]
    assert "x:&lt;/script&gt;&lt;script&gt;window.__pwned=1&lt;/script&gt;" in names


def test_local_models_are_set_beside_the_best_cloud_model(
    wide_summary: BakeoffSummary, wide_records: list[TrialRecord]
) -> None:
    page = render_html(wide_summary, wide_records)
    section = page[page.index('id="local-or-cloud"') : page.index('id="tasks-models"')]
    rows = re.findall(r'<tr><th data-label="category">(\w+)</th>(.*?)</tr>', section)
    assert [c for c, _ in rows] == ["debug", "implement", "refactor"]
    implement = dict(rows)["implement"]
    assert implement.index("ollama:gpt-oss:20b") < implement.index("openai:gpt-5<")
    assert "quality 76% · median 41.5 s · $0 per run" in implement
    assert "quality 93% · median 49.5 s · $0.0410 per run" in implement
    assert "local 17 points behind" in implement
    speed = section[section.index('id="local-speed"') :]
    assert speed.count("<tr><td") == 3  # three local models
    assert "llama.cpp 168.7" in speed and "llama.cpp 37.7" in speed  # the measured 0.5B
    assert "llama.cpp 18.3" in speed and "llama.cpp 6.9" in speed  # the measured 1.5B
    assert "llama.cpp no reference" in speed  # the ollama model: no reference is invented
    assert "ollama:gpt-oss:20b: no llama.cpp reference for this model on this machine" in section
    assert "2026-11-25" in section and "2026-11-29" in section


def test_no_local_section_without_a_local_model(
    summary: BakeoffSummary, records: list[TrialRecord]
) -> None:
    summary.ranking = [m for m in summary.ranking if not m.local]
    page = render_html(summary, [r for r in records if not r.model.startswith("local:")])
    assert 'id="local-or-cloud"' not in page


def test_the_local_answer_in_one_line_per_category(
    wide_summary: BakeoffSummary, wide_records: list[TrialRecord]
) -> None:
    lines = local_vs_cloud_lines(wide_summary, wide_records)
    assert lines[1] == (
        "implement: local ollama:gpt-oss:20b 76% · 41.5 s · $0/run vs cloud openai:gpt-5 93% · "
        "49.5 s · $0.0410/run (local 17 points behind)"
    )
    assert len(lines) == 3


def test_a_stored_run_details_its_first_runs_and_every_one_that_did_not_pass(
    tmp_path: Path, records: list[TrialRecord]
) -> None:
    from bakeoff.evals.store.store import Store
    from bakeoff.evals.verdict.outcomes import build_outcome
    from bakeoff.report.html import write_outcome_html

    base = records[0].model_copy(update={"run_id": "r", "status": "passed"})
    store = Store(tmp_path / "results.sqlite")
    n, failing = DETAILED_FIRST + 60, {DETAILED_FIRST + 10, DETAILED_FIRST + 50}
    store.create_run(
        BakeoffSpec(
            run_id="r", task_paths=[], task_names=[base.task], models=[base.model], repeats=n
        )
    )
    for k in range(n):
        store.add_trial(
            base.model_copy(update={"repeat": k, "status": "failed" if k in failing else "passed"})
        )
    page = write_outcome_html(build_outcome(store, "r"), tmp_path / "r.html").read_text()
    ids = re.findall(r'<details class="run" id="([^"]+)"', page)
    shown = [run_anchor(base.task, base.model, k) for k in [*range(DETAILED_FIRST), *failing]]
    assert sorted(ids) == sorted(shown)  # passed runs past the first are left to the viewer
    assert (
        f"58 more runs are not detailed here: the page details the first {DETAILED_FIRST}" in page
    )
    assert "<code>bakeoff view</code> shows every run" in page
