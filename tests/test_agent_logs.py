"""Every prompt logged: `bakeoff agent` runs and MCP `prompt_nano_agent` calls are kept in the
results store and listed by `bakeoff logs` — redacted, whatever bytes the model sent, skipped
with `--no-log` or `$BAKEOFF_NO_LOG`, and never a failed run when the log cannot be written."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from bakeoff.cli import main
from bakeoff.config import BakeoffConfig
from bakeoff.evals.store.agent_log import NO_LOG_ENV, AgentLog, AgentLogEntry, logging_disabled
from bakeoff.evals.store.store import Store
from bakeoff.mcp_server import build_server
from bakeoff.types import AgentResult, Message

SECRET = "sk-live-logtest-0123456789abcdef"
HOSTILE = "bad \udcff byte, a NUL \x00 here, [bold]markup[/bold] :ok: :free:"
WRITER = [
    {"tool_calls": [{"name": "write_file", "arguments": {"path": "out.txt", "content": "hi\n"}}]},
    {"text": "wrote out.txt", "usage": {"input_tokens": 12, "output_tokens": 3}},
]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a scripted model, an empty config and its own store; logging on."""
    (tmp_path / "writer.json").write_text(json.dumps(WRITER))
    (tmp_path / "bakeoff.toml").write_text("")
    monkeypatch.setenv("BAKEOFF_CONFIG", str(tmp_path / "bakeoff.toml"))
    monkeypatch.setenv("BAKEOFF_STORE", str(tmp_path / "store" / "results.sqlite"))
    monkeypatch.delenv(NO_LOG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def store_of(project: Path) -> Path:
    return project / "store" / "results.sqlite"


def agent(*extra: str, prompt: str = "write out.txt") -> int:
    return main(["agent", prompt, "-m", "script:writer.json", "-w", "ws", "-q", *extra])


def logged(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    assert main(["logs", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_an_agent_run_is_logged_whole_and_listed(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert agent("--json") == 0
    printed = json.loads(capsys.readouterr().out)
    [row] = logged(capsys)
    assert row["model"] == "script:writer" and row["source"] == "agent"
    assert row["ok"] is True and row["prompt"] == "write out.txt"
    entry = logged(capsys, str(row["id"]))
    # The `agent --json` object it printed, plus what only the log keeps.
    assert {k: entry[k] for k in printed} == printed
    assert entry["workspace"] == str(project / "ws")
    assert entry["stop_reason"] == "completed" and entry["started_at"] > 0
    assert [m["role"] for m in entry["transcript"]] == [
        "system", "user", "assistant", "tool", "assistant",
    ]  # fmt: skip


def test_logs_lists_newest_first_filters_by_model_and_counts(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "other.json").write_text(json.dumps([{"text": "hello"}]))
    for i in range(3):
        assert agent(prompt=f"task {i}") == 0
    assert main(["agent", "say hi", "-m", "script:other.json", "-w", "ws", "-q"]) == 0
    rows = logged(capsys, "-n", "0")
    assert [r["prompt"] for r in rows] == ["say hi", "task 2", "task 1", "task 0"]
    assert [r["prompt"] for r in logged(capsys, "-n", "2")] == ["say hi", "task 2"]
    only = logged(capsys, "--model", "script:writer")
    assert [r["prompt"] for r in only] == ["task 2", "task 1", "task 0"]
    assert logged(capsys, "--model", "nobody") == []


def test_no_log_flag_and_env_skip_the_log(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert agent("--no-log") == 0
    assert not store_of(project).exists()
    monkeypatch.setenv(NO_LOG_ENV, "1")
    assert agent() == 0
    assert not store_of(project).exists()
    monkeypatch.setenv(NO_LOG_ENV, "0")  # 0 means "log"
    assert agent() == 0
    assert len(logged(capsys)) == 1


def test_secrets_never_reach_the_log(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAKEOFF_LOGTEST_API_KEY", SECRET)
    (project / "leak.json").write_text(json.dumps([{"text": f"the key: {SECRET}"}]))
    argv = ["agent", f"use {SECRET}", "-m", "script:leak.json", "-w", "ws", "-q"]
    assert main(argv) == 0
    db = store_of(project)
    raw = b"".join(p.read_bytes() for p in db.parent.iterdir())  # the file and its WAL
    assert SECRET.encode() not in raw
    [row] = logged(capsys)
    assert row["prompt"] == "use [redacted]"
    assert logged(capsys, str(row["id"]))["answer"] == "the key: [redacted]"


def test_any_bytes_a_model_sends_are_stored(project: Path) -> None:
    """A lone surrogate (bytes that are not UTF-8) and a NUL, in the prompt, the answer and a
    tool call's arguments: stored (the surrogate as U+FFFD, the NUL kept) and read back."""
    result = AgentResult(
        ok=True, answer=HOSTILE, model="script:x", provider="script", stop_reason="completed",
        transcript=[Message(role="user", content=HOSTILE), Message(role="assistant", content=HOSTILE)],
    )  # fmt: skip
    entry = AgentLogEntry(
        started_at=1.0, source="mcp", prompt=HOSTILE, model=HOSTILE, workspace=HOSTILE,
        result=result,
    )  # fmt: skip
    with AgentLog(store_of(project)) as log:
        entry_id = log.add(entry)
        back = log.get(entry_id)
        [row] = log.recent()
    expected = HOSTILE.replace("\udcff", "\ufffd")
    assert back is not None
    assert back.prompt == back.model == back.result.answer == expected
    assert back.result.transcript[0].content == expected
    assert row.prompt == row.model == expected and "\x00" in row.prompt


def test_logs_print_markup_and_emoji_codes_as_typed(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompt = "[bold]x[/bold] :ok: ollama:ok:latest"
    assert agent(prompt=prompt) == 0
    capsys.readouterr()
    assert main(["logs"]) == 0
    listing = capsys.readouterr().out
    assert prompt in listing and "👌" not in listing and "🆓" not in listing
    assert main(["logs", "1"]) == 0
    assert prompt in capsys.readouterr().out


def test_an_unwritable_log_never_fails_the_run(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = project / "broken.sqlite"
    broken.write_bytes(b"this is not a database" * 10)
    monkeypatch.setenv("BAKEOFF_STORE", str(broken))
    assert agent("--json") == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["ok"] is True
    [warning] = out.err.strip().splitlines()
    assert warning.startswith("warning: this run was not logged") and str(broken) in warning


def test_logs_of_an_empty_or_older_store(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["logs"]) == 0
    assert "no agent runs logged" in capsys.readouterr().out
    assert not store_of(project).exists()  # reading made no store
    assert main(["logs", "7"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    Store(store_of(project)).close()  # a store from before the log: runs only
    with sqlite3.connect(store_of(project)) as db:
        db.execute("DROP TABLE IF EXISTS logs")
    assert logged(capsys) == []
    with pytest.raises(SystemExit) as exit_:
        main(["logs", "#x"])
    assert exit_.value.code == 2


def test_logging_disabled_reads_the_flag_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(NO_LOG_ENV, raising=False)
    assert not logging_disabled() and logging_disabled(no_log=True)
    for value, off in (("1", True), ("yes", True), ("0", False), ("", False)):
        monkeypatch.setenv(NO_LOG_ENV, value)
        assert logging_disabled() is off


# ---- MCP -------------------------------------------------------------------------------------


async def test_mcp_calls_are_logged_where_the_server_is_told(project: Path) -> None:
    log_path = store_of(project)
    server = build_server([project], BakeoffConfig(), agent_log=log_path)
    async with Client(server) as client:
        args = {"agentic_prompt": "write out.txt", "model": "script:writer.json", "workspace": "w"}
        result = await client.call_tool("prompt_nano_agent", args)
        assert not result.is_error
    with AgentLog(log_path) as log:
        [row] = log.recent()
        entry = log.get(row.id)
    assert row.source == "mcp" and row.model == "script:writer" and row.ok
    assert entry is not None and entry.workspace == os.path.realpath(project / "w")
    assert entry.result.answer == "wrote out.txt"
    async with Client(build_server([project], BakeoffConfig())) as client:  # no log given
        assert not (await client.call_tool("prompt_nano_agent", args)).is_error
    with AgentLog(log_path) as log:
        assert len(log.recent()) == 1


def _stdio(project: Path, *flags: str) -> Client:
    child = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR")}
    child |= {
        "BAKEOFF_CONFIG": str(project / "bakeoff.toml"),
        "BAKEOFF_STORE": str(store_of(project)),
    }
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "bakeoff.cli", "mcp", "--root", str(project), *flags],
        cwd=project,
        env=child,
    )
    return Client(params)


async def test_bakeoff_mcp_logs_unless_told_not_to(project: Path) -> None:
    args = {"agentic_prompt": "write out.txt", "model": "script:writer.json", "workspace": "w"}
    async with _stdio(project) as client:
        assert not (await client.call_tool("prompt_nano_agent", args)).is_error
    async with _stdio(project, "--no-log") as client:
        assert not (await client.call_tool("prompt_nano_agent", args)).is_error
    with AgentLog(store_of(project)) as log:
        assert [r.source for r in log.recent()] == ["mcp"]
