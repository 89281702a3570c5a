"""The bake-off summary in the terminal: what a user reads after `bakeoff run`."""

from __future__ import annotations

import re

from rich.console import Console

from bakeoff.evals.store.summary_records import BakeoffSummary, UnrankedModel
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
    assert " 6/6 " in text and "solved" in text  # passed/checked, the first column
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
    assert "Ranking: 1 openai:gpt-5 A · 2 openai:gpt-5-mini A ·" in text
    assert "Paired tests — Quality, row − column in points (* = significant after Holm)" in text
    assert re.search(r"#1\s+openai:gpt-5\s+\+12\s*$", text, re.MULTILINE)
    assert re.search(r"#2\s+openai:gpt-5-mini\s+\+67\*", text, re.MULTILINE)
    assert "judging cost $0.0480" in text
    assert "overall = quality × (0.6 + 0.2 × speed + 0.2 × cost)" in text
    assert "Bands: speed 1 at ≤ 10.0 s to 0 at ≥ 1000 s median" in text


def test_narrow_terminal_still_renders(summary: BakeoffSummary) -> None:
    text = _render(summary, width=80)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "Best quality" in text
    assert "unknown" in text


def test_markup_like_text_is_printed_literally(summary: BakeoffSummary) -> None:
    summary.notes.append("[bold]not a style[/bold] and [red]")
    assert "[bold]not a style[/bold] and [red]" in _render(summary)


def test_timeouts_errors_and_unranked_models_are_shown(summary: BakeoffSummary) -> None:
    local = summary.ranking[3]
    local.timeouts, local.errors = 1, 2
    summary.unranked.append(
        UnrankedModel(model="ollama:gpt-oss:20b", reason="no server is answering", errors=6)
    )
    text = _render(summary)
    lines = text.splitlines()
    row = next(i for i, line in enumerate(lines) if local.model in line and "%" in line)
    assert "1 timeout · 2 errors" in lines[row + 2]  # under its name and its "local" mark
    assert "timeout" not in text.split(local.model)[0]  # no other model shows any
    assert "Not ranked: ollama:gpt-oss:20b — 6 errors: no server is answering" in text
    assert not re.search(r"^\s*\d+\s+ollama:", text, re.MULTILINE)  # listed, never ranked
    assert "timeouts: trials where the model ran out of its own time" in text
    assert all(len(line) <= 80 for line in _render(summary, width=80).splitlines())
