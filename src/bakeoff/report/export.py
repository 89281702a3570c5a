"""Machine-readable exports of a bake-off: JSON (the summary and every record with all its
fields, so it loads back into the same pydantic models), JSONL (every record whole, one a line,
written as it is read: `TrialRecord.model_validate_json` reads each line back), CSV (one flat
row per trial, for a spreadsheet or pandas), Inspect's eval log (`export_inspect`), and the
short per-run form that `bakeoff report --json` prints. An
unknown cost stays unknown in every format: `null` in JSON, an empty cell in CSV, never 0; so do
token counts no server reported (`unreported_requests` says how many requests; with some
reported, the counts are lower bounds). Every format passes through the redaction filter (`bakeoff.redact`) on its way out."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bakeoff.evals.store.records import TrialRecord
from bakeoff.evals.store.summary_records import BakeoffSummary
from bakeoff.evals.verdict.outcomes import trial_outcome
from bakeoff.redact import current, redact_json

CSV_COLUMNS = [
    "run_id", "task", "category", "difficulty", "model", "repeat", "status", "passed",
    "tests_passed", "tests_total", "judge_overall", "duration_s", "model_time_s", "tool_time_s",
    "wait_s", "warmup_s", "input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens",
    "unreported_requests", "cost_usd", "turns", "tool_calls", "error",
]  # fmt: skip


def public_status(r: TrialRecord) -> str:
    """The status every export shows: the trial's outcome, `done` where nothing graded it
    (never `passed`), `error`, `timeout`, `passed` or `failed` otherwise."""
    outcome = trial_outcome(r)
    return "done" if outcome == "no change" else outcome


def records_public(records: Iterable[TrialRecord]) -> list[dict[str, Any]]:
    """The `report --json` contract: task, model, repeat, status, passed, duration_s, cost_usd,
    usage (as in `agent --json`: `unreported` and null counts when a server did not say); plus how the agent stopped (stop_reason) and its error, whether contestant code ran
    sandboxed and what the tamper scan found. A trial nothing graded is `done`, never `passed`
    (its `outcome` says `done` or `no change`)."""
    rows = [
        {
            "task": r.task,
            "model": r.model,
            "repeat": r.repeat,
            "status": public_status(r),
            "outcome": trial_outcome(r),
            "stop_reason": r.agent.stop_reason,
            "error": r.agent.error,
            "passed": r.passed,
            "duration_s": round(r.agent.duration_s, 3),
            "cost_usd": r.agent.cost_usd,
            "usage": r.agent.usage.public(),
            "sandboxed": r.sandboxed,
            "tamper": [f.model_dump() for f in r.tamper],
        }
        for r in records
    ]
    return list(redact_json(rows))


def write_json(summary: BakeoffSummary, records: Iterable[TrialRecord], path: Path | str) -> Path:
    """`{"summary": ..., "records": [...]}`; each part validates back into its model."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = redact_json(
        {
            "summary": summary.model_dump(mode="json"),
            "records": [r.model_dump(mode="json") for r in records],
        }
    )
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def write_jsonl(records: Iterable[TrialRecord], path: Path | str) -> Path:
    """Every record as one JSON line, streamed: a run of any size is never held at once."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    redactor = current()
    with path.open("w", encoding="utf-8") as f:
        for r in records:
            # ASCII: a U+2028 or U+0085 a contestant wrote must not split a line for readers
            # that split on every line break (Python's str.splitlines does).
            f.write(json.dumps(redactor.json(r.model_dump(mode="json"))) + "\n")
    return path


def csv_row(r: TrialRecord) -> dict[str, Any]:
    """One trial as a flat row. `wait_s` is all waiting: for a provider slot before the run
    started plus rate-limit back-off during it. Empty cells mean unknown or not applicable."""
    a, c = r.agent, r.check
    tokens = a.usage.public()
    return {
        "run_id": r.run_id,
        "task": r.task,
        "category": r.category,
        "difficulty": r.difficulty,
        "model": r.model,
        "repeat": r.repeat,
        "status": r.status,
        "passed": "" if r.passed is None else str(r.passed).lower(),
        "tests_passed": _blank(c.tests_passed if c else None),
        "tests_total": _blank(c.tests_total if c else None),
        "judge_overall": _blank(None if r.judge_overall is None else round(r.judge_overall, 3)),
        "duration_s": round(a.duration_s, 3),
        "model_time_s": round(a.model_time_s, 3),
        "tool_time_s": round(a.tool_time_s, 3),
        "wait_s": round(a.wait_time_s + r.slot_wait_s, 3),
        "warmup_s": round(a.warmup_s, 3),
        "input_tokens": _blank(tokens["input_tokens"]),
        "cached_tokens": _blank(tokens["cached_tokens"]),
        "output_tokens": _blank(tokens["output_tokens"]),
        "reasoning_tokens": _blank(tokens["reasoning_tokens"]),
        "unreported_requests": a.usage.unreported,
        "cost_usd": _blank(a.cost_usd),
        "turns": a.turns,
        "tool_calls": a.tool_calls,
        "error": a.error or "",
    }


def write_csv(records: Iterable[TrialRecord], path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    redactor = current()
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for r in records:
            writer.writerow(redactor.json(csv_row(r)))
    return path


def _blank(v: float | int | None) -> float | int | str:
    return "" if v is None else v
