"""Adapter for the OpenAI chat-completions wire format, which OpenAI itself and most other
servers speak (Ollama, vLLM, llama.cpp, LM Studio, OpenRouter, Groq, Gemini's compatible
endpoint): a compatible provider is just a base URL and a key. It streams by default to measure
time to first token and output speed, assembles tool calls from stream deltas, recovers tool
calls that small local models write as text, maps usage into `Usage` (reasoning counted once,
as a part of output) and turns SDK failures into the `ProviderError` family, transient ones
carrying the server's retry-after so `ModelAdapter.complete` can back off.

Token counts are the server's own when it reports usage. A stream that ends without usage
(llama-cpp-python's server never sends it) is counted here instead: one output token per
streamed text chunk, which is exact for servers that send a chunk per token, as llama.cpp does
unless a character spans tokens (an emoji, most CJK), and prompt tokens from
`_count_prompt_tokens`, which knows nothing (0) unless a subclass can ask its server."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx2
import openai

from bakeoff.errors import ProviderError, ProviderUnreachable
from bakeoff.models.base import CostFn, ModelAdapter, RetryPolicy, unknown_cost
from bakeoff.models.text_tools import extract_text_tool_calls
from bakeoff.types import Completion, Message, RequestTiming, ToolCall, ToolSpec, Usage

# Never let the SDK fall back to OPENAI_API_KEY: it would send the user's OpenAI key to
# whatever server the base URL names. Keyless local servers accept any bearer token.
_NO_KEY = "no-key"
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


class OpenAIChatModel(ModelAdapter):
    """A model behind an OpenAI-compatible `/chat/completions` endpoint.

    `reasoning` marks a model that thinks before its first visible token (GPT-5, o-series,
    gpt-oss, R1): its output speed is then measured over the whole request, since the hidden
    reasoning tokens are generated before the first token arrives. `extra_body` is merged into
    every request (e.g. `{"reasoning_effort": "low"}`)."""

    def __init__(
        self,
        provider: str,
        name: str,
        *,
        base_url: str | None,
        api_key: str | None,
        cost_fn: CostFn = unknown_cost,
        retry: RetryPolicy | None = None,
        timeout_s: float = 120.0,
        stream: bool = True,
        reasoning: bool = False,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(provider, name, cost_fn=cost_fn, retry=retry)
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.stream = stream
        self.reasoning = reasoning
        self.extra_body = dict(extra_body or {})
        self._api_key = api_key
        self._sdk: openai.AsyncOpenAI | None = None

    def _client(self) -> openai.AsyncOpenAI:
        if self._sdk is None:
            self._sdk = openai.AsyncOpenAI(
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
            if self.stream:
                try:
                    return await self._streamed(params, tools)
                except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                    if "stream" not in str(exc).lower():
                        raise
                    # This server rejects streaming or stream_options: stop asking.
                    self.stream = False
            return await self._whole(params, tools)
        except openai.APIError as exc:
            raise self._provider_error(exc) from exc
        except httpx2.TransportError as exc:
            raise ProviderError(f"{self.id}: connection lost: {exc!r}", transient=True) from exc

    async def ping(self) -> None:
        """Ask for the server's model list: it answers and takes the key, at no token cost. A
        server without that endpoint (404, 405...) has answered, which is all a probe asks."""
        try:
            await self._client().models.list()
        except openai.APIStatusError as exc:
            if exc.status_code in (401, 403) or exc.status_code >= 500:
                raise self._provider_error(exc) from exc
        except openai.APIError as exc:
            raise self._provider_error(exc) from exc
        except httpx2.TransportError as exc:
            raise ProviderError(f"{self.id}: connection lost: {exc!r}", transient=True) from exc

    def _params(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], max_output_tokens: int | None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self.name, "messages": to_openai_messages(messages)}
        if tools:
            params["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in tools
            ]
        if max_output_tokens is not None:
            params["max_completion_tokens"] = max_output_tokens
            if urlsplit(self.base_url or "").hostname in _LOOPBACK:
                # Local servers (llama-cpp-python, older Ollama) only read max_tokens; OpenAI,
                # which rejects max_tokens for reasoning models, never lives on loopback.
                params["max_tokens"] = max_output_tokens
        if self.extra_body:
            params["extra_body"] = dict(self.extra_body)
        return params

    async def _streamed(self, params: dict[str, Any], tools: Sequence[ToolSpec]) -> Completion:
        t0 = time.perf_counter()
        stream = await self._client().chat.completions.create(
            **params, stream=True, stream_options={"include_usage": True}
        )
        text: list[str] = []
        calls: list[_PartialCall] = []
        by_index: dict[int, _PartialCall] = {}
        ttft: float | None = None
        thinking_from: float | None = None
        token_chunks = 0
        finish: str | None = None
        usage: Any = None
        async with stream:
            async for chunk in stream:
                now = time.perf_counter() - t0
                usage = getattr(chunk, "usage", None) or usage
                for choice in chunk.choices or []:
                    if (choice.index or 0) != 0:
                        continue
                    finish = choice.finish_reason or finish
                    delta = choice.delta
                    if delta is None:
                        continue
                    thought = getattr(delta, "reasoning_content", None) or getattr(
                        delta, "reasoning", None
                    )
                    if thought and thinking_from is None:
                        thinking_from = now
                    if thought or delta.content or delta.tool_calls:
                        token_chunks += 1
                    if not delta.content and not delta.tool_calls:
                        continue
                    ttft = now if ttft is None else ttft
                    if delta.content:
                        text.append(delta.content)
                    for piece in delta.tool_calls or []:
                        _add_delta(calls, by_index, piece)
        latency = time.perf_counter() - t0
        message = self._message("".join(text), [c.finish() for c in calls], tools)
        if usage is not None:
            counted = _usage(usage)
        else:
            prompt_tokens = await self._count_prompt_tokens(params)
            counted = Usage(input_tokens=prompt_tokens or 0, output_tokens=token_chunks)
        if thinking_from is not None:
            gen_start: float | None = thinking_from
        elif self.reasoning or counted.reasoning_tokens:
            gen_start = 0.0
        else:
            # One chunk carrying everything means a buffering server: time the whole request.
            gen_start = ttft if token_chunks > 1 else 0.0
        return Completion(
            message=message,
            usage=counted,
            timing=RequestTiming(
                latency_s=latency,
                ttft_s=ttft,
                output_tokens=counted.output_tokens,
                output_tps=_rate(counted.output_tokens, latency, gen_start),
            ),
            stop_reason=finish,
        )

    async def _count_prompt_tokens(self, request: Mapping[str, Any]) -> int | None:
        """The prompt tokens of `request` (the body sent) when its stream reported no usage;
        None when unknown. Called once the answer has been timed; must not raise."""
        return None

    async def _whole(self, params: dict[str, Any], tools: Sequence[ToolSpec]) -> Completion:
        t0 = time.perf_counter()
        response = await self._client().chat.completions.create(**params)
        latency = time.perf_counter() - t0
        choice = response.choices[0] if response.choices else None
        content = (choice.message.content if choice else None) or ""
        calls: list[ToolCall] = []
        for raw in (choice.message.tool_calls if choice else None) or []:
            function = getattr(raw, "function", None)
            if function is None:  # a "custom" tool call: we never offer those
                continue
            calls.append(_tool_call(raw.id, function.name, function.arguments))
        counted = _usage(response.usage)
        return Completion(
            message=self._message(content, calls, tools),
            usage=counted,
            # No stream, no first-token time; a rate over the whole request would blend in
            # prompt processing, so speed stays unknown rather than wrong.
            timing=RequestTiming(latency_s=latency, output_tokens=counted.output_tokens),
            stop_reason=choice.finish_reason if choice else None,
        )

    def _message(self, text: str, calls: list[ToolCall], tools: Sequence[ToolSpec]) -> Message:
        if not calls and tools:
            prefix = f"call_text_{uuid.uuid4().hex[:8]}_"
            text, calls = extract_text_tool_calls(text, tools, id_prefix=prefix)
        return Message(role="assistant", content=text, tool_calls=calls)

    def _where(self) -> str:
        return str(self._sdk.base_url if self._sdk is not None else self.base_url).rstrip("/")

    def _provider_error(self, exc: openai.APIError) -> ProviderError:
        where = self._where()
        if isinstance(exc, openai.APITimeoutError):
            return ProviderError(
                f"{self.id}: no answer from {where} within {self.timeout_s:g}s", transient=True
            )
        if isinstance(exc, openai.APIConnectionError):
            if connection_refused(exc):
                return ProviderUnreachable(
                    f"no server is answering at {where}: start the {self.provider} server "
                    "or fix the provider's base URL"
                )
            return ProviderError(f"{self.id}: connection to {where} failed", transient=True)
        detail = error_detail(exc.body) or exc.message
        if not isinstance(exc, openai.APIStatusError):  # an error event inside a stream
            transient = any(w in detail.lower() for w in ("overload", "server", "rate", "capacity"))
            return ProviderError(f"{self.id}: {detail}", body=detail, transient=transient)
        status = exc.status_code
        body = exc.body if isinstance(exc.body, str) else json.dumps(exc.body)
        if status == 401:
            message = f"{self.provider} rejected the API key (HTTP 401): check the key. {detail}"
        elif status == 403:
            message = f"{self.provider} refused access to {self.name!r} (HTTP 403): {detail}"
        elif status == 404:
            hint = f" (run `ollama pull {self.name}`)" if self.provider == "ollama" else ""
            message = (
                f"model {self.name!r} was not found at {where} (HTTP 404){hint}: check the "
                f"model name and the base URL. {detail}"
            )
        else:
            message = f"{self.id}: HTTP {status}: {detail}"
        return ProviderError(
            message.strip(),
            status=status,
            body=body,
            transient=status in (408, 409, 429) or status >= 500,
            retry_after_s=retry_after(exc.response.headers),
        )


def to_openai_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Bakeoff messages in the chat-completions format."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            out.append({"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.content})
        elif m.role == "assistant" and m.tool_calls:
            # Malformed arguments go back as "{}": servers that render them through a chat
            # template parse them, and the tool's error result already tells the model.
            # Omit empty content: llama-cpp-python's server rejects `content: null`.
            out.append(
                {
                    "role": "assistant",
                    **({"content": m.content} if m.content else {}),
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                        }
                        for c in m.tool_calls
                    ],
                }
            )
        else:
            out.append({"role": m.role, "content": m.content})
    return out


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: str = ""

    def finish(self) -> ToolCall:
        return _tool_call(self.id, self.name, self.arguments)


def _add_delta(calls: list[_PartialCall], by_index: dict[int, _PartialCall], piece: Any) -> None:
    index: int | None = piece.index
    current = by_index.get(index) if index is not None else (calls[-1] if calls else None)
    # Some servers number every call 0 and tell them apart only by id.
    if current is None or (piece.id and current.id and piece.id != current.id):
        current = _PartialCall()
        calls.append(current)
        if index is not None:
            by_index[index] = current
    current.id = piece.id or current.id
    function = piece.function
    if function is not None:
        if function.name and function.name != current.name:
            current.name += function.name
        current.arguments += function.arguments or ""


def _tool_call(call_id: str | None, name: str, arguments: Any) -> ToolCall:
    call_id = call_id or f"call_{uuid.uuid4().hex[:12]}"
    if isinstance(arguments, dict):  # a few servers send an object, not its JSON text
        return ToolCall(id=call_id, name=name, arguments=arguments)
    raw = arguments or ""
    if not raw.strip():
        return ToolCall(id=call_id, name=name)
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        return ToolCall(id=call_id, name=name, malformed=raw)
    return ToolCall(id=call_id, name=name, arguments=parsed)


def _usage(raw: Any) -> Usage:
    if raw is None:
        return Usage()
    prompt_details = getattr(raw, "prompt_tokens_details", None)
    output_details = getattr(raw, "completion_tokens_details", None)
    reasoning = getattr(output_details, "reasoning_tokens", None) or 0
    return Usage(
        input_tokens=getattr(raw, "prompt_tokens", None) or 0,
        cached_tokens=getattr(prompt_details, "cached_tokens", None) or 0,
        output_tokens=max(getattr(raw, "completion_tokens", None) or 0, reasoning),
        reasoning_tokens=reasoning,
    )


def _rate(tokens: int, latency: float, start: float | None) -> float | None:
    if not tokens or start is None or latency - start <= 0:
        return None
    return tokens / (latency - start)


def connection_refused(exc: BaseException) -> bool:
    """Whether nobody listens at the address (refused, or the name did not resolve)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, httpx2.ConnectError | ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def error_detail(body: object) -> str:
    """The server's own words from an error body, short."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            inner = inner.get("message", inner)
        body = inner
    text = body if isinstance(body, str) else json.dumps(body) if body is not None else ""
    return text[:300]


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, or `retry-after` in seconds or as
    an HTTP date; None when it gave no (readable) hint."""
    try:
        if (ms := headers.get("retry-after-ms")) is not None:
            return float(ms) / 1000
    except ValueError:
        pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
