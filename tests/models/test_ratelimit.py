"""The request-rate limiter: starts spaced 60/rpm seconds apart, no burst saved up while idle,
distinct starts for concurrent callers, and the wait recorded apart from the model's time.
Spacing is checked on an injected clock; one test waits for real, with a generous margin."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from bakeoff.models.ratelimit import RateLimitedModel, RateLimiter
from bakeoff.models.scripted import ScriptedModel
from bakeoff.types import Message


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_starts_are_spaced_evenly() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rpm=30, clock=clock)  # one start every 2 s
    assert [limiter.take() for _ in range(4)] == [0.0, 2.0, 4.0, 6.0]
    clock.now += 3.0  # time passes: the queue ahead shrinks by as much
    assert limiter.take() == pytest.approx(5.0)


def test_an_idle_limiter_saves_up_no_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rpm=60, clock=clock)
    assert limiter.take() == 0.0
    clock.now += 600.0  # ten idle minutes are not 600 requests at once
    assert [limiter.take() for _ in range(3)] == [0.0, 1.0, 2.0]


async def test_concurrent_callers_get_distinct_starts() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rpm=120, clock=clock)
    waits = await asyncio.gather(*(limiter.reserve() for _ in range(50)))
    assert sorted(waits) == [pytest.approx(0.5 * i) for i in range(50)]


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(rpm=0)


async def test_a_limited_model_waits_its_turn_and_records_the_wait(tmp_path: Path) -> None:
    script = tmp_path / "s.json"
    script.write_text(json.dumps([{"text": "hi"}]))
    limited = RateLimitedModel(ScriptedModel(script), RateLimiter(rpm=600))  # 0.1 s apart
    ask = [Message(role="user", content="hello")]
    t0 = time.monotonic()
    replies = await asyncio.gather(*(limited.complete(ask, []) for _ in range(4)))
    elapsed = time.monotonic() - t0
    assert elapsed >= 0.3 * 0.9  # the fourth start is 0.3 s after the first
    waits = sorted(r.timing.wait_s for r in replies)
    assert waits == [pytest.approx(0.1 * i, abs=0.05) for i in range(4)]
    assert all(r.message.content == "hi" for r in replies)


async def test_an_uncapped_request_does_not_wait(tmp_path: Path) -> None:
    script = tmp_path / "s.json"
    script.write_text(json.dumps([{"text": "hi"}]))
    limiter = RateLimiter(rpm=60)
    assert await limiter.acquire() == 0.0  # the first start is now
    limited = RateLimitedModel(ScriptedModel(script), RateLimiter(rpm=60))
    reply = await limited.complete([Message(role="user", content="x")], [])
    assert reply.timing.wait_s == 0.0
