"""Terminal output with rich: one agent run, the model list, the runs of a bake-off and its
comparison table. Everything goes to stdout through one Console so `--json` modes stay clean.
Text from a run (answers, errors, names) is model output: it passes through the redaction filter
(`bakeoff.redact`) and is printed as plain text (`Text`, or escaped), never read as rich markup,
and no console reads emoji codes (`make_console`): `ollama:ok:latest` prints as typed. Token
counts go through `bakeoff.report.tokens`: a count a server did not report is never shown as 0.
The comparison table fits 80 columns: names and notes wrap, numbers never do. The words and
numbers in its cells and lines come from `bakeoff.report.text`, shared with the other reports."""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape as esc
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bakeoff.evals.store.records import TrialRecord
from bakeoff.evals.store.summary_records import BakeoffSummary, ModelSummary
from bakeoff.evals.verdict.outcomes import internal_errors_line, refused_calls, trial_outcome
from bakeoff.evals.verdict.trial_quality import injected
from bakeoff.redact import redact_model
from bakeoff.report.text import (
    COST_LEGEND,
    OUTCOME_LEGEND,
    bands_line,
    fmt_ci,
    fmt_cost,
    fmt_cost_per_solved,
    fmt_cost_source,
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
from bakeoff.report.tokens import TOKENS_LEGEND, fmt_in_out, usage_text
from bakeoff.report.verdicts import (
    matrices,
    matrix_caption,
    matrix_table,
    method_lines,
    ranking_text,
)
from bakeoff.types import AgentResult


def _piped_width() -> int:
    """Piped output (CI logs, `| tee`) gets a wide table rather than rich's 80-column default,
    unless $COLUMNS says how wide the reader is."""
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else 120


def make_console(**options: Any) -> Console:
    """A Console for bakeoff's output (`options` as rich's): no emoji codes and no highlighting,
    since model ids and answers hold `:ok:` or `:free:` (`ollama:ok:latest`) that Rich would
    otherwise print as emoji. User strings still go in as `Text` or escaped: markup stays on
    for our own styles."""
    return Console(emoji=False, highlight=False, **options)


console = make_console(width=None if sys.stdout.isatty() else _piped_width())


def print_agent_result(r: AgentResult) -> None:
    r = redact_model(r)
    refused = refused_calls(r)
    state = r.stop_reason if not r.ok else "ok" if not refused else "done"
    title = Text(f"{r.model} — {state}")
    answer = Text(r.answer) if r.answer else Text("(no answer)", style="dim")
    console.print(Panel(answer, title=title, expand=False))
    if r.error:
        console.print(Text.assemble(("error:", "red"), " ", r.error))
    ttfts = [q.ttft_s for q in r.requests if q.ttft_s is not None]
    tps = [q.output_tps for q in r.requests if q.output_tps]
    if refused:  # e.g. an edit of a file it had not read: the answer may claim more
        console.print(
            Text(f"{refused} tool call{'s' if refused != 1 else ''} refused or failed; check the "
                 "answer against the files", style="yellow")
        )  # fmt: skip
    console.print(
        f"turns {r.turns} · tool calls {r.tool_calls} · {usage_text(r.usage)} · "
        f"cost {fmt_cost(r.cost_usd)}"
    )
    line = (
        f"time {r.duration_s:.2f} s (model {r.model_time_s:.2f} s, tools {r.tool_time_s:.3f} s, "
        f"waiting {r.wait_time_s:.2f} s)"
    )
    if r.warmup_s:
        line += f" · model load {r.warmup_s:.1f} s"
    if ttfts:
        line += f" · median TTFT {statistics.median(ttfts):.2f} s"
    if tps:
        line += f" · {statistics.median(tps):.1f} tok/s"
    console.print(line)


def print_models(infos: Sequence[Any]) -> None:
    """The model table. Ids are never cut (the other columns wrap instead); why a model cannot
    be used now goes below the table, one numbered note per distinct reason, so a long install
    hint is printed whole at any width."""
    table = Table(title="Models", box=box.SIMPLE_HEAD if console.width < 100 else box.HEAVY_HEAD)
    for col in ("id", "aliases", "price in/out per Mtok", "usable now"):
        table.add_column(col, overflow="fold", no_wrap=col == "id")
    reasons: dict[str, int] = {}
    for i in infos:
        price = i.price
        price_text = (
            f"${price.input:g} / ${price.output:g}"
            if price is not None
            else ("$0 (local)" if getattr(i, "local", False) else "unknown")
        )
        usable = Text("yes", style="green")
        if not i.usable:
            n = reasons.setdefault(str(i.why_not), len(reasons) + 1)
            usable = Text.assemble(("no", "yellow"), f" [{n}]")
        table.add_row(Text(i.id), Text(", ".join(i.aliases)), price_text, usable)
    console.print(table)
    for why, n in reasons.items():
        console.print(Text(f"[{n}] {why}"))


# ---- bake-off summary ---------------------------------------------------------------------------

LETTER_STYLES = {
    "S": "bold magenta",
    "A": "bold green",
    "B": "green",
    "C": "yellow",
    "D": "dark_orange",
    "F": "bold red",
}


def print_summary(summary: BakeoffSummary, console: Console = console) -> None:
    """The bake-off comparison table (each model's timeouts and errors under its name, and the
    models not ranked for want of a valid trial), the ranking with its letter groups and how the
    tests were made, the recommendation, one paired-test matrix per metric, judging, weights
    and bands.
    Below 118 columns the token and cost-per-solved columns are left out to keep rows whole."""
    summary = redact_model(summary)
    wide = console.width >= 118
    table = Table(
        title=Text(f"Bake-off {summary.run_id}"),
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    columns = [
        ("#", "right"),
        ("model", "left"),
        ("solved", "right"),
        ("quality", "right"),
        ("judge /10", "right"),
        ("median", "right"),
    ]
    columns += [("tokens in/out", "right")] if wide else []
    columns += [("cost", "right")] + ([("$/solved", "right")] if wide else []) + [("grade", "left")]
    for col, justify in columns:
        # Numbers never wrap (a folded "$0.02|46" misleads): names and notes take the squeeze.
        table.add_column(col, justify=justify, overflow="fold", no_wrap=justify == "right")  # type: ignore[arg-type]
    ranked = any(m.quality.value is not None for m in summary.ranking)
    for rank, m in enumerate(summary.ranking, 1):
        name = Text(m.model, style="bold")
        marks = (["local"] if m.local else []) + (
            ["† own-family judge"] if m.same_family_judges else []
        )
        if marks:
            name.append("\n" + " · ".join(marks), style="cyan")
        name.append(_outcome_marks(m))
        cost = Text(fmt_cost(m.cost_usd), style="yellow" if m.cost_usd is None else "")
        if source := fmt_cost_source(m):
            cost.append(f"\n{source}", style="dim")
        letter = Text(m.grade, style=LETTER_STYLES.get(m.grade, ""))
        if m.withheld:
            letter.append("\nnot enough graded trials", style="yellow")
        elif m.overall is not None:
            letter.append(f" {m.overall:.2f}", style="dim")
        if m.partial_credit_grade != "-":
            letter.append(f"\n{m.partial_credit_grade} by partial credit", style="yellow")
        judge = "–" if m.judge_score.value is None else f"{m.judge_score.value:.1f}"
        row: list[str | Text] = [
            str(rank) if ranked and m.quality.value is not None else "–",
            name,
            _with_ci(fmt_pass(m), fmt_ci(m.pass_rate, pct=True) if m.checked else ""),
            _with_ci(fmt_pct(m.quality.value), fmt_ci(m.quality, pct=True)),
            _with_ci(judge, fmt_ci(m.judge_score, pct=False)),
            fmt_seconds(m.median_s),
        ]
        if wide:
            row.append(fmt_in_out(m.usage))
        row.append(cost)
        if wide:
            row.append(fmt_cost_per_solved(m))
        row.append(letter)
        table.add_row(*row)
    console.print(table)
    console.print("[dim]second line of a cell: 95% confidence interval[/dim]")
    console.print(Text(solved_legend(summary.spec.weights), style="dim"))
    console.print(Text(COST_LEGEND, style="dim"))
    if any(m.timeouts or m.errors or m.missing or m.injections for m in summary.ranking):
        console.print(f"[dim]{OUTCOME_LEGEND}[/dim]")
    if wide and not all(m.usage.known for m in summary.ranking):
        console.print(Text(TOKENS_LEGEND, style="dim"))
    for line in unranked_lines(summary):
        console.print(Text(line, style="red"))
    if internal := internal_errors_line(summary):
        console.print(Text(internal, style="bold red"))
    if any(m.same_family_judges for m in summary.ranking):
        console.print(
            "[yellow]†[/yellow] [dim]judged by a model of its own family; read its judge score with care[/dim]"
        )
    if summary.ranking and not ranked:
        names = ", ".join(m.model for m in summary.ranking)
        console.print(Text.assemble(("Not ranked (nothing graded), alphabetical: ", "bold"), names))
    elif summary.ranking:
        console.print(Text.assemble(("Ranking: ", "bold"), ranking_text(summary)))
        for line in method_lines(summary):
            console.print(Text(line, style="dim"))
    console.print()
    console.print("[bold]Recommendation[/bold]")
    for label, text in recommendation_lines(summary):
        console.print(
            Text.assemble(f"  {label}: ", (text, "bold"))
            if label != "Note"
            else Text(f"  {text}", style="dim")
        )
    for matrix in matrices(summary):
        console.print(Text(f"Paired tests — {matrix_caption(matrix)}", style="bold"))
        console.print(matrix_table(matrix))
    judging = judging_line(summary.judging)
    if judging:
        console.print(Text(judging))
    for line in judge_lines(summary.judges):
        console.print(Text(line, style="yellow" if "UNCOUNTED" in line else ""))
    for judge, contestants in summary.judging.same_family.items():
        console.print(
            Text(f"{judge} judged its own family: {', '.join(contestants)}", style="yellow")
        )
    if summary.missing:
        console.print(
            f"[yellow]{summary.missing} planned run(s) missing (interrupted or over budget); resume to finish them[/yellow]"
        )
    for note in summary.notes:
        console.print(Text(note, style="dim"))
    console.print(Text(weights_line(summary.spec.weights), style="dim"))
    console.print(Text(bands_line(summary.spec.weights), style="dim"))


def _outcome_marks(m: ModelSummary) -> Text:
    """'2 timeouts · 1 error · incomplete (1 missing) · 1 judge-injection' under a model's
    name (nothing when none applies): the counts sit in its row without a column that would be
    empty in most runs."""
    parts = [
        Text(f"{n} {word}{'s' if n != 1 else ''}", style=style)
        for n, word, style in (
            (m.timeouts, "timeout", "yellow"),
            (m.errors, "error", "red"),
            (m.injections, "judge-injection", "red"),
        )
        if n
    ]
    if m.missing:
        parts.append(Text(f"incomplete ({m.missing} of {m.planned} missing)", style="red"))
    return Text("\n").join([Text(""), Text(" · ").join(parts)]) if parts else Text("")


def _with_ci(value: str, ci: str) -> Text:
    # The interval goes on its own dim line so the table stays narrow enough for 80 columns.
    text = Text(value)
    if ci:
        text.append(f"\n{ci}", style="dim")
    return text


def print_trials(records: Sequence[TrialRecord], console: Console = console) -> None:
    """One line per run: task, model, check result, turns, tokens, time and the answer's start
    (and the tokens legend when a count is a lower bound or unknown)."""
    table = Table(title="Runs", box=box.SIMPLE_HEAD, show_edge=False, title_style="bold")
    for col in ("task", "model", "check", "turns", "tokens in/out", "time", "answer"):
        table.add_column(
            col,
            overflow="fold" if col == "model" else "ellipsis",
            no_wrap=col == "answer",
            min_width=22 if col == "task" else None,
        )
    for r in sorted((redact_model(r) for r in records), key=lambda r: (r.task, r.model, r.repeat)):
        outcome = trial_outcome(r)
        check: str = (
            outcome
            if outcome in ("done", "no change")
            else "–"
            if r.passed is None
            else "[green]pass[/green]"
            if r.passed
            else "[red]fail[/red]"
        )
        if injected(r):
            check += " [red]judge-injection[/red]"
        answer = " ".join(r.agent.answer.split())[:60] or "(no answer)"
        if r.status == "error":  # the infrastructure's failure, not the model's: say which
            check = "[red]error[/red]"
            answer = " ".join((r.agent.error or r.agent.stop_reason).split())[:60]
        elif r.status == "timeout":
            check += f" [yellow](timeout: {esc(r.agent.stop_reason)})[/yellow]"
        table.add_row(
            esc(r.task),
            Text(r.model),
            check,
            str(r.agent.turns),
            fmt_in_out(r.agent.usage),
            fmt_seconds(r.agent.duration_s),
            esc(answer),
        )
    console.print(table)
    if not all(r.agent.usage.known for r in records):
        console.print(Text(TOKENS_LEGEND, style="dim"))
