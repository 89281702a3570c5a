"""One trial: a task, a model and a repeat number, run end to end — a fresh copy of the
fixture, the nano agent in it, the diff of what it changed, the tamper scan of what it wrote,
its final answer written to ANSWER.txt, the hidden checks copied in and run in the sandbox, then
the judges. The scheduler decides when a trial runs; this module decides nothing but what a
trial is, so the local and Ray executors share it.

A trial never takes the bake-off down: file work runs off the event loop under its own time
limit, and any failure of the harness (a workspace that cannot be copied, diffed or checked)
becomes that trial's `error` record, with the reason, instead of an exception."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from bakeoff.agent import AgentConfig, run_agent
from bakeoff.evals import tamper
from bakeoff.evals.checks import CheckResult, arun_check
from bakeoff.evals.diff import snapshot, unified_diff
from bakeoff.evals.judge import judge_trial
from bakeoff.evals.records import (
    ERROR_STOPS,
    JudgeScore,
    TrialRecord,
    TrialStatus,
    trial_status,
)
from bakeoff.evals.task import TaskSpec, install_hidden, prepare_workspace, write_answer
from bakeoff.models.base import Model
from bakeoff.redact import redact, redact_model
from bakeoff.tools import MAX_WORKSPACE_BYTES, workspace_bytes
from bakeoff.types import AgentResult

FILE_WORK_TIMEOUT_S = 120.0
"""Longest one piece of file work (copy, snapshot, diff, scan, install) may take."""

P = ParamSpec("P")
R = TypeVar("R")


class HarnessError(Exception):
    """bakeoff itself could not run or grade a trial; recorded as the trial's error."""


async def _off_loop(what: str, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Blocking file work in a thread, under its own time limit."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(fn, *args, **kwargs), FILE_WORK_TIMEOUT_S)
    except TimeoutError:
        raise HarnessError(f"{what} took over {FILE_WORK_TIMEOUT_S:g} s") from None
    except (OSError, ValueError, UnicodeError) as exc:
        raise HarnessError(f"{what} failed: {type(exc).__name__}: {exc}") from None


def agent_config_for(task: TaskSpec, base: AgentConfig) -> AgentConfig:
    """The run limits for `task`: the bake-off's, with the task's own overrides."""
    update: dict[str, object] = {
        "allow_commands": task.allow_commands or base.allow_commands,
        "allow_network": task.allow_network or base.allow_network,
    }
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
    judge_sees_checks: bool = False,
    on_turn: Callable[[AgentResult], None] | None = None,
) -> TrialRecord:
    """Run one trial; `slot` is held only while the contestant works (not while grading);
    `on_turn` sees the agent's running result after each model reply (progress displays)."""
    root: Path | None = None
    waited = time.perf_counter()
    started = time.time()
    slot_wait = 0.0
    result: AgentResult | None = None
    diff = ""
    try:
        async with slot or contextlib.nullcontext():
            # The workspace is made once the slot is ours: a queue of 10,000 trials holds no
            # directories and no snapshots while it waits.
            slot_wait = time.perf_counter() - waited
            root = Path(tempfile.mkdtemp(prefix="bakeoff-", dir=workdir))
            ws = root / "ws"
            await _off_loop("copying the fixture", prepare_workspace, task, ws)
            before = await _off_loop("snapshotting the fixture", snapshot, ws)
            started = time.time()
            result = await run_agent(
                task.prompt, model, ws, agent_config_for(task, agent_config), on_turn=on_turn
            )
            result = redact_model(result)  # before judges (another provider) or ANSWER.txt
            if on_agent_done is not None:  # before the slot frees: the budget sees this spend
                on_agent_done(result)
        if result.stop_reason in ERROR_STOPS:  # nothing to grade, and no judge to pay for it
            return _record(task, model, repeat, run_id, result, "error", slot_wait, started)
        after = await _off_loop("snapshotting the workspace", snapshot, ws)
        diff = redact(await _off_loop("diffing the workspace", unified_diff, before, ws, after))
        findings = await _off_loop("scanning for tampering", tamper.scan, before, after)
        check = None
        if task.check is not None:
            network = task.allow_network or agent_config.allow_network
            check = await _grade(task, ws, result, findings, network=network)
        scores = await _judge(task, judges, result, diff, check, findings, judge_sees_checks)
        status = trial_status(result, check)
        return _record(
            task,
            model,
            repeat,
            run_id,
            result,
            status,
            slot_wait,
            started,
            diff,
            check=check,
            judges=scores,
            tamper=findings,
            sandboxed=result.sandboxed and (check is None or check.sandboxed),
        )
    except HarnessError as exc:
        failed = result or AgentResult(
            ok=False, answer="", model=model.id, provider=model.provider, stop_reason="error"
        )
        failed = failed.model_copy(update={"error": redact(f"harness: {exc}")})
        return _record(task, model, repeat, run_id, failed, "error", slot_wait, started, diff)
    finally:
        if root is not None and not keep_workspace:  # off the event loop: deletes can be slow
            await asyncio.to_thread(shutil.rmtree, root, True)


def _record(
    task: TaskSpec,
    model: Model,
    repeat: int,
    run_id: str,
    agent: AgentResult,
    status: TrialStatus,
    slot_wait: float,
    started: float,
    diff: str = "",
    **graded: Any,
) -> TrialRecord:
    """A trial's record, finished now; `graded` holds the check, judges and scan when there
    are any (an error is recorded ungraded)."""
    return TrialRecord(
        run_id=run_id,
        task=task.name,
        category=task.category,
        difficulty=task.difficulty,
        model=model.id,
        repeat=repeat,
        status=status,
        agent=agent,
        diff=diff,
        slot_wait_s=slot_wait,
        started_at=started,
        finished_at=time.time(),
        **graded,
    )


async def _grade(
    task: TaskSpec,
    ws: Path,
    result: AgentResult,
    findings: list[tamper.TamperFinding],
    *,
    network: bool,
) -> CheckResult:
    """Install the answer and hidden files, run the check, then void a pass that the
    contestant forged or that a workspace over its disk limit cannot be trusted with."""
    used = await _off_loop("measuring the workspace", workspace_bytes, ws)
    await _off_loop("writing ANSWER.txt", write_answer, ws, result.answer)
    await _off_loop("installing the hidden checks", install_hidden, task, ws)
    check = await arun_check(task, ws, network=network)
    why = None
    if used > MAX_WORKSPACE_BYTES:
        why = f"the workspace holds {used} bytes, over the {MAX_WORKSPACE_BYTES} byte limit"
    elif tamper.voids(findings):
        why = "the tamper scan found code aimed at the grader:\n" + tamper.describe(findings)
    if why is None or not check.passed:
        return check
    return check.model_copy(
        update={
            "passed": False,
            "tests_passed": None if check.tests_total is None else 0,
            "output": f"{check.output}\n[bakeoff: pass void: {why}]",
        }
    )


async def _judge(
    task: TaskSpec,
    judges: Sequence[tuple[Model, AbstractAsyncContextManager[object]]],
    result: AgentResult,
    diff: str,
    check: CheckResult | None,
    findings: list[tamper.TamperFinding],
    show_check: bool,
) -> list[JudgeScore]:
    if task.judge is None:
        return []
    if findings:  # the judge sees what the scan found, as part of the work under review
        diff = f"[bakeoff tamper scan]\n{tamper.describe(findings)}\n\n{diff}"
    scores: list[JudgeScore] = []
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
                    show_check=show_check,
                )
            )
    return scores
