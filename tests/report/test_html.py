"""The HTML report's page source: self-contained, escaped, one id per run, and charts whose
axes and frontier are right for what the field costs. The browser tests show it working."""

from __future__ import annotations

import re
from pathlib import Path

from bakeoff.evals.records import BakeoffSpec, BakeoffSummary, TrialRecord, UnrankedModel
from bakeoff.report.charts import Point, choose_axis, pareto_frontier
from bakeoff.report.html import render_html, run_anchor, write_html


def test_page_is_self_contained(
    tmp_path: Path, summary: BakeoffSummary, records: list[TrialRecord]
) -> None:
    page = write_html(summary, records, tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    urls = re.findall(r"(?:src|href)\s*=\s*[\"']([^\"'#][^\"']*)", page)
    assert urls == []  # no stylesheet, script, font or image is fetched
    assert re.findall(r"https?://[^\s\"'<]+", page) == ["http://www.w3.org/2000/svg"] * 2
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "<style>" in page and ".grade-A" in page and "openRun" in page


def test_record_text_is_escaped(summary: BakeoffSummary, records: list[TrialRecord]) -> None:
    page = render_html(summary, records)
    assert "<script>window.__pwned" not in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert "&lt;/pre&gt;&lt;i&gt;not markup&lt;/i&gt;" in page  # a judge's rationale
    assert "&lt;sum&gt; &amp; done" in page  # the diff
    assert page.count("<script>") == 1  # the report's own script only


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
