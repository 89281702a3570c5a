"""A run stopped from outside (`kill`, a CI timeout) ends like one stopped with Ctrl-C: marked
interrupted in the store, so `--resume` picks it up, and no server it started outlives it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _status(db: Path) -> str | None:
    if not db.exists():
        return None
    try:
        with sqlite3.connect(db) as con:
            row = con.execute("SELECT status FROM runs").fetchone()
    except sqlite3.OperationalError:  # the schema is not there yet
        return None
    return row[0] if row else None


def _wait_for(predicate: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not callable(predicate) or not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.1)


def test_sigterm_marks_the_run_interrupted_and_exits_like_ctrl_c(
    tmp_path: Path, isolated_config: Path
) -> None:
    slow = tmp_path / "slow.json"
    slow.write_text(json.dumps([{"text": "thinking", "delay_s": 120}]))
    db = tmp_path / "r.sqlite"
    command = ["run", "say hi", "--models", f"script:{slow}", "--store", str(db)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bakeoff.cli", *command, "--no-preflight"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: _status(db) == "running", 60)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Interrupted" in err and "--resume" in err
    assert _status(db) == "interrupted"


def test_the_embedded_server_exits_when_bakeoff_is_killed(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp.server")  # the `local` extra: the server's watchdog lives there
    # A stand-in for bakeoff: it starts a child that watches it as the embedded server does,
    # prints the child's pid, and is then killed with SIGKILL (no cleanup can run).
    parent = (
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        "'import os, signal, time\\n"
        # Like the server busy with a generation: SIGTERM alone would not stop it.
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n"
        "from bakeoff.models.llama_server import exit_with_parent\\n"
        "exit_with_parent(os.getppid(), 0.05)\\n"
        'print("watching", flush=True)\\n'
        "time.sleep(120)'], stdout=sys.stdout)\n"
        "print(child.pid, flush=True)\n"
        "child.wait()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    child = int(proc.stdout.readline())
    assert proc.stdout.readline().strip() == "watching"
    proc.kill()
    proc.wait()
    proc.stdout.close()

    def gone() -> bool:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return True
        # Reparented to a reaper that has not waited for it yet: a zombie is gone too.
        return Path(f"/proc/{child}/stat").read_text().split()[2] == "Z"

    _wait_for(gone, 30)
