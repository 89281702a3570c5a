"""Adapter for the OpenAI chat-completions wire format, which OpenAI itself and most other
servers speak (Ollama, vLLM, llama.cpp, LM Studio, OpenRouter, Groq, Gemini's compatible
endpoint): a compatible provider is just a base URL and a key. It streams by default to measure
time to first token and output speed, assembles tool calls from stream deltas, recovers tool
calls that small local models write as text, maps usage into `Usage` (reasoning counted once,
as a part of output) and turns SDK failures into the `ProviderError` family, transient ones
carrying the server's retry-after so `ModelAdapter.complete` can back off (the wire shapes
themselves: `bakeoff.models.openai_wire`; the HTTP error mapping, shared with the Anthropic
adapter: `bakeoff.models.http_errors`). A server on this machine (`bakeoff.net.is_local_url`)
is also sent `max_tokens`, the only output cap older local servers read. How the tools are
offered and a reply's calls read back is the model's tool format (`bakeoff.models.tool_format`:
the API's tools, or fenced blocks in plain chat), asked, never tested for.

For local models it also keeps each request bounded (`bakeoff.models.guards`): an output cap of
its own, a stream that degenerates into repetition stopped early (stop reason `degenerate`), a
request trimmed to the model's context window, and, with `constrained_tools`, replies held by
the server's JSON-schema decoding to a valid tool call (the final answer is one too)
(`bakeoff.models.constrained`). A 200 answer with no text and no tool call is `EmptyAnswer`
(the model's failure: stop reason `rejected`), a stream cut without a finish reason a transient
`ProviderError` (retried); neither is ever an empty final answer.

Token counts are the server's own when it reports usage. A stream that ends without usage
(llama-cpp-python's server never sends it) is counted here instead: one output token per
streamed text chunk, which is exact for servers that send a chunk per token, as llama.cpp does
unless a character spans tokens (an emoji, most CJK), and prompt tokens from
`_count_prompt_tokens`, which knows nothing (None: stored as unreported) unless a subclass can
ask its server."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import httpx2
import openai

from bakeoff.errors import EmptyAnswer, ProviderError
from bakeoff.models.base import CostFn, ModelAdapter, RetryPolicy, unknown_cost
from bakeoff.models.constrained import constrained_request, parse_constrained_reply
from bakeoff.models.guards import (
    RepetitionGuard,
    estimate_tokens,
    fit_context,
    partial_pieces,
    progress,
)
from bakeoff.models.http_errors import (
    Endpoint,
    connection_error,
    error_detail,
    event_error,
    status_error,
    timeout_error,
    transport_error,
)
from bakeoff.models.openai_wire import (
    PartialCall,
    add_delta,
    openai_tools,
    to_openai_messages,
    tool_call,
    usage_of,
)
from bakeoff.models.text_tools import extract_text_tool_calls
from bakeoff.models.tool_format import TOOL_FORMATS
from bakeoff.net import is_local_url
from bakeoff.types import (
    Completion,
    Message,
    RequestTiming,
    ToolCall,
    ToolFormatName,
    ToolSpec,
    Usage,
)

if TYPE_CHECKING:
    from bakeoff.config import ProviderConfig

# Never let the SDK fall back to OPENAI_API_KEY: it would send the user's OpenAI key to
# whatever server the base URL names. Keyless local servers accept any bearer token.
_NO_KEY = "no-key"


class OpenAIChatModel(ModelAdapter):
    """A model behind an OpenAI-compatible `/chat/completions` endpoint.

    `reasoning` marks a model that thinks before its first visible token (GPT-5, o-series,
    gpt-oss, R1): its output speed is then measured over the whole request, since the hidden
    reasoning tokens are generated before the first token arrives. `extra_body` and then
    `request_params` are merged into every request body (sampling, `tool_choice`,
    `{"reasoning_effort": "low"}`...; a nested `extra_body` table is merged in flat).
    `output_cap` lowers every request's output-token limit to at most that; `context_tokens`
    trims old tool output from requests that would not fit; `constrained_tools` sends the tools
    as a JSON-schema `response_format` as well (llama.cpp-based servers): on every request, or
    with `"first"` until the model's first call."""

    timeout_s: float  # the SDK client's: connect, send, and each read

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
        request_params: Mapping[str, Any] | None = None,
        output_cap: int | None = None,
        context_tokens: int | None = None,
        constrained_tools: bool | Literal["first"] = False,
        tool_format: ToolFormatName = "native",
    ) -> None:
        super().__init__(provider, name, cost_fn=cost_fn, retry=retry)
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.stream = stream
        self.reasoning = reasoning
        params = dict(request_params or {})
        nested = params.pop("extra_body", None)
        self.extra_body = {**(extra_body or {}), **(nested or {}), **params}
        self.output_cap = output_cap
        self.context_tokens = context_tokens
        self.constrained_tools = constrained_tools
        self.tool_format = TOOL_FORMATS[tool_format]
        self.tool_choice = True  # send tool_choice "auto" with tools (until a server refuses)
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
            try:
                completion = await self._send(params, tools)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if "tool_choice" not in params or "tool" not in str(exc).lower():
                    raise
                # vLLM without --enable-auto-tool-choice refuses it: stop sending it.
                self.tool_choice = False
                del params["tool_choice"]
                completion = await self._send(params, tools)
        except openai.APIError as exc:
            raise self._provider_error(exc) from exc
        except httpx2.TransportError as exc:
            raise transport_error(self._endpoint(), exc) from exc
        completion.message = self.tool_format.read_reply(completion.message, tools, messages)
        return completion

    async def _send(self, params: dict[str, Any], tools: Sequence[ToolSpec]) -> Completion:
        if self.stream:
            try:
                return await self._streamed(params, tools)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if "stream" not in str(exc).lower():
                    raise
                # This server rejects streaming or stream_options: stop asking.
                self.stream = False
        return await self._whole(params, tools)

    def _params(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], max_output_tokens: int | None
    ) -> dict[str, Any]:
        if self.output_cap is not None:
            max_output_tokens = min(max_output_tokens or self.output_cap, self.output_cap)
        sent = to_openai_messages(messages)
        offered = tools if self.tool_format.sends_tools else []
        budget: int | None = None
        if self.context_tokens is not None:
            # Room for the answer, the tool descriptions and the chat template's own tokens.
            budget = self.context_tokens - (max_output_tokens or 0) - 256
            if self.tool_format.sends_tools:
                budget -= estimate_tokens([t.model_dump() for t in tools])
            sent = fit_context(sent, budget)
        budget = budget if self.context_tokens else None
        chat = self.tool_format.chat_messages(sent, tools, budget)
        params: dict[str, Any] = {"model": self.name, "messages": chat}
        held: dict[str, Any] = {}
        if offered and self.constrained_tools:
            held = constrained_request(sent, offered, first_only=self.constrained_tools == "first")
        if held:
            params.update(held)
        elif offered:
            # Some servers (llama-cpp-python's function-calling formats) drop tools they are
            # not told they may call.
            if self.tool_choice:
                params["tool_choice"] = "auto"
            params["tools"] = openai_tools(offered)
        if max_output_tokens is not None:
            params["max_completion_tokens"] = max_output_tokens
            if is_local_url(self.base_url):
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
        calls: list[PartialCall] = []
        by_index: dict[int, PartialCall] = {}
        ttft: float | None = None
        thinking_from: float | None = None
        token_chunks = 0
        finish: str | None = None
        usage: Any = None
        guard = RepetitionGuard()
        degenerate: str | None = None
        partial = partial_pieces()
        if partial is not None:
            partial.clear()
        async with stream:
            async for chunk in stream:
                if degenerate is not None:
                    break  # leaving the block closes the stream: the server stops generating
                progress()
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
                        add_delta(calls, by_index, piece)
                    streamed = delta.content or "".join(
                        (p.function.arguments or "") if p.function else ""
                        for p in delta.tool_calls or []
                    )
                    if partial is not None:
                        partial.append(streamed)
                    degenerate = guard.feed(streamed)
        latency = time.perf_counter() - t0
        if degenerate is None:
            self._check_whole("".join(text), calls, finish)
        else:
            finish = "degenerate"
        message = self._message("".join(text), [c.finish() for c in calls], tools)
        if partial is not None:
            partial.clear()
        if usage is not None:
            counted = usage_of(usage)
        else:
            prompt_tokens = await self._count_prompt_tokens(params)
            counted = Usage(
                input_tokens=prompt_tokens or 0,
                output_tokens=token_chunks,
                unreported=int(prompt_tokens is None),
            )
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
            stop_detail=degenerate,
        )

    def _check_whole(self, text: str, calls: Sequence[object], finish: str | None) -> None:
        """Raise when an answer is no answer: cut without a finish reason (transient: asking
        again may help), or finished with no text and no tool call. llama-cpp-python answers a
        prompt over its context window with HTTP 200 and an empty stream."""
        if finish is None:
            raise ProviderError(
                f"{self.id}: the stream ended without a finish reason (cut short)", transient=True
            )
        if not text.strip() and not calls and finish != "length":
            raise EmptyAnswer(
                f"{self.id}: empty answer (HTTP 200, no text and no tool call, finish_reason "
                f"{finish!r}); a prompt over the model's context window does this on llama.cpp"
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
            calls.append(tool_call(raw.id, function.name, function.arguments))
        self._check_whole(content, calls, choice.finish_reason if choice else None)
        counted = usage_of(response.usage)
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
            if self.constrained_tools:
                reply = parse_constrained_reply(text, tools, id_prefix=prefix)
                if reply is not None:
                    return reply
            text, calls = extract_text_tool_calls(text, tools, id_prefix=prefix)
        return Message(role="assistant", content=text, tool_calls=calls)

    def _endpoint(self) -> Endpoint:
        where = str(self._sdk.base_url if self._sdk is not None else self.base_url).rstrip("/")
        return Endpoint(self.provider, self.name, where, self.timeout_s)

    def _provider_error(self, exc: openai.APIError) -> ProviderError:
        endpoint = self._endpoint()
        if isinstance(exc, openai.APITimeoutError):
            return timeout_error(endpoint)
        if isinstance(exc, openai.APIConnectionError):
            return connection_error(endpoint, exc)
        if isinstance(exc, openai.APIStatusError):
            hint = f" (run `ollama pull {self.name}`)" if self.provider == "ollama" else ""
            return status_error(
                endpoint,
                exc.status_code,
                exc.body,
                exc.response.headers,
                fallback=exc.message,
                not_found_hint=hint,
            )
        # An error event inside a stream: the SDK gives its words, not its type.
        detail = error_detail(exc.body) or exc.message
        transient = any(w in detail.lower() for w in ("overload", "server", "rate", "capacity"))
        return event_error(endpoint, detail, transient=transient)


def _rate(tokens: int, latency: float, start: float | None) -> float | None:
    if not tokens or start is None or latency - start <= 0:
        return None
    return tokens / (latency - start)


def chat_options(provider: ProviderConfig, *, context_tokens: int | None = None) -> dict[str, Any]:
    """The `OpenAIChatModel` keyword arguments a provider's config sets (request parameters,
    output cap, context window, constrained tool calls); `context_tokens` is the window when
    the provider names none."""
    return {
        "request_params": dict(provider.request_params),
        "output_cap": provider.max_output_tokens,
        "context_tokens": provider.context_tokens or context_tokens,
        "constrained_tools": provider.constrained_tools,
        "tool_format": provider.tool_format,
    }
