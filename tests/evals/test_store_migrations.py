"""A results store of every earlier version opens in today's bakeoff: each fixture in
old_stores/ is the SQL dump of a store a real old bakeoff wrote (README.md there says how), a
run of add-numbers interrupted after its first trial. Opened, it is migrated to the current
layout — the same tables and columns as a new store — and `runs` lists it, `report` grades it
and `run --resume` finishes it. Opening again changes nothing; a migration that fails midway
leaves the store exactly as it was and says so in one line."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from bakeoff.cli import main
from bakeoff.errors import StoreError
from bakeoff.evals.store.migrations import MIGRATIONS, SCHEMA_VERSION, migrate
from bakeoff.evals.store.store import Store
from bakeoff.evals.trial.task import builtin_suite_dir

OLD_STORES = Path(__file__).parent / "old_stores"
CALC = "def add(a, b):\n    return a + b\n"
GOOD = [
    {"tool_calls": [{"name": "write_file", "arguments": {"path": "calc.py", "content": CALC}}]},
    {"text": "Wrote calc.py with add(a, b)."},
]
# Every layout a store has had: (fixture, the version it records). v0_facts is v1's layout as
# written between the facts column and the version (the same schema; version 0).
VERSIONS = {
    "v0_initial": ("v0_initial.sql", 0),
    "v0_calibrations": ("v0_calibrations.sql", 0),
    "v0_facts": ("v1.sql", 0),
    "v1": ("v1.sql", 1),
    "v1_changes": ("v1_changes.sql", 1),
    "v1_logs": ("v1_logs.sql", 1),
}


def old_store(tmp_path: Path, version: str) -> tuple[Path, str]:
    """The store of `version` at tmp_path/old.sqlite, its task and script where the fixture
    names them; the store's path and its run's id."""
    name, recorded = VERSIONS[version]
    task = tmp_path / "add-numbers"
    shutil.copytree(builtin_suite_dir() / "add-numbers", task)
    script = tmp_path / "good.json"
    script.write_text(json.dumps(GOOD), encoding="utf-8")
    sql = (OLD_STORES / name).read_text(encoding="utf-8")
    sql = sql.replace("@TASK@", str(task)).replace("@SCRIPT@", str(script))
    sql = sql.replace("@WORKSPACE@", str(tmp_path))
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as raw:
        raw.executescript(sql)
        raw.execute(f"PRAGMA user_version = {recorded}")
        (run_id,) = raw.execute("SELECT run_id FROM runs").fetchone()
    raw.close()
    return db, str(run_id)


def layout(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table of the store at `db` with its columns (name, type, not null, default, key),
    and every index with its columns. Columns are sorted: a column added to an old table comes
    last (`trials.facts` after `record`), which SQLite reads the same."""
    raw = sqlite3.connect(db)
    try:
        tables = raw.execute("SELECT type, name FROM sqlite_master ORDER BY name").fetchall()
        pragma = {"table": "table_info", "index": "index_info"}
        return {
            name: sorted(tuple(c[1:]) for c in raw.execute(f"PRAGMA {pragma[kind]}({name})"))
            for kind, name in tables
        }
    finally:
        raw.close()


def dump(db: Path) -> tuple[int, list[str]]:
    """The version and every statement that rebuilds the store at `db`."""
    raw = sqlite3.connect(db)
    try:
        return int(raw.execute("PRAGMA user_version").fetchone()[0]), list(raw.iterdump())
    finally:
        raw.close()


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_every_migration_is_numbered_in_order_and_says_what_it_changes() -> None:
    assert SCHEMA_VERSION == len(MIGRATIONS) >= 3
    for number, step in enumerate(MIGRATIONS, start=1):
        assert step.__name__.startswith(f"m{number:03d}_"), step.__name__
        assert step.__doc__ and len(step.__doc__.split()) > 8, step.__name__


@pytest.mark.parametrize("version", VERSIONS)
def test_a_store_of_every_earlier_version_migrates_to_the_layout_of_a_new_one(
    tmp_path: Path, version: str
) -> None:
    db, run_id = old_store(tmp_path, version)
    Store(tmp_path / "new.sqlite").close()
    store = Store(db)
    assert [r["run_id"] for r in store.list_runs()] == [run_id]
    assert store.done_keys(run_id) == {("add-numbers", store.get_spec(run_id).models[0], 0)}
    assert [r.status for r in store.trial_rows(run_id)] == ["passed"]
    assert store.calibrations(run_id) == []
    store.close()
    assert dump(db)[0] == SCHEMA_VERSION
    assert layout(db) == layout(tmp_path / "new.sqlite")


@pytest.mark.parametrize("version", VERSIONS)
def test_runs_report_and_resume_work_on_a_store_of_every_earlier_version(
    tmp_path: Path, version: str, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, run_id = old_store(tmp_path, version)
    code, out, err = cli(capsys, "runs", "--store", str(db))
    assert code == 0 and run_id in out, err
    code, out, err = cli(capsys, "report", run_id, "--json", "--store", str(db))
    assert code == 0, err
    records = json.loads(out)["records"]
    assert [(r["repeat"], r["status"], r["passed"]) for r in records] == [(0, "passed", True)]
    code, out, err = cli(capsys, "run", "--resume", run_id, "--json", "--store", str(db))
    assert code == 0, err
    store = Store(db)
    assert sorted(r for _, _, r in store.done_keys(run_id)) == [0, 1]
    assert all(r.status == "passed" for r in store.trial_rows(run_id))
    store.close()


@pytest.mark.parametrize("version", ["v0_initial", "v1_logs"])
def test_opening_a_migrated_store_again_changes_nothing(tmp_path: Path, version: str) -> None:
    db, _ = old_store(tmp_path, version)
    Store(db).close()
    migrated = dump(db)
    for _ in range(2):
        Store(db).close()
        assert dump(db) == migrated


def test_a_migration_that_fails_midway_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    db, _ = old_store(tmp_path, "v0_initial")
    before = dump(db)

    def m004_broken(raw: sqlite3.Connection) -> None:
        """Fails after the three before it changed tables and columns."""
        raw.execute("CREATE TABLE half_done (x)")
        raw.execute("ALTER TABLE trials ADD COLUMN facts TEXT")  # a duplicate column

    raw = sqlite3.connect(db, isolation_level=None)
    with pytest.raises(StoreError) as caught:
        migrate(raw, db, [*MIGRATIONS, m004_broken])
    raw.close()
    line = str(caught.value)
    assert "\n" not in line and str(db) in line
    assert "migration 4, m004_broken" in line and "left as it was" in line
    assert dump(db) == before


def test_a_migration_with_a_bug_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    db, _ = old_store(tmp_path, "v1")
    before = dump(db)

    def m004_bug(raw: sqlite3.Connection) -> None:
        """Creates a table, then trips over a value it did not expect."""
        raw.execute("CREATE TABLE half_done (x)")
        int("not a number")

    raw = sqlite3.connect(db, isolation_level=None)
    with pytest.raises(StoreError, match="could not be upgraded from schema 1 to 4"):
        migrate(raw, db, [*MIGRATIONS, m004_bug])
    raw.close()
    assert dump(db) == before


def test_an_old_store_a_migration_cannot_take_is_refused_untouched(
    tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, run_id = old_store(tmp_path, "v0_initial")
    with sqlite3.connect(db) as raw:  # a `logs` table of someone else's shape, before ours
        raw.execute("CREATE TABLE logs (line TEXT)")
    raw.close()
    before = dump(db)
    code, _, err = cli(capsys, "report", run_id, "--store", str(db))
    lines = [x for x in err.splitlines() if x.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err
    assert str(db) in lines[0] and "m003_agent_logs" in lines[0]
    assert dump(db) == before  # not even migrations 1 and 2, nor the version
