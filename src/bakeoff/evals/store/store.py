"""The results store: one SQLite file (WAL) holding every bake-off's spec, every finished
trial (and, apart from its record, the files it changed: `evals/store/changes.py`, for `bakeoff
apply`), every pairwise verdict and every judge's calibration, each written (and committed) the
moment it completes. A trial's key (run_id, task, model, repeat) is its primary key, so a resumed
run can neither lose nor repeat one: resume means "skip the keys already here". Beside each full
record the store keeps its lean facts (`rows.trial_facts`), so summaries read small rows
(`trial_rows`) and reports stream full records a page at a time (`iter_trials`): reading a run
of 100,000 trials never holds their transcripts all at once. Everything passes through the
redaction filter (`bakeoff.redact`) on its way in, so the file never holds an API key, and
through `store_file.storable`, so no text a contestant sends (a lone surrogate, a NUL) can fail
to be stored. Opening the file and every error SQLite raises are `store_file`'s: whatever is at
the path, each command gets a connection or one line naming the file and what to do; the
tables are `evals/store/migrations.py`'s, numbered, so a store of any earlier version opens. Run ids
are plain names (`check_run_id`): they become file names of reports."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from bakeoff.errors import UserError
from bakeoff.evals.store import changes as kept
from bakeoff.evals.store.migrations import SCHEMA_VERSION
from bakeoff.evals.store.records import BakeoffSpec, PairVerdict, TrialRecord, TrialStatus
from bakeoff.evals.store.rows import RowReader, TrialRow, trial_facts
from bakeoff.evals.store.store_file import open_store, read_only_error, storable, store_errors
from bakeoff.evals.store.summary_records import JudgeCalibration
from bakeoff.labels import matches
from bakeoff.redact import redact_model

__all__ = ["PAGE", "SCHEMA_VERSION", "Store", "check_run_id", "default_store_path"]

PAGE = 500
"""Trials read per query when streaming a run (the lock is released between pages)."""

MAX_RUN_ID = 128
_RUN_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
M = TypeVar("M", bound=BaseModel)


def check_run_id(run_id: str) -> str:
    """`run_id` if it is a plain name — letters, digits, '.', '_', '-', not starting with '.',
    no '..', at most `MAX_RUN_ID` characters, not `latest` — else a UserError. A run id names
    its report file, so nothing else may reach a path."""
    if (
        not _RUN_ID.fullmatch(run_id)
        or ".." in run_id
        or len(run_id) > MAX_RUN_ID
        or run_id == "latest"
    ):
        shown = run_id if len(run_id) <= 40 else run_id[:40] + "..."
        raise UserError(
            f"run id {shown!r} is not a plain name: use up to {MAX_RUN_ID} letters, digits, "
            "'.', '_' or '-' (no '..', not starting with '.'; `latest` means the newest run)"
        )
    return run_id


def _encoded(model: M) -> tuple[M, str]:
    """`model` as it is stored (surrogates replaced, secrets redacted) and its JSON."""
    clean, text = storable(model)
    redacted = redact_model(clean, text)
    return (clean, text) if redacted is clean else (redacted, redacted.model_dump_json())


def default_store_path() -> Path:
    return Path(os.environ.get("BAKEOFF_STORE", ".bakeoff/results.sqlite"))


class Store:
    """Thread-safe access to the results database. Every method raises `StoreError` (one
    line: the file, what to do) when the file fails it; `read_only` says whether it was opened
    read-only (a read-only file or mount: it can be read, not written)."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        self._lock = threading.Lock()
        self._db, self.read_only = open_store(self.path)

    def _guard(
        self, doing: str, run_id: str | None = None
    ) -> contextlib.AbstractContextManager[None]:
        return store_errors(self.path, doing, run_id)

    def require_writable(self) -> None:
        """Refuse, before anything runs, a store that was opened read-only."""
        if self.read_only:
            raise read_only_error(self.path)

    def close(self) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):  # nothing left to lose
            self._db.close()

    def create_run(self, spec: BakeoffSpec) -> None:
        check_run_id(spec.run_id)
        spec, text = _encoded(spec)
        now = time.time()
        with self._lock, self._guard("write the new run to", spec.run_id):
            try:
                self._db.execute(
                    "INSERT INTO runs VALUES (?, ?, ?, 'running', ?)", (spec.run_id, now, now, text)
                )
            except sqlite3.IntegrityError:
                raise UserError(
                    f"run id {spec.run_id!r} already exists in {self.path}; "
                    f"use --resume {spec.run_id} to continue it, or choose another --run-id"
                ) from None

    def set_status(self, run_id: str, status: str) -> None:
        with self._lock, self._guard("write the status of the run to", run_id):
            self._db.execute(
                "UPDATE runs SET status = ?, updated_at = ? WHERE run_id = ?",
                (status, time.time(), run_id),
            )

    def get_spec(self, run_id: str) -> BakeoffSpec:
        with self._lock, self._guard("read", run_id):
            row = self._db.execute("SELECT spec FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            known = ", ".join(str(r["run_id"]) for r in self.list_runs()[:10]) or "none yet"
            raise UserError(f"no run {run_id!r} in {self.path} (recent runs: {known})")
        with self._guard("read", run_id):
            return BakeoffSpec.model_validate_json(row[0])

    def list_runs(
        self,
        *,
        status: str | None = None,
        since: float | None = None,
        model: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[dict[str, object]]:
        """Every run, newest first: run_id, created_at, status, done (stored trials), planned,
        tasks, models (as shown), model_ids (as stored), labels (`BakeoffSpec.tags`). What
        cannot be read is None and the run's `damaged` says why — a damaged trials table, a
        rotted spec — so the rest is still listed. Filters, all optional and all applied:
        `status` exactly, created at or after `since` (a timestamp), a model whose id or shown
        name contains `model` (any case), and every label of `labels` with its exact value (a
        run whose spec cannot be read matches neither of the last two)."""
        conditions = (("r.status = ?", status), ("r.created_at >= ?", since))
        given = [(cond, value) for cond, value in conditions if value is not None]
        where = f"WHERE {' AND '.join(c for c, _ in given)} " if given else ""
        params = [value for _, value in given]
        runs = f"SELECT r.run_id, r.created_at, r.status, r.spec, {{}} FROM runs r {{}} {where}"
        runs += "{} ORDER BY 2 DESC"
        joined = runs.format("COUNT(t.task)", "LEFT JOIN trials t USING (run_id)", "GROUP BY 1")
        damage: str | None = None
        with self._lock, self._guard("list the runs of"):
            try:
                rows = self._db.execute(joined, params).fetchall()
            except sqlite3.DatabaseError as exc:
                if not getattr(exc, "sqlite_errorname", "").startswith("SQLITE_CORRUPT"):
                    raise
                damage = f"its trials cannot be read: {exc}"
                rows = self._db.execute(runs.format("NULL", "", ""), params).fetchall()
        listed = (
            _listed(run, at, status, spec, done, damage) for run, at, status, spec, done in rows
        )
        if model is None and not labels:
            return list(listed)
        return [entry for entry in listed if _wanted(entry, model, labels or {})]

    def add_trial(self, record: TrialRecord) -> None:
        """Store `record` (replacing a retried error); its changes, when it carries them
        (`changes.TrialWithChanges`), go to their own table in the same transaction."""
        changes = None
        if isinstance(record, kept.TrialWithChanges):
            record, changes = record.split()
        record, text = _encoded(record)
        with self._lock, self._guard("write a trial to", record.run_id):
            self._db.execute("BEGIN IMMEDIATE")  # the record and its changes, or neither
            try:
                self._insert_trial(record, text)
                self._replace_changes(record.key, record.run_id, changes)
                self._db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):  # the error that got here says why
                    self._db.execute("ROLLBACK")
                raise

    def _insert_trial(self, record: TrialRecord, text: str) -> None:
        self._db.execute(
            # A retried error replaces the record it retries; nothing else has its key.
            "INSERT OR REPLACE INTO trials (run_id, task, model, repeat, status, passed, "
            "duration_s, cost_usd, finished_at, facts, record) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.run_id,
                record.task,
                record.model,
                record.repeat,
                record.status,
                None if record.passed is None else int(record.passed),
                record.agent.duration_s,
                record.agent.cost_usd,
                record.finished_at,
                trial_facts(record),
                text,
            ),
        )

    def _replace_changes(
        self, key: tuple[str, str, int], run_id: str, changes: kept.TrialChanges | None
    ) -> None:
        """A retried trial's changes replace the ones it had (none is none)."""
        self._db.execute(
            "DELETE FROM trial_changes WHERE run_id = ? AND task = ? AND model = ? AND repeat = ?",
            (run_id, *key),
        )
        if changes is not None:
            self._db.executemany(
                f"INSERT INTO trial_changes (run_id, task, model, repeat, {kept.COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((run_id, *key, *row) for row in kept.rows_of(changes)),
            )

    def trial_changes(self, run_id: str, task: str, model: str, repeat: int) -> kept.TrialChanges:
        """The files one trial changed (`changes.TrialChanges`), by path; empty when it
        changed nothing, or ran before bakeoff kept changes."""
        with self._lock, self._guard("read", run_id):
            try:
                rows = self._db.execute(
                    f"SELECT {kept.COLUMNS} FROM trial_changes WHERE run_id = ? AND task = ? "
                    "AND model = ? AND repeat = ? ORDER BY path",
                    (run_id, task, model, repeat),
                ).fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" not in str(exc):  # a read-only store made before the table
                    raise
                rows = []
        with self._guard("read", run_id):
            return kept.changes_of(rows)

    def done_keys(self, run_id: str) -> set[tuple[str, str, int]]:
        """Keys of the trials that need no rerun: every stored one but the errors."""
        return self._keys(run_id, "!=")

    def error_keys(self, run_id: str) -> set[tuple[str, str, int]]:
        """Keys of the trials that ended in an infrastructure error (`--retry-errors`)."""
        return self._keys(run_id, "=")

    def _keys(self, run_id: str, op: str) -> set[tuple[str, str, int]]:
        with self._lock, self._guard("read", run_id):
            rows = self._db.execute(
                f"SELECT task, model, repeat FROM trials WHERE run_id = ? AND status {op} 'error'",
                (run_id,),
            ).fetchall()
        return {(t, m, int(r)) for t, m, r in rows}

    def trials(self, run_id: str) -> list[TrialRecord]:
        """Every full record of a run, by task, model, repeat: all in memory at once, so for
        small runs and tests; reports use `iter_trials` or `trial_rows`."""
        return list(self.iter_trials(run_id))

    def iter_trials(
        self,
        run_id: str,
        *,
        tasks: Collection[str] | None = None,
        limit: int | None = None,
        page: int = PAGE,
        except_status: TrialStatus | None = None,
    ) -> Iterator[TrialRecord]:
        """A run's full records by task, model, repeat, read `page` at a time (only `tasks`
        when given, none whose status is `except_status`, at most `limit`). The lock is held
        per page, never while the caller works, so writers go on meanwhile."""
        size = min(page, limit or page)
        pages = self._pages(run_id, "record, NULL", size, tasks, except_status)
        for _, _, record, _ in itertools.islice(pages, limit):
            with self._guard("read", run_id):
                trial = TrialRecord.model_validate_json(record)
            yield trial

    def trial_rows(self, run_id: str, reader: RowReader | None = None) -> list[TrialRow]:
        """Every trial of a run as a lean row (`rows.TrialRow`, built by `reader`: names,
        calibration, which models keep request speeds), by task, model, repeat."""
        reader = reader or RowReader()
        out: list[TrialRow] = []
        columns = "CASE WHEN facts IS NULL THEN record END, facts"
        with self._guard("read", run_id):
            for _, _, record, facts in self._pages(run_id, columns, PAGE):
                if facts is None:  # written before facts were kept
                    out.append(reader.row_of(TrialRecord.model_validate_json(record)))
                else:
                    out.append(reader.row(facts))
        return out

    def status_counts(self, run_id: str) -> dict[str, int]:
        """How many stored trials of a run ended in each status (`records.TrialStatus`)."""
        with self._lock, self._guard("read", run_id):
            rows = self._db.execute(
                "SELECT status, COUNT(*) FROM trials WHERE run_id = ? GROUP BY status", (run_id,)
            ).fetchall()
        return {str(s): int(n) for s, n in rows}

    def _pages(
        self,
        run_id: str,
        columns: str,
        page: int,
        tasks: Collection[str] | None = None,
        except_status: TrialStatus | None = None,
    ) -> Iterator[tuple[str, str, str, str]]:
        """(task, model, *two columns) of a run's trials (of `tasks` only, when given; none
        of status `except_status`), in key order, by keyset pages."""
        only = "" if tasks is None else f"AND task IN ({', '.join('?' * len(tasks))}) "
        params: list[str] = list(tasks or ())
        if except_status is not None:
            only += "AND status != ? "
            params.append(except_status)
        after: tuple[str, str, int] = ("", "", -1)
        while True:
            with self._lock, self._guard("read", run_id):
                rows = self._db.execute(
                    f"SELECT task, model, repeat, {columns} FROM trials WHERE run_id = ? {only}"
                    "AND (task, model, repeat) > (?, ?, ?) ORDER BY task, model, repeat LIMIT ?",
                    (run_id, *params, *after, page),
                ).fetchall()
            for task, model, _, a, b in rows:
                yield task, model, a, b
            if len(rows) < page:
                return
            after = (rows[-1][0], rows[-1][1], rows[-1][2])

    def spent_usd(self, run_id: str) -> float:
        with self._lock, self._guard("read", run_id):
            row = self._db.execute(
                "SELECT COALESCE(SUM(cost_usd), 0) FROM trials WHERE run_id = ?", (run_id,)
            ).fetchone()
        return float(row[0])

    def add_verdict(self, run_id: str, verdict: PairVerdict) -> None:
        verdict, text = _encoded(verdict)
        with self._lock, self._guard("write a verdict to", run_id):
            self._db.execute(
                "INSERT OR REPLACE INTO pair_verdicts VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    verdict.task,
                    verdict.repeat,
                    verdict.judge,
                    verdict.model_a,
                    verdict.model_b,
                    text,
                ),
            )

    def verdicts(self, run_id: str) -> list[PairVerdict]:
        with self._lock, self._guard("read", run_id):
            rows = self._db.execute(
                "SELECT record FROM pair_verdicts WHERE run_id = ?", (run_id,)
            ).fetchall()
            return [PairVerdict.model_validate_json(r[0]) for r in rows]

    def add_calibration(self, run_id: str, calibration: JudgeCalibration) -> None:
        calibration, text = _encoded(calibration)
        with self._lock, self._guard("write a judge's calibration to", run_id):
            self._db.execute(
                "INSERT OR REPLACE INTO judge_calibrations VALUES (?, ?, ?, ?)",
                (run_id, calibration.judge, int(calibration.calibrated), text),
            )

    def calibrations(self, run_id: str) -> list[JudgeCalibration]:
        with self._lock, self._guard("read", run_id):
            rows = self._db.execute(
                "SELECT record FROM judge_calibrations WHERE run_id = ? ORDER BY judge", (run_id,)
            ).fetchall()
            return [JudgeCalibration.model_validate_json(r[0]) for r in rows]


def _listed(
    run_id: str, created: float, status: str, spec: str, done: int | None, damage: str | None
) -> dict[str, object]:
    """One entry of `Store.list_runs`."""
    entry: dict[str, object] = {"run_id": run_id, "created_at": created, "status": status}
    try:
        s = BakeoffSpec.model_validate_json(spec)
    except ValueError as exc:
        damage = f"its spec cannot be read: {str(exc).splitlines()[0]}"
        entry.update(done=done, planned=None, tasks=None, models=[])
    else:
        planned = len(s.task_names) * len(s.models) * s.repeats
        models = [s.labels.get(m, m) for m in s.models]
        entry.update(done=done, planned=planned, tasks=len(s.task_names), models=models)
        entry.update(labels=dict(s.tags), model_ids=list(s.models))
    if damage is not None:
        entry["damaged"] = damage
    return entry


def _wanted(entry: dict[str, object], model: str | None, labels: Mapping[str, str]) -> bool:
    """Whether a `_listed` entry passes `list_runs`'s model and label filters."""
    tags = entry.get("labels")
    if not isinstance(tags, dict) or not matches(tags, labels):
        return False
    names = [*entry["models"], *entry.get("model_ids", [])]  # type: ignore[misc]
    return model is None or any(model.lower() in str(n).lower() for n in names)
