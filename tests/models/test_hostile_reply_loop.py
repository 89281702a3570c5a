"""A hostile megabyte from a model never stalls the other trials (issue 22 item 7): while the
OpenAI-format adapter reads and parses it (text tool calls, then the blocks format), another
coroutine keeps its 5 ms ticks. Through a real loopback server and the official SDK.

Measured (2-core box, 3 runs each, longest stall of the loop / whole request): parsed on the
loop 8-44 ms / 120-310 ms; parsed in `asyncio.to_thread` 33-60 ms / 200-340 ms, worse: the
parsers are C regex calls that hold the GIL, so a thread frees the loop of nothing and adds the
GIL hand-offs. They stay on the loop; what keeps it responsive is that they are linear."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from bakeoff.models.base import RetryPolicy
from bakeoff.types import Message

from .wire_servers import WireServer, llamacpp_model, openai_said

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from bench_parsers import TOOLS, hostile_replies

TICK_S = 0.005
MAX_GAP_S = 0.5
"""Longest the loop may stall: ten times the worst measured, far below the seconds of a
quadratic parse (a 100 KB reply once froze every trial for 23 s)."""


async def test_another_coroutine_keeps_ticking_while_a_hostile_megabyte_is_read() -> None:
    reply = hostile_replies(1_000_000)["unclosed markup"]
    gaps: list[float] = []

    async def tick() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(TICK_S)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    with WireServer() as server:
        server.add(openai_said(reply))
        model = llamacpp_model(server.url, RetryPolicy(max_retries=0), tool_format="blocks")
        ticker = asyncio.create_task(tick())
        try:
            done = await model.complete([Message(role="user", content="go")], TOOLS)
        finally:
            ticker.cancel()
            await model.aclose()
    assert done.message.content  # it stayed text: nothing in it is a call
    assert gaps  # it ticked while the request ran
    assert max(gaps) < MAX_GAP_S, f"the loop stalled {max(gaps) * 1000:.0f} ms"
