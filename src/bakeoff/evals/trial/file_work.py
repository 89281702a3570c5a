"""A trial's file work on its workspace (copying the fixture, snapshots, the diff, the kept
changes, the tamper scan, the delete): where it runs and what its failures are. A small tree
(`fits_inline`: at most `INLINE_ENTRIES` entries and `INLINE_BYTES` bytes, measured by a walk
that stops at the limits and follows no link) is worked on the event loop, where it costs tens
of microseconds, less than a hop to a thread and back; a larger one, or one that cannot be
measured, goes to a thread under `FILE_WORK_TIMEOUT_S`. A small tree is deleted on the loop only
on a filesystem in memory (`deletes_inline`); on a disk a delete can take milliseconds. Either
way a failure on odd bytes, names or shapes is a `HarnessError` naming the step; whose fault it
is, is the trial's to say (`trial.attribute`)."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

FILE_WORK_TIMEOUT_S = 120.0
"""Longest one piece of file work (copy, snapshot, diff, scan, install) may take."""

P = ParamSpec("P")
R = TypeVar("R")


class HarnessError(Exception):
    """A piece of bakeoff's file work on a trial's workspace failed (an OS or data error, or its
    time limit); whose fault that is depends on when (`attribute`)."""


DATA_ERRORS = (OSError, ValueError, ArithmeticError, RecursionError, MemoryError)
"""What file work raises on odd bytes, names or shapes (a NUL, a folder too deep, a file too
big): a fault of the data, not a bug in the code that read it."""


async def off_loop(what: str, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Blocking file work in a thread, under its own time limit."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(fn, *args, **kwargs), FILE_WORK_TIMEOUT_S)
    except TimeoutError:
        raise HarnessError(f"{what} took over {FILE_WORK_TIMEOUT_S:g} s") from None
    except DATA_ERRORS as exc:
        raise HarnessError(f"{what} failed: {type(exc).__name__}: {exc}") from None


INLINE_ENTRIES = 64
INLINE_BYTES = 256 * 1024
"""A tree of at most `INLINE_ENTRIES` entries (files, folders, links) and `INLINE_BYTES` bytes
has its file work done on the event loop: copying, snapshotting, diffing and scanning it takes
tens of microseconds, less than handing it to a thread and back (measured in BENCHMARKS.md §7).
A larger tree, or one that cannot be measured, goes to a thread under `FILE_WORK_TIMEOUT_S`."""


def fits_inline(root: Path) -> bool:
    """Whether the tree at `root` is within `INLINE_ENTRIES` and `INLINE_BYTES` (apparent
    sizes, links not followed). The walk stops at the first entry over either limit, so it
    costs at most that many entries however large the tree; any error means no."""
    entries, size, folders = 0, 0, [str(root)]
    try:
        while folders:
            with os.scandir(folders.pop()) as it:
                for entry in it:
                    entries += 1
                    size += entry.stat(follow_symlinks=False).st_size
                    if entries > INLINE_ENTRIES or size > INLINE_BYTES:
                        return False
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(entry.path)
    except OSError:
        return False
    return True


MEMORY_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})


@functools.cache
def _memory_device(device: int) -> bool:
    """Whether the filesystem of device number `device` keeps its files in memory, by
    /proc/self/mountinfo (Linux); False where that cannot be read."""
    wanted = f"{os.major(device)}:{os.minor(device)}"
    try:
        mounts = Path("/proc/self/mountinfo").read_text(errors="replace").splitlines()
    except OSError:
        return False
    for line in mounts:
        fields, _, rest = line.partition(" - ")
        parts = fields.split()
        if len(parts) > 2 and parts[2] == wanted:
            return rest.split(" ", 1)[0] in MEMORY_FILESYSTEMS
    return False


def deletes_inline(root: Path) -> bool:
    """Whether a small tree under `root` is deleted on the event loop: on a filesystem in
    memory it takes ~20 µs, less than a thread hop; on a disk it can take 15 ms (ext4 mounted
    with discard, measured in BENCHMARKS.md §7), so there it goes to a thread."""
    try:
        return _memory_device(os.stat(root).st_dev)
    except OSError:
        return False


async def file_work(
    inline: bool, what: str, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs
) -> R:
    """File work on a tree `fits_inline` measured: here when it fits, else `off_loop`; its
    failures are the same `HarnessError` either way."""
    if not inline:
        return await off_loop(what, fn, *args, **kwargs)
    try:
        return fn(*args, **kwargs)
    except DATA_ERRORS as exc:
        raise HarnessError(f"{what} failed: {type(exc).__name__}: {exc}") from None
