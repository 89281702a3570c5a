"""Guards that keep a model request bounded and its output kept, for small local models most of
all: `RepetitionGuard` spots a degenerate stream (the same text repeated over and over) so the
adapter stops it early instead of running to the output cap; `fit_context` trims old tool
output (and old file contents sent as tool arguments) from a request that would not fit the
model's context window, leaving a note to the model in their place; `guarded_run` lets the agent
keep the text of a request still streaming when the run's wall clock runs out, and lets a
request queueing for its turn (`not_counted`) push that wall clock back by the time it waits."""

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


_PARTIAL: ContextVar[list[str] | None] = ContextVar("bakeoff_partial_reply", default=None)
_CLOCK: ContextVar[asyncio.Timeout | None] = ContextVar("bakeoff_wall_clock", default=None)


@contextmanager
def guarded_run(wall_clock: asyncio.Timeout | None = None) -> Iterator[list[str]]:
    """While open, in this task: adapters record the text of the request in flight into the
    yielded list (emptied when a request starts and when it returns whole), so what is left in
    it after a cancellation is the reply that was cut short; and `not_counted` pushes
    `wall_clock`'s deadline back."""
    pieces: list[str] = []
    partial, clock = _PARTIAL.set(pieces), _CLOCK.set(wall_clock)
    try:
        yield pieces
    finally:
        _CLOCK.reset(clock)
        _PARTIAL.reset(partial)


def partial_pieces() -> list[str] | None:
    """The list an adapter appends streamed text to, or None when nobody collects it."""
    return _PARTIAL.get()


def not_counted(seconds: float) -> None:
    """Move the running agent's wall-clock deadline `seconds` later: time about to be spent
    waiting for a turn (a rate limit's spacing), which is no time of the model's."""
    clock = _CLOCK.get()
    deadline = clock.when() if clock is not None else None
    if clock is not None and deadline is not None and seconds > 0:
        clock.reschedule(deadline + seconds)
