"""Four outcomes per trial, errors apart from the model's results: a down endpoint beside working
scripted models is not ranked and changes no one else's grade; `--retry-errors` reruns only the
errored trials once the endpoint is up; a model that runs out of its own time or turns shows as
a timeout, counted in every report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from models.wire_servers import (
    Reply,
    WireServer,
    free_port,
    openai_chunk,
    openai_stream,
    openai_usage,
)
from test_runner import GOOD, HALF, make_task, solver, write

from bakeoff.config import load_config
from bakeoff.evals.run.runner import BakeoffRequest, run_bakeoff
from bakeoff.evals.store.records import TrialRecord, TrialStatus, trial_status
from bakeoff.evals.store.store import Store
from bakeoff.evals.trial.checks import CheckResult
from bakeoff.evals.verdict.grading import summarize
from bakeoff.report.html import write_run_report
from bakeoff.types import AgentResult, StopReason

DOWN = "down:some-model"


def bakeoff(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bakeoff.cli", *args],
        cwd=cwd,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=180,
    )


def script_id(path: str) -> str:
    """The name a scripted model is shown under in every report: `script:` + its file stem."""
    return "script:" + Path(path.removeprefix("script:")).stem


@pytest.mark.parametrize(
    ("stop", "check_passed", "status"),
    [
        ("completed", True, "passed"),
        ("completed", None, "passed"),  # judge-only: the judges grade it
        ("completed", False, "failed"),
        ("max_turns", True, "timeout"),
        ("timeout", False, "timeout"),
        ("cost_limit", None, "timeout"),
        ("provider_error", False, "error"),
        ("error", None, "error"),
        ("cancelled", None, "error"),
    ],
)
def test_every_agent_stop_maps_to_one_of_four_outcomes(
    stop: StopReason, check_passed: bool | None, status: TrialStatus
) -> None:
    agent = AgentResult(
        ok=stop == "completed", answer="", model="m:x", provider="m", stop_reason=stop
    )
    check = None
    if check_passed is not None:
        check = CheckResult(passed=check_passed, exit_code=0, output="", duration_s=0.1)
    raw: dict[str, Any] = {
        "run_id": "r",
        "task": "t",
        "category": "c",
        "difficulty": 1,
        "model": "m:x",
        "repeat": 0,
        "agent": agent.model_dump(),
        "check": None if check is None else check.model_dump(),
    }
    assert trial_status(agent, check) == status
    # A store written before the four outcomes said completed / agent_failed / error: it still
    # loads, each record with the outcome it would get today.
    legacy = {"completed": "completed", "error": "error"}.get(stop, "agent_failed")
    assert TrialRecord.model_validate({**raw, "status": legacy}).status == status


async def test_a_down_endpoint_is_unranked_and_changes_no_other_grade(
    tmp_path: Path, isolated_config: Path
) -> None:
    isolated_config.write_text(
        f'[providers.down]\nbase_url = "http://127.0.0.1:{free_port()}/v1"\n'
    )
    good = write(tmp_path, "good", solver(GOOD))
    half = write(tmp_path, "half", solver(HALF, delay=0.05))
    tasks = [make_task(tmp_path / "tasks", f"calc-{i}") for i in range(2)]
    out = await run_bakeoff(
        # No preflight: the run itself must keep errors apart, preflight or not.
        BakeoffRequest(models=[good, half, DOWN], tasks=tasks, repeats=2, preflight=False),
        store=Store(tmp_path / "r.sqlite"),
        config=load_config(isolated_config),
    )
    summary = out.summary
    ranked = [script_id(good), script_id(half)]
    assert [m.model for m in summary.ranking] == ranked
    assert [u.model for u in summary.unranked] == [DOWN]
    down = summary.unranked[0]
    assert down.errors == 4 and "no server is answering" in down.reason
    assert {r.status for r in out.records if r.model == DOWN} == {"error"}
    assert all(m.errors == 0 and m.timeouts == 0 for m in summary.ranking)
    assert summary.recommendation.best_local is None  # a dead local server is no "best local"
    assert any(f"--retry-errors {out.run_id}" in n for n in summary.notes)
    assert summary.ranking_public()[0]["errors"] == 0
    assert summary.unranked_public() == [
        {"model": DOWN, "reason": down.reason, "errors": 4, "internal_errors": 0}
    ]

    # The same trials graded in a field without the down model: every grade is the same.
    spec = summary.spec.model_copy(update={"models": ranked})
    alone = summarize(spec, [r for r in out.records if r.model != DOWN])
    for field_of_3, field_of_2 in zip(summary.ranking, alone.ranking, strict=True):
        assert field_of_3.model_dump() == field_of_2.model_dump()
    assert summary.recommendation == alone.recommendation

    html = write_run_report(out, tmp_path).read_text(encoding="utf-8")
    assert 'id="unranked"' in html and f"Not ranked: {DOWN} — 4 errors" in html


def gives_up() -> Reply:
    return openai_stream(
        openai_chunk({"role": "assistant", "content": "I cannot do this."}),
        openai_chunk({}, finish_reason="stop"),
        openai_chunk(None, usage=openai_usage()),
    )


def test_retry_errors_reruns_only_the_errored_trials(tmp_path: Path, isolated_config: Path) -> None:
    isolated_config.write_text(
        f'[providers.flaky]\nbase_url = "http://127.0.0.1:{free_port()}/v1"\n'
    )
    good = write(tmp_path, "good", solver(GOOD))
    task = make_task(tmp_path / "tasks", "calc")
    db = tmp_path / "r.sqlite"
    common = ("--store", str(db))
    first = bakeoff(
        "run", str(task), "--models", f"{good},flaky:m", "--repeats", "2", "--no-preflight",
        "--run-id", "r1", "--json", *common, cwd=tmp_path,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert [r["model"] for r in doc["ranking"]] == [script_id(good)]
    assert doc["ranking"][0]["errors"] == 0 and doc["ranking"][0]["timeouts"] == 0
    [flaky] = doc["unranked"]
    assert flaky["model"] == "flaky:m" and flaky["errors"] == 2
    assert "no server is answering" in flaky["reason"]
    before = {r.key: r for r in Store(db).trials("r1")}

    with WireServer() as server:  # the server is up now, at a new address
        isolated_config.write_text(f'[providers.flaky]\nbase_url = "{server.url}/v1"\n')
        server.add(gives_up(), gives_up(), gives_up())
        again = bakeoff("run", "--retry-errors", "r1", *common, cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        # The one-token probe, then the two reruns.
        assert [r.method for r in server.requests] == ["POST", "POST", "POST"]
        assert server.requests[0].body["max_completion_tokens"] == 1

    assert "Bake-off r1" in again.stdout and "flaky:m" in again.stdout  # the table again
    assert "Not ranked" not in again.stdout
    after = {r.key: r for r in Store(db).trials("r1")}
    assert after.keys() == before.keys() and len(after) == 4
    for key, record in after.items():
        if record.model == "flaky:m":  # rerun: a real answer now, graded by the check
            assert before[key].status == "error" and record.status == "failed"
            assert record.finished_at > before[key].finished_at
        else:  # never touched
            assert record == before[key]
    report = json.loads(bakeoff("report", "r1", "--json", *common, cwd=tmp_path).stdout)
    assert report["unranked"] == []
    assert sorted(r["status"] for r in report["records"]) == [
        "failed",
        "failed",
        "passed",
        "passed",
    ]


def test_running_out_of_time_or_turns_is_a_timeout_counted_everywhere(
    tmp_path: Path, isolated_config: Path
) -> None:
    looper = write(tmp_path, "looper", [{"tool_calls": [{"name": "list_directory"}]}] * 6)
    sleeper = write(tmp_path, "sleeper", [{"text": "thinking...", "delay_s": 30}])
    good = write(tmp_path, "good", solver(GOOD))
    task = make_task(tmp_path / "tasks", "calc")
    db = tmp_path / "r.sqlite"
    run = bakeoff(
        "run", str(task), "--models", f"{good},{looper},{sleeper}", "--max-turns", "3",
        "--timeout", "2", "--run-id", "t1", "--store", str(db), cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "timeouts" in run.stdout and "ran out of its own time" in run.stdout
    report = json.loads(bakeoff("report", "t1", "--json", "--store", str(db), cwd=tmp_path).stdout)
    status = {r["model"]: r["status"] for r in report["records"]}
    assert status == {
        "script:good": "passed",
        "script:looper": "timeout",
        "script:sleeper": "timeout",
    }
    counts = {m["model"]: (m["timeouts"], m["errors"]) for m in report["ranking"]}
    assert counts == {"script:good": (0, 0), "script:looper": (1, 0), "script:sleeper": (1, 0)}
    assert report["unranked"] == []  # a timeout is the model's own result: it is ranked
    html = Path(report["report_html"]).read_text(encoding="utf-8")
    assert html.count('<td class="num timeout">1</td>') == 2
