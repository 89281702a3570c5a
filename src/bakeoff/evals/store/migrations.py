"""The results store's schema as numbered migrations, after simonw/llm's `migrations.py`: each
is a small function that changes the layout one step, `MIGRATIONS[n - 1]` takes a store from
version n-1 to n, and `migrate` applies the ones a store lacks, in order, in one transaction,
so a store is either wholly upgraded or left exactly as it was. The version is SQLite's own
`PRAGMA user_version` (`SCHEMA_VERSION` after every migration), not a table as llm keeps:
stores already carry it (version 1 since the store refused newer ones), it is read before
anything is written — from a read-only or immutable file too — so a newer or foreign file is
refused untouched, it changes in the same transaction as the tables, and it is one number,
since migrations here are strictly linear (a plugin cannot add one). Every table of the store
is created here and nowhere else.

The first three migrations had to meet stores from before they existed: version 0 is every
store written before versions were kept (three layouts), and version 1 stores may already
hold the tables of migrations 2 and 3. So those three create only what is missing. A
migration from 4 on meets exactly the layout of the version before it, and must never change
once released: add a new one instead (and a fixture of the old layout to
tests/evals/old_stores/)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from bakeoff.errors import StoreError

Migration = Callable[[sqlite3.Connection], None]
"""One step of the schema: given a connection inside the migrating transaction, change it."""


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {str(r[1]) for r in db.execute(f"PRAGMA table_info({table})")}


def m001_results(db: sqlite3.Connection) -> None:
    """The runs, their trials, pairwise verdicts and judges' calibrations: the layout of
    version 1. A store of version 0 holds some of it (the first had no `judge_calibrations`,
    the first two no `trials.facts`); what is missing is added. `facts` is nullable because
    rows written before it read their facts from the full record (`Store.trial_rows`)."""
    db.execute(
        """CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    status TEXT NOT NULL,
    spec TEXT NOT NULL
)"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS trials (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    task TEXT NOT NULL,
    model TEXT NOT NULL,
    repeat INTEGER NOT NULL,
    status TEXT NOT NULL,
    passed INTEGER,
    duration_s REAL NOT NULL,
    cost_usd REAL,
    finished_at REAL NOT NULL,
    facts TEXT,  -- before `record`: read without walking the record's overflow pages
    record TEXT NOT NULL,
    PRIMARY KEY (run_id, task, model, repeat)
)"""
    )
    if "facts" not in _columns(db, "trials"):
        db.execute("ALTER TABLE trials ADD COLUMN facts TEXT")
    db.execute(
        """CREATE TABLE IF NOT EXISTS pair_verdicts (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    task TEXT NOT NULL,
    repeat INTEGER NOT NULL,
    judge TEXT NOT NULL,
    model_a TEXT NOT NULL,
    model_b TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (run_id, task, repeat, judge, model_a, model_b)
)"""
    )
    db.execute(
        """CREATE TABLE IF NOT EXISTS judge_calibrations (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    judge TEXT NOT NULL,
    calibrated INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (run_id, judge)
)"""
    )


def m002_trial_changes(db: sqlite3.Connection) -> None:
    """The files each trial changed (`evals/store/changes.py`), one row a file, apart from the
    record so reports never read them; `bakeoff apply` does. Version 1 stores written after
    `apply` existed already hold the table."""
    db.execute(
        """CREATE TABLE IF NOT EXISTS trial_changes (
    run_id TEXT NOT NULL,
    task TEXT NOT NULL,
    model TEXT NOT NULL,
    repeat INTEGER NOT NULL,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    before_sha256 TEXT,  -- NULL: the fixture had no file here
    content BLOB,  -- NULL: deleted, or not kept (then not_kept says why)
    not_kept TEXT,
    PRIMARY KEY (run_id, task, model, repeat, path)
)"""
    )


def m003_agent_logs(db: sqlite3.Connection) -> None:
    """The log of single nano-agent runs (`evals/store/agent_log.py`), listed newest first and by
    model. Version 1 stores that logged an agent run already hold it."""
    db.execute(
        """CREATE TABLE IF NOT EXISTS logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at REAL NOT NULL,
    source TEXT NOT NULL,
    model TEXT NOT NULL,
    ok INTEGER NOT NULL,
    stop_reason TEXT NOT NULL,
    duration_s REAL NOT NULL,
    cost_usd REAL,
    prompt TEXT NOT NULL,
    record TEXT NOT NULL  -- last: listing never walks its overflow pages
)"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS logs_by_model ON logs (model, id)")


MIGRATIONS: tuple[Migration, ...] = (m001_results, m002_trial_changes, m003_agent_logs)
"""Every migration, in order: the n-th takes a store from version n-1 to n."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The version this bakeoff writes and reads up to, kept in `PRAGMA user_version`."""

# What SQLite raises about the file or the machine rather than about a migration's SQL: these
# keep their own words (`store_file.store_errors`: a full disk, a lock, a read-only file).
_NOT_THE_MIGRATION = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_FULL",
    "SQLITE_IOERR",
    "SQLITE_READONLY",
    "SQLITE_CANTOPEN",
    "SQLITE_PERM",
    "SQLITE_CORRUPT",
    "SQLITE_NOMEM",
)


def version_of(db: sqlite3.Connection) -> int:
    """The schema version the store behind `db` records (0: written before versions)."""
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def newer_error(path: Path, version: int, known: int = SCHEMA_VERSION) -> StoreError:
    """The one error for a store written by a newer bakeoff than this one."""
    return StoreError(
        f"the results store {path} was written by a newer bakeoff (schema {version}; this one "
        f"reads up to {known}): upgrade bakeoff, or pass --store PATH to use another store"
    )


def migrate(
    db: sqlite3.Connection, path: Path, migrations: Sequence[Migration] = MIGRATIONS
) -> int:
    """Bring the store behind `db` (at `path`, for messages) to version `len(migrations)`:
    the migrations it lacks, in order, then the version, in one transaction; the version it
    had. Nothing is written when it is current. A migration that fails rolls everything back
    and raises a one-line StoreError; `db` must be in autocommit mode (isolation_level None)."""
    target = len(migrations)
    if version_of(db) == target:
        return target
    # IMMEDIATE: two bakeoffs opening one old store take turns; the second finds it current.
    db.execute("BEGIN IMMEDIATE")
    try:
        had = version_of(db)
        if had > target:
            raise newer_error(path, had, target)
        for number, step in enumerate(migrations[had:], start=had + 1):
            _apply(db, path, step, number, had, target)
        db.execute(f"PRAGMA user_version = {target}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return had


def _apply(
    db: sqlite3.Connection, path: Path, step: Migration, number: int, had: int, target: int
) -> None:
    try:
        step(db)
    except sqlite3.Error as exc:
        if getattr(exc, "sqlite_errorname", "").startswith(_NOT_THE_MIGRATION):
            raise
        raise _failed(path, step, number, had, target, exc) from None
    except Exception as exc:  # a migration's own bug: still one line, the store untouched
        raise _failed(path, step, number, had, target, exc) from None


def _failed(
    path: Path, step: Migration, number: int, had: int, target: int, exc: Exception
) -> StoreError:
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return StoreError(
        f"the results store {path} could not be upgraded from schema {had} to {target} "
        f"(migration {number}, {step.__name__}: {detail}) and was left as it was: move it "
        f"aside to start a new one, or pass --store PATH to use another store"
    )
