"""The live progress board of a bake-off in the terminal: per model, trials done, running and
failed, elapsed time and spend so far, redrawn as trials start and finish (rich Live)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bakeoff.evals.records import TrialRecord
from bakeoff.evals.runner import Observer
from bakeoff.report.terminal import fmt_cost


class LiveBoard(Observer):
    """An Observer that draws itself; use as a context manager around the run."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.rows: dict[str, dict[str, Any]] = {}
        self.t0 = time.perf_counter()
        self.bar = Progress(
            TextColumn("[bold]bake-off"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
        )
        self.task_id = self.bar.add_task("trials", total=1)
        self.shown = False
        self.live = Live(
            self._render(), console=self.console, refresh_per_second=4, transient=False
        )

    def __enter__(self) -> LiveBoard:
        # The board shows once the run is planned, so a run that its preflight stops prints
        # nothing but the reason.
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.shown:
            return
        self.live.update(self._render())
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
            table.add_column(col, justify="left" if col == "model" else "right")
        for model, r in self.rows.items():
            spend = "unknown" if r["unknown"] else fmt_cost(r["cost"])
            failed = f"[red]{r['failed']}[/red]" if r["failed"] else "0"
            table.add_row(model, str(r["done"]), str(r["running"]), failed, spend)
        return Group(self.bar, table)

    def _refresh(self) -> None:
        self.live.update(self._render())

    def planned(self, total: int, done: int, models: Sequence[str]) -> None:
        if not self.shown:
            self.live.__enter__()
            self.shown = True
        for m in models:
            self._row(m)
        self.bar.update(self.task_id, total=total, completed=done)
        self._refresh()

    def started(self, task: str, model: str, repeat: int) -> None:
        self._row(model)["running"] += 1
        self._refresh()

    def finished(self, record: TrialRecord) -> None:
        row = self._row(record.model)
        row["running"] -= 1
        row["done"] += 1
        if record.status != "passed":  # failed, out of time, or an error
            row["failed"] += 1
        if record.agent.cost_usd is None:
            row["unknown"] = True
        else:
            row["cost"] += record.agent.cost_usd
        self.bar.advance(self.task_id)
        self._refresh()

    def skipped(self, task: str, model: str, repeat: int, reason: str) -> None:
        self._row(model)["skipped"] += 1
        self._refresh()
