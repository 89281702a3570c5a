"""The scripted model `script:PATH`: replays a JSON file of turns in order at zero cost, so
users can test their own tasks and we can drive the whole system end to end offline.

The file is a list of turns, each `{"text": "..."}` and/or `{"tool_calls": [{"name": ...,
"arguments": {...}}]}`, with optional `"delay_s"` (simulated latency) and `"usage"` (token counts
to report). It may instead be `{"scripts": [{"prompt_contains": "...", "turns": [...]}, ...]}`,
which picks the first script whose text occurs in the first user message (a script without
`prompt_contains` matches anything) — one scripted contestant can then run a whole suite.
An entry may hold `"turn_sets": [[...], [...]]` instead of `"turns"`: the k-th conversation
with the same first user message plays set k mod the number of sets (repeats that differ);
later turns find their set by its first turn, so the sets' first turns must differ.
The turn to play is the number of assistant messages already in the conversation, so one
instance serves any number of concurrent runs. Past the last turn it answers with empty text.
The file must be a regular file of at most `MAX_SCRIPT_BYTES` (`bakeoff.user_files`), checked
whole when the model is made: a wrong shape is a `ConfigError` naming the file and the turn."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bakeoff.errors import ConfigError
from bakeoff.models.base import ModelAdapter, RetryPolicy
from bakeoff.types import Completion, Message, RequestTiming, ToolCall, ToolSpec, Usage
from bakeoff.user_files import MAX_SCRIPT_BYTES, read_regular_file

MAX_DELAY_S = 3600
"""The longest simulated latency a turn may ask for."""


def _zero_cost(usage: Usage, seconds: float) -> float:
    return 0.0


def _check_turns(path: Path, turns: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(turns, list):
        raise ConfigError(f"{path}: {where} must be a list of turns")
    for i, turn in enumerate(turns):
        at = f"{path}: {where}[{i}]"
        if not isinstance(turn, dict) or not ({"text", "tool_calls"} & set(turn)):
            raise ConfigError(f"{at} needs 'text' and/or 'tool_calls'")
        if not isinstance(turn.get("text", ""), str):
            raise ConfigError(f"{at}.text must be a string")
        calls = turn.get("tool_calls", [])
        if not isinstance(calls, list):
            raise ConfigError(f"{at}.tool_calls must be a list")
        for j, call in enumerate(calls):
            if not isinstance(call, dict) or not isinstance(call.get("name"), str):
                raise ConfigError(f"{at}.tool_calls[{j}] needs a 'name'")
            if not isinstance(call.get("arguments", {}), dict):
                raise ConfigError(f"{at}.tool_calls[{j}].arguments must be an object")
        delay = turn.get("delay_s", 0)
        if not isinstance(delay, int | float) or not 0 <= delay <= MAX_DELAY_S:
            raise ConfigError(f"{at}.delay_s must be a number of seconds, 0 to {MAX_DELAY_S}")
        try:
            Usage.model_validate(turn.get("usage", {}))
        except ValidationError:
            raise ConfigError(f"{at}.usage must map token kinds to counts") from None
    return turns


def _turn_sets(path: Path, entry: dict[str, Any], where: str) -> list[list[dict[str, Any]]]:
    if "turn_sets" not in entry:
        return [_check_turns(path, entry.get("turns"), f"{where}.turns")]
    raw = entry["turn_sets"]
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{path}: {where}.turn_sets must be a non-empty list of turn lists")
    sets = [_check_turns(path, s, f"{where}.turn_sets[{i}]") for i, s in enumerate(raw)]
    firsts = [_first_turn_of(s) for s in sets]
    if len(set(firsts)) < len(firsts):
        raise ConfigError(f"{path}: {where}.turn_sets must differ in their first turn")
    return sets


def _first_turn(text: str, calls: Sequence[tuple[str, Any]]) -> str:
    return json.dumps([text, [list(c) for c in calls]], sort_keys=True)


def _first_turn_of(turns: Sequence[dict[str, Any]]) -> str:
    turn = turns[0] if turns else {}
    calls = [(c["name"], c.get("arguments", {})) for c in turn.get("tool_calls", [])]
    return _first_turn(turn.get("text", ""), calls)


class ScriptedModel(ModelAdapter):
    """Replays a script; stateless between calls but for the count of conversations that
    picks a turn set. `provider` is the configured provider it is
    reached through (a `kind = "script"` table of any name), so its id, limits and records are
    that provider's."""

    def __init__(self, path: str | Path, provider: str = "script") -> None:
        super().__init__(provider, str(path), cost_fn=_zero_cost, retry=RetryPolicy(0))
        self.path = Path(path)
        raw = read_regular_file(
            self.path, limit=MAX_SCRIPT_BYTES, what="script file", error=ConfigError
        )
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise ConfigError(f"{self.path}: not UTF-8 text") from None
        except (json.JSONDecodeError, RecursionError) as exc:
            raise ConfigError(f"{self.path}: not valid JSON: {exc}") from None
        self.scripts: list[tuple[str | None, list[list[dict[str, Any]]]]] = []
        self._started: dict[tuple[int, str], int] = {}  # (entry, prompt) -> conversations
        if isinstance(data, dict) and "scripts" in data:
            if not isinstance(data["scripts"], list):
                raise ConfigError(f"{self.path}: 'scripts' must be a list")
            for k, entry in enumerate(data["scripts"]):
                if not isinstance(entry, dict):
                    raise ConfigError(f"{self.path}: scripts[{k}] must be an object")
                needle = entry.get("prompt_contains")
                if needle is not None and not isinstance(needle, str):
                    raise ConfigError(f"{self.path}: scripts[{k}].prompt_contains: a string")
                self.scripts.append((needle, _turn_sets(self.path, entry, f"scripts[{k}]")))
        else:
            self.scripts.append((None, [_check_turns(self.path, data, "the top level")]))

    async def ping(self) -> Completion | None:
        """Always reachable: the script was read and checked when the model was made."""
        return None

    def _turns_for(self, messages: Sequence[Message]) -> list[dict[str, Any]]:
        prompt = next((m.content for m in messages if m.role == "user"), "")
        for k, (needle, sets) in enumerate(self.scripts):
            if needle is None or needle in prompt:
                if len(sets) == 1:  # nothing to pick: the only set, whatever was played
                    return sets[0]
                first = next((m for m in messages if m.role == "assistant"), None)
                if first is None:  # a new conversation takes the next set
                    n = self._started.get((k, prompt), 0)
                    self._started[(k, prompt)] = n + 1
                    return sets[n % len(sets)]
                played = _first_turn(
                    first.content, [(c.name, c.arguments) for c in first.tool_calls]
                )
                return next((s for s in sets if _first_turn_of(s) == played), sets[0])
        return []

    async def _request(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        max_output_tokens: int | None,
    ) -> Completion:
        t0 = time.perf_counter()
        turns = self._turns_for(messages)
        index = sum(1 for m in messages if m.role == "assistant")
        turn = turns[index] if index < len(turns) else {"text": ""}
        if turn.get("delay_s"):
            await asyncio.sleep(float(turn["delay_s"]))
        calls = [
            ToolCall(id=f"call_{index}_{j}", name=c["name"], arguments=c.get("arguments", {}))
            for j, c in enumerate(turn.get("tool_calls", []))
        ]
        usage = Usage.model_validate(turn.get("usage", {}))
        latency = time.perf_counter() - t0
        return Completion(
            message=Message(role="assistant", content=turn.get("text", ""), tool_calls=calls),
            usage=usage,
            timing=RequestTiming(
                latency_s=latency, ttft_s=latency, output_tokens=usage.output_tokens
            ),
            stop_reason="tool_calls" if calls else "stop",
        )
