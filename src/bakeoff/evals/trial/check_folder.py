"""The folder a check runs in, built by construction: a fresh copy of the task's fixture, then
only the contestant's changes to the files the task grades, then the hidden files. Whatever
else the contestant wrote — a planted `sitecustomize.py`, modules named after imports that
Python or pytest try and miss, a root `__init__.py`, a `conftest.py` — is not there, so nothing
it planted can be imported or found by the check.

The graded files are `[check] graded` (globs over workspace-relative paths: `*` and `?` stay
within a folder, `**` spans folders), by default the fixture's own files plus the files the
prompt names (`calc.py`, `todo/export.py`: a path ending in a known extension), and always
`ANSWER.txt`. A graded file that the contestant deleted, or replaced by anything but a regular
file (a link, a folder, a FIFO), is absent from the check folder; a graded file the contestant
left is copied as its bytes, never followed through a link, never blocking on a FIFO.
"""

from __future__ import annotations

import functools
import os
import re
import stat
from pathlib import Path

from bakeoff.evals.trial.task import (
    ANSWER_FILE,
    TaskSpec,
    install_hidden,
    overlay_files,
    prepare_workspace,
)

MAX_SCANNED_ENTRIES = 20_000
"""Entries of a workspace looked at to match wildcard globs; past it the rest is not graded."""
NAMED_EXTENSIONS = [
    "py",
    "pyi",
    "txt",
    "md",
    "rst",
    "json",
    "toml",
    "yaml",
    "yml",
    "ini",
    "cfg",
    "conf",
    "csv",
    "tsv",
    "xml",
    "html",
    "css",
    "js",
    "ts",
    "jsx",
    "tsx",
    "sh",
    "sql",
    "log",
    "rs",
    "go",
    "c",
    "h",
    "cc",
    "cpp",
    "hpp",
    "java",
    "kt",
    "rb",
    "php",
    "swift",
    "lua",
    "r",
    "jl",
    "env",
]
"""File extensions that make a word of the prompt the name of a file it asks for."""
_NAMED = re.compile(
    r"(?<![\w./\\-])((?:[\w-]+/)*[\w-]+(?:\.[\w-]+)*\.(?:" + "|".join(NAMED_EXTENSIONS) + r"))"
    r"(?![\w/-])"
)


def named_in_prompt(prompt: str) -> list[str]:
    """The file paths a prompt names (`calc.py`, `tests/test_export.py`), sorted."""
    return sorted({m for m in _NAMED.findall(prompt) if ".." not in m.split("/")})


def graded_globs(task: TaskSpec) -> list[str]:
    """The globs naming the contestant files a check sees (see the module docstring)."""
    if task.check is not None and task.check.graded is not None:
        globs = list(task.check.graded)
    else:
        globs = [*overlay_files(task.files_dir), *named_in_prompt(task.prompt)]
    return sorted({*globs, ANSWER_FILE})


def build_check_folder(task: TaskSpec, workspace: Path, dest: Path) -> list[str]:
    """Make `dest` (missing or empty) the folder the check runs in: the fixture, the graded
    files of `workspace` laid over it (or removed where the contestant removed them), then the
    hidden files. Returns the graded paths taken from the workspace."""
    prepare_workspace(task, dest)
    matchers = [_glob_regex(g) for g in graded_globs(task)]
    literal = [g for g in graded_globs(task) if not any(c in g for c in "*?[")]
    candidates = set(literal) | set(overlay_files(task.files_dir))
    if len(literal) < len(matchers):
        candidates |= set(_walk(workspace))
    hidden = set(overlay_files(task.hidden_dir))
    taken = []
    for rel in sorted(candidates - hidden):  # a hidden file always wins over its namesake
        if not any(m.fullmatch(rel) for m in matchers):
            continue
        data = _regular_file(workspace, rel)
        target = dest / rel
        if data is None:
            if target.is_file():
                target.unlink()  # the contestant deleted or replaced a graded fixture file
            continue
        content, mode = data
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(mode & 0o755 | 0o600)
        taken.append(rel)
    install_hidden(task, dest)
    return taken


@functools.cache
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def _walk(root: Path) -> list[str]:
    """Workspace-relative paths of its files, links not followed, at most
    `MAX_SCANNED_ENTRIES` entries looked at."""
    found: list[str] = []
    seen = 0
    stack = [""]
    while stack and seen < MAX_SCANNED_ENTRIES:
        rel_dir = stack.pop()
        try:
            with os.scandir(root / rel_dir if rel_dir else root) as entries:
                for entry in entries:
                    seen += 1
                    rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(rel)
                    else:
                        found.append(rel)
        except OSError:
            continue
    return found


def _regular_file(root: Path, rel: str) -> tuple[bytes, int] | None:
    """The bytes and mode of `root/rel` if it is a regular file reached through real folders
    only; None for anything else (missing, a link on the way, a FIFO, a device)."""
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return None
    folder = root
    try:
        for part in parts[:-1]:
            folder = folder / part
            if not stat.S_ISDIR(os.lstat(folder).st_mode):
                return None
        path = folder / parts[-1]
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read(), info.st_mode
    except OSError:
        return None
    finally:
        os.close(fd)
