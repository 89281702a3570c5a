"""The deterministic grader: run a task's `[check]` command on what a contestant left in its
workspace, and prove tasks valid. Only the task's author controls a check. It never runs in the
contestant's workspace: it runs in a folder built by construction (`check_folder`): a fresh
copy of the fixture, only the contestant's changes to the files the task grades, then the
hidden files, bound read-only so code that the check imports cannot rewrite them. That folder
runs in the OS sandbox (`bakeoff.sandbox`): the system read-only, the folder the only writable
place, no network, no keys. `python` is the interpreter running bakeoff, started safe: the
current folder and the script's folder are not put first on `sys.path`, and the check folder is
appended after the standard library and site-packages (it holds no file the task does not
grade, so no import that Python or pytest try and miss finds a contestant's module). Byte code
is cached outside it, so a planted `__pycache__` is never loaded. Pytest runs with the task's
configuration only (a `pytest.ini` in `hidden/`, else an empty one): no conftest.py, no plugin
autoload, no cache. Its verdict comes from bakeoff's plugin through an inherited descriptor,
never from stdout or a file the contestant could reach, each line sealed with a key made for
this run (`check_verdict`), and it must account for the tests that a trusted run of the task's
solution passes (`trusted_test_ids`, once per task and process): a pytest check that exits 0
without a finished verdict, with a failure, or without one of those tests passed, fails. A
failed check's partial credit counts only the tests the untouched fixture fails
(`fixture_passed_ids`, once per task and process), so doing nothing earns 0. When the command
times out or the caller is cancelled, everything it started is killed. `validate_task` proves a task fair: its check fails on the
untouched fixture and passes once `solution/` is laid over.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import secrets
import shlex
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

from pydantic import BaseModel

from bakeoff import sandbox
from bakeoff.evals.store.records import CheckResult as CheckResult
from bakeoff.evals.trial import check_verdict as verdict
from bakeoff.evals.trial.check_folder import build_check_folder
from bakeoff.evals.trial.task import (
    ANSWER_FILE,
    TaskSpec,
    apply_solution,
    overlay_files,
    prepare_workspace,
    write_answer,
)
from bakeoff.redact import redact
from bakeoff.tools import MAX_WORKSPACE_BYTES
from bakeoff.workspace import remove_tree

OUTPUT_CAP_BYTES = 8 * 1024
"""How much of the check's combined stdout+stderr is kept: the last 8 KiB, where verdicts are."""
# A check that runs pytest: `pytest ...`, `py.test ...` or `python -m pytest ...`.
_PYTEST_COMMAND = re.compile(
    r"(?:^|[;&|(]|\bexec)\s*(?:\S*/)?(?:py\.test|pytest|python[\d.]*\s+(?:-\S+\s+)*-m\s*pytest)"
    r"(?:\s|$)"
)
_TASK_PYTEST_CONFIG = "pytest.ini"
"""A task's own pytest configuration lives in `hidden/pytest.ini`; nothing else is read."""
# Appends the check folder (the current folder) to sys.path, after stdlib and site-packages.
_SITECUSTOMIZE = "import os, sys\nsys.path.append(os.getcwd())\n"


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


async def arun_check(
    task: TaskSpec, workspace: Path, *, sandboxed: bool | None = None, network: bool = False
) -> CheckResult:
    """Run the task's check on what the contestant left in `workspace` (ANSWER.txt written):
    in a fresh folder of the fixture, the graded files and the hidden files, never in the
    workspace itself, which is only read.

    `sandboxed` None: in the sandbox whenever bubblewrap works here. False is the unsafe
    fallback for machines without it: the same environment, configuration and limits, without
    the OS isolation, and the result says so."""
    if task.check is None:
        raise ValueError(f"task {task.name!r} has no [check] to run")
    if not workspace.is_dir():
        raise ValueError(f"{workspace}: workspace folder does not exist")
    expected = await trusted_test_ids(task, sandboxed=sandboxed, network=network)
    result, found = await _run(task, workspace, expected, sandboxed=sandboxed, network=network)
    if result.passed or result.tests_total is None:
        return result
    baseline = await fixture_passed_ids(task, sandboxed=sandboxed, network=network)
    tests = expected if expected is not None else frozenset(found.outcomes)
    creditable = tests - baseline
    credited = (found.passed_ids & tests) - baseline
    return result.model_copy(
        update={"tests_credited": len(credited), "tests_creditable": len(creditable)}
    )


async def _run(
    task: TaskSpec,
    workspace: Path,
    expected: frozenset[str] | None,
    *,
    sandboxed: bool | None,
    network: bool,
) -> tuple[CheckResult, verdict.PytestVerdict]:
    assert task.check is not None
    workspace = Path(os.path.realpath(workspace))
    async with _scratch("bakeoff-check-") as scratch:
        folder = scratch / "check"
        await asyncio.to_thread(build_check_folder, task, workspace, folder)
        setup = _CheckSetup(task, folder, scratch)
        # Opened here, outside the sandbox: inside, the file has no path, only this descriptor.
        channel = os.open(setup.verdict_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        # The key that seals the verdict's lines goes through a pipe the plugin drains at load:
        # the environment would keep it readable in /proc/self/environ.
        key = secrets.token_bytes(verdict.KEY_BYTES)
        key_pipe, key_in = os.pipe()
        os.write(key_in, key)
        os.close(key_in)
        fds = {verdict.FD_VARIABLE: str(channel), verdict.KEY_FD_VARIABLE: str(key_pipe)}
        try:
            step = await sandbox.run_sandboxed(
                task.check.command,
                workspace=folder,
                output_path=scratch / "output.log",
                timeout_s=task.check.timeout_s,
                env={**setup.env, **fds},
                policy=sandbox.SandboxPolicy(network=network, workspace_bytes=MAX_WORKSPACE_BYTES),
                mounts=setup.mounts,
                sandboxed=sandbox.use_sandbox(sandboxed),
                pass_fds=[channel, key_pipe],
            )
        finally:
            os.close(channel)
            os.close(key_pipe)
        text = sandbox.read_tail(step.output_path, OUTPUT_CAP_BYTES)
        found = verdict.read_verdict(setup.verdict_file, key)
        passed = step.exit_code == 0
        ran_pytest = found.sessions > 0
        if passed and (ran_pytest or _PYTEST_COMMAND.search(task.check.command)):
            why = verdict.judge_verdict(found, expected, folder)
            if why is not None:
                passed = False
                text += f"\n[bakeoff: {why}]"
    counts = found.counts if ran_pytest else None
    result = CheckResult(
        passed=passed,
        exit_code=step.exit_code,
        output=redact(text),
        duration_s=step.duration_s,
        timed_out=step.timed_out,
        tests_passed=None if counts is None else counts[0],
        tests_total=None if counts is None else counts[1],
        sandboxed=step.sandboxed,
    )
    return result, found


@contextlib.asynccontextmanager
async def _scratch(prefix: str) -> AsyncIterator[Path]:
    """A fresh temporary folder, removed however deep the code a check ran nested folders in it
    (`tempfile`'s clean-up recurses, and raises past some 1,000 levels)."""
    made = Path(os.path.realpath(tempfile.mkdtemp(prefix=prefix)))
    try:
        yield made
    finally:
        await asyncio.to_thread(remove_tree, made, ignore_errors=True)


def run_check(task: TaskSpec, workspace: Path, *, sandboxed: bool | None = None) -> CheckResult:
    """Blocking form of `arun_check`, for callers without an event loop."""
    return asyncio.run(arun_check(task, workspace, sandboxed=sandboxed))


_ONCE: dict[tuple[str, str], frozenset[str] | None] = {}
_RUNNING: dict[tuple[str, str, int], asyncio.Future[frozenset[str] | None]] = {}


async def _once_per_task(
    what: str, task: TaskSpec, collect: Callable[[], Awaitable[frozenset[str] | None]]
) -> frozenset[str] | None:
    """`collect()`'s result for `task` (its files as they are now), run once per process and
    shared by concurrent callers on one event loop."""
    key = (what, await asyncio.to_thread(_task_key, task))
    if key in _ONCE:
        return _ONCE[key]
    running_key = (*key, id(asyncio.get_running_loop()))
    running = _RUNNING.get(running_key)
    if running is None:
        running = asyncio.ensure_future(collect())
        _RUNNING[running_key] = running
        running.add_done_callback(lambda _: _RUNNING.pop(running_key, None))
    _ONCE[key] = await asyncio.shield(running)
    return _ONCE[key]


async def trusted_test_ids(
    task: TaskSpec, *, sandboxed: bool | None = None, network: bool = False
) -> frozenset[str] | None:
    """The pytest ids a contestant's check must pass: those the check passes on the fixture
    with `solution/` laid over, from hidden files where any are (a contestant's own tests are
    its business). Run once per task and process, shared by concurrent callers. None when the
    check does not run pytest or no `solution/` passes it (then only the verdict's own
    consistency is checked)."""
    assert task.check is not None
    if not _PYTEST_COMMAND.search(task.check.command) or not task.solution_dir.is_dir():
        return None
    return await _once_per_task("trusted", task, lambda: _collect_trusted(task, sandboxed, network))


async def _collect_trusted(
    task: TaskSpec, sandboxed: bool | None, network: bool
) -> frozenset[str] | None:
    async with _scratch("bakeoff-trusted-") as scratch:
        solved = prepare_workspace(task, scratch / "ws")
        await asyncio.to_thread(apply_solution, task, solved)
        result, found = await _run(task, solved, None, sandboxed=sandboxed, network=network)
    if not result.passed:
        return None
    hidden = set(overlay_files(task.hidden_dir))
    from_hidden = frozenset(i for i in found.passed_ids if i.split("::", 1)[0] in hidden)
    return from_hidden or found.passed_ids


async def fixture_passed_ids(
    task: TaskSpec, *, sandboxed: bool | None = None, network: bool = False
) -> frozenset[str]:
    """The pytest ids the check passes on the untouched fixture: tests a contestant that does
    nothing passes, which therefore earn no partial credit. Once per task and process."""
    found = await _once_per_task(
        "fixture", task, lambda: _collect_fixture(task, sandboxed, network)
    )
    return found or frozenset()


async def _collect_fixture(
    task: TaskSpec, sandboxed: bool | None, network: bool
) -> frozenset[str] | None:
    async with _scratch("bakeoff-fixture-") as scratch:
        untouched = prepare_workspace(task, scratch / "ws")
        write_answer(untouched, "")
        _, found = await _run(task, untouched, None, sandboxed=sandboxed, network=network)
    return found.passed_ids


def _task_key(task: TaskSpec) -> str:
    """Changes whenever the task's spec or any of its files does."""
    digest = hashlib.sha256(task.model_dump_json().encode())
    for sub in (task.files_dir, task.hidden_dir, task.solution_dir):
        for rel in overlay_files(sub):
            info = (sub / rel).stat()
            digest.update(f"{sub.name}/{rel}:{info.st_size}:{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


async def acheck_fixture(
    task: TaskSpec, dest: Path, change: Callable[[Path], object] | None = None
) -> CheckResult:
    """The task's check on a fresh copy of its fixture in `dest` (missing or empty), with
    `change` applied to that workspace first (none: the untouched fixture), as a trial's check
    runs: only the graded files of what the change left, and the hidden files."""
    workspace = prepare_workspace(task, dest)
    if change is not None:
        change(workspace)
    return await arun_check(task, workspace)


async def avalidate_task(task: TaskSpec) -> ValidationResult:
    """Prove the task fair: the check fails on the untouched fixture (with hidden files) and
    passes with `solution/` laid over it. A judge-only task only has to load."""
    if task.check is None:
        return ValidationResult(task=task.name, ok=True, message="judge-only; loads")
    problem = _solution_problem(task)
    if problem:
        return ValidationResult(task=task.name, ok=False, message=problem)
    async with _scratch("bakeoff-validate-") as scratch:
        untouched = await acheck_fixture(task, scratch / "untouched")
        if untouched.passed:
            return ValidationResult(
                task=task.name,
                ok=False,
                message="the check passes on the untouched fixture; it must fail until the "
                "task is done",
                untouched=untouched,
            )
        solved = await acheck_fixture(task, scratch / "solved", lambda ws: apply_solution(task, ws))
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


class _CheckSetup:
    """The environment, mounts and files of one check run, all outside the check folder."""

    def __init__(self, task: TaskSpec, folder: Path, scratch: Path) -> None:
        bin_dir, site_dir = scratch / "bin", scratch / "site"
        for made in (bin_dir, site_dir):
            made.mkdir()
        # A wrapper script, not a symlink: a venv's interpreter finds its site-packages through
        # the path it was started by, and a symlink elsewhere would lose them.
        for name in ("python", "python3"):
            shim = bin_dir / name
            shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
            shim.chmod(0o755)
        (site_dir / "sitecustomize.py").write_text(_SITECUSTOMIZE)
        (site_dir / f"{verdict.PLUGIN_NAME}.py").write_text(verdict.PLUGIN_SOURCE)
        self.verdict_file = scratch / "verdict.jsonl"  # never mounted in the sandbox
        hidden = overlay_files(task.hidden_dir)
        config = task.hidden_dir / _TASK_PYTEST_CONFIG
        if config.is_file():
            config_path = folder / _TASK_PYTEST_CONFIG
        else:
            config_path = scratch / "pytest.ini"
            config_path.write_text("[pytest]\n")
        addopts = [
            "-p",
            "no:cacheprovider",
            "-p",
            verdict.PLUGIN_NAME,
            "-c",
            str(config_path),
            f"--rootdir={folder}",
            "--noconftest",
            "--import-mode=append",
        ]
        self.env = sandbox.step_env(
            folder,
            path_prefix=[bin_dir, Path(sys.executable).parent],
            extra={
                "PYTHONSAFEPATH": "1",
                "PYTHONPATH": str(site_dir),
                "PYTHONPYCACHEPREFIX": "/tmp/bakeoff-pycache",
                # PYTEST_ADDOPTS is split with shlex: paths with spaces must survive it.
                "PYTEST_ADDOPTS": shlex.join(addopts),
            },
        )
        self.mounts = sandbox.Mounts(
            read_only=[bin_dir, site_dir, *([] if config.is_file() else [config_path])],
            read_only_over=[(task.hidden_dir / rel, folder / rel) for rel in hidden],
        )
