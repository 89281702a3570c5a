"""The workspace diff that judges and the report read, taken of a hostile workspace."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from bakeoff.evals.trial.diff import MAX_FILE_BYTES, Unread, snapshot, unified_diff
from bakeoff.workspace import remove_tree


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("x = 1\n")
    (root / "gone.txt").write_text("bye\n")
    return root


def test_added_changed_and_deleted_files_show_as_a_unified_diff(ws: Path) -> None:
    before = snapshot(ws)
    (ws / "src" / "app.py").write_text("x = 2\n")
    (ws / "gone.txt").unlink()
    (ws / "new.py").write_text("print('hi')")
    (ws / "blob.bin").write_bytes(b"\x00\x01")
    (ws / "__pycache__").mkdir()
    (ws / "__pycache__" / "x.pyc").write_bytes(b"\x00")
    diff = unified_diff(before, ws)
    assert "--- a/src/app.py\n+++ b/src/app.py\n" in diff and "-x = 1\n+x = 2\n" in diff
    assert "--- a/gone.txt\n+++ /dev/null\n" in diff
    assert "+print('hi')\n\\ No newline at end of file\n" in diff
    assert "Binary file blob.bin added" in diff
    assert "pyc" not in diff
    assert unified_diff(snapshot(ws), ws) == ""


def test_symlinks_are_named_never_followed(ws: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("SECRET\n")
    before = snapshot(ws)
    os.symlink(outside, ws / "door")
    os.symlink(outside / "secret.txt", ws / "leak.txt")
    diff = unified_diff(before, ws)
    assert "SECRET" not in diff
    assert (
        f"Not shown: leak.txt added (now: symlink -> {outside}/secret.txt (not followed))" in diff
    )
    assert f"Not shown: door added (now: symlink -> {outside} (not followed))" in diff


def test_fifos_and_huge_sparse_files_are_noted_without_reading(ws: Path) -> None:
    before = snapshot(ws)
    os.mkfifo(ws / "pipe")
    with open(ws / "huge.bin", "wb") as f:
        f.truncate(6 * 1024**3)  # 6 GB apparent size, no blocks: reading it would take all RAM
    (ws / "src" / "app.py").write_text("y" * (MAX_FILE_BYTES + 1))
    t0 = time.perf_counter()
    diff = unified_diff(before, ws)
    assert time.perf_counter() - t0 < 5
    assert "Not shown: pipe added (now: FIFO (named pipe))" in diff
    assert f"Not shown: huge.bin added (now: large file, {6 * 1024**3} bytes, not shown)" in diff
    assert "Not shown: src/app.py changed (before: a file of 6 bytes; now: large file" in diff


def test_names_that_are_not_utf8_are_shown_escaped(ws: Path) -> None:
    before = snapshot(ws)
    raw = os.fsencode(ws)
    os.mkdir(raw + b"/d\xfe")
    with open(raw + b"/d\xfe/bad\xff.txt", "wb") as f:
        f.write(b"text\n")
    diff = unified_diff(before, ws)
    assert "+++ b/d\\xfe/bad\\xff.txt\n" in diff
    diff.encode("utf-8")  # storable as it is


def test_too_deep_or_missing_folders_are_notes_not_crashes(ws: Path) -> None:
    before = snapshot(ws)
    deep = ws
    for _ in range(70):  # deeper than the walk goes
        deep = deep / "d"
    deep.mkdir(parents=True)
    (deep / "f.txt").write_text("deep\n")
    diff = unified_diff(before, ws)
    assert "folder deeper than 64 levels, not read" in diff
    assert snapshot(ws / "missing") == {
        ".": Unread("workspace unreadable: No such file or directory")
    }


def test_a_tree_1100_levels_deep_is_a_note_not_a_crash(ws: Path) -> None:
    # A contestant makes this with one write_file ("d/" * 1100 + "x"); its absolute path is
    # longer than the OS takes, so it is built by descriptor.
    before = snapshot(ws)
    fd = os.open(ws, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(1_100):
        os.mkdir("d", dir_fd=fd)
        nxt = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nxt
    os.close(os.open("x.txt", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
    os.close(fd)
    try:
        after = snapshot(ws)
        assert after["d/" * 65] == Unread("folder deeper than 64 levels, not read")
        assert "folder deeper than 64 levels, not read" in unified_diff(before, ws, after)
    finally:
        remove_tree(ws / "d")  # pytest's own clean-up of tmp_path would recurse and fail


async def test_snapshots_run_in_worker_threads(ws: Path) -> None:
    before = snapshot(ws)
    (ws / "src" / "app.py").write_text("x = 3\n")
    diffs = await asyncio.gather(*(asyncio.to_thread(unified_diff, before, ws) for _ in range(4)))
    assert len(set(diffs)) == 1 and "+x = 3\n" in diffs[0]


def test_a_hard_link_is_named_but_its_bytes_are_never_shown(ws: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("SECRET\n")
    before = snapshot(ws)
    os.link(outside, ws / "innocent.txt")
    diff = unified_diff(before, ws)
    assert "SECRET" not in diff
    assert "Not shown: innocent.txt added (now: hard link (2 names), not read)" in diff
