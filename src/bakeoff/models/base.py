"""The model interface every wire-format adapter implements, and the shared request wrapper
that retries transient provider errors with back-off and prices each completion.

An adapter subclasses `ModelAdapter` and implements `_request()`: one attempt, raising
`ProviderError(transient=True, retry_after_s=...)` for 429/5xx/timeouts, and calling
`guards.progress()` for each streamed chunk; an adapter whose requests fail by themselves after
`timeout_s` without a byte sets it, so a silent provider is not taken for a slow model (see
`guards.WallClock`). `ping()`, the preflight probe, is one chat request for one output token;
an adapter overrides it where reaching the model means more (the embedded server loads first)
or nothing (a script). Everything above the adapter (the agent, the runner) sees only `Model`."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from bakeoff.errors import ProviderError
from bakeoff.models.guards import in_flight, not_counted, progress
from bakeoff.models.tool_format import NATIVE, ToolFormat
from bakeoff.types import Completion, Message, ToolSpec, Usage

CostFn = Callable[[Usage, float], "float | None"]
"""(usage, request seconds) -> USD, or None when the price is unknown."""


@runtime_checkable
class Model(Protocol):
    """What the agent needs from a model."""

    id: str  # "provider:model"
    provider: str
    name: str
    tool_format: ToolFormat  # how its tools are offered and its replies read

    async def start(self) -> float:
        """Make the model ready (a local server loads its weights); return seconds spent."""
        ...

    async def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        *,
        max_output_tokens: int | None = None,
    ) -> Completion: ...

    async def aclose(self) -> None: ...

    async def ping(self) -> Completion | None:
        """Reach the model once with a real round trip — one chat request for one output
        token, without retries — and return it (its usage and cost count); raise
        `ProviderError` when it cannot be reached, refuses the key or fails to answer. A local
        model is loaded and made to generate; a scripted one returns None (nothing spent)."""
        ...


class RetryPolicy:
    """Exponential back-off with jitter, capped; honours the server's retry-after."""

    def __init__(self, max_retries: int = 4, base_s: float = 0.5, cap_s: float = 30.0) -> None:
        self.max_retries = max_retries
        self.base_s = base_s
        self.cap_s = cap_s

    def delay(self, attempt: int, retry_after_s: float | None) -> float:
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), self.cap_s)
        backoff: float = min(self.cap_s, self.base_s * 2**attempt)
        return backoff * (0.5 + random.random() / 2)


def unknown_cost(usage: Usage, seconds: float) -> float | None:
    return None


class ModelAdapter:
    """Base of the adapters: identity, retries, pricing. Subclasses implement `_request`."""

    tool_format: ToolFormat = NATIVE
    timeout_s: float | None = None
    """Seconds a request may go without a byte from the provider before it fails by itself
    (connect, first byte, between chunks); None: the adapter sets no such limit."""
    _sdk: Any = None
    """The adapter's SDK client, made on first use; `aclose()` closes it."""

    def __init__(
        self,
        provider: str,
        name: str,
        *,
        cost_fn: CostFn = unknown_cost,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.provider = provider
        self.name = name
        self.id = f"{provider}:{name}"
        self.cost_fn = cost_fn
        self.retry = retry or RetryPolicy()

    async def start(self) -> float:
        return 0.0

    ping_timeout_s: float | None = None
    """How long preflight waits for `ping` when that may take longer than its usual limit (a
    local model loading its weights); None: preflight's own limit."""

    async def ping(self) -> Completion | None:
        """One chat request for one output token, once, priced."""
        completion = await self._request([Message(role="user", content="Reply with OK.")], [], 1)
        completion.cost_usd = self.cost_fn(completion.usage, completion.timing.latency_s)
        return completion

    async def aclose(self) -> None:
        if self._sdk is not None:  # closing the SDK client frees its connection pool
            sdk, self._sdk = self._sdk, None
            await sdk.close()

    async def _request(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        max_output_tokens: int | None,
    ) -> Completion:
        raise NotImplementedError

    async def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        *,
        max_output_tokens: int | None = None,
    ) -> Completion:
        """One answer, asking again after a transient failure as the retry policy allows. A
        failed try and the pause after it are the provider's time: the running agent's wall
        clock moves back by it, and it is counted in the answer's `wait_s`. The error that
        ends the tries says how many there were."""
        waited = 0.0
        for attempt in range(self.retry.max_retries + 1):
            t0 = time.perf_counter()
            try:
                with in_flight(self.timeout_s):
                    completion = await self._request(messages, tools, max_output_tokens)
                progress()  # a whole answer past the deadline: the model's time ran out
            except ProviderError as exc:
                if not exc.transient or attempt == self.retry.max_retries:
                    if exc.transient and attempt:
                        exc.args = (f"{exc} ({attempt + 1} tries)",)
                    raise
                pause = self.retry.delay(attempt, exc.retry_after_s)
                not_counted(time.perf_counter() - t0 + pause)
                await asyncio.sleep(pause)
                waited += time.perf_counter() - t0
                continue
            completion.timing.retries = attempt
            completion.timing.wait_s += waited
            completion.cost_usd = self.cost_fn(completion.usage, completion.timing.latency_s)
            return completion
        raise AssertionError("unreachable")  # pragma: no cover
