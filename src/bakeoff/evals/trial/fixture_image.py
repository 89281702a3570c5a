"""A small task fixture held in memory: each trial's workspace is written from it, and the
snapshot of the workspace before the agent starts is the image itself, not a walk that reads
the copy back. A fixture qualifies when it is small (at most `INLINE_ENTRIES` entries and
`INLINE_BYTES` bytes, as `file_work.fits_inline` counts) and holds only folders and regular
files with one name each; anything else (a link, a FIFO, a hard link, a larger tree) gets None
and is copied from disk by `task.prepare_workspace`. The copy is the one `shutil.copytree`
makes (the same names left out, each file's and folder's mode and times kept). The image is
read once per fixture per process and used again while a fresh walk of the folder finds every
entry with the size, times and inode it had, so a fixture edited during a long-lived process
is read again."""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from bakeoff.evals.store.records import Snapshot
from bakeoff.evals.trial.diff import SKIP_DIRS
from bakeoff.evals.trial.file_work import INLINE_BYTES, INLINE_ENTRIES
from bakeoff.workspace import read_at_most

IGNORED = ("__pycache__", "*.pyc", ".pytest_cache", ".DS_Store")
"""Names a fixture copy leaves out (`task.prepare_workspace`'s `shutil.ignore_patterns`)."""

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

Signature = tuple[tuple[str, int, int, int, int, int], ...]
"""(path, mode, size, inode, mtime_ns, ctime_ns) of every entry, in walk order."""


@dataclass(frozen=True)
class _Entry:
    rel: str
    """`/`-separated, "" for the fixture folder itself."""
    mode: int
    times_ns: tuple[int, int]
    data: bytes | None
    """None for a folder."""


@dataclass(frozen=True)
class FixtureImage:
    """A fixture's folders and files, in the order `shutil.copytree` makes them."""

    entries: tuple[_Entry, ...]
    before: Snapshot
    """What `diff.snapshot` reads from a fresh copy (caches and `.git` left out)."""

    def write(self, dest: Path) -> Snapshot:
        """Make the copy at `dest` (missing, or an empty folder we made); returns a new copy
        of `before` for the trial to own."""
        dest.mkdir(parents=True, exist_ok=True)
        for entry in self.entries:
            path = os.path.join(dest, entry.rel) if entry.rel else str(dest)
            if entry.data is None:
                if entry.rel:
                    os.mkdir(path, 0o700)
                continue
            fd = os.open(path, _WRITE_FLAGS, 0o600)
            try:
                view = memoryview(entry.data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fchmod(fd, entry.mode)
                os.utime(fd, ns=entry.times_ns)
            finally:
                os.close(fd)
        # Folders last and deepest first, as copytree does: filling one changes its times.
        for entry in reversed(self.entries):
            if entry.data is None:
                path = os.path.join(dest, entry.rel) if entry.rel else str(dest)
                os.chmod(path, entry.mode)
                os.utime(path, ns=entry.times_ns)
        return dict(self.before)


_images: dict[str, tuple[Signature, FixtureImage]] = {}


def fixture_image(folder: Path) -> FixtureImage | None:
    """The image of the fixture at `folder`, or None when it does not qualify (see the module
    docstring) or cannot be read."""
    try:
        signature = _signature(str(folder))
    except OSError:
        return None
    if signature is None:
        return None
    cached = _images.get(str(folder))
    if cached is not None and cached[0] == signature:
        return cached[1]
    try:
        image = _read(str(folder), signature)
    except OSError:
        return None
    if image is not None:
        _images[str(folder)] = (signature, image)
    return image


_IGNORED = re.compile("|".join(fnmatch.translate(pattern) for pattern in IGNORED))


def _signature(root: str) -> Signature | None:
    """Every entry copytree would copy, in the order `diff.snapshot` walks (sorted, a folder's
    entries where its name sorts); None past the limits or at anything but a folder or a
    regular file with one name."""
    st = os.stat(root, follow_symlinks=False)
    if not stat.S_ISDIR(st.st_mode):
        return None
    out = [("", st.st_mode, 0, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)]
    return tuple(out) if _walk(root, "", out, [0]) else None


def _walk(
    root: str, rel: str, out: list[tuple[str, int, int, int, int, int]], size: list[int]
) -> bool:
    with os.scandir(os.path.join(root, rel) if rel else root) as it:
        found = sorted((e.name, e) for e in it if not _IGNORED.match(e.name))
    for name, entry in found:
        path = f"{rel}/{name}" if rel else name
        st = entry.stat(follow_symlinks=False)
        is_dir = stat.S_ISDIR(st.st_mode)
        if not is_dir and (not stat.S_ISREG(st.st_mode) or st.st_nlink > 1):
            return False
        size[0] += st.st_size
        out.append((path, st.st_mode, st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns))
        if len(out) - 1 > INLINE_ENTRIES or size[0] > INLINE_BYTES:
            return False
        if is_dir and not _walk(root, path, out, size):
            return False
    return True


def _read(root: str, signature: Signature) -> FixtureImage | None:
    entries = []
    before: Snapshot = {}
    for rel, mode, size, ino, mtime_ns, _ in signature:
        path = os.path.join(root, rel) if rel else root
        st = os.stat(path, follow_symlinks=False)
        times = (st.st_atime_ns, mtime_ns)
        if stat.S_ISDIR(mode):
            entries.append(_Entry(rel, stat.S_IMODE(mode), times, None))
            continue
        fd = os.open(path, _READ_FLAGS)
        try:
            now = os.fstat(fd)
            if (now.st_ino, now.st_size, now.st_mtime_ns) != (ino, size, mtime_ns):
                return None  # changed while being read: copy it from disk this time
            data = read_at_most(fd, size + 1)
        finally:
            os.close(fd)
        if len(data) != size:
            return None
        entries.append(_Entry(rel, stat.S_IMODE(mode), times, data))
        if not any(part in SKIP_DIRS for part in rel.split("/")[:-1]):
            before[rel] = data
    return FixtureImage(tuple(entries), before)
