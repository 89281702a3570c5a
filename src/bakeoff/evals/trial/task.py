"""Task folders: the `task.toml` spec, its loader and the workspace it runs in.

A task is a folder holding `task.toml` (the spec below), `files/` (the fixture the agent sees;
may be absent for answer-only tasks, which then start from an empty workspace), `hidden/` (check
files copied in only after the agent stops, overwriting anything the agent wrote under the same
names) and `solution/` (files laid over the fixture that must make the check pass; `bakeoff tasks
validate` proves it). The agent's final answer reaches the check through a file: once the agent
has stopped, for every trial of a task with a check whose agent did not end in an error (an
errored trial is neither checked nor judged), the trial writes the final answer verbatim to
`ANSWER.txt` (`ANSWER_FILE`) at the workspace root with `write_answer()`, replacing anything the
agent left under that name, then runs the check in a folder of the fixture, the graded files
(`CheckSpec.graded`, `ANSWER.txt` always among them) and `hidden/` (`install_hidden()`), so an
answer-only task's hidden check simply reads `ANSWER.txt`. The workspace diff is taken before
both, so neither file shows up as the agent's work; a task without a check gets no
`ANSWER.txt`. A `solution/` of an answer-only task therefore holds an `ANSWER.txt` with a
correct answer.
"""

from __future__ import annotations

import difflib
import re
import shutil
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bakeoff.errors import ConfigError
from bakeoff.user_files import read_task_file
from bakeoff.workspace import install_file

ANSWER_FILE = "ANSWER.txt"
"""Name of the file, at the workspace root, that holds the agent's final answer for the check."""

TASK_FILE = "task.toml"

# Editor and interpreter droppings that must never travel from a task folder into a workspace.
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".DS_Store")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class CheckSpec(BaseModel):
    """`[check]`: the deterministic grader, a shell command run in the finished workspace."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    command: str = Field(min_length=1)
    """Shell command run at the workspace root; exit status 0 means passed. `python` in it is
    the interpreter running bakeoff, so `python -m pytest -q hidden_test_x.py` works."""
    timeout_s: float = Field(default=60.0, gt=0)
    """Wall-clock limit in seconds; past it the whole process group is killed and it fails."""
    graded: list[str] | None = None
    """Globs of the workspace files the check sees (`todo/**/*.py`); None: the fixture's files
    and the files the prompt names. Nothing else the agent wrote is there when the check runs
    (see `bakeoff.evals.trial.check_folder`)."""

    @field_validator("graded")
    @classmethod
    def _graded_inside(cls, value: list[str] | None) -> list[str] | None:
        for glob in value or []:
            parts = glob.split("/")
            if not glob or glob.startswith("/") or "\\" in glob or ".." in parts:
                raise ValueError(f"{glob!r}: a glob relative to the workspace, without '..'")
        return value


class JudgeSpec(BaseModel):
    """`[judge]`: what an LLM judge grades the run against."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    rubric: str = Field(min_length=1)
    """What a good result looks like, in words, for the judge model."""


class TaskSpec(BaseModel):
    """One task as read from `task.toml`, plus the folder it came from."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: str
    """Unique name; it keys stored results, so letters, digits, '.', '_' and '-' only."""
    prompt: str = Field(min_length=1)
    """What the agent is asked to do; it names every file precisely."""
    category: str = Field(min_length=1)
    """Free text (answer, implement, bugfix, ...); the report groups by it."""
    difficulty: int
    """1 (trivial) to 5 (hard)."""
    check: CheckSpec | None = None
    """The deterministic grader; without it only judges grade."""
    judge: JudgeSpec | None = None
    """The LLM judge's rubric; without it only the check grades."""
    allow_commands: bool = False
    """Whether the agent gets the `run_command` tool for this task."""
    allow_network: bool = False
    """Whether `run_command` and the check may reach the network (off: the sandbox has none)."""
    max_turns: int | None = Field(default=None, ge=1)
    """A per-task cap on agent turns; None leaves the runner's default."""
    expected_answer: str | None = None
    """The reference answer of an answer-only task, for judges and reports. It grades nothing
    by itself: the check reads `ANSWER.txt` and decides."""
    tags: list[str] = Field(default_factory=list)
    """Labels for picking subsets, e.g. "quick" for the fast demo tasks."""
    path: Path = Field(strict=False)
    """The task folder. Set by the loader, never written in `task.toml`."""

    @field_validator("name")
    @classmethod
    def _name_is_a_slug(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(
                "must be letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        return value

    @field_validator("difficulty")
    @classmethod
    def _difficulty_in_range(cls, value: int) -> int:
        if not 1 <= value <= 5:
            raise ValueError("must be between 1 and 5")
        return value

    @model_validator(mode="after")
    def _graded_somehow(self) -> TaskSpec:
        if self.check is None and self.judge is None:
            raise ValueError("needs a [check] table, a [judge] table, or both")
        return self

    @property
    def files_dir(self) -> Path:
        """The fixture folder (may not exist: the workspace then starts empty)."""
        return self.path / "files"

    @property
    def hidden_dir(self) -> Path:
        """Check files installed after the agent stops (may not exist)."""
        return self.path / "hidden"

    @property
    def solution_dir(self) -> Path:
        """Files laid over the fixture that make the check pass (may not exist)."""
        return self.path / "solution"


def builtin_suite_dir() -> Path:
    """The folder of the built-in task suite shipped inside the package."""
    return Path(__file__).parent.parent / "suite"


def builtin_task(name: str) -> Path | None:
    """The folder of the built-in task called `name`, or None. A name, never a path: `../x`
    does not reach out of the suite."""
    if "/" in name or "\\" in name or name in ("", ".", ".."):
        return None
    folder = builtin_suite_dir() / name
    return folder if (folder / TASK_FILE).is_file() else None


def builtin_task_names() -> list[str]:
    """The names of the built-in tasks, sorted."""
    return sorted(c.name for c in builtin_suite_dir().iterdir() if (c / TASK_FILE).is_file())


def load_task(path: Path | str) -> TaskSpec:
    """Read one task folder (or its `task.toml`); every problem raises ConfigError naming the
    file and, where there is one, the field."""
    folder = Path(path)
    if folder.name == TASK_FILE and folder.is_file():
        folder = folder.parent
    toml_path = folder / TASK_FILE
    shown = _display(toml_path)
    if not toml_path.exists() and not toml_path.is_symlink():
        raise ConfigError(f"{shown}: no such file (a task folder needs a {TASK_FILE})")
    raw = read_task_file(toml_path, shown)  # a regular file of bounded size, never a FIFO
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{shown}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{shown}: not UTF-8 text") from None
    if "path" in data:
        raise ConfigError(f"{shown}: field 'path': set by the loader from the folder, remove it")
    for sub in ("files", "hidden", "solution"):
        if (folder / sub).exists() and not (folder / sub).is_dir():
            raise ConfigError(f"{_display(folder / sub)}: must be a folder")
    try:
        return TaskSpec.model_validate({**data, "path": folder.resolve()})
    except ValidationError as exc:
        raise ConfigError("\n".join(_describe(shown, err) for err in exc.errors())) from None


def load_tasks(paths: Sequence[Path | str] = ()) -> list[TaskSpec]:
    """Load task folders, or folders of task folders; no paths means the built-in suite.

    Order is kept (children of a folder sorted by name); the same folder given twice loads once,
    and two different folders with the same task name are an error.
    """
    folders: list[Path] = []
    for given in paths or [builtin_suite_dir()]:
        folders.extend(_task_folders(Path(given)))
    tasks: list[TaskSpec] = []
    seen_paths: set[Path] = set()
    by_name: dict[str, TaskSpec] = {}
    for folder in folders:
        if folder.resolve() in seen_paths:
            continue
        seen_paths.add(folder.resolve())
        task = load_task(folder)
        if task.name in by_name:
            first = _display(by_name[task.name].path / TASK_FILE)
            raise ConfigError(
                f"{_display(folder / TASK_FILE)}: field 'name': {task.name!r} is already "
                f"used by {first}"
            )
        by_name[task.name] = task
        tasks.append(task)
    return tasks


def prepare_workspace(task: TaskSpec, dest: Path) -> Path:
    """Copy the task's fixture into `dest`, which must be missing or an empty folder (not a
    symlink); returns `dest`."""
    if dest.is_symlink() or (dest.exists() and any(dest.iterdir())):
        raise ValueError(f"{dest}: workspace folder is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    if task.files_dir.is_dir():
        shutil.copytree(task.files_dir, dest, ignore=_IGNORED, dirs_exist_ok=True)
    return dest


def apply_solution(task: TaskSpec, workspace: Path) -> list[str]:
    """Lay `solution/` over the workspace (what `validate` does); returns the paths written."""
    return _overlay(task.solution_dir, workspace)


def install_hidden(task: TaskSpec, workspace: Path) -> list[str]:
    """Copy `hidden/` into the workspace, replacing whatever the agent left under the same
    names (files, folders, symlinks, FIFOs, a symlinked folder on the way) without following
    or blocking on any of it; call it only after the agent has stopped. Returns the
    workspace-relative paths written."""
    return _overlay(task.hidden_dir, workspace)


def write_answer(workspace: Path, answer: str) -> Path:
    """Write the agent's final answer to `ANSWER.txt` for the check, replacing whatever the
    agent planted under that name (a link, folder or FIFO cannot redirect or block it);
    returns the file."""
    install_file(workspace, ANSWER_FILE, answer.encode("utf-8", errors="replace"))
    return workspace / ANSWER_FILE


def overlay_files(source: Path) -> list[str]:
    """The files of a task's `hidden/` or `solution/` folder that get laid over a workspace,
    relative and sorted (byte-code droppings left out); [] when the folder is missing."""
    if not source.is_dir():
        return []
    return sorted(
        p.relative_to(source).as_posix()
        for p in source.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )


def _overlay(source: Path, workspace: Path) -> list[str]:
    written = overlay_files(source)
    for rel in written:
        original = source / rel
        install_file(workspace, rel, original.read_bytes(), original.stat().st_mode)
    return written


def _task_folders(given: Path) -> list[Path]:
    if (given / TASK_FILE).is_file() or given.name == TASK_FILE:
        return [given.parent if given.name == TASK_FILE else given]
    if not given.is_dir():
        raise ConfigError(f"{_display(given)}: no such task folder or folder of tasks")
    found = sorted(child for child in given.iterdir() if (child / TASK_FILE).is_file())
    if not found:
        raise ConfigError(f"{_display(given)}: no {TASK_FILE} in it or in its sub-folders")
    return found


def _display(path: Path) -> str:
    """A path as the user would type it: relative to the current folder when inside it."""
    absolute = path.absolute()
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(absolute)


def _describe(shown: str, err: Any) -> str:
    loc = tuple(str(part) for part in err["loc"])
    kind, message = err["type"], err["msg"]
    if kind == "missing":
        message = "required field is missing"
    elif kind == "extra_forbidden":
        known = _known_fields(loc[:-1])
        close = difflib.get_close_matches(loc[-1], known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        message = f"unknown field ({hint}known: {', '.join(known)})"
    elif kind == "value_error":
        message = message.removeprefix("Value error, ")
    elif kind == "string_too_short":
        message = "must not be empty"
    else:
        message = message[:1].lower() + message[1:]
    if not loc:
        return f"{shown}: {message}"
    return f"{shown}: field '{'.'.join(loc)}': {message}"


def _known_fields(parent: tuple[str, ...]) -> list[str]:
    tables: dict[tuple[str, ...], type[BaseModel]] = {("check",): CheckSpec, ("judge",): JudgeSpec}
    model = tables.get(parent, TaskSpec)
    return [name for name in model.model_fields if name != "path"]
