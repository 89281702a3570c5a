"""Protected paths: the files in a workspace that run code or change settings the next time
someone uses the folder — a git hook, a virtualenv's `*.pth`, Claude Code's `.claude/` and
`.mcp.json`, direnv's `.envrc`, shell start-up files, CI workflows, Python's
`sitecustomize.py` — which the agent's write_file and edit_file refuse (through MCP the
workspace is the user's own repository, so one of these is code execution on the user's next
command). A rule is a name pattern matched against every component of the path, or a
`a/b` sequence of them matched at any depth, so protecting a folder protects all it holds;
names are compared after Unicode NFKC, case folding and dropping trailing dots and spaces, the
forms under which case-insensitive file systems (macOS, Windows) treat them as the same file.
`ProtectedPaths` is the `[protected]` config table that adds rules or lifts built-in ones.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

GIT_RULE = ".git"
"""Governed by `allow_git_writes`, not by `[protected] allow`."""
VENV_MARKER = "pyvenv.cfg"
"""The file that makes a folder a virtualenv whatever it is called (see `Workspace`)."""

BUILTIN_RULES: dict[str, str] = {
    GIT_RULE: "a changed git config or hook runs code on the user's next git command",
    ".venv": "a virtualenv's files run on every start of its Python",
    "venv": "a virtualenv's files run on every start of its Python",
    VENV_MARKER: "it turns a folder into a virtualenv that Python trusts",
    "*.pth": "Python runs the import lines of a .pth file at every start",
    # Imported by `site` at start-up from any folder on sys.path (PYTHONPATH=. is common): the
    # same hole as a .pth file, and no task needs a file of this name.
    "sitecustomize.py": "Python imports it at start-up from anywhere on sys.path",
    "usercustomize.py": "Python imports it at start-up from anywhere on sys.path",
    ".claude": "Claude Code's settings and hooks there run commands for the user",
    ".mcp.json": "it makes Claude Code start the servers it names",
    ".envrc": "direnv runs it when the user enters the folder",
    ".bashrc": "a shell runs its start-up files",
    ".bash_profile": "a shell runs its start-up files",
    ".bash_login": "a shell runs its start-up files",
    ".bash_logout": "a shell runs its start-up files",
    ".profile": "a shell runs its start-up files",
    ".zshrc": "a shell runs its start-up files",
    ".zprofile": "a shell runs its start-up files",
    ".zshenv": "a shell runs its start-up files",
    ".zlogin": "a shell runs its start-up files",
    ".zlogout": "a shell runs its start-up files",
    ".github/workflows": "CI runs it with the repository's secrets",
    ".gitlab-ci.yml": "CI runs it with the repository's secrets",
    ".circleci": "CI runs it with the repository's secrets",
}
"""Rule → why the agent may not write there (said in the refusal)."""


class ProtectedPaths(BaseModel):
    """`[protected]`: which workspace paths the agent's write_file and edit_file refuse, on
    top of the built-in rules. A rule is a name pattern (`*.pth`, `Makefile`) matched against
    every part of the path, or parts joined by `/` (`.github/workflows`) matched at any depth;
    matching ignores case."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    also: list[str] = Field(default_factory=list)
    """More rules to protect, e.g. `["Makefile", "pyproject.toml"]`."""
    allow: list[str] = Field(default_factory=list)
    """Built-in rules to lift, written as in the list of rules (e.g. `".github/workflows"` for
    a task about CI); `.git` is lifted by `allow_git_writes` instead."""


def fold(name: str) -> str:
    """`name` as case-insensitive file systems compare it: NFKC, case-folded, without the
    trailing dots and spaces Windows drops."""
    return unicodedata.normalize("NFKC", name).casefold().rstrip(". ")


@lru_cache(maxsize=256)
def _rule_parts(rule: str) -> tuple[str, ...]:
    return tuple(fold(p) for p in rule.strip("/").split("/") if p not in ("", "."))


def matches(rule: str, parts: Sequence[str]) -> bool:
    """Whether `parts` (folded path components) lie in or at what `rule` names."""
    want = _rule_parts(rule)
    if not want:
        return False
    last = len(parts) - len(want)
    return any(
        all(fnmatch.fnmatchcase(parts[i + k], pat) for k, pat in enumerate(want))
        for i in range(last + 1)
    )


def protection(
    parts: Sequence[str], config: ProtectedPaths | None = None, *, allow_git: bool = False
) -> str | None:
    """Why the path made of `parts` is protected, or None when the agent may write it."""
    config = config or ProtectedPaths()
    folded = [fold(p) for p in parts]
    for rule in config.also:
        if matches(rule, folded):
            return f"it matches the [protected] rule {rule!r}"
    lifted = {fold(r.strip("/")) for r in config.allow}
    for rule, why in BUILTIN_RULES.items():
        if rule == GIT_RULE:
            if allow_git:
                continue
        elif fold(rule) in lifted:
            continue
        if matches(rule, folded):
            return why
    return None


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_LISTED_DEPTH = 64
MAX_LISTED_ENTRIES = 20_000


def venv_folder(root: Path, parts: Sequence[str]) -> str | None:
    """The first folder on the way from `root` down `parts` (`root` included) that holds
    `pyvenv.cfg`, as a relative path; None when none does or the walk meets a missing folder,
    a symlink or a file (the open that follows reports those)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for i in range(len(parts) + 1):
            with contextlib.suppress(OSError):
                os.stat(VENV_MARKER, dir_fd=fd, follow_symlinks=False)
                return "/".join(parts[:i]) or "the workspace"
            if i == len(parts):
                break
            try:
                nxt = os.open(parts[i], _DIR_FLAGS, dir_fd=fd)
            except OSError:
                break
            os.close(fd)
            fd = nxt
        return None
    finally:
        os.close(fd)


def protected_paths(
    root: Path, config: ProtectedPaths | None = None, *, allow_git: bool = False
) -> list[str]:
    """The protected paths that exist under `root` now, relative and topmost (a protected
    folder is listed, not what it holds), for a sandbox to mount read-only. The walk follows
    no symlink, holds no descriptor per level, and stops at `MAX_LISTED_DEPTH` levels and
    `MAX_LISTED_ENTRIES` entries: a path the agent nests deeper stays refused by the tools,
    which check every path they write."""
    found: list[str] = []
    pending: list[tuple[str, ...]] = [()]
    seen = 0
    while pending and seen < MAX_LISTED_ENTRIES:
        parts = pending.pop()
        try:
            fd = os.open(root.joinpath(*parts), _DIR_FLAGS)
        except OSError:
            continue
        try:
            if parts and VENV_MARKER in os.listdir(fd):
                found.append("/".join(parts))
                continue
            with os.scandir(fd) as it:
                entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
        except OSError:
            continue
        finally:
            os.close(fd)
        for name, is_dir in sorted(entries):
            seen += 1
            here = (*parts, name)
            if protection(here, config, allow_git=allow_git) is not None:
                found.append("/".join(here))
            elif is_dir and len(here) < MAX_LISTED_DEPTH:
                pending.append(here)
    return sorted(found)
