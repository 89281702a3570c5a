"""What every benchmark script prints besides its own numbers: a description of the machine it
ran on (CPU model, cores, memory, Python, date), its results as a markdown block ready to paste
into BENCHMARKS.md, and a guard that refuses any network connection that is not loopback, so a
benchmark can prove it never phoned home."""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
"""The repository root (benchmarks/ lives in it)."""


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return None


def gpu_note() -> str:
    if Path("/dev/nvidia0").exists() or Path("/proc/driver/nvidia").exists():
        return "NVIDIA GPU present"
    return "no GPU"


def machine() -> dict[str, Any]:
    """The facts a reader needs to compare numbers across machines."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    mem = memory_gib()
    return {
        "cpu": cpu_model(),
        "cores": cores,
        "memory_gib": None if mem is None else round(mem, 1),
        "gpu": gpu_note(),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "date": _dt.date.today().isoformat(),
    }


def machine_line() -> str:
    m = machine()
    return (
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB RAM, {m['gpu']}, "
        f"Python {m['python']}, {m['os']}, {m['date']}"
    )


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def print_block(title: str, command: str, body: str) -> None:
    """Print the markdown block a benchmark contributes to BENCHMARKS.md."""
    print()
    print("----- markdown -----")
    print(f"### {title}")
    print()
    print(f"Machine: {machine_line()}  ")
    print(f"Command: `{command}`")
    print()
    print(body)
    print("----- end -----")


_LOOPBACK = ("127.", "::1", "localhost", "0.0.0.0")
blocked_connections: list[str] = []
"""Every non-loopback address a guarded process tried to reach."""


def guard_network() -> None:
    """Make every non-loopback TCP/UDP connection in this process fail (and record it)."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def allowed(sock: socket.socket, address: Any) -> bool:
        if sock.family == getattr(socket, "AF_UNIX", None):
            return True
        host = str(address[0]) if isinstance(address, tuple) else str(address)
        if host.startswith(_LOOPBACK):
            return True
        blocked_connections.append(host)
        return False

    def connect(self: socket.socket, address: Any) -> None:
        if not allowed(self, address):
            raise OSError(f"benchmark network guard: refused connection to {address!r}")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not allowed(self, address):
            return 111  # ECONNREFUSED
        return real_connect_ex(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]


def python() -> str:
    """The interpreter running this benchmark (the project's venv when run as documented)."""
    return sys.executable


def add_wait_quiet(ap: argparse.ArgumentParser) -> None:
    """The `--wait-quiet S` option every benchmark takes."""
    ap.add_argument(
        "--wait-quiet",
        type=float,
        default=120.0,
        metavar="S",
        help="wait up to S seconds for idle CPUs before starting",
    )


def cpu_busy(seconds: float = 1.0) -> float:
    """Share of all CPUs busy (any process) over the next `seconds`, from /proc/stat."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return idle, sum(fields)

    try:
        idle0, total0 = sample()
        time.sleep(seconds)
        idle1, total1 = sample()
    except OSError:
        return 0.0
    total = total1 - total0
    return 1.0 - (idle1 - idle0) / total if total else 0.0


def wait_for_quiet(max_wait_s: float, busy_below: float = 0.15) -> float:
    """Wait (at most `max_wait_s`) until other processes leave the CPUs mostly idle; return the
    last busy share seen, which the benchmark prints so a noisy run is visible as such."""
    deadline = time.monotonic() + max_wait_s
    busy = cpu_busy(1.0)
    while busy >= busy_below and time.monotonic() < deadline:
        print(f"  waiting for a quiet machine: CPUs {busy:.0%} busy", flush=True)
        busy = cpu_busy(5.0)
    return busy


def _jiffies_busy() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def _own_jiffies(pids: tuple[int, ...] = ()) -> int:
    # utime, stime, cutime, cstime: this process and every child it has waited for, plus the
    # CPU time so far of live children named in `pids`.
    total = 0
    for i, who in enumerate(("self", *map(str, pids))):
        try:
            fields = Path(f"/proc/{who}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11 : 15 if i == 0 else 13])
    return total


class OtherLoad:
    """How much of the CPUs processes outside this benchmark used while the block ran
    (from /proc: all busy time minus this process, the children it waited for and the live
    children in `pids`)."""

    def __init__(self, pids: tuple[int, ...] = ()) -> None:
        self.pids = pids

    def __enter__(self) -> OtherLoad:
        self.share = 0.0
        try:
            self._busy0, self._total0 = _jiffies_busy()
            self._own0 = _own_jiffies(self.pids)
        except OSError:
            self._total0 = -1
        return self

    def __exit__(self, *exc: object) -> None:
        if self._total0 < 0:
            return
        busy1, total1 = _jiffies_busy()
        others = (busy1 - self._busy0) - (_own_jiffies(self.pids) - self._own0)
        total = total1 - self._total0
        self.share = max(0.0, others / total) if total else 0.0

    def line(self) -> str:
        return f"other processes kept {self.share:.0%} of the CPUs busy meanwhile"
