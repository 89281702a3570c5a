"""Parse and format short durations such as "1h30m" or "45s"."""

import re

_PART = re.compile(r"(\d)([hms])")
_SECONDS = {"h": 3600, "m": 60, "s": 1}


def parse_duration(text):
    """Seconds in `text`, e.g. "1h30m" -> 5400.

    The units are h, m and s, each used at most once and in that order; surrounding blanks
    are ignored. Anything else (empty text, unknown units, stray characters, units out of
    order) raises ValueError.
    """
    text = text.strip()
    parts = _PART.findall(text)
    if not parts:
        raise ValueError(f"not a duration: {text!r}")
    return sum(int(number) * _SECONDS[unit] for number, unit in parts)


def format_duration(seconds):
    """The shortest text for `seconds`: 5400 -> "1h30m", 61 -> "1m1s", 0 -> "0s".

    Negative durations raise ValueError.
    """
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    out = ""
    if hours:
        out += f"{hours}h"
    if minutes:
        out += f"{minutes}m"
    if secs:
        out += f"{secs}s"
    return out
