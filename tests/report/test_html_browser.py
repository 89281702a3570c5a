"""The HTML report as a user sees it: opened from disk in headless Chromium (Debian's, never a
downloaded one), offline, with the page's own JavaScript and the inlined plotly.js running, at
desktop (1280 px) and phone (390 px) widths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bakeoff.evals.store.records import TrialRecord
from bakeoff.evals.store.summary_records import BakeoffSummary
from bakeoff.report.html import run_anchor, write_html

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Opened:
    def __init__(self, page: Any, requests: list[str], errors: list[str]) -> None:
        self.page, self.requests, self.errors = page, requests, errors


def open_report(browser: Any, path: Path, width: int) -> tuple[Any, Opened]:
    context = browser.new_context(viewport={"width": width, "height": 900}, has_touch=width < 600)
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Generous limits: the page carries 4.8 MB of plotly.js and the test machine may be busy.
    page.set_default_timeout(90_000)
    page.goto(path.as_uri(), wait_until="domcontentloaded")
    page.wait_for_selector("html[data-charts=ready]")
    page.set_default_timeout(30_000)
    return context, Opened(page, requests, errors)


@pytest.fixture
def opened(
    browser: Any, tmp_path: Path, summary: BakeoffSummary, records: list[TrialRecord]
) -> Iterator[Opened]:
    context, report = open_report(browser, write_html(summary, records, tmp_path / "r.html"), 1280)
    yield report
    context.close()


@pytest.fixture(scope="module", params=[1280, 390], ids=["desktop", "phone"])
def wide(request: pytest.FixtureRequest, browser: Any, wide_report: Path) -> Iterator[Opened]:
    """The nine-model report at a desktop and a phone width, opened once for all its tests
    (none of them changes what another one looks at)."""
    context, report = open_report(browser, wide_report, request.param)
    yield report
    context.close()


def chart_traces(page: Any, chart: str) -> list[dict[str, Any]]:
    """What Plotly drew: each trace's name, model and number of points."""
    traces: list[dict[str, Any]] = page.evaluate(
        f"""document.getElementById("{chart}").data.map(t => ({{
            name: t.name, model: t.meta || null, points: t.x.length }}))"""
    )
    return traces


def test_page_shows_every_model_in_rank_order(opened: Opened, summary: BakeoffSummary) -> None:
    page = opened.page
    assert summary.run_id in page.title()
    rows = page.locator("#comparison tbody tr")
    assert rows.count() == len(summary.ranking)
    assert [rows.nth(i).get_attribute("data-model") for i in range(rows.count())] == [
        m.model for m in summary.ranking
    ]
    assert "unknown" in rows.nth(2).inner_text()  # the model without a price
    assert page.locator("#recommendation").is_visible()
    assert opened.errors == []


def test_charts_plot_each_model_with_a_frontier(opened: Opened) -> None:
    page = opened.page
    # The model with an unknown price cannot be placed on the cost chart; the note says so.
    for chart, models in (("chart-cost", 3), ("chart-time", 4)):
        traces = chart_traces(page, chart)
        assert len([t for t in traces if t["model"]]) == models
        assert [t["points"] for t in traces if t["name"] == "Pareto frontier"] == [3]
        assert page.locator(f"#{chart} .legend .traces").count() == models + 1
        assert page.locator(f"#{chart} .scatterlayer .point").count() == models
        assert page.locator(f"#{chart}").is_visible()
    cost_figure = page.locator("figure", has=page.locator("#chart-cost")).inner_text()
    assert "anthropic:claude-haiku-4-5" in cost_figure
    assert "unknown price" in cost_figure


def test_grid_has_a_cell_per_task_and_model(opened: Opened, summary: BakeoffSummary) -> None:
    cells = opened.page.locator("#grid td.cell")
    assert cells.count() == len(summary.spec.task_names) * len(summary.ranking)
    assert opened.page.locator("#grid td.cell a.mark.pass").count() > 0
    assert opened.page.locator("#grid td.cell a.mark.fail").count() > 0


def test_clicking_a_grid_cell_opens_the_run_transcript(opened: Opened) -> None:
    page = opened.page
    anchor = run_anchor("rename-api", "local:qwen2.5-coder-0.5b", 1)
    run = page.locator(f"details#{anchor}")
    tool_call = run.locator(".toolcall", has_text="write_file")
    assert not tool_call.is_visible()
    page.locator(f'#grid td.cell[data-run="{anchor}"]').click()
    assert run.evaluate("d => d.open") is True
    assert tool_call.is_visible()
    assert '"path": "calc.py"' in tool_call.inner_text()
    assert run.locator(".msg.tool.error").first.is_visible()  # the refused tool call is flagged
    assert page.evaluate("location.hash") == f"#{anchor}"


def test_clicking_a_repeat_mark_opens_that_repeat(opened: Opened) -> None:
    page = opened.page
    anchor = run_anchor("fix-off-by-one", "openai:gpt-5", 2)
    page.locator(f'#grid a.mark[href="#{anchor}"]').click()
    assert page.locator(f"details#{anchor}").evaluate("d => d.open") is True


def test_clicking_a_run_summary_shows_its_details(opened: Opened) -> None:
    page = opened.page
    run = page.locator(f"details#{run_anchor('add-numbers', 'openai:gpt-5', 1)}")
    run.locator("summary").click()
    assert run.locator(".toolcall", has_text="list_directory").is_visible()
    assert run.locator("pre.diff .add").first.is_visible()
    assert "6 passed" in run.locator("pre.check").inner_text()
    assert "not markup" in run.locator(".judge").inner_text()


def test_script_in_a_model_answer_is_shown_not_run(opened: Opened, tmp_path: Path) -> None:
    page = opened.page
    anchor = run_anchor("add-numbers", "openai:gpt-5-mini", 1)
    page.locator(f'#grid td.cell[data-run="{anchor}"]').click()
    answer = page.locator(f"details#{anchor} pre.answer")
    assert answer.is_visible()
    assert "<script>window.__pwned=1</script>" in answer.inner_text()
    assert page.locator(f"details#{anchor} pre.answer b").count() == 0  # markup stays text
    assert page.evaluate("typeof window.__pwned") == "undefined"
    page.screenshot(path=str(tmp_path / "run-details.png"))


def test_page_makes_no_network_requests(opened: Opened, tmp_path: Path) -> None:
    page = opened.page
    page.locator("[data-toggle-runs=open]").click()
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert opened.requests, "the page itself should have been requested"
    assert all(url.startswith("file://") for url in opened.requests), opened.requests
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_nothing_scrolls_the_page_sideways(wide: Opened) -> None:
    page = wide.page
    page.locator("[data-toggle-runs=open]").click()  # transcripts, diffs and checks too
    width, inner = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width <= inner
    # The summary is read without scrolling at all: every model's grade is on screen.
    grades = page.locator("#comparison .grade")
    assert grades.count() == 9
    for i in range(9):
        box = grades.nth(i).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= inner
    assert wide.errors == []


def test_the_pairwise_matrix_scrolls_inside_its_own_box(wide: Opened) -> None:
    page = wide.page
    matrix = page.locator("#pairwise-quality")
    assert matrix.locator("tbody tr").count() == 8  # 9 models: rows 1..8 against those below
    box = page.locator(".table-wrap", has=matrix)
    inner, outer = box.evaluate("b => [b.scrollWidth, b.clientWidth]")
    viewport = page.evaluate("window.innerWidth")
    assert outer <= viewport
    if viewport < 600:
        assert inner > outer  # too wide for a phone: it scrolls, the page does not


def test_legend_labels_never_overlap(wide: Opened) -> None:
    page = wide.page
    for chart in ("chart-cost", "chart-time"):
        boxes = page.evaluate(
            f"""[...document.querySelectorAll("#{chart} .legend .legendtext")].map(e => {{
                const r = e.getBoundingClientRect();
                return [r.left, r.top, r.right, r.bottom]; }})"""
        )
        assert len(boxes) >= 9
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
                assert apart, (chart, a, b)
        # Inside the chart, and clear of the x axis title above them.
        left, top, right, bottom = page.evaluate(
            f"""(() => {{ const r = document.getElementById("{chart}").getBoundingClientRect();
                return [r.left, r.top, r.right, r.bottom]; }})()"""
        )
        title = page.locator(f"#{chart} .xtitle").bounding_box()
        assert title is not None
        for b in boxes:
            assert left <= b[0] and b[2] <= right + 1 and top <= b[1] and b[3] <= bottom + 1
            assert b[1] >= title["y"] + title["height"]


def test_hovering_a_point_shows_its_numbers(wide: Opened) -> None:
    page = wide.page
    chart = page.locator("#chart-time")
    chart.scroll_into_view_if_needed()
    traces = chart_traces(page, "chart-time")
    index = [t["model"] for t in traces].index("openai:gpt-5")
    point = page.locator("#chart-time .scatterlayer .trace").nth(index).locator(".point")
    box = point.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#chart-time .hoverlayer .hovertext")
    text = page.locator("#chart-time .hoverlayer").text_content() or ""
    assert "openai:gpt-5" in text and "quality 93%" in text and "49.5 s" in text


def test_every_link_on_the_page_has_its_target(wide: Opened) -> None:
    missing = wide.page.evaluate(
        """[...document.querySelectorAll('a[href^="#"], [data-run]')]
            .map(a => a.getAttribute("href")?.slice(1) || a.getAttribute("data-run"))
            .filter(id => !document.getElementById(id))"""
    )
    assert missing == []
    assert wide.page.locator('#grid a[href^="#run-"]').count() == 3 * 9 * 2
