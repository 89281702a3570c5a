"""The bake-off summary in the terminal: what a user reads after `bakeoff run`."""

from __future__ import annotations

import re

from rich.console import Console

from bakeoff.evals.records import BakeoffSummary
from bakeoff.report.terminal import print_summary


def _render(summary: BakeoffSummary, width: int = 120) -> str:
    console = Console(record=True, width=width, force_terminal=False, color_system=None)
    print_summary(summary, console=console)
    return console.export_text()


def test_models_are_listed_in_rank_order_with_letters(summary: BakeoffSummary) -> None:
    text = _render(summary)
    rows = [line.split() for line in text.splitlines() if re.match(r"\s*\d+\s+\S+:", line)]
    assert [(r[0], r[1]) for r in rows] == [
        (str(i), m.model) for i, m in enumerate(summary.ranking, 1)
    ]
    for m in summary.ranking:
        row = next(line for line in text.splitlines() if m.model in line and "%" in line)
        assert f" {m.grade} {m.overall:.2f}" in row
    assert "93%" in text and "83–99%" in text  # quality with its interval
    assert "6/6 100%" in text  # passed/checked
    assert "49.5 s" in text


def test_unknown_cost_is_shown_as_unknown_never_zero(summary: BakeoffSummary) -> None:
    text = _render(summary)
    haiku = next(
        line for line in text.splitlines() if "anthropic:claude-haiku-4-5" in line and "%" in line
    )
    assert "unknown" in haiku
    assert "$0 " not in haiku and not haiku.rstrip().endswith("$0")
    local = next(
        line for line in text.splitlines() if "local:qwen2.5-coder-0.5b" in line and "%" in line
    )
    assert "$0" in local


def test_recommendation_pairwise_judges_and_weights(summary: BakeoffSummary) -> None:
    text = _render(summary)
    assert "Best quality: openai:gpt-5" in text
    assert "Best value: openai:gpt-5-mini" in text
    assert "Fastest acceptable: anthropic:claude-haiku-4-5" in text
    assert "Best local: local:qwen2.5-coder-0.5b — not good enough yet" in text
    assert "Cheapest for implement: openai:gpt-5-mini" in text
    assert "Cheapest for refactor: no model reaches quality 70%" in text
    assert "openai:gpt-5 and openai:gpt-5-mini cannot be told apart" in text
    assert "openai:gpt-5 (A) ≈ openai:gpt-5-mini (A) ›" in text
    assert "judging cost $0.0480" in text
    assert (
        "Weights: quality = 60% checks + 40% judges; overall = 60% quality + 20% speed + "
        "20% cost; acceptable quality ≥ 70%"
    ) in text


def test_narrow_terminal_still_renders(summary: BakeoffSummary) -> None:
    text = _render(summary, width=80)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "Best quality" in text
    assert "unknown" in text


def test_markup_like_text_is_printed_literally(summary: BakeoffSummary) -> None:
    summary.notes.append("[bold]not a style[/bold] and [red]")
    assert "[bold]not a style[/bold] and [red]" in _render(summary)
