"""Bounded requests: repetition detection, context trimming, output caps, empty and cut streams,
request parameters, and what the agent makes of them (a `runaway` stop graded like a timeout,
the reply in flight kept on timeout, queueing for a rate limit not counted against the wall
clock), through the OpenAI adapter against a real loopback server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import bakeoff
from bakeoff.agent import AgentConfig, run_agent
from bakeoff.errors import ProviderError
from bakeoff.evals.store.records import trial_status
from bakeoff.models.base import RetryPolicy
from bakeoff.models.guards import TRIM_NOTE, RepetitionGuard, estimate_tokens, fit_context
from bakeoff.models.openai_chat import OpenAIChatModel
from bakeoff.models.ratelimit import RateLimitedModel, RateLimiter
from bakeoff.tools import READ_TOOLS
from bakeoff.types import Message, ToolCall

from .wire_servers import (
    ASK,
    Pause,
    Reply,
    WireServer,
    error_reply,
    llamacpp_model,
    openai_chunk,
    openai_completion,
    openai_stream,
    openai_tool_call,
    openai_usage,
)


def _feed(guard: RepetitionGuard, text: str, size: int = 7) -> str | None:
    for start in range(0, len(text), size):
        if (why := guard.feed(text[start : start + size])) is not None:
            return why
    return None


def test_a_line_repeated_over_and_over_is_degenerate_and_real_code_is_not() -> None:
    loop = "def f():\n" + "    print('Hello, world!')\n" * 40
    why = _feed(RepetitionGuard(), loop)
    assert why is not None and "print('Hello, world!')" in why and "repeated" in why

    assert _feed(RepetitionGuard(), "=" * 2000) is not None
    sources = sorted(Path(bakeoff.__file__).parent.rglob("*.py"))
    assert len(sources) > 20
    for source in sources:  # a whole code base streamed through: never a false alarm
        assert _feed(RepetitionGuard(), source.read_text(encoding="utf-8"), 13) is None, source


def _history(outputs: int) -> list[dict[str, object]]:
    messages: list[dict[str, object]] = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "task"},
    ]
    for i in range(outputs):
        call = {"id": f"c{i}", "type": "function", "function": {"name": "read_file"}}
        call["function"] = {"name": "write_file", "arguments": f'{{"content": "{"x" * 3000}"}}'}
        messages.append({"role": "assistant", "tool_calls": [call]})
        messages.append({"role": "tool", "tool_call_id": f"c{i}", "content": f"{i}" * 3000})
    return messages


def test_old_tool_output_is_trimmed_oldest_first_with_a_note() -> None:
    messages = _history(4)
    assert fit_context(messages, 100_000) == messages  # fits: untouched

    budget = estimate_tokens(messages) - 2500
    trimmed = fit_context(messages, budget)
    assert estimate_tokens(trimmed) <= budget
    assert trimmed[:2] == messages[:2] and trimmed[-1] == messages[-1]
    assert trimmed[3]["content"] == TRIM_NOTE.format(n=3000)  # the oldest output went first
    assert trimmed[-3:] == messages[-3:]  # the newest ones are whole
    assert messages[3]["content"] == "0" * 3000  # the caller's list is not changed


@pytest.fixture
async def model(server: WireServer, fast_retry: RetryPolicy) -> AsyncIterator[OpenAIChatModel]:
    adapter = llamacpp_model(
        server.url,
        fast_retry,
        output_cap=64,
        request_params={"temperature": 0.2, "extra_body": {"top_k": 20}},
    )
    yield adapter
    await adapter.aclose()


async def test_requests_carry_tool_choice_params_and_the_smaller_output_cap(
    model: OpenAIChatModel, server: WireServer
) -> None:
    server.add(openai_completion("a"), openai_completion("b"))
    model.stream = False
    await model.complete(ASK, READ_TOOLS, max_output_tokens=4096)
    await model.complete(ASK, [], max_output_tokens=10)
    first, second = server.bodies()
    assert first["tool_choice"] == "auto" and len(first["tools"]) == len(READ_TOOLS)
    assert (first["temperature"], first["top_k"]) == (0.2, 20)
    assert (first["max_tokens"], second["max_tokens"]) == (64, 10)
    assert "tool_choice" not in second


async def test_an_empty_answer_is_an_error_not_a_final_answer(
    model: OpenAIChatModel, server: WireServer
) -> None:
    # llama-cpp-python's answer to a prompt over its context window.
    server.add(openai_stream(openai_chunk({"role": "assistant"}, finish_reason="stop")))
    with pytest.raises(ProviderError, match="empty answer") as caught:
        await model.complete(ASK, READ_TOOLS)
    assert not caught.value.transient and len(server.requests) == 1


async def test_a_stream_cut_before_its_finish_reason_is_asked_again(
    model: OpenAIChatModel, server: WireServer
) -> None:
    server.add(
        openai_stream(openai_chunk({"content": "Half an ans"})),
        openai_stream(openai_chunk({"content": "Whole."}, finish_reason="stop")),
    )
    done = await model.complete(ASK, [])
    assert done.message.content == "Whole." and done.timing.retries == 1


def _looping_stream() -> Reply:
    line = openai_chunk({"content": "    print('Hello, world!')\n"})
    return openai_stream(
        openai_chunk({"content": "def main():\n"}),
        *[line] * 60,
        Pause(5.0),  # a stream that goes on: the guard must not wait for it
        *[line] * 10,
        openai_chunk({}, finish_reason="length"),
    )


async def test_a_degenerate_stream_is_stopped_early_with_its_reason(
    model: OpenAIChatModel, server: WireServer
) -> None:
    server.add(_looping_stream())
    t0 = time.perf_counter()
    done = await model.complete(ASK, [])
    assert time.perf_counter() - t0 < 3.0
    assert done.stop_reason == "degenerate"
    assert done.stop_detail is not None and "Hello, world!" in done.stop_detail
    assert done.message.content.startswith("def main():\n    print(")


async def test_the_agent_stops_a_runaway_and_it_is_never_a_pass(
    model: OpenAIChatModel, server: WireServer, tmp_path: Path
) -> None:
    server.add(
        openai_stream(
            openai_chunk(
                {"tool_calls": [openai_tool_call("c1", "list_directory", "{}") | {"index": 0}]},
                finish_reason="tool_calls",
            )
        ),
        _looping_stream(),
    )
    result = await run_agent("Say hello", model, tmp_path)
    assert (result.stop_reason, result.ok, result.turns) == ("runaway", False, 2)
    assert result.error is not None and "repeated" in result.error
    assert result.transcript[-1].content.startswith("def main():")  # the partial reply, kept
    assert trial_status(result, None) == "timeout"


async def test_a_timed_out_run_keeps_the_reply_it_was_receiving(
    model: OpenAIChatModel, server: WireServer, tmp_path: Path
) -> None:
    server.add(  # still producing when the time runs out: the model's timeout
        openai_stream(
            openai_chunk({"content": "I will write hello.py"}),
            Pause(1.0),
            openai_chunk({"content": " now"}),
            Pause(10.0),
        ),
    )
    result = await run_agent("Say hello", model, tmp_path, AgentConfig(timeout_s=0.5))
    assert result.stop_reason == "timeout"
    assert result.transcript[-1] == Message(role="assistant", content="I will write hello.py")


async def test_waiting_for_a_rate_limit_does_not_count_against_the_wall_clock(
    model: OpenAIChatModel, server: WireServer, tmp_path: Path
) -> None:
    listing = openai_chunk(
        {"tool_calls": [openai_tool_call("c1", "list_directory", "{}") | {"index": 0}]},
        finish_reason="tool_calls",
    )
    server.add(
        openai_stream(listing, openai_chunk(usage=openai_usage())),
        openai_stream(openai_chunk({"content": "Done."}, finish_reason="stop")),
    )
    spaced = RateLimitedModel(model, RateLimiter(rpm=60 / 3.0))  # requests 3 s apart
    result = await run_agent("Look", spaced, tmp_path, AgentConfig(timeout_s=1.5))
    assert result.stop_reason == "completed", result.error
    assert result.wait_time_s > 1.5  # the wait alone outlasted the limit


async def test_an_overlong_conversation_goes_out_trimmed(server: WireServer) -> None:
    server.add(openai_stream(openai_chunk({"content": "ok"}, finish_reason="stop")))
    model = OpenAIChatModel(
        "llamacpp", "qwen", base_url=server.url, api_key=None, context_tokens=2048
    )
    call = ToolCall(id="c1", name="read_file", arguments={"path": "big.txt"})
    history = [
        *ASK,
        Message(role="assistant", tool_calls=[call]),
        Message(role="tool", tool_call_id="c1", name="read_file", content="z" * 9000),
        Message(role="user", content="Now summarise."),
    ]
    try:
        await model.complete(history, READ_TOOLS, max_output_tokens=512)
    finally:
        await model.aclose()
    sent = server.requests[0].body["messages"]
    assert sent[3] == {"role": "tool", "tool_call_id": "c1", "content": TRIM_NOTE.format(n=9000)}
    assert sent[4] == {"role": "user", "content": "Now summarise."}


async def test_a_server_that_refuses_tool_choice_is_asked_again_without_it(
    model: OpenAIChatModel, server: WireServer
) -> None:
    refusal = '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser'
    server.add(error_reply(400, refusal), openai_completion("a"), openai_completion("b"))
    model.stream = False
    await model.complete(ASK, READ_TOOLS)
    await model.complete(ASK, READ_TOOLS)
    assert ["tool_choice" in body for body in server.bodies()] == [True, False, False]
    assert all(body["tools"] for body in server.bodies())
