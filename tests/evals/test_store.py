"""The results store on a real SQLite file: outcomes kept by status, resume keys, a retry
replacing the error it retries, money spent, a run of thousands of trials read back a page at a
time (the lean rows grade exactly as the full records do, in a fraction of the memory), a store
written before the lean facts existed, and a writer killed mid-run losing nothing it had
committed."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import pytest

from bakeoff.evals.store.records import BakeoffSpec, JudgeScore, TrialRecord, TrialStatus
from bakeoff.evals.store.rows import RowReader
from bakeoff.evals.store.store import Store
from bakeoff.evals.trial.checks import CheckResult
from bakeoff.evals.verdict.grading import summarize
from bakeoff.types import AgentResult, Message, RequestTiming, StopReason, Usage

RUN = "r1"
STOPS: dict[TrialStatus, StopReason] = {
    "passed": "completed",
    "failed": "completed",
    "timeout": "max_turns",
    "error": "provider_error",
}


def trial(
    task: str,
    model: str = "script:a",
    repeat: int = 0,
    status: TrialStatus = "passed",
    *,
    cost: float | None = 0.01,
    transcript_kb: int = 0,
    judge: float | None = None,
) -> TrialRecord:
    """A stored trial as the runner writes it; `transcript_kb` of model output in its transcript."""
    filler = [Message(role="assistant", content="x" * 1024) for _ in range(transcript_kb)]
    check = None
    if status in ("passed", "failed"):
        check = CheckResult(
            passed=status == "passed",
            exit_code=0 if status == "passed" else 1,
            output="y" * 200,
            duration_s=0.1,
            tests_passed=3 if status == "passed" else 1,
            tests_total=3,
        )
    agent = AgentResult(
        ok=status != "error",
        answer="done",
        model=model,
        provider=model.partition(":")[0],
        stop_reason=STOPS[status],
        error="server said 503\nretry later" if status == "error" else None,
        turns=3,
        usage=Usage(input_tokens=1200 + repeat, output_tokens=80),
        cost_usd=cost,
        duration_s=1.5 + repeat / 100,
        requests=[RequestTiming(latency_s=0.5, ttft_s=0.2, output_tokens=40, output_tps=80.0)],
        transcript=[Message(role="user", content="do it"), *filler],
    )
    judges = [] if judge is None else [JudgeScore(judge="script:j", overall=judge, cost_usd=0.0)]
    return TrialRecord(
        run_id=RUN,
        task=task,
        category="implement",
        difficulty=1,
        model=model,
        repeat=repeat,
        status=status,
        agent=agent,
        diff="+print('hi')\n",
        check=check,
        judges=judges,
        started_at=1000.0 + repeat,
        finished_at=1001.5 + repeat,
    )


def spec(tasks: list[str], models: list[str], repeats: int) -> BakeoffSpec:
    return BakeoffSpec(
        run_id=RUN, task_paths=tasks, task_names=tasks, models=models, repeats=repeats
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "results.sqlite")
    s.create_run(spec(["t1", "t2"], ["script:a"], 2))
    return s


def test_each_outcome_is_kept_and_resume_skips_all_but_the_errors(store: Store) -> None:
    for i, status in enumerate(("passed", "failed", "timeout", "error")):
        store.add_trial(trial(f"t{i}", status=status))
    assert store.status_counts(RUN) == {"passed": 1, "failed": 1, "timeout": 1, "error": 1}
    assert {r.task: r.status for r in store.trials(RUN)} == {
        "t0": "passed",
        "t1": "failed",
        "t2": "timeout",
        "t3": "error",
    }
    assert store.done_keys(RUN) == {
        ("t0", "script:a", 0),
        ("t1", "script:a", 0),
        ("t2", "script:a", 0),
    }
    assert store.error_keys(RUN) == {("t3", "script:a", 0)}


def test_a_retried_error_replaces_its_record_and_its_cost(store: Store) -> None:
    store.add_trial(trial("t1", status="error", cost=0.5))
    store.add_trial(trial("t2", cost=0.25))
    assert store.spent_usd(RUN) == pytest.approx(0.75)
    store.add_trial(trial("t1", status="passed", cost=0.125))
    assert [(r.task, r.status) for r in store.trials(RUN)] == [("t1", "passed"), ("t2", "passed")]
    assert store.error_keys(RUN) == set()
    assert store.spent_usd(RUN) == pytest.approx(0.375)
    (row,) = [r for r in store.trial_rows(RUN) if r.task == "t1"]
    assert row.status == "passed" and row.reason == "completed"


def test_five_thousand_trials_stream_in_key_order_and_grade_as_the_full_records(
    tmp_path: Path,
) -> None:
    tasks, models, repeats = [f"t{i:02d}" for i in range(50)], ["script:a", "script:b"], 50
    store = Store(tmp_path / "results.sqlite")
    store.create_run(spec(tasks, models, repeats))
    statuses: list[TrialStatus] = ["passed", "failed", "timeout", "error"]
    for n, (t, m, k) in enumerate((t, m, k) for t in tasks for m in models for k in range(repeats)):
        store.add_trial(trial(t, m, k, statuses[n % 7 % 4], judge=float(1 + n % 10)))
    streamed = list(store.iter_trials(RUN, page=97))
    keys = [r.key for r in streamed]
    assert len(keys) == 5000 and keys == sorted(set(keys))
    assert [r.key for r in store.iter_trials(RUN, tasks={"t07"}, limit=30)] == [
        ("t07", "script:a", k) for k in range(30)
    ]
    rows = store.trial_rows(RUN, RowReader(requests_for={"script:b"}))
    assert [r.key for r in rows] == keys
    assert {len(r.agent.requests) for r in rows if r.model == "script:a"} == {0}
    assert {len(r.agent.requests) for r in rows if r.model == "script:b"} == {1}
    full = summarize(spec(tasks, models, repeats), streamed).model_dump()
    lean = summarize(spec(tasks, models, repeats), rows).model_dump()
    assert lean == full
    assert full["ranking"][0]["runs"] > 0 and full["ranking"][0]["errors"] > 0


def test_rows_hold_no_transcripts(tmp_path: Path) -> None:
    store = Store(tmp_path / "results.sqlite")
    store.create_run(spec(["t"], ["script:a"], 1000))
    for k in range(1000):
        store.add_trial(trial("t", repeat=k, transcript_kb=20))  # 20 MB of transcripts in all
    tracemalloc.start()
    try:
        rows = store.trial_rows(RUN)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(rows) == 1000
    assert peak < 4_000_000, f"reading 1,000 lean rows peaked at {peak / 1e6:.1f} MB"


def test_a_store_from_before_the_lean_facts_still_reads_and_grades(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old = trial("t1", judge=7.0)
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE runs (run_id TEXT PRIMARY KEY, created_at REAL NOT NULL, "
        "updated_at REAL NOT NULL, status TEXT NOT NULL, spec TEXT NOT NULL);"
        "CREATE TABLE trials (run_id TEXT NOT NULL, task TEXT NOT NULL, model TEXT NOT NULL, "
        "repeat INTEGER NOT NULL, status TEXT NOT NULL, passed INTEGER, duration_s REAL NOT NULL,"
        " cost_usd REAL, finished_at REAL NOT NULL, record TEXT NOT NULL, "
        "PRIMARY KEY (run_id, task, model, repeat));"
    )
    db.execute(
        "INSERT INTO runs VALUES (?, 0, 0, 'done', ?)",
        (RUN, spec(["t1"], ["script:a"], 1).model_dump_json()),
    )
    db.execute(
        "INSERT INTO trials VALUES (?, 't1', 'script:a', 0, 'passed', 1, 1.5, 0.01, 1, ?)",
        (RUN, old.model_dump_json()),
    )
    db.commit()
    db.close()
    store = Store(path)
    (row,) = store.trial_rows(RUN)
    assert row == RowReader().row_of(old)
    assert row.judge_overall == 7.0 and row.passed is True
    store.add_trial(trial("t2"))  # the new column is there for new trials
    assert [r.task for r in store.trial_rows(RUN)] == ["t1", "t2"]


WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[2])
    from test_store import RUN, spec, trial
    from bakeoff.evals.store.store import Store

    store = Store(sys.argv[1])
    store.create_run(spec(["t"], ["script:a"], 100000))
    k = 0
    while True:
        store.add_trial(trial("t", repeat=k, transcript_kb=2))
        k += 1
        print(k, flush=True)
    """
)


def test_a_killed_writer_loses_nothing_it_committed(tmp_path: Path) -> None:
    path = tmp_path / "results.sqlite"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(Path(__file__).parent)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    committed = 0
    try:
        for line in writer.stdout:
            committed = int(line)
            if committed >= 200:
                break
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait(timeout=30)
        writer.stdout.close()
    assert writer.returncode == -signal.SIGKILL
    assert committed >= 200, "the writer died before writing"
    store = Store(path)
    records = store.trials(RUN)
    repeats = [r.repeat for r in records]
    assert repeats == list(range(len(repeats))) and len(repeats) >= committed
    assert len(store.trial_rows(RUN)) == len(records)
    assert all(len(r.agent.transcript) == 3 for r in records)
