"""Constrained tool calls for models that answer tools as text. A llama.cpp-based server (the
embedded model's llama-cpp-python server, llama-server) turns a JSON schema sent as
`response_format = {"type": "json_object", "schema": ...}` into a grammar the sampler must
follow, so every reply is exactly one JSON object: a call of an offered tool,
`{"name": TOOL, "arguments": {...}}` with arguments valid against that tool's schema (no other
keys). The final answer is a call too, of one more tool the model is shown, `final_answer`
(`{"name": "final_answer", "arguments": {"answer": "..."}}`): a model that answers tools in
JSON keeps to the shape it was trained on (with a separate `{"final_answer": ...}` object,
Qwen2.5-Coder-1.5B never left the calls: it rewrote a correct file until the turn limit). No
invented tool name, no broken JSON, no prose around a call. `constrained_request` is what the
adapter sends: the tools as usual plus `final_answer`, the schema, and a note on the reply
format in the system message (the model cannot see the schema); `parse_constrained_reply` reads
such a reply back."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

from bakeoff.models.openai_wire import openai_tools
from bakeoff.types import Message, ToolCall, ToolSpec

FINAL_ANSWER = "final_answer"
FINAL_ANSWER_TOOL = ToolSpec(
    name=FINAL_ANSWER,
    description="Finish: call this once the task is done, with your final answer.",
    parameters={
        "type": "object",
        "properties": {"answer": {"type": "string", "description": "Your final answer."}},
        "required": ["answer"],
    },
)
"""Offered only under constraints, where a final answer must be a call as well."""


def reply_schema(tools: Sequence[ToolSpec], *, allow_final: bool = True) -> dict[str, Any]:
    """The JSON schema every constrained reply follows: one call of an offered tool, or (when
    `allow_final`) a final answer. Objects are closed (`additionalProperties: false`), so no key
    is invented."""
    offered = [*tools, FINAL_ANSWER_TOOL] if allow_final else list(tools)
    return {
        "anyOf": [
            {
                "type": "object",
                "properties": {"name": {"const": t.name}, "arguments": _closed(t.parameters)},
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
            for t in offered
        ]
    }


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    closed = copy.deepcopy(schema)
    if closed.get("type") == "object":
        closed.setdefault("additionalProperties", False)
    return closed


REPLY_NOTE = (
    "\n\nEvery reply is exactly one tool call, as one JSON object: "
    '{"name": <tool name>, "arguments": <arguments object>}. As soon as the task is done, call '
    f'{FINAL_ANSWER} with your answer: {{"name": "{FINAL_ANSWER}", "arguments": {{"answer": '
    "<your final answer>}}. Look at the workspace before you answer. Do not repeat a call that "
    "already succeeded."
)
"""Added to the system message: the model cannot see the schema it is held to."""


def constrained_request(
    messages: list[dict[str, Any]], tools: Sequence[ToolSpec], *, first_only: bool = False
) -> dict[str, Any]:
    """Request fields for a constrained reply: the messages with the reply format added to the
    system message (one is put first when there is none), the tools as usual and
    `final_answer` (the model's chat template renders them as it was trained to), and the
    `response_format` carrying the schema. Until the model has made a call, the schema offers
    no final answer: it looks at the workspace before it answers (when the schema allowed it,
    Qwen2.5-Coder-1.5B answered 4 of the 5 quick tasks from thin air on its first reply).

    `first_only` (`constrained_tools = "first"`) holds only the replies until the model's first
    call: no note and no `final_answer` tool, so the request is the unconstrained one plus the
    schema, and the prompt the server has cached stays a prefix of every later request; once
    the model has called a tool, nothing is held (`{}`)."""
    if first_only:
        if has_called(messages):
            return {}
        return {
            "messages": messages,
            "tools": openai_tools(tools),
            "response_format": {
                "type": "json_object",
                "schema": reply_schema(tools, allow_final=False),
            },
        }
    messages = [dict(m) for m in messages]
    if messages and messages[0].get("role") == "system":
        messages[0]["content"] = str(messages[0].get("content") or "") + REPLY_NOTE
    else:
        messages.insert(0, {"role": "system", "content": REPLY_NOTE.lstrip()})
    return {
        "messages": messages,
        "tools": openai_tools([*tools, FINAL_ANSWER_TOOL]),
        "response_format": {
            "type": "json_object",
            "schema": reply_schema(tools, allow_final=has_called(messages)),
        },
    }


def has_called(messages: Sequence[dict[str, Any]]) -> bool:
    """Whether the model has made a tool call in `messages` (OpenAI wire form)."""
    return any(m.get("role") == "assistant" and m.get("tool_calls") for m in messages)


def parse_constrained_reply(
    text: str, tools: Sequence[ToolSpec], *, id_prefix: str
) -> Message | None:
    """The assistant message a constrained reply stands for: a tool call, or (a call of
    `final_answer`) the final answer as plain text. None when `text` is not one whole such object (a reply cut at the output
    cap, or a server that ignored the schema); the caller then reads it as free text."""
    try:
        value = json.loads(text, strict=False)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    name, arguments = value.get("name"), value.get("arguments")
    if set(value) != {"name", "arguments"} or not isinstance(name, str):
        return None
    if not isinstance(arguments, dict):
        return None
    if name == FINAL_ANSWER and isinstance(arguments.get("answer"), str):
        return Message(role="assistant", content=arguments["answer"])
    # An unknown name (the grammar rules it out; a server may ignore the schema) is still a
    # call: the agent's tools answer it with an error the model can correct.
    call = ToolCall(id=f"{id_prefix}0", name=name, arguments=arguments)
    return Message(role="assistant", tool_calls=[call])
