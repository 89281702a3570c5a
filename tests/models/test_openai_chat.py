"""OpenAIChatModel through the official SDK against a real loopback server speaking the
chat-completions wire format: answers, tool calls, usage, timing, retries and failures."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from bakeoff.errors import ProviderError, ProviderUnreachable
from bakeoff.models.base import RetryPolicy
from bakeoff.models.openai_chat import OpenAIChatModel
from bakeoff.types import Message, ToolCall

from .wire_servers import (
    ASK,
    JITTER_S,
    READ,
    Event,
    Pause,
    Reply,
    WireServer,
    error_reply,
    free_port,
    openai_chunk,
    openai_completion,
    openai_stream,
    openai_tool_call,
    openai_usage,
)


@pytest.fixture
async def model(server: WireServer, fast_retry: RetryPolicy) -> AsyncIterator[OpenAIChatModel]:
    adapter = OpenAIChatModel(
        "vllm", "coder-7b", base_url=f"{server.url}/v1", api_key="test-key", retry=fast_retry
    )
    yield adapter
    await adapter.aclose()


async def test_streamed_answer_with_usage_and_what_was_sent(
    model: OpenAIChatModel, server: WireServer
) -> None:
    server.add(
        openai_stream(
            openai_chunk({"role": "assistant", "content": ""}),
            openai_chunk({"content": "Hel"}),
            openai_chunk({"content": "lo"}, finish_reason="stop"),
            openai_chunk(usage=openai_usage(120, 40, cached=100, reasoning=25)),
        )
    )
    done = await model.complete(ASK, [READ], max_output_tokens=50)

    assert done.message.role == "assistant"
    assert done.message.content == "Hello"
    assert done.message.tool_calls == []
    assert done.stop_reason == "stop"
    u = done.usage
    assert (u.input_tokens, u.cached_tokens, u.output_tokens, u.reasoning_tokens) == (
        120,
        100,
        40,
        25,
    )
    assert done.timing.ttft_s is not None and done.timing.ttft_s <= done.timing.latency_s
    assert done.timing.output_tokens == 40 and done.timing.retries == 0

    sent = server.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer test-key"
    assert sent.body["model"] == "coder-7b"
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["max_completion_tokens"] == 50
    assert sent.body["max_tokens"] == 50  # loopback server: the older field is mirrored
    assert sent.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert sent.body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "read_file",
                "description": "Read a file in the workspace.",
                "parameters": READ.parameters,
            },
        }
    ]


async def test_tool_calls_streamed_in_pieces_are_assembled(
    model: OpenAIChatModel, server: WireServer
) -> None:
    first = {"index": 0, "id": "call_a", "type": "function", "function": {"name": "read_file"}}
    second = {"index": 1, "id": "call_b", "type": "function", "function": {"name": "read_file"}}
    server.add(
        openai_stream(
            openai_chunk({"role": "assistant", "tool_calls": [first]}),
            openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"pa'}}]}),
            openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'th": "a.py"}'}}]}),
            openai_chunk({"tool_calls": [second]}),
            openai_chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"path": '}}]}),
            openai_chunk({"tool_calls": [{"index": 1, "function": {"arguments": "oops"}}]}),
            openai_chunk({}, finish_reason="tool_calls"),
            openai_chunk(usage=openai_usage()),
        )
    )
    done = await model.complete(ASK, [READ])

    assert done.message.tool_calls == [
        ToolCall(id="call_a", name="read_file", arguments={"path": "a.py"}),
        ToolCall(id="call_b", name="read_file", arguments={}, malformed='{"path": oops'),
    ]
    assert done.stop_reason == "tool_calls"
    assert done.timing.ttft_s is not None


async def test_non_streaming_answer_with_tool_calls(
    server: WireServer, fast_retry: RetryPolicy
) -> None:
    server.add(
        openai_completion(
            None,
            tool_calls=[
                openai_tool_call("call_1", "read_file", '{"path": "calc.py"}'),
                openai_tool_call("call_2", "read_file", '["not", "an", "object"]'),
            ],
            usage=openai_usage(30, 12, reasoning=4),
            finish_reason="tool_calls",
        )
    )
    model = OpenAIChatModel(
        "openrouter", "m", base_url=server.url, api_key="test-key", stream=False, retry=fast_retry
    )
    try:
        done = await model.complete(ASK, [READ])
    finally:
        await model.aclose()

    assert "stream" not in server.requests[0].body
    assert done.message.content == ""
    assert done.message.tool_calls[0].arguments == {"path": "calc.py"}
    assert done.message.tool_calls[1].malformed == '["not", "an", "object"]'
    assert done.message.tool_calls[1].arguments == {}
    assert (done.usage.output_tokens, done.usage.reasoning_tokens) == (12, 4)
    assert done.timing.ttft_s is None and done.timing.output_tps is None


async def test_time_to_first_token_and_speed_follow_the_server(
    model: OpenAIChatModel, server: WireServer
) -> None:
    server.add(
        openai_stream(
            openai_chunk({"role": "assistant", "content": ""}),
            Pause(0.3),  # prompt processing
            openai_chunk({"content": "one"}),
            Pause(0.4),  # generation
            openai_chunk({"content": " two"}, finish_reason="stop"),
            openai_chunk(usage=openai_usage(10, 20)),
        )
    )
    done = await model.complete(ASK, [])
    timing = done.timing

    assert timing.ttft_s is not None and timing.ttft_s >= 0.3  # nothing was sent sooner
    assert timing.latency_s >= 0.7
    assert timing.latency_s - timing.ttft_s >= 0.4 - JITTER_S
    # 20 tokens over the time after the first one arrived (not the whole request), which the
    # server stretched to 0.4 s: at most 20 / (0.4 - JITTER_S) = 100 tokens/s.
    assert timing.output_tps is not None and 20 / timing.latency_s < timing.output_tps
    assert timing.output_tps <= 20 / (0.4 - JITTER_S)


async def test_a_stream_without_usage_counts_one_output_token_per_chunk(
    model: OpenAIChatModel, server: WireServer
) -> None:
    # llama-cpp-python's server: a chunk per generated token and no usage, asked or not.
    server.add(
        openai_stream(
            openai_chunk({"role": "assistant"}),
            Pause(0.2),  # prompt processing
            openai_chunk({"content": "def"}),
            openai_chunk({"content": " add"}),
            Pause(0.4),
            openai_chunk({"content": "(a, b)"}),
            openai_chunk({}, finish_reason="stop"),
        )
    )
    done = await model.complete(ASK, [])

    assert done.message.content == "def add(a, b)"
    assert done.usage.output_tokens == 3 and done.timing.output_tokens == 3
    assert done.usage.input_tokens == 0  # unknown: this server cannot be asked
    # 3 tokens in the 0.4 s or more after the first one arrived.
    assert done.timing.output_tps is not None and 3 / done.timing.latency_s < done.timing.output_tps
    assert done.timing.output_tps <= 3 / (0.4 - JITTER_S)


class PromptCountingModel(OpenAIChatModel):
    """An adapter whose server can count a prompt's tokens, as the embedded model's can."""

    def __init__(self, base_url: str) -> None:
        super().__init__("llamacpp", "m", base_url=base_url, api_key=None)
        self.asked: list[Mapping[str, Any]] = []

    async def _count_prompt_tokens(self, request: Mapping[str, Any]) -> int | None:
        self.asked.append(request)
        return 7 * len(request["messages"])


async def test_prompt_tokens_are_asked_for_only_when_the_stream_had_no_usage(
    server: WireServer,
) -> None:
    server.add(
        openai_stream(
            openai_chunk({"content": "a"}), openai_chunk({"content": "b"}, finish_reason="stop")
        ),
        openai_stream(
            openai_chunk({"content": "ab"}, finish_reason="stop"),
            openai_chunk(usage=openai_usage(30, 2)),
        ),
    )
    model = PromptCountingModel(server.url)
    try:
        counted = await model.complete(ASK, [])
        reported = await model.complete(ASK, [])
    finally:
        await model.aclose()

    assert (counted.usage.input_tokens, counted.usage.output_tokens) == (14, 2)
    assert (reported.usage.input_tokens, reported.usage.output_tokens) == (30, 2)
    assert len(model.asked) == 1
    assert model.asked[0]["messages"] == server.requests[0].body["messages"]


async def test_reasoning_model_speed_counts_the_hidden_thinking(
    server: WireServer, fast_retry: RetryPolicy
) -> None:
    server.add(
        openai_stream(
            Pause(0.3),  # the model thinks; nothing is streamed
            openai_chunk({"content": "4"}),
            openai_chunk({"content": "2"}, finish_reason="stop"),
            openai_chunk(usage=openai_usage(10, 30, reasoning=28)),
        )
    )
    model = OpenAIChatModel("openai", "gpt-5-mini", base_url=server.url, api_key="test-key")
    try:
        done = await model.complete(ASK, [])
    finally:
        await model.aclose()
    # Over the whole request, not the instant after the first visible token.
    assert done.timing.output_tps is not None
    assert done.timing.output_tps <= 30 / 0.3


async def test_rate_limit_waits_as_long_as_the_server_asks(server: WireServer) -> None:
    server.add(
        error_reply(429, "Rate limit reached", {"retry-after": "0.3"}),
        openai_stream(
            openai_chunk({"content": "ok"}, finish_reason="stop"),
            openai_chunk(usage=openai_usage()),
        ),
    )
    model = OpenAIChatModel(
        "groq", "m", base_url=server.url, api_key="test-key", retry=RetryPolicy(base_s=5.0)
    )
    try:
        done = await model.complete(ASK, [])
    finally:
        await model.aclose()
    assert done.message.content == "ok"
    assert done.timing.retries == 1
    # As asked, not the 5 s backoff of the policy (asyncio.sleep may overshoot, never undershoot).
    assert 0.29 <= done.timing.wait_s < 2.0
    assert len(server.requests) == 2


async def test_server_error_then_success_and_dropped_connection_then_success(
    model: OpenAIChatModel, server: WireServer
) -> None:
    server.add(
        error_reply(500, "boom"),
        Reply(drop=True),
        openai_stream(
            openai_chunk({"content": "ok"}, finish_reason="stop"),
            openai_chunk(usage=openai_usage()),
        ),
    )
    done = await model.complete(ASK, [])
    assert done.message.content == "ok"
    assert done.timing.retries == 2


async def test_persistent_server_error_gives_up_after_the_retries(
    model: OpenAIChatModel, server: WireServer
) -> None:
    server.add(*(error_reply(503, "overloaded") for _ in range(3)))
    with pytest.raises(ProviderError) as caught:
        await model.complete(ASK, [])
    assert caught.value.transient and caught.value.status == 503
    assert "overloaded" in str(caught.value)
    assert len(server.requests) == 3  # one try + max_retries=2


async def test_no_answer_in_time_is_a_transient_error(server: WireServer) -> None:
    server.add(Reply(delay_s=3.0, body={}))
    model = OpenAIChatModel(
        "ollama",
        "qwen",
        base_url=server.url,
        api_key="test-key",
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
    assert "0.3s" in str(caught.value)
    assert time.perf_counter() - t0 < 2.0


async def test_nobody_listening_is_unreachable_with_a_one_line_hint() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    model = OpenAIChatModel("ollama", "qwen", base_url=url, api_key="test-key")
    try:
        with pytest.raises(ProviderUnreachable) as caught:
            await model.complete(ASK, [])
    finally:
        await model.aclose()
    message = str(caught.value)
    assert url in message and "\n" not in message
    assert not caught.value.transient


async def test_rejected_key_is_not_retried(model: OpenAIChatModel, server: WireServer) -> None:
    server.add(error_reply(401, "Incorrect API key provided"))
    with pytest.raises(ProviderError) as caught:
        await model.complete(ASK, [])
    assert not caught.value.transient and caught.value.status == 401
    assert "API key" in str(caught.value)
    assert len(server.requests) == 1


async def test_unknown_model_says_so(server: WireServer) -> None:
    server.add(error_reply(404, "model 'qwen9' not found, try pulling it first"))
    model = OpenAIChatModel("ollama", "qwen9", base_url=server.url, api_key=None)
    try:
        with pytest.raises(ProviderError) as caught:
            await model.complete(ASK, [])
    finally:
        await model.aclose()
    assert not caught.value.transient
    assert "'qwen9' was not found" in str(caught.value)
    assert "ollama pull qwen9" in str(caught.value)
    # No key configured: a placeholder goes out, never an OPENAI_API_KEY from the environment.
    assert server.requests[0].headers["authorization"] == "Bearer no-key"


async def test_server_that_rejects_streaming_is_asked_again_without(
    model: OpenAIChatModel, server: WireServer
) -> None:
    server.add(
        error_reply(400, "Unrecognized request argument supplied: stream_options"),
        openai_completion("fine"),
        openai_completion("again"),
    )
    assert (await model.complete(ASK, [])).message.content == "fine"
    assert (await model.complete(ASK, [])).message.content == "again"
    assert [("stream" in b) for b in server.bodies()] == [True, False, False]


async def test_error_event_inside_a_stream_is_reported(
    model: OpenAIChatModel, server: WireServer
) -> None:
    server.add(
        openai_stream(
            openai_chunk({"content": "par"}),
            Event(json.dumps({"error": {"message": "context length exceeded"}})),
        )
    )
    with pytest.raises(ProviderError, match="context length exceeded") as caught:
        await model.complete(ASK, [])
    assert not caught.value.transient


async def test_tool_call_written_as_text_becomes_a_call(
    model: OpenAIChatModel, server: WireServer
) -> None:
    said = 'Let me read it.\n<tool_call>\n{"name": "read_file", "arguments": {"path": "a.py"}}\n</tool_call>'
    unknown = '```json\n{"name": "rm_rf", "parameters": {}}\n```'  # not the exact call shape
    server.add(
        openai_stream(
            openai_chunk({"content": said}, finish_reason="stop"),
            openai_chunk(usage=openai_usage()),
        ),
        openai_stream(
            openai_chunk({"content": unknown}, finish_reason="stop"),
            openai_chunk(usage=openai_usage()),
        ),
    )
    done = await model.complete(ASK, [READ])
    assert done.message.content == "Let me read it."
    [call] = done.message.tool_calls
    assert (call.name, call.arguments) == ("read_file", {"path": "a.py"})
    assert call.id.startswith("call_text_")

    ignored = await model.complete(ASK, [READ])
    assert (ignored.message.content, ignored.message.tool_calls) == (unknown, [])


async def test_conversation_with_tool_results_goes_out_in_chat_format(
    model: OpenAIChatModel, server: WireServer
) -> None:
    server.add(
        openai_stream(
            openai_chunk({"content": "done"}, finish_reason="stop"),
            openai_chunk(usage=openai_usage()),
        )
    )
    history = [
        *ASK,
        Message(
            role="assistant",
            content="",
            tool_calls=[
                ToolCall(id="c1", name="read_file", arguments={"path": "a.py"}),
                ToolCall(id="c2", name="read_file", malformed="{path: b"),
            ],
        ),
        Message(role="tool", tool_call_id="c1", name="read_file", content="x = 1"),
        Message(
            role="tool", tool_call_id="c2", name="read_file", content="bad JSON", is_error=True
        ),
    ]
    await model.complete(history, [READ])
    assert server.requests[0].body["messages"][2:] == [
        {
            "role": "assistant",  # no text, so no "content": llama-cpp-python rejects null
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": '{"path": "a.py"}'},
                },
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "x = 1"},
        {"role": "tool", "tool_call_id": "c2", "content": "bad JSON"},
    ]


async def test_extra_body_reaches_the_server(server: WireServer) -> None:
    server.add(openai_completion("hi"))
    model = OpenAIChatModel(
        "openai",
        "gpt-5",
        base_url=server.url,
        api_key="test-key",
        stream=False,
        extra_body={"reasoning_effort": "low"},
    )
    try:
        await model.complete(ASK, [], max_output_tokens=7)
    finally:
        await model.aclose()
    assert server.requests[0].body["reasoning_effort"] == "low"
    assert server.requests[0].body["max_completion_tokens"] == 7
