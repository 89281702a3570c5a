"""One trial: a task, a model and a repeat number, run end to end — a fresh copy of the
fixture, the nano agent in it, the diff of what it changed, its final answer written to
ANSWER.txt, the hidden checks copied in and run, then the judges. The scheduler decides when a
trial runs; this module decides nothing but what a trial is, so the local and Ray executors
share it."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from bakeoff.agent import AgentConfig, run_agent
from bakeoff.evals.checks import arun_check
from bakeoff.evals.diff import snapshot, unified_diff
from bakeoff.evals.judge import judge_trial
from bakeoff.evals.records import JudgeScore, TrialRecord, TrialStatus
from bakeoff.evals.task import TaskSpec, install_hidden, prepare_workspace, write_answer
from bakeoff.models.base import Model
from bakeoff.types import AgentResult


def agent_config_for(task: TaskSpec, base: AgentConfig) -> AgentConfig:
    """The run limits for `task`: the bake-off's, with the task's own overrides."""
    update: dict[str, object] = {"allow_commands": task.allow_commands or base.allow_commands}
    if task.max_turns is not None:
        update["max_turns"] = task.max_turns
    return base.model_copy(update=update)


async def run_trial(
    task: TaskSpec,
    model: Model,
    repeat: int,
    *,
    run_id: str,
    agent_config: AgentConfig,
    judges: Sequence[tuple[Model, AbstractAsyncContextManager[object]]] = (),
    slot: AbstractAsyncContextManager[object] | None = None,
    workdir: Path | None = None,
    keep_workspace: bool = False,
    on_agent_done: Callable[[AgentResult], None] | None = None,
) -> TrialRecord:
    """Run one trial; `slot` is held only while the contestant works (not while grading)."""
    root: Path | None = None
    waited = time.perf_counter()
    try:
        async with slot or contextlib.nullcontext():
            # The workspace is made once the slot is ours: a queue of 10,000 trials holds no
            # directories and no snapshots while it waits.
            slot_wait = time.perf_counter() - waited
            root = Path(tempfile.mkdtemp(prefix="bakeoff-", dir=workdir))
            ws = root / "ws"
            prepare_workspace(task, ws)
            before = snapshot(ws)
            started = time.time()
            result = await run_agent(task.prompt, model, ws, agent_config_for(task, agent_config))
            if on_agent_done is not None:  # before the slot frees: the budget sees this spend
                on_agent_done(result)
        diff = unified_diff(before, ws)
        check = None
        if task.check is not None:
            write_answer(ws, result.answer)
            install_hidden(task, ws)
            check = await arun_check(task, ws)
        scores: list[JudgeScore] = []
        if task.judge is not None:
            for judge, judge_slot in judges:
                async with judge_slot:
                    scores.append(
                        await judge_trial(
                            judge,
                            task_prompt=task.prompt,
                            rubric=task.judge.rubric,
                            answer=result.answer,
                            diff=diff,
                            check_output=None if check is None else check.output,
                            check_passed=None if check is None else check.passed,
                        )
                    )
        status: TrialStatus = (
            "completed"
            if result.ok
            else "error"
            if result.stop_reason == "error"
            else "agent_failed"
        )
        return TrialRecord(
            run_id=run_id,
            task=task.name,
            category=task.category,
            difficulty=task.difficulty,
            model=model.id,
            repeat=repeat,
            status=status,
            agent=result,
            diff=diff,
            check=check,
            judges=scores,
            slot_wait_s=slot_wait,
            started_at=started,
            finished_at=time.time(),
        )
    finally:
        if root is not None and not keep_workspace:  # off the event loop: deletes can be slow
            await asyncio.to_thread(shutil.rmtree, root, True)
