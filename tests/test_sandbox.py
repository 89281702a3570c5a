"""The OS sandbox, tried the way a hostile contestant would through `run_command`: it must
not read or write outside its workspace, see a key, reach the network, outlive its step or
fill the disk — and without bubblewrap, commands are refused unless the user says otherwise."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bakeoff.errors import ToolError
from bakeoff.sandbox import (
    Mounts,
    SandboxPolicy,
    StepResult,
    run_sandboxed,
    sandbox_status,
    step_env,
)
from bakeoff.sandbox_limits import limits_status
from bakeoff.tools import MAX_WORKSPACE_BYTES, run_command
from bakeoff.workspace import Workspace

pytestmark = pytest.mark.skipif(
    not sandbox_status().available, reason=f"no sandbox here: {sandbox_status().reason}"
)
REPO = Path(__file__).resolve().parents[1]


async def sh(ws: Path, command: str, timeout_s: float = 30, **kw: bool) -> str:
    return await run_command(Workspace(ws), command, timeout_s, **kw)


def host_processes(token: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if token.encode() in cmdline and entry.name != str(os.getpid()):
                found.append(cmdline.decode(errors="replace"))
    return found


async def test_no_key_and_no_other_process_is_visible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary-key-0123456789")
    monkeypatch.setenv("UNUSUAL_CREDENTIAL_NAME", "canary-unusual-0123456789")
    out = await sh(
        tmp_path,
        f"env; cat /proc/*/environ 2>/dev/null; cat /proc/{os.getpid()}/environ; "
        "echo pids: $(ls /proc | grep -c '^[0-9]')",
    )
    assert "canary" not in out
    assert int(out.rsplit("pids:", 1)[1].split()[0]) <= 5  # its own few, not the host's


async def test_nothing_outside_the_workspace_can_be_read_or_written(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("canary-outside")
    out = await sh(
        ws,
        f"cat {outside}; cat {REPO / 'pyproject.toml'}; ls ~ /root /home; "
        f"echo pwned > {outside}; echo pwned > {REPO / 'pwned.txt'}; touch /usr/pwned; "
        "echo inside > mine.txt; echo private > /tmp/t && cat /tmp/t",
    )
    assert "canary-outside" not in out and "[project]" not in out
    assert outside.read_text() == "canary-outside"
    assert not (REPO / "pwned.txt").exists() and not Path("/usr/pwned").exists()
    assert (ws / "mine.txt").read_text() == "inside\n" and "private" in out


async def test_a_rival_workspace_is_out_of_reach(tmp_path: Path) -> None:
    mine, rival = tmp_path / "a", tmp_path / "b"
    mine.mkdir()
    rival.mkdir()
    (rival / "solution.py").write_text("good")
    await sh(
        mine,
        f"echo 'raise SystemExit(1)' > {rival}/conftest.py; echo bad > {rival}/solution.py; "
        f"(setsid sh -c 'sleep 1; echo late > {rival}/late.txt' &)",
    )
    await asyncio.sleep(1.5)
    assert sorted(p.name for p in rival.iterdir()) == ["solution.py"]
    assert (rival / "solution.py").read_text() == "good"


@pytest.fixture
def loopback_server() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.sendall(b"hello-from-host")
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


async def test_no_network_unless_allowed(tmp_path: Path, loopback_server: int) -> None:
    probe = (
        "python3 -c \"import socket; s = socket.create_connection(('127.0.0.1', "
        f'{loopback_server}), timeout=2); print(s.recv(100).decode())"'
    )
    assert "hello-from-host" not in await sh(tmp_path, probe)
    assert "hello-from-host" in await sh(tmp_path, probe, network=True)


async def test_nothing_is_left_running(tmp_path: Path) -> None:
    await sh(tmp_path, "sleep 31.401 & (setsid nohup sleep 31.402 &) ; echo started")
    deadline = time.monotonic() + 3
    while host_processes("sleep 31.40") and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert host_processes("sleep 31.40") == []


async def test_a_timeout_kills_the_command(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(ToolError, match="timed out"):
        await sh(tmp_path, "echo before; sleep 31.5", timeout_s=0.5)
    assert time.monotonic() - started < 5
    assert host_processes("sleep 31.5") == []


async def test_file_size_and_workspace_size_are_capped(tmp_path: Path) -> None:
    out = await sh(tmp_path, "head -c 80M /dev/zero > big; echo rc=$?; ls -l big")
    assert "rc=0" not in out
    assert (tmp_path / "big").stat().st_size <= 64 * 1024**2
    (tmp_path / "big").unlink()
    per_file = 60 * 1024**2
    files = MAX_WORKSPACE_BYTES // per_file + 1
    out = await sh(
        tmp_path, f"for i in $(seq {files}); do head -c {per_file} /dev/urandom > f$i; done"
    )
    assert "over the" in out


def bakeoff(*args: str, cwd: Path, path: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": path, "HOME": str(cwd), "BAKEOFF_STORE": str(cwd / "results.sqlite")}
    return subprocess.run(
        [sys.executable, "-m", "bakeoff.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_without_bubblewrap_commands_are_refused_unless_unsafe(tmp_path: Path) -> None:
    script = tmp_path / "s.json"
    script.write_text(
        json.dumps(
            [
                {"tool_calls": [{"name": "run_command", "arguments": {"command": "echo hi"}}]},
                {"text": "done"},
            ]
        )
    )
    no_bwrap = str(Path(sys.executable).parent)  # no /usr/bin: bwrap cannot be found
    args = ("agent", "x", "--model", f"script:{script}", "--workspace", "w", "--allow-commands")
    refused = bakeoff(*args, cwd=tmp_path, path=no_bwrap)
    assert refused.returncode != 0
    assert "--unsafe-no-sandbox" in refused.stderr and "bubblewrap" in refused.stderr
    allowed = bakeoff(*args, "--unsafe-no-sandbox", "--json", cwd=tmp_path, path=no_bwrap)
    assert allowed.returncode == 0, allowed.stderr
    assert "UNSANDBOXED" in allowed.stderr
    assert json.loads(allowed.stdout)["sandboxed"] is False


async def test_read_only_mounts_under_tmp_are_visible_and_read_only(tmp_path: Path) -> None:
    # A venv or a check's helpers may live under /tmp, which the sandbox replaces with its own.
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "lib.txt").write_text("from the host")
    ws = tmp_path / "ws"
    ws.mkdir()
    result = await run_sandboxed(
        f"cat {shared}/lib.txt; echo x > {shared}/lib.txt",
        workspace=ws,
        output_path=tmp_path / "out.log",
        timeout_s=30,
        env=step_env(ws),
        mounts=Mounts(read_only=[shared]),
    )
    out = (tmp_path / "out.log").read_text()
    assert "from the host" in out and result.exit_code != 0
    assert (shared / "lib.txt").read_text() == "from the host"


async def test_pytest_in_a_step_loads_no_plugin_installed_beside_bakeoff(tmp_path: Path) -> None:
    # bakeoff's own environment has pytest-asyncio and pytest-timeout (dev extras): a check's
    # verdict, and the test output a contestant reads, must not depend on them.
    import importlib.util

    assert importlib.util.find_spec("pytest_asyncio") and importlib.util.find_spec("pytest_timeout")
    (tmp_path / "test_plugins.py").write_text(
        "def test_no_plugins(pytestconfig):\n"
        "    manager = pytestconfig.pluginmanager\n"
        "    assert not manager.has_plugin('asyncio') and not manager.has_plugin('timeout')\n"
    )
    out = await sh(tmp_path, "python -m pytest -q -p no:cacheprovider test_plugins.py")
    assert out.startswith("exit code: 0\n") and "1 passed" in out, out
    assert "asyncio" not in out


async def step(
    tmp_path: Path, command: str, timeout_s: float = 30, **policy: Any
) -> tuple[str, StepResult]:
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    result = await run_sandboxed(
        command,
        workspace=ws,
        output_path=tmp_path / "out.log",
        timeout_s=timeout_s,
        env=step_env(ws),
        policy=SandboxPolicy(**policy),
    )
    return (tmp_path / "out.log").read_text(errors="replace"), result


FORK_BOMB = (
    'python3 -c "import os, time\n'
    "for i in range(3000):\n"
    "    try:\n        pid = os.fork()\n    except OSError:\n        print('refused', i); break\n"
    "    if pid == 0:\n        time.sleep(20); os._exit(0)\n"
    "else:\n    print('forked all')\""
)


@pytest.mark.parametrize("cgroups", [True, False], ids=["cgroup-or-watchdog", "watchdog"])
async def test_a_fork_bomb_is_stopped_at_the_process_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cgroups: bool
) -> None:
    if not cgroups:
        monkeypatch.setenv("BAKEOFF_NO_CGROUP", "1")
        limits_status.cache_clear()
    try:
        started = time.monotonic()
        out, result = await step(tmp_path, FORK_BOMB, timeout_s=15, max_processes=64)
    finally:
        limits_status.cache_clear()
    assert "forked all" not in out
    assert result.limit is not None and "process cap" in result.limit, out[-500:]
    assert time.monotonic() - started < 12  # stopped, not timed out
    assert await asyncio.to_thread(lambda: wait_until_gone("time.sleep(20)"))


def wait_until_gone(token: str) -> bool:
    deadline = time.monotonic() + 5
    while host_processes(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not host_processes(token)


async def test_dev_shm_and_tmp_are_small_private_tmpfs(tmp_path: Path) -> None:
    out, _ = await step(
        tmp_path,
        "head -c 40M /dev/zero > /dev/shm/fill; echo shm=$?; head -c 40M /dev/zero > /tmp/fill;"
        " echo tmp=$?; df -k /dev/shm /tmp | tail -2",
        tmp_bytes=16 * 1024**2,
        file_size_bytes=1024**3,
    )
    assert "shm=0" not in out and "tmp=0" not in out, out
    sizes = [int(line.split()[1]) for line in out.strip().splitlines()[-2:]]
    assert sizes == [16 * 1024, 16 * 1024]
    assert not Path("/dev/shm/fill").exists()


async def test_the_memory_of_the_whole_step_is_capped(tmp_path: Path) -> None:
    if limits_status().cgroup is None:
        pytest.skip(f"no cgroup here: {limits_status().reason}")
    # Three processes of 150 MiB each: under the per-process cap, over the step's 256 MiB.
    hog = 'python3 -c "b = bytearray(150 * 1024**2); import time; time.sleep(5)"'
    out, result = await step(
        tmp_path, f"{hog} & {hog} & {hog} & wait; echo finished", total_memory_bytes=256 * 1024**2
    )
    assert result.limit == "the memory cap", out


async def test_a_workspace_growing_past_its_cap_stops_the_step(tmp_path: Path) -> None:
    started = time.monotonic()
    out, result = await step(
        tmp_path,
        "i=0; while true; do i=$((i+1)); head -c 4M /dev/urandom > f$i; done",
        timeout_s=20,
        workspace_bytes=32 * 1024**2,
    )
    assert result.limit is not None and "workspace size cap" in result.limit, out[-300:]
    assert time.monotonic() - started < 10


async def test_a_flood_of_empty_files_counts_against_the_workspace_cap(tmp_path: Path) -> None:
    # Empty files take no block, only an inode: each counts as 4 KiB, so 4 MiB is ~1,000 files.
    started = time.monotonic()
    out, result = await step(
        tmp_path,
        "python3 -c \"import itertools\nfor i in itertools.count(): open(f'e{i}', 'w').close()\"",
        timeout_s=30,
        workspace_bytes=4 * 1024**2,
    )
    assert result.limit is not None and "workspace size cap" in result.limit, out[-300:]
    assert time.monotonic() - started < 20


async def test_the_built_in_suite_is_masked_wherever_it_is_mounted(tmp_path: Path) -> None:
    # As with bakeoff installed (not editable) under a mounted prefix: the package is visible,
    # its tasks' hidden tests and solutions are not.
    src = REPO / "src"
    hidden = REPO / "src/bakeoff/evals/suite/add-numbers/hidden/hidden_test_calc.py"
    ws = tmp_path / "ws"
    ws.mkdir()
    await run_sandboxed(
        f"cat {src}/bakeoff/sandbox.py | head -1; echo entries=$(ls -A {src}/bakeoff/evals/suite | wc -l); cat {hidden}",
        workspace=ws,
        output_path=tmp_path / "out.log",
        timeout_s=30,
        env=step_env(ws),
        mounts=Mounts(read_only=[src]),
    )
    out = (tmp_path / "out.log").read_text()
    assert out.startswith('"""The OS sandbox')
    assert "entries=0" in out and "def test_" not in out and hidden.is_file()
