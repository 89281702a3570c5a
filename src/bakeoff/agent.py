"""The nano agent: a loop of model turns and tool calls in one workspace, under limits (turns,
output tokens per request, wall time, cost). It never knows which provider it talks to, never
hangs, and always returns an AgentResult — a hit limit or a provider failure is a recorded stop
reason, not an exception. Only cancellation (Ctrl-C) propagates. The loop reads as
mini-swe-agent's, `run → step → query → execute` (`_Run`), limits checked in `query`; what small
models taught it is a named heuristic each (`runaway`, `no_attempt`, `echoes_tool_output`,
`repeats_last_turn`, `stuck`). The model's tool format (`bakeoff.models.tool_format`: the API's
tool calls, or fenced blocks for small local models) gives the system prompt and the opening
message and may ask for a last look before a final answer; the agent never asks which format it
is. The wall clock counts only the model's time (`guards.WallClock`): not a request's wait for
its turn under a rate limit, nor a failed try and its back-off (`wait_time_s`); a provider
silent when time runs out gets until its own timeout, so a hung one ends the run as
`provider_error`, and `timeout` means the model was producing or its tools running. A reply
that degenerates or hits the output cap without a tool call stops the run as `runaway`; on
timeout the reply still streaming is kept at the end of the transcript."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bakeoff.agent_config import AgentConfig as AgentConfig
from bakeoff.errors import EmptyAnswer, LimitExceeded, ProviderError, ToolError
from bakeoff.models.base import Model
from bakeoff.models.guards import guarded_run
from bakeoff.models.text_tools import only_function_markup
from bakeoff.sandbox import use_sandbox
from bakeoff.tools import READ_TOOLS, ToolBox
from bakeoff.types import (
    INFRASTRUCTURE_4XX,
    AgentResult,
    Completion,
    Message,
    StopReason,
    total_cost,
)
from bakeoff.workspace import Workspace

MAX_CALLS_PER_TURN = 16
"""Tool calls run from one model reply; a degenerate reply listing hundreds is cut here."""


class _NoAttempt(Exception):
    """The model ended without trying the task (see `no_attempt`)."""


_TEMPLATE_MARKUP = re.compile(r"</?(?:tools|tool_call|tool_response)>")
_FENCE_OPENING = re.compile(r"```[\w-]*")


def _unwrapped(text: str) -> str:
    """`text` (stripped) without the fence or `<tool_call>` tag around it, if any. By hand,
    not by a pattern: a lazy group before trailing blanks backtracks over every blank for
    every character (a 1 MB reply took minutes)."""
    if text.startswith("<tool_call>"):
        body = text[len("<tool_call>") :]
    elif opening := _FENCE_OPENING.match(text):
        body = text[opening.end() :]
    else:
        return text
    body = body.rstrip()
    for closing in ("```", "</tool_call>"):
        if body.endswith(closing):
            body = body[: -len(closing)]
            break
    return body.strip()


def no_attempt(answer: str, tool_calls: int) -> str | None:
    """Why a final answer is no attempt at the task, or None when it is one: an answer that
    is itself a tool call written as text (`{"name": ..., "arguments": ...}`, bare, fenced or
    tagged; a tool that exists or not: either way nothing ran), or no answer (nothing, or only
    tool-call markup such as `<tools>{}</tools>`) and no tool call."""
    text = answer.strip()
    if not _TEMPLATE_MARKUP.sub("", text).strip(" \t\r\n{}[]"):
        # Nothing, or only the chat template's markup echoed back (`<tools></tools>`, from
        # Qwen2.5-Coder-1.5B): no answer.
        return None if tool_calls else "no answer and no tool call: the model did nothing"
    if markup := only_function_markup(text):
        listed = ", ".join(sorted(set(markup)))
        return f"the final answer is a tool call written as text ({listed}), not an answer"
    try:
        value = json.loads(_unwrapped(text))
    except (ValueError, RecursionError):  # RecursionError: a reply nested past the decoder
        return None
    calls = value if isinstance(value, list) else [value]
    if calls and all(
        isinstance(c, dict)
        and isinstance(c.get("name"), str)
        and ("arguments" in c or "parameters" in c)
        for c in calls
    ):
        names = ", ".join(sorted({c["name"] for c in calls}))
        return f"the final answer is a tool call written as text ({names}), not an answer"
    return None


def runaway(completion: Completion) -> str | None:
    """Why a reply is a runaway generation, or None: its stream degenerated into repetition,
    or it hit the output cap with no tool call (a cut answer is no answer). Small local models
    repeat one line until the cap (issue 12's guards: `models.guards.RepetitionGuard`)."""
    if completion.stop_reason == "degenerate":
        return completion.stop_detail or "degenerate output"
    if completion.stop_reason == "length" and not completion.message.tool_calls:
        tokens = completion.timing.output_tokens
        return f"the reply hit the output cap ({tokens} tokens) without a tool call"
    return None


REPEATED = (
    "not run: your previous turn made exactly these calls and nothing has changed since; "
    "their results are above. Take the next step, or give your final answer if the task is done."
)


def repeats_last_turn(transcript: list[Message]) -> bool:
    """Whether the last reply asks for exactly the calls (tools and arguments, in order) of the
    reply before it: the workspace is as those left it, so they would only do the same again.
    Small models loop like this until the turn limit (Qwen2.5-Coder-1.5B rewrote one correct
    file six times); they are told instead, and the calls are not run."""
    replies = (m.tool_calls for m in reversed(transcript) if m.role == "assistant")
    last, before = next(replies, []), next(replies, None)
    if not last or before is None:
        return False
    return [(c.name, c.arguments, c.malformed) for c in last] == [
        (c.name, c.arguments, c.malformed) for c in before
    ]


MAX_SAME_WRITES = 3
"""A run asking for the same write (file and content) this many times is stuck, and stops."""


def stuck(reply: Message, writes: Counter[str]) -> str | None:
    """Why the run is stuck, or None: `reply` asks, for the `MAX_SAME_WRITES`th time in the run,
    for a write it asked for before (counted in `writes`). Refusing a repeat only when it comes
    right after itself did not end it: Qwen2.5-Coder-1.5B alternated one unchanged file with
    an echo of the refusal until the 300 s wall."""
    for call in reply.tool_calls:
        if call.name in ("write_file", "edit_file"):
            key = json.dumps([call.name, call.arguments], sort_keys=True)
            writes[key] += 1
            if writes[key] >= MAX_SAME_WRITES:
                path = call.arguments.get("path")
                return f"the model asked for the same {call.name} of {path} {writes[key]} times"
    return None


ECHOED = (
    "That reply only repeats a tool's output (or imitates one); it is not an answer and changed "
    "nothing. Take the next step with a tool call, or give your final answer."
)
MAX_ECHO_NOTES = 2
"""Replies echoing a tool's output answered with `ECHOED` in one run; the next one is taken as
the final answer (and graded as such)."""


LOOKS = frozenset(spec.name for spec in READ_TOOLS)


def echoes_tool_output(answer: str, transcript: list[Message]) -> bool:
    """Whether a reply with no tool call only plays the tool's part: it opens with the chat
    template's `<tool_response>` tag, or it is most of the last tool result again, when that
    result was an error or what a look showed (Qwen2.5-Coder-1.5B answered with the file it had
    just read, or with the error it had just been given). Repeating a write's report ("Created
    a.txt (22 bytes)") is a fair final answer; quoting part of a file is an answer too."""
    text = answer.strip()
    if text.startswith("<tool_response>"):
        return True
    last = next((m for m in reversed(transcript) if m.role == "tool"), None)
    if last is None or not (last.is_error or last.name in LOOKS):
        return False
    shown = last.content.strip()
    return len(shown) >= 20 and text.startswith(shown[:60]) and len(text) >= 0.8 * len(shown)


async def run_agent(
    prompt: str,
    model: Model,
    workspace: Path | str,
    config: AgentConfig | None = None,
    *,
    on_turn: Callable[[AgentResult], None] | None = None,
) -> AgentResult:
    """Run the nano agent on `prompt` in `workspace` until it answers or a limit stops it."""
    config = config or AgentConfig()
    commands = config.allow_commands and not config.read_only
    sandboxed = use_sandbox() if commands else True
    tools = ToolBox(
        Workspace(workspace, allow_git_writes=config.allow_git_writes, protected=config.protected),
        allow_commands=commands and (sandboxed or config.unsafe_no_sandbox),
        read_only=config.read_only,
        command_timeout_s=config.command_timeout_s,
        sandboxed=sandboxed,
        network=config.allow_network,
    )
    out = AgentResult(
        ok=False, answer="", model=model.id, provider=model.provider, stop_reason="error"
    )

    def stop(reason: StopReason, error: str | None = None) -> None:
        out.stop_reason, out.error, out.ok = reason, error, reason == "completed"

    out.sandboxed = sandboxed or not config.unsafe_no_sandbox
    system = model.tool_format.system_prompt(config.system_prompt, tools.specs)
    out.transcript = [
        Message(role="system", content=system),
        Message(role="user", content=prompt),
    ]
    t0 = time.perf_counter()
    partial: list[str] = []
    try:
        out.warmup_s = await model.start()
        t0 = time.perf_counter()
        async with asyncio.timeout(config.timeout_s) as wall_clock:
            # Inside the wall clock: a format may read the workspace to open with (blocks).
            opening = await model.tool_format.opening(prompt, tools)
            out.transcript[1] = Message(role="user", content=opening)
            with guarded_run(wall_clock) as partial:
                out.answer = await _Run(out, model, tools, config, on_turn).run()
        stop("completed")
    except LimitExceeded as exc:
        stop(exc.reason, str(exc))  # type: ignore[arg-type]
    except _NoAttempt as exc:
        stop("no_attempt", str(exc))
    except TimeoutError:
        if "".join(partial).strip():  # the reply in flight, cut short: kept for the record
            out.transcript.append(Message(role="assistant", content="".join(partial)))
        stop("timeout", f"wall-clock limit of {config.timeout_s:g} s reached")
    except EmptyAnswer as exc:
        stop("rejected", str(exc))
    except ProviderError as exc:
        rejected = exc.status is not None and 400 <= exc.status < 500
        rejected = rejected and exc.status not in INFRASTRUCTURE_4XX
        stop("rejected" if rejected else "provider_error", str(exc))
    except Exception as exc:  # a bug in an adapter must not take a whole bake-off down
        # Labelled as bakeoff's own: contestant bytes reach the tools as ToolErrors, so what
        # lands here is an adapter's or the loop's bug (an error, counted and shown).
        stop("internal", f"internal error (a bakeoff bug): {type(exc).__name__}: {exc}")
    finally:
        out.duration_s = time.perf_counter() - t0
        if not out.answer:
            out.answer = next(
                (m.content for m in reversed(out.transcript) if m.role == "assistant"), ""
            )
    return out


class _Run:
    """One run's loop: `run` steps to a final answer; a `step` is a `query` (limits checked),
    then its calls `execute`d or its answer weighed. Stops are raised, for `run_agent`."""

    def __init__(
        self,
        out: AgentResult,
        model: Model,
        tools: ToolBox,
        config: AgentConfig,
        on_turn: Callable[[AgentResult], None] | None,
    ) -> None:
        self.out, self.model, self.tools, self.config = out, model, tools, config
        self.on_turn = on_turn
        self.known_cost = 0.0  # the cap still holds once one request's cost is unknown
        self.echo_notes = 0
        self.writes: Counter[str] = Counter()  # each write asked for, for `stuck`

    async def run(self) -> str:
        """The final answer."""
        while (answer := await self.step()) is None:
            pass
        return answer

    async def step(self) -> str | None:
        """One turn: the final answer, or None when the run goes on."""
        reply = await self.query()
        if not reply.tool_calls:
            return self.weigh(reply)
        await self.execute(reply)
        return None

    async def query(self) -> Message:
        """The model's next reply, recorded; raises `LimitExceeded` when a limit stops the run."""
        out, config = self.out, self.config
        if out.turns >= config.max_turns:
            raise LimitExceeded(
                "max_turns", f"stopped after {config.max_turns} turns without a final answer"
            )
        # Between turns, other trials run: zero-latency (scripted) models interleave, and
        # finished trials reach the store while others still work.
        await asyncio.sleep(0)
        completion = await self.model.complete(
            out.transcript, self.tools.specs, max_output_tokens=config.max_output_tokens
        )
        _count(out, completion)
        self.known_cost += completion.cost_usd or 0.0
        if self.on_turn is not None:
            self.on_turn(out)
        if config.max_cost_usd is not None and self.known_cost >= config.max_cost_usd:
            raise LimitExceeded("cost_limit", f"cost cap of ${config.max_cost_usd:g} reached")
        if (why := runaway(completion)) is not None:
            raise LimitExceeded("runaway", why)
        return completion.message

    def weigh(self, reply: Message) -> str | None:
        """A reply with no tool call: the final answer, or None when the model is told
        something first (that it echoed a tool; what its format asks before an answer).
        Raises `_NoAttempt` when the answer is no attempt at the task."""
        transcript = self.out.transcript
        if self.echo_notes < MAX_ECHO_NOTES and echoes_tool_output(reply.content, transcript[:-1]):
            self.echo_notes += 1
            transcript.append(Message(role="user", content=ECHOED))
            return None
        if (why := no_attempt(reply.content, self.out.tool_calls)) is not None:
            raise _NoAttempt(why)
        if (review := self.model.tool_format.review(transcript, self.tools.specs)) is not None:
            transcript.append(Message(role="user", content=review))
            return None
        return reply.content

    async def execute(self, reply: Message) -> None:
        """Run the reply's calls (a repeat of the last turn's, or past `MAX_CALLS_PER_TURN`,
        refused, the model told); raises `LimitExceeded` when the run is `stuck`."""
        again = repeats_last_turn(self.out.transcript)
        if (why := stuck(reply, self.writes)) is not None:
            raise LimitExceeded("runaway", why)
        for index, call in enumerate(reply.tool_calls):
            self.out.tool_calls += 1
            t = time.perf_counter()
            try:
                if index >= MAX_CALLS_PER_TURN:
                    raise ToolError(f"not run: at most {MAX_CALLS_PER_TURN} tool calls per reply")
                if again:
                    raise ToolError(REPEATED)
                text, failed = await self.tools.run(call), False
            except ToolError as exc:
                text, failed = f"Error: {exc}", True
            spent = time.perf_counter() - t
            self.out.tool_time_s += spent
            self.out.transcript.append(
                Message(
                    role="tool",
                    content=text,
                    tool_call_id=call.id,
                    name=call.name,
                    is_error=failed,
                    duration_s=spent,
                )
            )


def _count(out: AgentResult, completion: Completion) -> None:
    """One request added to the run's record: its reply, usage, cost and timings."""
    out.turns += 1
    out.usage = out.usage + completion.usage
    out.cost_usd = total_cost((out.cost_usd, completion.cost_usd))
    out.requests.append(completion.timing)
    out.model_time_s += completion.timing.latency_s
    out.wait_time_s += completion.timing.wait_s
    out.transcript.append(completion.message)
