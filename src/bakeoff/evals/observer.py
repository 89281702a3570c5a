"""What a running bake-off tells whoever watches it (the CLI's live board and trial lines): the
protocol the runner calls and the report implements, so the report never imports the runner.
(The MCP server follows a bake-off through `bake`'s `on_progress` callback instead.)"""

from __future__ import annotations

from collections.abc import Sequence

from bakeoff.evals.store.records import TrialRecord
from bakeoff.types import AgentResult


class Observer:
    """Receives progress; the CLI's live board and trial lines subclass it. Models are
    named as every report names them (evals/verdict/model_names.py); `turn` comes after each model
    reply of a running trial with the agent's result so far (turns, usage, duration; the
    local executor only); `finished` comes once the trial is in the store."""

    def planned(self, total: int, done: int, models: Sequence[str]) -> None: ...
    def started(self, task: str, model: str, repeat: int) -> None: ...
    def turn(self, task: str, model: str, repeat: int, result: AgentResult) -> None: ...
    def finished(self, record: TrialRecord) -> None: ...
    def skipped(self, task: str, model: str, repeat: int, reason: str) -> None: ...
