"""The path jail: every path a model names is opened relative to one workspace directory by
walking it one component at a time from a descriptor of the root, never following a symlink
(`O_NOFOLLOW` at every step), so no path — absolute, `..`, a symlink anywhere, or a directory
swapped for a symlink while the walk runs — can reach outside. Only regular files with a
single name are opened (non-blocking, then `fstat`): FIFOs, devices, sockets and hard links
are refused, and the protected paths (`bakeoff.protected`: `.git/` unless allowed, virtualenvs
— any folder holding `pyvenv.cfg` too — `*.pth`, `.claude/`, `.mcp.json`, shell start-up and
CI files…) are read-only. Every refusal is a message the model can read and act on.
`printable_name` makes any file name printable, `install_file` is how the harness itself puts a
file into a workspace the agent may have booby-trapped, and `remove_tree` deletes one however
deep the agent nested its folders.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Literal

from bakeoff.errors import ToolError, WorkspaceEscape
from bakeoff.protected import VENV_MARKER, ProtectedPaths, protection, venv_folder

MAX_READ_BYTES = 256 * 1024
MAX_WRITE_BYTES = 1024 * 1024
MAX_LIST_ENTRIES = 500
MAX_PATH_CHARS = 4096
"""Linux's PATH_MAX: no file the tools could open has a longer relative path."""

Access = Literal["read", "write", "edit"]
"""What `Workspace.open_file` opens a file for: `write` creates it (and its folders)."""

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO swapped in after the lstat opens at once (or fails) instead of hanging.
_FILE_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_ACCESS_FLAGS: dict[Access, int] = {
    "read": os.O_RDONLY,
    "edit": os.O_RDWR,
    "write": os.O_WRONLY | os.O_CREAT,
}


def printable_name(name: str) -> str:
    """`name` (as the OS gave it) as printable, valid UTF-8 text: bytes that are not UTF-8,
    which Python holds as lone surrogates, become `\\xff`; control and other unprintable
    characters become escapes like `\\n` or `\\u200b`; everything else is kept as it is."""
    if name.isprintable() and is_addressable(name):
        return name
    out = []
    for ch in name:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        elif not ch.isprintable():
            out.append(repr(ch)[1:-1])
        else:
            out.append(ch)
    return "".join(out)


def is_addressable(name: str) -> bool:
    """Whether a tool call can name `name`: tool arguments are UTF-8 text, so a name whose
    bytes are not UTF-8 can be listed (escaped) but never opened by the agent."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def kind_of(mode: int) -> str:
    """A file type in words, as the model is told it."""
    for test, word in (
        (stat.S_ISREG, "file"),
        (stat.S_ISDIR, "directory"),
        (stat.S_ISLNK, "symlink"),
        (stat.S_ISFIFO, "FIFO (named pipe)"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return word
    return "special file"


def symlink_refused(path: str, at: str) -> WorkspaceEscape:
    """The refusal of `path` because its component `at` is a symlink."""
    where = "it" if at == path else repr(at)
    return WorkspaceEscape(
        f"path {path!r} refused: {where} is a symlink, and symlinks are not followed in the "
        "workspace (they could lead outside the workspace); use the real path"
    )


class Workspace:
    """A directory the agent may read and write, and nothing outside it."""

    def __init__(
        self,
        root: Path | str,
        *,
        allow_git_writes: bool = False,
        protected: ProtectedPaths | None = None,
    ) -> None:
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        self.root = Path(os.path.realpath(root))
        self.allow_git_writes = allow_git_writes
        """Whether write_file and edit_file may change `.git/` (off: a changed git config or
        hook runs code on the user's next git command)."""
        self.protected = protected or ProtectedPaths()
        """Rules added to or lifted from the built-in protected paths."""

    def parts(self, path: str) -> tuple[str, ...]:
        """The components of `path` (none for the root); raises WorkspaceEscape for a path that
        is empty, absolute, uses `..`, holds a NUL, or is not valid UTF-8 text."""
        if not isinstance(path, str) or not path.strip():
            raise WorkspaceEscape("path must be a non-empty string relative to the workspace")
        if len(path) > MAX_PATH_CHARS:
            raise WorkspaceEscape(
                f"path of {len(path)} characters refused: the limit is {MAX_PATH_CHARS}"
            )
        if "\x00" in path:
            raise WorkspaceEscape(f"path {path!r} contains a NUL byte")
        if not is_addressable(path):
            raise WorkspaceEscape(f"path {path!r} refused: it is not valid UTF-8 text")
        text = path.replace("\\", "/")
        if text.startswith("/") or (len(path) > 1 and path[1] == ":"):
            raise WorkspaceEscape(
                f"absolute path {path!r} refused: use a path relative to the workspace, e.g. 'src/app.py'"
            )
        # PurePosixPath(text).parts without building a path: empty and `.` components dropped.
        parts = tuple(part for part in text.split("/") if part and part != ".")
        if ".." in parts:
            raise WorkspaceEscape(f"path {path!r} refused: '..' may not be used in workspace paths")
        return parts

    def resolve(self, path: str) -> Path:
        """Where `path` is inside the workspace, after checking that no existing component of
        it is a symlink (WorkspaceEscape) or a file where a folder should be (ToolError). For
        messages and reports only: the tools open through `directory()` and `open_file()`,
        which keep the check while they hold the file."""
        parts = self.parts(path)
        with contextlib.suppress(FileNotFoundError), self.parent(path) as (fd, name):
            if stat.S_ISLNK(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                raise symlink_refused(path, path)
        return self.root.joinpath(*parts)

    @contextlib.contextmanager
    def directory(self, path: str, *, create: bool = False) -> Iterator[int]:
        """A descriptor of the directory `path` names, walked without following a symlink and
        closed on exit; `create` makes missing folders. A missing one raises FileNotFoundError."""
        fd = self._descend(path, self.parts(path), create=create)
        try:
            yield fd
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def parent(self, path: str, *, create: bool = False) -> Iterator[tuple[int, str]]:
        """A descriptor of the directory holding `path`'s last component, and that component
        (`"."` with the root's own descriptor for the root)."""
        parts = self.parts(path)
        fd = self._descend(path, parts[:-1], create=create)
        try:
            yield fd, parts[-1] if parts else "."
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def open_file(self, path: str, access: Access) -> Iterator[tuple[int, os.stat_result, bool]]:
        """A descriptor of the regular file `path` names, with its `fstat` and whether this call
        created it. Refuses (ToolError) a directory, a symlink, a FIFO, device or socket (never
        blocking on one), a hard-linked file and, for `write`/`edit`, a protected path. A
        missing file raises FileNotFoundError, except for `write`, which creates it and its
        folders."""
        parts = self.parts(path)
        if access != "read":
            self.check_writable(path, parts)
        with self.parent(path, create=access == "write") as (dir_fd, name):
            try:
                before: os.stat_result | None = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                if access != "write":
                    raise
                before = None
            if before is not None:
                _check_regular(path, before)  # refuse specials before ever opening them
            try:
                fd = os.open(name, _FILE_FLAGS | _ACCESS_FLAGS[access], 0o644, dir_fd=dir_fd)
            except OSError as exc:
                raise _explain(dir_fd, name, path, exc) from None
            try:
                st = os.fstat(fd)
                _check_regular(path, st)
                yield fd, st, before is None
            finally:
                os.close(fd)

    def check_writable(self, path: str, parts: Sequence[str]) -> None:
        """Raise ToolError when `path` (split into `parts`) is protected: by its name, or by
        lying in a folder that holds `pyvenv.cfg` (a virtualenv under any name)."""
        why = protection(parts, self.protected, allow_git=self.allow_git_writes)
        if why is None and (venv := venv_folder(self.root, parts[:-1])) is not None:
            why = f"{venv} is a virtualenv (it holds {VENV_MARKER}), whose files Python runs"
        if why is not None:
            raise ToolError(
                f"{path} refused: it is read-only to the agent ({why}); "
                "leave it as it is and change the task's own files"
            )

    def _descend(self, path: str, parts: Sequence[str], *, create: bool) -> int:
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for i, part in enumerate(parts):
                try:
                    nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o755, dir_fd=fd)
                    try:  # whatever is there now, it is opened only if it is a real folder
                        nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
                    except OSError as exc:
                        raise _explain(fd, part, path, exc, "/".join(parts[: i + 1])) from None
                except OSError as exc:
                    raise _explain(fd, part, path, exc, "/".join(parts[: i + 1])) from None
                os.close(fd)
                fd = nxt
        except BaseException:
            os.close(fd)
            raise
        return fd


def _check_regular(path: str, st: os.stat_result) -> None:
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise ToolError(f"{path} is a directory; use list_directory")
    if stat.S_ISLNK(mode):
        raise symlink_refused(path, path)
    if not stat.S_ISREG(mode):
        raise ToolError(
            f"{path} is not a regular file (it is a {kind_of(mode)}); only regular files can "
            "be read, written or edited"
        )
    if st.st_nlink > 1:
        raise ToolError(
            f"{path} refused: it is a hard link ({st.st_nlink} names for one file, which may "
            "be outside the workspace); hard-linked files are not read, written or edited"
        )


def _explain(dir_fd: int, name: str, path: str, exc: OSError, at: str | None = None) -> Exception:
    """Turn a failed open of `name` into a message saying what is in the way."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return exc
    if stat.S_ISLNK(st.st_mode):
        return symlink_refused(path, at or path)
    if at is not None and not stat.S_ISDIR(st.st_mode):
        return ToolError(f"{path}: {at!r} is not a directory (it is a {kind_of(st.st_mode)})")
    if at is None:
        try:
            _check_regular(path, st)
        except ToolError as refusal:
            return refusal
    return exc


def read_at_most(fd: int, limit: int) -> bytes:
    """Up to `limit` bytes from `fd`, however the kernel splits the reads."""
    chunks, left = [], limit
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def replace_content(fd: int, data: bytes) -> None:
    """Make the open file `fd` hold exactly `data`: written over from the start, then cut to
    its length. Not cut to zero first: on ext4 a file truncated to zero and rewritten is flushed
    to disk at close (auto_da_alloc), ~10x the cost of the write (measured in BENCHMARKS.md §7)."""
    os.lseek(fd, 0, os.SEEK_SET)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.ftruncate(fd, len(data))


def install_file(root: Path, rel: str, data: bytes, mode: int = 0o644) -> None:
    """Write `data` to `rel` under `root` for the harness (answer file, hidden checks), after the
    agent stopped: whatever the agent left at `rel` or at any of its folders (a symlink, FIFO,
    file or folder) is removed first, and nothing is followed, so the write cannot land outside
    `root` or block. Raises OSError if the workspace changes under it."""
    parts = PurePosixPath(rel).parts
    if not parts or PurePosixPath(rel).is_absolute() or ".." in parts:
        raise ValueError(f"{rel!r}: not a path inside the workspace")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            _clear(fd, part, keep_dir=True)
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=fd)
            nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nxt
        _clear(fd, parts[-1], keep_dir=False)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _FILE_FLAGS
        out = os.open(parts[-1], flags, mode & 0o777, dir_fd=fd)
        try:
            os.fchmod(out, mode & 0o777)
            replace_content(out, data)
        finally:
            os.close(out)
    finally:
        os.close(fd)


def _clear(dir_fd: int, name: str, *, keep_dir: bool) -> None:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        if not keep_dir:
            remove_tree(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)


def remove_tree(
    path: Path | str, *, dir_fd: int | None = None, ignore_errors: bool = False
) -> None:
    """Delete `path` (relative to `dir_fd` when given) and everything in it, following no
    symlink, however deep its folders nest: `shutil.rmtree` recurses and holds a descriptor
    per level, so a contestant's 1,100 nested folders make it raise. Here each folder's
    subfolders are first moved up into the top folder under fresh names, so the walk never
    goes more than one level down and holds two descriptors at most; a folder the agent made
    unreadable or read-only is made accessible first. A missing `path` is no error; otherwise
    the first OSError is raised once all that could go is gone, unless `ignore_errors`."""
    errors: list[OSError] = []
    try:
        st = os.stat(path, dir_fd=dir_fd, follow_symlinks=False)
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(path, dir_fd=dir_fd)
            return
        top = _open_dir(path, dir_fd)
        try:
            _empty_flat(top, errors)
        finally:
            os.close(top)
        os.rmdir(path, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    except OSError as exc:
        errors.append(exc)
    if errors and not ignore_errors:
        raise errors[0]


def _empty_flat(top: int, errors: list[OSError]) -> None:
    tag = f".bakeoff-removing-{secrets.token_hex(8)}-"  # no name the agent made can clash
    moved = 0
    pending: list[str | None] = [None]  # None: `top` itself; else a folder directly in it
    while pending:
        name = pending.pop()
        try:
            fd = top if name is None else _open_dir(name, top)
        except OSError as exc:
            errors.append(exc)
            continue
        try:
            with os.scandir(fd) as it:
                entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
            for entry, is_dir in entries:
                try:
                    if not is_dir:
                        os.unlink(entry, dir_fd=fd)
                    elif fd == top:
                        pending.append(entry)
                    else:
                        moved += 1
                        os.rename(entry, f"{tag}{moved}", src_dir_fd=fd, dst_dir_fd=top)
                        pending.append(f"{tag}{moved}")
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    errors.append(exc)
        except OSError as exc:
            errors.append(exc)
        finally:
            if fd != top:
                os.close(fd)
        if name is not None:
            try:
                os.rmdir(name, dir_fd=top)
            except OSError as exc:
                errors.append(exc)


def _open_dir(name: Path | str, dir_fd: int | None) -> int:
    """A descriptor of the real folder `name`; one the agent chmod-ed is given back to us."""
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except PermissionError:
        # O_PATH needs no permission and, with O_NOFOLLOW, never names a symlink's target.
        handle = os.open(name, os.O_PATH | _DIR_FLAGS, dir_fd=dir_fd)
        try:
            os.chmod(f"/proc/self/fd/{handle}", 0o700)
        finally:
            os.close(handle)
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    with contextlib.suppress(OSError):
        os.fchmod(fd, stat.S_IMODE(os.fstat(fd).st_mode) | stat.S_IRWXU)  # its files can go
    return fd
