"""Finding JSON objects in free text, for every reader of model output that looks for them: a
judge's verdict (`bakeoff.evals.verdicts`) and a tool call written as text
(`bakeoff.models.text_tools`). The scan is lenient as models are: raw newlines inside strings
are accepted, and an object that parses is taken whole, so an object nested inside it is never
found on its own."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

LENIENT = json.JSONDecoder(strict=False)
"""A decoder that accepts raw control characters (newlines, tabs) inside strings."""


def scan_json_objects(
    text: str, *, skip: Sequence[tuple[int, int]] = ()
) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(start, end, object) of each top-level JSON object in `text`, in order, wherever it sits
    (after chatter, in a fence); text inside a `skip` span (start, end) is not looked at."""
    position = text.find("{")
    while position != -1:
        span = next(((s, e) for s, e in skip if s <= position < e), None)
        if span is not None:
            position = text.find("{", span[1])
            continue
        try:
            value, end = LENIENT.raw_decode(text, position)
        except json.JSONDecodeError:
            position = text.find("{", position + 1)
            continue
        yield position, end, value  # text at `position` is "{": always an object
        position = text.find("{", end)
