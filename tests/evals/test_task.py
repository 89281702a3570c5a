"""Loading task folders: good tasks load, bad ones fail with the file and field named."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bakeoff.errors import ConfigError
from bakeoff.evals.trial.task import (
    ANSWER_FILE,
    CheckSpec,
    TaskSpec,
    builtin_suite_dir,
    install_hidden,
    load_task,
    load_tasks,
    prepare_workspace,
    write_answer,
)

GOOD = """\
name = "add-numbers"
prompt = "Create calc.py with a function add(a, b) that returns their sum."
category = "implement"
difficulty = 1
[check]
command = "python -m pytest -q hidden_test_calc.py"
timeout_s = 60
[judge]
rubric = "Correct, minimal, readable."
"""


def make_task(root: Path, toml: str, name: str = "task") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "task.toml").write_text(toml, encoding="utf-8")
    return folder


def load_error(folder: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_task(folder)
    return str(info.value)


def test_good_task_loads_with_its_folder(tmp_path: Path) -> None:
    task = load_task(make_task(tmp_path, GOOD))
    assert task.name == "add-numbers"
    assert task.difficulty == 1
    assert task.check is not None and task.check.timeout_s == 60
    assert task.judge is not None and task.judge.rubric.startswith("Correct")
    assert task.allow_commands is False and task.max_turns is None and task.tags == []
    assert task.path == (tmp_path / "task").resolve()


def test_loads_from_the_toml_path_too(tmp_path: Path) -> None:
    folder = make_task(tmp_path, GOOD)
    assert load_task(folder / "task.toml").path == folder.resolve()


def test_check_alone_and_judge_alone_are_both_valid(tmp_path: Path) -> None:
    head = 'name = "t"\nprompt = "p"\ncategory = "c"\ndifficulty = 2\n'
    check_only = load_task(make_task(tmp_path, head + '[check]\ncommand = "true"\n', "a"))
    judge_only = load_task(make_task(tmp_path, head + '[judge]\nrubric = "good"\n', "b"))
    assert check_only.judge is None and check_only.check is not None
    assert check_only.check.timeout_s == 60
    assert judge_only.check is None and judge_only.judge is not None


def test_error_names_file_and_field_relative_to_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_task(tmp_path / "tasks", GOOD.replace("difficulty = 1", "difficulty = 7"), "foo")
    monkeypatch.chdir(tmp_path)
    assert load_error(Path("tasks/foo")) == (
        "tasks/foo/task.toml: field 'difficulty': must be between 1 and 5"
    )


def test_missing_field(tmp_path: Path) -> None:
    folder = make_task(tmp_path, GOOD.replace('prompt = "Create calc.py', 'x = "'))
    message = load_error(folder)
    assert str(folder / "task.toml") in message
    assert "field 'prompt': required field is missing" in message


def test_wrong_type(tmp_path: Path) -> None:
    message = load_error(make_task(tmp_path, GOOD.replace("difficulty = 1", 'difficulty = "1"')))
    assert "field 'difficulty':" in message and "integer" in message


def test_wrong_type_in_a_table(tmp_path: Path) -> None:
    message = load_error(make_task(tmp_path, GOOD.replace("timeout_s = 60", 'timeout_s = "60"')))
    assert "field 'check.timeout_s':" in message


def test_unknown_field_suggests_the_known_one(tmp_path: Path) -> None:
    message = load_error(make_task(tmp_path, GOOD.replace("difficulty = 1", "dificulty = 1")))
    assert "field 'dificulty': unknown field (did you mean 'difficulty'?" in message
    assert "field 'difficulty': required field is missing" in message


def test_unknown_field_in_check_table(tmp_path: Path) -> None:
    message = load_error(make_task(tmp_path, GOOD.replace("timeout_s = 60", "timout_s = 60")))
    assert "field 'check.timout_s': unknown field (did you mean 'timeout_s'?" in message


def test_toml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    folder = make_task(tmp_path, GOOD.replace('category = "implement"', "category = implement"))
    message = load_error(folder)
    assert message.startswith(f"{folder / 'task.toml'}: invalid TOML:")
    assert "line 3" in message


def test_task_without_check_or_judge_is_an_error(tmp_path: Path) -> None:
    toml = 'name = "t"\nprompt = "p"\ncategory = "c"\ndifficulty = 2\n'
    assert "needs a [check] table, a [judge] table, or both" in load_error(
        make_task(tmp_path, toml)
    )


def test_bad_name_and_empty_prompt(tmp_path: Path) -> None:
    toml = GOOD.replace('"add-numbers"', '"add numbers/x"').replace(
        'prompt = "Create calc.py with a function add(a, b) that returns their sum."', 'prompt = ""'
    )
    message = load_error(make_task(tmp_path, toml))
    assert "field 'name': must be letters, digits" in message
    assert "field 'prompt':" in message


def test_path_is_not_a_toml_field(tmp_path: Path) -> None:
    message = load_error(make_task(tmp_path, 'path = "/etc"\n' + GOOD))
    assert "field 'path': set by the loader" in message


def test_missing_task_toml(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    message = load_error(tmp_path / "empty")
    assert message.startswith(str(tmp_path / "empty" / "task.toml"))
    assert "no such file" in message


def test_load_tasks_from_a_folder_of_tasks_in_name_order(tmp_path: Path) -> None:
    make_task(tmp_path / "suite", GOOD.replace("add-numbers", "b-task"), "b")
    make_task(tmp_path / "suite", GOOD.replace("add-numbers", "a-task"), "a")
    (tmp_path / "suite" / "not-a-task").mkdir()
    tasks = load_tasks([tmp_path / "suite"])
    assert [task.name for task in tasks] == ["a-task", "b-task"]
    # the same folder named twice loads once
    assert len(load_tasks([tmp_path / "suite", str(tmp_path / "suite" / "a")])) == 2


def test_duplicate_names_are_an_error(tmp_path: Path) -> None:
    first = make_task(tmp_path, GOOD, "one")
    second = make_task(tmp_path, GOOD, "two")
    with pytest.raises(ConfigError) as info:
        load_tasks([first, second])
    message = str(info.value)
    assert str(second / "task.toml") in message and str(first / "task.toml") in message
    assert "field 'name': 'add-numbers' is already used" in message


def test_load_tasks_reports_missing_and_empty_paths(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such task folder"):
        load_tasks([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"no task\.toml in it"):
        load_tasks([tmp_path / "empty"])


def test_default_is_the_builtin_suite() -> None:
    tasks = load_tasks()
    assert len(tasks) >= 16
    assert all(task.path.parent == builtin_suite_dir().resolve() for task in tasks)


def _task(folder: Path) -> TaskSpec:
    return load_task(make_task(folder, GOOD, "t"))


def test_prepare_workspace_copies_the_fixture_only(tmp_path: Path) -> None:
    task = _task(tmp_path)
    (task.files_dir / "pkg" / "__pycache__").mkdir(parents=True)
    (task.files_dir / "pkg" / "mod.py").write_text("x = 1\n")
    (task.files_dir / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\0")
    (task.hidden_dir).mkdir()
    (task.hidden_dir / "hidden_test_x.py").write_text("")
    workspace = prepare_workspace(task, tmp_path / "ws")
    assert sorted(p.relative_to(workspace).as_posix() for p in workspace.rglob("*")) == [
        "pkg",
        "pkg/mod.py",
    ]


def test_prepare_workspace_without_files_dir_is_empty(tmp_path: Path) -> None:
    workspace = prepare_workspace(_task(tmp_path), tmp_path / "ws")
    assert workspace.is_dir() and list(workspace.iterdir()) == []


def test_prepare_workspace_refuses_a_used_folder(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "old.txt").write_text("left over")
    with pytest.raises(ValueError, match="not empty"):
        prepare_workspace(_task(tmp_path), tmp_path / "ws")


def test_install_hidden_overwrites_what_the_agent_planted(tmp_path: Path) -> None:
    task = _task(tmp_path)
    task.hidden_dir.mkdir()
    (task.hidden_dir / "hidden_check.py").write_text("print('real check')\n")
    (task.hidden_dir / "data").mkdir()
    (task.hidden_dir / "data" / "expected.json").write_text("{}")
    workspace = prepare_workspace(task, tmp_path / "ws")
    (workspace / "hidden_check.py").write_text("print('PASS')  # forged by the agent\n")
    (workspace / "data").mkdir()
    (workspace / "data" / "expected.json").mkdir()  # a folder where a file goes
    written = install_hidden(task, workspace)
    assert written == ["data/expected.json", "hidden_check.py"]
    assert (workspace / "hidden_check.py").read_text() == "print('real check')\n"
    assert (workspace / "data" / "expected.json").read_text() == "{}"


def test_write_answer_replaces_anything_at_answer_txt(tmp_path: Path) -> None:
    (tmp_path / ANSWER_FILE).mkdir()
    path = write_answer(tmp_path, "8443\n")
    assert path == tmp_path / "ANSWER.txt"
    assert path.read_text() == "8443\n"


def test_graded_globs_default_to_the_fixture_and_the_files_the_prompt_names(
    tmp_path: Path,
) -> None:
    from bakeoff.evals.trial.check_folder import graded_globs, named_in_prompt

    assert named_in_prompt(
        "Create `todo/export.py` and money.py; run `python -m pytest -q tests`. "
        "TodoList.export(fmt), 3.5, e.g. ../up.py, and format_money(-5) name no file."
    ) == ["money.py", "todo/export.py"]
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "report.py").write_text("")
    task = TaskSpec(
        name="t",
        prompt="Create money.py.",
        category="c",
        difficulty=1,
        check=CheckSpec(command="true"),
        path=tmp_path,
    )
    assert graded_globs(task) == ["ANSWER.txt", "money.py", "report.py"]


def test_only_graded_files_reach_the_check_folder(tmp_path: Path) -> None:
    from bakeoff.evals.trial.check_folder import build_check_folder

    (tmp_path / "task" / "files").mkdir(parents=True)
    (tmp_path / "task" / "files" / "keep.py").write_text("fixture")
    (tmp_path / "task" / "files" / "gone.py").write_text("fixture")
    (tmp_path / "task" / "hidden").mkdir()
    (tmp_path / "task" / "hidden" / "hidden_test.py").write_text("hidden")
    task = TaskSpec(
        name="t",
        prompt="Write calc.py.",
        category="c",
        difficulty=1,
        check=CheckSpec(command="true", graded=["*.py", "pkg/**"]),
        path=tmp_path / "task",
    )
    ws = tmp_path / "ws"
    (ws / "pkg" / "deep").mkdir(parents=True)
    (ws / "keep.py").write_text("changed")
    (ws / "calc.py").write_text("mine")
    (ws / "pkg" / "deep" / "m.py").write_text("deep")
    (ws / "notes.txt").write_text("not graded")
    (ws / "hidden_test.py").write_text("forged")
    (ws / "link.py").symlink_to(ws / "calc.py")
    os.mkfifo(ws / "fifo.py")
    taken = build_check_folder(task, ws, tmp_path / "check")
    assert taken == ["calc.py", "keep.py", "pkg/deep/m.py"]
    folder = tmp_path / "check"
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == ["calc.py", "hidden_test.py", "keep.py", "pkg/deep/m.py"]
    assert (folder / "keep.py").read_text() == "changed"  # gone.py: deleted by the contestant
    assert (folder / "hidden_test.py").read_text() == "hidden"


@pytest.mark.parametrize("glob", ["/etc/*", "../x.py", "a/../../b", ""])
def test_graded_globs_stay_inside_the_workspace(glob: str) -> None:
    with pytest.raises(ValueError, match="relative to the workspace"):
        CheckSpec(command="true", graded=[glob])
