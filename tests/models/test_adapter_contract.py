"""The contract every wire adapter keeps, whichever API it speaks: each test runs once against
`OpenAIChatModel` and once against `AnthropicModel`, through the official SDKs, over a real
loopback server replaying that API's wire format. A text answer and a tool call come back as a
`Message`; streamed usage lands in `Usage` (cached and reasoning tokens where the format has
them) and missing usage is counted as `unreported`; 401 is an auth error never retried; 429 and
5xx are retried, waiting as the server asks; 400 is the request's own fault; a cut stream and
an empty 200 are errors, never an empty final answer; `ping()` probes without spending tokens.
The format-specific details stay in test_openai_chat.py and test_anthropic_messages.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bakeoff.agent import run_agent
from bakeoff.errors import EmptyAnswer, ProviderError
from bakeoff.evals.store.records import trial_status
from bakeoff.models.anthropic_messages import AnthropicModel
from bakeoff.models.base import ModelAdapter, RetryPolicy
from bakeoff.models.openai_chat import OpenAIChatModel
from bakeoff.types import Message, ToolCall, Usage

from .wire_servers import (
    ASK,
    READ,
    Reply,
    WireServer,
    anthropic_event,
    anthropic_stream,
    anthropic_text_block,
    anthropic_tool_block,
    anthropic_usage,
    error_reply,
    openai_chunk,
    openai_stream,
    openai_usage,
)


@dataclass(frozen=True)
class Wire:
    """One wire format: how to build its adapter and script its server's replies."""

    name: str
    make: Callable[[str, RetryPolicy], ModelAdapter]
    path: str  # where a completion request goes
    text: Callable[[str], Reply]
    tool_call: Callable[[str, str, list[str]], Reply]  # (call id, tool name, argument pieces)
    usage: Reply  # "ok" with every count the format has
    usage_expected: Usage
    no_usage: Reply  # "ok" with no usage reported
    cut: Reply  # a stream that stops before its end
    empty: Reply  # 200, finished, no text and no tool call


def _openai_text(text: str) -> Reply:
    return openai_stream(
        openai_chunk({"role": "assistant", "content": ""}),
        openai_chunk({"content": text[:2]}),
        openai_chunk({"content": text[2:]}, finish_reason="stop"),
        openai_chunk(usage=openai_usage(12, 3)),
    )


def _openai_tool_call(call_id: str, name: str, pieces: list[str]) -> Reply:
    first = {"index": 0, "id": call_id, "type": "function", "function": {"name": name}}
    chunks = [openai_chunk({"tool_calls": [first]})]
    chunks += [
        openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        for piece in pieces
    ]
    chunks += [openai_chunk({}, finish_reason="tool_calls"), openai_chunk(usage=openai_usage())]
    return openai_stream(*chunks)


OPENAI = Wire(
    name="openai",
    make=lambda url, retry: OpenAIChatModel(
        "vllm", "coder-7b", base_url=f"{url}/v1", api_key="test-key", retry=retry
    ),
    path="/v1/chat/completions",
    text=_openai_text,
    tool_call=_openai_tool_call,
    usage=openai_stream(
        openai_chunk({"content": "ok"}, finish_reason="stop"),
        openai_chunk(usage=openai_usage(120, 40, cached=100, reasoning=25)),
    ),
    usage_expected=Usage(
        input_tokens=120, cached_tokens=100, output_tokens=40, reasoning_tokens=25
    ),
    no_usage=openai_stream(openai_chunk({"content": "ok"}, finish_reason="stop")),
    cut=Reply(events=[openai_chunk({"content": "par"}), openai_chunk({"content": "tial"})]),
    empty=openai_stream(openai_chunk({"content": ""}, finish_reason="stop")),
)


def _anthropic_cut() -> Reply:
    whole = anthropic_stream(*anthropic_text_block(0, "par", "tial"))
    assert whole.events is not None
    return Reply(events=whole.events[:-3])  # no content_block_stop, message_delta, message_stop


ANTHROPIC = Wire(
    name="anthropic",
    make=lambda url, retry: AnthropicModel(
        "anthropic", "claude-test", base_url=url, api_key="test-key", retry=retry
    ),
    path="/v1/messages",
    text=lambda text: anthropic_stream(
        *anthropic_text_block(0, text[:2], text[2:]), usage=anthropic_usage(12, 3)
    ),
    tool_call=lambda call_id, name, pieces: anthropic_stream(
        *anthropic_tool_block(0, call_id, name, *pieces), stop_reason="tool_use"
    ),
    # Anthropic counts cache reads and writes apart from input_tokens, and has no reasoning count.
    usage=anthropic_stream(
        *anthropic_text_block(0, "ok"), usage=anthropic_usage(15, 40, cache_read=100, cache_write=5)
    ),
    usage_expected=Usage(
        input_tokens=120, cached_tokens=100, cache_write_tokens=5, output_tokens=40
    ),
    no_usage=Reply(
        events=[
            anthropic_event(
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg_1",
                        "type": "message",
                        "role": "assistant",
                        "model": "claude-test",
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                    },
                }
            ),
            *anthropic_text_block(0, "ok"),
            anthropic_event(
                {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {}}
            ),
            anthropic_event({"type": "message_stop"}),
        ]
    ),
    cut=_anthropic_cut(),
    empty=anthropic_stream(),
)


@pytest.fixture(params=[OPENAI, ANTHROPIC], ids=lambda wire: wire.name)
def wire(request: pytest.FixtureRequest) -> Wire:
    chosen: Wire = request.param
    return chosen


@pytest.fixture
async def model(
    wire: Wire, server: WireServer, fast_retry: RetryPolicy
) -> AsyncIterator[ModelAdapter]:
    adapter = wire.make(server.url, fast_retry)
    yield adapter
    await adapter.aclose()


async def test_text_answer(wire: Wire, model: ModelAdapter, server: WireServer) -> None:
    server.add(wire.text("Hello"))
    done = await model.complete(ASK, [READ], max_output_tokens=50)

    assert done.message == Message(role="assistant", content="Hello")
    assert done.stop_reason in ("stop", "end_turn")
    assert (done.usage.input_tokens, done.usage.output_tokens, done.usage.unreported) == (12, 3, 0)
    assert done.timing.ttft_s is not None and 0 < done.timing.ttft_s <= done.timing.latency_s
    sent = server.requests[0]
    assert sent.path == wire.path and sent.headers["content-type"] == "application/json"
    assert sent.body["model"] == model.name and "Hi" in json.dumps(sent.body["messages"])
    assert "read_file" in json.dumps(sent.body["tools"])


async def test_tool_call_with_arguments(
    wire: Wire, model: ModelAdapter, server: WireServer
) -> None:
    server.add(wire.tool_call("call_7", "read_file", ['{"pa', 'th": "a.py"}']))
    done = await model.complete(ASK, [READ])

    assert done.message.content == ""
    assert done.message.tool_calls == [
        ToolCall(id="call_7", name="read_file", arguments={"path": "a.py"})
    ]
    assert done.stop_reason in ("tool_calls", "tool_use")


async def test_streamed_usage_keeps_every_count_the_format_has(
    wire: Wire, model: ModelAdapter, server: WireServer
) -> None:
    server.add(wire.usage)
    done = await model.complete(ASK, [])
    assert done.usage == wire.usage_expected
    assert done.usage.known and done.timing.output_tokens == wire.usage_expected.output_tokens


async def test_missing_usage_is_counted_as_unreported(
    wire: Wire, model: ModelAdapter, server: WireServer
) -> None:
    server.add(wire.no_usage)
    done = await model.complete(ASK, [])
    assert done.message.content == "ok"
    assert done.usage.unreported == 1 and not done.usage.known
    assert done.usage.input_tokens == 0  # unknown, not guessed


async def test_rejected_key_is_an_auth_error_never_retried(
    model: ModelAdapter, server: WireServer
) -> None:
    server.add(error_reply(401, "invalid key"))
    with pytest.raises(ProviderError) as caught:
        await model.complete(ASK, [])
    assert caught.value.status == 401 and not caught.value.transient
    assert "API key" in str(caught.value) and "invalid key" in str(caught.value)
    assert len(server.requests) == 1


async def test_rate_limit_and_server_errors_are_retried_as_the_server_asks(
    wire: Wire, server: WireServer
) -> None:
    server.add(
        error_reply(429, "slow down", {"retry-after": "0.2"}),
        error_reply(503, "overloaded"),
        wire.text("fine"),
    )
    model = wire.make(server.url, RetryPolicy(max_retries=2, base_s=0.01, cap_s=1.0))
    try:
        done = await model.complete(ASK, [])
    finally:
        await model.aclose()
    assert done.message.content == "fine"
    assert done.timing.retries == 2 and len(server.requests) == 3
    # The server's 0.2 s, not the policy's 0.01 s back-off (sleeping may overshoot, never under).
    assert 0.2 <= done.timing.wait_s < 2.0


@pytest.mark.parametrize("status", [429, 500, 502, 503, 529])
async def test_transient_statuses_give_up_after_the_retries(
    status: int, model: ModelAdapter, server: WireServer
) -> None:
    server.add(*(error_reply(status, "try later") for _ in range(3)))
    with pytest.raises(ProviderError) as caught:
        await model.complete(ASK, [])
    assert caught.value.transient and caught.value.status == status
    assert "try later" in str(caught.value)
    assert len(server.requests) == 3  # one try + max_retries=2


async def test_bad_request_is_rejected_with_the_servers_words(
    model: ModelAdapter, server: WireServer
) -> None:
    server.add(error_reply(400, "messages: roles must alternate"))
    with pytest.raises(ProviderError) as caught:
        await model.complete(ASK, [])
    assert caught.value.status == 400 and not caught.value.transient
    assert "roles must alternate" in str(caught.value)
    assert len(server.requests) == 1


async def test_a_cut_stream_is_a_transient_error(
    wire: Wire, model: ModelAdapter, server: WireServer
) -> None:
    server.add(wire.cut, wire.cut, wire.cut)
    with pytest.raises(ProviderError, match="cut short") as caught:
        await model.complete(ASK, [])
    assert caught.value.transient
    assert len(server.requests) == 3


async def test_a_cut_stream_then_a_whole_one_gives_the_whole_answer(
    wire: Wire, model: ModelAdapter, server: WireServer
) -> None:
    server.add(wire.cut, wire.text("whole"))
    done = await model.complete(ASK, [])
    assert done.message.content == "whole" and done.timing.retries == 1


async def test_an_empty_answer_is_an_error_not_a_final_answer(
    wire: Wire, model: ModelAdapter, server: WireServer
) -> None:
    server.add(wire.empty)
    with pytest.raises(EmptyAnswer, match="empty answer") as caught:
        await model.complete(ASK, [READ])
    assert not caught.value.transient
    assert len(server.requests) == 1


async def test_an_empty_answer_is_the_models_failure_not_an_infrastructure_error(
    wire: Wire, model: ModelAdapter, server: WireServer, tmp_path: Path
) -> None:
    # An error would leave the trial out of the model's numbers: a contestant could hide there.
    server.add(wire.empty)
    result = await run_agent("Say hi", model, tmp_path)
    assert result.stop_reason == "rejected" and "empty answer" in (result.error or "")
    assert trial_status(result, None) == "failed"


async def test_ping_is_one_chat_request_for_one_token(
    wire: Wire, model: ModelAdapter, server: WireServer
) -> None:
    # A real round trip: a server that lists models but cannot chat must not pass preflight.
    server.add(wire.text("OK"))
    probe = await model.ping()
    assert probe is not None and probe.usage.output_tokens >= 1
    [request] = server.requests
    assert request.method == "POST" and not request.path.startswith("/v1/models")
    capped = request.body.get("max_completion_tokens") or request.body.get("max_tokens")
    assert capped == 1


@pytest.mark.parametrize("status", [401, 403, 404, 500])
async def test_ping_fails_on_any_error_status_without_retrying(
    status: int, model: ModelAdapter, server: WireServer
) -> None:
    server.add(error_reply(status, "no"))
    with pytest.raises(ProviderError) as caught:
        await model.ping()
    assert caught.value.status == status
    assert len(server.requests) == 1
