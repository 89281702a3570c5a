"""The bake-off scheduler: models × tasks × repeats run concurrently, each trial in a fresh
workspace, under per-provider concurrency and request-rate limits (local models share one small
pool because they share the machine; one local model's trials run together, a local trial frees
the pool only once its server is idle, and each model is closed after its last trial, which
stops an embedded model's server), longest expected work first, with a budget cap. Before the
first trial, a preflight makes and reaches every contestant and judge once and stops with one
message naming every model that cannot be used. Every finished trial is written to the store at
once — one that crashed too, as an `error` — so Ctrl-C or a crash loses only the trials in
flight; `resume` runs exactly the ones missing or errored, `retry_errors` only the errored."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bakeoff.agent import AgentConfig
from bakeoff.config import BakeoffConfig, load_config
from bakeoff.errors import UserError
from bakeoff.evals.calibration import (
    apply_calibration,
    calibrate_run,
    uncounted_judges,
)
from bakeoff.evals.model_names import model_labels
from bakeoff.evals.outcomes import BakeoffOutcome, build_outcome, crashed_trial
from bakeoff.evals.records import BakeoffSpec, GradeWeights, TrialRecord
from bakeoff.evals.selection import adhoc_task
from bakeoff.evals.store import Store
from bakeoff.evals.task import TaskSpec, load_tasks
from bakeoff.evals.trial import run_trial
from bakeoff.models.base import Model
from bakeoff.models.preflight import PREFLIGHT_TIMEOUT_S, ready_models
from bakeoff.models.ratelimit import RateLimitedModel, RateLimiter
from bakeoff.models.registry import resolve_model_id
from bakeoff.types import AgentResult

LOCAL_POOL = "local-machine"


class _BudgetReached(Exception):
    """The bake-off's cost cap is reached: start no more trials."""


class Observer:
    """Receives progress; the CLI's live board and the MCP server subclass it. Models are
    named as every report names them (evals/model_names.py); `turn` comes after each model
    reply of a running trial with the agent's result so far (turns, usage, duration)."""

    def planned(self, total: int, done: int, models: Sequence[str]) -> None: ...
    def started(self, task: str, model: str, repeat: int) -> None: ...
    def turn(self, task: str, model: str, repeat: int, result: AgentResult) -> None: ...
    def finished(self, record: TrialRecord) -> None: ...
    def skipped(self, task: str, model: str, repeat: int, reason: str) -> None: ...


__all__ = ["BakeoffOutcome", "Observer", "adhoc_task", "build_outcome", "run_bakeoff"]


@dataclass(order=True)
class _Job:
    priority: float
    task: TaskSpec = field(compare=False)
    model: str = field(compare=False)
    repeat: int = field(compare=False)


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def canonical_model_id(given: str, config: BakeoffConfig) -> str:
    """The stable id a model is stored under: aliases resolved, script paths made absolute."""
    if given.startswith("script:"):
        return "script:" + str(Path(given.split(":", 1)[1]).resolve())
    return resolve_model_id(given, config)


class _Pools:
    """Concurrency slots per provider (one shared pool for everything local) and rate limits."""

    def __init__(self, config: BakeoffConfig) -> None:
        self.config = config
        self.sems: dict[str, asyncio.Semaphore] = {}
        self.limiters: dict[str, RateLimiter] = {}

    def pool_of(self, model_id: str) -> str:
        provider = model_id.split(":", 1)[0]
        return LOCAL_POOL if self.config.provider(provider).in_local_pool else provider

    def slot(self, model_id: str) -> asyncio.Semaphore:
        pool = self.pool_of(model_id)
        if pool not in self.sems:
            limit = (
                self.config.provider("local").concurrency
                if pool == LOCAL_POOL
                else self.config.concurrency_for(model_id)
            )
            self.sems[pool] = asyncio.Semaphore(max(1, limit))
        return self.sems[pool]

    def limited(self, model: Model) -> Model:
        rpm = self.config.rpm_for(model.id)
        if not rpm:
            return model
        limiter = self.limiters.setdefault(model.provider, RateLimiter(rpm))
        return RateLimitedModel(model, limiter)


def expected_cost_of(task: TaskSpec, model_id: str, config: BakeoffConfig) -> float:
    # Longest expected work first: harder tasks and local models take longest.
    return task.difficulty * (4.0 if config.is_local(model_id) else 1.0)


async def run_bakeoff(
    models: Sequence[str] = (),
    tasks: Sequence[str | Path] = (),
    *,
    task_specs: Sequence[TaskSpec] | None = None,
    repeats: int = 1,
    judges: Sequence[str] = (),
    run_id: str | None = None,
    resume: str | None = None,
    retry_errors: str | None = None,
    preflight: bool = True,
    preflight_timeout_s: float = PREFLIGHT_TIMEOUT_S,
    max_cost_usd: float | None = None,
    store: Store | None = None,
    config: BakeoffConfig | None = None,
    agent: AgentConfig | None = None,
    weights: GradeWeights | None = None,
    pairwise: bool = False,
    judge_sees_checks: bool = False,
    observer: Observer | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
    max_parallel: int = 32,
    executor: str = "local",
    ray_address: str | None = None,
) -> BakeoffOutcome:
    """Run (or resume) a bake-off and return its graded outcome. Judges are calibrated first
    (evals/calibration.py); one that fails still grades, but its scores leave quality.
    `resume` continues a stored run (the trials missing or errored); `retry_errors` reruns only
    its errored trials, replacing their records. `preflight` reaches every model first and
    raises `PreflightFailed` naming each one that cannot be used (`bakeoff.models.preflight`)."""
    if executor not in ("local", "ray"):
        raise UserError(f"unknown executor {executor!r}: use local or ray")
    if resume and retry_errors:
        raise UserError("--resume and --retry-errors cannot be combined: choose one")
    config = config or load_config()
    store = store or Store()
    observer = observer or Observer()
    continuing = resume or retry_errors
    if continuing:
        spec = store.get_spec(continuing)
        task_list = load_tasks(spec.task_paths)
    else:
        if not models:
            raise UserError("no models given: pass --models ID,ID,... (see `bakeoff models`)")
        if repeats < 1:
            raise UserError("--repeats must be at least 1")
        task_list = list(task_specs) if task_specs is not None else load_tasks(list(tasks))
        if not task_list:
            raise UserError("no tasks to run")
        typed = [(canonical_model_id(m, config), m) for m in [*models, *judges]]
        model_ids = list(dict.fromkeys(canonical_model_id(m, config) for m in models))
        judge_ids = [canonical_model_id(j, config) for j in judges]
        spec = BakeoffSpec(
            run_id=run_id or new_run_id(),
            task_paths=[str(t.path.resolve()) for t in task_list],
            task_names=[t.name for t in task_list],
            models=model_ids,
            repeats=repeats,
            judges=judge_ids,
            pairwise=pairwise,
            weights=weights or config.weights,
            max_cost_usd=max_cost_usd,
            agent=agent or AgentConfig(),
            judge_sees_checks=judge_sees_checks,
            created_at=time.time(),
            labels=model_labels(typed),
        )
    done = store.done_keys(spec.run_id)  # errors are not done: resume runs them again
    rerun = store.error_keys(spec.run_id) if retry_errors else None
    jobs = sorted(
        _Job(-expected_cost_of(t, m, config), t, m, r)
        for t in task_list
        for m in spec.models
        for r in range(spec.repeats)
        if (t.name, m, r) not in done and (rerun is None or (t.name, m, r) in rerun)
    )
    # The local pool runs one model's trials together (first model first), so each local
    # model's server is loaded for its first trial and stopped after its last (see `one`).
    local_rank = {m: i for i, m in enumerate(spec.models) if _is_local_pool(config, m)}
    jobs.sort(key=lambda j: local_rank.get(j.model, -1))
    left_of = {m: sum(j.model == m for j in jobs) for m in spec.models}
    # Make and reach every model before anything runs: a missing key, a stopped server or a
    # refused key stops the run now, in one message, not as an hour of errored trials.
    contestants, judge_models = await ready_models(
        [m for m in spec.models if any(j.model == m for j in jobs)],
        spec.judges,
        config,
        ping=preflight,
        timeout_s=preflight_timeout_s,
    )
    if continuing:
        store.set_status(spec.run_id, "running")
    else:
        store.create_run(spec)

    pools = _Pools(config)
    total = len(task_list) * len(spec.models) * spec.repeats

    def name(model_id: str) -> str:
        return spec.labels.get(model_id, model_id)

    observer.planned(total, total - len(jobs), [name(m) for m in spec.models])
    progress = {"done": total - len(jobs), "skipped": 0}
    spent = [store.spent_usd(spec.run_id)]
    parallel = asyncio.Semaphore(max_parallel)
    uncounted: frozenset[str] = frozenset()  # judges that failed calibration
    ray_trials = None
    if executor == "ray":
        from bakeoff.evals.ray_executor import RayTrials

        ray_trials = RayTrials(ray_address)

    @contextlib.asynccontextmanager
    async def gate(job: _Job) -> AsyncIterator[None]:
        # The budget is checked once a slot is free, so trials queued behind a busy provider
        # see the spend of the ones that finished meanwhile.
        # The provider's slot first, then a global one: trials queued behind a busy provider
        # must not fill the global window while other providers sit idle.
        async with pools.slot(job.model), parallel:
            if spec.max_cost_usd is not None and spent[0] >= spec.max_cost_usd:
                raise _BudgetReached
            observer.started(job.task.name, name(job.model), job.repeat)
            yield
            # A local server may still be generating for a request its trial gave up on:
            # the slot frees once it is idle, so two local models never generate at once.
            settle = getattr(contestants.get(job.model), "settle", None)
            if settle is not None and pools.pool_of(job.model) == LOCAL_POOL:
                await settle()

    def spend(result: AgentResult) -> None:
        spent[0] += result.cost_usd or 0.0

    async def remote(job: _Job) -> TrialRecord:
        assert ray_trials is not None
        # The provider slot is held for the whole remote trial: limits hold cluster-wide.
        async with gate(job):
            record = await ray_trials.run(job.task, job.model, job.repeat, spec, config)
        spend(record.agent)
        return record

    async def here(job: _Job) -> TrialRecord:
        return await run_trial(
            job.task,
            pools.limited(contestants[job.model]),
            job.repeat,
            run_id=spec.run_id,
            agent_config=spec.agent,
            judges=[(pools.limited(jm), pools.slot(jid)) for jid, jm in judge_models.items()],
            slot=gate(job),
            on_agent_done=spend,
            judge_sees_checks=spec.judge_sees_checks,
            on_turn=lambda result: observer.turn(
                job.task.name, name(job.model), job.repeat, result
            ),
        )

    async def one(job: _Job) -> None:
        started = time.time()
        try:
            record = await (remote(job) if ray_trials is not None else here(job))
        except _BudgetReached:
            progress["skipped"] += 1
            observer.skipped(job.task.name, name(job.model), job.repeat, "budget")
            await close_if_last(job.model)
            return
        except Exception as exc:  # one broken trial must not sink the others: it is an error
            record = crashed_trial(
                run_id=spec.run_id,
                task=job.task.name,
                category=job.task.category,
                difficulty=job.task.difficulty,
                model=job.model,
                repeat=job.repeat,
                exc=exc,
                started_at=started,
                finished_at=time.time(),
            )
        record = apply_calibration(record, uncounted)
        store.add_trial(record)
        progress["done"] += 1
        observer.finished(record.model_copy(update={"model": name(record.model)}))
        if on_progress is not None:
            on_progress(
                progress["done"], total, f"{name(job.model)} · {job.task.name} #{job.repeat}"
            )
        await close_if_last(job.model)

    async def close_if_last(model_id: str) -> None:
        # After a model's last trial its client (and an embedded model's server) is closed.
        left_of[model_id] -= 1
        if left_of[model_id] == 0 and model_id not in judge_models:
            with contextlib.suppress(Exception):
                await contestants[model_id].aclose()

    try:
        if judge_models:  # before any trial, so a judge's standing is known as scores arrive
            calibrations = await calibrate_run(
                store,
                spec.run_id,
                task_list,
                {j: pools.limited(m) for j, m in judge_models.items()},
                pools.slot,
                pairwise=spec.pairwise,
            )
            uncounted = uncounted_judges(list(calibrations.values()))
        await asyncio.gather(*(one(j) for j in jobs))
        if spec.pairwise and judge_models:
            await _judge_pairs(spec, task_list, store, judge_models, pools)
    except BaseException:
        store.set_status(spec.run_id, "interrupted")
        raise
    finally:
        if ray_trials is not None:
            ray_trials.close()
        for m in [*contestants.values(), *judge_models.values()]:
            with contextlib.suppress(Exception):
                await m.aclose()
    left = total - len(store.done_keys(spec.run_id))  # missing or errored
    status = "budget_stopped" if progress["skipped"] else "incomplete" if left else "finished"
    store.set_status(spec.run_id, status)
    return build_outcome(store, spec.run_id, config, budget_skipped=progress["skipped"])


async def _judge_pairs(
    spec: BakeoffSpec,
    tasks: Sequence[TaskSpec],
    store: Store,
    judges: dict[str, Model],
    pools: _Pools,
) -> None:
    """Comparative grading: every pair of models on every (task, repeat), by every judge, in
    both orders (judge_pair asks both); verdicts already stored are not asked again."""
    from itertools import combinations

    from bakeoff.evals.judge import judge_pair

    # An errored trial is no work to compare: its pairs wait until a retry gives it an answer.
    trials = {r.key: r for r in store.trials(spec.run_id) if r.status != "error"}
    have = {(v.task, v.repeat, v.judge, v.model_a, v.model_b) for v in store.verdicts(spec.run_id)}

    async def one(task: TaskSpec, repeat: int, jid: str, a: str, b: str) -> None:
        ta, tb = trials[(task.name, a, repeat)], trials[(task.name, b, repeat)]
        async with pools.slot(jid):
            verdict = await judge_pair(
                pools.limited(judges[jid]),
                task=task.name,
                repeat=repeat,
                task_prompt=task.prompt,
                rubric=task.judge.rubric if task.judge else "",
                a=(a, ta.agent.answer, ta.diff),
                b=(b, tb.agent.answer, tb.diff),
            )
        store.add_verdict(spec.run_id, verdict)

    await asyncio.gather(
        *(
            one(t, r, jid, a, b)
            for t in tasks
            for r in range(spec.repeats)
            for jid in judges
            for a, b in combinations(spec.models, 2)
            if (t.name, a, r) in trials
            and (t.name, b, r) in trials
            and (t.name, r, jid, a, b) not in have
        )
    )


def _is_local_pool(config: BakeoffConfig, model_id: str) -> bool:
    """Takes turns in the shared local pool (`ProviderConfig.in_local_pool`)."""
    try:
        return config.provider(model_id.split(":", 1)[0]).in_local_pool
    except KeyError:
        return False
