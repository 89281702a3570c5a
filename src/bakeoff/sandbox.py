"""The OS sandbox for contestant code: every `run_command` and every check runs through
`run_sandboxed`. With bubblewrap (`bwrap`) the command sees a read-only system (`/usr`, `/etc`
and the Python that runs bakeoff, nothing else of the host: no home directory, no other
workspace, no `/proc` of other processes, and never the built-in suite's hidden tests or
solutions, which are masked by an empty folder even when bakeoff is installed under a mounted
prefix), its workspace as the only writable place besides a private, size-capped `/tmp` and
`/dev/shm`, no network unless the policy allows it, and an environment built from an allow-list
— never the parent's keys. CPU seconds, address space and file size are capped per process with
rlimits; the number of processes and the memory of the whole step are capped by a cgroup where
one can be made, else a watchdog kills a step that runs too many processes
(`bakeoff.sandbox_limits`); a workspace that grows past `SandboxPolicy.workspace_bytes` during
the step gets it killed. Everything the command started is killed when the step ends (a new PID
namespace dies with its first process; the whole group is killed on timeout or cancel, and the
step returns, or passes the cancellation on, only once the process's exit is collected).

Where bubblewrap cannot run (macOS, containers without user namespaces) `sandbox_status()` says
why, once; callers then refuse contestant commands unless the user passed
`--unsafe-no-sandbox`, and every record of such a run is marked unsandboxed. The unsandboxed
path keeps the allow-listed environment, the rlimits, the process and memory caps and the group
kill, nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bakeoff import sandbox_limits

SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
"""Host folders every sandbox sees read-only (a symlink among them stays a symlink)."""
MASKED_FILES = ("/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/ssh")
"""Host files under the read-only system that the sandbox sees empty."""
ENV_ALLOWED = ("LANG", "LC_ALL", "LC_CTYPE", "TZ")
"""The only variables copied from the parent environment; everything else is set here."""
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
MASKED_DIRS = (Path(__file__).resolve().parent / "evals" / "suite",)
"""Host folders every sandbox sees empty: the built-in tasks' hidden tests and solutions (by
path, not by import: the sandbox knows nothing of tasks)."""


@dataclass(frozen=True)
class SandboxPolicy:
    """What one sandboxed step may use."""

    network: bool = False
    """Keep the host's network (a task or the user opted in); off: no interfaces but loopback."""
    cpu_s: int | None = None
    """CPU seconds per process of the step (RLIMIT_CPU); None: the wall time limit plus 5 s."""
    memory_bytes: int = 2 * 1024**3
    """Address space per process."""
    total_memory_bytes: int = 4 * 1024**3
    """Memory of all the step's processes together, `/tmp` and `/dev/shm` included (a cgroup's
    cap; without one only `memory_bytes` per process applies)."""
    file_size_bytes: int = 64 * 1024**2
    """Largest file any process may write."""
    max_processes: int = 256
    """Processes the step may run at once (a cgroup's `pids.max`, else the watchdog's)."""
    tmp_bytes: int = 256 * 1024**2
    """Size of the private `/tmp`, and of the private `/dev/shm`."""
    workspace_bytes: int | None = None
    """Disk the workspace may use while the step runs (measured every second; the step is
    killed past it); None: not watched."""


@dataclass(frozen=True)
class SandboxStatus:
    """Whether contestant code can be sandboxed on this machine, and if not, why."""

    available: bool
    reason: str
    bwrap: str | None = None


@dataclass
class StepResult:
    """What one sandboxed step did."""

    exit_code: int | None
    """The command's exit status (negative: killed by that signal); None when it timed out."""
    output_path: Path
    """File holding stdout and stderr together (the caller reads the part it wants)."""
    duration_s: float
    timed_out: bool = False
    sandboxed: bool = True
    limit: str | None = None
    """The per-step cap the step ran into and was stopped by, in words, if any."""


@dataclass(frozen=True)
class Mounts:
    """Extra host paths for one step, each seen at the same path inside the sandbox."""

    read_only: Sequence[Path] = ()
    writable: Sequence[Path] = ()
    read_only_over: Sequence[tuple[Path, Path]] = field(default_factory=tuple)
    """(host source, destination) pairs bound read-only over a path, e.g. a hidden check file
    over its placeholder in the workspace."""


@functools.cache
def sandbox_status() -> SandboxStatus:
    """Probe bubblewrap once per process: present, and able to start a namespace here."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return SandboxStatus(
            False,
            "bubblewrap (bwrap) is not installed: on Debian/Ubuntu `apt-get install bubblewrap`",
        )
    here = Path(os.path.realpath("/tmp"))
    probe = [bwrap, *bwrap_args(here, SandboxPolicy(), Mounts()), "/bin/true"]
    try:
        done = subprocess.run(probe, capture_output=True, timeout=20, env=_base_env())
    except (OSError, subprocess.TimeoutExpired) as exc:
        return SandboxStatus(False, f"bubblewrap could not start: {exc}", bwrap)
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip() or f"exit {done.returncode}"
        return SandboxStatus(
            False, f"bubblewrap cannot create namespaces here ({why[:200]})", bwrap
        )
    return SandboxStatus(True, "bubblewrap", bwrap)


def use_sandbox(requested: bool | None = None) -> bool:
    """Whether a step runs sandboxed: `requested`, or (None) whenever bubblewrap works here.
    Falling back says why, once per process, on the `bakeoff` logger."""
    if requested is not None:
        return requested
    status = sandbox_status()
    if not status.available:
        _warn_once(status.reason)
    return status.available


@functools.cache
def _warn_once(reason: str) -> None:
    logging.getLogger("bakeoff").warning(
        "contestant code runs UNSANDBOXED: %s. Checks still run (marked unsandboxed in every "
        "report); run_command needs --unsafe-no-sandbox.",
        reason,
    )


def python_dirs() -> list[Path]:
    """Host folders the interpreter running bakeoff needs: its prefix, base and venv."""
    dirs = {
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(sys.exec_prefix),
        Path(os.path.realpath(sys.executable)).parent.parent,
    }
    return sorted({Path(os.path.realpath(d)) for d in dirs} | dirs)


def step_env(
    workspace: Path, *, path_prefix: Sequence[Path] = (), extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a contestant step: an allow-list, never the parent's secrets."""
    env = _base_env()
    env["PATH"] = os.pathsep.join([*(str(p) for p in path_prefix), SYSTEM_PATH])
    env["HOME"] = "/tmp"
    env["TMPDIR"] = "/tmp"
    env["PWD"] = str(workspace)
    env["TERM"] = "dumb"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONNOUSERSITE"] = "1"
    # pytest loads no plugin it finds installed beside bakeoff (pytest-asyncio's warnings,
    # pytest-randomly's order): a check's verdict, and the test output a contestant's
    # run_command shows, depend on the task alone. A check that needs one names its module
    # (`python -m pytest -p pytest_asyncio.plugin`).
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env.update(extra or {})
    return env


async def run_sandboxed(
    command: str,
    *,
    workspace: Path,
    output_path: Path,
    timeout_s: float,
    env: Mapping[str, str],
    policy: SandboxPolicy = SandboxPolicy(),
    mounts: Mounts = Mounts(),
    sandboxed: bool = True,
    pass_fds: Sequence[int] = (),
) -> StepResult:
    """Run `command` through `/bin/sh -c` at `workspace`, output to `output_path`; kill all of
    it on timeout, on cancellation or past a cap of `policy`. `pass_fds` stay open in the
    command (a check's verdict channel). `sandboxed=False` is the explicit unsafe fallback."""
    workspace = Path(os.path.realpath(workspace))
    if sandboxed:
        status = sandbox_status()
        if not status.available or status.bwrap is None:
            raise RuntimeError(f"no sandbox on this machine: {status.reason}")
        argv = [status.bwrap, *bwrap_args(workspace, policy, mounts), "/bin/sh", "-c", command]
    else:
        argv = ["/bin/sh", "-c", command]
    started = time.monotonic()
    timed_out = False
    cgroup = await asyncio.to_thread(_step_cgroup, policy)
    rlimits = sandbox_limits.rlimits(
        cpu_s=policy.cpu_s if policy.cpu_s is not None else math.ceil(timeout_s) + 5,
        memory_bytes=policy.memory_bytes,
        file_size_bytes=policy.file_size_bytes,
        max_processes=policy.max_processes,
    )
    join = cgroup.join() if cgroup is not None else None

    def preexec() -> None:
        if join is not None:
            join()
        rlimits()

    limit: str | None = None
    try:
        with output_path.open("wb") as output:
            # Output goes to a file, not a pipe: a stray process holding a pipe open could
            # otherwise keep us waiting long after the command itself is gone.
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=workspace,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=preexec,
                pass_fds=tuple(pass_fds),
            )
            try:
                limit = await sandbox_limits.watch(
                    proc,
                    workspace,
                    max_processes=None if cgroup else policy.max_processes,
                    workspace_bytes=policy.workspace_bytes,
                    deadline=started + timeout_s,
                )
                timed_out = limit is None and proc.returncode is None
            finally:
                # On timeout, cancellation and success alike: whatever it started dies with
                # it, and its exit is collected before we return (or re-raise).
                kill_group(proc.pid)
                await _reap(proc)
    finally:
        if cgroup is not None:
            limit = limit or cgroup.hit()
            await asyncio.to_thread(cgroup.remove)
    if limit is not None:
        with output_path.open("ab") as output:
            output.write(f"\n[bakeoff: the step was stopped by {limit}]\n".encode())
    return StepResult(
        exit_code=None if timed_out else proc.returncode,
        output_path=output_path,
        duration_s=round(time.monotonic() - started, 3),
        timed_out=timed_out,
        sandboxed=sandboxed,
        limit=limit,
    )


def _step_cgroup(policy: SandboxPolicy) -> sandbox_limits.StepCgroup | None:
    kind = sandbox_limits.limits_status().cgroup
    if kind is None:
        return None
    try:
        return sandbox_limits.StepCgroup.create(
            kind, max_processes=policy.max_processes, memory_bytes=policy.total_memory_bytes
        )
    except OSError:
        return None  # e.g. a cgroup limit on descendants: the watchdog still caps processes


def bwrap_args(workspace: Path, policy: SandboxPolicy, mounts: Mounts) -> list[str]:
    """bubblewrap's arguments for one step (the command follows them)."""
    args = [*_system_binds()]
    args += ["--dev", "/dev", "--proc", "/proc"]
    # The private /tmp first: binds that follow may lie under it (a venv in /tmp, a workspace).
    args += ["--size", str(policy.tmp_bytes), "--tmpfs", "/tmp"]
    args += ["--size", str(policy.tmp_bytes), "--tmpfs", "/dev/shm"]
    bound = [Path(d) for d in SYSTEM_DIRS if os.path.isdir(d) and not os.path.islink(d)]
    for host in python_dirs():
        if host.exists() and not _under_system(host):
            args += ["--ro-bind", str(host), str(host)]
            bound.append(host)
    for ro in mounts.read_only:
        args += ["--ro-bind", str(ro), str(ro)]
    for rw in mounts.writable:
        args += ["--bind", str(rw), str(rw)]
    args += ["--bind", str(workspace), str(workspace)]
    for source, dest in mounts.read_only_over:
        args += ["--ro-bind", str(source), str(dest)]
    bound += [*mounts.read_only, *mounts.writable, workspace]
    for masked in MASKED_DIRS:
        real = Path(os.path.realpath(masked))
        # Only where a bind shows it (a non-editable install); elsewhere it is not there.
        shown = any(real.is_relative_to(b) for b in bound)
        if real.is_dir() and shown and not workspace.is_relative_to(real):
            args += ["--tmpfs", str(real)]
    args += ["--chdir", str(workspace)]
    args += ["--unshare-all", "--unshare-user", "--disable-userns"]
    args += ["--die-with-parent", "--new-session"]
    if policy.network:
        args.append("--share-net")
    args.append("--")
    return args


async def _reap(proc: asyncio.subprocess.Process) -> None:
    """Wait until the exit of a killed `proc` has been collected, however often the caller is
    cancelled meanwhile (a second Ctrl-C, `asyncio.run` cancelling every task as it shuts
    down): a process whose exit the event loop never saw is reported as still running
    (ResourceWarning) when its loop closes. A cancellation that arrived while waiting is raised
    once the process is reaped. Gives up after `_REAP_S` (a process stuck in the kernel)."""
    cancelled = False
    deadline = time.monotonic() + _REAP_S
    while proc.returncode is None and time.monotonic() < deadline:
        try:
            await asyncio.sleep(0.005)  # the child watcher reports the exit through the loop
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError


_REAP_S = 10.0


def kill_group(pgid: int) -> None:
    """SIGKILL a process group; quiet when it is already gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def read_tail(path: Path, limit: int) -> str:
    """The last `limit` bytes of a file as text, noting how much was cut."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        if size > limit:
            handle.seek(size - limit)
        data = handle.read()
    text = data.decode("utf-8", errors="replace")
    return f"[... {size - limit} bytes cut ...]\n{text}" if size > limit else text


def _base_env() -> dict[str, str]:
    env = {k: os.environ[k] for k in ENV_ALLOWED if k in os.environ}
    env.setdefault("LANG", "C.UTF-8")
    env["PATH"] = SYSTEM_PATH
    return env


def _system_binds() -> list[str]:
    args: list[str] = []
    for name in SYSTEM_DIRS:
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    for masked in MASKED_FILES:
        if os.path.isdir(masked):
            args += ["--tmpfs", masked]
        elif os.path.exists(masked):
            args += ["--ro-bind", "/dev/null", masked]
    return args


def _under_system(path: Path) -> bool:
    return any(
        str(path) == d or str(path).startswith(d + "/")
        for d in SYSTEM_DIRS
        if not os.path.islink(d)
    )
