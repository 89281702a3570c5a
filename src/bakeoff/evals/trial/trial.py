"""One trial: a task, a model and a repeat number, run end to end — a fresh copy of the
fixture, the nano agent in it, the diff of what it changed (and the changed files themselves,
kept for `bakeoff apply`: evals/store/changes.py), the tamper scan of what it wrote,
its final answer written to ANSWER.txt, the hidden checks copied in and run in the sandbox, then
the judges. The scheduler decides when a trial runs; this module decides what a trial is, and
`scheduled_trial` runs one under a scheduler's limits (the `Limits` it is given: the contestant's
provider slot, already taken for it, is held through the agent phase only; each judge takes its
own provider's slot; every request of a provider with a rate cap waits for its turn; spend is
reported to the budget), so the local and Ray executors share it by construction.

A trial never takes the bake-off down: file work on a large tree runs off the event loop under
its own time limit (a small tree's, `fits_inline`, runs on the loop, where it costs less than a
thread hop), and a failure becomes a record, never an exception (`attribute` says whose it is). File
work that fails before the contestant acted (copying the fixture) is the harness's `error`;
after it acted, file work that fails on what it wrote (snapshot, diff, scan, check set-up: an
OS or data error, a timeout) is the contestant's, `failed` as `ungradable: ...` — else a
contestant could launder its failure into an error, which no grade counts. A programming error
is bakeoff's own bug: an `error` with the stop reason `internal`, whenever it happens."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Protocol

from bakeoff.agent import AgentConfig, run_agent
from bakeoff.config import BakeoffConfig
from bakeoff.evals.store.changes import TrialWithChanges, changes_between
from bakeoff.evals.store.records import (
    ERROR_STOPS,
    JudgeScore,
    TrialRecord,
    TrialStatus,
    trial_status,
)
from bakeoff.evals.trial import tamper
from bakeoff.evals.trial.checks import CheckResult, arun_check
from bakeoff.evals.trial.diff import snapshot, unified_diff
from bakeoff.evals.trial.file_work import (
    DATA_ERRORS,
    HarnessError,
    deletes_inline,
    file_work,
    fits_inline,
)
from bakeoff.evals.trial.fixture_image import fixture_image
from bakeoff.evals.trial.judge import judge_trial
from bakeoff.evals.trial.task import TaskSpec, prepare_workspace, write_answer
from bakeoff.models.base import Model
from bakeoff.models.model_id import ModelId
from bakeoff.models.ratelimit import RateLimitedModel
from bakeoff.redact import redact, redact_model
from bakeoff.tools import MAX_WORKSPACE_BYTES, workspace_bytes
from bakeoff.types import AgentResult, StopReason
from bakeoff.workspace import remove_tree


def attribute(exc: Exception, *, acted: bool, step: str) -> tuple[TrialStatus, StopReason, str]:
    """Whose fault `exc` is, raised by `step` of a trial: (status, the agent's stop reason to
    record, why, one line). A programming error is bakeoff's bug (`error`, `internal`); file
    work that failed before the contestant acted is the harness's (`error`); after, on what the
    contestant wrote, it is the contestant's (`failed`, `ungradable`)."""
    detail = str(exc).splitlines()[0][:300] if str(exc).strip() else ""
    if not isinstance(exc, (HarnessError, *DATA_ERRORS)):
        what = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        return "error", "internal", f"internal error (a bakeoff bug) in {step}: {what}"
    if not isinstance(exc, HarnessError):
        detail = f"{step} failed: {type(exc).__name__}" + (f": {detail}" if detail else "")
    if acted:
        return "failed", "completed", f"ungradable: the workspace it left broke {detail}"
    return "error", "error", f"harness: {detail}"


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
    queued_s: float = 0.0,
) -> TrialRecord:
    """Run one trial; `slot` is held only while the contestant works (not while grading);
    `on_turn` sees the agent's running result after each model reply (progress displays);
    `queued_s` is time already spent waiting for the slot before this call (recorded with the
    wait for `slot`)."""
    root: Path | None = None
    left_small = False  # measured after the contestant acted: its tree may go on the loop
    waited = time.perf_counter()
    started = time.time()
    slot_wait = queued_s
    result: AgentResult | None = None
    diff = ""
    acted = False  # whether the contestant has had the workspace: then its bytes are its own
    step = "setting up the trial"
    try:
        async with slot or contextlib.nullcontext():
            # The workspace is made once the slot is ours: a queue of 10,000 trials holds no
            # directories and no snapshots while it waits.
            slot_wait = queued_s + time.perf_counter() - waited
            root = Path(tempfile.mkdtemp(prefix="bakeoff-", dir=workdir))
            ws = root / "ws"
            # A small fixture is written from memory and is its own snapshot (fixture_image).
            if (image := fixture_image(task.files_dir)) is not None:
                before = await file_work(True, "copying the fixture", image.write, ws)
            else:
                small = fits_inline(task.files_dir) if task.files_dir.is_dir() else True
                await file_work(small, "copying the fixture", prepare_workspace, task, ws)
                before = await file_work(small, "snapshotting the fixture", snapshot, ws)
            started = time.time()
            acted, step = True, "running the agent"
            result = await run_agent(
                task.prompt, model, ws, agent_config_for(task, agent_config), on_turn=on_turn
            )
            step = "grading"
            result = redact_model(result)  # before judges (another provider) or ANSWER.txt
            if on_agent_done is not None:  # before the slot frees: the budget sees this spend
                on_agent_done(result)
        if result.stop_reason in ERROR_STOPS:  # nothing to grade, and no judge to pay for it
            return _record(task, model, repeat, run_id, result, "error", slot_wait, started)
        # The contestant's tree is measured before any of it is read on the loop: the walk
        # stops at the limits, so a tree of a million files costs 64 entries here.
        small = left_small = fits_inline(ws)
        after = await file_work(small, "snapshotting the workspace", snapshot, ws)
        diff = await file_work(small, "diffing the workspace", unified_diff, before, ws, after)
        diff = redact(diff)
        # Kept for `bakeoff apply`, apart from the record (evals/store/changes.py).
        changes = await file_work(small, "keeping the changes", changes_between, before, after)
        findings = await file_work(small, "scanning for tampering", tamper.scan, before, after)
        check = None
        if task.check is not None:
            network = task.allow_network or agent_config.allow_network
            check = await _grade(task, ws, result, findings, network=network, inline=small)
        scores = await _judge(task, judges, result, diff, check, findings, judge_sees_checks)
        status = trial_status(result, check)
        record = _record(
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
        return TrialWithChanges(**dict(record), changes=changes)
    except Exception as exc:  # never out of a trial: a record, the fault named (`attribute`)
        status, stop, why = attribute(exc, acted=acted, step=step)
        failed = result or AgentResult(
            ok=False, answer="", model=model.id, provider=model.provider, stop_reason=stop
        )
        update: dict[str, object] = {"error": redact(why)}
        if stop == "internal":
            update.update(stop_reason="internal", ok=False)
        failed = failed.model_copy(update=update)
        return _record(task, model, repeat, run_id, failed, status, slot_wait, started, diff)
    finally:
        if root is not None and not keep_workspace:
            if left_small and deletes_inline(root):
                remove_tree(root, ignore_errors=True)
            else:  # off the event loop: deletes on a disk can be slow
                await asyncio.to_thread(remove_tree, root, ignore_errors=True)


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
    inline: bool,
) -> CheckResult:
    """Write the answer, run the check (on a folder of the fixture, the graded files and the
    hidden files: the workspace itself is only read), then void a pass that the contestant
    forged or that a workspace over its disk limit cannot be trusted with."""
    used = await file_work(inline, "measuring the workspace", workspace_bytes, ws)
    await file_work(inline, "writing ANSWER.txt", write_answer, ws, result.answer)
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


# ---- one trial under a scheduler's limits (both executors) ----------------------------------


class Limits(Protocol):
    """What a trial needs from the scheduler (evals/run/scheduler.py), in this process or through
    a client in another: provider slots held by ticket, request starts, the budget."""

    async def acquire(self, model_id: str, ticket: str) -> None:
        """Wait for a slot of `model_id`'s provider (or the local pool); hold it as `ticket`."""
        ...

    async def release(self, ticket: str) -> None:
        """Free the slot held as `ticket`; nothing when none is (a second release is safe)."""
        ...

    async def reserve(self, model_id: str) -> float:
        """Reserve the next request start of `model_id`'s provider: seconds to wait for it."""
        ...

    async def spend(self, usd: float) -> None:
        """Count `usd` against the budget."""
        ...


class _ProviderPace:
    """A `Pacer` for one model: its provider's request starts, from the scheduler."""

    def __init__(self, limits: Limits, model_id: str) -> None:
        self.limits = limits
        self.model_id = model_id

    async def reserve(self) -> float:
        return await self.limits.reserve(self.model_id)


def paced(model: Model, model_id: str, limits: Limits, config: BakeoffConfig) -> Model:
    """`model` with every request waiting for its provider's rate cap, if it has one."""
    if config.rpm_for(model_id) is None:
        return model
    return RateLimitedModel(model, _ProviderPace(limits, model_id))


class _ContestantSlot:
    """The contestant's provider slot, taken by the scheduler before the trial (as `ticket`):
    on leaving the agent phase it reports the agent's spend, waits for a shared-machine
    server to go idle (so two local models never generate at once), then frees the slot."""

    def __init__(self, limits: Limits, ticket: str, model: Model, settle: bool) -> None:
        self.limits, self.ticket, self.model, self.settle = limits, ticket, model, settle
        self.spent = 0.0

    def agent_done(self, result: AgentResult) -> None:
        self.spent = result.cost_usd or 0.0  # unknown counts as 0: see allow_unpriced

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self.spent:
                await self.limits.spend(self.spent)
            settle = getattr(self.model, "settle", None)
            if self.settle and settle is not None:
                await settle()
        finally:
            await self.limits.release(self.ticket)


class ProviderSlot:
    """A slot of a model's provider (or the local pool), held for one call: a judge's verdict."""

    def __init__(self, limits: Limits, model_id: str) -> None:
        self.limits, self.model_id = limits, model_id
        self.ticket = ""

    async def __aenter__(self) -> None:
        self.ticket = secrets.token_hex(8)
        await self.limits.acquire(self.model_id, self.ticket)

    async def __aexit__(self, *exc: object) -> None:
        await self.limits.release(self.ticket)


async def scheduled_trial(
    task: TaskSpec,
    model: Model,
    repeat: int,
    *,
    limits: Limits,
    ticket: str,
    judges: dict[str, Model],
    config: BakeoffConfig,
    run_id: str,
    agent_config: AgentConfig,
    judge_sees_checks: bool = False,
    on_turn: Callable[[AgentResult], None] | None = None,
    queued_s: float = 0.0,
) -> TrialRecord:
    """`run_trial` under `limits`: the contestant's slot (already held as `ticket`) frees when
    the agent is done, each judge waits for a slot of its own provider, requests keep to their
    provider's rate cap, and the contestant's and judges' spend goes to the budget."""
    pooled = ModelId.stored(model.id, config).pooled
    slot = _ContestantSlot(limits, ticket, model, settle=pooled)
    record = await run_trial(
        task,
        paced(model, model.id, limits, config),
        repeat,
        run_id=run_id,
        agent_config=agent_config,
        judges=[
            (paced(m, jid, limits, config), ProviderSlot(limits, jid)) for jid, m in judges.items()
        ],
        slot=slot,
        on_agent_done=slot.agent_done,
        judge_sees_checks=judge_sees_checks,
        on_turn=on_turn,
        queued_s=queued_s,
    )
    judged = sum(j.cost_usd or 0.0 for j in record.judges)
    if judged:
        await limits.spend(judged)
    return record
