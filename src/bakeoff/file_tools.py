"""The bodies of the nano agent's five file tools, each acting on one `Workspace` through its
jail (`bakeoff.workspace`): `read_file`, `write_file`, `edit_file`, `list_directory` and
`get_file_info`. Around them: the files a run has read or written (`Known`), the rule that an
existing file is read before it is changed, and the note after a write that leaves a `.py` file
that no longer compiles (`python_note`). A tool that cannot do what it was asked raises
ToolError; `tools.ToolBox` offers these tools to the model under their contract names, checks
each call's arguments and runs it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time

from bakeoff.errors import ToolError
from bakeoff.workspace import (
    MAX_LIST_ENTRIES,
    MAX_READ_BYTES,
    MAX_WRITE_BYTES,
    Workspace,
    is_addressable,
    kind_of,
    printable_name,
    read_at_most,
    replace_content,
    symlink_refused,
)

Known = set[tuple[int, int]]
"""The files (device, inode) an agent has read or written in its run: the ones it may change.
Keyed by inode, so `./a.py` and `a.py` are one file."""


def _no_such_file(path: str) -> ToolError:
    return ToolError(f"{path}: no such file; use list_directory to see what exists")


def _require_known(path: str, st: os.stat_result, known: Known | None) -> None:
    """Refuse to change an existing file the agent has not read in this run (as Claude Code's
    tools do): an edit made blind replaces text it guessed and breaks what it never saw."""
    if known is not None and (st.st_dev, st.st_ino) not in known:
        raise ToolError(
            f"{path} exists and you have not read it yet: read it with read_file first, then "
            "change it (edit_file's old_str must match the file exactly)"
        )


PYTHON_CHECK = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
resource.setrlimit(resource.RLIMIT_CPU, (5, 5))
data = sys.stdin.buffer.read()
try:
    compile(data, "f", "exec", dont_inherit=True)
except (SyntaxError, ValueError) as exc:
    line = (getattr(exc, "text", None) or "").strip()[:120]
    where = f" at line {exc.lineno}" if getattr(exc, "lineno", None) else ""
    print(f"{type(exc).__name__}{where}: {getattr(exc, 'msg', exc)}" + (f": {line!r}" if line else ""))
except (MemoryError, RecursionError):
    pass
"""
"""Compiles (never runs) a file's bytes in a child interpreter, with no site packages and
capped memory and CPU time: hostile source can crash or stall only that child."""


def python_note(path: str, data: bytes) -> str:
    """For a `.py` file that no longer compiles, a line telling the model so (the way agent
    harnesses lint after each edit); else ''. The file is written either way."""
    if not path.casefold().endswith(".py"):
        return ""
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", PYTHON_CHECK],
            input=data,
            capture_output=True,
            timeout=10,
            check=False,
            env={},  # it only compiles; still, none of bakeoff's environment (keys) goes to it
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    problem = done.stdout.decode("utf-8", errors="replace").strip()[:300]
    if done.returncode != 0 or not problem:
        return ""
    return f"\nWarning: {path} is not valid Python now ({problem}). Read it and fix it."


def read_file(ws: Workspace, path: str, known: Known | None = None) -> str:
    try:
        with ws.open_file(path, "read") as (fd, st, _):
            data = read_at_most(fd, MAX_READ_BYTES + 1)
            if known is not None:
                known.add((st.st_dev, st.st_ino))
    except FileNotFoundError:
        raise _no_such_file(path) from None
    if b"\x00" in data[:8192]:
        raise ToolError(f"{path} is a binary file ({st.st_size} bytes); not shown")
    text = data[:MAX_READ_BYTES].decode("utf-8", errors="replace")
    if len(data) > MAX_READ_BYTES:
        text += f"\n[truncated: showing the first {MAX_READ_BYTES} of {st.st_size} bytes]"
    return text


def write_file(ws: Workspace, path: str, content: str, known: Known | None = None) -> str:
    # errors="replace": a lone surrogate that JSON let through becomes '?', not a crash.
    encoded = content.encode("utf-8", errors="replace")
    if len(encoded) > MAX_WRITE_BYTES:
        raise ToolError(f"content is {len(encoded)} bytes; the limit is {MAX_WRITE_BYTES}")
    with ws.open_file(path, "write") as (fd, st, created):
        if not created:
            _require_known(path, st, known)
        replace_content(fd, encoded)
        if known is not None:
            known.add((st.st_dev, st.st_ino))
    done = f"{'Created' if created else 'Overwrote'} {path} ({len(encoded)} bytes)"
    return done + python_note(path, encoded)


def edit_file(
    ws: Workspace, path: str, old_str: str, new_str: str, known: Known | None = None
) -> str:
    if old_str == "":
        raise ToolError(
            "old_str is empty; give the exact text to replace (use write_file to create)"
        )
    try:
        with ws.open_file(path, "edit") as (fd, st, _):
            _require_known(path, st, known)
            if st.st_size > MAX_WRITE_BYTES:
                raise ToolError(
                    f"{path} is {st.st_size} bytes; edit_file edits files up to "
                    f"{MAX_WRITE_BYTES} bytes"
                )
            try:
                text = read_at_most(fd, MAX_WRITE_BYTES + 1).decode("utf-8")
            except UnicodeDecodeError:
                raise ToolError(
                    f"{path} is not UTF-8 text; edit_file would corrupt it (use write_file)"
                ) from None
            new_text = _edited(path, text, old_str, new_str).encode("utf-8", errors="replace")
            replace_content(fd, new_text)
    except FileNotFoundError:
        raise _no_such_file(path) from None
    done = f"Edited {path}: replaced 1 occurrence ({len(old_str)} -> {len(new_str)} chars)"
    return done + python_note(path, new_text)


def _edited(path: str, text: str, old_str: str, new_str: str) -> str:
    count = text.count(old_str)
    if count == 0:
        hint = ""
        first = old_str.strip().splitlines()[0].strip() if old_str.strip() else ""
        if first and first in text:
            line = text[: text.index(first)].count("\n") + 1
            hint = (
                f" A line like its first line is at line {line}: check whitespace and indentation."
            )
        raise ToolError(
            f"old_str not found in {path}.{hint} Read the file and copy the text exactly."
        )
    if count > 1:
        lines, start = [], 0
        for _ in range(count):
            i = text.index(old_str, start)
            lines.append(str(text[:i].count("\n") + 1))
            start = i + 1
        raise ToolError(
            f"old_str occurs {count} times in {path} (lines {', '.join(lines[:10])}); "
            "include more surrounding lines so it matches exactly once"
        )
    new_text = text.replace(old_str, new_str, 1)
    if len(new_text.encode("utf-8", errors="replace")) > MAX_WRITE_BYTES:
        raise ToolError(f"the edited file would exceed {MAX_WRITE_BYTES} bytes")
    return new_text


def list_directory(ws: Workspace, path: str = ".") -> str:
    path = path or "."
    try:
        with ws.directory(path) as fd, os.scandir(fd) as entries:
            found = sorted(entries, key=lambda e: e.name)
            shown = [_listed(e) for e in found[:MAX_LIST_ENTRIES]]
    except FileNotFoundError:
        raise ToolError(f"{path}: no such directory; use list_directory('.')") from None
    if not found:
        return f"{path} is empty"
    if len(found) > MAX_LIST_ENTRIES:
        shown.append(f"[... {len(found) - MAX_LIST_ENTRIES} more entries not shown]")
    return "\n".join(shown)


def _listed(entry: os.DirEntry[str]) -> str:
    """One listing line: directories end with '/', anything but a plain file says what it is,
    and a name that is not printable UTF-8 is shown escaped and says so."""
    line = printable_name(entry.name)
    try:
        if entry.is_dir(follow_symlinks=False):
            line += "/"
        elif entry.is_symlink():
            line += " [symlink: not followed]"
        elif not entry.is_file(follow_symlinks=False):
            line += f" [{kind_of(entry.stat(follow_symlinks=False).st_mode)}]"
    except OSError:
        line += " [vanished]"
    if not is_addressable(entry.name):
        line += " [name is not valid UTF-8: shown escaped, cannot be opened]"
    elif printable_name(entry.name) != entry.name:
        line += " [name shown escaped]"
    return line


def get_file_info(ws: Workspace, path: str) -> str:
    try:
        with ws.parent(path) as (dir_fd, name):
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        raise ToolError(f"{path}: no such file or directory") from None
    kind = kind_of(st.st_mode)
    if kind == "symlink":
        raise symlink_refused(path, path)
    if kind not in ("file", "directory"):
        raise ToolError(f"{path} is a {kind}, not a regular file or directory")
    info = [f"path: {path}", f"type: {kind}", f"size_bytes: {st.st_size}"]
    if st.st_nlink > 1 and kind == "file":
        info.append(f"hard_links: {st.st_nlink} (not read, written or edited)")
    elif kind == "file" and st.st_size <= MAX_WRITE_BYTES:
        with contextlib.suppress(ToolError, OSError), ws.open_file(path, "read") as (fd, _, _):
            data = read_at_most(fd, MAX_WRITE_BYTES)
            if b"\x00" not in data[:8192]:
                newlines = data.count(b"\n")
                unterminated = 1 if data and not data.endswith(b"\n") else 0
                info.append(f"lines: {newlines + unterminated}")
    info.append("modified: " + time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(st.st_mtime)))
    return "\n".join(info)
