"""Request-rate limits per provider: a limiter spaces request starts evenly (60/rpm seconds
apart), and a wrapper applies it to any Model, adding the time spent waiting to the request's
`wait_s` so reports keep waiting apart from model time, and pushing the running agent's
wall-clock deadline back by the same time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from bakeoff.models.base import Model
from bakeoff.models.guards import not_counted
from bakeoff.types import Completion, Message, ToolSpec


class RateLimiter:
    """At most `rpm` request starts per minute, spaced evenly; shared by all callers."""

    def __init__(self, rpm: float) -> None:
        self.interval = 60.0 / rpm
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> float:
        """Wait for a start slot; return seconds waited."""
        async with self._lock:
            now = time.monotonic()
            wait = max(0.0, self._next - now)
            self._next = max(now, self._next) + self.interval
        if wait:
            not_counted(wait)  # queueing is not the model's time: the run's clock waits too
            await asyncio.sleep(wait)
        return wait


class RateLimitedModel:
    """A Model whose requests go through a RateLimiter."""

    def __init__(self, inner: Model, limiter: RateLimiter) -> None:
        self.inner = inner
        self.limiter = limiter
        self.id = inner.id
        self.provider = inner.provider
        self.name = inner.name
        self.local = inner.local

    async def start(self) -> float:
        return await self.inner.start()

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def ping(self) -> None:
        await self.inner.ping()  # one probe is no load worth spacing out

    async def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        *,
        max_output_tokens: int | None = None,
    ) -> Completion:
        waited = await self.limiter.acquire()
        completion = await self.inner.complete(messages, tools, max_output_tokens=max_output_tokens)
        completion.timing.wait_s += waited
        return completion
