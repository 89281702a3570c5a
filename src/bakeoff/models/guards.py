"""Guards that keep a model request bounded and its output kept, for small local models most of
all: `RepetitionGuard` spots a degenerate stream (the same text repeated over and over) so the
adapter stops it early instead of running to the output cap; `fit_context` trims old tool
output (and old file contents sent as tool arguments) from a request that would not fit the
model's context window, leaving a note to the model in their place; `guarded_run` lets the agent
keep the text of a request still streaming when the run's wall clock runs out, and makes that
wall clock count only the model's time (`WallClock`): a request queueing for its turn or
failing and retried (`not_counted`) pushes it back, and a provider that goes silent past the
deadline gets until its own timeout to fail, an infrastructure error, not the model's timeout."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

CHARS_PER_TOKEN = 3.0
"""A cautious estimate (code and escaped JSON run 3-4 characters per token)."""


class RepetitionGuard:
    """Fed the streamed text piece by piece; says when its tail is one unit (up to
    `max_period` characters: a token, a line, a few lines) repeated at least `min_repeats`
    times over at least `min_chars` characters. Real code and prose never repeat exactly
    that long; a small model stuck in a loop does."""

    def __init__(
        self,
        *,
        min_chars: int = 600,
        min_repeats: int = 10,
        max_period: int = 400,
        check_every: int = 64,
    ) -> None:
        self.min_chars = min_chars
        self.min_repeats = min_repeats
        self.max_period = max_period
        self.check_every = check_every
        self._window = max(4096, 2 * max_period * min_repeats)
        self._text = ""
        self._unchecked = 0
        self.seen = 0

    def feed(self, piece: str) -> str | None:
        """Add `piece`; a description of the repetition once the stream has degenerated."""
        self.seen += len(piece)
        self._text = (self._text + piece)[-self._window :]
        self._unchecked += len(piece)
        if self._unchecked < self.check_every:
            return None
        self._unchecked = 0
        return self.check()

    def check(self) -> str | None:
        """The repetition at the tail of what was fed, described; None when there is none."""
        text = self._text
        end = len(text) - 1
        for period in range(1, min(self.max_period, len(text) // self.min_repeats) + 1):
            i = end
            while i - period >= 0 and text[i] == text[i - period]:
                i -= 1
            span = end - i + period
            if span >= self.min_chars and span >= period * self.min_repeats:
                unit = text[-period:]
                return (
                    f"degenerate output: {unit[:80]!r} repeated {span // period} times "
                    f"({span} characters) after {self.seen} characters"
                )
        return None


def estimate_tokens(value: Any) -> int:
    """Tokens a JSON-able value takes in a prompt, estimated from its length."""
    return int(len(json.dumps(value, ensure_ascii=False)) / CHARS_PER_TOKEN) + 1


TRIM_NOTE = (
    "[{n} characters of old tool output removed to keep the conversation inside the model's "
    "context; call the tool again if you still need it]"
)
_KEEP_CHARS = 300


def fit_context(messages: Sequence[dict[str, Any]], budget_tokens: int) -> list[dict[str, Any]]:
    """`messages` (chat-completions format) trimmed, oldest first, until their estimate fits
    `budget_tokens`: a tool result becomes a note saying how much was removed, and a long
    string argument of an earlier tool call (a whole file sent to write_file) is cut the same
    way. The system prompt, the user's messages and the newest message are never touched.
    When even that does not fit, the trimmed list is returned as it is."""
    out = [dict(m) for m in messages]
    excess = estimate_tokens(out) - budget_tokens
    for message in out[:-1]:
        if excess <= 0:
            break
        if message.get("role") == "tool":
            content = str(message.get("content") or "")
            if len(content) > _KEEP_CHARS:
                message["content"] = TRIM_NOTE.format(n=len(content))
                excess -= int((len(content) - len(message["content"])) / CHARS_PER_TOKEN)
        elif message.get("role") == "assistant" and message.get("tool_calls"):
            calls = [_trim_call(call) for call in message["tool_calls"]]
            saved = estimate_tokens(message["tool_calls"]) - estimate_tokens(calls)
            if saved > 0:
                message["tool_calls"] = calls
                excess -= saved
    return out


def _trim_call(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    try:
        arguments = json.loads(function.get("arguments") or "{}")
    except ValueError:
        return call
    if not isinstance(arguments, dict):
        return call
    trimmed = {
        key: TRIM_NOTE.format(n=len(value))
        if isinstance(value, str) and len(value) > _KEEP_CHARS
        else value
        for key, value in arguments.items()
    }
    return {**call, "function": {**function, "arguments": json.dumps(trimmed)}}


SILENCE_SLACK_S = 1.0
"""Added to a request's silence allowance (`WallClock`): the client's timeout fires a little
after the moment a chunk was last seen, and the loop may be busy."""


class WallClock:
    """A run's wall-clock limit over its `asyncio.Timeout`, counting only the model's time.

    `deadline` (event-loop time) is when the model's time runs out; `not_counted` moves it back
    by time that was not the model's: a turn waited for under a rate limit, a request that
    failed and the pause before its retry. While a request is in flight and the provider has
    sent nothing since it started or since its last chunk, the deadline waits for it: a chunk
    (or a whole answer) arriving after the deadline ends the run at once (`progress` raises
    `TimeoutError`: the model was producing when its time ran out), and a request that fails
    by the provider's own timeout is the provider's failure (retried, then the run's error).
    Tools run with no request in flight, so their time is always the model's. A request silent
    for longer than its client could let it be (three times the provider's timeout, for
    connect, send and read, plus `SILENCE_SLACK_S`) ends the run all the same: a server that
    keeps a connection alive without sending what the client counts cannot hold a run open."""

    def __init__(self, timeout: asyncio.Timeout) -> None:
        self._timeout = timeout
        self.deadline = timeout.when()
        self._silence_s: float | None = None  # the request in flight's allowance, if any
        self._heard = 0.0  # loop time it started or sent its last chunk
        self.closed = False

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def check(self) -> None:
        """Raise `TimeoutError` when the model's time has run out."""
        if self.deadline is not None and self._now() >= self.deadline:
            raise TimeoutError("the run's wall clock ran out")

    def not_counted(self, seconds: float) -> None:
        """Move the deadline `seconds` later."""
        if self.deadline is not None and seconds > 0:
            self.deadline += seconds
            self._arm()

    @contextmanager
    def request(self, silence_s: float | None) -> Iterator[None]:
        """Around one request that fails by itself after `silence_s` without a byte (None: it
        sets no such limit, and gets no grace). Raises `TimeoutError` when the run's time ran
        out before it started."""
        self.check()
        self._silence_s, self._heard = silence_s, self._now()
        self._arm()
        try:
            yield
        finally:
            self._silence_s = None
            self._arm()

    def progress(self) -> None:
        """A chunk of the request in flight arrived (or its whole answer); raises
        `TimeoutError` when it came after the deadline: the model was producing."""
        self.check()
        self._heard = self._now()
        self._arm()

    def _arm(self) -> None:
        if self.closed or self._timeout.expired():
            return  # firing, or the run is over: nothing left to move
        when = self.deadline
        if when is not None and self._silence_s is not None:
            when = max(when, self._heard + 3 * self._silence_s + SILENCE_SLACK_S)
        if when != self._timeout.when():
            self._timeout.reschedule(when)


_PARTIAL: ContextVar[list[str] | None] = ContextVar("bakeoff_partial_reply", default=None)
_CLOCK: ContextVar[WallClock | None] = ContextVar("bakeoff_wall_clock", default=None)


@contextmanager
def guarded_run(wall_clock: asyncio.Timeout | None = None) -> Iterator[list[str]]:
    """While open, in this task: adapters record the text of the request in flight into the
    yielded list (emptied when a request starts and when it returns whole), so what is left in
    it after a cancellation is the reply that was cut short; and `wall_clock` counts only the
    model's time (`WallClock`: `not_counted`, `in_flight`, `progress`)."""
    pieces: list[str] = []
    clock = WallClock(wall_clock) if wall_clock is not None else None
    partial, clock_token = _PARTIAL.set(pieces), _CLOCK.set(clock)
    try:
        yield pieces
    finally:
        if clock is not None:
            clock.closed = True
        _CLOCK.reset(clock_token)
        _PARTIAL.reset(partial)


def partial_pieces() -> list[str] | None:
    """The list an adapter appends streamed text to, or None when nobody collects it."""
    return _PARTIAL.get()


def not_counted(seconds: float) -> None:
    """Move the running agent's wall-clock deadline `seconds` later: time spent that is no time
    of the model's (waiting for a turn under a rate limit, a failed request and its back-off)."""
    clock = _CLOCK.get()
    if clock is not None:
        clock.not_counted(seconds)


@contextmanager
def in_flight(silence_s: float | None) -> Iterator[None]:
    """Around one request to the provider, which fails by itself after `silence_s` without a
    byte (see `WallClock.request`); nothing outside a run."""
    clock = _CLOCK.get()
    if clock is None:
        yield
        return
    with clock.request(silence_s):
        yield


def progress() -> None:
    """Say that a chunk of the request in flight arrived (or its whole answer): the model is
    producing. Raises `TimeoutError` when the running agent's time has run out."""
    clock = _CLOCK.get()
    if clock is not None:
        clock.progress()
