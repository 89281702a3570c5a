"""Parse and format short durations such as "1h30m" or "45s"."""

import re

_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(text):
    """Seconds in `text`, e.g. "1h30m" -> 5400.

    The units are h, m and s, each used at most once and in that order; surrounding blanks
    are ignored. Anything else (empty text, unknown units, stray characters, units out of
    order) raises ValueError.
    """
    text = text.strip()
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise ValueError(f"not a duration: {text!r}")
    hours, minutes, secs = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + secs


def format_duration(seconds):
    """The shortest text for `seconds`: 5400 -> "1h30m", 61 -> "1m1s", 0 -> "0s".

    Negative durations raise ValueError.
    """
    if seconds < 0:
        raise ValueError("durations cannot be negative")
    if seconds == 0:
        return "0s"
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
