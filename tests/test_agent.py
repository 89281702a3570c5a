"""The nano agent end to end with scripted models in real temporary workspaces."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pytest

from bakeoff import agent as agent_module
from bakeoff.agent import ECHOED, AgentConfig, _Run, run_agent, runaway
from bakeoff.models.scripted import ScriptedModel
from bakeoff.models.tool_format import SYSTEM_PROMPT
from bakeoff.types import Completion, Message, RequestTiming, ToolCall


def script(tmp_path: Path, turns: Any, name: str = "s.json") -> ScriptedModel:
    path = tmp_path / name
    path.write_text(json.dumps(turns))
    return ScriptedModel(path)


def tool(name: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


async def test_agent_writes_files_and_answers(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    model = script(
        tmp_path,
        [
            tool("write_file", path="fizzbuzz.py", content="print('FizzBuzz')\n"),
            tool("read_file", path="fizzbuzz.py"),
            {"text": "Created fizzbuzz.py", "usage": {"input_tokens": 10, "output_tokens": 3}},
        ],
    )
    r = await run_agent("Create fizzbuzz.py", model, ws)
    assert r.ok and r.stop_reason == "completed"
    assert r.answer == "Created fizzbuzz.py"
    assert (ws / "fizzbuzz.py").read_text() == "print('FizzBuzz')\n"
    assert (r.turns, r.tool_calls) == (3, 2)
    assert r.usage.input_tokens == 10 and r.cost_usd == 0.0
    roles = [m.role for m in r.transcript]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert r.transcript[5].content == "print('FizzBuzz')\n"
    assert len(r.requests) == 3 and r.duration_s >= r.model_time_s


async def test_tool_errors_go_back_to_the_model(tmp_path: Path) -> None:
    model = script(
        tmp_path,
        [
            tool("read_file", path="../../etc/passwd"),
            tool("no_such_tool", x=1),
            {"tool_calls": [{"name": "write_file", "arguments": {"path": "a.txt"}}]},
            {"text": "gave up"},
        ],
    )
    r = await run_agent("try", model, tmp_path / "ws")
    errors = [m for m in r.transcript if m.role == "tool"]
    assert [m.is_error for m in errors] == [True, True, True]
    assert "'..'" in errors[0].content and "unknown tool" in errors[1].content
    assert "missing: content" in errors[2].content
    assert r.ok and r.answer == "gave up"


async def test_max_turns_ends_cleanly(tmp_path: Path) -> None:
    model = script(tmp_path, [tool("list_directory")] * 10)
    r = await run_agent("loop", model, tmp_path / "ws", AgentConfig(max_turns=3))
    assert not r.ok and r.stop_reason == "max_turns" and r.turns == 3
    assert "3 turns" in (r.error or "")


async def test_wall_clock_timeout_ends_cleanly(tmp_path: Path) -> None:
    model = script(tmp_path, [{"text": "slow", "delay_s": 5}])
    r = await run_agent("wait", model, tmp_path / "ws", AgentConfig(timeout_s=0.3))
    assert r.stop_reason == "timeout" and not r.ok
    assert 0.25 < r.duration_s < 2


async def test_cost_cap_stops_the_run(tmp_path: Path) -> None:
    model = script(tmp_path, [tool("list_directory")] * 5)
    model.cost_fn = lambda usage, seconds: 0.01
    r = await run_agent("spend", model, tmp_path / "ws", AgentConfig(max_cost_usd=0.025))
    assert r.stop_reason == "cost_limit" and r.turns == 3
    assert r.cost_usd == pytest.approx(0.03)


async def test_unknown_price_makes_the_whole_cost_unknown(tmp_path: Path) -> None:
    model = script(tmp_path, [tool("list_directory"), {"text": "done"}])
    model.cost_fn = lambda usage, seconds: None
    r = await run_agent("x", model, tmp_path / "ws")
    assert r.ok and r.cost_usd is None
    assert r.to_public()["cost_usd"] is None


async def test_public_record_has_the_contract_fields(tmp_path: Path) -> None:
    r = await run_agent("x", script(tmp_path, [{"text": "hi"}]), tmp_path / "ws")
    pub = r.to_public()
    assert set(pub) == {
        "ok",
        "answer",
        "model",
        "provider",
        "turns",
        "tool_calls",
        "usage",
        "cost_usd",
        "duration_s",
        "error",
        "sandboxed",
    }
    assert set(pub["usage"]) == {
        "input_tokens",
        "output_tokens",
        "cached_tokens",
        "reasoning_tokens",
    }
    assert pub["provider"] == "script" and pub["model"].startswith("script:")


async def test_script_picks_turns_by_prompt(tmp_path: Path) -> None:
    model = script(
        tmp_path,
        {
            "scripts": [
                {"prompt_contains": "alpha", "turns": [{"text": "A"}]},
                {"turns": [{"text": "other"}]},
            ]
        },
    )
    assert (await run_agent("do alpha", model, tmp_path / "w1")).answer == "A"
    assert (await run_agent("do beta", model, tmp_path / "w2")).answer == "other"


def test_bad_script_file_names_the_problem(tmp_path: Path) -> None:
    from bakeoff.errors import ConfigError

    with pytest.raises(ConfigError, match=r"\[0\] needs 'text'"):
        script(tmp_path, [{"txt": "typo"}])
    with pytest.raises(ConfigError, match=r"nope\.json: no such file"):
        ScriptedModel(tmp_path / "nope.json")


async def test_a_degenerate_reply_with_too_many_calls_is_cut(tmp_path: Path) -> None:
    from bakeoff.agent import MAX_CALLS_PER_TURN

    calls = [{"name": "list_directory", "arguments": {}}] * (MAX_CALLS_PER_TURN + 4)
    r = await run_agent(
        "x", script(tmp_path, [{"tool_calls": calls}, {"text": "ok"}]), tmp_path / "ws"
    )
    results = [m for m in r.transcript if m.role == "tool"]
    assert len(results) == MAX_CALLS_PER_TURN + 4  # every call gets an answer, as APIs require
    assert [m.is_error for m in results].count(True) == 4
    assert "at most" in results[-1].content and r.ok


async def test_a_turn_that_repeats_the_last_one_is_not_run_and_the_model_is_told(
    tmp_path: Path,
) -> None:
    # Qwen2.5-Coder-1.5B rewrote one correct file until the turn limit; the second identical
    # reply is answered with a note instead, and a different call after it runs again.
    ws = tmp_path / "ws"
    write = tool("write_file", path="a.txt", content="one")
    model = script(
        tmp_path,
        [write, write, tool("write_file", path="a.txt", content="two"), {"text": "done"}],
    )
    r = await run_agent("write a.txt", model, ws)
    assert r.ok and r.answer == "done" and (r.turns, r.tool_calls) == (4, 3)
    results = [m for m in r.transcript if m.role == "tool"]
    assert [m.is_error for m in results] == [False, True, False]
    assert "previous turn made exactly these calls" in results[1].content
    assert results[0].content.startswith("Created") and results[2].content.startswith("Overwrote")
    assert (ws / "a.txt").read_text() == "two"


async def test_the_same_call_after_a_change_runs_again(tmp_path: Path) -> None:
    # Not a repeat: the reply in between changed the workspace.
    read = tool("read_file", path="a.txt")
    model = script(
        tmp_path,
        [
            tool("write_file", path="a.txt", content="one"),
            read,
            tool("write_file", path="a.txt", content="two"),
            read,
            {"text": "done"},
        ],
    )
    r = await run_agent("write a.txt", model, tmp_path / "ws")
    reads = [m.content for m in r.transcript if m.role == "tool" and m.name == "read_file"]
    assert reads == ["one", "two"]


async def test_the_system_prompt_names_run_command_only_when_it_is_offered(tmp_path: Path) -> None:
    for allow in (False, True):
        model = script(tmp_path, [{"text": "done"}], name=f"{allow}.json")
        config = AgentConfig(allow_commands=allow, unsafe_no_sandbox=True)
        r = await run_agent("say done", model, tmp_path / f"ws{allow}", config)
        assert r.transcript[0].content.startswith(SYSTEM_PROMPT)
        assert ("run_command" in r.transcript[0].content) is allow


async def test_a_reply_echoing_a_tool_is_not_taken_as_the_answer(tmp_path: Path) -> None:
    # Qwen2.5-Coder-1.5B answered with the file it had just read, wrapped in the template's
    # <tool_response> tag, or with the error it had just been given: it is told, twice at most.
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "notes.txt").write_text("alpha beta gamma delta epsilon\n")
    model = script(
        tmp_path,
        [
            tool("read_file", path="notes.txt"),
            {"text": "<tool_response>\nFixed notes.txt.\n</tool_response>"},
            {"text": "alpha beta gamma delta epsilon"},
            {"text": "alpha beta gamma delta epsilon"},
        ],
    )
    r = await run_agent("what is in notes.txt?", model, ws)
    assert r.ok and r.turns == 4
    assert r.answer == "alpha beta gamma delta epsilon"  # after two notes, taken as the answer
    notes = [m.content for m in r.transcript if m.role == "user"][1:]
    assert notes == [ECHOED, ECHOED]


@pytest.mark.parametrize(
    ("first", "answer"),
    [
        (tool("read_file", path="notes.txt"), "It lists five Greek letters."),
        (tool("read_file", path="notes.txt"), "alpha beta gamma delta epsilon (the first line)"),
        (tool("read_file", path="notes.txt"), "alpha beta gamma delta"),  # part of the file
        (tool("write_file", path="a.txt", content="x" * 40), "Created a.txt (40 bytes)"),
    ],
    ids=["own-words", "quotes-and-adds", "quotes-part", "repeats-a-write-report"],
)
async def test_an_answer_that_does_not_play_the_tool_is_taken_at_once(
    tmp_path: Path, first: dict[str, Any], answer: str
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "notes.txt").write_text("alpha beta gamma delta epsilon\n" * 3)
    r = await run_agent("what is in notes.txt?", script(tmp_path, [first, {"text": answer}]), ws)
    assert r.ok and r.turns == 2 and r.answer == answer
    assert [m.role for m in r.transcript].count("user") == 1


async def test_a_run_asking_for_the_same_write_a_third_time_stops_as_stuck(tmp_path: Path) -> None:
    # The 1.5B alternated one unchanged file with an echo of the refusal until the wall: a
    # repeat refused only right after itself never ended it.
    write = tool("write_file", path="a.txt", content="one")
    other = tool("write_file", path="a.txt", content="two")
    model = script(tmp_path, [write, other, write, other, write, {"text": "never asked"}])
    r = await run_agent("write a.txt", model, tmp_path / "ws")
    assert (r.ok, r.stop_reason, r.turns) == (False, "runaway", 5)
    assert r.error == "the model asked for the same write_file of a.txt 3 times"
    assert (tmp_path / "ws" / "a.txt").read_text() == "two"  # the third was not run


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"name": "write_file", "arguments": {"path": "a.py"}}', "written as text (write_file)"),
        ('```json\n[{"name": "nope", "parameters": {}}]\n```', "written as text (nope)"),
        ("<tools></tools>", "no answer and no tool call"),
    ],
    ids=["bare-call", "fenced-unknown-call", "template-markup"],
)
async def test_an_answer_that_is_no_attempt_stops_the_run_as_no_attempt(
    tmp_path: Path, text: str, why: str
) -> None:
    # Qwen2.5-Coder-1.5B wrote its call as text, or echoed the template's <tools></tools>.
    r = await run_agent("write a.py", script(tmp_path, [{"text": text}]), tmp_path / "ws")
    assert (r.ok, r.stop_reason, r.turns) == (False, "no_attempt", 1)
    assert why in (r.error or "")


def test_runaway_is_a_degenerate_stream_or_a_cut_reply_without_a_call() -> None:
    def completion(stop: str, calls: list[ToolCall] | None = None) -> Completion:
        message = Message(role="assistant", content="x", tool_calls=calls or [])
        timing = RequestTiming(latency_s=1.0, output_tokens=64)
        return Completion(message=message, timing=timing, stop_reason=stop, stop_detail=None)

    assert runaway(completion("degenerate")) == "degenerate output"
    assert runaway(completion("length")) == (
        "the reply hit the output cap (64 tokens) without a tool call"
    )
    assert runaway(completion("length", [ToolCall(id="c", name="list_directory")])) is None
    assert runaway(completion("stop")) is None


def test_the_loop_is_one_screen() -> None:
    # Issue 25: run -> step -> query -> execute, as mini-swe-agent's, each heuristic named.
    source = inspect.getsource(_Run)
    assert len(source.splitlines()) <= 100
    whole = inspect.getsource(agent_module)  # the agent asks the model's format, by no name
    assert "import blocks" not in whole and '"blocks"' not in whole and '"native"' not in whole
