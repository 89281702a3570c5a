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
`scan` lists the protected paths a workspace holds, however deep, for `run_command`'s guard
(`bakeoff.command_guard`), which a shell would otherwise write past.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import re
import stat
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

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

    model_config = ConfigDict(extra="forbid")

    also: list[str] = Field(default_factory=list)
    """More rules to protect, e.g. `["Makefile", "pyproject.toml"]`."""
    allow: list[str] = Field(default_factory=list)
    """Built-in rules to lift, written as in the list of rules (e.g. `".github/workflows"` for
    a task about CI); `.git` is lifted by `allow_git_writes` instead."""


_NO_CONFIG = ProtectedPaths()


@lru_cache(maxsize=4096)
def fold(name: str) -> str:
    """`name` as case-insensitive file systems compare it: NFKC, case-folded, without the
    trailing dots and spaces Windows drops."""
    return unicodedata.normalize("NFKC", name).casefold().rstrip(". ")


@lru_cache(maxsize=256)
def _rule_parts(rule: str) -> tuple[str, ...]:
    return tuple(fold(p) for p in rule.strip("/").split("/") if p not in ("", "."))


def matches(rule: str, parts: Sequence[str], *, ending: bool = False) -> bool:
    """Whether `parts` (folded path components) lie in or at what `rule` names; `ending`: only
    whether the rule names the path itself (a walk that already knows its folders are free)."""
    want = _rule_parts(rule)
    if not want:
        return False
    last = len(parts) - len(want)
    return any(
        all(fnmatch.fnmatchcase(parts[i + k], pat) for k, pat in enumerate(want))
        for i in range(last if ending else 0, last + 1)
    )


@dataclass(frozen=True)
class _Rules:
    """The rules in force for one configuration, in the order they are tried, and a quick
    test that rules a path out: a rule can only match a path one of whose components matches
    the rule's first part (a literal name, or a glob)."""

    ordered: tuple[tuple[str, str], ...]
    """(rule, why it is protected)."""
    first_names: frozenset[str]
    first_globs: re.Pattern[str] | None

    def may_match(self, folded: Sequence[str]) -> bool:
        globs = self.first_globs
        return any(p in self.first_names or (globs and globs.match(p)) for p in folded)


@lru_cache(maxsize=64)
def _rules(also: tuple[str, ...], allow: tuple[str, ...], allow_git: bool) -> _Rules:
    lifted = {fold(r.strip("/")) for r in allow}
    ordered = [(rule, f"it matches the [protected] rule {rule!r}") for rule in also]
    for rule, why in BUILTIN_RULES.items():
        if allow_git if rule == GIT_RULE else fold(rule) in lifted:
            continue
        ordered.append((rule, why))
    firsts = {want[0] for rule, _ in ordered if (want := _rule_parts(rule))}
    globs = sorted(f for f in firsts if any(c in f for c in "*?["))
    return _Rules(
        tuple(ordered),
        frozenset(firsts.difference(globs)),
        re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs)) if globs else None,
    )


def protection(
    parts: Sequence[str],
    config: ProtectedPaths | None = None,
    *,
    allow_git: bool = False,
    ending: bool = False,
) -> str | None:
    """Why the path made of `parts` is protected, or None when the agent may write it.
    `ending`: the folders above it are known to be free (see `matches`); `parts` may then be
    only the path's last few components (as many as the longest rule has)."""
    config = config or _NO_CONFIG
    rules = _rules(tuple(config.also), tuple(config.allow), allow_git)
    folded = [fold(p) for p in parts]
    if not rules.may_match(folded):
        return None
    for rule, why in rules.ordered:
        if matches(rule, folded, ending=ending):
            return why
    return None


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
Kind = Literal["directory", "file", "symlink", "other"]
Inode = tuple[int, int]


@dataclass(frozen=True)
class Found:
    """A protected path present in a workspace."""

    path: str
    """Relative, `/`-separated."""
    inode: Inode
    """(device, inode): the same file however it was renamed since."""
    kind: Kind
    marker: bool = False
    """Protected because the folder holds `pyvenv.cfg`, not by its own name."""


@dataclass
class Scan:
    """The protected paths under a workspace, topmost only (a protected folder is listed, not
    what it holds), and where the `wanted` inodes of an earlier scan are now."""

    found: dict[str, Found] = field(default_factory=dict)
    located: dict[Inode, str] = field(default_factory=dict)


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


def scan(
    root: Path,
    config: ProtectedPaths | None = None,
    *,
    allow_git: bool = False,
    wanted: Collection[Inode] = (),
) -> Scan:
    """Every protected path under `root`, and where each of `wanted` is now (looked for inside
    protected folders too, except the wanted ones themselves). Walks the whole tree, however
    deep and wide (a listing with a cap is one a contestant can hide a path behind): by
    descriptor, one folder down by name and back up by `..`, so it holds two descriptors and
    never builds a path longer than the OS takes; no symlink is followed. Meant for a tree
    nothing else changes while it is walked (a sandboxed step has ended)."""
    walk = _Walk(config or ProtectedPaths(), allow_git, set(wanted))
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        pending = [walk.folder(fd, inside=False)]
        while pending:
            if pending[-1]:
                name, inside = pending[-1].pop()
                try:
                    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError:
                    continue
                os.close(fd)
                fd = child
                walk.here.append(name)
                pending.append(walk.folder(fd, inside=inside))
            else:
                pending.pop()
                if walk.here:
                    parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
                    os.close(fd)
                    fd = parent
                    walk.here.pop()
    finally:
        os.close(fd)
    return walk.out


class _Walk:
    """The state of one `scan`: where it is, and what it found."""

    def __init__(self, config: ProtectedPaths, allow_git: bool, wanted: set[Inode]) -> None:
        self.config, self.allow_git, self.wanted = config, allow_git, wanted
        self.depth = max(len(_rule_parts(r)) for r in [*config.also, *BUILTIN_RULES])
        self.here: list[str] = []
        self.out = Scan()

    def folder(self, fd: int, *, inside: bool) -> list[tuple[str, bool]]:
        """Record what of folder `fd` (at `here`; `inside` a protected one: only where the
        wanted inodes are) is protected or wanted; the subfolders to walk."""
        try:
            with os.scandir(fd) as it:
                entries = [(e.name, e.stat(follow_symlinks=False)) for e in it]
        except OSError:
            return []
        rel = "/".join(self.here)
        if not inside and self.here and any(name == VENV_MARKER for name, _ in entries):
            st = os.fstat(fd)
            self.out.found[rel] = Found(rel, (st.st_dev, st.st_ino), "directory", marker=True)
            if not self.wanted or (st.st_dev, st.st_ino) in self.wanted:
                return []
            inside = True
        folders = []
        for name, st in sorted(entries, reverse=True):  # popped from the end: walked in order
            path = f"{rel}/{name}" if rel else name
            inode = (st.st_dev, st.st_ino)
            if inode in self.wanted:
                self.out.located[inode] = path
            is_dir = stat.S_ISDIR(st.st_mode)
            if not inside:
                tail = [*self.here[max(0, len(self.here) - self.depth + 1) :], name]
                why = protection(tail, self.config, allow_git=self.allow_git, ending=True)
                if why is not None:
                    self.out.found[path] = Found(path, inode, _kind(st.st_mode))
                    if is_dir and self.wanted and inode not in self.wanted:
                        folders.append((name, True))
                    continue
            if is_dir and inode not in self.wanted:
                folders.append((name, inside))
        return folders


def _kind(mode: int) -> Kind:
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISREG(mode):
        return "file"
    return "symlink" if stat.S_ISLNK(mode) else "other"


def protected_paths(
    root: Path, config: ProtectedPaths | None = None, *, allow_git: bool = False
) -> list[str]:
    """The protected paths that exist under `root` now, relative and topmost (a protected
    folder is listed, not what it holds), sorted (see `scan`)."""
    return sorted(scan(root, config, allow_git=allow_git).found)
