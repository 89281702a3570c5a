"""The scripted model `script:PATH`: replays a JSON file of turns in order at zero cost, so
users can test their own tasks and we can drive the whole system end to end offline.

The file is a list of turns, each `{"text": "..."}` and/or `{"tool_calls": [{"name": ...,
"arguments": {...}}]}`, with optional `"delay_s"` (simulated latency) and `"usage"` (token counts
to report). It may instead be `{"scripts": [{"prompt_contains": "...", "turns": [...]}, ...]}`,
which picks the first script whose text occurs in the first user message (a script without
`prompt_contains` matches anything) — one scripted contestant can then run a whole suite.
The turn to play is the number of assistant messages already in the conversation, so one
instance serves any number of concurrent runs. Past the last turn it answers with empty text."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bakeoff.errors import ConfigError
from bakeoff.models.base import ModelAdapter, RetryPolicy
from bakeoff.types import Completion, Message, RequestTiming, ToolCall, ToolSpec, Usage


def _zero_cost(usage: Usage, seconds: float) -> float:
    return 0.0


def _check_turns(path: Path, turns: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(turns, list):
        raise ConfigError(f"{path}: {where} must be a list of turns")
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or not ({"text", "tool_calls"} & set(turn)):
            raise ConfigError(f"{path}: {where}[{i}] needs 'text' and/or 'tool_calls'")
        for j, call in enumerate(turn.get("tool_calls", [])):
            if not isinstance(call, dict) or not isinstance(call.get("name"), str):
                raise ConfigError(f"{path}: {where}[{i}].tool_calls[{j}] needs a 'name'")
    return turns


class ScriptedModel(ModelAdapter):
    """Replays a script; stateless between calls."""

    def __init__(self, path: str | Path) -> None:
        super().__init__("script", str(path), cost_fn=_zero_cost, retry=RetryPolicy(0))
        self.path = Path(path)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"script file not found: {self.path}") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{self.path}: not valid JSON: {exc}") from None
        self.scripts: list[tuple[str | None, list[dict[str, Any]]]] = []
        if isinstance(data, dict) and "scripts" in data:
            for k, entry in enumerate(data["scripts"]):
                where = f"scripts[{k}].turns"
                turns = _check_turns(self.path, entry.get("turns"), where)
                self.scripts.append((entry.get("prompt_contains"), turns))
        else:
            self.scripts.append((None, _check_turns(self.path, data, "the top level")))

    async def ping(self) -> None:
        """Always reachable: the script was read and checked when the model was made."""

    def _turns_for(self, messages: Sequence[Message]) -> list[dict[str, Any]]:
        prompt = next((m.content for m in messages if m.role == "user"), "")
        for needle, turns in self.scripts:
            if needle is None or needle in prompt:
                return turns
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
