"""What an agent changed: a snapshot of the fixture before the run and a unified diff of the
workspace after it (new, deleted and edited files; binary files named, not shown). The diff is
what judges read and what the report shows, so it is capped in size."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

MAX_DIFF_CHARS = 200_000
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".git"}


def snapshot(root: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            full = Path(dirpath) / name
            if full.is_symlink() or not full.is_file():
                continue
            files[full.relative_to(root).as_posix()] = full.read_bytes()
    return files


def _lines(data: bytes) -> list[str] | None:
    if b"\x00" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace").splitlines(keepends=True)


def unified_diff(before: dict[str, bytes], root: Path) -> str:
    after = snapshot(root)
    parts: list[str] = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        old_lines = _lines(old or b"")
        new_lines = _lines(new or b"")
        if old_lines is None or new_lines is None:
            parts.append(
                f"Binary file {path} {'added' if old is None else 'deleted' if new is None else 'changed'}\n"
            )
            continue
        a = "/dev/null" if old is None else f"a/{path}"
        b = "/dev/null" if new is None else f"b/{path}"
        for line in difflib.unified_diff(old_lines, new_lines, a, b):
            parts.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    text = "".join(parts)
    if len(text) > MAX_DIFF_CHARS:
        text = text[:MAX_DIFF_CHARS] + f"\n[diff truncated: {len(text)} chars in all]\n"
    return text
