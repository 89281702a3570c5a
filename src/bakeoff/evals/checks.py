"""The deterministic grader: run a task's `[check]` command in a finished workspace, and prove
tasks valid. The command runs through `/bin/sh` at the workspace root in its own process group,
under resource limits (CPU seconds, 2 GiB of address space, 64 MiB per written file), with API
keys and other secrets scrubbed from its environment and `python`/`python3` resolving to the
interpreter running bakeoff, so `python -m pytest` finds the pytest installed beside it. Pytest
is isolated from whatever project the workspace happens to sit in: plugins are not auto-loaded
(a check that needs one names it with `-p`), no cache is written, and the configuration is the
workspace's own pytest config if it has one at its root, else an empty one. When the command
times out or the caller is cancelled, the whole process group is killed. `validate_task` proves
a task fair: its check fails on the untouched fixture and passes once `solution/` is laid over.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import resource
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel

from bakeoff.evals.task import (
    ANSWER_FILE,
    TaskSpec,
    apply_solution,
    install_hidden,
    prepare_workspace,
)
from bakeoff.tools import scrubbed_env

OUTPUT_CAP_BYTES = 8 * 1024
"""How much of the check's combined stdout+stderr is kept: the last 8 KiB, where verdicts are."""
MEMORY_LIMIT_BYTES = 2 * 1024**3
FILE_SIZE_LIMIT_BYTES = 64 * 1024**2

# Variables that would make the check behave differently from one machine to the next.
_UNSTABLE_ENV = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTHONPATH", "PYTHONSTARTUP")
_PYTEST_SUMMARY = re.compile(
    r"^=*\s*((?:\d+ [a-z]+(?:, )?)+|no tests ran) in \d+(?:\.\d+)?s\b", re.MULTILINE
)
_PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|errors?)\b")
# Root files that carry pytest configuration, and the text that marks it in shared files.
_PYTEST_CONFIGS = {
    "pytest.toml": "",
    ".pytest.toml": "",
    "pytest.ini": "",
    ".pytest.ini": "",
    "pyproject.toml": "[tool.pytest",
    "tox.ini": "[pytest]",
    "setup.cfg": "[tool:pytest]",
}


class CheckResult(BaseModel):
    """What one run of a check command did."""

    passed: bool
    """Exit status 0 within the time limit."""
    exit_code: int | None
    """The command's exit status (negative: killed by that signal); None when it timed out."""
    output: str
    """The tail of stdout and stderr together, at most `OUTPUT_CAP_BYTES`."""
    duration_s: float
    """Wall-clock seconds the command ran."""
    timed_out: bool = False
    """The command ran past `timeout_s` and its process group was killed."""
    tests_passed: int | None = None
    """Tests passed, from pytest's summary line; None when the output had none."""
    tests_total: int | None = None
    """Tests passed + failed + errors, from pytest's summary line; None without one."""


class ValidationResult(BaseModel):
    """Whether a task is fair: its check fails untouched and passes with `solution/`."""

    task: str
    """The task's name."""
    ok: bool
    """The task is valid."""
    message: str
    """Why not, or how the two check runs went."""
    untouched: CheckResult | None = None
    """The check run on the untouched fixture (None for judge-only tasks or when skipped)."""
    solved: CheckResult | None = None
    """The check run with `solution/` laid over the fixture."""


async def arun_check(task: TaskSpec, workspace: Path) -> CheckResult:
    """Run the task's check command in `workspace` (hidden files already installed)."""
    if task.check is None:
        raise ValueError(f"task {task.name!r} has no [check] to run")
    if not workspace.is_dir():
        raise ValueError(f"{workspace}: workspace folder does not exist")
    workspace = workspace.resolve()
    timeout_s = task.check.timeout_s
    with tempfile.TemporaryDirectory(prefix="bakeoff-check-") as scratch:
        scratch_dir = Path(scratch)
        env = _check_env(workspace, scratch_dir)
        output_path = scratch_dir / "output.log"
        started = time.monotonic()
        timed_out = False
        with output_path.open("wb") as output:
            # Output goes to a file, not a pipe: a stray grandchild holding a pipe open could
            # otherwise keep us waiting long after the command itself is gone.
            proc = await asyncio.create_subprocess_shell(
                task.check.command,
                cwd=workspace,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_resource_limits(timeout_s),
            )
            try:
                await asyncio.wait_for(proc.wait(), timeout_s)
            except TimeoutError:
                timed_out = True
                _kill_group(proc.pid)
                await proc.wait()
            except BaseException:
                # Cancelled: the check must not outlive the run that asked for it.
                _kill_group(proc.pid)
                raise
            finally:
                # Background processes the command started die with it, even when it passed.
                _kill_group(proc.pid)
        duration_s = time.monotonic() - started
        text = _tail(output_path)
    passed_count, total = parse_pytest_counts(text)
    exit_code = None if timed_out else proc.returncode
    return CheckResult(
        passed=exit_code == 0,
        exit_code=exit_code,
        output=text,
        duration_s=round(duration_s, 3),
        timed_out=timed_out,
        tests_passed=passed_count,
        tests_total=total,
    )


def run_check(task: TaskSpec, workspace: Path) -> CheckResult:
    """Blocking form of `arun_check`, for callers without an event loop."""
    return asyncio.run(arun_check(task, workspace))


def parse_pytest_counts(output: str) -> tuple[int | None, int | None]:
    """(passed, passed + failed + errors) from pytest's last summary line, or (None, None)."""
    summaries = _PYTEST_SUMMARY.findall(output)
    if not summaries:
        return None, None
    counts = {"passed": 0, "failed": 0, "errors": 0}
    for number, word in _PYTEST_COUNT.findall(summaries[-1]):
        counts["errors" if word.startswith("error") else word] += int(number)
    return counts["passed"], sum(counts.values())


async def avalidate_task(task: TaskSpec) -> ValidationResult:
    """Prove the task fair: the check fails on the untouched fixture (with hidden files) and
    passes with `solution/` laid over it. A judge-only task only has to load."""
    if task.check is None:
        return ValidationResult(task=task.name, ok=True, message="judge-only; loads")
    problem = _solution_problem(task)
    if problem:
        return ValidationResult(task=task.name, ok=False, message=problem)
    with tempfile.TemporaryDirectory(prefix="bakeoff-validate-") as scratch:
        untouched_ws = prepare_workspace(task, Path(scratch) / "untouched")
        install_hidden(task, untouched_ws)
        untouched = await arun_check(task, untouched_ws)
        if untouched.passed:
            return ValidationResult(
                task=task.name,
                ok=False,
                message="the check passes on the untouched fixture; it must fail until the "
                "task is done",
                untouched=untouched,
            )
        solved_ws = prepare_workspace(task, Path(scratch) / "solved")
        apply_solution(task, solved_ws)
        install_hidden(task, solved_ws)
        solved = await arun_check(task, solved_ws)
    if not solved.passed:
        how = "timed out" if solved.timed_out else f"exit {solved.exit_code}"
        return ValidationResult(
            task=task.name,
            ok=False,
            message=f"the check fails with solution/ applied ({how}):\n{solved.output[-2000:]}",
            untouched=untouched,
            solved=solved,
        )
    return ValidationResult(
        task=task.name,
        ok=True,
        message=f"fails untouched ({_summary(untouched)}), passes with solution/ "
        f"({_summary(solved)})",
        untouched=untouched,
        solved=solved,
    )


def validate_task(task: TaskSpec) -> ValidationResult:
    """Blocking form of `avalidate_task`."""
    return asyncio.run(avalidate_task(task))


def validate_tasks(tasks: Sequence[TaskSpec]) -> list[ValidationResult]:
    """Validate each task in turn (each check is a few processes; order is kept)."""
    return [validate_task(task) for task in tasks]


def _solution_problem(task: TaskSpec) -> str | None:
    if not task.solution_dir.is_dir():
        return "no solution/ folder: nothing proves the check can pass"
    answer = task.solution_dir / ANSWER_FILE
    if task.expected_answer is not None and answer.is_file():
        written = answer.read_text(encoding="utf-8").strip()
        if written != task.expected_answer.strip():
            return (
                f"solution/{ANSWER_FILE} says {written!r} but expected_answer says "
                f"{task.expected_answer!r}"
            )
    return None


def _summary(result: CheckResult) -> str:
    if result.tests_total is not None:
        return f"{result.tests_passed}/{result.tests_total} tests, {result.duration_s:.1f}s"
    return f"exit {result.exit_code}, {result.duration_s:.1f}s"


def _check_env(workspace: Path, scratch: Path) -> dict[str, str]:
    env = _scrubbed(os.environ)
    shims = scratch / "bin"
    shims.mkdir()
    # A wrapper script, not a symlink: a venv's interpreter finds its site-packages through
    # the path it was started by, and a symlink elsewhere would lose them.
    for name in ("python", "python3"):
        shim = shims / name
        shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
        shim.chmod(0o755)
    # Then the interpreter's own bin folder, so `pytest` and friends are the ones beside it.
    interpreter_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(
        p for p in (str(shims), interpreter_bin, env.get("PATH", "")) if p
    )
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    config = _pytest_config(workspace, scratch)
    # PYTEST_ADDOPTS goes before the command's own options, so the command can still override.
    env["PYTEST_ADDOPTS"] = shlex.join(
        [
            "-p",
            "no:cacheprovider",
            "-c",
            str(config),
            f"--rootdir={workspace}",
            f"--confcutdir={workspace}",
        ]
    )
    return env


def _scrubbed(environ: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in scrubbed_env(environ).items() if k not in _UNSTABLE_ENV}


def _pytest_config(workspace: Path, scratch: Path) -> Path:
    """The workspace's own pytest config when it has one, else an empty one: pytest must never
    climb out of the workspace and pick up the configuration of a project around it."""
    for name, marker in _PYTEST_CONFIGS.items():
        candidate = workspace / name
        if candidate.is_file():
            try:
                text = candidate.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if marker in text:
                return candidate
    empty = scratch / "pytest.ini"
    empty.write_text("[pytest]\n")
    return empty


def _resource_limits(timeout_s: float) -> Callable[[], None]:
    cpu_s = math.ceil(timeout_s) + 5

    def apply() -> None:
        # Runs in the child between fork and exec: no raising, no allocation-heavy work.
        limits = (
            (resource.RLIMIT_CPU, cpu_s, cpu_s + 5),
            (resource.RLIMIT_AS, MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES),
            (resource.RLIMIT_FSIZE, FILE_SIZE_LIMIT_BYTES, FILE_SIZE_LIMIT_BYTES),
        )
        for kind, soft, hard in limits:
            try:
                current_hard = resource.getrlimit(kind)[1]
                if current_hard != resource.RLIM_INFINITY:
                    soft, hard = min(soft, current_hard), min(hard, current_hard)
                resource.setrlimit(kind, (soft, hard))
            except (ValueError, OSError):
                pass  # e.g. macOS refuses RLIMIT_AS; the other limits still apply

    return apply


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
        os.killpg(pgid, signal.SIGKILL)


def _tail(path: Path) -> str:
    size = path.stat().st_size
    with path.open("rb") as handle:
        if size > OUTPUT_CAP_BYTES:
            handle.seek(size - OUTPUT_CAP_BYTES)
        data = handle.read()
    text = data.decode("utf-8", errors="replace")
    if size > OUTPUT_CAP_BYTES:
        text = f"[... {size - OUTPUT_CAP_BYTES} bytes cut ...]\n{text}"
    return text
