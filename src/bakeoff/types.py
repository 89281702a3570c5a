"""The data shapes that flow between the parts: messages, tool calls, usage, completions and
the record of one agent run. Pure data, no I/O; every shape serialises to JSON as it is."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant", "tool"]
ToolFormatName = Literal["native", "blocks"]
"""The name of a tool format, as a provider's config chooses it: the API's tool calls, or
fenced blocks in plain text (the formats: `bakeoff.models.tool_format`)."""


class ToolCall(BaseModel):
    """One call the model asked for. `arguments` is the parsed JSON object; when the model sent
    text that is not a JSON object, `arguments` is empty and `malformed` holds the raw text."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    malformed: str | None = None


class Message(BaseModel):
    """One entry of a conversation in a provider-neutral form."""

    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None  # for role == "tool": the call this answers
    name: str | None = None  # for role == "tool": the tool's name
    is_error: bool = False  # for role == "tool": the tool refused or failed
    duration_s: float | None = None  # for role == "tool": time spent running the tool


class ToolSpec(BaseModel):
    """A tool as offered to a model: name, description and JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


class Usage(BaseModel):
    """Tokens by kind. `input_tokens` counts every prompt token, cached ones included
    (`cached_tokens` and `cache_write_tokens` are parts of it); `output_tokens` counts every
    generated token, reasoning included (`reasoning_tokens` is a part of it), so reasoning is
    never counted twice. `unreported` counts the requests whose server reported no usage: their
    tokens are missing from (input) or only estimated in (output, one per streamed chunk) the
    counts, so a total with `unreported > 0` is a lower bound (shown as "≥ N"), and
    `nothing_known` when no request counted any input (every request sends a prompt, so a reported
    one always does)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    unreported: int = 0

    @property
    def known(self) -> bool:
        """Whether every request behind these counts reported its usage."""
        return self.unreported == 0

    @property
    def nothing_known(self) -> bool:
        """Whether nothing is known: some request reported no usage and none counted input."""
        return self.unreported > 0 and self.input_tokens == 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            unreported=self.unreported + other.unreported,
        )

    def public(self) -> dict[str, int | None]:
        """The four fields of the `agent --json` contract. When some request reported no usage,
        `unreported` (how many) is added and the counts are lower bounds; when nothing is
        known (`nothing_known`) they are null, never 0."""
        counts: dict[str, int | None] = {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }
        if self.known:
            return counts
        if self.nothing_known:
            counts = dict.fromkeys(counts)
        return {**counts, "unreported": self.unreported}


class RequestTiming(BaseModel):
    """Timing of one model request. `latency_s` is the whole request; `wait_s` is time spent
    before the try that answered was sent (waiting for a rate limit's turn, failed tries and
    the back-off after each)."""

    latency_s: float
    ttft_s: float | None = None
    output_tokens: int = 0
    output_tps: float | None = None
    retries: int = 0
    wait_s: float = 0.0


class Completion(BaseModel):
    """One model answer: the assistant message, its usage, cost and timing."""

    message: Message
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float | None = None  # None: the price is unknown
    timing: RequestTiming
    stop_reason: str | None = None
    """The server's finish reason ("stop", "length", "tool_calls"...), or "degenerate" when
    the adapter stopped a stream that kept repeating itself (`stop_detail` says what)."""
    stop_detail: str | None = None


StopReason = Literal[
    "completed",
    "max_turns",
    "timeout",
    "cost_limit",
    "rejected",
    "provider_error",
    "cancelled",
    "error",
    "no_attempt",
    "runaway",
    "internal",
]
"""Why a run stopped. `internal`: a bug in bakeoff or one of its adapters ended the run — an
error, labelled so that it is never taken for the provider's failure, nor hidden.
`no_attempt`: the model never tried the task — its final answer is itself a tool call written as text (a tool it has or not), or it ended with no answer and no tool call;
graded as a failure. `runaway`: a reply degenerated into repetition or hit the output cap
without a tool call — the model used up its allowance, graded like a timeout. `rejected`: the provider refused a request as invalid (a 4xx other than
auth, not-found and rate limits: a context overflow the model's own output caused) — the model's
doing, graded as a failure; `provider_error`: the infrastructure failed."""
INFRASTRUCTURE_4XX = frozenset({401, 402, 403, 404, 407, 408, 429})
"""Client errors that say nothing about the model: auth, payment, a wrong id, limits."""


class AgentResult(BaseModel):
    """Everything one nano-agent run produced. `to_public()` is the `agent --json` contract."""

    model_config = ConfigDict(extra="forbid")

    ok: bool
    answer: str
    model: str
    provider: str
    stop_reason: StopReason
    error: str | None = None
    turns: int = 0
    tool_calls: int = 0
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float | None = 0.0
    duration_s: float = 0.0
    model_time_s: float = 0.0
    tool_time_s: float = 0.0
    wait_time_s: float = 0.0
    warmup_s: float = 0.0  # a local model's load time, kept apart from answering
    requests: list[RequestTiming] = Field(default_factory=list)
    transcript: list[Message] = Field(default_factory=list)
    sandboxed: bool = True
    """False when run_command ran without the OS sandbox (--unsafe-no-sandbox)."""

    def to_public(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "answer": self.answer,
            "model": self.model,
            "provider": self.provider,
            "turns": self.turns,
            "tool_calls": self.tool_calls,
            "usage": self.usage.public(),
            "cost_usd": self.cost_usd,
            "duration_s": round(self.duration_s, 3),
            "error": self.error,
            "sandboxed": self.sandboxed,
        }


def total_cost(costs: Iterable[float | None]) -> float | None:
    """The sum of `costs` in USD, or None when any of them is None: one unknown price makes
    the total unknown, never a total that leaves it out. An empty sum is 0.0."""
    known: list[float] = []
    for cost in costs:
        if cost is None:
            return None
        known.append(cost)
    return math.fsum(known)
