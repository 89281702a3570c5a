"""The built-in suite: every task is fair, answer checks judge the answer, the mix is right."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from bakeoff.evals.trial.checks import run_check, validate_task
from bakeoff.evals.trial.task import (
    ANSWER_FILE,
    TaskSpec,
    apply_solution,
    install_hidden,
    load_tasks,
    prepare_workspace,
    write_answer,
)

TASKS = load_tasks()
BY_NAME = {task.name: task for task in TASKS}


@pytest.mark.parametrize("task", TASKS, ids=[task.name for task in TASKS])
def test_task_fails_untouched_and_passes_with_its_solution(task: TaskSpec) -> None:
    result = validate_task(task)
    assert result.ok, result.message


def test_suite_covers_the_mix() -> None:
    assert len(TASKS) >= 16
    assert {task.difficulty for task in TASKS} == {1, 2, 3, 4, 5}
    assert sum(task.difficulty <= 2 for task in TASKS) >= 5
    assert sum(task.difficulty >= 4 for task in TASKS) >= 3
    categories = {task.category for task in TASKS}
    assert {"answer", "read", "extract", "analyse", "bugfix", "implement", "feature"} <= categories
    assert {"refactor", "edit", "create"} <= categories


def test_quick_subset_is_a_few_easy_tasks() -> None:
    quick = [task for task in TASKS if "quick" in task.tags]
    assert 3 <= len(quick) <= 5
    assert all(task.difficulty == 1 and not task.allow_commands for task in quick)


@pytest.mark.parametrize("task", TASKS, ids=[task.name for task in TASKS])
def test_task_folder_is_well_formed(task: TaskSpec) -> None:
    assert task.path.name == task.name
    assert task.check is not None and task.solution_dir.is_dir()
    # a local run of the hidden tests leaves a cache (ignored by git and by the task loader)
    hidden = sorted(p.name for p in task.hidden_dir.iterdir() if p.name != "__pycache__")
    assert hidden and all(re.fullmatch(r"hidden_test_\w+\.py|hidden_check\.py", n) for n in hidden)
    # the check runs a file that only the hidden folder provides
    assert any(name in task.check.command for name in hidden)
    if task.files_dir.is_dir() and task.name != "large-file-edit":
        size = sum(p.stat().st_size for p in task.files_dir.rglob("*") if p.is_file())
        assert size < 16_000
    assert not (task.files_dir / ANSWER_FILE).exists()


def answer_workspace(task: TaskSpec, tmp_path: Path, answer: str) -> Path:
    workspace = prepare_workspace(task, tmp_path / "ws")
    write_answer(workspace, answer)
    install_hidden(task, workspace)
    return workspace


LOG_LINE = (
    "2024-05-14 09:13:27 ERROR payments: gateway timeout after 30s (order=A-10293, attempt=3)"
)
ANSWERS = [
    ("config-port-answer", "8443", True),
    ("config-port-answer", "The [server] section uses port 8443.", True),
    ("config-port-answer", "5432", False),
    ("config-port-answer", "8443 (the database uses 5432)", False),
    ("config-port-answer", "I could not find it.", False),
    ("count-functions-answer", "6", True),
    ("count-functions-answer", "Six.", True),
    ("count-functions-answer", "7", False),
    ("count-functions-answer", "9 (6 functions and 3 methods)", False),
    ("log-error-line", LOG_LINE, True),
    ("log-error-line", f"The line is:\n`{LOG_LINE}`", True),
    ("log-error-line", "payments: gateway timeout after 30s", False),
    ("log-error-line", LOG_LINE.replace("attempt=3", "attempt=2"), False),
    ("log-error-line", LOG_LINE + "\n" + "Here is a long explanation. " * 20, False),
    ("log-error-line", "", False),
]


@pytest.mark.parametrize(("name", "answer", "passes"), ANSWERS)
def test_answer_checks_read_the_final_answer(
    tmp_path: Path, name: str, answer: str, passes: bool
) -> None:
    task = BY_NAME[name]
    result = run_check(task, answer_workspace(task, tmp_path, answer))
    assert result.passed is passes, result.output


def test_every_answer_task_has_its_expected_answer_accepted(tmp_path: Path) -> None:
    answer_tasks = [task for task in TASKS if task.expected_answer is not None]
    assert len(answer_tasks) >= 3
    for task in answer_tasks:
        assert task.expected_answer is not None
        workspace = answer_workspace(task, tmp_path / task.name, task.expected_answer)
        assert run_check(task, workspace).passed, task.name


def _large_file_generator() -> ModuleType:
    task = BY_NAME["large-file-edit"]
    spec = importlib.util.spec_from_file_location("gen", task.hidden_dir / "hidden_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_large_file_is_generated_deterministically() -> None:
    task = BY_NAME["large-file-edit"]
    generate = _large_file_generator().generate
    original = (task.files_dir / "error_codes.py").read_bytes()
    assert original == generate(fixed=False).encode()
    assert (task.solution_dir / "error_codes.py").read_bytes() == generate(fixed=True).encode()
    assert original.count(b"\n") > 2000 and len(original) < 200_000


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text.replace('"E2316": ("Price plan is invalid", 422)', '"E2316": ("x", 422)'),
        lambda text: text.rstrip("\n"),
        lambda text: text.replace('"E2318": ("Retry of E2317 failed", 500)', '"E2318": (1, 503)'),
    ],
    ids=["other-line", "final-newline", "neighbour"],
)
def test_large_file_check_rejects_any_other_change(
    tmp_path: Path, damage: Callable[[str], str]
) -> None:
    task = BY_NAME["large-file-edit"]
    workspace = prepare_workspace(task, tmp_path / "ws")
    apply_solution(task, workspace)
    target = workspace / "error_codes.py"
    target.write_text(damage(target.read_text()))
    install_hidden(task, workspace)
    assert not run_check(task, workspace).passed
