"""A small fixture written from memory must be the copy `prepare_workspace` makes from disk —
the same files, bytes, modes and times, the same names left out — and its snapshot the one a
walk of that copy reads; a fixture that does not qualify gets no image, and an edited one is
read again."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bakeoff.evals.trial import fixture_image as fi
from bakeoff.evals.trial.diff import snapshot
from bakeoff.evals.trial.task import builtin_suite_dir, load_tasks, prepare_workspace


def tree(root: Path) -> dict[str, tuple[int, int, bytes | None]]:
    """Every entry under `root` (and `root`): mode, mtime and bytes."""
    out = {}
    for path in [root, *sorted(root.rglob("*"))]:
        st = path.lstat()
        data = None if path.is_dir() else path.read_bytes()
        out[str(path.relative_to(root))] = (st.st_mode, st.st_mtime_ns, data)
    return out


def made_fixture(root: Path) -> Path:
    files = root / "files"
    (files / "pkg" / "deep" / "er").mkdir(parents=True)
    (files / "pkg" / "__pycache__").mkdir()
    (files / "pkg" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\x00cache")
    (files / ".git" / "hooks").mkdir(parents=True)
    (files / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (files / "a.txt").write_text("alpha\n")
    (files / "b.pyc").write_bytes(b"left out")
    (files / ".DS_Store").write_bytes(b"left out")
    (files / "pkg" / "m.py").write_text("X = 1\n")
    (files / "pkg" / "deep" / "er" / "bin.dat").write_bytes(bytes(range(256)) * 4)
    (files / "pkg" / "deep" / "er" / "empty").write_bytes(b"")
    run = files / "run.sh"
    run.write_text("#!/bin/sh\necho hi\n")
    run.chmod(0o755)
    (files / "read-only.txt").write_text("ro\n")
    (files / "read-only.txt").chmod(0o444)
    os.utime(files / "a.txt", ns=(1_000_000_000, 2_000_000_123))
    (files / "pkg" / "deep").chmod(0o750)
    return files


def both_copies(files: Path, tmp: Path) -> tuple[Path, Path, dict[str, object]]:
    image = fi.fixture_image(files)
    assert image is not None
    from_disk = tmp / "disk"
    shutil.copytree(files, from_disk, ignore=shutil.ignore_patterns(*fi.IGNORED))
    from_memory = tmp / "memory"
    before = image.write(from_memory)
    return from_disk, from_memory, before  # type: ignore[return-value]


def test_the_copy_from_memory_is_the_copy_from_disk(tmp_path: Path) -> None:
    files = made_fixture(tmp_path)
    from_disk, from_memory, before = both_copies(files, tmp_path)
    assert tree(from_memory) == tree(from_disk)
    assert before == snapshot(from_memory) == snapshot(from_disk)
    assert list(before) == list(snapshot(from_memory))  # in the walk's order too
    assert "pkg/__pycache__/m.cpython-311.pyc" not in tree(from_memory)
    assert ".git/HEAD" in tree(from_memory) and ".git/HEAD" not in before


@pytest.mark.parametrize("task", load_tasks([builtin_suite_dir()]), ids=lambda t: t.name)
def test_every_builtin_fixture(task, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    image = fi.fixture_image(task.files_dir)
    from_disk = prepare_workspace(task, tmp_path / "disk")
    if image is None:  # too large for memory: copied from disk, as before
        return
    before = image.write(tmp_path / "memory")
    assert tree(tmp_path / "memory") == tree(from_disk)
    assert before == snapshot(from_disk)


def test_what_does_not_qualify_gets_no_image(tmp_path: Path) -> None:
    linked = made_fixture(tmp_path / "l")
    (linked / "link").symlink_to("a.txt")
    assert fi.fixture_image(linked) is None
    hard = made_fixture(tmp_path / "h")
    os.link(hard / "a.txt", hard / "twin.txt")
    assert fi.fixture_image(hard) is None
    fifo = made_fixture(tmp_path / "f")
    os.mkfifo(fifo / "pipe")
    assert fi.fixture_image(fifo) is None
    many = tmp_path / "many"
    many.mkdir()
    for i in range(fi.INLINE_ENTRIES + 1):
        (many / f"{i}.txt").write_text("x")
    assert fi.fixture_image(many) is None
    big = tmp_path / "big"
    big.mkdir()
    (big / "big.bin").write_bytes(b"x" * (fi.INLINE_BYTES + 1))
    assert fi.fixture_image(big) is None
    assert fi.fixture_image(tmp_path / "missing") is None


def test_an_edited_fixture_is_read_again(tmp_path: Path) -> None:
    files = made_fixture(tmp_path)
    first = fi.fixture_image(files)
    assert first is not None and fi.fixture_image(files) is first  # read once
    (files / "a.txt").write_text("alpha, edited\n")
    second = fi.fixture_image(files)
    assert second is not None and second is not first
    assert second.before["a.txt"] == b"alpha, edited\n"
    (files / "new.txt").write_text("new\n")
    third = fi.fixture_image(files)
    assert third is not None and third.before["new.txt"] == b"new\n"


def test_the_snapshot_given_out_is_the_trials_own(tmp_path: Path) -> None:
    image = fi.fixture_image(made_fixture(tmp_path))
    assert image is not None
    mine = image.write(tmp_path / "one")
    mine["a.txt"] = b"changed by a trial"
    assert image.write(tmp_path / "two")["a.txt"] == b"alpha\n"
