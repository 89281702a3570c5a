"""Per-step caps that rlimits cannot give: how many processes a sandboxed step may run at once
and how much memory all of them may use together, and a workspace that must stay under a size
while the step writes to it.

A cgroup does it where this process may create one (cgroup v2 with the `pids` and `memory`
controllers delegated to our cgroup, or v1's `pids` and `memory` hierarchies, as root in a
container without systemd): the step's first process joins a fresh child cgroup before it execs,
so everything it starts is counted and capped by the kernel (`pids.max`; `memory.max` or
`memory.limit_in_bytes`, the OOM killer acting inside the step only), and the cgroup is emptied
and removed when the step ends. Where none can be made (an unprivileged user without delegation,
macOS), a watchdog polls the step's process tree every `POLL_S` and kills the whole step once it
holds more than the cap: a fork bomb is stopped within one poll instead of never, and the memory
cap stays per process (`RLIMIT_AS`). `limits_status()` says which applies here. The workspace
size is watched the same way (each file is also capped by `RLIMIT_FSIZE`, and tools measure the
workspace after each step), because no bind mount can be size-capped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import os
import resource
import signal
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

POLL_S = 0.1
"""How often the watchdog looks at a running step's processes."""
WORKSPACE_POLL_S = 1.0
"""How often the watchdog measures a running step's workspace (a walk of the tree)."""
CGROUP_ROOT = Path("/sys/fs/cgroup")
_counter = itertools.count()

CgroupKind = Literal["v2", "v1"]


@dataclass(frozen=True)
class LimitsStatus:
    """How per-step process and memory caps are enforced on this machine."""

    cgroup: CgroupKind | None
    """The cgroup version used, or None: the watchdog and per-process rlimits only."""
    reason: str
    """In words: which enforcement applies here and, without a cgroup, why."""


@functools.cache
def limits_status() -> LimitsStatus:
    """Probe once per process whether a step cgroup can be made here (set
    BAKEOFF_NO_CGROUP=1 to use the watchdog even where one could)."""
    if os.environ.get("BAKEOFF_NO_CGROUP"):
        return LimitsStatus(None, "cgroups turned off by BAKEOFF_NO_CGROUP: watchdog")
    why = ""
    for kind in ("v2", "v1"):
        try:
            probe = StepCgroup.create(kind, max_processes=8, memory_bytes=64 * 1024**2)
        except OSError as exc:
            why = f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc)
            continue
        probe.remove()
        return LimitsStatus(kind, f"cgroup {kind}: processes and memory capped per step")
    return LimitsStatus(
        None,
        f"no cgroup can be made here ({why}): a watchdog caps processes, memory is capped "
        "per process",
    )


def _own_cgroup(controller: str) -> str | None:
    """Our cgroup's path in the hierarchy of `controller` ('' for v2's unified one)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controller in controllers.split(","):
                return path
    return None


class StepCgroup:
    """A fresh cgroup (one per controller in v1) that one step's processes join."""

    def __init__(self, dirs: list[Path]) -> None:
        self.dirs = dirs

    @classmethod
    def create(cls, kind: CgroupKind, *, max_processes: int, memory_bytes: int) -> StepCgroup:
        """Make and configure the step's cgroup; OSError when this machine does not allow it."""
        name = f"bakeoff-{os.getpid()}-{next(_counter)}"
        if kind == "v2":
            own = _own_cgroup("")
            if own is None or not (CGROUP_ROOT / "cgroup.controllers").is_file():
                raise OSError("no cgroup v2 hierarchy at /sys/fs/cgroup")
            parent = CGROUP_ROOT / own.lstrip("/")
            settings = [(parent / name, {"pids.max": max_processes, "memory.max": memory_bytes})]
        else:
            pids, memory = _own_cgroup("pids"), _own_cgroup("memory")
            if pids is None or memory is None:
                raise OSError("no cgroup v1 pids and memory hierarchies")
            settings = [
                (CGROUP_ROOT / "pids" / pids.lstrip("/") / name, {"pids.max": max_processes}),
                (
                    CGROUP_ROOT / "memory" / memory.lstrip("/") / name,
                    {"memory.limit_in_bytes": memory_bytes},
                ),
            ]
        made = cls([])
        try:
            for folder, values in settings:
                folder.mkdir()
                made.dirs.append(folder)
                for key, value in values.items():
                    (folder / key).write_text(str(value))
        except OSError:
            made.remove()
            raise
        return made

    def join(self) -> Callable[[], None]:
        """A pre-exec hook moving the child into this cgroup (nothing heavy, no raising: it
        runs between fork and exec; a failure leaves the watchdog's cap)."""
        procs = [str(folder / "cgroup.procs") for folder in self.dirs]

        def apply() -> None:
            for path in procs:
                try:
                    fd = os.open(path, os.O_WRONLY)
                    try:
                        os.write(fd, str(os.getpid()).encode())
                    finally:
                        os.close(fd)
                except OSError:
                    pass

        return apply

    def hit(self) -> str | None:
        """Which cap the step ran into, if any, in words."""
        for folder in self.dirs:
            events = {}
            with contextlib.suppress(OSError, ValueError):
                for line in (folder / "pids.events").read_text().splitlines():
                    key, value = line.split()
                    events[key] = int(value)
            if events.get("max"):
                return "the process cap"
            with contextlib.suppress(OSError, ValueError):
                for line in (folder / "memory.events").read_text().splitlines():
                    key, value = line.split()
                    if key == "oom_kill" and int(value):
                        return "the memory cap"
            with contextlib.suppress(OSError, ValueError):
                if int((folder / "memory.failcnt").read_text()):
                    return "the memory cap"
        return None

    def remove(self) -> None:
        """Kill whatever still runs in the cgroup and remove it (retrying a moment while the
        kernel finishes the kills)."""
        deadline = time.monotonic() + 2.0
        for folder in self.dirs:
            while folder.exists():
                for pid in _procs(folder):
                    with contextlib.suppress(ProcessLookupError, PermissionError, ValueError):
                        os.kill(int(pid), signal.SIGKILL)
                try:
                    folder.rmdir()
                except OSError:
                    if time.monotonic() > deadline:
                        break  # left behind empty-ish: harmless, and never reused
                    time.sleep(0.01)
        self.dirs = []


def _procs(folder: Path) -> list[str]:
    try:
        return (folder / "cgroup.procs").read_text().split()
    except OSError:
        return []


def descendants(root: int) -> int:
    """How many processes descend from `root` (itself included): every process a sandboxed
    step starts stays under its bwrap, since orphans are adopted by the step's own PID 1."""
    children: dict[int, list[int]] = {}
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as handle:
                    stat = handle.read()
            except OSError:
                continue
            ppid = int(stat.rsplit(b")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    count, stack = 0, [root]
    while stack:
        pid = stack.pop()
        count += 1
        stack.extend(children.get(pid, ()))
    return count


async def watch(
    proc: asyncio.subprocess.Process,
    workspace: Path,
    *,
    max_processes: int | None,
    workspace_bytes: int | None,
    deadline: float,
) -> str | None:
    """Wait for `proc` until `deadline` (a `time.monotonic()`), counting its processes (when
    `max_processes` is set: no cgroup caps them) and measuring its workspace as it runs;
    returns the cap it broke, or None (it exited, or ran out of time)."""
    exited = asyncio.ensure_future(proc.wait())
    next_size_check = time.monotonic() + WORKSPACE_POLL_S
    try:
        while (left := deadline - time.monotonic()) > 0:
            done, _ = await asyncio.wait({exited}, timeout=min(left, POLL_S))
            if done:
                return None
            if max_processes is not None:
                count = await asyncio.to_thread(descendants, proc.pid)
                if count > max_processes + 2:  # bwrap and its init are ours
                    return f"the process cap ({max_processes})"
            if workspace_bytes is not None and time.monotonic() >= next_size_check:
                used = await asyncio.to_thread(disk_used, workspace)
                if used > workspace_bytes:
                    return f"the workspace size cap ({used} > {workspace_bytes} bytes)"
                next_size_check = time.monotonic() + WORKSPACE_POLL_S
        return None
    finally:
        exited.cancel()


ENTRY_BYTES = 4096
"""What one entry costs at least, whatever it holds: an empty file takes no block but an inode,
so a million of them (the host's inodes, a contestant's cheapest flood) weigh 4 GB here."""


def disk_used(root: Path) -> int:
    """Bytes allocated under `root` (sparse files as what they use, every entry at least
    `ENTRY_BYTES`), links not followed,
    however deep its folders nest: walked by descriptor, one folder down by name and back up
    by `..` (a walk by path stops at the OS's path length, some 2,000 levels down), holding two
    descriptors. A folder moved while it is walked (a step still running) ends the walk where
    it is: going up must land on the folder it came from."""
    total = 0
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        above: list[tuple[int, int]] = []  # (device, inode) of each folder on the way down
        pending = [_folder_usage(fd)]
        total += pending[-1][0]
        while pending:
            folders = pending[-1][1]
            if folders:
                try:
                    child = os.open(folders.pop(), _WALK_FLAGS, dir_fd=fd)
                except OSError:
                    continue
                st = os.fstat(fd)
                above.append((st.st_dev, st.st_ino))
                os.close(fd)
                fd = child
                pending.append(_folder_usage(fd))
                total += pending[-1][0]
            else:
                pending.pop()
                if not above:
                    break
                parent = os.open("..", _WALK_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = parent
                st = os.fstat(fd)
                if (st.st_dev, st.st_ino) != above.pop():
                    break
    finally:
        os.close(fd)
    return total


_WALK_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _folder_usage(fd: int) -> tuple[int, list[str]]:
    """Bytes the entries of folder `fd` use, and its subfolders' names."""
    total, folders = 0, []
    with contextlib.suppress(OSError), os.scandir(fd) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                st = entry.stat(follow_symlinks=False)
                total += max(st.st_blocks * 512, ENTRY_BYTES)
                if stat.S_ISDIR(st.st_mode):
                    folders.append(entry.name)
    return total, folders


def _user_processes() -> int:
    """How many processes this user runs now: RLIMIT_NPROC counts them all, not just ours."""
    uid = os.getuid()
    count = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    count += entry.stat().st_uid == uid
    return count


def rlimits(
    *, cpu_s: int, memory_bytes: int, file_size_bytes: int, max_processes: int
) -> Callable[[], None]:
    """A pre-exec hook setting the per-process caps (CPU seconds, address space, file size,
    no core dumps; processes per user where the kernel applies it, i.e. not for root)."""
    limits = [
        (resource.RLIMIT_CPU, cpu_s, cpu_s + 5),
        (resource.RLIMIT_AS, memory_bytes, memory_bytes),
        (resource.RLIMIT_FSIZE, file_size_bytes, file_size_bytes),
        (resource.RLIMIT_CORE, 0, 0),
    ]
    if os.getuid() != 0:  # the kernel never applies it to root
        nproc = _user_processes() + max_processes
        limits.append((resource.RLIMIT_NPROC, nproc, nproc))

    def apply() -> None:
        # Runs in the child between fork and exec: no raising, nothing heavy.
        for kind, soft, hard in limits:
            try:
                current_hard = resource.getrlimit(kind)[1]
                if current_hard != resource.RLIM_INFINITY:
                    soft, hard = min(soft, current_hard), min(hard, current_hard)
                resource.setrlimit(kind, (soft, hard))
            except (ValueError, OSError):
                pass  # e.g. macOS refuses RLIMIT_AS; the other limits still apply

    return apply
