"""A damaged results store, and contestant bytes the store must keep: every command that opens a
store (`runs`, `report`, `compare`, `run`, `run --resume`) answers a truncated, overwritten,
foreign, newer, folder or read-only store with one line naming the file and what to do (exit 2,
no traceback); `runs` still lists what can be read; a disk that fills up mid-run ends it with one
line and leaves it `interrupted` and resumable; and lone surrogates and NULs in any text a
contestant or a judge sends go into SQLite and come back out without an exception."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bakeoff.cli import main
from bakeoff.evals.store.records import BakeoffSpec, JudgeScore, PairVerdict, TrialRecord
from bakeoff.evals.store.store import SCHEMA_VERSION, Store
from bakeoff.evals.store.summary_records import JudgeCalibration
from bakeoff.evals.trial.checks import CheckResult
from bakeoff.types import AgentResult, Message, ToolCall, Usage

HOSTILE = "a\ud800b\udcff\x00c\U0001f600"
"""Lone surrogates (high and low), a NUL and a real astral character, as a contestant sends them."""


def record(run_id: str, task: str, text: str = "done") -> TrialRecord:
    agent = AgentResult(
        ok=True,
        answer=text,
        model="script:a",
        provider="script",
        stop_reason="completed",
        error=None,
        turns=2,
        usage=Usage(input_tokens=10, output_tokens=5),
        cost_usd=0.0,
        duration_s=0.5,
        transcript=[
            Message(role="user", content="do it"),
            Message(
                role="assistant",
                content=text,
                tool_calls=[ToolCall(id="c1", name="write_file", arguments={text: text})],
            ),
            Message(role="tool", content=text, tool_call_id="c1"),
        ],
    )
    check = CheckResult(passed=True, exit_code=0, output=text, duration_s=0.1)
    return TrialRecord(
        run_id=run_id,
        task=task,
        category="implement",
        difficulty=1,
        model="script:a",
        repeat=0,
        status="passed",
        agent=agent,
        diff=text,
        check=check,
        judges=[JudgeScore(judge="script:j", overall=7.0, rationale=text)],
        finished_at=1.0,
    )


def make_store(path: Path, runs: tuple[str, ...] = ("r1", "r2")) -> Path:
    store = Store(path)
    for run_id in runs:
        store.create_run(
            BakeoffSpec(run_id=run_id, task_paths=["t"], task_names=["t"], models=["script:a"])
        )
        store.add_trial(record(run_id, "t"))
        store.set_status(run_id, "finished")
    store.close()  # checkpoints the WAL into the file the tests then damage
    return path


def one_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


COMMANDS = [
    ("runs",),
    ("report", "latest"),
    ("report", "r1"),
    ("compare", "r1", "r2"),
    ("run", "--resume", "latest"),
    ("run", "Create hello.py that prints hello", "--models", "script:x.json"),
]


def _truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 100])


def _overwritten(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[100 : len(data)] = b"\xa5" * (len(data) - 100)  # all but the header
    path.write_bytes(bytes(data))


def _header_overwritten(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[0:100] = b"\x5a" * 100
    path.write_bytes(bytes(data))


def _not_sqlite(path: Path) -> None:
    path.write_text("name,score\nmodel,1\n" * 50, encoding="utf-8")


def _folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _parent_is_a_file(path: Path) -> None:
    shutil.rmtree(path.parent)
    path.parent.write_text("not a folder", encoding="utf-8")


DAMAGE = {
    "truncated": _truncated,
    "overwritten": _overwritten,
    "header-overwritten": _header_overwritten,
    "not-sqlite": _not_sqlite,
    "a-folder": _folder,
    "parent-is-a-file": _parent_is_a_file,
}


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: "-".join(c[:2]))
def test_every_command_answers_a_damaged_store_with_one_line(
    tmp_path: Path,
    isolated_config: Path,
    capsys: pytest.CaptureFixture[str],
    damage: str,
    command: tuple[str, ...],
) -> None:
    db = make_store(tmp_path / "store" / "results.sqlite")
    DAMAGE[damage](db)
    code, _, err = cli(capsys, *command, "--store", str(db))
    line = one_line(err)
    assert code == 2, err
    assert str(db) in line
    assert "--store" in line or "move it" in line or "delete" in line  # what to do


def test_an_empty_file_is_an_empty_store(
    tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "results.sqlite"
    db.write_bytes(b"")
    code, out, err = cli(capsys, "runs", "--store", str(db))
    assert code == 0 and "no runs yet" in out and err == ""


def test_runs_lists_what_is_readable_when_part_of_the_store_is_damaged(
    tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = make_store(tmp_path / "results.sqlite", ("r1", "r2", "r3"))
    with sqlite3.connect(db) as raw:  # a spec rotted in place; another run's trials unreadable
        raw.execute("UPDATE runs SET spec = '{\"run_id\": \"r2\", garbage' WHERE run_id = 'r2'")
        roots = raw.execute("SELECT rootpage FROM sqlite_master WHERE tbl_name = 'trials'")
        pages = [r[0] for r in roots.fetchall()]
        (page_size,) = raw.execute("PRAGMA page_size").fetchone()
    with db.open("r+b") as f:  # the first page of the trials table and of its index overwritten
        for page in pages:
            f.seek((page - 1) * page_size)
            f.write(b"\xff" * page_size)
    code, out, err = cli(capsys, "runs", "--store", str(db))
    assert code == 0, err
    assert "r1" in out and "r3" in out and "r2" in out
    assert "unreadable" in out  # the rotted spec is named as such, not a traceback
    warning = one_line(err)
    assert str(db) in warning  # the damage is said once, on stderr

    code, out, err = cli(capsys, "runs", "--store", str(db), "--json")
    assert code == 0
    listed = {r["run_id"]: r for r in json.loads(out)}
    assert set(listed) == {"r1", "r2", "r3"}
    assert listed["r1"]["done"] is None  # unknown, not 0

    code, _, err = cli(capsys, "report", "r1", "--store", str(db))
    assert code == 2 and str(db) in one_line(err)


def test_a_rotted_record_is_one_line_naming_the_store(
    tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = make_store(tmp_path / "results.sqlite")
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE trials SET facts = '[1, 2', record = '{\"run_id\":' WHERE run_id='r1'")
    code, _, err = cli(capsys, "report", "r1", "--store", str(db))
    line = one_line(err)
    assert code == 2 and str(db) in line and "r1" in line
    code, out, _ = cli(capsys, "report", "r2", "--store", str(db), "--json")
    assert code == 0 and json.loads(out)["run_id"] == "r2"  # the other run is untouched


def test_a_store_from_a_newer_bakeoff_is_refused_and_left_alone(
    tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = make_store(tmp_path / "results.sqlite")
    with sqlite3.connect(db) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = db.read_bytes()
    code, _, err = cli(capsys, "runs", "--store", str(db))
    line = one_line(err)
    assert code == 2 and str(db) in line and "newer" in line and "upgrade" in line
    assert db.read_bytes() == before


def test_a_store_records_its_schema_version_and_an_old_one_is_adopted(tmp_path: Path) -> None:
    db = make_store(tmp_path / "results.sqlite")
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        raw.execute("PRAGMA user_version = 0")  # as written before versions were kept
    store = Store(db)
    assert [r["run_id"] for r in store.list_runs()] == ["r2", "r1"]
    store.close()
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_another_programs_database_is_not_taken_over(
    tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "app.sqlite"
    with sqlite3.connect(db) as raw:
        raw.execute("CREATE TABLE users (name TEXT)")
    code, _, err = cli(capsys, "runs", "--store", str(db))
    line = one_line(err)
    assert code == 2 and str(db) in line and "not a bakeoff results store" in line
    with sqlite3.connect(db) as raw:
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master")}
    assert tables == {"users"}


def _bakeoff(
    *args: str, cwd: Path, prefix: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(prefix or []), sys.executable, "-m", "bakeoff.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _bwrap_works() -> bool:
    if shutil.which("bwrap") is None:
        return False
    probe = subprocess.run(["bwrap", "--dev-bind", "/", "/", "true"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _bwrap_works(), reason="needs bubblewrap for a read-only mount")
def test_a_read_only_store_is_read_and_a_write_is_refused_in_one_line(
    tmp_path: Path, isolated_config: Path
) -> None:
    folder = tmp_path / "store"
    db = make_store(folder / "results.sqlite")
    with sqlite3.connect(db) as raw:  # as a store left by a writer: WAL mode, no -shm file
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    read_only = ["bwrap", "--dev-bind", "/", "/", "--ro-bind", str(folder), str(folder)]
    out = _bakeoff("runs", "--store", str(db), cwd=tmp_path, prefix=read_only)
    assert out.returncode == 0, out.stderr
    assert "r1" in out.stdout and "r2" in out.stdout
    out = _bakeoff("report", "r1", "--json", "--store", str(db), cwd=tmp_path, prefix=read_only)
    assert "Traceback" not in out.stderr
    script = tmp_path / "s.json"
    script.write_text(json.dumps([{"text": "hi"}]), encoding="utf-8")
    out = _bakeoff(
        "run", "Say hi to me", "--models", f"script:{script}", "--store", str(db),
        cwd=tmp_path, prefix=read_only,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    line = one_line(out.stderr)
    assert str(db) in line and "read-only" in line


def test_a_disk_that_fills_up_mid_run_ends_it_interrupted_and_resumable(
    tmp_path: Path, isolated_config: Path
) -> None:
    db = tmp_path / "store" / "results.sqlite"
    # Each answer is 2 MB; the files this process may write are capped at 1.5 MB (`ulimit -f`,
    # the shell's own way of a full disk), so the first trial's record cannot be written.
    big = [{"text": "x" * 2_000_000}]
    script = tmp_path / "big.json"
    script.write_text(json.dumps(big), encoding="utf-8")
    run = [
        "run", "Say something long", "--models", f"script:{script}", "--repeats", "2",
        "--run-id", "full", "--store", str(db),
    ]  # fmt: skip
    capped = ["bash", "-c", 'trap "" XFSZ; ulimit -f 1500; exec "$@"', "capped"]
    out = _bakeoff(*run, cwd=tmp_path, prefix=capped)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    (line,) = [x for x in out.stderr.splitlines() if x.startswith("error:")]  # after progress
    assert str(db) in line and "--resume full" in line
    store = Store(db)
    (listed,) = store.list_runs()
    assert listed["status"] == "interrupted" and listed["done"] == 0
    store.close()

    out = _bakeoff("run", "--resume", "full", "--store", str(db), "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    store = Store(db)
    (listed,) = store.list_runs()
    assert listed["status"] == "finished" and listed["done"] == 2
    store.close()


def test_lone_surrogates_and_nuls_round_trip_through_every_text_field(tmp_path: Path) -> None:
    store = Store(tmp_path / "results.sqlite")
    spec = BakeoffSpec(
        run_id="r1",
        task_paths=[HOSTILE],
        task_names=["t"],
        models=["script:a"],
        labels={"script:a": HOSTILE},
    )
    store.create_run(spec)
    store.add_trial(record("r1", "t", HOSTILE))
    verdict = PairVerdict(
        task="t", repeat=0, judge="script:j", model_a="a", model_b="b", winner=None,
        consistent=False, error=HOSTILE,
    )  # fmt: skip
    store.add_verdict("r1", verdict)
    calibration = JudgeCalibration(
        judge="script:j", calibrated=False, reason=HOSTILE, margin=1.0, required=2
    )
    store.add_calibration("r1", calibration)
    store.close()

    store = Store(tmp_path / "results.sqlite")
    kept = "a\ufffdb\ufffd\x00c\U0001f600"  # surrogates replaced, NUL and the emoji kept
    (back,) = store.trials("r1")
    assert back.agent.answer == kept and back.diff == kept
    assert back.check is not None and back.check.output == kept
    assert back.judges[0].rationale == kept
    assert [m.content for m in back.agent.transcript][1:] == [kept, kept]
    ((key, value),) = back.agent.transcript[1].tool_calls[0].arguments.items()
    assert value == kept and key.startswith("a\ufffd") and "\x00c" in key  # a key replaced too
    (row,) = store.trial_rows("r1")
    assert row.status == "passed"
    assert store.get_spec("r1").labels == {"script:a": kept}
    assert store.verdicts("r1")[0].error == kept
    assert store.calibrations("r1")[0].reason == kept
    json.dumps(back.model_dump(mode="json"), ensure_ascii=False).encode("utf-8")  # encodable
    store.close()


def test_a_contestant_sending_lone_surrogates_and_nuls_is_graded_not_an_error(
    tmp_path: Path, isolated_config: Path
) -> None:
    # Written with json.dumps, so the file holds the escapes and json.loads gives the
    # contestant's lone surrogates back, exactly as a provider's JSON would.
    turns = [
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "a\ud800.py", "content": HOSTILE}}]},
        {"tool_calls": [{"name": "read_file", "arguments": {"path": HOSTILE}}]},
        {"text": HOSTILE},
    ]  # fmt: skip
    script = tmp_path / "hostile.json"
    script.write_text(json.dumps(turns), encoding="utf-8")
    db = tmp_path / "results.sqlite"
    out = _bakeoff(
        "run", "Write a file please", "--models", f"script:{script}", "--store", str(db), "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    report = _bakeoff("report", "latest", "--json", "--store", str(db), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    (trial,) = json.loads(report.stdout)["records"]
    assert trial["status"] != "error"


def test_the_store_refuses_a_run_id_that_is_not_a_plain_name(tmp_path: Path) -> None:
    from bakeoff.errors import UserError

    store = Store(tmp_path / "results.sqlite")
    for bad in ("../../x", "", "a/b", "..", "x" * 300, "a b", "a\x00"):
        spec = BakeoffSpec(run_id=bad, task_paths=["t"], task_names=["t"], models=["script:a"])
        with pytest.raises(UserError, match="run id"):
            store.create_run(spec)
    assert store.list_runs() == []
    store.close()
    assert not (tmp_path.parent / "x").exists()
    assert os.listdir(tmp_path) != []
