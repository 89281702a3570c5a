"""JSON and CSV exports: the JSON loads back into the same records and summary, the CSV has one
row per trial with the documented columns, and an unknown cost is never written as 0."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from bakeoff.evals.store.records import TrialRecord
from bakeoff.evals.store.summary_records import BakeoffSummary
from bakeoff.report.export import CSV_COLUMNS, records_public, write_csv, write_json


def test_json_round_trips_summary_and_every_record(
    tmp_path: Path, summary: BakeoffSummary, records: list[TrialRecord]
) -> None:
    path = write_json(summary, records, tmp_path / "out" / "bakeoff.json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert set(doc) == {"summary", "records"}
    assert BakeoffSummary.model_validate(doc["summary"]) == summary
    loaded = [TrialRecord.model_validate(r) for r in doc["records"]]
    assert loaded == records
    # Transcripts, diffs and judge rationales travel in full.
    assert doc["records"][0]["agent"]["transcript"][2]["tool_calls"][0]["name"] == "list_directory"
    assert doc["records"][0]["diff"] == records[0].diff
    unknown = [r for r in doc["records"] if r["model"] == "anthropic:claude-haiku-4-5"]
    assert unknown and all(r["agent"]["cost_usd"] is None for r in unknown)


def test_csv_has_one_row_per_trial_with_the_documented_columns(
    tmp_path: Path, records: list[TrialRecord]
) -> None:
    path = write_csv(records, tmp_path / "bakeoff.csv")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        assert reader.fieldnames == CSV_COLUMNS
    assert CSV_COLUMNS[:7] == [
        "run_id",
        "task",
        "category",
        "difficulty",
        "model",
        "repeat",
        "status",
    ]
    assert len(rows) == len(records)
    first, rec = rows[0], records[0]
    assert (first["task"], first["model"], first["repeat"]) == (
        rec.task,
        rec.model,
        str(rec.repeat),
    )
    assert first["passed"] == str(rec.passed).lower()
    assert int(first["tests_total"]) == 6
    assert float(first["judge_overall"]) == rec.judge_overall
    assert float(first["wait_s"]) == round(rec.agent.wait_time_s + rec.slot_wait_s, 3)
    assert int(first["input_tokens"]) == rec.agent.usage.input_tokens
    failed = next(r for r in rows if r["status"] == "timeout")
    assert failed["error"] == "stopped after 20 turns"


def test_unknown_cost_is_an_empty_cell_and_zero_stays_zero(
    tmp_path: Path, records: list[TrialRecord]
) -> None:
    with write_csv(records, tmp_path / "b.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    by_model = {r["model"]: r["cost_usd"] for r in rows}
    assert by_model["anthropic:claude-haiku-4-5"] == ""
    assert float(by_model["local:qwen2.5-coder-0.5b"]) == 0.0
    assert float(by_model["openai:gpt-5"]) > 0


def test_records_public_is_the_report_json_contract(records: list[TrialRecord]) -> None:
    public = records_public(records)
    assert len(public) == len(records)
    assert set(public[0]) == {
        "task", "model", "repeat", "status", "passed", "duration_s", "cost_usd", "usage",
        "stop_reason", "error", "sandboxed", "tamper", "outcome",
    }  # fmt: skip
    assert set(public[0]["usage"]) == {
        "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens"
    }  # fmt: skip
    unknown = next(p for p in public if p["model"] == "anthropic:claude-haiku-4-5")
    assert unknown["cost_usd"] is None
    json.dumps(public)  # plain JSON types only
