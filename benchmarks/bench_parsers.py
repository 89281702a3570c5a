"""How long the parsers of model text take on hostile 1 MB replies: the blocks format's
(`bakeoff.models.blocks`: block_calls, plain_messages), the text tool-call extractor
(`bakeoff.models.text_tools`) and the final-answer check (`bakeoff.agent.no_attempt`). Each
runs on the event loop's thread of its caller, so each must stay linear: issue 22 measured one
100 KB reply freezing every trial for 23 s.

    .venv/bin/python benchmarks/bench_parsers.py [--size BYTES]

Prints one line per (parser, reply shape): the milliseconds it took, then the markdown block of
BENCHMARKS.md §10 (the slowest shape of each parser). Shapes: many fences, unclosed fences, one
long line, many path-like lines, deep nesting, many JSON starts, unclosed function markup."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bakeoff.agent import no_attempt
from bakeoff.models import blocks
from bakeoff.models.text_tools import extract_text_tool_calls
from bakeoff.tools import COMMAND_TOOL, READ_TOOLS, WRITE_TOOLS
from bakeoff.types import Message

sys.path.insert(0, str(Path(__file__).resolve().parent))

import results

TOOLS = [*READ_TOOLS, *WRITE_TOOLS, COMMAND_TOOL]


def hostile_replies(size: int) -> dict[str, str]:
    """Replies of about `size` characters, each built to make a naive parser quadratic."""

    def fill(unit: str) -> str:
        return unit * max(1, size // len(unit))

    return {
        "many fences": fill("a.py\n```python\nx = 1\n```\n"),
        "unclosed fences": fill("```py x\n"),
        "one long line": "a" * size + "\n```\nx\n```\n",
        "path-like lines": fill("src/a/b/c.py\n"),
        "long path then block": "/" + "a" * size + "!\n```\nx\n```\n",
        "deep nesting": "{" * (size // 2) + "}" * (size // 2),
        "json starts": fill('{"a":[1,'),
        "nested json": fill('{"k":[1,1,1,1,1,1,1,1,'),
        "unclosed markup": fill('<function name="read_file" arguments=\'{'),
        "python blocks": fill("```python\ndef f():\n    return 1\n```\n"),
        "whitespace": "a" + " " * size + "b",
    }


def parsers() -> dict[str, Callable[[str], object]]:
    history = [Message(role="user", content=blocks.show("a.py", "def f():\n    return 0\n"))]
    return {
        "blocks.block_calls": lambda t: blocks.block_calls(t, TOOLS, history, id_prefix="c"),
        "blocks.plain_messages": lambda t: blocks.plain_messages(
            [{"role": "assistant", "content": t}, {"role": "user", "content": "go on"}], 1000
        ),
        "text_tools.extract": lambda t: extract_text_tool_calls(t, TOOLS),
        "agent.no_attempt": lambda t: no_attempt(t, 0),
    }


def timed(parse: Callable[[str], object], text: str) -> float:
    t0 = time.perf_counter()
    parse(text)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="reply size in characters")
    args = parser.parse_args()
    slowest: dict[str, tuple[float, str]] = {}
    for shape, text in hostile_replies(args.size).items():
        for name, parse in parsers().items():
            seconds = timed(parse, text)
            slowest[name] = max(slowest.get(name, (0.0, "")), (seconds, shape))
            print(f"{name:24} {shape:22} {len(text):>9,} chars  {seconds * 1000:9.1f} ms")
    worst = max(seconds for seconds, _ in slowest.values())
    print(f"worst: {worst * 1000:.1f} ms")
    rows = [(f"`{name}`", shape, f"{s * 1000:.1f}") for name, (s, shape) in slowest.items()]
    results.print_block(
        "10. Parsing a hostile reply",
        f"python benchmarks/bench_parsers.py --size {args.size}",
        results.table(["parser", "its slowest shape", "ms"], rows)
        + f"\n\nReplies of ~{args.size:,} characters; the worst of all: {worst * 1000:.1f} ms.",
    )


if __name__ == "__main__":
    main()
