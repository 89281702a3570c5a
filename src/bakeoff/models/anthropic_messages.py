"""Adapter for Anthropic's Messages API: native tool use (tool_use / tool_result blocks), the
system prompt apart from the turns, optional extended thinking, streaming by default to measure
time to first token. Anthropic's `input_tokens` excludes cache reads and writes, so they are
added back to give `Usage.input_tokens` its meaning of every prompt token. SDK failures become
the `ProviderError` family through `bakeoff.models.http_errors`, the mapping the OpenAI adapter
uses too: 429, 529 (overloaded), 5xx, timeouts and dropped connections are transient and carry
the server's retry-after for `ModelAdapter.complete`; an overloaded or rate-limit error event
inside a stream is transient as well. A stream cut before its stop reason, or an answer with no
text and no tool call, is a `ProviderError`, never an empty final answer."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2

from bakeoff.errors import EmptyAnswer, ProviderError
from bakeoff.models.base import CostFn, ModelAdapter, RetryPolicy, unknown_cost
from bakeoff.models.guards import progress
from bakeoff.models.http_errors import (
    Endpoint,
    connection_error,
    error_detail,
    event_error,
    status_error,
    timeout_error,
    transport_error,
)
from bakeoff.types import Completion, Message, RequestTiming, ToolCall, ToolSpec, Usage

# Never let the SDK fall back to ANTHROPIC_API_KEY or a config profile: with a custom base
# URL it would send the user's key to that server.
_NO_KEY = "no-key"
_DEFAULT_MAX_TOKENS = 4096  # the API requires max_tokens; this leaves room for a long edit
_TRANSIENT_TYPES = {"overloaded_error", "rate_limit_error", "api_error", "timeout_error"}
_KEPT_THINKING = 512


class AnthropicModel(ModelAdapter):
    """A Claude model (or an Anthropic-compatible server) through the Messages API.

    With `thinking_budget`, extended thinking is on; its blocks are kept (by tool-call id) and
    sent back with the assistant turn that made the calls, as the API requires."""

    timeout_s: float  # the SDK client's: connect, send, and each read

    def __init__(
        self,
        provider: str,
        name: str,
        *,
        api_key: str | None,
        base_url: str | None = None,
        cost_fn: CostFn = unknown_cost,
        retry: RetryPolicy | None = None,
        timeout_s: float = 120.0,
        stream: bool = True,
        thinking_budget: int | None = None,
        prompt_cache: bool = True,
    ) -> None:
        super().__init__(provider, name, cost_fn=cost_fn, retry=retry)
        self.prompt_cache = prompt_cache
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.stream = stream
        self.thinking_budget = thinking_budget
        self._api_key = api_key
        self._sdk: anthropic.AsyncAnthropic | None = None
        self._thinking: dict[str, list[dict[str, Any]]] = {}

    def _client(self) -> anthropic.AsyncAnthropic:
        if self._sdk is None:
            self._sdk = anthropic.AsyncAnthropic(
                api_key=self._api_key or _NO_KEY,
                base_url=self.base_url,
                timeout=self.timeout_s,
                max_retries=0,  # ModelAdapter.complete retries, and records the wait
            )
        return self._sdk

    async def _request(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        max_output_tokens: int | None,
    ) -> Completion:
        params = self._params(messages, tools, max_output_tokens)
        try:
            return await (self._streamed(params) if self.stream else self._whole(params))
        except anthropic.APIError as exc:
            raise self._provider_error(exc) from exc
        except httpx2.TransportError as exc:
            raise transport_error(self._endpoint(), exc) from exc

    def _params(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], max_output_tokens: int | None
    ) -> dict[str, Any]:
        system, turns = self._to_anthropic(messages)
        max_tokens = max_output_tokens or _DEFAULT_MAX_TOKENS
        if self.prompt_cache and turns:
            # A cache breakpoint on the newest block: each turn of an agent loop then reads the
            # whole conversation so far from Anthropic's prompt cache (0.1x the input price)
            # instead of paying full price for it again, as OpenAI's automatic caching does.
            # The blocks are copies: the marker must not follow the block into later requests.
            last = turns[-1]["content"][-1] = dict(turns[-1]["content"][-1])
            last["cache_control"] = {"type": "ephemeral"}
        params: dict[str, Any] = {"model": self.name, "messages": turns}
        if system:
            params["system"] = system
        if tools:
            params["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in tools
            ]
        if self.thinking_budget:
            params["thinking"] = {"type": "enabled", "budget_tokens": self.thinking_budget}
            # The API requires max_tokens > budget_tokens; keep room for the answer itself.
            max_tokens = max(max_tokens, self.thinking_budget + 1024)
        params["max_tokens"] = max_tokens
        return params

    def _to_anthropic(self, messages: Sequence[Message]) -> tuple[str, list[dict[str, Any]]]:
        system: list[str] = []
        turns: list[dict[str, Any]] = []
        for m in messages:
            if m.role == "system":
                system.append(m.content)
                continue
            role = "assistant" if m.role == "assistant" else "user"
            blocks: list[dict[str, Any]] = []
            if m.role == "tool":
                blocks.append(
                    {
                        "type": "tool_result",
                        "tool_use_id": m.tool_call_id or "",
                        "content": m.content,
                        "is_error": m.is_error,
                    }
                )
            else:
                if m.tool_calls:
                    blocks.extend(self._thinking.get(m.tool_calls[0].id, []))
                if m.content:  # the API rejects empty text blocks
                    blocks.append({"type": "text", "text": m.content})
                blocks.extend(
                    {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                    for c in m.tool_calls
                )
            if not blocks:
                continue
            # Consecutive tool results (and a note after them) belong in one user turn.
            if turns and turns[-1]["role"] == role:
                turns[-1]["content"].extend(blocks)
            else:
                turns.append({"role": role, "content": blocks})
        return "\n\n".join(s for s in system if s), turns

    async def _streamed(self, params: dict[str, Any]) -> Completion:
        t0 = time.perf_counter()
        stream = await self._client().messages.create(**params, stream=True)
        blocks: dict[int, _Block] = {}
        ttft: float | None = None
        thinking_from: float | None = None
        usage: dict[str, Any] = {}
        stop: str | None = None
        async with stream:
            async for event in stream:
                progress()
                now = time.perf_counter() - t0
                if event.type == "message_start":
                    usage.update(_fields(event.message.usage))
                elif event.type == "content_block_start":
                    block = _Block.start(event.content_block)
                    blocks[event.index] = block
                    if block.type == "tool_use":
                        ttft = now if ttft is None else ttft
                elif event.type == "content_block_delta":
                    block = blocks.setdefault(event.index, _Block("text"))
                    delta = event.delta
                    if delta.type == "text_delta" and delta.text:
                        ttft = now if ttft is None else ttft
                        block.text += delta.text
                    elif delta.type == "input_json_delta":
                        block.partial_json += delta.partial_json
                    elif delta.type == "thinking_delta":
                        thinking_from = now if thinking_from is None else thinking_from
                        block.text += delta.thinking
                    elif delta.type == "signature_delta":
                        block.signature = delta.signature
                elif event.type == "message_delta":
                    stop = event.delta.stop_reason or stop
                    usage.update(_fields(event.usage))
        latency = time.perf_counter() - t0
        message = self._message([blocks[i] for i in sorted(blocks)])
        self._check_whole(message, stop)
        counted = _usage(usage)
        if thinking_from is not None:
            gen_start: float | None = thinking_from
        elif self.thinking_budget:
            gen_start = 0.0
        else:
            gen_start = ttft
        rate = None
        if counted.output_tokens and gen_start is not None and latency > gen_start:
            rate = counted.output_tokens / (latency - gen_start)
        return Completion(
            message=message,
            usage=counted,
            timing=RequestTiming(
                latency_s=latency,
                ttft_s=ttft,
                output_tokens=counted.output_tokens,
                output_tps=rate,
            ),
            stop_reason=stop,
        )

    async def _whole(self, params: dict[str, Any]) -> Completion:
        t0 = time.perf_counter()
        response = await self._client().messages.create(**params)
        latency = time.perf_counter() - t0
        message = self._message([_Block.whole(b) for b in response.content])
        self._check_whole(message, response.stop_reason)
        counted = _usage(_fields(response.usage))
        return Completion(
            message=message,
            usage=counted,
            # Without a stream there is no first-token time, so output speed stays unknown.
            timing=RequestTiming(latency_s=latency, output_tokens=counted.output_tokens),
            stop_reason=response.stop_reason,
        )

    def _check_whole(self, message: Message, stop: str | None) -> None:
        """Raise when an answer is no answer: cut before its stop reason (transient: asking
        again may help), or stopped with no text and no tool call."""
        if stop is None:
            raise ProviderError(
                f"{self.id}: the stream ended without a stop reason (cut short)", transient=True
            )
        if not message.content.strip() and not message.tool_calls and stop != "max_tokens":
            raise EmptyAnswer(
                f"{self.id}: empty answer (HTTP 200, no text and no tool call, stop_reason "
                f"{stop!r})"
            )

    def _message(self, blocks: list[_Block]) -> Message:
        text = "".join(b.text for b in blocks if b.type == "text")
        calls = [b.tool_call() for b in blocks if b.type == "tool_use"]
        thinking = [
            b.thinking_param() for b in blocks if b.type in ("thinking", "redacted_thinking")
        ]
        if calls and thinking:
            self._thinking[calls[0].id] = thinking
            while len(self._thinking) > _KEPT_THINKING:
                del self._thinking[next(iter(self._thinking))]
        return Message(role="assistant", content=text, tool_calls=calls)

    def _endpoint(self) -> Endpoint:
        where = str(self._sdk.base_url if self._sdk is not None else self.base_url).rstrip("/")
        return Endpoint(self.provider, self.name, where, self.timeout_s)

    def _provider_error(self, exc: anthropic.APIError) -> ProviderError:
        endpoint = self._endpoint()
        if isinstance(exc, anthropic.APITimeoutError):
            return timeout_error(endpoint)
        if isinstance(exc, anthropic.APIConnectionError):
            return connection_error(endpoint, exc)
        detail = error_detail(exc.body) or exc.message
        if not isinstance(exc, anthropic.APIStatusError):
            return event_error(endpoint, detail, transient=False)
        if exc.status_code < 400:  # an error event inside a 200 stream: its type says what
            kind = exc.type or ""
            return event_error(endpoint, detail, transient=kind in _TRANSIENT_TYPES, kind=kind)
        return status_error(
            endpoint, exc.status_code, exc.body, exc.response.headers, fallback=exc.message
        )


@dataclass
class _Block:
    """One content block as it arrives, whole or in stream deltas."""

    type: str
    id: str = ""
    name: str = ""
    text: str = ""  # text, or the thinking of a thinking block
    partial_json: str = ""
    input: Any = None
    signature: str = ""
    data: str = ""  # a redacted_thinking block's opaque payload

    @classmethod
    def start(cls, raw: Any) -> _Block:
        return cls(
            type=raw.type,
            id=getattr(raw, "id", "") or "",
            name=getattr(raw, "name", "") or "",
            text=getattr(raw, "text", None) or getattr(raw, "thinking", None) or "",
            signature=getattr(raw, "signature", "") or "",
            data=getattr(raw, "data", "") or "",
        )

    @classmethod
    def whole(cls, raw: Any) -> _Block:
        block = cls.start(raw)
        block.input = getattr(raw, "input", None)
        return block

    def tool_call(self) -> ToolCall:
        if self.input is not None and not self.partial_json:
            arguments = self.input
        elif not self.partial_json.strip():
            arguments = {}
        else:
            try:
                arguments = json.loads(self.partial_json)
            except json.JSONDecodeError:
                arguments = None
        if not isinstance(arguments, dict):
            return ToolCall(id=self.id, name=self.name, malformed=self.partial_json)
        return ToolCall(id=self.id, name=self.name, arguments=arguments)

    def thinking_param(self) -> dict[str, Any]:
        if self.type == "redacted_thinking":
            return {"type": "redacted_thinking", "data": self.data}
        return {"type": "thinking", "thinking": self.text, "signature": self.signature}


def _fields(raw: Any) -> dict[str, Any]:
    """The usage counters present (non-null) in an SDK usage object."""
    names = (
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
    )
    return {n: v for n in names if (v := getattr(raw, n, None)) is not None}


def _usage(fields: dict[str, Any]) -> Usage:
    read = int(fields.get("cache_read_input_tokens", 0))
    written = int(fields.get("cache_creation_input_tokens", 0))
    return Usage(
        input_tokens=int(fields.get("input_tokens", 0)) + read + written,
        cached_tokens=read,
        cache_write_tokens=written,
        output_tokens=int(fields.get("output_tokens", 0)),
        unreported=int("input_tokens" not in fields),
    )
