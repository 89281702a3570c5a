"""What an agent changed: a snapshot of the fixture before the run and a unified diff of the
workspace after it (new, deleted and edited files; binary files named, not shown). The diff is
what judges read and what the report shows, so it is capped in size.

The workspace is the contestant's, so the walk trusts nothing in it: directories are opened
by descriptor without following a symlink, only regular files are opened (non-blocking, then
`fstat`); a symlink, FIFO, device, socket, hard-linked file, file over `MAX_FILE_BYTES` or
unreadable entry is recorded as a one-line note instead of its bytes; names that are not UTF-8
are shown escaped (`printable_name`); and no error escapes. It holds no shared state, so it may
run in a worker thread.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import stat
from pathlib import Path

from bakeoff.evals.store.records import Snapshot as Snapshot
from bakeoff.evals.store.records import Unread as Unread
from bakeoff.workspace import kind_of, printable_name, read_at_most

MAX_DIFF_CHARS = 200_000
MAX_FILE_BYTES = 1024 * 1024
"""Files larger than this are noted in the diff by size, never read."""
MAX_FILES = 5_000
MAX_DEPTH = 64
_MORE = "\x00"  # no real file name holds a NUL: the key for "the rest of this folder"
SKIP_DIRS = frozenset({"__pycache__", ".pytest_cache", ".git"})
"""Folders a snapshot leaves out: caches, and git's own files."""
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def snapshot(root: Path) -> Snapshot:
    """Every file under `root` (skipping caches and `.git`), walked without following links."""
    files: Snapshot = {}
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        files["."] = Unread(f"workspace unreadable: {exc.strerror or exc}")
        return files
    try:
        _walk(fd, "", files, 0)
    finally:
        os.close(fd)
    return files


def _walk(dir_fd: int, prefix: str, files: Snapshot, depth: int) -> None:
    try:
        with os.scandir(dir_fd) as it:
            names = sorted(entry.name for entry in it)
    except OSError as exc:
        files[prefix or "."] = Unread(f"folder unreadable: {exc.strerror or exc}")
        return
    for name in names:
        rel = prefix + name
        if len(files) >= MAX_FILES:
            files[prefix + _MORE] = Unread(f"more than {MAX_FILES} files; the rest not read")
            return
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                if name in SKIP_DIRS:
                    continue
                if depth >= MAX_DEPTH:
                    files[rel + "/"] = Unread(f"folder deeper than {MAX_DEPTH} levels, not read")
                    continue
                sub = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
                try:
                    _walk(sub, rel + "/", files, depth + 1)
                finally:
                    os.close(sub)
            else:
                files[rel] = _read(dir_fd, name, st)
        except OSError as exc:
            files[rel] = Unread(f"unreadable: {exc.strerror or exc}")


def _read(dir_fd: int, name: str, st: os.stat_result) -> bytes | Unread:
    if stat.S_ISLNK(st.st_mode):
        target = ""
        with contextlib.suppress(OSError):
            target = " -> " + printable_name(os.readlink(name, dir_fd=dir_fd)[:200])
        return Unread(f"symlink{target} (not followed)")
    if not stat.S_ISREG(st.st_mode):
        return Unread(kind_of(st.st_mode))
    if st.st_nlink > 1:  # its other name may be outside the workspace: never show its bytes
        return Unread(f"hard link ({st.st_nlink} names), not read", st.st_size, st.st_mtime_ns)
    if st.st_size > MAX_FILE_BYTES:
        return Unread(f"large file, {st.st_size} bytes, not shown", st.st_size, st.st_mtime_ns)
    fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode) or now.st_nlink > 1:  # swapped since the lstat
            return Unread("replaced while being read, not read")
        data = read_at_most(fd, MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        return Unread(f"large file, over {MAX_FILE_BYTES} bytes, not shown", len(data))
    return data


def _lines(data: bytes) -> list[str] | None:
    if b"\x00" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace").splitlines(keepends=True)


def unified_diff(before: Snapshot, root: Path, after: Snapshot | None = None) -> str:
    """The unified diff from `before` to `root` now (or to `after`, a snapshot of it already
    taken); never raises on a strange workspace."""
    after = snapshot(root) if after is None else after
    parts: list[str] = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        shown = printable_name(path.replace(_MORE, "..."))
        verb = "added" if old is None else "deleted" if new is None else "changed"
        if isinstance(old, Unread) or isinstance(new, Unread):
            parts.append(f"Not shown: {shown} {verb} ({'; '.join(_notes(old, new))})\n")
            continue
        old_lines = _lines(old or b"")
        new_lines = _lines(new or b"")
        if old_lines is None or new_lines is None:
            parts.append(f"Binary file {shown} {verb}\n")
            continue
        a = "/dev/null" if old is None else f"a/{shown}"
        b = "/dev/null" if new is None else f"b/{shown}"
        for line in difflib.unified_diff(old_lines, new_lines, a, b):
            parts.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    text = "".join(parts)
    if len(text) > MAX_DIFF_CHARS:
        text = text[:MAX_DIFF_CHARS] + f"\n[diff truncated: {len(text)} chars in all]\n"
    return text


def _notes(old: bytes | Unread | None, new: bytes | Unread | None) -> list[str]:
    said = []
    for when, value in (("before", old), ("now", new)):
        if isinstance(value, Unread):
            said.append(f"{when}: {value.note}")
        elif isinstance(value, bytes):
            said.append(f"{when}: a file of {len(value)} bytes")
    return said
