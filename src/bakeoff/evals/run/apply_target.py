"""Writing a trial's kept changes (`evals/store/changes.py`) into a folder of the user's: `choose_trial`
picks the trial (the top-ranked model's best, or the one asked for), `seed_folder` gives a new
or empty folder the task's fixture first, `plan_apply` reads the folder and says, for every
file, what would change (lines added and removed), whether the folder still holds the bytes the
trial started from (else a conflict: the user changed it since the run), and whether the file
may be written at all; `write_plan` then writes it.

The changes are a contestant's output read back from a store, so every path is an adversary's:
it must be a plain relative path (no `..`, `.`, empty or absolute part, no NUL), must not be a
protected path (`bakeoff.protected`: `.envrc`, `.git/`, `.github/workflows`, ... — refused
whatever the flags, since one is code run on the user's next command), and is reached inside
the folder one component at a time from a descriptor of it, never following a symlink, so
nothing can land outside the folder. A new file is written beside its target and renamed over
it, so a reader never sees half a file. A file whose new bytes hold a secret of the environment
now is refused too (the store held none when it was written; the environment may hold new
ones)."""

from __future__ import annotations

import contextlib
import difflib
import errno
import hashlib
import os
import secrets
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bakeoff.config import BakeoffConfig
from bakeoff.errors import UserError
from bakeoff.evals.store.changes import FileChange, TrialChanges, secret_in, sha256
from bakeoff.evals.store.records import BakeoffSpec, TrialStatus
from bakeoff.evals.store.rows import TrialRow
from bakeoff.evals.store.store import Store
from bakeoff.evals.verdict.model_names import namer
from bakeoff.protected import ProtectedPaths, protection
from bakeoff.workspace import printable_name, read_at_most

MAX_COUNTED_BYTES = 1024 * 1024
"""Lines are counted for files up to this size; larger ones are summarised by size."""

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class UnsafeTarget(Exception):
    """A path in the folder cannot be reached without following a link or crossing a file."""


@dataclass(frozen=True)
class PlannedFile:
    """One file of a plan: what would change, and what stands in the way."""

    change: FileChange
    added: int | None
    """Lines the file gains (None: binary, too large, or not kept)."""
    removed: int | None
    refused: str | None = None
    """Why this file may not be written at all (unsafe path, protected, not kept, a secret)."""
    conflict: str | None = None
    """How the folder differs from the fixture the trial started from (--force overrides)."""
    done: bool = False
    """The folder already holds the trial's version (applied before): nothing to write."""

    @property
    def shown(self) -> str:
        return printable_name(self.change.path)


@dataclass(frozen=True)
class ApplyPlan:
    """Every file of one trial's changes against one folder."""

    target: Path
    files: list[PlannedFile]

    @property
    def refused(self) -> list[PlannedFile]:
        return [f for f in self.files if f.refused is not None]

    @property
    def conflicts(self) -> list[PlannedFile]:
        return [f for f in self.files if f.refused is None and f.conflict is not None]


def seed_folder(target: Path, fixture: Path) -> int | None:
    """Make a missing or empty `target` hold a copy of the task's `fixture` (links copied as
    links), so that applying leaves the whole result there, not only the changed files: the
    number of files copied; None when `target` already held something."""
    if target.exists() and not target.is_dir():
        raise UserError(f"{target} is not a folder: pass --to DIR, a folder to write into")
    if target.is_dir() and any(target.iterdir()):
        return None
    target.mkdir(parents=True, exist_ok=True)
    if not fixture.is_dir():
        return 0
    shutil.copytree(fixture, target, symlinks=True, dirs_exist_ok=True)
    return sum(1 for p in target.rglob("*") if not p.is_dir())


def plan_apply(
    changes: TrialChanges, target: Path, protected: ProtectedPaths | None = None
) -> ApplyPlan:
    """What writing `changes` into the folder `target` would do (module docstring); reads
    `target`, writes nothing. `protected` adds the user's `[protected] also` rules to the
    built-in ones, which are never lifted here."""
    rules = ProtectedPaths(also=list(protected.also) if protected else [])
    root = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return ApplyPlan(target, [_plan_one(root, f, rules) for f in changes.files])
    finally:
        os.close(root)


def path_parts(path: str) -> tuple[str, ...] | str:
    """The components of a stored path, or why it is not a plain relative path."""
    parts = tuple(path.split("/"))
    if not path or "\x00" in path or any(p in ("", ".", "..") for p in parts):
        return "not a plain relative path inside the folder"
    return parts


def _plan_one(root: int, change: FileChange, rules: ProtectedPaths) -> PlannedFile:
    parts = path_parts(change.path)
    if isinstance(parts, str):
        return PlannedFile(change, None, None, refused=parts)
    if (why := protection(parts, rules)) is not None:
        return PlannedFile(change, None, None, refused=f"protected ({why})")
    if change.not_kept is not None:
        return PlannedFile(change, None, None, refused=f"not kept: {change.not_kept}")
    new = change.content
    if change.kind == "deleted":
        new = None
    elif new is None:  # a damaged or forged store: an added or changed file with no bytes
        return PlannedFile(change, None, None, refused="not kept: its bytes are missing")
    elif secret_in(new):
        return PlannedFile(change, None, None, refused="it holds a secret from the environment")
    try:
        now, current = _read(root, parts)
    except UnsafeTarget as exc:
        return PlannedFile(change, None, None, refused=str(exc))
    big = now is not None and current is None  # a file too large to count lines in
    added, removed = (None, None) if big else _line_counts(current, new)
    if now == (None if new is None else sha256(new)):
        return PlannedFile(change, added, removed, done=True)
    conflict = None
    if now != change.before_sha256:
        if change.before_sha256 is None:
            conflict = "exists in the folder, but not in the fixture the trial started from"
        elif now is None:
            conflict = "missing from the folder"
        else:
            conflict = "changed since the run"
    return PlannedFile(change, added, removed, conflict=conflict)


def _line_counts(old: bytes | None, new: bytes | None) -> tuple[int | None, int | None]:
    a, b = _lines(old or b""), _lines(new or b"")
    if a is None or b is None:
        return None, None
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    added = sum(j2 - j1 for tag, _, _, j1, j2 in ops if tag in ("replace", "insert"))
    removed = sum(i2 - i1 for tag, i1, i2, _, _ in ops if tag in ("replace", "delete"))
    return added, removed


def _lines(data: bytes) -> list[bytes] | None:
    if len(data) > MAX_COUNTED_BYTES or b"\x00" in data[:8192]:
        return None
    return data.splitlines()


def _walk(root: int, folders: Sequence[str], *, create: bool) -> int | None:
    """A descriptor of the folder `folders` under `root` (the caller closes it); None when
    one is missing and not `create`. A symlink or a file on the way is `UnsafeTarget`."""
    fd = os.dup(root)
    try:
        for i, name in enumerate(folders):
            try:
                nxt = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    os.close(fd)
                    return None
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o755, dir_fd=fd)
                nxt = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    where = "/".join(folders[: i + 1])
                    raise UnsafeTarget(
                        f"{printable_name(where)} in the folder is not a folder "
                        "(a symlink or a file): not followed"
                    ) from None
                raise
            os.close(fd)
            fd = nxt
        return fd
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise


def _read(root: int, parts: Sequence[str]) -> tuple[str | None, bytes | None]:
    """The SHA-256 of the folder's file at `parts` now (None: no file there) and its bytes
    when it has at most `MAX_COUNTED_BYTES`."""
    fd = _walk(root, parts[:-1], create=False)
    if fd is None:
        return None, None
    try:
        try:
            st = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return None, None
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeTarget("the folder holds a symlink or a non-file there: not touched")
        file = os.open(parts[-1], _READ_FLAGS, dir_fd=fd)
        try:
            if not stat.S_ISREG(os.fstat(file).st_mode):
                raise UnsafeTarget("the folder's entry there changed while being read")
            digest, head = hashlib.sha256(), b""
            while chunk := read_at_most(file, 1 << 20):
                digest.update(chunk)
                head = head + chunk if len(head) <= MAX_COUNTED_BYTES else head
            return digest.hexdigest(), head if len(head) <= MAX_COUNTED_BYTES else None
        finally:
            os.close(file)
    finally:
        os.close(fd)


def write_plan(plan: ApplyPlan, *, force: bool = False) -> list[PlannedFile]:
    """Write every file of `plan` that is not refused, done already, or (without `force`) in
    conflict; the files written, in order. A path that became unsafe since the plan (a symlink
    swapped in) raises `UnsafeTarget` and is not written."""
    written: list[PlannedFile] = []
    root = os.open(plan.target, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for f in plan.files:
            if f.refused is not None or f.done or (f.conflict is not None and not force):
                continue
            parts = path_parts(f.change.path)
            assert not isinstance(parts, str)  # refused above otherwise
            _write_one(root, parts, None if f.change.kind == "deleted" else f.change.content)
            written.append(f)
    finally:
        os.close(root)
    return written


def _write_one(root: int, parts: Sequence[str], data: bytes | None) -> None:
    fd = _walk(root, parts[:-1], create=data is not None)
    if fd is None:
        return  # deleting a file whose folder is gone: nothing left to delete
    name = parts[-1]
    try:
        mode = 0o644
        with contextlib.suppress(FileNotFoundError):
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode):
                raise UnsafeTarget(
                    f"{printable_name('/'.join(parts))}: not a file in the folder now"
                )
            mode = stat.S_IMODE(st.st_mode)
        if data is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=fd)
            return
        temp = f".bakeoff-apply-{secrets.token_hex(6)}.tmp"
        out = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode, dir_fd=fd)
        try:
            with os.fdopen(out, "wb", closefd=False) as stream:
                stream.write(data)
        except BaseException:
            os.close(out)
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=fd)
            raise
        os.close(out)
        os.replace(
            temp, name, src_dir_fd=fd, dst_dir_fd=fd
        )  # a link there is replaced, not followed
    finally:
        os.close(fd)


# ---- which trial: the winner's best, or the one asked for --------------------------------------

_STATUS_ORDER: dict[TrialStatus, int] = {"passed": 0, "failed": 1, "timeout": 2, "error": 3}


@dataclass(frozen=True)
class ChosenTrial:
    """The trial `bakeoff apply` writes, and where its task came from."""

    run_id: str
    row: TrialRow
    model_name: str
    """The model as the run's reports name it."""
    task_path: Path
    """The task folder (for a prompt run, `selection.files_origin` finds its `--files`)."""

    @property
    def outcome(self) -> str:
        """Its status as reports say it: nothing graded has not `passed`, it is `done`."""
        graded = self.row.check is not None or any(j.overall is not None for j in self.row.judges)
        return "done" if self.row.status == "passed" and not graded else self.row.status


def choose_trial(
    store: Store,
    run_id: str,
    *,
    model: str | None = None,
    task: str | None = None,
    repeat: int | None = None,
    config: BakeoffConfig | None = None,
) -> ChosenTrial:
    """The trial of `run_id` to apply: of `model` (by the name reports show, its stored id or
    an alias; default the top-ranked model), on `task` (needed when the run has several), its
    `repeat` or else its best one (passed first, then the judges' score, tests passed, speed).
    A UserError says what exists when nothing matches."""
    spec = store.get_spec(run_id)
    name = namer(spec)
    if task is None:
        if len(spec.task_names) > 1:
            raise UserError(
                f"run {run_id} has {len(spec.task_names)} tasks: pick one with --task "
                f"({_listed(spec.task_names)})"
            )
        task = spec.task_names[0]
    elif task not in spec.task_names:
        raise UserError(f"run {run_id} has no task {task!r}; its tasks: {_listed(spec.task_names)}")
    model_id = _model_id(store, spec, run_id, model, config)
    rows = [r for r in store.trial_rows(run_id) if r.task == task and r.model == model_id]
    if repeat is not None:
        rows = [r for r in rows if r.repeat == repeat]
    usable = [r for r in rows if r.status != "error"]
    if not usable:
        what = f"{name(model_id)} on {task}" + ("" if repeat is None else f" (repeat {repeat})")
        why = f": {rows[0].reason}" if rows else ""
        raise UserError(f"run {run_id} has no finished trial of {what}{why}; nothing to apply")
    best = min(usable, key=_rank)
    path = Path(spec.task_paths[spec.task_names.index(task)])
    return ChosenTrial(run_id, best, name(model_id), path)


def _rank(row: TrialRow) -> tuple[float, ...]:
    tests = row.check.tests_passed if row.check and row.check.tests_passed is not None else 0
    score = row.judge_overall if row.judge_overall is not None else 0.0
    return (_STATUS_ORDER[row.status], -score, -tests, row.agent.duration_s, row.repeat)


def _model_id(
    store: Store, spec: BakeoffSpec, run_id: str, given: str | None, config: BakeoffConfig | None
) -> str:
    """The stored id of the model `given` names in `spec` (default: the top-ranked one)."""
    name = namer(spec)
    if given is None:
        from bakeoff.evals.verdict.outcomes import build_outcome

        ranking = build_outcome(store, run_id, config).summary.ranking
        if not ranking:
            raise UserError(
                f"run {run_id} ranked no model (every trial an error): nothing to apply"
            )
        if ranking[0].quality.value is None:  # listed, not ranked: there is no winner
            raise UserError(
                f"run {run_id} measured no quality (no check, no judge), so it has no winner: "
                f"pick one with --model ({_listed([name(m) for m in spec.models])})"
            )
        given = ranking[0].model
    by_name = {name(m): m for m in spec.models} | {m: m for m in spec.models}
    if given in by_name:
        return by_name[given]
    with contextlib.suppress(UserError):
        from bakeoff.models.model_id import ModelId

        resolved = str(ModelId.parse(given, config or BakeoffConfig()))
        if resolved in spec.models:
            return resolved
    names = _listed([name(m) for m in spec.models])
    raise UserError(f"run {run_id} has no model {given!r}; its models: {names}")


def _listed(names: Sequence[str], most: int = 10) -> str:
    shown = ", ".join(names[:most])
    return shown + (f", ... ({len(names)} in all)" if len(names) > most else "")
