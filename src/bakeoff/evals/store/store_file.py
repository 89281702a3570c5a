"""The results store's SQLite file, opened with care: whatever is at the path — nothing, an empty
file, a store, a newer bakeoff's store, another program's database, a truncated or overwritten
file, a folder, a read-only file or mount — `open_store` either returns a connection or raises a
`StoreError` in one line naming the file and what to do. The schema is built and upgraded by
the numbered migrations of `evals/store/migrations.py` (version in `PRAGMA user_version`), applied
in one transaction when the store is opened for writing; a store of a higher version is
refused, never written to, and so is a database that is not a store. A read-only store opens
read-only, unmigrated, so it can still be listed and reported; a write to it is then a
`StoreError`. `store_errors` turns what SQLite raises later (a full disk, a page found
damaged on read, a lock held too long) and what a rotted row fails to decode into the same
one-line errors. `storable` makes any model safe to store: lone surrogates (bytes a contestant
sent that are not UTF-8) become U+FFFD, which SQLite's UTF-8 text and every report can hold;
NULs are kept as they are."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from bakeoff.errors import StoreError
from bakeoff.evals.store.migrations import SCHEMA_VERSION, migrate, newer_error, version_of

_MAGIC = b"SQLite format 3\x00"
_SURROGATE = re.compile("[\ud800-\udfff]")
M = TypeVar("M", bound=BaseModel)


def _other_store(path: Path) -> str:
    return f"or pass --store PATH to use another store than {path}"


def damaged(path: Path, detail: str) -> StoreError:
    """The one error for a store whose bytes are not what bakeoff wrote."""
    return StoreError(
        f"the results store {path} is damaged ({detail}): move it aside to start a new one "
        f"(`sqlite3 {path} .recover` may save its runs), {_other_store(path)}"
    )


def read_only_error(path: Path) -> StoreError:
    """The one error for a write to a store that can only be read."""
    return StoreError(
        f"the results store {path} is read-only: make it writable, {_other_store(path)}"
    )


def open_store(path: Path) -> tuple[sqlite3.Connection, bool]:
    """A connection to the store at `path`, migrated to `SCHEMA_VERSION` unless it is
    read-only, and whether it is (module docstring)."""
    if path.is_dir():
        raise StoreError(
            f"the results store {path} is a folder, not a file: pass --store "
            f"{path / 'results.sqlite'} (or another file)"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot make the folder of the results store {path} ({exc.strerror}): "
            f"{_other_store(path)} in a folder you can write"
        ) from None
    _check_header(path)
    # A file or folder we cannot write (a read-only mount, permissions) opens read-only.
    writable = os.access(path.parent, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))
    read_only, db = not writable, None
    with store_errors(path, "open"):
        try:
            if not read_only:
                try:
                    db = _connect(path, "rwc")
                    _check_version(db, path)  # before anything could be written
                    db.execute("PRAGMA journal_mode=WAL")
                except sqlite3.Error as exc:
                    if db is not None:
                        db.close()
                        db = None
                    if not _is_read_only(exc) or not path.is_file():
                        raise
                    read_only = True
            if read_only:
                db = _read_only(path)
                _check_version(db, path)
            else:
                assert db is not None
                db.execute("PRAGMA synchronous=NORMAL")
                migrate(db, path)
        except BaseException:
            if db is not None:
                db.close()
            raise
    return db, read_only


def _connect(path: Path, mode: str, *extra: str) -> sqlite3.Connection:
    uri = f"{path.absolute().as_uri()}?mode={mode}{''.join('&' + e for e in extra)}"
    db = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA busy_timeout=10000")
    return db


def _read_only(path: Path) -> sqlite3.Connection:
    """A read-only file or mount. A store in WAL mode needs its `-shm` file to be read; where
    that cannot be made (a read-only folder), it is read as immutable."""
    db = _connect(path, "ro")
    try:
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.Error:
        db.close()
    return _connect(path, "ro", "immutable=1")


def _is_read_only(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "")
    return name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM"))


def _check_version(db: sqlite3.Connection, path: Path) -> None:
    version = version_of(db)
    if version > SCHEMA_VERSION:
        raise newer_error(path, version)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if version == 0 and tables and "runs" not in tables:
        shown = ", ".join(sorted(tables)[:5])
        raise StoreError(
            f"{path} is not a bakeoff results store (it holds the tables {shown}): "
            f"{_other_store(path)}"
        )


def _check_header(path: Path) -> None:
    """Refuse a file that is not SQLite, or shorter than its own header says (truncated), in
    words of our own, before SQLite reads a page of it. An empty file is a new store. With a
    write-ahead log beside it the file may lag its header, so it is not measured then."""
    try:
        size = path.stat().st_size
        if size == 0:
            return
        with path.open("rb") as f:
            header = f.read(100)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(f"cannot read the results store {path} ({exc.strerror})") from None
    if len(header) < 100 or not header.startswith(_MAGIC):
        raise damaged(path, "it is not an SQLite database")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    counted = header[24:28] == header[92:96]  # the page count is valid only when these match
    wal = Path(f"{path}-wal")
    if counted and pages and size < pages * page_size and not (wal.exists() and wal.stat().st_size):
        raise damaged(path, f"truncated: {size} of its {pages * page_size} bytes")


@contextlib.contextmanager
def store_errors(path: Path, doing: str, run_id: str | None = None) -> Iterator[None]:
    """Turn what SQLite raises while `doing` something with the store at `path` (for the run
    `run_id`, if any), and what a damaged row fails to decode to, into one-line StoreErrors."""
    try:
        yield
    except sqlite3.Error as exc:
        raise _explain(exc, path, doing, run_id) from None
    except (ValueError, TypeError, KeyError, IndexError) as exc:  # a row that no longer decodes
        where = f"run {run_id!r}" if run_id else "a run"
        raise damaged(
            path, f"{where} holds a record that no longer decodes: {_first(exc)}"
        ) from None


def _explain(exc: sqlite3.Error, path: Path, doing: str, run_id: str | None) -> StoreError:
    name = getattr(exc, "sqlite_errorname", "") or ""
    resume = f"bakeoff run --resume {run_id} --store {path}" if run_id else "your command"
    if name.startswith(("SQLITE_FULL", "SQLITE_IOERR")):
        return StoreError(
            f"could not {doing} the results store {path} ({exc}): the disk is full or failing; "
            f"free some space, then run `{resume}`"
        )
    if name.startswith("SQLITE_READONLY"):
        return read_only_error(path)
    if name.startswith("SQLITE_BUSY") or name.startswith("SQLITE_LOCKED"):
        return StoreError(
            f"the results store {path} stayed locked by another bakeoff: wait for it to "
            f"finish, {_other_store(path)}"
        )
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")):
        return StoreError(f"cannot open the results store {path} ({exc}): {_other_store(path)}")
    return damaged(path, _first(exc))


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def storable(model: M) -> tuple[M, str]:
    """`model` and its JSON, with every lone surrogate in its strings (and keys) replaced by
    U+FFFD; the same object when it held none (the common case costs one dump)."""
    try:
        return model, model.model_dump_json()
    except ValueError:  # pydantic cannot encode a lone surrogate as UTF-8
        clean = type(model).model_validate(_scrub(model.model_dump(mode="json")))
        return clean, clean.model_dump_json()


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def scrub_text(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)
