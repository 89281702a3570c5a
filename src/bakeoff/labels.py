"""Run labels: `KEY=VALUE` pairs a user attaches to a bake-off (`bakeoff run --label team=infra`,
or `labels` in bakeoff.toml's `[defaults]`) to find it again later (`bakeoff runs --label`, the
viewer's filter). They are stored with the run (`BakeoffSpec.tags`). The rules live here, one
home for the flag, the config file and the filters: a key is 1 to `MAX_KEY` of letters, digits,
'.', '_' and '-'; a value is at most `MAX_VALUE` printable characters (no control, format or
line-break character, which could make a listing show something other than what is stored); a
run has at most `MAX_LABELS`. A broken rule is a ValueError whose message says what to give."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

MAX_KEY = 64
MAX_VALUE = 200
MAX_LABELS = 32
_KEY = re.compile(r"[A-Za-z0-9_.-]+")


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


def check_label(key: str, value: str) -> tuple[str, str]:
    """(key, value) when both follow the rules, else a ValueError saying which and why."""
    if len(key) > MAX_KEY or not _KEY.fullmatch(key):
        raise ValueError(
            f"label key {_shown(key)} is not a plain name: use 1 to {MAX_KEY} letters, digits, "
            "'.', '_' or '-'"
        )
    if len(value) > MAX_VALUE or not value.isprintable():
        raise ValueError(
            f"label {key}: the value {_shown(value)} must be at most {MAX_VALUE} printable "
            "characters (no tabs, line breaks or control characters)"
        )
    return key, value


def parse_label(text: str) -> tuple[str, str]:
    """`KEY=VALUE` (split at the first '=') as a checked (key, value)."""
    key, sep, value = text.partition("=")
    if not sep:
        raise ValueError(f"label {_shown(text)}: give KEY=VALUE (e.g. team=infra)")
    return check_label(key.strip(), value.strip())


def merge_labels(*layers: Iterable[tuple[str, str]] | Mapping[str, str]) -> dict[str, str]:
    """The labels of `layers` merged in order (a later layer's value wins for its key), checked,
    and at most `MAX_LABELS` of them."""
    merged: dict[str, str] = {}
    for layer in layers:
        pairs = layer.items() if isinstance(layer, Mapping) else layer
        for key, value in pairs:
            merged.update([check_label(key, value)])
    if len(merged) > MAX_LABELS:
        raise ValueError(f"{len(merged)} labels: a run takes at most {MAX_LABELS}")
    return merged


def matches(tags: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """Whether a run's `tags` carry every wanted label, each with exactly its value."""
    return all(tags.get(key) == value for key, value in wanted.items())
