"""The MCP server keeps a nano agent's model open across calls: made once per id, never closed
under a running call, closed after its idle time and when the session ends. The models are
scripted ones wrapped to count how often they are made and closed (the embedded model is one
llama.cpp load per make, so each make a user waits for shows here)."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from mcp import Client
from mcp.types import TextContent

from bakeoff.config import BakeoffConfig
from bakeoff.errors import UnknownModelError
from bakeoff.mcp_models import OpenModels
from bakeoff.mcp_server import build_server
from bakeoff.models.registry import resolve_model
from bakeoff.models.tool_format import NATIVE
from bakeoff.types import Completion, Message, ToolSpec


class Counted:
    """A model (the `Model` protocol) that replays a script and counts its closes."""

    local = True
    tool_format = NATIVE

    def __init__(self, model_id: str, closes: list[str]) -> None:
        self.inner = resolve_model(model_id, BakeoffConfig())
        self.id, self.provider, self.name = self.inner.id, self.inner.provider, self.inner.name
        self.closes = closes
        self.events: list[str] = []

    async def settle(self) -> None:
        """As the embedded model's: wait until no abandoned generation runs."""
        self.events.append("settle")

    async def start(self) -> float:
        return await self.inner.start()

    async def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        *,
        max_output_tokens: int | None = None,
    ) -> Completion:
        self.events.append("complete")
        return await self.inner.complete(messages, tools, max_output_tokens=max_output_tokens)

    async def ping(self) -> None:
        await self.inner.ping()

    async def aclose(self) -> None:
        self.closes.append(self.id)
        await self.inner.aclose()


class Ledger:
    def __init__(self) -> None:
        self.made: list[str] = []
        self.closed: list[str] = []

    def make(self, model_id: str) -> Counted:
        model = Counted(model_id, self.closed)  # raises for an unknown id, before counting
        self.made.append(model_id)
        return model


async def eventually(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait (without blocking the loop) until `condition()` holds; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.fixture
def script(tmp_path: Path) -> str:
    path = tmp_path / "answer.json"
    path.write_text(json.dumps([{"text": "done", "delay_s": 0.3}]))
    return f"script:{path}"


async def test_a_model_is_made_once_and_closed_when_the_session_ends(
    tmp_path: Path, script: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the agents' default workspaces
    ledger = Ledger()
    models = OpenModels(ledger.make)
    server = build_server([tmp_path], BakeoffConfig(), models=models)
    async with Client(server) as client:
        for _ in range(3):
            result = await client.call_tool(
                "prompt_nano_agent", {"agentic_prompt": "say done", "model": script}
            )
            assert not result.is_error
            assert isinstance(result.content[0], TextContent)
            assert json.loads(result.content[0].text)["answer"] == "done"
        assert ledger.made == [script] and ledger.closed == []  # loaded once, still open
    assert ledger.closed == [script]  # the session ended: nothing is left loaded
    assert len(models) == 0


async def test_an_unknown_model_is_an_error_and_nothing_is_kept(tmp_path: Path) -> None:
    models = OpenModels(Ledger().make)
    with pytest.raises(UnknownModelError):
        models.model("nope")
    assert len(models) == 0


async def test_an_idle_model_is_closed_but_never_under_a_running_call(script: str) -> None:
    ledger = Ledger()
    models = OpenModels(ledger.make, idle_s=0.05)
    async with models.using(script) as model:
        # The call outlives the idle time several times over: the model stays open.
        reply = await model.complete([Message(role="user", content="x")], [])
        assert reply.message.content == "done" and ledger.closed == []
    await eventually(lambda: ledger.closed == [script])  # idle: memory returned
    async with models.using(script):
        assert ledger.made == [script, script]  # the next call loads it anew
    await models.aclose()
    assert ledger.closed == [script, script]


async def test_two_calls_at_once_share_one_model(script: str) -> None:
    ledger = Ledger()
    models = OpenModels(ledger.make, idle_s=0.05)

    async def call() -> str:
        async with models.using(script) as model:
            reply = await model.complete([Message(role="user", content="x")], [])
            return reply.message.content

    assert list(await asyncio.gather(call(), call())) == ["done", "done"]
    assert ledger.made == [script]
    await eventually(lambda: ledger.closed == [script])
    await models.aclose()
    assert ledger.closed == [script]  # closed once, not again at the end


async def test_each_use_first_waits_for_a_generation_left_running(script: str) -> None:
    # A call that timed out leaves the embedded server generating; the next call settles it
    # before its agent starts, so its wall clock never counts the CPU spent on the last one.
    models = OpenModels(Ledger().make)
    for _ in range(2):
        async with models.using(script) as model:
            await model.complete([Message(role="user", content="x")], [])
    counted = models.model(script)
    assert isinstance(counted, Counted)
    assert counted.events == ["settle", "complete", "settle", "complete"]
    await models.aclose()
