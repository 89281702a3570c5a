"""Finding JSON objects in free text, for every reader of model output that looks for them: a
judge's verdict (`bakeoff.evals.trial.judge_verdicts`) and a tool call written as text
(`bakeoff.models.text_tools`). The scan is lenient as models are: raw newlines inside strings
are accepted, and an object that parses is taken whole, so an object nested inside it is never
found on its own. The scan is linear in the text, whatever the text: each failed attempt is
charged what it read, and once the attempts have read `SCAN_BUDGET` times the text (prose never
comes close) the rest is left as text — a reply of nested, never-closed objects made each `{`
re-read everything after it. Nesting too deep for the decoder (a thousand levels, which no
model writes in earnest) ends the scan there."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

LENIENT = json.JSONDecoder(strict=False)
"""A decoder that accepts raw control characters (newlines, tabs) inside strings."""
SCAN_BUDGET = 2
"""Characters failed attempts may read, as a multiple of the text's length (plus 64 KB)."""


def scan_json_objects(
    text: str, *, skip: Sequence[tuple[int, int]] = ()
) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(start, end, object) of each top-level JSON object in `text`, in order, wherever it sits
    (after chatter, in a fence); text inside a `skip` span (start, end) is not looked at."""
    position = text.find("{")
    budget = SCAN_BUDGET * len(text) + 65_536
    while position != -1 and budget > 0:
        span = next(((s, e) for s, e in skip if s <= position < e), None)
        if span is not None:
            position = text.find("{", span[1])
            continue
        value, end, read = _decode_at(text, position)
        if read < 0:
            return
        if value is None:
            budget -= read
            position = text.find("{", position + 1)
            continue
        yield position, end, value  # text at `position` is "{": always an object
        position = text.find("{", end)


def _decode_at(text: str, position: int) -> tuple[dict[str, Any] | None, int, int]:
    """(the object at `position`, its end, characters read), or (None, 0, read) when none
    parses there (read -1: nested past the decoder's depth). It decodes a window of the text, four times larger while the window cut it
    short: the decoder's error costs a count of every line before it, so an attempt that fails
    near its start on a 1 MB text must not pay for the whole text."""
    size = 4096
    while True:
        window = text[position : position + size]
        whole = position + size >= len(text)
        try:
            value, end = LENIENT.raw_decode(window)
        except json.JSONDecodeError as exc:
            cut = exc.pos >= len(window) - 64 or exc.msg.startswith("Unterminated string")
            if whole or not cut:
                return None, 0, len(window)
        except RecursionError:
            return None, 0, -1
        else:
            return value, position + end, end
        size *= 4
