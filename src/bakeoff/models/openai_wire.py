"""The chat-completions wire shapes on their own: bakeoff messages out in that format, and in
from it tool calls assembled from stream deltas (arguments parsed leniently: models put raw
newlines in strings; text that is no JSON object is kept as `malformed`) and usage mapped into
`Usage` (reasoning counted once, as a part of output)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bakeoff.types import Message, ToolCall, ToolSpec, Usage


def openai_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """Tools in the chat-completions format."""
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def to_openai_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Bakeoff messages in the chat-completions format."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            out.append({"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.content})
        elif m.role == "assistant" and m.tool_calls:
            # Malformed arguments go back as "{}": servers that render them through a chat
            # template parse them, and the tool's error result already tells the model.
            # Omit empty content: llama-cpp-python's server rejects `content: null`.
            out.append(
                {
                    "role": "assistant",
                    **({"content": m.content} if m.content else {}),
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                        }
                        for c in m.tool_calls
                    ],
                }
            )
        else:
            out.append({"role": m.role, "content": m.content})
    return out


@dataclass
class PartialCall:
    id: str = ""
    name: str = ""
    arguments: str = ""

    def finish(self) -> ToolCall:
        return tool_call(self.id, self.name, self.arguments)


def add_delta(calls: list[PartialCall], by_index: dict[int, PartialCall], piece: Any) -> None:
    index: int | None = piece.index
    current = by_index.get(index) if index is not None else (calls[-1] if calls else None)
    # Some servers number every call 0 and tell them apart only by id.
    if current is None or (piece.id and current.id and piece.id != current.id):
        current = PartialCall()
        calls.append(current)
        if index is not None:
            by_index[index] = current
    current.id = piece.id or current.id
    function = piece.function
    if function is not None:
        if function.name and function.name != current.name:
            current.name += function.name
        current.arguments += function.arguments or ""


def tool_call(call_id: str | None, name: str, arguments: Any) -> ToolCall:
    call_id = call_id or f"call_{uuid.uuid4().hex[:12]}"
    if isinstance(arguments, dict):  # a few servers send an object, not its JSON text
        return ToolCall(id=call_id, name=name, arguments=arguments)
    raw = arguments or ""
    if not raw.strip():
        return ToolCall(id=call_id, name=name)
    try:
        parsed = json.loads(raw, strict=False)  # raw newlines inside strings, as models write
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        return ToolCall(id=call_id, name=name, malformed=raw)
    return ToolCall(id=call_id, name=name, arguments=parsed)


def usage_of(raw: Any) -> Usage:
    """The server's usage object as `Usage`; a missing one is one request `unreported`."""
    if raw is None or getattr(raw, "prompt_tokens", None) is None:
        return Usage(unreported=1)
    prompt_details = getattr(raw, "prompt_tokens_details", None)
    output_details = getattr(raw, "completion_tokens_details", None)
    reasoning = getattr(output_details, "reasoning_tokens", None) or 0
    return Usage(
        input_tokens=getattr(raw, "prompt_tokens", None) or 0,
        cached_tokens=getattr(prompt_details, "cached_tokens", None) or 0,
        output_tokens=max(getattr(raw, "completion_tokens", None) or 0, reasoning),
        reasoning_tokens=reasoning,
    )
