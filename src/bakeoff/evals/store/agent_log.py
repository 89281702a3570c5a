"""The log of single nano-agent runs: every `bakeoff agent` run and every MCP
`prompt_nano_agent` call is kept, like `llm logs`, in a `logs` table of the results store's
SQLite file (the same file, opened the same careful way: `store_file.open_store`). An entry
(`AgentLogEntry`) holds the prompt, the model as shown, where it came from (`LogSource`), the
workspace, the time it started and the whole `AgentResult` (answer, transcript, usage, cost,
outcome, duration). Everything passes the redaction filter on its way in and is made storable
(a lone surrogate becomes U+FFFD; a NUL is kept), so no key and no byte a contestant sent can
fail a write. Logging is opt-out: `--no-log` on `bakeoff agent` and `bakeoff mcp`, or
`$BAKEOFF_NO_LOG` set to anything but `0` or empty (`logging_disabled`). A log that cannot be
written never fails the run it records: the callers say so in one line and go on."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bakeoff.evals.store.store_file import open_store, read_only_error, storable, store_errors
from bakeoff.redact import redact_model
from bakeoff.types import AgentResult

__all__ = [
    "NO_LOG_ENV",
    "AgentLog",
    "AgentLogEntry",
    "LogSource",
    "LoggedRun",
    "logging_disabled",
]

NO_LOG_ENV = "BAKEOFF_NO_LOG"
"""Set to anything but `0` or empty: no agent run or MCP call is logged."""

LogSource = Literal["agent", "mcp"]
"""Who ran the agent: `bakeoff agent`, or an MCP client's `prompt_nano_agent` call."""

PROMPT_PREVIEW = 200
"""Characters of the prompt kept in the listing's own column."""


def logging_disabled(no_log: bool = False) -> bool:
    """Whether agent runs go unlogged: `no_log` (a `--no-log` flag) or `$BAKEOFF_NO_LOG`."""
    return no_log or os.environ.get(NO_LOG_ENV, "").strip() not in ("", "0")


class AgentLogEntry(BaseModel):
    """One logged nano-agent run, as stored and as `bakeoff logs ID --json` prints it."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    """Its number in the log (None until stored)."""
    started_at: float
    """When the run started (Unix time)."""
    source: LogSource
    prompt: str
    model: str
    """The model as the user named it (an alias stays an alias; `script:NAME`)."""
    workspace: str
    """The folder the agent worked in."""
    result: AgentResult
    """Everything the run produced: answer, transcript, usage, cost, outcome, timings."""

    def public(self) -> dict[str, object]:
        """The `agent --json` object plus id, time, source, prompt and workspace."""
        return {
            "id": self.id,
            "started_at": self.started_at,
            "source": self.source,
            "prompt": self.prompt,
            "workspace": self.workspace,
            **self.result.to_public(),
            "model": self.model,
            "stop_reason": self.result.stop_reason,
        }


class LoggedRun(BaseModel):
    """One line of `bakeoff logs`: the facts of an entry, without its transcript."""

    id: int
    started_at: float
    source: LogSource
    model: str
    ok: bool
    stop_reason: str
    duration_s: float
    cost_usd: float | None
    prompt: str
    """The prompt's first `PROMPT_PREVIEW` characters."""


class AgentLog:
    """The `logs` table of the results store at `path`. Thread-safe; every method raises a
    one-line `StoreError` (the file, what to do) when the file fails it."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        # Every table of the store (`evals/store/migrations.py`), so the file is a whole store.
        self._db, self.read_only = open_store(self.path)
        # A read-only store from before the log existed has no table to read: nothing logged.
        self._has_table = self._has_logs()

    def _guard(self, doing: str) -> AbstractContextManager[None]:
        return store_errors(self.path, doing)

    def _has_logs(self) -> bool:
        query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'logs'"
        return self._db.execute(query).fetchone() is not None

    def close(self) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):  # nothing left to lose
            self._db.close()

    def __enter__(self) -> AgentLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, entry: AgentLogEntry) -> int:
        """Store `entry` (redacted, made storable) and return its id."""
        clean, _ = storable(entry)
        clean = redact_model(clean)
        if self.read_only:
            raise read_only_error(self.path)
        r = clean.result
        with self._lock, self._guard("write an agent run to"):
            cursor = self._db.execute(
                "INSERT INTO logs (started_at, source, model, ok, stop_reason, duration_s, "
                "cost_usd, prompt, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    clean.started_at,
                    clean.source,
                    clean.model,
                    int(r.ok),
                    r.stop_reason,
                    r.duration_s,
                    r.cost_usd,
                    clean.prompt[:PROMPT_PREVIEW],
                    clean.model_dump_json(exclude={"id"}),
                ),
            )
        return int(cursor.lastrowid or 0)

    def recent(self, limit: int | None = 20, model: str | None = None) -> list[LoggedRun]:
        """The newest `limit` entries (all when None), newest first; of `model` only when
        given (as it was shown: an alias, or `script:NAME`)."""
        if not self._has_table:
            return []
        where, args = ("WHERE model = ?", [model]) if model is not None else ("", [])
        query = (
            "SELECT id, started_at, source, model, ok, stop_reason, duration_s, cost_usd, prompt "
            f"FROM logs {where} ORDER BY id DESC LIMIT ?"
        )
        with self._lock, self._guard("list the agent runs of"):
            rows = self._db.execute(query, (*args, -1 if limit is None else limit)).fetchall()
            return [
                LoggedRun(
                    id=i,
                    started_at=at,
                    source=src,
                    model=m,
                    ok=bool(ok),
                    stop_reason=stop,
                    duration_s=d,
                    cost_usd=c,
                    prompt=p,
                )
                for i, at, src, m, ok, stop, d, c, p in rows
            ]

    def get(self, entry_id: int) -> AgentLogEntry | None:
        """The whole entry `entry_id`, or None when there is none."""
        if not self._has_table:
            return None
        with self._lock, self._guard("read an agent run from"):
            row = self._db.execute("SELECT record FROM logs WHERE id = ?", (entry_id,)).fetchone()
            if row is None:
                return None
            return AgentLogEntry.model_validate_json(row[0]).model_copy(update={"id": entry_id})


def log_run(path: Path | str, entry: AgentLogEntry) -> int:
    """Store `entry` in the agent log of the results store at `path`; its id. Raises a
    `StoreError` when the file fails."""
    with AgentLog(path) as log:
        return log.add(entry)
