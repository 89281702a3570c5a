"""Tokens a server did not report are shown as unknown in every report, never as 0: a partial
count is a lower bound ("≥", with a legend), none at all is "unknown" (null in JSON, an empty
CSV cell). The report fixture's records get usage that some or no request reported."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bakeoff.evals.store.records import TrialRecord
from bakeoff.evals.store.summary_records import BakeoffSummary
from bakeoff.report.export import records_public, write_csv
from bakeoff.report.html import render_html
from bakeoff.report.progress import AgentProgress
from bakeoff.report.terminal import print_agent_result, print_summary, print_trials
from bakeoff.types import AgentResult, Message, Usage


def _with_usage(records: list[TrialRecord], model: str, usage: Usage) -> list[TrialRecord]:
    return [
        r.model_copy(update={"agent": r.agent.model_copy(update={"usage": usage})})
        if r.model == model
        else r
        for r in records
    ]


GPT5 = "openai:gpt-5"
MINI = "openai:gpt-5-mini"


@pytest.fixture
def unreported(
    summary: BakeoffSummary, records: list[TrialRecord]
) -> tuple[BakeoffSummary, list[TrialRecord]]:
    """The report fixture with gpt-5's usage partly reported and gpt-5-mini's not at all."""
    records = _with_usage(records, GPT5, Usage(input_tokens=1500, output_tokens=40, unreported=1))
    records = _with_usage(records, MINI, Usage(output_tokens=7, unreported=2))
    for m in summary.ranking:
        if m.model == GPT5:
            m.usage = Usage(input_tokens=9000, output_tokens=240, unreported=6)
        elif m.model == MINI:
            m.usage = Usage(output_tokens=42, unreported=12)
    return summary, records


def _text(draw: Any, *args: Any) -> str:
    console = Console(width=160, record=True, color_system=None)
    draw(*args, console=console)
    return console.export_text()


def _line(text: str, model: str) -> str:
    return next(line for line in text.splitlines() if model in line)


def test_terminal_tables_show_lower_bounds_and_unknown(
    unreported: tuple[BakeoffSummary, list[TrialRecord]],
) -> None:
    summary, records = unreported
    table = _text(print_summary, summary)
    assert "≥9.0k / ≥240" in _line(table, GPT5)
    assert "unknown" in _line(table, f"{MINI} ")
    assert "lower bound" in table  # the legend says what ≥ means
    runs = _text(print_trials, records)
    assert "≥1.5k / ≥40" in _line(runs, GPT5) and "unknown" in _line(runs, MINI)
    assert " 0 / " not in _line(runs, MINI)


def test_html_and_exports_never_turn_unknown_into_zero(
    tmp_path: Path, unreported: tuple[BakeoffSummary, list[TrialRecord]]
) -> None:
    summary, records = unreported
    page = render_html(summary, records)
    assert "≥9.0k / ≥240" in page and "6 request(s) without token usage" in page
    assert "tokens in ≥1500 (cached ≥0) out ≥40" in page  # a run's details
    assert "tokens unknown (2 requests without usage reported)" in page
    assert ": passed · tokens ≥1.5k / ≥40" in page  # a grid mark's hover text
    with write_csv(records, tmp_path / "r.csv").open(newline="", encoding="utf-8") as f:
        rows = {(r["model"], r["repeat"], r["task"]): r for r in csv.DictReader(f)}
    mini = next(r for k, r in rows.items() if k[0] == MINI)
    assert (mini["input_tokens"], mini["output_tokens"], mini["unreported_requests"]) == (
        "",
        "",
        "2",
    )
    gpt5 = next(r for k, r in rows.items() if k[0] == GPT5)
    assert (gpt5["input_tokens"], gpt5["unreported_requests"]) == ("1500", "1")
    public = {p["model"]: p["usage"] for p in records_public(records)}
    assert public[MINI]["input_tokens"] is None and public[MINI]["unreported"] == 2
    assert "unreported" not in public["local:qwen2.5-coder-0.5b"]


def test_one_agent_run_says_which_counts_are_bounds_or_unknown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    reply = Message(role="assistant", content="done")
    partly = AgentResult(
        ok=True,
        answer="done",
        model="openai:gpt-5",
        provider="openai",
        stop_reason="completed",
        turns=2,
        usage=Usage(input_tokens=1500, output_tokens=49, unreported=1),
        cost_usd=None,
        transcript=[reply],
    )
    stream = io.StringIO()
    AgentProgress(stream)(partly)
    assert "≥1549 tokens" in stream.getvalue()  # the live line of `bakeoff agent`
    print_agent_result(partly)
    out = " ".join(capsys.readouterr().out.split())  # as read, whatever the terminal's width
    assert "tokens in ≥1500" in out and "1 request without usage reported" in out
    assert "cost unknown" in out
    silent = partly.model_copy(update={"usage": Usage(output_tokens=9, unreported=2)})
    print_agent_result(silent)
    out = " ".join(capsys.readouterr().out.split())
    assert "tokens unknown (2 requests without usage reported)" in out
