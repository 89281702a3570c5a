"""`bakeoff run --dry-run`: the trials a run would make and a token and cost range per model from
past runs in the store — through the real command, with scripted models whose usage is known
and a provider nobody answers — and nothing run, reached or stored."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from models.wire_servers import free_port

from bakeoff.cli import main

PROMPT = "Create hello.py that prints hello"


def script(tmp: Path, name: str, input_tokens: int, output_tokens: int) -> Path:
    path = tmp / f"{name}.json"
    turns: list[dict[str, Any]] = [
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "hello.py", "content": "print('hello')\n"}}]},
        {"text": "done", "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens}},
    ]  # fmt: skip
    path.write_text(json.dumps(turns))
    return path


def dump(store: Path) -> list[str]:
    """Every row of the store as SQL (its bytes may change when SQLite folds its WAL in)."""
    con = sqlite3.connect(store)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_a_dry_run_lists_the_trials_and_exits_without_running_reaching_or_storing(
    tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nobody listens here: a preflight or a trial would fail, a dry run never asks.
    isolated_config.write_text(
        f'[providers.dead]\nbase_url = "http://127.0.0.1:{free_port()}/v1"\n'
    )
    cheap = script(tmp_path, "cheap", 100, 10)
    before = files_under(tmp_path)
    models = f"script:{cheap},dead:m,openai:made-up-model"
    args = ["run", PROMPT, "Write a haiku about tests", "--models", models]
    assert main([*args, "--repeats", "3", "--judge", "dead:judge", "--dry-run"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Dry run: 2 tasks × 3 models × 3 repeats = 18 trials" in out
    assert "judges: dead:judge (each gives 18 verdicts" in out
    assert "script:cheap 6 trials no history; $0 tokens (self-hosted)" in out
    assert "dead:m 6 trials no history; $0 tokens (self-hosted)" in out
    assert "openai:made-up-model 6 trials no history; price unknown" in out
    assert files_under(tmp_path) == before  # no store, no ad-hoc task folder, no report

    assert main(["run", PROMPT, "--models", "nosuchmodel", "--dry-run"]) == 2  # as a run would
    assert "unknown model 'nosuchmodel'" in capsys.readouterr().err
    assert main(["run", "--resume", "latest", "--dry-run"]) == 2
    assert files_under(tmp_path) == before


def test_the_estimate_is_the_range_of_past_trials_at_todays_price(
    tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = script(tmp_path, "model", 1000, 100)
    isolated_config.write_text(f'[prices."script:{model}"]\ninput = 1.0\noutput = 10.0\n')
    store = ["--store", str(tmp_path / "store.sqlite"), "--no-preflight"]
    assert main(["run", PROMPT, "--models", f"script:{model}", *store]) == 0
    script(tmp_path, "model", 2000, 200)  # the same model, costlier the second time
    assert main(["run", PROMPT, "--models", f"script:{model}", *store]) == 0
    other = script(tmp_path, "other", 5, 5)
    stored = dump(tmp_path / "store.sqlite")
    capsys.readouterr()

    run = ["run", PROMPT, "Another task", "--models", f"script:{model},script:{other}"]
    assert main([*run, "--repeats", "3", "--dry-run", *store]) == 0
    out = " ".join(capsys.readouterr().out.split())
    # Per trial 1,100 or 2,200 tokens; $0.002 or $0.004 (1000 × $1 + 100 × $10 per Mtok); × 3.
    assert (
        "script:model 6 trials 3.3k-6.6k tokens, $0.0060-$0.0120 (from 2 past trials; "
        "1 of 2 tasks have no history, not counted)" in out
    )
    assert "script:other 6 trials no history" in out
    assert dump(tmp_path / "store.sqlite") == stored  # not a row more
