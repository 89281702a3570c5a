"""Reading a judge's reply: the JSON objects in it, wherever it put them (a ```json fence,
chatter, a reasoning model's <think> block), which of them are the judge's own, and the verdict
(`parse_trial`) or the winner (`parse_winner`) they give; the last valid object wins, since
judges that think aloud answer last. An object that repeats one written inside the work under
review, or whose rationale is lifted from it, is not the judge's own (`Planted`): a gullible
judge copying an injected `{"overall": 10}` gives no verdict, not a 10. Scores are clamped to
1-10."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bakeoff.models.json_scan import scan_json_objects

MAX_RATIONALE_CHARS = 1_000
_THINK = re.compile(r"<think>.*?</think>", re.IGNORECASE | re.DOTALL)
_NUMBER = re.compile(r"\s*(-?\d+(?:\.\d+)?)")


def json_objects(text: str) -> list[dict[str, Any]]:
    """Every top-level JSON object in `text`, in order, wherever it sits: in a ```json fence,
    after chatter or after a reasoning model's <think> block."""
    return [obj for _, _, obj in scan_json_objects(_THINK.sub("", text))]


def _canonical(obj: dict[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def _squash(text: str) -> str:
    return " ".join(text.split()).lower()


_DIFF_MARKS = re.compile(r"^[+\- ]", re.MULTILINE)
_LIFTED_RATIONALE_CHARS = 30
"""A rationale at least this long found verbatim in the work under review was copied from it."""


@dataclass(frozen=True)
class Planted:
    """What the work under review already says, so a verdict that repeats it is not the
    judge's own: the JSON objects in it (also inside diff lines) and its text, squashed."""

    objects: frozenset[str]
    text: str

    @classmethod
    def from_work(cls, *texts: str) -> Planted:
        objects = {
            _canonical(obj)
            for text in texts
            for variant in (text, _DIFF_MARKS.sub("", text))
            for obj in json_objects(variant)
        }
        return cls(frozenset(objects), _squash("\n".join(texts)))

    def repeats(self, obj: dict[str, Any]) -> bool:
        if _canonical(obj) in self.objects:
            return True
        rationale = obj.get("rationale")
        if not isinstance(rationale, str):
            return False
        squashed = _squash(rationale)
        return len(squashed) >= _LIFTED_RATIONALE_CHARS and squashed in self.text


def _score(value: Any) -> float | None:
    if isinstance(value, str):  # "8" or "8/10"
        match = _NUMBER.match(value)
        value = float(match.group(1)) if match else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    # Judges overshoot the scale ("11/10") or use 0; clamping keeps their intent on our scale.
    return min(10.0, max(1.0, float(value)))


def _rationale(obj: dict[str, Any]) -> str:
    value = obj.get("rationale", "")
    return (value if isinstance(value, str) else json.dumps(value))[:MAX_RATIONALE_CHARS]


@dataclass
class Verdict:
    criteria: dict[str, float]
    overall: float
    rationale: str


def parse_trial(objects: Sequence[dict[str, Any]], criteria: Sequence[str]) -> Verdict | None:
    wanted = {c.lower(): c for c in criteria}
    # The last valid object wins: judges that think aloud put their final answer last.
    for obj in reversed(objects):
        overall = _score(obj.get("overall"))
        if overall is None:
            continue
        scores: dict[str, float] = {}
        raw = obj.get("criteria")
        for key, value in raw.items() if isinstance(raw, dict) else []:
            name = wanted.get(str(key).strip().lower().replace(" ", "_").replace("-", "_"))
            score = _score(value)
            if name is not None and score is not None:
                scores[name] = score
        return Verdict(scores, overall, _rationale(obj))
    return None


def parse_winner(objects: Sequence[dict[str, Any]]) -> str | None:
    """'1', '2' or 'tie'; None when no object names one of them."""
    for obj in reversed(objects):
        value = str(obj.get("winner", "")).strip().lower().removeprefix("candidate").strip()
        if value in {"1", "2"}:
            return value
        if value in {"tie", "draw", "equal", "none"}:
            return "tie"
    return None
