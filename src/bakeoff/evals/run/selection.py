"""Which tasks a bake-off runs, from what the user typed: each argument is a task folder (or a
folder of tasks), a built-in task's name, or else a prompt — an ad-hoc task in an empty
workspace (or a copy of `files`), graded by the run's judges when it has any. `--tasks PATTERN`
(shell globs on task names) and `--category NAME` then narrow the set."""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from bakeoff.errors import UserError
from bakeoff.evals.trial.task import (
    TASK_FILE,
    TaskSpec,
    builtin_task,
    builtin_task_names,
    load_tasks,
)
from bakeoff.user_files import measure_folder

ADHOC_RUBRIC = "Correct, complete and concise; follows the prompt exactly."
FILES_ORIGIN = "files-origin"
"""In an ad-hoc task's folder: the `--files` folder its fixture copies (`bakeoff apply`)."""


def adhoc_task(
    prompt: str,
    rubric: str | None = None,
    *,
    root: Path | None = None,
    files: Path | None = None,
) -> TaskSpec:
    """A one-off task from a bare prompt: no checks, graded by judges only; its fixture is a
    copy of `files` (default: empty), which must pass `user_files.measure_folder` (links are
    copied as links, never followed). It is written as a real task folder under `root`
    (default `.bakeoff/adhoc`) so `--resume` finds it, with the folder `files` noted in it
    (`files_origin`: `bakeoff apply` writes back there); the same prompt and files give the
    same folder."""
    if files is not None:  # a folder of bounded size: no /proc, devices or FIFOs
        measure_folder(files, what="--files")
    key = json.dumps([prompt, rubric, None if files is None else str(files.resolve())])
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    folder = (root or Path(".bakeoff/adhoc")) / f"prompt-{digest}"
    fixture = folder / "files"
    if fixture.exists():
        shutil.rmtree(fixture)  # the fixture is what `files` holds now, not last time
    if files is not None:
        shutil.copytree(files, fixture, symlinks=True)
        (folder / FILES_ORIGIN).write_bytes(os.fsencode(files.resolve()))
    fixture.mkdir(parents=True, exist_ok=True)
    toml = (
        f'name = "prompt-{digest}"\n'
        f"prompt = {_toml_str(prompt)}\n"
        'category = "ad-hoc"\ndifficulty = 2\n\n[judge]\n'
        f"rubric = {_toml_str(rubric or ADHOC_RUBRIC)}\n"
    )
    (folder / TASK_FILE).write_text(toml, encoding="utf-8")
    return load_tasks([folder])[0]


def files_origin(task_folder: Path) -> Path | None:
    """The `--files` folder an ad-hoc task's fixture was copied from; None for any other."""
    try:
        return Path(os.fsdecode((task_folder / FILES_ORIGIN).read_bytes()))
    except OSError:
        return None


def _toml_str(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid TOML basic string


def select_tasks(
    given: Sequence[str],
    *,
    patterns: Sequence[str] = (),
    category: str | None = None,
    files: Path | None = None,
    adhoc_root: Path | None = None,
) -> list[TaskSpec]:
    """The tasks for `bakeoff run ARG...` (module docstring); no argument means the built-in
    suite. A lone word or path that is neither a folder nor a task but is close to a built-in
    name is taken for a typo, not a prompt."""
    folders: list[Path] = []
    prompts: list[str] = []
    for arg in given:
        path = Path(arg).expanduser()
        if path.is_dir() or (path.name == TASK_FILE and path.is_file()):
            folders.append(path)
        elif (builtin := builtin_task(arg)) is not None:
            folders.append(builtin)
        else:
            _refuse_typo(arg)
            prompts.append(arg)
    if files is not None and not prompts:
        raise UserError("--files is the fixture of a prompt: pass the prompt too, in quotes")
    tasks = load_tasks(folders) if folders or not prompts else []
    tasks += [adhoc_task(p, root=adhoc_root, files=files) for p in prompts]
    return filter_tasks(tasks, patterns=patterns, category=category)


def _refuse_typo(arg: str) -> None:
    if any(c.isspace() for c in arg.strip()):
        return
    if "/" in arg or arg.endswith(".toml"):
        raise UserError(f"{arg}: no such task folder (a prompt needs quotes and spaces)")
    close = difflib.get_close_matches(arg, builtin_task_names(), n=1, cutoff=0.8)
    if close:
        raise UserError(f"{arg}: no such task; did you mean {close[0]}? (`bakeoff tasks list`)")


def filter_tasks(
    tasks: Sequence[TaskSpec], *, patterns: Sequence[str] = (), category: str | None = None
) -> list[TaskSpec]:
    """The tasks whose name matches any of `patterns` (shell globs, case-sensitive) and whose
    category is `category` (any case); an empty result is an error naming what exists."""
    chosen = list(tasks)
    if patterns:
        chosen = [t for t in chosen if any(fnmatch.fnmatchcase(t.name, p) for p in patterns)]
        if not chosen:
            names = ", ".join(t.name for t in tasks)
            raise UserError(f"--tasks {','.join(patterns)} matches no task; tasks: {names}")
    if category is not None:
        before = chosen
        chosen = [t for t in chosen if t.category.lower() == category.lower()]
        if not chosen:
            cats = ", ".join(sorted({t.category for t in before}))
            raise UserError(f"--category {category} matches no task; categories: {cats}")
    return chosen
