"""Request-rate limits: a `RateLimiter` spaces request starts evenly (60/rpm seconds apart, no
bursts saved up while idle), and `RateLimitedModel` applies any `Pacer` to a Model — the local
limiter, or a client of a scheduler in another process (evals/run/ray_executor.py). The wait is
added to the request's `wait_s`, so reports keep waiting apart from model time, and the running
agent's wall-clock deadline moves back by the same time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from bakeoff.models.base import Model
from bakeoff.models.guards import not_counted
from bakeoff.types import Completion, Message, ToolSpec


class Pacer(Protocol):
    """Reserves the start of one request and says how long to wait for it."""

    async def reserve(self) -> float:
        """Seconds from now until the reserved start (0: start now)."""
        ...


class RateLimiter:
    """At most `rpm` request starts per minute, spaced evenly; shared by all callers.
    `clock` is injectable so the spacing can be tested without waiting."""

    def __init__(self, rpm: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rpm <= 0:
            raise ValueError("requests per minute must be positive")
        self.interval = 60.0 / rpm
        self._clock = clock
        self._next = 0.0

    def take(self) -> float:
        """Reserve the next free start; return the seconds from now until it. Never waits:
        reservation and bookkeeping happen in one step, so concurrent callers get distinct
        starts without a lock."""
        now = self._clock()
        start = max(now, self._next)
        self._next = start + self.interval
        return start - now

    async def reserve(self) -> float:
        return self.take()

    async def acquire(self) -> float:
        """Wait for a start slot; return seconds waited."""
        wait = self.take()
        if wait:
            not_counted(wait)  # queueing is not the model's time: the run's clock waits too
            await asyncio.sleep(wait)
        return wait


class RateLimitedModel:
    """A Model whose requests each wait for a start reserved from `pacer`."""

    def __init__(self, inner: Model, pacer: Pacer) -> None:
        self.inner = inner
        self.pacer = pacer
        self.id = inner.id
        self.provider = inner.provider
        self.name = inner.name
        self.tool_format = inner.tool_format
        self.ping_timeout_s = getattr(inner, "ping_timeout_s", None)

    async def start(self) -> float:
        return await self.inner.start()

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def ping(self) -> Completion | None:
        return await self.inner.ping()  # one probe is no load worth spacing out

    async def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        *,
        max_output_tokens: int | None = None,
    ) -> Completion:
        waited = await self.pacer.reserve()
        if waited:
            not_counted(waited)  # queueing is not the model's time: the run's clock waits too
            await asyncio.sleep(waited)
        completion = await self.inner.complete(messages, tools, max_output_tokens=max_output_tokens)
        completion.timing.wait_s += waited
        return completion
