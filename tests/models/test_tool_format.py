"""The tool format is one object the model owns: each format gives the system prompt, the
opening message (through the agent's real tools), the request's messages, the calls read back
from a reply and a review before a final answer; the agent and the OpenAI-format adapter only
ask it, so a format of the user's own works in both (over a real loopback server)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args

from bakeoff.agent import AgentConfig, run_agent
from bakeoff.config import ProviderConfig
from bakeoff.models import blocks, openai_chat
from bakeoff.models.base import Model, RetryPolicy
from bakeoff.models.ratelimit import RateLimitedModel, RateLimiter
from bakeoff.models.scripted import ScriptedModel
from bakeoff.models.tool_format import (
    BLOCKS,
    COMMANDS_NOTE,
    NATIVE,
    SYSTEM_PROMPT,
    TOOL_FORMATS,
    Tools,
)
from bakeoff.tools import COMMAND_TOOL, READ_TOOLS, WRITE_TOOLS, ToolBox
from bakeoff.types import Message, ToolCall, ToolFormatName, ToolSpec
from bakeoff.workspace import Workspace

from .wire_servers import WireServer, llamacpp_model, openai_said

TOOLS = [*READ_TOOLS, *WRITE_TOOLS]
CODE = "def add(a, b):\n    return a - b\n"


def box(tmp_path: Path) -> ToolBox:
    (tmp_path / "calc.py").write_text(CODE, encoding="utf-8")
    return ToolBox(Workspace(tmp_path))


def test_each_format_is_chosen_by_the_name_a_provider_config_takes(tmp_path: Path) -> None:
    names = set(get_args(ToolFormatName))
    assert set(TOOL_FORMATS) == names
    assert set(get_args(ProviderConfig.model_fields["tool_format"].annotation)) == names
    assert all(fmt.name == name for name, fmt in TOOL_FORMATS.items())
    adapter = llamacpp_model("http://127.0.0.1:9", RetryPolicy(), tool_format="blocks")
    assert adapter.tool_format is BLOCKS
    scripted = ScriptedModel(_script(tmp_path, [{"text": "x"}]))
    assert scripted.tool_format is NATIVE  # every adapter's default
    assert RateLimitedModel(adapter, RateLimiter(60)).tool_format is BLOCKS


async def test_the_native_format_sends_the_agents_words_and_reads_nothing(tmp_path: Path) -> None:
    tools = box(tmp_path)
    assert NATIVE.system_prompt(SYSTEM_PROMPT, TOOLS) == SYSTEM_PROMPT
    assert NATIVE.system_prompt("mine", [*TOOLS, COMMAND_TOOL]) == "mine" + COMMANDS_NOTE
    assert await NATIVE.opening("Fix add.", tools) == "Fix add."
    assert tools.known == set()  # nothing was read to open with
    sent = [{"role": "user", "content": "x"}]
    assert NATIVE.chat_messages(sent, TOOLS, 100) is sent
    reply = Message(role="assistant", content=f"calc.py\n```python\n{CODE}```")
    assert NATIVE.read_reply(reply, TOOLS, []) is reply  # a block is only text here
    wrote = [Message(role="tool", name="write_file", content="Overwrote calc.py")]
    assert NATIVE.review(wrote, TOOLS) is None


async def test_the_blocks_format_shows_the_files_and_reads_blocks_as_calls(tmp_path: Path) -> None:
    tools = box(tmp_path)
    assert BLOCKS.system_prompt(SYSTEM_PROMPT, TOOLS) == blocks.system_prompt(TOOLS)
    assert BLOCKS.system_prompt("mine", [*TOOLS, COMMAND_TOOL]) == "mine" + COMMANDS_NOTE
    opening = await BLOCKS.opening("Fix add.", tools)
    assert opening == blocks.opening("Fix add.", [("calc.py", CODE)], [])
    shown = (tmp_path / "calc.py").stat()
    assert tools.known == {(shown.st_dev, shown.st_ino)}  # shown counts as read
    reply = Message(role="assistant", content="calc.py\n```python\nx = 1\n```")
    read = BLOCKS.read_reply(reply, TOOLS, [])
    assert [(c.name, c.arguments) for c in read.tool_calls] == [
        ("write_file", {"path": "calc.py", "content": "x = 1\n"})
    ]
    called = Message(role="assistant", tool_calls=[ToolCall(id="a", name="list_directory")])
    assert BLOCKS.read_reply(called, TOOLS, []) is called  # calls the API gave are kept
    sent = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    assert BLOCKS.chat_messages(sent, TOOLS, None) == blocks.plain_messages(sent)


def test_the_blocks_format_asks_once_for_a_review_and_only_after_a_write() -> None:
    read = [Message(role="tool", name="read_file", content="x")]
    assert BLOCKS.review(read, TOOLS) is None
    wrote = [*read, Message(role="tool", name="write_file", content="Created a.py (1 bytes)")]
    asked = BLOCKS.review(wrote, TOOLS)
    assert asked == blocks.REVIEW
    assert BLOCKS.review([*wrote, Message(role="user", content=asked)], TOOLS) is None
    with_commands = BLOCKS.review(wrote, [*TOOLS, COMMAND_TOOL])
    assert with_commands == blocks.REVIEW + blocks.REVIEW_CHECK


class Shouted:
    """A tool format of a user's own: the task shouted, replies read as a `list_directory`
    call when they say LIST, every answer reviewed once."""

    name: ToolFormatName = "native"
    sends_tools = False

    def system_prompt(self, prompt: str, tools: Sequence[ToolSpec]) -> str:
        return "SHOUT"

    async def opening(self, prompt: str, tools: Tools) -> str:
        listed = await tools.run(ToolCall(id="", name="list_directory", arguments={}))
        return f"{prompt.upper()} ({listed.strip()})"

    def chat_messages(
        self, sent: list[dict[str, Any]], tools: Sequence[ToolSpec], budget_tokens: int | None
    ) -> list[dict[str, Any]]:
        return [{"role": m["role"], "content": str(m.get("content") or "-")} for m in sent]

    def read_reply(
        self, reply: Message, tools: Sequence[ToolSpec], messages: Sequence[Message]
    ) -> Message:
        if reply.content != "LIST":
            return reply
        call = ToolCall(id=f"list{len(messages)}", name="list_directory")
        return reply.model_copy(update={"tool_calls": [call]})

    def review(self, transcript: Sequence[Message], tools: Sequence[ToolSpec]) -> str | None:
        asked = any(m.role == "user" and m.content == "SURE?" for m in transcript)
        return None if asked else "SURE?"


def _script(tmp_path: Path, turns: list[dict[str, Any]]) -> Path:
    path = tmp_path / "script.json"
    path.write_text(json.dumps(turns), encoding="utf-8")
    return path


async def test_the_agent_only_asks_the_format(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "a.txt").write_text("a", encoding="utf-8")
    model = ScriptedModel(_script(tmp_path, [{"text": "first"}, {"text": "second"}]))
    model.tool_format = Shouted()
    assert isinstance(model, Model)
    r = await run_agent("list it", model, tmp_path / "ws", AgentConfig(system_prompt="mine"))
    assert (r.ok, r.answer, r.turns) == (True, "second", 2)
    assert [(m.role, m.content) for m in r.transcript] == [
        ("system", "SHOUT"),
        ("user", "LIST IT (a.txt)"),
        ("assistant", "first"),
        ("user", "SURE?"),
        ("assistant", "second"),
    ]


async def test_the_adapter_sends_and_reads_what_the_format_says(
    server: WireServer, fast_retry: RetryPolicy, tmp_path: Path
) -> None:
    server.add(openai_said("LIST"), openai_said("Two files."), openai_said("Sure."))
    model = llamacpp_model(server.url, fast_retry, constrained_tools=True)
    model.tool_format = Shouted()
    (tmp_path / "a.txt").write_text("a", encoding="utf-8")
    try:
        r = await run_agent("how many files?", model, tmp_path)
    finally:
        await model.aclose()
    assert (r.ok, r.answer, r.tool_calls) == (True, "Sure.", 1)
    first, second, _ = server.bodies()
    for body in (first, second):  # no tools and no schema: the format sends none
        assert not {"tools", "tool_choice", "response_format"} & set(body)
    assert first["messages"] == [
        {"role": "system", "content": "SHOUT"},
        {"role": "user", "content": "HOW MANY FILES? (a.txt)"},
    ]
    assert second["messages"][2] == {"role": "assistant", "content": "LIST"}
    assert second["messages"][3]["role"] == "tool"
    source = inspect.getsource(openai_chat)  # it asks the format, by no name
    assert "import blocks" not in source and '"blocks"' not in source
