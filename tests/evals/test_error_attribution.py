"""Error attribution: whatever bytes a contestant sends — tool arguments of any JSON type, NUL
bytes and lone surrogates in commands, paths, contents and answers — end only its own trial,
as `failed` with a named reason (or `passed`, when it also did the work), never as `error`
(an error is left out of the model's grade, so an error a contestant can cause is a way to
launder a failure). bakeoff's own bugs are `error` with the stop reason `internal`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bakeoff.agent import AgentConfig, run_agent
from bakeoff.evals.run.runner import BakeoffRequest, Observer, run_bakeoff
from bakeoff.evals.store.records import TrialRecord, error_kind
from bakeoff.evals.store.store import Store
from bakeoff.evals.trial.task import CheckSpec, TaskSpec
from bakeoff.evals.trial.trial import HarnessError, attribute, run_trial
from bakeoff.models.scripted import ScriptedModel
from bakeoff.report.html import render_html
from bakeoff.report.terminal import print_summary
from bakeoff.sandbox import sandbox_status
from bakeoff.types import AgentResult

SANDBOX = sandbox_status()
needs_sandbox = pytest.mark.skipif(not SANDBOX.available, reason=f"no sandbox: {SANDBOX.reason}")

RIGHT = "def add(a, b):\n    return a + b\n"
HIDDEN_TEST = "from calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def calc_task(tmp_path: Path) -> TaskSpec:
    folder = tmp_path / "task"
    (folder / "hidden").mkdir(parents=True)
    (folder / "hidden" / "hidden_test_calc.py").write_text(HIDDEN_TEST)
    return TaskSpec(
        name="calc",
        prompt="Create calc.py with add(a, b).",
        category="implement",
        difficulty=1,
        check=CheckSpec(command="python -m pytest -q hidden_test_calc.py", timeout_s=60),
        path=folder,
    )


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def script(tmp_path: Path, turns: list[dict[str, Any]]) -> ScriptedModel:
    path = tmp_path / f"contestant-{len(list(tmp_path.glob('contestant-*')))}.json"
    # ensure_ascii: lone surrogates and NULs travel as \u escapes, as a provider sends them
    path.write_text(json.dumps(turns, ensure_ascii=True))
    return ScriptedModel(path)


HOSTILE_CALLS: dict[str, dict[str, Any]] = {
    "NUL in a command": call("run_command", command="echo a\x00b"),
    "lone surrogate in a command": call("run_command", command="echo \ud800"),
    "NUL in a path": call("write_file", path="a\x00b.py", content="x"),
    "lone surrogate in a path": call("write_file", path="a\ud800.py", content="x"),
    "lone surrogate in old_str": call("edit_file", path="calc.py", old_str="\ud800", new_str="x"),
    "NUL in a listed folder": call("list_directory", path=".\x00"),
    "lone surrogate in get_file_info": call("get_file_info", path="\udcff"),
    "a list for a path": call("read_file", path=["calc.py"]),
    "an object for a path": call("write_file", path={"a": 1}, content=None),
    "a number for a path": call("read_file", path=1e308),
    "null for a command": call("run_command", command=None),
    "an object for a command": call("run_command", command={"cmd": ["ls"]}),
    "a surrogate tool name": call("\ud800", path="x"),
    "a huge content": call("write_file", path="big.txt", content="x" * (12 * 1024 * 1024)),
}


@needs_sandbox
@pytest.mark.parametrize("attack", sorted(HOSTILE_CALLS))
async def test_hostile_tool_arguments_are_tool_errors_not_trial_errors(
    tmp_path: Path, attack: str
) -> None:
    model = script(
        tmp_path,
        [
            {"tool_calls": [call("write_file", path="calc.py", content=RIGHT)]},
            {"tool_calls": [HOSTILE_CALLS[attack]]},
            {"text": "done"},
        ],
    )
    record = await run_trial(
        calc_task(tmp_path),
        model,
        0,
        run_id="attribution",
        agent_config=AgentConfig(allow_commands=True, timeout_s=60),
    )
    # The contestant also solved the task: the hostile call was answered as a tool error and
    # the trial went on to be graded.
    assert record.status == "passed", (record.agent.stop_reason, record.agent.error)
    replies = [m for m in record.agent.transcript if m.role == "tool"]
    assert [m.is_error for m in replies] == [False, True], [m.content for m in replies]
    assert replies[1].content.startswith("Error: ")
    # The record stores as JSON (the store's encoding) whatever bytes the contestant sent.
    TrialRecord.model_validate_json(record.model_dump_json())


async def test_a_nul_in_a_command_is_a_clear_tool_error_without_a_sandbox(tmp_path: Path) -> None:
    """The agent alone (no sandbox needed): the command is refused before anything runs."""
    model = script(
        tmp_path,
        [
            {"tool_calls": [call("run_command", command="ls\x00-la")]},
            {"tool_calls": [call("run_command", command="ls \udc80")]},
            {"text": "done"},
        ],
    )
    ws = tmp_path / "ws"
    ws.mkdir()
    config = AgentConfig(allow_commands=True, unsafe_no_sandbox=True, timeout_s=30)
    result = await run_agent("list the files", model, ws, config)
    assert result.stop_reason == "completed", result.error
    errors = [m.content for m in result.transcript if m.role == "tool"]
    assert "NUL" in errors[0] and errors[0].startswith("Error: ")
    assert "surrogate" in errors[1] and errors[1].startswith("Error: ")


@needs_sandbox
@pytest.mark.parametrize(
    "content", ["x = '\udcff'\n", "x\x00y", "\ud800" * 10_000], ids=["surrogate", "nul", "many"]
)
async def test_odd_file_contents_are_written_and_stored(tmp_path: Path, content: str) -> None:
    model = script(
        tmp_path,
        [
            {"tool_calls": [call("write_file", path="calc.py", content=RIGHT)]},
            {"tool_calls": [call("write_file", path="odd.py", content=content)]},
            {"text": "done"},
        ],
    )
    record = await run_trial(
        calc_task(tmp_path), model, 0, run_id="attribution", agent_config=AgentConfig()
    )
    assert record.status == "passed", (record.agent.stop_reason, record.agent.error)
    assert "odd.py" in record.diff
    TrialRecord.model_validate_json(record.model_dump_json())


@needs_sandbox
@pytest.mark.parametrize(
    "answer",
    ["\ud800 is the answer", "nul \x00 in it", "\udcff" * 1000, "x" * 3_000_000],
)
async def test_any_answer_text_is_graded(tmp_path: Path, answer: str) -> None:
    model = script(
        tmp_path,
        [{"tool_calls": [call("write_file", path="calc.py", content=RIGHT)]}, {"text": answer}],
    )
    record = await run_trial(
        calc_task(tmp_path), model, 0, run_id="attribution", agent_config=AgentConfig()
    )
    assert record.status == "passed", (record.agent.stop_reason, record.agent.error)
    TrialRecord.model_validate_json(record.model_dump_json())


@needs_sandbox
async def test_a_deep_folder_tree_fails_or_passes_never_errors(tmp_path: Path) -> None:
    deep = "python -c \"import os\nfor _ in range(1100): os.mkdir('d'); os.chdir('d')\""
    model = script(
        tmp_path,
        [
            {"tool_calls": [call("write_file", path="calc.py", content=RIGHT)]},
            {"tool_calls": [call("run_command", command=deep)]},
            {"text": "done"},
        ],
    )
    record = await run_trial(
        calc_task(tmp_path),
        model,
        0,
        run_id="attribution",
        agent_config=AgentConfig(allow_commands=True, timeout_s=60),
        workdir=tmp_path,
    )
    assert record.status == "passed", (record.agent.stop_reason, record.agent.error)


# ---- whose fault a failure of bakeoff's file work is -----------------------------------------


@pytest.mark.parametrize(
    ("exc", "acted", "status", "stop"),
    [
        (HarnessError("diffing the workspace failed: OSError"), True, "failed", "completed"),
        (HarnessError("copying the fixture failed: OSError"), False, "error", "error"),
        (RecursionError("maximum recursion depth exceeded"), True, "failed", "completed"),
        (MemoryError(), True, "failed", "completed"),
        (TypeError("unsupported operand"), True, "error", "internal"),
        (KeyError("x"), False, "error", "internal"),
    ],
)
def test_attribution_of_a_grading_failure(
    exc: Exception, acted: bool, status: str, stop: str
) -> None:
    """After the contestant acted, file work that fails on what it wrote (an OS or data error:
    a folder too deep, a file too odd) is its failure, named; before it acted, the harness's;
    a programming error is bakeoff's own bug, an `internal` error, whenever it happens."""
    got_status, got_stop, why = attribute(exc, acted=acted, step="grading")
    assert (got_status, got_stop) == (status, stop)
    assert why and "\n" not in why
    if stop == "internal":
        assert why.startswith("internal error")
    elif status == "failed":
        assert why.startswith("ungradable")


def test_an_internal_error_is_labelled_in_the_record() -> None:
    base: dict[str, Any] = dict(
        run_id="r", task="t", category="c", difficulty=1, model="m:x", repeat=0
    )
    internal = TrialRecord(
        **base,
        status="error",
        agent=AgentResult(ok=False, answer="", model="m:x", provider="m", stop_reason="internal"),
    )
    provider = TrialRecord(
        **base,
        status="error",
        agent=AgentResult(
            ok=False, answer="", model="m:x", provider="m", stop_reason="provider_error"
        ),
    )
    assert error_kind(internal) == "internal"
    assert error_kind(provider) == "infrastructure"
    assert error_kind(internal.model_copy(update={"status": "failed"})) is None


# ---- bakeoff's own bugs: `internal`, counted and shown ----------------------------------------


def test_a_trial_that_raised_is_recorded_as_an_internal_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`crashed_trial` is the runner's record of a trial that raised (run_trial never does
    unless bakeoff has a bug): an error labelled internal, one line, no secret in it."""
    from bakeoff.evals.verdict.outcomes import crashed_trial

    monkeypatch.setenv("ATTRIBUTION_TEST_API_KEY", "sk-attribution-0123456789")
    record = crashed_trial(
        run_id="r",
        task="t",
        category="c",
        difficulty=1,
        model="m:x",
        repeat=0,
        exc=RuntimeError("key sk-attribution-0123456789\nsecond line"),
        started_at=1.0,
        finished_at=2.0,
    )
    assert (record.status, record.agent.stop_reason) == ("error", "internal")
    assert error_kind(record) == "internal"
    assert record.reason.startswith("internal error (a bakeoff bug)")
    assert "second line" not in (record.agent.error or "")
    assert "sk-attribution" not in (record.agent.error or "")


class BuggyBoard(Observer):
    """A progress display with a bug (code bakeoff runs inside every trial, as the CLI's live
    board and the MCP server's progress do): it raises on one model's turns."""

    def turn(self, task: str, model: str, repeat: int, result: AgentResult) -> None:
        if "unlucky" in model:
            raise ZeroDivisionError("division by zero in the progress display")


@needs_sandbox
async def test_internal_errors_are_counted_and_shown_in_every_report(tmp_path: Path) -> None:
    """A bug of bakeoff's inside a trial (here a progress observer's, through the public
    `run_bakeoff(observer=...)`) ends only that trial, as an `error` labelled `internal`; it is
    counted per model and for the run, in `run --json`'s keys, and shown on the terminal and
    in the HTML report with what to do — never hidden among infrastructure errors."""
    turns = [{"tool_calls": [call("write_file", path="calc.py", content=RIGHT)]}, {"text": "ok"}]
    paths = {}
    for name in ("honest", "unlucky"):
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(turns))
    task = calc_task(tmp_path)
    (task.path / "task.toml").write_text(
        'name = "calc"\nprompt = "Create calc.py with add(a, b)."\ncategory = "implement"\n'
        'difficulty = 1\n[check]\ncommand = "python -m pytest -q hidden_test_calc.py"\n'
    )
    store = Store(tmp_path / "results.sqlite")
    outcome = await run_bakeoff(
        BakeoffRequest(
            models=[f"script:{p}" for p in paths.values()],
            tasks=[task.path],
            repeats=2,
            run_id="internal",
            preflight=False,
        ),
        store=store,
        observer=BuggyBoard(),
    )
    by_model = {r.model: r for r in outcome.records}
    assert by_model["script:honest"].status == "passed"
    unlucky = by_model["script:unlucky"]
    assert (unlucky.status, unlucky.agent.stop_reason) == ("error", "internal")
    assert "ZeroDivisionError" in unlucky.reason

    summary = outcome.summary
    assert summary.internal_errors == 2
    public = summary.public()
    assert public["internal_errors"] == 2
    assert [u["internal_errors"] for u in public["unranked"]] == [2]
    assert [m["internal_errors"] for m in public["ranking"]] == [0]

    console = Console(record=True, width=140, force_terminal=False, color_system=None)
    print_summary(summary, console=console)
    shown = " ".join(console.export_text().split())
    assert "2 internal errors (script:unlucky 2): a bakeoff bug" in shown
    assert "please report it, with the trial's log" in shown
    html = render_html(summary, outcome.rows, outcome.records)
    assert "Internal errors" in html and "2 internal errors (script:unlucky 2)" in html


def test_a_run_without_internal_errors_says_nothing_of_them(tmp_path: Path) -> None:
    from bakeoff.evals.store.records import BakeoffSpec
    from bakeoff.evals.store.summary_records import BakeoffSummary
    from bakeoff.evals.verdict.outcomes import internal_errors_line

    spec = BakeoffSpec(run_id="r", task_paths=[], task_names=[], models=[])
    summary = BakeoffSummary(run_id="r", spec=spec, ranking=[])
    assert internal_errors_line(summary) is None
    assert summary.public()["internal_errors"] == 0
