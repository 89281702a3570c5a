"""Files and folders the user names on the command line or in a task — a scripted model's JSON
(`script:PATH`), a `task.toml`, the `--files` fixture of a prompt — read within bounds: only
regular files are read (opened non-blocking, then checked with `fstat`, so a FIFO cannot hang us
and `/dev/zero` cannot fill memory), each no bigger than its cap, and a folder is walked without
following a symlink, counting entries and bytes against caps, refusing devices, FIFOs and
sockets and the kernel's pseudo-filesystems (`/proc`, `/sys`). Every refusal is a `UserError`
(or `ConfigError` for a task file) naming the path and what to do."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from bakeoff.errors import ConfigError, UserError
from bakeoff.workspace import kind_of, read_at_most

MAX_SCRIPT_BYTES = 64 * 1024 * 1024
"""A scripted model's file: far above any hand-written or generated script."""
MAX_TASK_FILE_BYTES = 1024 * 1024
"""A `task.toml`: a prompt, a rubric and a few fields."""
MAX_FOLDER_ENTRIES = 20_000
"""Files, folders and links in a `--files` fixture (each trial gets a copy)."""
MAX_FOLDER_BYTES = 256 * 1024 * 1024
"""Bytes of regular files in a `--files` fixture."""

_PSEUDO_ROOTS = ("/proc", "/sys")
# Non-blocking: a FIFO opens at once instead of waiting for a writer; fstat then refuses it.
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"


def read_regular_file(
    path: Path,
    *,
    limit: int,
    what: str,
    error: type[UserError] = UserError,
    shown: str | None = None,
) -> bytes:
    """The bytes of `path` (symlinks followed, as the user named it), which must be a regular
    file of at most `limit` bytes; otherwise `error` says which of these it is not. Messages
    start with `what` (the file's role, "script file") and `shown` (default: the path)."""
    label = f"{what} {shown or path}".strip()
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise error(f"{label}: no such file") from None
    except OSError as exc:
        raise error(f"{label}: cannot open it ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{label} is a {kind_of(st.st_mode)}, not a regular file: name a file")
        if _pseudo(st.st_dev):
            raise error(f"{label} is in a kernel pseudo-filesystem: name a real file")
        if st.st_size > limit:
            raise error(f"{label} is {_mb(st.st_size)}, over the {_mb(limit)} limit")
        data = read_at_most(fd, limit + 1)
    except OSError as exc:
        raise error(f"{label}: cannot read it ({exc.strerror})") from None
    finally:
        os.close(fd)
    if len(data) > limit:  # it grew while we read it
        raise error(f"{label} is over the {_mb(limit)} limit")
    return data


def read_task_file(path: Path, shown: str) -> bytes:
    """A task's `task.toml` as `read_regular_file` reads it (`shown`: its path as the user
    would type it), refusals as `ConfigError`."""
    return read_regular_file(
        path, limit=MAX_TASK_FILE_BYTES, what="", error=ConfigError, shown=shown
    )


def check_folder(path: Path, *, what: str) -> Path:
    """`path` if it is a folder (a symlink to one is followed) outside `/proc` and `/sys`;
    else a UserError. Cheap: nothing under it is read (`measure_folder` walks it)."""
    try:
        st = path.stat()
    except OSError:
        raise UserError(f"{what} {path}: no such folder") from None
    if not stat.S_ISDIR(st.st_mode):
        raise UserError(f"{what} {path} is a {kind_of(st.st_mode)}, not a folder: name a folder")
    if _pseudo(st.st_dev):
        raise UserError(f"{what} {path} is in a kernel pseudo-filesystem: name a real folder")
    return path


def measure_folder(root: Path, *, what: str) -> tuple[int, int]:
    """(entries, bytes) under the folder `root`, walked without following any symlink (a link
    counts as one entry); a UserError for a device, FIFO or socket in it, or past
    `MAX_FOLDER_ENTRIES` or `MAX_FOLDER_BYTES`. Iterative, so depth cannot overflow the stack."""
    check_folder(root, what=what)
    entries = size = 0
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as it:
                children = list(it)
        except OSError as exc:
            raise UserError(f"{what} {root}: cannot list {folder} ({exc.strerror})") from None
        for child in children:
            entries += 1
            if entries > MAX_FOLDER_ENTRIES:
                raise UserError(
                    f"{what} {root} holds over {MAX_FOLDER_ENTRIES} files and folders: name a "
                    "smaller folder (each trial gets its own copy)"
                )
            try:
                st = child.stat(follow_symlinks=False)
            except FileNotFoundError:  # gone while we walked: nothing to copy
                continue
            if stat.S_ISDIR(st.st_mode):
                pending.append(Path(child.path))
            elif stat.S_ISREG(st.st_mode):
                size += st.st_size
                if size > MAX_FOLDER_BYTES:
                    raise UserError(
                        f"{what} {root} holds over {_mb(MAX_FOLDER_BYTES)} of files: name a "
                        "smaller folder (each trial gets its own copy)"
                    )
            elif not stat.S_ISLNK(st.st_mode):
                raise UserError(
                    f"{what} {root}: {child.path} is a {kind_of(st.st_mode)}; only files, folders "
                    "and links can be copied: remove it or name another folder"
                )
    return entries, size


def _pseudo(device: int) -> bool:
    """Whether `device` is that of /proc or /sys (their files lie about their size)."""
    for root in _PSEUDO_ROOTS:
        try:
            if os.stat(root).st_dev == device:
                return True
        except OSError:
            continue
    return False
