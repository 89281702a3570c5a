"""Constrained tool calls for models that answer tools as text. A llama.cpp-based server (the
embedded model's llama-cpp-python server, llama-server) turns a JSON schema sent as
`response_format = {"type": "json_object", "schema": ...}` into a grammar the sampler must
follow, so every reply is exactly one JSON object: a call of an offered tool,
`{"name": TOOL, "arguments": {...}}` with arguments valid against that tool's schema (no other
keys), or `{"final_answer": "..."}`. No invented tool name, no broken JSON, no prose around a
call. `constrained_request` is what the adapter sends: the tools as usual, the schema, and a
note on the reply format in the system message (the model cannot see the schema);
`parse_constrained_reply` reads such a reply back."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

from bakeoff.models.openai_wire import openai_tools
from bakeoff.types import Message, ToolCall, ToolSpec

FINAL_ANSWER = "final_answer"


def reply_schema(tools: Sequence[ToolSpec], *, allow_final: bool = True) -> dict[str, Any]:
    """The JSON schema every constrained reply follows: one call of an offered tool, or (when
    `allow_final`) a final answer. Objects are closed (`additionalProperties: false`), so no key
    is invented."""
    calls = [
        {
            "type": "object",
            "properties": {"name": {"const": t.name}, "arguments": _closed(t.parameters)},
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for t in tools
    ]
    final = {
        "type": "object",
        "properties": {FINAL_ANSWER: {"type": "string"}},
        "required": [FINAL_ANSWER],
        "additionalProperties": False,
    }
    return {"anyOf": [*calls, final] if allow_final else calls}


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    closed = copy.deepcopy(schema)
    if closed.get("type") == "object":
        closed.setdefault("additionalProperties", False)
    return closed


REPLY_NOTE = (
    "\n\nEvery reply is exactly one JSON object: a tool call, "
    '{"name": <tool name>, "arguments": <arguments object>}, or, as soon as the task is done, '
    f'{{"{FINAL_ANSWER}": <your final answer>}}. Your first reply is a tool call: look at the '
    "workspace before you answer. Do not repeat a call that already succeeded."
)
"""Added to the system message: the model cannot see the schema it is held to."""


def constrained_request(
    messages: list[dict[str, Any]], tools: Sequence[ToolSpec]
) -> dict[str, Any]:
    """Request fields for a constrained reply: the messages with the reply format added to the
    system message (one is put first when there is none), the tools as usual (the model's chat
    template renders them as it was trained to), and the `response_format` carrying the
    schema. Until the model has made a call, the schema offers no final answer: it looks at the
    workspace before it answers (unconstrained, Qwen2.5-Coder-1.5B answered 4 of the 5 quick
    tasks from thin air on its first reply)."""
    messages = [dict(m) for m in messages]
    if messages and messages[0].get("role") == "system":
        messages[0]["content"] = str(messages[0].get("content") or "") + REPLY_NOTE
    else:
        messages.insert(0, {"role": "system", "content": REPLY_NOTE.lstrip()})
    return {
        "messages": messages,
        "tools": openai_tools(tools),
        "response_format": {
            "type": "json_object",
            "schema": reply_schema(tools, allow_final=_has_called(messages)),
        },
    }


def _has_called(messages: Sequence[dict[str, Any]]) -> bool:
    return any(m.get("role") == "assistant" and m.get("tool_calls") for m in messages)


def parse_constrained_reply(
    text: str, tools: Sequence[ToolSpec], *, id_prefix: str
) -> Message | None:
    """The assistant message a constrained reply stands for: a tool call, or the final answer
    as plain text. None when `text` is not one whole such object (a reply cut at the output
    cap, or a server that ignored the schema); the caller then reads it as free text."""
    try:
        value = json.loads(text, strict=False)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    if set(value) == {FINAL_ANSWER} and isinstance(value[FINAL_ANSWER], str):
        return Message(role="assistant", content=value[FINAL_ANSWER])
    name, arguments = value.get("name"), value.get("arguments")
    if set(value) != {"name", "arguments"} or not isinstance(name, str):
        return None
    if not isinstance(arguments, dict):
        return None
    # An unknown name (the grammar rules it out; a server may ignore the schema) is still a
    # call: the agent's tools answer it with an error the model can correct.
    call = ToolCall(id=f"{id_prefix}0", name=name, arguments=arguments)
    return Message(role="assistant", tool_calls=[call])
