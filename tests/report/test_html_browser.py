"""The HTML report as a user sees it: opened from disk in headless Chromium (Debian's, never a
downloaded one), offline, with the page's own JavaScript running."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bakeoff.evals.records import BakeoffSummary, TrialRecord
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


@pytest.fixture
def opened(
    browser: Any, tmp_path: Path, summary: BakeoffSummary, records: list[TrialRecord]
) -> Iterator[Opened]:
    path = write_html(summary, records, tmp_path / "report.html")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(path.as_uri())
    yield Opened(page, requests, errors)
    context.close()


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
    assert page.locator("svg#chart-cost .point").count() == 3
    assert page.locator("svg#chart-time .point").count() == 4
    for chart in ("chart-cost", "chart-time"):
        line = page.locator(f"svg#{chart} path.frontier-line")
        assert line.count() == 1
        assert (line.get_attribute("d") or "").count("L") == 2  # three frontier points
        assert page.locator(f"svg#{chart} .point.frontier").count() == 3
        assert page.locator(f"svg#{chart}").is_visible()
    cost_figure = page.locator("figure", has=page.locator("svg#chart-cost")).inner_text()
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
