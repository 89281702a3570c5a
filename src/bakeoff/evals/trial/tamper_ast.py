"""The tamper scan of one Python source, bounded: a file over `MAX_TOKENS` is a finding
without being parsed (parsing 1 MB of dense Python takes seconds), a file Python cannot parse
is a flag (Python cannot import it either), one too deep for the parser is a void finding, and
nothing here raises. The analysis itself is `evals/trial/tamper_analysis.py`; this module parses,
bounds and shows each finding with its line of source, decoded as Python would decode it
(a `# coding: utf-7` file hides nothing).
"""

from __future__ import annotations

import ast
import itertools
import re
import tokenize
from io import BytesIO

from bakeoff.evals.trial.tamper_analysis import Analysis, Hit
from bakeoff.evals.trial.tamper_rules import Severity

__all__ = ["MAX_TOKENS", "Hit", "scan_source", "tokens"]

MAX_TOKENS = 100_000
"""Tokens in one file the scan parses; a larger file is a finding."""
_TOKEN = re.compile(rb"\w+|[^\w\s]")
_LINES = re.compile(r"\r\n|\r|\n")


def tokens(data: bytes, limit: int = MAX_TOKENS) -> int:
    """Roughly how many tokens `data` holds, counting no further than `limit + 1`."""
    return sum(1 for _ in itertools.islice(_TOKEN.finditer(data), limit + 1))


def scan_source(data: bytes, *, test_file: bool = False) -> list[Hit]:
    """Findings in one Python source (bytes, so a coding cookie is honoured as Python would).
    In a `test_file` objects that equal anything (`mock.ANY`, `pytest.approx`, an always-true
    `__eq__`) are test idioms, so a flag; a check never runs the contestant's own tests."""
    if tokens(data) > MAX_TOKENS:
        return [_whole("void", f"is too large for the tamper scan (over {MAX_TOKENS} tokens)")]
    try:
        tree = ast.parse(data)
    except (SyntaxError, ValueError, LookupError) as exc:  # Python cannot import it either
        why = getattr(exc, "msg", None) or str(exc)
        return [_whole("flag", f"is not valid Python ({str(why)[:80]})")]
    except (RecursionError, MemoryError):
        return [_whole("void", "is nested too deeply for the tamper scan")]
    text = _decode(data)
    try:
        hits = Analysis(tree, {}, 0, walrus=":=" in text, test_file=test_file).run()
    except (RecursionError, MemoryError):
        return [_whole("void", "is nested too deeply for the tamper scan")]
    except Exception as exc:  # a bug of ours that this file found: it cannot be vouched for
        return [_whole("void", f"could not be scanned ({type(exc).__name__}: {str(exc)[:80]})")]
    if not hits:
        return []
    lines = _LINES.split(text)  # Python's line breaks only: a form feed does not shift lines
    return [
        h
        if h.line is None or not 0 < h.line <= len(lines)
        else Hit(h.line, h.severity, h.rule, h.why, _excerpt(lines[h.line - 1]))
        for h in hits
    ]


def _excerpt(line: str) -> str:
    """A line of contestant source as safe text for a terminal, a report and a judge."""
    return "".join(c if c.isprintable() else "\ufffd" for c in line.strip()[:120])


def _whole(severity: Severity, why: str) -> Hit:
    return Hit(None, severity, "unscannable", why)


def _decode(data: bytes) -> str:
    try:
        encoding, _ = tokenize.detect_encoding(BytesIO(data).readline)
        return data.decode(encoding, errors="replace")
    except (SyntaxError, LookupError, ValueError):
        return data.decode("utf-8", errors="replace")
