"""The deterministic grader: run a task's `[check]` command in a finished workspace, and prove
tasks valid. Only the task's author controls a check. It runs in the OS sandbox
(`bakeoff.sandbox`): the system read-only, the workspace the only writable place, no network, no
keys. The task's hidden files are bound read-only over their copies in the workspace, so code
that the check imports cannot rewrite them. `python` is the interpreter running bakeoff, started
safe: the current folder and the script's folder are not put first on `sys.path`, and the
workspace is appended after the standard library and site-packages, so a contestant's
`pytest.py` or `pathlib.py` shadows nothing. Byte code is cached outside the workspace, so a
planted `__pycache__` is never loaded. Pytest runs with the task's configuration only (a
`pytest.ini` in `hidden/`, else an empty one): no workspace conftest.py, ini, pyproject.toml,
setup.cfg or tox.ini, no plugin autoload, no cache. Its verdict and counts come from a JUnit XML
file written outside the workspace, never from stdout; a pytest check that exits 0 without that
file, or whose file records failures, fails. When the command times out or the caller is
cancelled, everything it started is killed. `validate_task` proves a task fair: its check fails
on the untouched fixture and passes once `solution/` is laid over.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from xml.etree import ElementTree

from pydantic import BaseModel

from bakeoff import sandbox
from bakeoff.evals.task import (
    ANSWER_FILE,
    TaskSpec,
    apply_solution,
    install_hidden,
    overlay_files,
    prepare_workspace,
)
from bakeoff.redact import redact

OUTPUT_CAP_BYTES = 8 * 1024
"""How much of the check's combined stdout+stderr is kept: the last 8 KiB, where verdicts are."""
RESULT_FILE = "junit.xml"
# A check that runs pytest: `pytest ...`, `py.test ...` or `python -m pytest ...`.
_PYTEST_COMMAND = re.compile(
    r"(?:^|[;&|(]|\bexec)\s*(?:\S*/)?(?:py\.test|pytest|python[\d.]*\s+(?:-\S+\s+)*-m\s*pytest)"
    r"(?:\s|$)"
)
_TASK_PYTEST_CONFIG = "pytest.ini"
"""A task's own pytest configuration lives in `hidden/pytest.ini`; nothing else is read."""
# Appends the workspace (the current folder) to sys.path, after stdlib and site-packages.
_SITECUSTOMIZE = "import os, sys\nsys.path.append(os.getcwd())\n"
# A plugin of ours that marks that pytest started, so a pytest run the command line does not
# show still needs its result file.
_MARKER_PLUGIN = "_bakeoff_pytest_started"
_MARKER_SOURCE = (
    "import os\n\ndef pytest_configure(config):\n"
    "    open(os.environ['BAKEOFF_PYTEST_STARTED'], 'w').close()\n"
)


class CheckResult(BaseModel):
    """What one run of a check command did."""

    passed: bool
    """Exit status 0 within the time limit and, for pytest, a result file with every test
    passed."""
    exit_code: int | None
    """The command's exit status (negative: killed by that signal); None when it timed out."""
    output: str
    """The tail of stdout and stderr together, at most `OUTPUT_CAP_BYTES`."""
    duration_s: float
    """Wall-clock seconds the command ran."""
    timed_out: bool = False
    """The command ran past `timeout_s` and its process group was killed."""
    tests_passed: int | None = None
    """Tests passed, from pytest's JUnit result file; None without one."""
    tests_total: int | None = None
    """Tests passed + failed + errors, from pytest's JUnit result file; None without one."""
    sandboxed: bool = True
    """The check ran in the OS sandbox; False only with the explicit unsafe fallback."""


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
    """Run the task's check command in `workspace` (hidden files already installed).

    `sandboxed` None: in the sandbox whenever bubblewrap works here. False is the unsafe
    fallback for machines without it: the same environment, configuration and limits, without
    the OS isolation, and the result says so."""
    if task.check is None:
        raise ValueError(f"task {task.name!r} has no [check] to run")
    if not workspace.is_dir():
        raise ValueError(f"{workspace}: workspace folder does not exist")
    workspace = Path(os.path.realpath(workspace))
    with tempfile.TemporaryDirectory(prefix="bakeoff-check-") as scratch_name:
        scratch = Path(os.path.realpath(scratch_name))
        setup = _CheckSetup(task, workspace, scratch)
        step = await sandbox.run_sandboxed(
            task.check.command,
            workspace=workspace,
            output_path=scratch / "output.log",
            timeout_s=task.check.timeout_s,
            env=setup.env,
            policy=sandbox.SandboxPolicy(network=network),
            mounts=setup.mounts,
            sandboxed=sandbox.use_sandbox(sandboxed),
        )
        text = sandbox.read_tail(step.output_path, OUTPUT_CAP_BYTES)
        counts = read_junit(setup.result_file)
        ran_pytest = setup.started_file.exists()
    passed = step.exit_code == 0
    if passed and (ran_pytest or _PYTEST_COMMAND.search(task.check.command)):
        if counts is None:
            passed = False
            text += (
                "\n[bakeoff: the check exited 0 but pytest wrote no result file; a test run "
                "that ends early (os._exit, a crash) does not pass]"
            )
        elif counts[1] == 0 or counts[0] < counts[1]:
            passed = False
            text += f"\n[bakeoff: pytest's result file records {counts[0]}/{counts[1]} passed]"
    return CheckResult(
        passed=passed,
        exit_code=step.exit_code,
        output=redact(text),
        duration_s=step.duration_s,
        timed_out=step.timed_out,
        tests_passed=None if counts is None else counts[0],
        tests_total=None if counts is None else counts[1],
        sandboxed=step.sandboxed,
    )


def run_check(task: TaskSpec, workspace: Path, *, sandboxed: bool | None = None) -> CheckResult:
    """Blocking form of `arun_check`, for callers without an event loop."""
    return asyncio.run(arun_check(task, workspace, sandboxed=sandboxed))


def read_junit(path: Path) -> tuple[int, int] | None:
    """(passed, passed + failed + errors) from pytest's JUnit XML, or None when there is none
    or it cannot be read. Skipped tests count in neither."""
    try:
        if not path.is_file() or path.stat().st_size > 16 * 1024**2:
            return None
        data = path.read_bytes()
        if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
            return None  # pytest never writes these; refusing them stops entity expansion
        root = ElementTree.fromstring(data)
    except (OSError, ElementTree.ParseError):
        return None
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    if not suites:
        return None
    tests = failures = errors = skipped = 0
    try:
        for suite in suites:
            tests += int(suite.get("tests", "0"))
            failures += int(suite.get("failures", "0"))
            errors += int(suite.get("errors", "0"))
            skipped += int(suite.get("skipped", "0"))
    except ValueError:
        return None
    total = tests - skipped
    return max(total - failures - errors, 0), max(total, 0)


async def acheck_fixture(
    task: TaskSpec, dest: Path, change: Callable[[Path], object] | None = None
) -> CheckResult:
    """The task's check on a fresh copy of its fixture in `dest` (missing or empty), with
    `change` applied to that workspace first (none: the untouched fixture), as a trial's check
    runs: the hidden files installed over whatever the change left under their names."""
    workspace = prepare_workspace(task, dest)
    if change is not None:
        change(workspace)
    install_hidden(task, workspace)
    return await arun_check(task, workspace)


async def avalidate_task(task: TaskSpec) -> ValidationResult:
    """Prove the task fair: the check fails on the untouched fixture (with hidden files) and
    passes with `solution/` laid over it. A judge-only task only has to load."""
    if task.check is None:
        return ValidationResult(task=task.name, ok=True, message="judge-only; loads")
    problem = _solution_problem(task)
    if problem:
        return ValidationResult(task=task.name, ok=False, message=problem)
    with tempfile.TemporaryDirectory(prefix="bakeoff-validate-") as scratch:
        untouched = await acheck_fixture(task, Path(scratch) / "untouched")
        if untouched.passed:
            return ValidationResult(
                task=task.name,
                ok=False,
                message="the check passes on the untouched fixture; it must fail until the "
                "task is done",
                untouched=untouched,
            )
        solved = await acheck_fixture(
            task, Path(scratch) / "solved", lambda ws: apply_solution(task, ws)
        )
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
    """The environment, mounts and files of one check run, all outside the workspace."""

    def __init__(self, task: TaskSpec, workspace: Path, scratch: Path) -> None:
        bin_dir, site_dir, results = scratch / "bin", scratch / "site", scratch / "result"
        for folder in (bin_dir, site_dir, results):
            folder.mkdir()
        # A wrapper script, not a symlink: a venv's interpreter finds its site-packages through
        # the path it was started by, and a symlink elsewhere would lose them.
        for name in ("python", "python3"):
            shim = bin_dir / name
            shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
            shim.chmod(0o755)
        (site_dir / "sitecustomize.py").write_text(_SITECUSTOMIZE)
        (site_dir / f"{_MARKER_PLUGIN}.py").write_text(_MARKER_SOURCE)
        self.result_file = results / RESULT_FILE
        self.started_file = results / "pytest-started"
        hidden = overlay_files(task.hidden_dir)
        config = task.hidden_dir / _TASK_PYTEST_CONFIG
        if config.is_file():
            config_path = workspace / _TASK_PYTEST_CONFIG
        else:
            config_path = scratch / "pytest.ini"
            config_path.write_text("[pytest]\n")
        addopts = [
            "-p",
            "no:cacheprovider",
            "-p",
            _MARKER_PLUGIN,
            "-c",
            str(config_path),
            f"--rootdir={workspace}",
            "--noconftest",
            "--import-mode=append",
            f"--junitxml={self.result_file}",
            "-o",
            "junit_family=xunit2",
        ]
        self.env = sandbox.step_env(
            workspace,
            path_prefix=[bin_dir, Path(sys.executable).parent],
            extra={
                "PYTHONSAFEPATH": "1",
                "PYTHONPATH": str(site_dir),
                "PYTHONPYCACHEPREFIX": "/tmp/bakeoff-pycache",
                "BAKEOFF_PYTEST_STARTED": str(self.started_file),
                # PYTEST_ADDOPTS is split with shlex: paths with spaces must survive it.
                "PYTEST_ADDOPTS": shlex.join(addopts),
            },
        )
        self.mounts = sandbox.Mounts(
            read_only=[bin_dir, site_dir, *([] if config.is_file() else [config_path])],
            writable=[results],
            read_only_over=[(task.hidden_dir / rel, workspace / rel) for rel in hidden],
        )
