"""The bake-off end to end with scripted contestants: concurrency, grading order, the store,
budget caps, and a killed run resumed to exactly one record per trial."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bakeoff.evals.run.runner import BakeoffRequest, Observer, run_bakeoff
from bakeoff.evals.store.store import Store
from bakeoff.report.html import write_run_report

CALC_TEST = """
from calc import add, mul
def test_add(): assert add(2, 3) == 5
def test_add_neg(): assert add(-1, 1) == 0
def test_mul(): assert mul(3, 4) == 12
def test_mul_zero(): assert mul(0, 9) == 0
"""


def make_task(root: Path, name: str, difficulty: int = 2) -> Path:
    folder = root / name
    (folder / "files").mkdir(parents=True)
    (folder / "hidden").mkdir()
    (folder / "solution").mkdir()
    (folder / "files" / "README.md").write_text("calculator project\n")
    (folder / "hidden" / "hidden_test_calc.py").write_text(CALC_TEST)
    (folder / "solution" / "calc.py").write_text(
        "def add(a, b):\n    return a + b\n\ndef mul(a, b):\n    return a * b\n"
    )
    (folder / "task.toml").write_text(
        f'name = "{name}"\nprompt = "[{name}] Create calc.py with add(a, b) and mul(a, b)."\n'
        f'category = "implement"\ndifficulty = {difficulty}\n'
        '[check]\ncommand = "python -m pytest -q hidden_test_calc.py"\ntimeout_s = 30\n'
    )
    return folder


def write(tmp: Path, name: str, turns: Any) -> str:
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(turns))
    return f"script:{path}"


def solver(
    content: str, delay: float = 0.0, usage: dict[str, int] | None = None
) -> list[dict[str, Any]]:
    return [
        {"tool_calls": [{"name": "list_directory", "arguments": {}}], "delay_s": delay},
        {
            "tool_calls": [
                {"name": "write_file", "arguments": {"path": "calc.py", "content": content}}
            ]
        },
        {"text": "done", "usage": usage or {}},
    ]


GOOD = "def add(a, b):\n    return a + b\n\ndef mul(a, b):\n    return a * b\n"
HALF = "def add(a, b):\n    return a + b\n\ndef mul(a, b):\n    return a + b\n"
BAD = "def add(a, b):\n    return 0\n"


@pytest.fixture
def three_models(tmp_path: Path) -> list[str]:
    return [
        write(tmp_path, "bad", solver(BAD)),
        write(tmp_path, "good", solver(GOOD)),
        write(tmp_path, "half", solver(HALF)),
    ]


async def test_three_scripted_models_rank_by_quality(
    tmp_path: Path, three_models: list[str], isolated_config: Path
) -> None:
    tasks = [make_task(tmp_path / "tasks", f"calc-{i}") for i in range(3)]
    store = Store(tmp_path / "r.sqlite")
    outcome = await run_bakeoff(
        BakeoffRequest(models=three_models, tasks=tasks, repeats=2), store=store
    )
    ranking = [m.model for m in outcome.summary.ranking]
    assert ranking == ["script:good", "script:half", "script:bad"]  # shown names, not paths
    good, half, bad = outcome.summary.ranking
    assert good.pass_rate.value == 1.0 and half.pass_rate.value == 0.0
    assert half.quality.value is not None and bad.quality.value is not None
    assert good.quality.value > half.quality.value > bad.quality.value  # 4/4 > 3/4 > 1/4 tests
    assert len(outcome.records) == 18 and len(store.done_keys(outcome.run_id)) == 18
    assert outcome.report_html is None  # the runner returns results; shells write reports
    assert write_run_report(outcome, tmp_path).exists()
    rec = next(r for r in outcome.records if r.model == good.model)
    assert "+def mul(a, b):" in rec.diff and rec.check is not None and rec.check.tests_total == 4


async def test_unknown_model_fails_before_anything_runs(
    tmp_path: Path, isolated_config: Path
) -> None:
    from bakeoff.errors import UnknownModelError

    store = Store(tmp_path / "r.sqlite")
    with pytest.raises(UnknownModelError):
        await run_bakeoff(
            BakeoffRequest(models=["no-such-model-xyz"], tasks=[make_task(tmp_path, "t")]),
            store=store,
        )
    assert store.list_runs() == []


async def test_budget_cap_stops_new_trials(tmp_path: Path, isolated_config: Path) -> None:
    from bakeoff.config import load_config

    # 1M output tokens per run at a configured $0.02/Mtok: every trial costs $0.02.
    model = write(tmp_path, "m", solver(GOOD, usage={"output_tokens": 1_000_000}))
    isolated_config.write_text(
        '[providers.script]\nkind = "script"\nconcurrency = 1\n'
        f'[prices."{model}"]\ninput = 0.0\noutput = 0.02\n'
    )
    tasks = [make_task(tmp_path / "tasks", f"t{i}") for i in range(5)]
    out = await run_bakeoff(
        BakeoffRequest(models=[model], tasks=tasks, max_cost_usd=0.03),
        store=Store(tmp_path / "r.sqlite"),
        config=load_config(isolated_config),
    )
    assert [r.agent.cost_usd for r in out.records] == [pytest.approx(0.02)] * 2
    assert out.budget_skipped == 3
    assert any("Budget cap $0.03 reached: 3 trials" in n for n in out.summary.notes)


def test_killed_run_resumes_with_every_trial_exactly_once(
    tmp_path: Path, isolated_config: Path
) -> None:
    tasks_root = tmp_path / "tasks"
    for i in range(6):
        make_task(tasks_root, f"t{i}")
    slow = write(tmp_path, "slow", solver(GOOD, delay=0.4))
    fast = write(tmp_path, "fast", solver(HALF, delay=0.2))
    db = tmp_path / "r.sqlite"
    cmd = [
        sys.executable,
        "-m",
        "bakeoff.cli",
        "run",
        str(tasks_root),
        "--models",
        f"{slow},{fast}",
        "--repeats",
        "2",
        "--store",
        str(db),
        "--run-id",
        "killme",
        "--max-parallel",
        "2",
    ]
    env = {**os.environ, "BAKEOFF_CONFIG": str(isolated_config)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    done = 0
    while time.time() < deadline:
        time.sleep(0.2)
        if db.exists():
            with sqlite3.connect(db) as con:
                try:
                    done = con.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
                except sqlite3.OperationalError:
                    done = 0
            if done >= 4:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 4 <= done < 24, "the run should have been killed mid-way"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bakeoff.cli",
            "run",
            "--resume",
            "killme",
            "--store",
            str(db),
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["run_id"] == "killme" and len(result["ranking"]) == 2
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT task, model, repeat, COUNT(*) FROM trials GROUP BY 1, 2, 3"
        ).fetchall()
    assert len(rows) == 24 and all(r[3] == 1 for r in rows)


async def test_judges_grade_blind_and_pairwise_catches_position_bias(
    tmp_path: Path, three_models: list[str], isolated_config: Path
) -> None:
    verdict = json.dumps({"criteria": {"correctness": 7}, "overall": 7, "rationale": "fine"})
    always_first = json.dumps({"winner": "1", "rationale": "the first one"})
    judge = write(
        tmp_path,
        "judge",
        {
            "scripts": [
                {"prompt_contains": "Candidate 1", "turns": [{"text": always_first}]},
                {"turns": [{"text": verdict}]},
            ]
        },
    )
    task = make_task(tmp_path / "tasks", "calc")
    with open(task / "task.toml", "a") as f:
        f.write('[judge]\nrubric = "Correct and minimal."\n')
    out = await run_bakeoff(
        BakeoffRequest(models=three_models[:2], tasks=[task], judges=[judge], pairwise=True),
        store=Store(tmp_path / "r.sqlite"),
    )
    for record in out.records:
        assert [j.overall for j in record.judges] == [7.0]
    judging = out.summary.judging
    assert len(judging.judges) == 1 and judging.judges == ["script:judge"]
    # Always 7 and "always 1" head to head: calibration catches it (it cannot tell a fix from
    # no change, and position is no choice), so it is never asked to compare the contestants.
    assert out.summary.judges[0].calibrated is False
    assert judging.pairwise_consistency is None and out.store is not None
    assert out.store.verdicts(out.run_id) == []
    assert all(m.judge_score.value is None for m in out.summary.ranking)


class Recorder(Observer):
    """An Observer that keeps what it was told, as a progress display would."""

    def __init__(self) -> None:
        self.planned_models: list[str] = []
        self.turns: list[tuple[str, str, int, int]] = []
        self.done_models: list[str] = []

    def planned(self, total: int, done: int, models: Any) -> None:
        self.planned_models = list(models)

    def started(self, task: str, model: str, repeat: int) -> None: ...

    def turn(self, task: str, model: str, repeat: int, result: Any) -> None:
        tokens = result.usage.input_tokens + result.usage.output_tokens
        self.turns.append((task, model, result.turns, tokens))

    def finished(self, record: Any) -> None:
        self.done_models.append(record.model)

    def skipped(self, task: str, model: str, repeat: int, reason: str) -> None: ...


async def test_progress_sees_every_turn_under_the_name_the_user_typed(
    tmp_path: Path, isolated_config: Path
) -> None:
    model = write(tmp_path, "careful", solver(GOOD, usage={"input_tokens": 50}))
    task = make_task(tmp_path / "tasks", "calc")
    seen = Recorder()
    store = Store(tmp_path / "r.sqlite")
    out = await run_bakeoff(
        BakeoffRequest(models=[model], tasks=[task], run_id="named"), store=store, observer=seen
    )
    assert seen.planned_models == ["script:careful"] and seen.done_models == ["script:careful"]
    assert [t[:3] for t in seen.turns] == [("calc", "script:careful", n) for n in (1, 2, 3)]
    assert seen.turns[-1][3] == 50  # tokens so far, as the board shows them
    assert [r.model for r in out.records] == ["script:careful"]
    assert str(tmp_path) not in write_run_report(out, tmp_path).read_text(encoding="utf-8")
    # The store keeps the absolute path, so resuming from another folder still finds the script.
    os.chdir(tmp_path / "tasks")
    again = await run_bakeoff(BakeoffRequest(resume="named"), store=store)
    assert [m.model for m in again.summary.ranking] == ["script:careful"]


async def test_the_live_board_shows_each_running_trial_with_turn_time_and_tokens(
    tmp_path: Path, isolated_config: Path
) -> None:
    import io

    from rich.console import Console

    from bakeoff.report.progress import LiveBoard

    slow = [
        {"tool_calls": [{"name": "list_directory", "arguments": {}}], "delay_s": 0.4,
         "usage": {"input_tokens": 1200, "output_tokens": 34}},
        {"text": "done", "delay_s": 0.8},
    ]  # fmt: skip
    model = write(tmp_path, "slowpoke", slow)
    screen = io.StringIO()
    board = LiveBoard(Console(file=screen, force_terminal=True, width=100))
    with board:
        await run_bakeoff(
            BakeoffRequest(models=[model], tasks=[make_task(tmp_path / "tasks", "calc")]),
            store=Store(tmp_path / "r.sqlite"),
            observer=board,
        )
    frames = screen.getvalue()
    assert "running" in frames and "turn" in frames and "elapsed" in frames
    # A frame drawn during the second model request: task, model, turn 1, 1.2k tokens.
    assert any(
        "calc" in line and "script:slowpoke" in line and " 1 " in line and "1.2k" in line
        for line in frames.splitlines()
    ), frames[-3000:]


def unpriced_judge_config(path: Path) -> None:
    # A cloud endpoint whose model is in no price table. The tasks have no [judge] table, so
    # the judge is never asked: the run needs no network.
    path.write_text('[providers.cloud]\nbase_url = "https://cloud.example/v1"\n')


async def test_max_cost_with_an_unpriced_model_refuses_to_start(
    tmp_path: Path, isolated_config: Path
) -> None:
    from bakeoff.config import load_config
    from bakeoff.errors import UserError

    unpriced_judge_config(isolated_config)
    store = Store(tmp_path / "r.sqlite")
    with pytest.raises(UserError, match="cloud:mystery") as refused:
        await run_bakeoff(
            BakeoffRequest(
                models=[write(tmp_path, "good", solver(GOOD))],
                tasks=[make_task(tmp_path / "tasks", "calc")],
                judges=["cloud:mystery"],
                max_cost_usd=1.0,
                preflight=False,
            ),
            store=store,
            config=load_config(isolated_config),
        )
    assert "pass --allow-unpriced to count them as $0" in str(refused.value)
    assert store.list_runs() == []  # nothing ran, nothing stored


async def test_allow_unpriced_runs_and_the_summary_says_what_was_counted_as_free(
    tmp_path: Path, isolated_config: Path
) -> None:
    from bakeoff.config import load_config

    unpriced_judge_config(isolated_config)
    out = await run_bakeoff(
        BakeoffRequest(
            models=[write(tmp_path, "good", solver(GOOD))],
            tasks=[make_task(tmp_path / "tasks", "calc")],
            judges=["cloud:mystery"],
            max_cost_usd=1.0,
            allow_unpriced=True,
            preflight=False,
        ),
        store=Store(tmp_path / "r.sqlite"),
        config=load_config(isolated_config),
    )
    assert [r.status for r in out.records] == ["passed"]
    assert any(
        "no price is known for cloud:mystery" in n and "$0" in n for n in out.summary.notes
    ), out.summary.notes


def test_the_cli_takes_allow_unpriced(
    tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bakeoff.cli import main

    unpriced_judge_config(isolated_config)
    argv = [
        "run",
        str(make_task(tmp_path / "tasks", "calc")),
        "--models",
        write(tmp_path, "good", solver(GOOD)),
        "--judge",
        "cloud:mystery",
        "--max-cost",
        "1",
        "--no-preflight",
        "--store",
        str(tmp_path / "r.sqlite"),
        "--json",
    ]
    assert main(argv) == 2
    assert "--allow-unpriced" in capsys.readouterr().err
    assert main([*argv, "--allow-unpriced"]) == 0
    assert json.loads(capsys.readouterr().out)["ranking"][0]["model"] == "script:good"


class StoreWatcher(Observer):
    """Reads the store through its own connection each time a trial is reported finished."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.running = 0
        self.seen: list[tuple[str, int, int]] = []  # (task, rows stored, trials still running)

    def started(self, task: str, model: str, repeat: int) -> None:
        self.running += 1

    def finished(self, record: Any) -> None:
        self.running -= 1
        with sqlite3.connect(self.db) as con:
            stem = record.model.removeprefix("script:")
            stored = con.execute(
                "SELECT COUNT(*) FROM trials WHERE task = ? AND model LIKE ?",
                (record.task, f"%/{stem}.json"),
            ).fetchone()[0]
            rows = con.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
        assert stored == 1, "a trial is reported finished only once it is in the store"
        self.seen.append((record.task, rows, self.running))


async def test_trials_are_stored_as_they_finish_while_others_still_run(
    tmp_path: Path, isolated_config: Path
) -> None:
    fast = write(tmp_path, "fast", solver(GOOD))
    slow = write(tmp_path, "slow", solver(GOOD, delay=1.5))
    tasks = [make_task(tmp_path / "tasks", f"t{i}") for i in range(3)]
    db = tmp_path / "r.sqlite"
    watcher = StoreWatcher(db)
    await run_bakeoff(
        BakeoffRequest(models=[fast, slow], tasks=tasks), store=Store(db), observer=watcher
    )
    assert [rows for _, rows, _ in watcher.seen] == [1, 2, 3, 4, 5, 6]
    assert watcher.seen[0][2] > 0  # the first was stored while the slow ones still worked


async def test_zero_latency_agents_take_turns_on_one_event_loop(tmp_path: Path) -> None:
    import asyncio

    from bakeoff.agent import run_agent
    from bakeoff.models.scripted import ScriptedModel

    # A call of an unknown tool is answered at once, with no file work in a thread: nothing in
    # a turn waits, so only the loop itself can let the other agent run.
    turns = [{"tool_calls": [{"name": "no_such_tool", "arguments": {}}]}] * 4 + [{"text": "ok"}]
    script = tmp_path / "s.json"
    script.write_text(json.dumps(turns))
    order: list[str] = []

    async def agent(name: str) -> None:
        ws = tmp_path / name
        ws.mkdir()
        await run_agent(
            "look", ScriptedModel(script), ws, on_turn=lambda result: order.append(name)
        )

    await asyncio.gather(agent("a"), agent("b"))
    assert sorted(order) == ["a"] * 5 + ["b"] * 5
    assert "".join(order) != "aaaaabbbbb"  # interleaved: neither agent held the loop
