"""The check runner and task validation, run for real in temporary workspaces (in the
bubblewrap sandbox wherever it works, which `make test` arranges)."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import time
import warnings
from pathlib import Path

import pytest

from bakeoff.evals.trial.check_verdict import read_verdict, seal
from bakeoff.evals.trial.checks import (
    OUTPUT_CAP_BYTES,
    arun_check,
    run_check,
    validate_task,
)
from bakeoff.evals.trial.task import CheckSpec, JudgeSpec, TaskSpec


def make_task(
    folder: Path, command: str, timeout_s: float = 30, graded: list[str] | None = None
) -> TaskSpec:
    return TaskSpec(
        name="t",
        prompt="Write marker.txt.",
        category="test",
        difficulty=1,
        check=CheckSpec(command=command, timeout_s=timeout_s, graded=graded),
        path=folder,
    )


def check(
    tmp_path: Path, command: str, timeout_s: float = 30, graded: list[str] | None = None
) -> tuple[Path, TaskSpec]:
    workspace = tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    return workspace, make_task(tmp_path, command, timeout_s, graded)


def hidden(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / "hidden").mkdir(exist_ok=True)
    (tmp_path / "hidden" / name).write_text(text)


def running(token: str) -> list[int]:
    """Host pids whose command line holds `token` (a process in a sandbox's own PID namespace
    still shows on the host's /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if token.encode() in cmdline and state not in ("Z", "X"):
                pids.append(int(entry.name))
    return pids


def wait_gone(token: str, within_s: float = 3.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not running(token):
            return True
        time.sleep(0.05)
    return False


def test_passing_command(tmp_path: Path) -> None:
    workspace, task = check(tmp_path, "echo all good")
    result = run_check(task, workspace)
    assert result.passed and result.exit_code == 0 and not result.timed_out
    assert result.output == "all good\n"
    assert result.tests_passed is None and result.tests_total is None


def test_failing_command_keeps_stderr_and_exit_code(tmp_path: Path) -> None:
    workspace, task = check(tmp_path, "echo boom >&2; exit 3")
    result = run_check(task, workspace)
    assert not result.passed and result.exit_code == 3
    assert "boom" in result.output


def test_runs_at_the_workspace_root(tmp_path: Path) -> None:
    workspace, task = check(tmp_path, "cat marker.txt")
    (workspace / "marker.txt").write_text("here")
    assert run_check(task, workspace).output == "here"


def test_timeout_kills_the_whole_process_group_quickly(tmp_path: Path) -> None:
    workspace, task = check(tmp_path, "sleep 30.101 & sleep 30.102", timeout_s=0.5)
    started = time.monotonic()
    result = run_check(task, workspace)
    assert time.monotonic() - started < 5
    assert result.timed_out and not result.passed and result.exit_code is None
    assert wait_gone("sleep 30.10")


def test_background_processes_die_even_when_the_check_passes(tmp_path: Path) -> None:
    workspace, task = check(tmp_path, "(setsid sleep 30.201 &); nohup sleep 30.202 & exit 0")
    assert run_check(task, workspace).passed
    assert wait_gone("sleep 30.20")


async def test_cancelling_arun_check_kills_the_command(tmp_path: Path) -> None:
    workspace, task = check(tmp_path, "sleep 30.301")
    pending = asyncio.create_task(arun_check(task, workspace))
    for _ in range(200):
        if running("sleep 30.301"):
            break
        await asyncio.sleep(0.05)
    assert running("sleep 30.301")
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    assert await asyncio.to_thread(wait_gone, "sleep 30.301")


def test_a_second_cancel_still_reaps_the_check(tmp_path: Path) -> None:
    """A second Ctrl-C (or `asyncio.run` cancelling every task as it shuts down) lands while
    the first cancellation waits for the killed check: its exit is still collected before the
    call ends, so an event loop closed right after leaves no process unreaped to warn about."""
    workspace, task = check(tmp_path, "sleep 30.302")

    async def cancel_twice() -> None:
        pending = asyncio.create_task(arun_check(task, workspace))
        for _ in range(200):
            if running("sleep 30.302"):
                break
            await asyncio.sleep(0.05)
        pending.cancel()
        for _ in range(5):  # the first cancellation reaches the wait for the killed process
            await asyncio.sleep(0)
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending

    loop = asyncio.new_event_loop()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            loop.run_until_complete(cancel_twice())
        finally:
            loop.close()
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert wait_gone("sleep 30.302")


def test_output_keeps_only_the_tail(tmp_path: Path) -> None:
    workspace, task = check(tmp_path, "python -c \"print('x' * 50000); print('VERDICT')\"")
    result = run_check(task, workspace)
    assert result.output.endswith("VERDICT\n")
    assert "bytes cut" in result.output
    assert len(result.output.encode()) <= OUTPUT_CAP_BYTES + 100


def test_secrets_are_scrubbed_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = {
        "OPENAI_API_KEY": "sk-leak-1",
        "ANTHROPIC_API_KEY": "sk-leak-2",
        "GITHUB_TOKEN": "ghp-leak-3",
        "MY_CLIENT_SECRET": "leak-4",
        "AWS_SECRET_ACCESS_KEY": "leak-5",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SOME_HARMLESS_SETTING", "not-passed-either")
    workspace, task = check(tmp_path, "env; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'")
    output = run_check(task, workspace).output
    for name, value in secrets.items():
        assert name not in output and value not in output
    # An allow-list, not a deny-list: nothing of the parent's environment but the locale.
    assert "not-passed-either" not in output
    assert "PYTHONDONTWRITEBYTECODE=1" in output


def test_python_is_the_running_interpreter_with_pytest(tmp_path: Path) -> None:
    command = 'python -c "import sys, pytest; print(sys.executable)"'
    workspace, task = check(tmp_path, command)
    result = run_check(task, workspace)
    assert result.passed, result.output
    assert result.output.strip() == sys.executable


def test_console_scripts_beside_the_interpreter_come_first(tmp_path: Path) -> None:
    workspace, task = check(tmp_path, "command -v pytest")
    result = run_check(task, workspace)
    assert result.passed, result.output
    assert Path(result.output.strip()).parent == Path(sys.executable).parent


PYTEST_FILE = """\
def test_a(): assert True
def test_b(): assert True
def test_c(): assert True
def test_d(): assert False
"""


def test_pytest_counts_come_from_the_verdict_and_leave_no_droppings(tmp_path: Path) -> None:
    workspace, task = check(tmp_path, "python -m pytest -q hidden_test_x.py")
    hidden(tmp_path, "hidden_test_x.py", PYTEST_FILE)
    result = run_check(task, workspace)
    assert not result.passed and result.exit_code == 1
    assert (result.tests_passed, result.tests_total) == (3, 4)
    assert list(workspace.iterdir()) == []  # the check ran elsewhere


def test_a_forged_summary_line_counts_for_nothing(tmp_path: Path) -> None:
    workspace, task = check(
        tmp_path, "python -m pytest -q hidden_test_x.py; echo '99 passed in 0.1s'"
    )
    hidden(tmp_path, "hidden_test_x.py", PYTEST_FILE)
    result = run_check(task, workspace)
    assert (result.tests_passed, result.tests_total) == (3, 4)


def test_a_pytest_check_that_exits_0_without_a_verdict_fails(tmp_path: Path) -> None:
    workspace, task = check(tmp_path, "python -m pytest -q hidden_test_x.py || true")
    hidden(tmp_path, "hidden_test_x.py", "import os\ndef test_a(): os._exit(0)\n")
    result = run_check(task, workspace)
    assert result.exit_code == 0 and not result.passed
    assert "no finished session" in result.output


def test_pytest_ignores_the_project_around_the_workspace(tmp_path: Path) -> None:
    # A project config with settings that would break the check if pytest picked it up.
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\naddopts = "--no-such-option"\nfilterwarnings = ["error"]\n'
    )
    workspace, task = check(tmp_path, "python -m pytest -q hidden_test_w.py")
    hidden(
        tmp_path,
        "hidden_test_w.py",
        "import warnings\ndef test_w():\n    warnings.warn('harmless', UserWarning)\n",
    )
    result = run_check(task, workspace)
    assert result.passed, result.output
    assert (result.tests_passed, result.tests_total) == (1, 1)


def test_pytest_uses_the_tasks_config_and_never_the_workspaces(tmp_path: Path) -> None:
    # Every workspace file graded: pytest's own hardening is what is under test here.
    workspace, task = check(tmp_path, "python -m pytest -q", graded=["**"])
    hidden(tmp_path, "pytest.ini", "[pytest]\npython_files = check_*.py\n")
    (workspace / "check_one.py").write_text("def test_one(): pass\n")
    # The workspace's own config and conftest are ignored: the fixture does not exist.
    (workspace / "setup.cfg").write_text("[tool:pytest]\naddopts = --collect-only\n")
    (workspace / "conftest.py").write_text(
        "import pytest\n@pytest.fixture\ndef seven(): return 7\n"
    )
    (workspace / "check_two.py").write_text("def test_two(seven): assert seven == 7\n")
    result = run_check(task, workspace)
    assert not result.passed
    assert (result.tests_passed, result.tests_total) == (1, 2)


def test_a_verdict_with_lines_its_plugin_never_writes_is_refused(tmp_path: Path) -> None:
    channel = tmp_path / "verdict.jsonl"
    key = b"k" * 32

    def sealed(*records: str, writer: str = "w") -> str:
        lines, mac = [], ""
        for record in records:
            body = json.dumps({**json.loads(record), "writer": writer}, sort_keys=True)
            mac = seal(key, mac, body)
            lines.append(f"{mac} {body}\n")
        return "".join(lines)

    start, collected = '{"event": "start"}', '{"event": "collected", "ids": []}'
    finish = (
        '{"event": "finish", "exitstatus": 0, "outcomes": '
        '{"a.py::t": "passed", "a.py::u": "skipped", "a.py::v": "failed"}}'
    )
    channel.write_text(sealed(start, collected, finish))
    found = read_verdict(channel, key)
    assert found.problem is None and found.counts == (1, 2)
    for garbage in (
        "not json",
        '{"event": "start", "x": 1}\n[1]',
        '{"event": "finish"}',
        sealed(start, collected, finish).replace("failed", "passed"),  # edited after sealing
        sealed(start) + sealed(finish),  # a second chain under the same writer
        sealed(start, finish, collected),  # out of order
        sealed(start, collected) * 2,  # replayed
    ):
        channel.write_text(garbage)
        assert read_verdict(channel, key).problem is not None, garbage
    channel.write_text(sealed(start, collected, finish))
    assert read_verdict(channel, b"x" * 32).problem is not None  # another run's key
    assert read_verdict(tmp_path / "missing", key).sessions == 0


def test_memory_is_limited(tmp_path: Path) -> None:
    workspace, task = check(
        tmp_path, "python -c \"b = bytearray(4 * 1024 ** 3); print('no limit')\""
    )
    result = run_check(task, workspace)
    assert not result.passed
    assert "MemoryError" in result.output


def test_a_task_without_check_cannot_run(tmp_path: Path) -> None:
    task = TaskSpec(
        name="j", prompt="p", category="c", difficulty=1, judge=JudgeSpec(rubric="r"), path=tmp_path
    )
    with pytest.raises(ValueError, match="no \\[check\\]"):
        run_check(task, tmp_path)
    assert validate_task(task).ok


def build_task(tmp_path: Path, fixture: str | None, solution: str | None) -> TaskSpec:
    """A task whose check passes when answer.txt says 42."""
    (tmp_path / "hidden").mkdir()
    (tmp_path / "hidden" / "hidden_check.py").write_text(
        "import pathlib, sys\n"
        "sys.exit(0 if pathlib.Path('answer.txt').read_text().strip() == '42' else 1)\n"
    )
    for folder, text in (("files", fixture), ("solution", solution)):
        if text is not None:
            (tmp_path / folder).mkdir()
            (tmp_path / folder / "answer.txt").write_text(text)
    return make_task(tmp_path, "python hidden_check.py")


def test_validate_accepts_a_fair_task(tmp_path: Path) -> None:
    result = validate_task(build_task(tmp_path, fixture="?", solution="42"))
    assert result.ok, result.message
    assert result.untouched is not None and not result.untouched.passed
    assert result.solved is not None and result.solved.passed


def test_validate_rejects_a_check_that_passes_untouched(tmp_path: Path) -> None:
    result = validate_task(build_task(tmp_path, fixture="42", solution="42"))
    assert not result.ok and "passes on the untouched fixture" in result.message


def test_validate_rejects_a_solution_that_fails(tmp_path: Path) -> None:
    result = validate_task(build_task(tmp_path, fixture="?", solution="41"))
    assert not result.ok and "fails with solution/ applied" in result.message


def test_validate_rejects_a_task_without_solution(tmp_path: Path) -> None:
    result = validate_task(build_task(tmp_path, fixture="?", solution=None))
    assert not result.ok and "no solution/" in result.message
