"""Tasks from a repository's own history (`bakeoff tasks from-git REPO [REV|RANGE]`). A commit
that changes tests and code is a ready task: the fixture is the parent's tree without the
commit's new or changed test files, the hidden check is those test files as the commit left them
(run by `python -m pytest -q`, or `--test-command`, limited to those files), the
solution is the commit's other changes, and the prompt is the commit message made an instruction
(its code blocks and trailers dropped, the files it adds named). Every task is validated — its
check must fail on the parent and pass with the commit — and only valid ones are kept; every
commit left out is reported with the reason.

The repository is read with git itself (`git rev-list`, `diff-tree`, `archive`, `show`), never
checked out or changed; commits are bounded (`limit`), and so are a fixture's files and bytes
(`max_files`, `max_bytes`): a larger tree is skipped with its size, not half-copied."""

from __future__ import annotations

import io
import json
import re
import shlex
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from bakeoff.errors import UserError

MAX_FILES = 2_000
MAX_BYTES = 20 * 1024 * 1024
"""A fixture's limits: a parent tree over either is skipped, with its size."""
DEFAULT_LIMIT = 50
"""Commits read at most, newest first, whether REV is a revision or an A..B range."""
_TRAILER = re.compile(
    r"^(?:signed-off-by|co-authored-by|reviewed-by|acked-by|change-id|cc|fixes|closes|refs?)\s*:",
    re.IGNORECASE,
)
_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_CATEGORIES = (
    ("bugfix", re.compile(r"\b(fix\w*|bug\w*|crash\w*|wrong|error|broken|regression)\b", re.I)),
    ("refactor", re.compile(r"\b(refactor\w*|rename\w*|clean\w*|simplif\w*|move[sd]?)\b", re.I)),
    (
        "feature",
        re.compile(r"\b(add\w*|implement\w*|support\w*|new|introduce\w*|allow\w*)\b", re.I),
    ),
)


@dataclass(frozen=True)
class Skipped:
    """A commit that gave no task, and why."""

    sha: str
    subject: str
    reason: str


@dataclass
class Harvest:
    """What `tasks_from_git` wrote and what it left out."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def is_test_path(path: str) -> bool:
    """Whether a repository path is a test file pytest would collect (or its support)."""
    p = PurePosixPath(path)
    if p.suffix != ".py":
        return False
    return (
        p.name.startswith("test_")
        or p.name.endswith("_test.py")
        or p.name == "conftest.py"
        or any(part in ("tests", "test") for part in p.parts[:-1])
    )


class Repo:
    """A git repository, read with the git CLI, never changed."""

    def __init__(self, path: Path) -> None:
        if shutil.which("git") is None:
            raise UserError("git is not installed: `apt-get install git` (or your system's way)")
        self.path = path
        try:
            top = self._run("rev-parse", "--show-toplevel").strip()
        except UserError:
            raise UserError(f"{path} is not a git repository") from None
        self.path = Path(top)

    def _run(self, *args: str) -> str:
        return self._bytes(*args).decode("utf-8", errors="replace")

    def _bytes(self, *args: str) -> bytes:
        done = subprocess.run(
            ["git", "-C", str(self.path), *args],
            capture_output=True,
            env={"PATH": "/usr/bin:/bin:/usr/local/bin", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/"},
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            why = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
            raise UserError(
                f"git {' '.join(args[:2])} failed: {why[-1] if why else done.returncode}"
            )
        return done.stdout

    def commits(self, rev: str, limit: int) -> list[str]:
        """Non-merge commits of `rev` (a revision or an A..B range), newest first."""
        return self._run("rev-list", "--no-merges", f"--max-count={limit}", rev, "--").split()

    def message(self, sha: str) -> tuple[str, str]:
        text = self._run("show", "-s", "--format=%B", sha).strip()
        subject, _, body = text.partition("\n")
        return subject.strip(), body.strip()

    def parent(self, sha: str) -> str | None:
        parents = self._run("rev-list", "--parents", "-n", "1", sha).split()[1:]
        return parents[0] if len(parents) == 1 else None

    def changes(self, sha: str, parent: str) -> list[tuple[str, str]]:
        """(status letter, path) of each file the commit changed, renames as delete + add."""
        out = self._run("diff-tree", "-r", "--no-renames", "--name-status", "-z", parent, sha)
        parts = [p for p in out.split("\0") if p]
        return list(zip(parts[::2], parts[1::2], strict=True))

    def tree_size(self, sha: str) -> tuple[int, int]:
        """(files, bytes) of a commit's tree."""
        files = total = 0
        for line in self._run("ls-tree", "-r", "-l", "-z", sha).split("\0"):
            if not line:
                continue
            meta = line.split("\t", 1)[0].split()
            files += 1
            total += int(meta[3]) if len(meta) > 3 and meta[3].isdigit() else 0
        return files, total

    def export(self, sha: str, into: Path, leave_out: set[str]) -> None:
        """Write the commit's tree into `into`, without `leave_out`; tarfile's `data` filter
        refuses links that leave `into` and special files (nothing lands outside `into`)."""
        data = io.BytesIO(self._bytes("archive", "--format=tar", sha))
        with tarfile.open(fileobj=data) as archive:
            members = [m for m in archive.getmembers() if m.name not in leave_out]
            archive.extractall(into, members=members, filter="data")

    def show(self, sha: str, path: str) -> bytes:
        return self._bytes("show", f"{sha}:{path}")


def instruction(subject: str, body: str, added: Sequence[str]) -> str:
    """The commit message as an instruction: its subject, its prose (code blocks and trailers
    left out: they show the solution or say nothing to do), and the files the change adds."""
    prose = _FENCE.sub("", body)
    lines = [line for line in prose.splitlines() if not _TRAILER.match(line.strip())]
    text = "\n".join(lines).strip()
    out = f"Make this change to the repository: {subject.rstrip('.')}."
    if text:
        out += f"\n\n{text}"
    if added:
        out += "\n\nThe change adds these files: " + ", ".join(f"`{a}`" for a in added) + "."
    return out + "\n\nKeep the existing tests passing; do not edit test files."


def category_of(subject: str, code: Sequence[str]) -> str:
    for name, pattern in _CATEGORIES:
        if pattern.search(subject):
            return name
    top = PurePosixPath(code[0]).parts[0] if code else "change"
    return top if re.fullmatch(r"[\w.-]+", top) else "change"


def _difficulty(lines: int) -> int:
    return next((d for d, cap in ((1, 5), (2, 20), (3, 60), (4, 150)) if lines <= cap), 5)


def _name(subject: str, sha: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", subject.lower()).strip("-")[:40].strip("-")
    return f"{slug or 'commit'}-{sha[:7]}"


def _toml_str(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's (control characters as \\uXXXX)."""
    return json.dumps(text, ensure_ascii=False)


def tasks_from_git(
    repo_path: Path,
    rev: str = "HEAD",
    out: Path = Path("tasks"),
    *,
    limit: int = DEFAULT_LIMIT,
    test_command: str | None = None,
    max_files: int = MAX_FILES,
    max_bytes: int = MAX_BYTES,
    validate: bool = True,
    on_commit: Callable[[str, str], None] | None = None,
) -> Harvest:
    """Write a task folder under `out` for each commit of `rev` that changes tests and code and
    whose check fails on its parent and passes with it; report the rest. `test_command` is run
    with the changed test files appended (default `python -m pytest -q`)."""
    from bakeoff.evals.trial.checks import validate_task
    from bakeoff.evals.trial.task import load_task

    repo = Repo(repo_path)
    harvest = Harvest()
    out.mkdir(parents=True, exist_ok=True)
    for sha in repo.commits(rev, limit):
        subject, body = repo.message(sha)
        if on_commit is not None:
            on_commit(sha, subject)
        made = _task_of(repo, sha, subject, body, out, test_command, max_files, max_bytes)
        if isinstance(made, Path) and validate:
            result = validate_task(load_task(made))
            if not result.ok:
                shutil.rmtree(made)
                made = f"not a fair task: {result.message}"
        if isinstance(made, Path):
            harvest.written.append(made)
        else:
            harvest.skipped.append(Skipped(sha[:12], subject, made))
    return harvest


def _task_of(
    repo: Repo,
    sha: str,
    subject: str,
    body: str,
    out: Path,
    test_command: str | None,
    max_files: int,
    max_bytes: int,
) -> Path | str:
    """The task folder written for one commit, or why it gives none."""
    parent = repo.parent(sha)
    if parent is None:
        return "the first commit, or a merge: no single parent to start from"
    changes = repo.changes(sha, parent)
    tests = [p for _, p in changes if is_test_path(p)]
    code = [(s, p) for s, p in changes if not is_test_path(p)]
    if not tests:
        return "changes no test file"
    if not code:
        return "changes only tests"
    if any(s not in ("A", "M") for s, _ in changes):
        return "deletes a file (a task cannot ask for that)"
    if test_command is None and not all(p.endswith(".py") for p in tests):
        return "its tests are not pytest files: give --test-command"
    files, size = repo.tree_size(parent)
    if files > max_files or size > max_bytes:
        return f"the parent's tree is too large ({files} files, {size / 1e6:.1f} MB)"
    folder = out / _name(subject, sha)
    if folder.exists():
        shutil.rmtree(folder)
    try:
        _write_task(repo, folder, sha, parent, subject, body, tests, code, test_command)
    except (UserError, OSError, tarfile.TarError, ValueError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        return f"could not be written: {exc}"
    return folder


def _write_task(
    repo: Repo,
    folder: Path,
    sha: str,
    parent: str,
    subject: str,
    body: str,
    tests: Sequence[str],
    code: Sequence[tuple[str, str]],
    test_command: str | None,
) -> None:
    files = folder / "files"
    files.mkdir(parents=True)
    repo.export(parent, files, set(tests))
    lines = 0
    for kind, paths in (("hidden", tests), ("solution", [p for _, p in code])):
        for path in paths:
            data = repo.show(sha, path)
            target = folder / kind / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            if kind == "solution":
                lines += len(data.splitlines())
    added = [p for s, p in code if s == "A"]
    command = (test_command or "python -m pytest -q") + " " + " ".join(map(shlex.quote, tests))
    (folder / "task.toml").write_text(
        f"# From commit {sha} of {repo.path.name} (bakeoff tasks from-git).\n"
        f"name = {_toml_str(_name(subject, sha))}\n"
        f"prompt = {_toml_str(instruction(subject, body, added))}\n"
        f"category = {_toml_str(category_of(subject, [p for _, p in code]))}\n"
        f"difficulty = {_difficulty(lines)}\n"
        f'tags = ["from-git", {_toml_str(parent[:12])}]\n\n'
        f"[check]\ncommand = {_toml_str(command)}\ntimeout_s = 120\n",
        encoding="utf-8",
    )
