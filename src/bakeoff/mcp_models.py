"""The models one MCP server session keeps open between `prompt_nano_agent` calls, so the
embedded model is loaded (its llama.cpp server started) once, not on every call. `OpenModels`
makes each model once per id, on first use, and closes it when the session ends (`aclose`, from
the server's lifespan) or after `idle_s` without a call, so a local model's memory is returned
while the client sits idle (a cloud model's closed client costs only a new connection). A
model is never closed while a call uses it. A call that timed out can leave the embedded
model's server generating what nobody will read: each use first waits for it (`settle`), so
the next call's wall clock does not run while the CPU still works on the last one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from bakeoff.config import BakeoffConfig
from bakeoff.models.base import Model

log = logging.getLogger("bakeoff.mcp")

IDLE_S = 300.0
"""Seconds a model stays open without a call (the embedded model holds its weights in memory)."""


@dataclass
class _Open:
    model: Model
    users: int = 0
    idle: asyncio.Task[None] | None = None


class OpenModels:
    """Models by id, made by `make` (e.g. `resolve_model`) on first use and kept open."""

    def __init__(self, make: Callable[[str], Model], *, idle_s: float = IDLE_S) -> None:
        self._make = make
        self.idle_s = idle_s
        self._open: dict[str, _Open] = {}
        self._timers: set[asyncio.Task[None]] = set()

    @classmethod
    def resolving(cls, config: BakeoffConfig) -> OpenModels:
        """Models made by `resolve_model` with `config`, closed after `IDLE_S` idle."""
        from bakeoff.models.registry import resolve_model

        return cls(lambda model_id: resolve_model(model_id, config))

    @asynccontextmanager
    async def session(self, server: object) -> AsyncIterator[dict[str, Any]]:
        """The MCP server's lifespan: every model still open is closed when it ends."""
        try:
            yield {}
        finally:
            await self.aclose()

    def model(self, model_id: str) -> Model:
        """The open model of `model_id`, made now if there is none (raising what `make`
        raises: an unknown id or a missing key is the caller's error, and nothing is kept)."""
        entry = self._open.get(model_id)
        if entry is None:
            entry = self._open[model_id] = _Open(self._make(model_id))
            self._arm(model_id, entry)  # closed when idle even if no call ever uses it
        return entry.model

    @asynccontextmanager
    async def using(self, model_id: str) -> AsyncIterator[Model]:
        """The open model of `model_id`, not closed until the block ends and `idle_s` pass."""
        model = self.model(model_id)
        entry = self._open[model_id]
        if entry.idle is not None:
            entry.idle.cancel()
            entry.idle = None
        entry.users += 1
        try:
            settle = getattr(model, "settle", None)
            if settle is not None:
                await settle()
            yield model
        finally:
            entry.users -= 1
            if entry.users == 0 and self._open.get(model_id) is entry:
                self._arm(model_id, entry)

    def _arm(self, model_id: str, entry: _Open) -> None:
        entry.idle = asyncio.get_running_loop().create_task(self._close_when_idle(model_id, entry))
        self._timers.add(entry.idle)
        entry.idle.add_done_callback(self._timers.discard)

    async def _close_when_idle(self, model_id: str, entry: _Open) -> None:
        await asyncio.sleep(self.idle_s)
        if self._open.get(model_id) is entry and entry.users == 0:
            del self._open[model_id]  # a call from now on makes a new one
            await _close(entry.model)

    async def aclose(self) -> None:
        """Close every open model (the session is over), after any idle close under way; the
        next call makes them anew."""
        entries, self._open = list(self._open.values()), {}
        for entry in entries:
            if entry.idle is not None:
                entry.idle.cancel()
        if self._timers:  # idle closes already under way finish; waiting ones were cancelled
            await asyncio.gather(*self._timers, return_exceptions=True)
        for entry in entries:
            await _close(entry.model)

    def __len__(self) -> int:
        return len(self._open)


async def _close(model: Model) -> None:
    try:
        await model.aclose()
    except Exception:  # a failing close must not keep the other models open
        log.warning("closing %s failed", model.id, exc_info=True)
