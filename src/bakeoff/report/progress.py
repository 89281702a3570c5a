"""Signs of life during a bake-off. In a terminal, the live board: per model, trials done,
running and failed and spend so far, and per running trial its task, turn, elapsed time and
tokens ("≥N" or "unknown" where a server did not report them), redrawn as trials start, take
turns and finish (rich Live). Without a terminal (CI, logs, a pipe), `TrialLines` prints one
line per finished trial to stderr as it finishes: task, model, outcome and time.
`progress_observer` picks the one that fits. `AgentProgress` is `bakeoff agent`'s: one line per
model reply, with its tool calls, as it happens."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from bakeoff.evals.observer import Observer
from bakeoff.evals.store.records import TrialRecord
from bakeoff.redact import redact
from bakeoff.report.terminal import make_console
from bakeoff.report.text import fmt_cost, fmt_seconds
from bakeoff.report.tokens import fmt_total
from bakeoff.types import AgentResult, Usage

MAX_RUNNING_ROWS = 12
"""Running trials listed on the board; the rest are counted in one line."""


@dataclass
class _Running:
    task: str
    model: str
    repeat: int
    t0: float = field(default_factory=time.perf_counter)
    turns: int = 0
    usage: Usage = field(default_factory=Usage)


class LiveBoard(Observer):
    """An Observer that draws itself; use as a context manager around the run."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or make_console(stderr=True)
        self.rows: dict[str, dict[str, Any]] = {}
        self.running: dict[tuple[str, str, int], _Running] = {}
        self.bar = Progress(
            TextColumn("[bold]bake-off"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
        )
        self.task_id = self.bar.add_task("trials", total=1)
        self.shown = False
        # get_renderable: each refresh (4 a second) redraws, so elapsed times tick on their own.
        self.live = Live(
            get_renderable=self._render,
            console=self.console,
            refresh_per_second=4,
            transient=False,
        )

    def __enter__(self) -> LiveBoard:
        # The board shows once the run is planned, so a run that its preflight stops prints
        # nothing but the reason.
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.shown:
            return
        self.running.clear()
        self.live.refresh()
        self.live.__exit__(None, None, None)
        if not self.console.is_terminal:
            self.console.print()  # the last frame has no newline of its own when piped

    def _row(self, model: str) -> dict[str, Any]:
        return self.rows.setdefault(
            model,
            {"done": 0, "running": 0, "failed": 0, "skipped": 0, "cost": 0.0, "unknown": False},
        )

    def _render(self) -> Group:
        table = Table(expand=False, box=None, pad_edge=False)
        for col in ("model", "done", "running", "failed", "spend"):
            table.add_column(col, justify="left" if col == "model" else "right", overflow="fold")
        for model, r in list(self.rows.items()):  # a copy: the refresh thread reads it
            spend = "unknown" if r["unknown"] else fmt_cost(r["cost"])
            failed = Text(str(r["failed"]), style="red") if r["failed"] else "0"
            table.add_row(Text(model), str(r["done"]), str(r["running"]), failed, spend)
        parts: list[Any] = [self.bar, table]
        if self.running:
            parts.append(self._running_table())
        return Group(*parts)

    def _running_table(self) -> Table:
        now = time.perf_counter()
        table = Table(expand=False, box=None, pad_edge=False, title_justify="left")
        for col in ("running", "model"):
            table.add_column(col, overflow="fold")
        for col in ("turn", "elapsed", "tokens"):
            table.add_column(col, justify="right")
        shown = sorted(list(self.running.values()), key=lambda r: r.t0)
        for r in shown[:MAX_RUNNING_ROWS]:
            task = r.task if r.repeat == 0 else f"{r.task} #{r.repeat}"
            table.add_row(
                Text(task),
                Text(r.model),
                str(r.turns),
                fmt_seconds(now - r.t0),
                fmt_total(r.usage),
            )
        if len(shown) > MAX_RUNNING_ROWS:
            table.add_row(Text(f"… and {len(shown) - MAX_RUNNING_ROWS} more", style="dim"))
        return table

    def planned(self, total: int, done: int, models: Sequence[str]) -> None:
        if not self.shown:
            self.live.__enter__()
            self.shown = True
        for m in models:
            self._row(m)
        self.bar.update(self.task_id, total=total, completed=done)

    def started(self, task: str, model: str, repeat: int) -> None:
        self._row(model)["running"] += 1
        self.running[(task, model, repeat)] = _Running(task, model, repeat)

    def turn(self, task: str, model: str, repeat: int, result: AgentResult) -> None:
        r = self.running.get((task, model, repeat))
        if r is not None:
            r.turns = result.turns
            r.usage = result.usage

    def finished(self, record: TrialRecord) -> None:
        self.running.pop((record.task, record.model, record.repeat), None)
        row = self._row(record.model)
        row["running"] = max(0, row["running"] - 1)
        row["done"] += 1
        if record.status != "passed":  # failed, out of time, or an error
            row["failed"] += 1
        if record.agent.cost_usd is None:
            row["unknown"] = True
        else:
            row["cost"] += record.agent.cost_usd
        self.bar.advance(self.task_id)

    def skipped(self, task: str, model: str, repeat: int, reason: str) -> None:
        self._row(model)["skipped"] += 1


class TrialLines(Observer):
    """Plain progress for logs: one line per finished trial, written and flushed at once."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.total = 0
        self.done = 0

    def __enter__(self) -> TrialLines:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def _say(self, line: str) -> None:
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):  # the reader went away: the run goes on
            pass

    def planned(self, total: int, done: int, models: Sequence[str]) -> None:
        self.total, self.done = total, done
        self._say(f"bake-off: {total - done} trials to run on {', '.join(models)}")

    def finished(self, record: TrialRecord) -> None:
        self.done += 1
        took = fmt_seconds(record.agent.duration_s)
        task = record.task if record.repeat == 0 else f"{record.task} #{record.repeat}"
        stop = record.agent.stop_reason
        why = "" if stop == "completed" else f" ({stop})"
        self._say(
            f"[{self.done}/{self.total}] {task}  {record.model}  {record.status}{why}  {took}"
        )

    def skipped(self, task: str, model: str, repeat: int, reason: str) -> None:
        self.done += 1
        self._say(f"[{self.done}/{self.total}] {task}  {model}  skipped ({reason})")


class AgentProgress:
    """`bakeoff agent`'s signs of life on stderr: one line per model reply (turn, elapsed time,
    tokens so far) with the tool calls it asked for, printed as they happen. The text is model
    output: redacted, control characters shown as `?`, each argument cut short."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.t0 = time.perf_counter()  # the result's own clock is only set at the end

    @staticmethod
    def _clean(text: str, limit: int) -> str:
        text = "".join(c if c.isprintable() else "?" for c in redact(text))
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def __call__(self, result: AgentResult) -> None:
        reply = result.transcript[-1]
        elapsed = time.perf_counter() - self.t0
        tokens = fmt_total(result.usage, exact=True)
        head = f"turn {result.turns} · {elapsed:.1f} s · {tokens} tokens"
        if reply.tool_calls:
            calls = []
            for call in reply.tool_calls:
                shown = call.arguments.get("path") if isinstance(call.arguments, dict) else None
                arg = json.dumps(call.arguments) if shown is None else str(shown)
                calls.append(f"{self._clean(call.name, 40)}({self._clean(arg, 60)})")
            line = f"{head} → {', '.join(calls)}"
        else:
            line = f"{head} · answered ({len(reply.content)} characters)"
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):
            pass


def progress_observer(console: Console | None = None) -> LiveBoard | TrialLines:
    """The live board when stderr is a terminal, else one line per finished trial."""
    console = console or make_console(stderr=True)
    return LiveBoard(console) if console.is_terminal else TrialLines()
