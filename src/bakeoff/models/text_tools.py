"""Recovers tool calls that a model wrote as plain text instead of native tool calls. Small local
models (Qwen2.5-Coder 0.5B behind llama.cpp, for one) answer a tool request with a JSON object
such as `{"name": "read_file", "arguments": {"path": "a.py"}}`, bare, in a fenced ```json block,
inside `<tool_call>...</tool_call>` tags, or as `<function name="read_file" arguments='{...}'/>`
markup (Qwen2.5-Coder 1.5B, inside `<tools>`), sometimes several at once (a JSON list, or one
value after another in a block). `extract_text_tool_calls` turns such objects into `ToolCall`s,
and only when the request offered tools. Which objects are calls:

- exactly the keys `name` and `arguments` (an object, or its JSON text), and function markup
  whose arguments are a JSON object: always a call, even of a tool that is not offered or with
  arguments its schema refuses; the agent answers it with an error the model can correct;
- any other shape (`parameters` for `arguments`, extra keys, `{"type": "function",
  "function": {...}}`): a call only when its name is an offered tool and its arguments validate
  against that tool's JSON schema;
- a tagged or fenced block counts only when every value in it is a call; otherwise the whole
  block stays text, and so does anything else, so prose that merely contains JSON is never
  mistaken for an action. Bare objects are found by `bakeoff.models.json_scan`."""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Sequence
from typing import Any

from bakeoff.models.json_scan import LENIENT, scan_json_objects
from bakeoff.types import ToolCall, ToolSpec

_TAGGED = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.DOTALL)
_FENCED = re.compile(r"```[ \t]*(?:json|JSON|tool_call|tool_code)?[ \t]*\n?(.*?)```", re.DOTALL)
_TOOLS_WRAPPER = re.compile(r"</?tools>")


_FUNCTION_OPEN = re.compile(
    r"""<function\s+name\s*=\s*["']([\w.-]+)["']\s+(?:arguments|parameters)\s*=\s*(['"])"""
)
_FUNCTION_CLOSE = {q: re.compile(q + r"\s*/?>(?:\s*</function>)?") for q in "'\""}


def function_markup(text: str) -> list[tuple[int, int, str, str]]:
    """(start, end, name, arguments text) of each `<function name=... arguments=.../>`, the
    arguments ending at the first closing quote (then `/>` or `>`) after them. Linear: a
    regular expression with lazy arguments ran to the end of the text from every opening never
    closed; here the closings are found once, and each opening takes its own by bisection."""
    if "<function" not in text:
        return []
    closes = {q: list(pattern.finditer(text)) for q, pattern in _FUNCTION_CLOSE.items()}
    ends = {q: [m.start() for m in found] for q, found in closes.items()}
    found: list[tuple[int, int, str, str]] = []
    position = 0
    while (opening := _FUNCTION_OPEN.search(text, position)) is not None:
        quote = opening.group(2)
        k = bisect.bisect_left(ends[quote], opening.end())
        if k == len(ends[quote]):
            position = opening.start() + 1
            continue
        close = closes[quote][k]
        found.append(
            (opening.start(), close.end(), opening.group(1), text[opening.end() : close.start()])
        )
        position = close.end()
    return found


def only_function_markup(text: str) -> list[str]:
    """The tool names when `text` is nothing but function markup (in `<tools>` or not)."""
    found = function_markup(text)
    rest = _TOOLS_WRAPPER.sub("", "".join(_cut(text, [(a, b) for a, b, _, _ in found])))
    return [name for _, _, name, _ in found] if found and not rest.strip() else []


def _cut(text: str, spans: Sequence[tuple[int, int]]) -> list[str]:
    pieces, cursor = [], 0
    for start, end in spans:
        pieces.append(text[cursor:start])
        cursor = end
    pieces.append(text[cursor:])
    return pieces


def extract_text_tool_calls(
    text: str, tools: Sequence[ToolSpec], *, id_prefix: str = "call_text_"
) -> tuple[str, list[ToolCall]]:
    """Split `text` into (the text left after removing recognised calls, the calls in order).

    A tagged or fenced block is taken only when everything in it is a valid call; ids are
    `id_prefix` followed by the call's position (0, 1, ...)."""
    offered = {tool.name: tool for tool in tools}
    if not offered or "{" not in text:
        return text, []
    spans: list[tuple[int, int, list[tuple[str, dict[str, Any]]]]] = []
    taken: list[tuple[int, int]] = []
    for start, end, name, raw in function_markup(text):
        try:
            arguments = LENIENT.decode(raw.strip())
        except (ValueError, RecursionError):  # RecursionError: nested past the decoder
            continue
        calls = _as_calls({"name": name, "arguments": arguments}, offered)
        if calls:
            taken.append((start, end))
            spans.append((start, end, calls))
    for pattern in (_TAGGED, _FENCED):
        for match in pattern.finditer(text):
            if _overlaps(match.start(), match.end(), taken):
                continue
            taken.append((match.start(), match.end()))
            calls = _calls_in(match.group(1), offered)
            if calls:
                spans.append((match.start(), match.end(), calls))
    for start, end, value in scan_json_objects(text, skip=taken):
        calls = _as_calls(value, offered)
        if calls:
            spans.append((start, end, calls))
    if not spans:
        return text, []
    spans.sort(key=lambda span: span[0])
    pieces: list[str] = []
    found: list[ToolCall] = []
    cursor = 0
    for start, end, calls in spans:
        pieces.append(text[cursor:start])
        cursor = end
        for name, arguments in calls:
            found.append(ToolCall(id=f"{id_prefix}{len(found)}", name=name, arguments=arguments))
    pieces.append(text[cursor:])
    remaining = "".join(pieces)
    if not _TOOLS_WRAPPER.sub("", remaining).strip():
        remaining = ""  # nothing but the `<tools>` wrapper around the calls
    remaining = re.sub(r"\n{3,}", "\n\n", remaining).strip()
    return remaining, found


def _overlaps(start: int, end: int, taken: Sequence[tuple[int, int]]) -> bool:
    return any(start < t_end and t_start < end for t_start, t_end in taken)


def _calls_in(block: str, offered: dict[str, ToolSpec]) -> list[tuple[str, dict[str, Any]]]:
    """Every JSON value in a tagged/fenced block, which must all be valid calls (else none)."""
    inner = _FENCED.search(block)
    if inner is not None:  # a fence inside <tool_call> tags
        block = inner.group(1)
    calls: list[tuple[str, dict[str, Any]]] = []
    position = 0
    while True:
        while position < len(block) and block[position] in " \t\r\n,;":
            position += 1
        if position == len(block):
            return calls
        try:
            value, position = LENIENT.raw_decode(block, position)
        except (ValueError, RecursionError):
            return []
        more = _as_calls(value, offered)
        if not more:
            return []
        calls.extend(more)


def _as_calls(value: Any, offered: dict[str, ToolSpec]) -> list[tuple[str, dict[str, Any]]]:
    items = value if isinstance(value, list) else [value]
    calls = [_as_call(item, offered) for item in items]
    if not items or any(call is None for call in calls):
        return []
    return [call for call in calls if call is not None]


def _as_call(item: Any, offered: dict[str, ToolSpec]) -> tuple[str, dict[str, Any]] | None:
    if not isinstance(item, dict):
        return None
    if isinstance(item.get("function"), dict):  # {"type": "function", "function": {...}}
        item = item["function"]
    name = item.get("name")
    if not isinstance(name, str):
        return None
    arguments = item.get("arguments", item.get("parameters", {}))
    if isinstance(arguments, str):  # double-encoded, as in the OpenAI wire format
        try:
            arguments = json.loads(arguments, strict=False) if arguments.strip() else {}
        except (ValueError, RecursionError):
            return None
    if not isinstance(arguments, dict):
        return None
    # Exactly {"name", "arguments"} is an unmistakable call, even to a tool that does not exist
    # or with bad arguments: the agent answers with an error the model can correct, instead of
    # ending the run on a reply that was never meant as an answer.
    if set(item) == {"name", "arguments"}:
        return name, arguments
    if name not in offered or not _valid(arguments, offered[name].parameters):
        return None
    return name, arguments


def _valid(arguments: dict[str, Any], schema: dict[str, Any]) -> bool:
    import jsonschema  # here: it takes ~50 ms to import, and most replies never get here
    from jsonschema.exceptions import SchemaError

    try:
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)
    except SchemaError:
        return True  # a broken schema is the tool author's bug; the tool itself will complain
    return bool(validator_class(schema).is_valid(arguments))
