"""Constrained tool calls: the reply schema admits exactly a call of an offered tool with valid
arguments or a final answer, llama.cpp's converter turns it into a grammar (no silent fallback
to free JSON), and the adapter sends it instead of native tools and reads the replies back."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import jsonschema
import pytest

from bakeoff.config import BakeoffConfig, load_config
from bakeoff.errors import ConfigError
from bakeoff.models.base import RetryPolicy
from bakeoff.models.constrained import FINAL_ANSWER_TOOL, REPLY_NOTE, reply_schema
from bakeoff.models.openai_chat import OpenAIChatModel, chat_options
from bakeoff.models.openai_wire import openai_tools
from bakeoff.tools import READ_TOOLS, WRITE_TOOLS
from bakeoff.types import Completion, Message

from .wire_servers import WireServer, llamacpp_model, openai_said

TOOLS = [*READ_TOOLS, *WRITE_TOOLS]
ASK = [Message(role="system", content="Be brief."), Message(role="user", content="Make hello.py")]


def _admits(value: object) -> bool:
    return bool(jsonschema.Draft202012Validator(reply_schema(TOOLS)).is_valid(value))


def test_the_schema_admits_offered_calls_and_final_answers_only() -> None:
    arguments = {"path": "a.py", "content": "print(1)\n"}
    write = {"name": "write_file", "arguments": arguments}
    assert _admits(write)
    assert _admits({"name": "final_answer", "arguments": {"answer": "Created a.py."}})

    assert not _admits({"name": "add", "arguments": {"a": 1}})  # the exercise's own function
    assert not _admits({"name": "write_file", "arguments": {"path": "a.py"}})  # content missing
    assert not _admits({"name": "write_file", "arguments": {**arguments, "mode": "w"}})
    assert not _admits({**write, "note": "extra"})
    assert not _admits({"final_answer": "done"})  # the answer is a call like any other
    assert not _admits({"name": "final_answer", "arguments": {"answer": 1}})
    assert not _admits([write])


def test_llama_cpp_turns_the_schema_into_a_grammar_of_the_offered_tools() -> None:
    grammar = pytest.importorskip("llama_cpp.llama_grammar")
    # llama-cpp-python falls back to "any JSON" when conversion fails; it must not fail.
    gbnf = grammar.json_schema_to_gbnf(json.dumps(reply_schema(TOOLS)))
    for tool in TOOLS:
        assert f'\\"{tool.name}\\"' in gbnf
    assert "final_answer" in gbnf


@pytest.fixture(params=[True])
async def constrained(
    request: pytest.FixtureRequest, server: WireServer, fast_retry: RetryPolicy
) -> AsyncIterator[OpenAIChatModel]:
    """The adapter, talking to the loopback server, with `constrained_tools` = the param."""
    adapter = llamacpp_model(server.url, fast_retry, constrained_tools=request.param)
    yield adapter
    await adapter.aclose()


_say = openai_said


async def _call_then_reply(
    model: OpenAIChatModel, server: WireServer, call_text: str, result: str, reply_text: str
) -> Completion:
    """Two requests: the model replies `call_text` (one call), the tool answers `result`, and
    the model's next reply is `reply_text`; returns that second completion."""
    server.add(_say(call_text))
    server.add(_say(reply_text))
    first = await model.complete(ASK, TOOLS)
    [call] = first.message.tool_calls
    seen = Message(role="tool", tool_call_id=call.id, name=call.name, content=result)
    return await model.complete([*ASK, first.message, seen], TOOLS)


async def test_constrained_requests_carry_the_schema_and_the_reply_format(
    constrained: OpenAIChatModel, server: WireServer
) -> None:
    server.add(_say('{"name": "read_file", "arguments": {"path": "a.py"}}'))
    done = await constrained.complete(ASK, TOOLS)

    [call] = done.message.tool_calls
    assert (call.name, call.arguments) == ("read_file", {"path": "a.py"})
    body = server.requests[0].body
    # The model is shown the final answer as one more tool, the form its answers take.
    assert body["tools"] == openai_tools([*TOOLS, FINAL_ANSWER_TOOL])
    assert "tool_choice" not in body
    # Nothing called yet: the first reply must be a call (no answer from thin air).
    first = reply_schema(TOOLS, allow_final=False)
    assert body["response_format"] == {"type": "json_object", "schema": first}
    assert body["messages"][0] == {"role": "system", "content": "Be brief." + REPLY_NOTE}
    assert body["messages"][1:] == [{"role": "user", "content": "Make hello.py"}]


def test_the_first_reply_must_be_a_call() -> None:
    first = jsonschema.Draft202012Validator(reply_schema(TOOLS, allow_final=False))
    assert first.is_valid({"name": "list_directory", "arguments": {}})
    assert not first.is_valid({"name": "final_answer", "arguments": {"answer": "Done."}})


async def test_once_a_call_was_made_a_final_answer_is_offered(
    constrained: OpenAIChatModel, server: WireServer
) -> None:
    done = await _call_then_reply(
        constrained,
        server,
        '{"name": "list_directory", "arguments": {}}',
        "a.py",
        '{"name": "final_answer", "arguments": {"answer": "Nothing to do."}}',
    )
    assert done.message.content == "Nothing to do."
    schemas = [r.body["response_format"]["schema"] for r in server.requests]
    assert schemas == [reply_schema(TOOLS, allow_final=False), reply_schema(TOOLS)]


async def test_a_final_answer_comes_back_as_plain_text(
    constrained: OpenAIChatModel, server: WireServer
) -> None:
    server.add(_say('{"name": "final_answer", "arguments": {"answer": "Created hello.py."}}'))
    done = await constrained.complete(ASK, TOOLS)
    assert (done.message.content, done.message.tool_calls) == ("Created hello.py.", [])


async def test_file_content_with_raw_newlines_is_read_leniently(
    constrained: OpenAIChatModel, server: WireServer
) -> None:
    reply = '{"name": "write_file", "arguments": {"path": "h.py", "content": "a = 1\nb = 2\n"}}'
    server.add(_say(reply))
    done = await constrained.complete(ASK, TOOLS)
    [call] = done.message.tool_calls
    assert call.arguments == {"path": "h.py", "content": "a = 1\nb = 2\n"}


async def test_a_server_that_ignored_the_schema_still_gets_text_calls_read(
    constrained: OpenAIChatModel, server: WireServer
) -> None:
    server.add(_say('Sure.\n<tool_call>\n{"name": "read_file", "arguments": {"path": "a"}}'))
    done = await constrained.complete(ASK, TOOLS)
    assert [c.name for c in done.message.tool_calls] == ["read_file"]
    assert done.message.content == "Sure."


def test_the_embedded_model_is_capped_and_held_to_a_call_until_its_first() -> None:
    options = chat_options(BakeoffConfig().provider("local"), context_tokens=8192)
    assert options["constrained_tools"] == "first"  # measured: every reply held cost passes
    assert options["output_cap"] == 1024
    assert options["context_tokens"] == 8192
    assert chat_options(BakeoffConfig().provider("llamacpp"))["constrained_tools"] is False


def test_a_provider_table_switches_it_and_carries_request_parameters(tmp_path: Path) -> None:
    file = tmp_path / "bakeoff.toml"
    file.write_text(
        "[providers.local]\nconstrained_tools = true\n"
        "[providers.mine]\nbase_url = 'http://localhost:8081/v1'\nconstrained_tools = true\n"
        "request_params = { temperature = 0.7, tool_choice = 'required' }\n",
        encoding="utf-8",
    )
    config = load_config(file)
    local = chat_options(config.provider("local"))
    assert (local["constrained_tools"], local["output_cap"]) == (True, 1024)
    mine = chat_options(config.provider("mine"))
    assert mine["constrained_tools"] is True
    assert mine["request_params"] == {"temperature": 0.7, "tool_choice": "required"}
    file.write_text("[providers.local]\nconstrained_tool = true\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="constrained_tool"):
        load_config(file)


@pytest.mark.model
async def test_the_embedded_model_answers_with_a_valid_call_of_an_offered_tool() -> None:
    pytest.importorskip("llama_cpp")
    from bakeoff.models.embedded import EmbeddedModel
    from bakeoff.models.local_server import stop_local_servers
    from bakeoff.models.tool_format import NATIVE, SYSTEM_PROMPT

    model = EmbeddedModel("qwen2.5-coder-1.5b")
    model.extra_body = {"temperature": 0, "seed": 7}
    model.constrained_tools = True
    model.tool_format = NATIVE  # its default is blocks (tests/models/test_blocks.py)
    ask = [
        Message(role="system", content=SYSTEM_PROMPT),
        Message(role="user", content="Create a file hello.py that prints Hello, world!"),
    ]
    try:
        done = await model.complete(ask, TOOLS, max_output_tokens=128)
    finally:
        await model.aclose()
        stop_local_servers()
    [call] = done.message.tool_calls
    assert _admits({"name": call.name, "arguments": call.arguments})
    assert (call.name, call.arguments["path"]) == ("write_file", "hello.py")
    assert "print(" in call.arguments["content"]


@pytest.mark.parametrize("constrained", ["first"], indirect=True)
async def test_first_holds_only_the_replies_until_the_first_call(
    constrained: OpenAIChatModel, server: WireServer
) -> None:
    done = await _call_then_reply(
        constrained,
        server,
        '{"name": "read_file", "arguments": {"path": "a.py"}}',
        "port = 8443",
        "The port is 8443.",
    )
    assert done.message.content == "The port is 8443." and not done.message.tool_calls
    held, free = (r.body for r in server.requests)
    # The first request: the plain one plus a schema that admits calls only, no note, no
    # final_answer tool; the second: the plain one, whose prompt extends the first's.
    assert held["response_format"] == {
        "type": "json_object",
        "schema": reply_schema(TOOLS, allow_final=False),
    }
    assert held["tools"] == free["tools"] == openai_tools(TOOLS)
    assert "response_format" not in free
    assert held["messages"][0] == free["messages"][0] == {"role": "system", "content": "Be brief."}


def test_a_provider_table_takes_first_and_refuses_other_words(tmp_path: Path) -> None:
    file = tmp_path / "bakeoff.toml"
    file.write_text('[providers.local]\nconstrained_tools = "first"\n', encoding="utf-8")
    assert chat_options(load_config(file).provider("local"))["constrained_tools"] == "first"
    file.write_text('[providers.local]\nconstrained_tools = "always"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="constrained_tools"):
        load_config(file)
