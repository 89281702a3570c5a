"""Side-by-side terminal views: every model's answer to an ad-hoc prompt (what there is to
compare when no check or judge grades), and `bakeoff compare`'s per-model changes between two
runs. Model output is redacted and printed as plain text, never as rich markup."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bakeoff.evals.store.records import TrialRecord
from bakeoff.evals.verdict.run_compare import ModelChange
from bakeoff.redact import redact_model
from bakeoff.report.terminal import console
from bakeoff.report.text import fmt_cost, fmt_seconds
from bakeoff.report.tokens import TOKENS_LEGEND, fmt_in_out


def _files_changed(diff: str) -> str:
    """`name (+a −d)` per file of a unified diff, one per line."""
    files: dict[str, list[int]] = {}
    current = None
    for line in diff.splitlines():
        if line.startswith("+++ "):
            current = line[4:].removeprefix("b/")
            files[current] = [0, 0]
        elif current is not None and line.startswith("+") and not line.startswith("+++"):
            files[current][0] += 1
        elif current is not None and line.startswith("-") and not line.startswith("---"):
            files[current][1] += 1
    return "\n".join(f"{f} (+{a} −{d})" for f, (a, d) in files.items()) or "–"


def print_answers(records: Sequence[TrialRecord], console: Console = console) -> None:
    """For each ad-hoc (prompt) task: every model's answer, the files it changed, time, tokens
    and cost, side by side — what there is to compare when no check or judge grades."""
    adhoc = sorted({r.task for r in records if r.category == "ad-hoc"})
    for task in adhoc:
        table = Table(title=Text(f"Answers — {task}"), box=box.SIMPLE_HEAD, show_edge=False)
        for col in ("model", "answer", "files changed", "time", "tokens in/out", "cost"):
            table.add_column(col, overflow="fold", ratio=3 if col == "answer" else None)
        rows = sorted((redact_model(r) for r in records if r.task == task), key=lambda r: r.model)
        for r in rows:
            answer = r.agent.answer.strip()
            if len(answer) > 600:
                answer = answer[:599] + "…"
            if r.status == "error" or r.agent.stop_reason != "completed":
                answer = f"[{r.status}: {r.agent.error or r.agent.stop_reason}]\n{answer}".strip()
            table.add_row(
                Text(r.model + (f" #{r.repeat}" if r.repeat else "")),
                Text(answer or "(no answer)"),
                Text(_files_changed(r.diff)),
                fmt_seconds(r.agent.duration_s),
                fmt_in_out(r.agent.usage),
                fmt_cost(r.agent.cost_usd),
            )
        console.print(table)
        if not all(r.agent.usage.known for r in rows):
            console.print(Text(TOKENS_LEGEND, style="dim"))


def _delta(value: float | None, fmt: str, unit: str = "") -> str:
    return "–" if value is None else f"{value:+{fmt}}{unit}"


def print_run_changes(
    run_a: str, run_b: str, changes: Sequence[ModelChange], console: Console = console
) -> None:
    """`bakeoff compare`: one row per model, B minus A, and whether the change is real."""
    table = Table(title=Text(f"{run_a} → {run_b}"), box=box.SIMPLE_HEAD, show_edge=False)
    for col in ("model", "quality", "pass", "median time", "cost/trial", "change"):
        table.add_column(col, overflow="fold", justify="left" if col == "model" else "right")
    for c in changes:
        q = None if c.quality_change is None else 100 * c.quality_change
        p = None if c.pass_rate_change is None else 100 * c.pass_rate_change
        verdict: str = c.change
        if c.p_value is not None:
            verdict += f" (p={c.p_value:.2g}, {c.shared_tasks} tasks)"
        elif not (c.in_a and c.in_b):
            verdict = "only in " + ("A" if c.in_a else "B")
        style = {"better": "green", "worse": "red"}.get(c.change, "")
        table.add_row(
            Text(c.model),
            _delta(q, ".0f", " pts"),
            _delta(p, ".0f", " pts"),
            _delta(c.median_s_change, ".2f", " s"),
            _delta(c.cost_per_trial_change, ".4f", " $"),
            Text(verdict, style=style),
        )
    console.print(table)
    console.print(
        "[dim]B minus A. A change is real when a sign-flip test on per-task quality over the "
        "tasks both runs graded, Holm-corrected across models, gives p < 0.05.[/dim]"
    )
