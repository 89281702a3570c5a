"""AnthropicModel through the official SDK against a real loopback server speaking the Messages
wire format: answers, tool use, cache-aware usage, thinking, timing, retries and failures."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest

from bakeoff.errors import ProviderError, ProviderUnreachable
from bakeoff.models.anthropic_messages import AnthropicModel
from bakeoff.models.base import RetryPolicy
from bakeoff.types import Message, ToolCall

from .wire_servers import (
    ASK,
    JITTER_S,
    READ,
    Pause,
    Reply,
    WireServer,
    anthropic_event,
    anthropic_message,
    anthropic_stream,
    anthropic_text_block,
    anthropic_tool_block,
    anthropic_usage,
    error_reply,
    free_port,
)


@pytest.fixture
async def model(server: WireServer, fast_retry: RetryPolicy) -> AsyncIterator[AnthropicModel]:
    adapter = AnthropicModel(
        "anthropic", "claude-test", api_key="test-key", base_url=server.url, retry=fast_retry
    )
    yield adapter
    await adapter.aclose()


async def test_streamed_answer_counts_cached_prompt_tokens_once(
    model: AnthropicModel, server: WireServer
) -> None:
    server.add(
        anthropic_stream(
            *anthropic_text_block(0, "Hel", "lo"),
            usage=anthropic_usage(10, 7, cache_read=100, cache_write=20),
        )
    )
    done = await model.complete(ASK, [READ])

    assert done.message.content == "Hello" and done.message.tool_calls == []
    assert done.stop_reason == "end_turn"
    u = done.usage
    # Anthropic's input_tokens (10) leaves out cache reads and writes: all are prompt tokens.
    assert (u.input_tokens, u.cached_tokens, u.cache_write_tokens, u.output_tokens) == (
        130,
        100,
        20,
        7,
    )
    assert done.timing.ttft_s is not None and done.timing.output_tokens == 7

    sent = server.requests[0]
    assert sent.path == "/v1/messages"
    # SDK releases differ on the header; the key must reach the server in one of them.
    assert "test-key" in (sent.headers.get("x-api-key"), sent.headers.get("authorization", "")[7:])
    assert sent.body["stream"] is True
    assert sent.body["max_tokens"] == 4096
    assert sent.body["system"] == "Be brief."
    # The newest block carries the prompt-cache breakpoint: later turns read the prefix cheaply.
    cached = {"type": "ephemeral"}
    assert sent.body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hi", "cache_control": cached}]}
    ]
    assert sent.body["tools"] == [
        {"name": "read_file", "description": READ.description, "input_schema": READ.parameters}
    ]
    assert "thinking" not in sent.body


async def test_streamed_tool_use_is_assembled_from_json_pieces(
    model: AnthropicModel, server: WireServer
) -> None:
    server.add(
        anthropic_stream(
            *anthropic_text_block(0, "Reading."),
            *anthropic_tool_block(1, "toolu_1", "read_file", '{"pa', 'th": "a.py"}'),
            *anthropic_tool_block(2, "toolu_2", "read_file", '{"path": ', "oops"),
            *anthropic_tool_block(3, "toolu_3", "read_file"),
            stop_reason="tool_use",
        )
    )
    done = await model.complete(ASK, [READ], max_output_tokens=300)

    assert done.message.content == "Reading."
    assert done.message.tool_calls == [
        ToolCall(id="toolu_1", name="read_file", arguments={"path": "a.py"}),
        ToolCall(id="toolu_2", name="read_file", arguments={}, malformed='{"path": oops'),
        ToolCall(id="toolu_3", name="read_file", arguments={}),
    ]
    assert done.stop_reason == "tool_use"
    assert server.requests[0].body["max_tokens"] == 300


async def test_non_streaming_message(server: WireServer, fast_retry: RetryPolicy) -> None:
    server.add(
        anthropic_message(
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_9", "name": "read_file", "input": {"path": "b.py"}},
            usage=anthropic_usage(50, 9, cache_read=5),
            stop_reason="tool_use",
        )
    )
    model = AnthropicModel(
        "anthropic", "claude-test", api_key="test-key", base_url=server.url, stream=False
    )
    try:
        done = await model.complete(ASK, [READ])
    finally:
        await model.aclose()
    assert "stream" not in server.requests[0].body
    assert done.message.content == "Let me look."
    assert done.message.tool_calls == [
        ToolCall(id="toolu_9", name="read_file", arguments={"path": "b.py"})
    ]
    assert (done.usage.input_tokens, done.usage.cached_tokens, done.usage.output_tokens) == (
        55,
        5,
        9,
    )
    assert done.timing.ttft_s is None


async def test_time_to_first_token_follows_the_server(
    model: AnthropicModel, server: WireServer
) -> None:
    server.add(
        anthropic_stream(
            *anthropic_text_block(0, Pause(0.3), "one", Pause(0.4), " two"),
            usage=anthropic_usage(10, 20),
        )
    )
    timing = (await model.complete(ASK, [])).timing
    assert timing.ttft_s is not None and timing.ttft_s >= 0.3  # nothing was sent sooner
    assert timing.latency_s >= 0.7
    # A loaded machine may read "one" up to JITTER_S late, shortening the measured 0.4 s.
    assert timing.latency_s - timing.ttft_s >= 0.4 - JITTER_S
    assert timing.output_tps is not None and 20 / timing.latency_s < timing.output_tps
    assert timing.output_tps <= 20 / (0.4 - JITTER_S)


async def test_tool_results_go_back_in_one_user_turn(
    model: AnthropicModel, server: WireServer
) -> None:
    server.add(anthropic_stream(*anthropic_text_block(0, "done")))
    history = [
        *ASK,
        Message(
            role="assistant",
            content="Reading both.",
            tool_calls=[
                ToolCall(id="toolu_1", name="read_file", arguments={"path": "a.py"}),
                ToolCall(id="toolu_2", name="read_file", arguments={"path": "nope.py"}),
            ],
        ),
        Message(role="tool", tool_call_id="toolu_1", name="read_file", content="x = 1"),
        Message(role="tool", tool_call_id="toolu_2", content="no such file", is_error=True),
        Message(role="user", content="Go on."),
    ]
    await model.complete(history, [READ])
    assert server.requests[0].body["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Reading both."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "read_file",
                    "input": {"path": "a.py"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_2",
                    "name": "read_file",
                    "input": {"path": "nope.py"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": "x = 1",
                    "is_error": False,
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": "no such file",
                    "is_error": True,
                },
                {"type": "text", "text": "Go on.", "cache_control": {"type": "ephemeral"}},
            ],
        },
    ]


async def test_thinking_blocks_go_back_with_the_tool_calls_they_led_to(
    server: WireServer,
) -> None:
    thinking_start = {"type": "thinking", "thinking": "", "signature": ""}
    server.add(
        anthropic_stream(
            anthropic_event(
                {"type": "content_block_start", "index": 0, "content_block": thinking_start}
            ),
            anthropic_event(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "thinking_delta", "thinking": "Need the file."},
                }
            ),
            anthropic_event(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "signature_delta", "signature": "sig123"},
                }
            ),
            anthropic_event({"type": "content_block_stop", "index": 0}),
            *anthropic_tool_block(1, "toolu_1", "read_file", '{"path": "a.py"}'),
            stop_reason="tool_use",
        ),
        anthropic_stream(*anthropic_text_block(0, "It sets x.")),
    )
    model = AnthropicModel(
        "anthropic", "claude-test", api_key="test-key", base_url=server.url, thinking_budget=2048
    )
    try:
        first = await model.complete(ASK, [READ], max_output_tokens=1000)
        history = [
            *ASK,
            first.message,
            Message(role="tool", tool_call_id="toolu_1", content="x = 1"),
        ]
        await model.complete(history, [READ], max_output_tokens=1000)
    finally:
        await model.aclose()

    assert first.message.content == "" and first.message.tool_calls[0].id == "toolu_1"
    sent = server.requests[1].body
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert sent["max_tokens"] > 2048  # the API rejects a budget that fills max_tokens
    assert sent["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "Need the file.", "signature": "sig123"},
        {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "a.py"}},
    ]


async def test_rate_limit_waits_as_long_as_the_server_asks(server: WireServer) -> None:
    server.add(
        error_reply(
            429, "Number of request tokens has exceeded your rate limit", {"retry-after": "0.3"}
        ),
        anthropic_stream(*anthropic_text_block(0, "ok")),
    )
    model = AnthropicModel(
        "anthropic",
        "claude-test",
        api_key="test-key",
        base_url=server.url,
        retry=RetryPolicy(base_s=5.0),
    )
    try:
        done = await model.complete(ASK, [])
    finally:
        await model.aclose()
    assert done.message.content == "ok"
    assert done.timing.retries == 1
    # As asked, not the policy's own backoff (asyncio.sleep may overshoot, never undershoot).
    assert 0.29 <= done.timing.wait_s < 2.0


async def test_overloaded_and_server_errors_are_retried(
    model: AnthropicModel, server: WireServer
) -> None:
    server.add(
        error_reply(529, "Overloaded"),
        error_reply(500, "Internal server error"),
        anthropic_stream(*anthropic_text_block(0, "ok")),
    )
    done = await model.complete(ASK, [])
    assert done.message.content == "ok" and done.timing.retries == 2


async def test_overloaded_error_event_mid_stream_is_retried(
    model: AnthropicModel, server: WireServer
) -> None:
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    broken = anthropic_stream(*anthropic_text_block(0, "par"))
    assert broken.events is not None
    broken.events[4:] = [anthropic_event(error)]  # after "par"
    server.add(broken, anthropic_stream(*anthropic_text_block(0, "whole")))
    done = await model.complete(ASK, [])
    assert done.message.content == "whole" and done.timing.retries == 1


async def test_persistent_server_error_gives_up_after_the_retries(
    model: AnthropicModel, server: WireServer
) -> None:
    server.add(*(error_reply(500, "Internal server error") for _ in range(3)))
    with pytest.raises(ProviderError) as caught:
        await model.complete(ASK, [])
    assert caught.value.transient and caught.value.status == 500
    assert len(server.requests) == 3


async def test_no_answer_in_time_is_a_transient_error(server: WireServer) -> None:
    server.add(Reply(delay_s=3.0, body={}))
    model = AnthropicModel(
        "anthropic",
        "claude-test",
        api_key="test-key",
        base_url=server.url,
        timeout_s=0.3,
        retry=RetryPolicy(max_retries=0),
    )
    t0 = time.perf_counter()
    try:
        with pytest.raises(ProviderError) as caught:
            await model.complete(ASK, [])
    finally:
        await model.aclose()
    assert caught.value.transient and not isinstance(caught.value, ProviderUnreachable)
    assert time.perf_counter() - t0 < 2.0


async def test_stream_that_stalls_midway_is_a_transient_error(server: WireServer) -> None:
    server.add(anthropic_stream(*anthropic_text_block(0, "par", Pause(3.0), "tial")))
    model = AnthropicModel(
        "anthropic",
        "claude-test",
        api_key="test-key",
        base_url=server.url,
        timeout_s=0.3,
        retry=RetryPolicy(max_retries=0),
    )
    try:
        with pytest.raises(ProviderError) as caught:
            await model.complete(ASK, [])
    finally:
        await model.aclose()
    assert caught.value.transient


async def test_nobody_listening_is_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    model = AnthropicModel("anthropic", "claude-test", api_key="test-key", base_url=url)
    try:
        with pytest.raises(ProviderUnreachable) as caught:
            await model.complete(ASK, [])
    finally:
        await model.aclose()
    assert url in str(caught.value) and "\n" not in str(caught.value)


async def test_rejected_key_is_not_retried(model: AnthropicModel, server: WireServer) -> None:
    server.add(error_reply(401, "invalid x-api-key"))
    with pytest.raises(ProviderError) as caught:
        await model.complete(ASK, [])
    assert not caught.value.transient and caught.value.status == 401
    assert "API key" in str(caught.value) and "invalid x-api-key" in str(caught.value)
    assert len(server.requests) == 1


async def test_bad_request_is_not_retried_and_keeps_the_servers_words(
    model: AnthropicModel, server: WireServer
) -> None:
    server.add(error_reply(400, "messages: roles must alternate"))
    with pytest.raises(ProviderError) as caught:
        await model.complete(ASK, [])
    assert not caught.value.transient and caught.value.status == 400
    assert "roles must alternate" in str(caught.value)
    assert (
        caught.value.body is not None
        and "roles must alternate" in json.loads(caught.value.body)["error"]["message"]
    )


async def test_only_the_newest_block_carries_the_cache_breakpoint(
    model: AnthropicModel, server: WireServer
) -> None:
    server.add(anthropic_stream(*anthropic_text_block(0, "ok")))
    server.add(anthropic_stream(*anthropic_text_block(0, "ok")))
    history = [Message(role="user", content="first")]
    await model.complete(history, [READ])
    history += [Message(role="assistant", content="ok"), Message(role="user", content="second")]
    await model.complete(history, [READ])
    turns = server.requests[1].body["messages"]
    marked = [b for t in turns for b in t["content"] if "cache_control" in b]
    assert marked == [{"type": "text", "text": "second", "cache_control": {"type": "ephemeral"}}]
