"""Keeps `run_command` off the protected paths (`bakeoff.protected`): a shell can write any
file its sandbox lets it, so the tools' refusal alone does not hold there. Before a command,
every protected path that exists (a file or a real folder) is bound read-only over itself in
the sandbox: the command can neither change, delete nor rename it (a mount point cannot be
moved). What a command can still do is make a protected path that did not exist (`.envrc`, a
`.pth`, `.git/hooks` in a new `.git`), or rename a folder above a read-only one and build a new
one in its place. So after the command the whole workspace is scanned again, by descriptor,
however deep or wide: every protected path that is new, or not the one that was there, is
removed (a folder that became a virtualenv only by a new `pyvenv.cfg` loses that file), every
original that was moved is put back, and the model is told what was undone and why. A
workspace whose protected paths cannot all be bound (over `MAX_BOUND`, or a path longer than
the sandbox takes) refuses the command rather than run it half-guarded. Without the sandbox
(`--unsafe-no-sandbox`) nothing is bound read-only: the refusal and the scan after still apply.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from bakeoff.errors import ToolError
from bakeoff.protected import VENV_MARKER, Found, Scan, protection, scan
from bakeoff.workspace import Workspace, remove_tree

MAX_BOUND = 256
"""Protected paths a workspace may hold for run_command (one read-only bind each)."""
MAX_BOUND_CHARS = 2048
"""Longest protected path that is bound (bubblewrap takes paths the OS takes whole)."""
MAX_PASSES = 32
"""Scans after a command; each undoes one layer (a virtualenv marker inside another)."""

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def before_command(ws: Workspace) -> tuple[Scan, list[tuple[Path, Path]]]:
    """The protected paths of `ws` now, and the read-only binds (source, destination) that
    keep them as they are during a command; ToolError when they cannot all be bound."""
    found = scan(ws.root, ws.protected, allow_git=ws.allow_git_writes)
    binds = [
        (ws.root / f.path, ws.root / f.path)
        for f in found.found.values()
        if f.kind in ("file", "directory")  # a symlink is bound by what it names: never
    ]
    too_long = [p for p, _ in binds if len(str(p)) > MAX_BOUND_CHARS]
    if len(binds) > MAX_BOUND or too_long:
        raise ToolError(
            f"run_command refused: the workspace holds {len(binds)} protected paths "
            f"(.git, virtualenvs, .pth files...), more than the {MAX_BOUND} the sandbox keeps "
            "read-only, or one nested too deep; use the file tools instead"
        )
    return found, binds


def after_command(ws: Workspace, before: Scan) -> str:
    """Undo what a command did to `ws`'s protected paths (see the module docstring); a note
    for the model saying what was undone, or '' when nothing was."""
    wanted = {f.inode: f for f in before.found.values()}
    notes: list[str] = []
    for last in range(MAX_PASSES):
        now = scan(ws.root, ws.protected, allow_git=ws.allow_git_writes, wanted=wanted)
        new = [
            f
            for p, f in now.found.items()
            if f.inode not in wanted and (p not in before.found or before.found[p] != f)
        ]
        moved = [f for p, f in before.found.items() if now.found.get(p) != f]
        if not new and not moved:
            break
        # Originals first: one may lie inside a new folder that is removed next.
        for original in moved:
            at = now.located.get(original.inode)
            if at is None:
                notes.append(f"{original.path} was removed and could not be put back")
                wanted.pop(original.inode, None)
                before.found.pop(original.path, None)
                continue
            notes.append(_put_back(ws, at, original))
        for found in new:
            note = _undo_new(ws, found, everything=last == MAX_PASSES - 1)
            if note is not None:
                notes.append(note)
    if not notes:
        return ""
    return (
        "\n[bakeoff: protected paths are read-only to the agent (they run code or change "
        "settings the next time someone uses the folder); undone after the command: "
        + "; ".join(dict.fromkeys(notes))
        + "]"
    )


def _undo_new(ws: Workspace, found: Found, *, everything: bool) -> str | None:
    why = protection(found.path.split("/"), ws.protected, allow_git=ws.allow_git_writes)
    try:
        with _parent(ws.root, found.path) as (fd, name):
            if found.marker and not everything:
                # Only the marker made it a virtualenv: the folder's files are the agent's own
                # (what in it is protected by name is found by the next scan).
                with _parent(ws.root, f"{found.path}/{VENV_MARKER}") as (inner, marker):
                    os.unlink(marker, dir_fd=inner)
                return f"removed {found.path}/{VENV_MARKER} (it made a virtualenv)"
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if (st.st_dev, st.st_ino) != found.inode:
                return None  # an original put back took its place
            remove_tree(name, dir_fd=fd)
    except FileNotFoundError:
        return None  # gone with the one it was in, or in an original's place
    except OSError as exc:
        return f"could not remove {found.path}: {exc.strerror or exc}"
    return f"removed {found.path} ({why or 'it is a virtualenv'})"


def _put_back(ws: Workspace, at: str, original: Found) -> str:
    try:
        with _parent(ws.root, original.path, create=True) as (dst, name):
            with contextlib.suppress(FileNotFoundError):
                remove_tree(name, dir_fd=dst)  # what the command put in its place
            with _parent(ws.root, at) as (src, old):
                os.rename(old, name, src_dir_fd=src, dst_dir_fd=dst)
    except OSError as exc:
        return f"could not put {original.path} back from {at}: {exc.strerror or exc}"
    return f"put back {original.path} (the command had moved it to {at})"


@contextlib.contextmanager
def _parent(root: Path, rel: str, *, create: bool = False):  # type: ignore[no-untyped-def]
    """A descriptor of the folder holding `rel`'s last part, and that part, walked by name
    without following a link; `create` replaces whatever is in the way by a folder."""
    parts = rel.split("/")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            try:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError:
                if not create:
                    raise
                with contextlib.suppress(FileNotFoundError):
                    st = os.stat(part, dir_fd=fd, follow_symlinks=False)
                    if not stat.S_ISDIR(st.st_mode):
                        os.unlink(part, dir_fd=fd)
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nxt
        yield fd, parts[-1]
    finally:
        os.close(fd)
