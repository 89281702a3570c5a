"""Hostile replies to the parsers of model text: 1 MB of many fences, unclosed fences, long
lines, path-like lines, deep nesting, never-closed JSON and function markup. Each parse is
linear (a 100 KB reply once froze every trial for 23 s) and never raises: what cannot be read
stays text. The bound is generous (CI is a loaded 2-core box); benchmarks/bench_parsers.py
prints the real timings."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from bakeoff.models import blocks
from bakeoff.models.text_tools import extract_text_tool_calls
from bakeoff.types import Message

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from bench_parsers import TOOLS, hostile_replies

BOUND_S = 1.0
"""Well above the ~0.1 s these take on a quiet machine, far below the minutes of a quadratic."""
REPLIES = hostile_replies(1_000_000)


@pytest.mark.parametrize("shape", sorted(REPLIES))
def test_a_hostile_megabyte_parses_fast_in_every_parser(shape: str) -> None:
    text = REPLIES[shape]
    history = [Message(role="user", content=blocks.show("a.py", "def f():\n    return 0\n"))]
    for name, parse in {
        "block_calls": lambda: blocks.block_calls(text, TOOLS, history, id_prefix="c"),
        "plain_messages": lambda: blocks.plain_messages(
            [{"role": "assistant", "content": text}, {"role": "user", "content": "go on"}], 500
        ),
        "extract_text_tool_calls": lambda: extract_text_tool_calls(text, TOOLS),
    }.items():
        t0 = time.perf_counter()
        parse()
        took = time.perf_counter() - t0
        assert took < BOUND_S, f"{name} took {took:.2f} s on {shape}"


def test_blocks_still_read_right_after_the_limits() -> None:
    """The linear reader finds what the old one did: a path above, a path in prose, an owner,
    a shell block; and a reply with unclosed fences after real blocks keeps the real ones."""
    history = [Message(role="user", content=blocks.show("calc.py", "def add(a, b):\n    pass\n"))]
    reply = (
        "calc.py\n```python\ndef add(a, b):\n    return a + b\n```\n"
        "Then `notes.md` holds:\n```\nhi\n```\n"
        "```python\ndef add(a, b):\n    return b + a\n```\n"
        "```bash\npython -m pytest -q\n```\n" + "```py never closed\n" * 1000
    )
    calls = blocks.block_calls(reply, TOOLS, history, id_prefix="c")
    assert [(c.name, c.arguments.get("path")) for c in calls] == [
        ("write_file", "calc.py"),
        ("write_file", "notes.md"),
        ("write_file", "calc.py"),
        ("run_command", None),
    ]


def test_a_path_line_too_long_is_no_path() -> None:
    reply = "/" + "a" * 100_000 + "\n```\nx = 1\n```\n"
    assert blocks.block_calls(reply, TOOLS, [], id_prefix="c") == []


def test_json_nested_past_the_decoder_is_text_not_a_crash() -> None:
    for text in ("[" * 100_000, '{"name": "read_file", "arguments": ' + "[" * 100_000):
        assert extract_text_tool_calls(f"```json\n{text}\n```", TOOLS)[1] == []
        assert extract_text_tool_calls(text, TOOLS)[1] == []
    # A real call after a broken object is still found.
    real = 'x {"a": 1 oops\n{"name": "read_file", "arguments": {"path": "a.py"}}'
    assert [c.name for c in extract_text_tool_calls(real, TOOLS)[1]] == ["read_file"]
