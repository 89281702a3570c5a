"""The `blocks` tool format: a reply's fenced blocks read as the calls they stand for, the
conversation rendered as plain chat (no tools sent), and the agent, over a real loopback server,
opening with the workspace's small files and writing a file from a block through its tools, so
a hostile block cannot leave the workspace or replace a file the model was never shown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bakeoff.agent import AgentConfig, run_agent
from bakeoff.config import BakeoffConfig, load_config
from bakeoff.errors import ConfigError
from bakeoff.models import blocks
from bakeoff.models.base import RetryPolicy
from bakeoff.models.openai_chat import OpenAIChatModel, chat_options
from bakeoff.models.openai_wire import to_openai_messages
from bakeoff.tools import COMMAND_TOOL, READ_TOOLS, WRITE_TOOLS
from bakeoff.types import Message, ToolCall

from .wire_servers import WireServer, llamacpp_model, openai_said

TOOLS = [*READ_TOOLS, *WRITE_TOOLS]
STUB = (
    "def slugify(title):\n    raise NotImplementedError\n\n\ndef word_count(text):\n    return 0\n"
)
OPENING = [
    Message(role="system", content="s"),
    Message(
        role="user", content=blocks.opening("Implement slugify.", [("text_tools.py", STUB)], [])
    ),
]


def calls(text: str, tools: list = TOOLS, messages: list[Message] = OPENING) -> list[tuple]:
    found = blocks.block_calls(text, tools, messages, id_prefix="c")
    return [(c.name, c.arguments) for c in found]


def write(path: str, content: str) -> tuple:
    return ("write_file", {"path": path, "content": content})


@pytest.mark.parametrize(
    "above",
    ["hello.py", "`hello.py`", "**hello.py**", "hello.py:", "File: hello.py", "### hello.py"],
)
def test_a_block_under_a_path_writes_that_file(above: str) -> None:
    assert calls(f"{above}\n```python\nprint(1)\n```") == [write("hello.py", "print(1)\n")]


def test_the_path_may_be_the_fence_info_its_first_line_or_fenced_on_its_own() -> None:
    assert calls("```hello.py\nprint(1)\n```") == [write("hello.py", "print(1)\n")]
    assert calls("```python\n# calc.py\nx = 1\n```") == [write("calc.py", "# calc.py\nx = 1\n")]
    nested = "```python\nduration.py\n```python\nx = 1\n```"
    assert calls(nested) == [write("duration.py", "x = 1\n")]
    several = "a.txt\n```\none\n```\nand\n\nsub/b.txt\n```text\ntwo\n```"
    assert calls(several) == [write("a.txt", "one\n"), write("sub/b.txt", "two\n")]


def test_a_path_named_in_the_line_above_is_a_new_file_never_a_shown_one() -> None:
    created = "The file `calc.py` is created with the content:\n```python\nx = 1\n```"
    assert calls(created) == [write("calc.py", "x = 1\n")]
    example = "Use `text_tools.py` like so:\n```python\nprint(slugify('A b'))\n```"
    assert calls(example) == []  # an example, not the file


def test_a_block_with_no_path_is_the_one_shown_file_defining_the_same_names() -> None:
    fixed = "Here it is:\n\n```python\ndef slugify(title):\n    return title.lower()\n```"
    assert calls(fixed) == [
        write("text_tools.py", "def slugify(title):\n    return title.lower()\n")
    ]
    # Nothing shown defines it, or it is only an example: it is part of the answer.
    assert calls("```python\ndef other():\n    pass\n```") == []
    assert calls("Use it so:\n```python\nprint(slugify('A b'))\n```") == []
    two = [*OPENING, Message(role="user", content=blocks.show("b.py", STUB))]
    assert calls(fixed, messages=two) == []  # two files define slugify: no guess


def test_a_shell_block_runs_only_where_run_command_is_offered() -> None:
    block = "```bash\npython -m pytest -q tests\n```"
    assert calls(block, tools=[*TOOLS, COMMAND_TOOL]) == [
        ("run_command", {"command": "python -m pytest -q tests"})
    ]
    assert calls(block) == []
    assert calls("hello.py\n```python\nprint(1)\n```", tools=list(READ_TOOLS)) == []  # read-only


def test_the_conversation_goes_back_as_plain_chat() -> None:
    reply = "text_tools.py\n```python\ndef slugify(title):\n    return title\n```"
    call = ToolCall(id="c0", name="write_file", arguments={"path": "text_tools.py", "content": "x"})
    transcript = [
        *OPENING,
        Message(role="assistant", content=reply, tool_calls=[call]),
        Message(
            role="tool", tool_call_id="c0", name="write_file", content="Overwrote it (9 bytes)"
        ),
    ]
    sent = blocks.plain_messages(to_openai_messages(transcript))
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[2] == {"role": "assistant", "content": reply}  # as the model wrote it
    assert sent[3]["content"].startswith("write_file text_tools.py: Overwrote it (9 bytes)")
    assert sent[3]["content"].endswith(blocks.NEXT)
    assert all("tool_calls" not in m for m in sent)


def test_a_new_file_defining_what_a_shown_one_does_is_pointed_back_to_it() -> None:
    code = "def slugify(title):\n    return title\n"
    call = ToolCall(id="c0", name="write_file", arguments={"path": "slugify.py", "content": code})
    transcript = [
        *OPENING,
        Message(role="assistant", content=f"slugify.py\n```python\n{code}```", tool_calls=[call]),
        Message(role="tool", tool_call_id="c0", name="write_file", content="Created slugify.py"),
    ]
    last = blocks.plain_messages(to_openai_messages(transcript))[-1]["content"]
    assert "text_tools.py already defines slugify" in last
    assert "write the complete new text_tools.py" in last


def test_a_file_written_back_unchanged_is_said_to_be_unchanged() -> None:
    same = ToolCall(
        id="c0", name="write_file", arguments={"path": "text_tools.py", "content": STUB}
    )
    transcript = [
        *OPENING,
        Message(role="assistant", content=blocks.show("text_tools.py", STUB), tool_calls=[same]),
        Message(role="tool", tool_call_id="c0", name="write_file", content="Overwrote it"),
    ]
    last = blocks.plain_messages(to_openai_messages(transcript))[-1]["content"]
    assert "exactly what text_tools.py already held: nothing in it changed" in last
    assert blocks.NEXT not in last
    # Its own version written back again is how it says it checked: no note.
    again = same.model_copy(update={"id": "c1"})
    twice = [
        *transcript,
        Message(role="assistant", content=blocks.show("text_tools.py", STUB), tool_calls=[again]),
        Message(role="tool", tool_call_id="c1", name="write_file", content="Overwrote it"),
    ]
    assert blocks.plain_messages(to_openai_messages(twice))[-1]["content"].endswith(blocks.NEXT)
    changed = same.model_copy(update={"arguments": {"path": "text_tools.py", "content": "x = 1\n"}})
    transcript[2] = transcript[2].model_copy(update={"tool_calls": [changed]})
    last = blocks.plain_messages(to_openai_messages(transcript), commands=True)[-1]["content"]
    assert last.endswith(blocks.NEXT + blocks.CHECK)  # run_command offered: check your work


def test_a_write_that_broke_a_module_asks_for_it_again_and_commands_for_a_check() -> None:
    call = ToolCall(id="c0", name="write_file", arguments={"path": "a.py", "content": "def ("})
    result = "Overwrote a.py (5 bytes)\nWarning: a.py is not valid Python now (SyntaxError)."
    transcript = [
        *OPENING,
        Message(role="assistant", content="a.py\n```python\ndef (\n```", tool_calls=[call]),
        Message(role="tool", tool_call_id="c0", name="write_file", content=result),
    ]
    last = blocks.plain_messages(to_openai_messages(transcript), commands=True)[-1]["content"]
    assert last.endswith("Write the complete a.py again with that fixed." + blocks.CHECK)


def test_over_the_budget_older_replies_lose_their_blocks_first() -> None:
    big = "a.py\n```python\n" + "x = 1\n" * 2000 + "```"
    wire = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "task"},
        {"role": "assistant", "content": big},
        {"role": "user", "content": "again"},
        {"role": "assistant", "content": "b.py\n```python\ny = 2\n```"},
    ]
    sent = blocks.plain_messages(wire, budget_tokens=500)
    assert "lines, trimmed to fit the context" in sent[2]["content"]
    assert sent[2]["content"].startswith("a.py\n```")
    assert sent[4] == wire[4] and sent[1] == wire[1]


async def test_an_answer_with_nothing_written_is_taken_at_once(
    model: OpenAIChatModel, server: WireServer, tmp_path: Path
) -> None:
    (tmp_path / "config.ini").write_text("[server]\nport = 8443\n", encoding="utf-8")
    say(server, "8443")
    result = await run_agent("Which port?", model, tmp_path)
    assert (result.ok, result.answer, result.turns) == (True, "8443", 1)
    assert "port = 8443" in server.bodies()[0]["messages"][1]["content"]


def test_the_embedded_model_uses_blocks_and_a_provider_can_choose(tmp_path: Path) -> None:
    assert chat_options(BakeoffConfig().provider("local"))["tool_format"] == "blocks"
    assert chat_options(BakeoffConfig().provider("llamacpp"))["tool_format"] == "native"
    file = tmp_path / "bakeoff.toml"
    file.write_text(
        "[providers.local]\ntool_format = 'native'\n"
        "[providers.mine]\nbase_url = 'http://localhost:8081/v1'\ntool_format = 'blocks'\n",
        encoding="utf-8",
    )
    config = load_config(file)
    assert chat_options(config.provider("local"))["tool_format"] == "native"
    assert chat_options(config.provider("mine"))["tool_format"] == "blocks"
    file.write_text("[providers.local]\ntool_format = 'xml'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="tool_format"):
        load_config(file)


@pytest.fixture
async def model(server: WireServer, fast_retry: RetryPolicy) -> AsyncIterator[OpenAIChatModel]:
    """The adapter in the blocks format, with constrained calls on (blocks send no schema)."""
    adapter = llamacpp_model(
        server.url, fast_retry, constrained_tools="first", tool_format="blocks"
    )
    yield adapter
    await adapter.aclose()


def say(server: WireServer, *texts: str) -> None:
    server.add(*(openai_said(text) for text in texts))


async def test_the_agent_shows_the_files_and_a_block_writes_one(
    model: OpenAIChatModel, server: WireServer, tmp_path: Path
) -> None:
    (tmp_path / "text_tools.py").write_text(STUB, encoding="utf-8")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_t.py").write_text("def test_x():\n    pass\n", encoding="utf-8")
    (tmp_path / "big.txt").write_text("z" * (blocks.SHOW_FILE_BYTES + 1), encoding="utf-8")
    code = "def slugify(title):\n    return title.lower()\n"
    say(server, f"text_tools.py\n```python\n{code}```", "Implemented slugify.", "All met.")

    result = await run_agent("Implement slugify.", model, tmp_path)

    assert (result.ok, result.answer, result.turns) == (True, "All met.", 3)
    assert (tmp_path / "text_tools.py").read_text(encoding="utf-8") == code
    first, second, third = server.bodies()
    # The first answer after a write is asked to look again, once.
    assert third["messages"][-1] == {"role": "user", "content": blocks.REVIEW}
    assert [m.content for m in result.transcript].count(blocks.REVIEW) == 1
    for body in (first, second, third):  # no tools, no schema, no tool_choice: plain chat
        assert not {"tools", "tool_choice", "response_format"} & set(body)
    system, opening = first["messages"]
    assert system["content"] == blocks.system_prompt(TOOLS)
    assert blocks.show("text_tools.py", STUB) in opening["content"]
    assert blocks.show("tests/test_t.py", "def test_x():\n    pass\n") in opening["content"]
    assert "not shown: big.txt" in opening["content"]
    assert opening["content"].index("text_tools.py") < opening["content"].index("Implement")
    assert second["messages"][-1]["content"].startswith("write_file text_tools.py: Overwrote")


async def test_a_hostile_block_stays_in_the_workspace_and_cannot_replace_an_unseen_file(
    model: OpenAIChatModel, server: WireServer, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    big = "z" * (blocks.SHOW_FILE_BYTES + 1)
    (workspace / "big.txt").write_text(big, encoding="utf-8")
    (tmp_path / "outside.txt").write_text("theirs", encoding="utf-8")
    (workspace / "link.py").symlink_to(tmp_path / "outside.txt")
    hostile = "\n".join(
        f"{path}\n```\nmine\n```" for path in ("../outside.txt", "/tmp/x.txt", "big.txt", "link.py")
    )
    say(server, hostile, "Done.")

    result = await run_agent("Do it.", model, workspace, AgentConfig(max_turns=3))

    assert result.ok
    results = [m for m in result.transcript if m.role == "tool"]
    assert len(results) == 4 and all(m.is_error for m in results)
    assert (tmp_path / "outside.txt").read_text(encoding="utf-8") == "theirs"
    assert (workspace / "big.txt").read_text(encoding="utf-8") == big  # listed, never read
    opening = server.bodies()[0]["messages"][1]["content"]
    assert "theirs" not in opening  # the link is not followed to show what it points at
