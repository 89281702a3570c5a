"""The bake-off: plan → scheduler → executor (evals/run/scheduler.py). The `Plan` is every trial
still to run, in order; the `Scheduler` owns every limit (provider slots, the shared local pool,
requests per minute, trials in flight, the budget); an executor (`LocalExecutor`, or
`RayExecutor` on a cluster) runs trials under those limits. `max_parallel` workers take trials
from the plan: 100,000 trials are that many in flight, not 100,000 waiting coroutines. First a
preflight reaches every contestant and judge once (one message names every unusable model) and
judges are calibrated. Every finished trial goes to the store at once — a crashed one as an
`error` — and is not kept here: the outcome is graded from the store, so a crash loses only the
trials in flight; `resume` runs the ones missing or errored, `retry_errors` only the errored."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Iterator, Sequence

from bakeoff.agent import AgentConfig
from bakeoff.config import BakeoffConfig, load_config
from bakeoff.errors import UnknownModelError, UserError
from bakeoff.evals.observer import Observer
from bakeoff.evals.run.request import BakeoffRequest, choose_tasks, resolve_run_id
from bakeoff.evals.run.scheduler import (
    Dispatch,
    Executor,
    LocalExecutor,
    Plan,
    Scheduler,
    TrialJob,
    close_models,
    unpriced_models,
)
from bakeoff.evals.run.selection import adhoc_task
from bakeoff.evals.store.records import BakeoffSpec
from bakeoff.evals.store.rows import RowReader
from bakeoff.evals.store.store import Store
from bakeoff.evals.trial.task import TaskSpec, load_tasks
from bakeoff.evals.trial.trial import ProviderSlot, paced
from bakeoff.evals.verdict.calibration import apply_calibration, calibrate_run, uncounted_judges
from bakeoff.evals.verdict.model_names import model_labels
from bakeoff.evals.verdict.outcomes import BakeoffOutcome, build_outcome, crashed_trial
from bakeoff.evals.verdict.sequential import replay
from bakeoff.evals.verdict.trial_quality import trial_quality
from bakeoff.models.base import Model
from bakeoff.models.model_id import ModelId
from bakeoff.models.preflight import ready_models
from bakeoff.types import AgentResult

__all__ = [
    "BakeoffOutcome",
    "BakeoffRequest",
    "Observer",
    "adhoc_task",
    "build_outcome",
    "run_bakeoff",
]


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


async def run_bakeoff(
    request: BakeoffRequest,
    *,
    store: Store | None = None,
    config: BakeoffConfig | None = None,
    observer: Observer | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> BakeoffOutcome:
    """Run (or resume) the bake-off `request` asks for and return its graded outcome; a new
    run's tasks are `choose_tasks` of it (ad-hoc ones beside the store). Judges are calibrated
    first (evals/verdict/calibration.py); one that fails still grades, but its scores leave
    quality. `resume` continues a stored run (the trials missing or errored); `retry_errors`
    reruns only its errored trials, replacing their records. Every model is made first and, with
    `preflight`, reached with one chat request for one output token; `PreflightFailed` names
    each one that cannot be used (`bakeoff.models.preflight`). `max_cost_usd` stops starting
    trials once contestants and judges have spent it; a model with no known price makes it a UserError before anything
    runs, unless `allow_unpriced` (then those count as $0 and the summary says so).
    `until_decided` adds repeats to undecided pairs after the planned ones (`_until_decided`;
    a resumed run continues its own, --retry-errors adds none). `observer` is told the
    progress, `on_progress(done, total, where)` too after each stored trial."""
    config, store, observer = config or load_config(), store or Store(), observer or Observer()
    spec, task_list, plan = _plan(request, store, config)
    continuing, retry_errors, max_parallel = (
        request.continues,
        request.retry_errors,
        request.max_parallel,
    )
    notes = _price_policy(spec, config, request.allow_unpriced)
    # Make and reach every model before anything runs: a missing key, a stopped server or a
    # refused key stops the run now, in one message, not as an hour of errored trials.
    ready = await ready_models(
        [m for m in spec.models if plan.left_of.get(m)],
        spec.judges,
        config,
        ping=request.preflight,
        timeout_s=request.preflight_timeout_s,
    )
    contestants, judge_models = ready.contestants, ready.judges
    if (probed := ready.note()) is not None:
        notes.append(probed)
    if continuing:
        store.set_status(spec.run_id, "running")
    else:
        store.create_run(spec)
    scheduler = Scheduler(
        config,
        max_parallel=max_parallel,
        max_cost_usd=spec.max_cost_usd,
        spent_usd=store.spent_usd(spec.run_id) + (ready.spent_usd or 0.0),
    )
    total = len(task_list) * len(spec.models) * spec.repeats
    run = _Run(spec, store, observer, on_progress, plan, total)
    observer.planned(total, run.done, [run.name(m) for m in spec.models])
    runner: Executor | None = None
    try:
        if request.executor == "ray":
            from bakeoff.evals.run.ray_executor import RayExecutor

            runner = RayExecutor(scheduler, spec, request.ray_address)
        else:
            runner = LocalExecutor(scheduler, spec, contestants, judge_models, run.turn)
        limits = runner.limits
        if judge_models:  # before any trial, so a judge's standing is known as scores arrive
            calibrations = await calibrate_run(
                store,
                spec.run_id,
                task_list,
                {j: paced(m, j, limits, config) for j, m in judge_models.items()},
                _alone(scheduler),
                pairwise=spec.pairwise,
            )
            run.uncounted = uncounted_judges(list(calibrations.values()))
            await limits.spend(sum(c.cost_usd or 0.0 for c in calibrations.values()))
        await run.drain(runner, scheduler.max_parallel)
        if spec.until_decided is not None and not retry_errors:
            await _until_decided(run, runner, scheduler, task_list)
        # A judge that failed calibration is not asked head to head: its verdicts would not count.
        pairing = {j: m for j, m in judge_models.items() if j not in run.uncounted}
        if spec.pairwise and pairing:
            await _judge_pairs(spec, task_list, store, pairing, limits, config, max_parallel)
    except BaseException:
        store.set_status(spec.run_id, "interrupted")
        raise
    finally:
        if runner is not None:
            await runner.close()
        await close_models([*contestants.values(), *judge_models.values()])
    planned_done = {k for k in store.done_keys(spec.run_id) if k[2] < spec.repeats}
    left = total - len(planned_done)  # missing or errored (extra repeats are not planned)
    status = "budget_stopped" if run.skipped else "incomplete" if left else "finished"
    store.set_status(spec.run_id, status)
    return build_outcome(store, spec.run_id, config, budget_skipped=run.skipped, notes=notes)


def _plan(
    request: BakeoffRequest, store: Store, config: BakeoffConfig
) -> tuple[BakeoffSpec, list[TaskSpec], Plan]:
    """The run's spec, its tasks and the trials still to run: a new run's from the request,
    a continued one's from the store (`latest` made the newest run's id); errored trials are
    not done, so a resumed run runs them again, a retried one only them."""
    if request.continues:
        spec = store.get_spec(resolve_run_id(store, request.continues))
        task_list = load_tasks(spec.task_paths)
    else:
        task_list = choose_tasks(request, store.path.parent / "adhoc")
        spec = _new_spec(request, task_list, config)
    done = store.done_keys(spec.run_id)
    rerun = store.error_keys(spec.run_id) if request.retry_errors else None
    plan = Plan.build(
        task_list, spec, config, lambda key: key not in done and (rerun is None or key in rerun)
    )
    return spec, task_list, plan


def _new_spec(
    request: BakeoffRequest, task_list: list[TaskSpec], config: BakeoffConfig
) -> BakeoffSpec:
    """The spec of a new run, with every model id resolved (an unknown one raises here)."""
    parsed = parse_models([*request.models, *request.judges], config)
    models, judges = parsed[: len(request.models)], parsed[len(request.models) :]
    return BakeoffSpec(
        run_id=request.run_id or new_run_id(),
        task_paths=[str(t.path.resolve()) for t in task_list],
        task_names=[t.name for t in task_list],
        models=list(dict.fromkeys(str(m) for m in models)),
        repeats=request.repeats,
        judges=[str(j) for j in judges],
        pairwise=request.pairwise,
        weights=request.weights or config.weights,
        max_cost_usd=request.max_cost_usd,
        agent=request.agent or AgentConfig(protected=config.protected),
        judge_sees_checks=request.judge_sees_checks,
        created_at=time.time(),
        labels=model_labels(parsed),
        tags=dict(request.tags),
        until_decided=request.until_decided,
    )


def parse_models(typed: Sequence[str], config: BakeoffConfig) -> list[ModelId]:
    """Each model as typed, parsed (`ModelId.parse`: stored by its full id, shown as typed);
    every unknown one is named in one error."""
    out: list[ModelId] = []
    unknown: list[UnknownModelError] = []
    for model in typed:
        try:
            out.append(ModelId.parse(model, config))
        except UnknownModelError as exc:
            unknown.append(exc)
    if len(unknown) == 1:
        raise unknown[0]
    if unknown:
        named = "; ".join(str(e).split(" use an alias", 1)[0] for e in unknown)
        raise UnknownModelError(f"{len(unknown)} unknown models: {named} (see `bakeoff models`)")
    return out


def _price_policy(spec: BakeoffSpec, config: BakeoffConfig, allow_unpriced: bool) -> list[str]:
    """A budget counts only known prices: refuse one that would miss spend, unless allowed;
    the summary's note when allowed."""
    if spec.max_cost_usd is None:
        return []
    unpriced = [
        spec.labels.get(m, m) for m in unpriced_models([*spec.models, *spec.judges], config)
    ]
    if not unpriced:
        return []
    names = ", ".join(unpriced)
    if not allow_unpriced:
        raise UserError(
            f"--max-cost cannot count the spend of {names}: no price is known for "
            f'{"it" if len(unpriced) == 1 else "them"}. Set one under [prices."ID"] in the '
            "config, or pass --allow-unpriced to count them as $0"
        )
    return [
        f"Budget cap ${spec.max_cost_usd:g}: no price is known for {names}, so their spend "
        "counted as $0 toward it (--allow-unpriced)."
    ]


def _alone(scheduler: Scheduler) -> Callable[[str], asyncio.Semaphore]:
    """Provider slots for calibration: it runs before any trial, alone, so a semaphore of each
    pool's size holds the same limit as the scheduler's slots."""
    pools: dict[str, asyncio.Semaphore] = {}

    def slot_of(model_id: str) -> asyncio.Semaphore:
        pool = scheduler.pool_of(model_id)
        if pool not in pools:
            pools[pool] = asyncio.Semaphore(scheduler.capacity(pool, model_id))
        return pools[pool]

    return slot_of


class _Run:
    """A bake-off's progress: workers take trials from the plan, store each as it finishes,
    and tell the observer."""

    def __init__(
        self,
        spec: BakeoffSpec,
        store: Store,
        observer: Observer,
        on_progress: Callable[[int, int, str], None] | None,
        plan: Plan,
        total: int,
    ) -> None:
        self.spec, self.store, self.observer, self.plan = spec, store, observer, plan
        self.on_progress = on_progress
        self.total = total
        self.done = total - len(plan)
        self.skipped = 0
        self.uncounted: frozenset[str] = frozenset()  # judges that failed calibration

    def name(self, model_id: str) -> str:
        return self.spec.labels.get(model_id, model_id)

    def turn(self, job: TrialJob, result: AgentResult) -> None:
        self.observer.turn(job.task.name, self.name(job.model), job.repeat, result)

    def extend(self, jobs: Sequence[TrialJob]) -> None:
        """Make `jobs` the plan (more trials than planned: `--until-decided`); the observer
        is told the new total."""
        self.plan = Plan(jobs)
        self.total += len(jobs)
        if jobs:
            models = [self.name(m) for m in dict.fromkeys(j.model for j in jobs)]
            self.observer.planned(self.total, self.done, models)

    async def drain(self, executor: Executor, workers: int) -> None:
        """Run the plan with `workers` workers; on a failure the others are cancelled."""
        tasks = [
            asyncio.create_task(self._work(executor)) for _ in range(min(workers, len(self.plan)))
        ]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _work(self, executor: Executor) -> None:
        limits = executor.limits
        while models := self.plan.models():
            ticket = secrets.token_hex(8)
            asked = time.perf_counter()
            model = await limits.start(models, ticket)
            job = self.plan.pop_next() if model is None else self.plan.pop(model)
            if job is None:  # another worker took the last trial of this model meanwhile
                await limits.release(ticket)
            elif model is None:
                self.skipped += 1
                self.observer.skipped(job.task.name, self.name(job.model), job.repeat, "budget")
                await self._finish(executor, job.model)
            else:
                try:
                    await self._one(executor, job, ticket, time.perf_counter() - asked)
                finally:
                    await limits.release(ticket)  # if the trial could not (a lost worker)

    async def _one(self, executor: Executor, job: TrialJob, ticket: str, queued: float) -> None:
        self.observer.started(job.task.name, self.name(job.model), job.repeat)
        started = time.time()
        try:
            record = await executor.run(job, ticket, queued)
        except Exception as exc:  # one broken trial must not sink the others: it is an error
            record = crashed_trial(
                run_id=self.spec.run_id,
                task=job.task.name,
                category=job.task.category,
                difficulty=job.task.difficulty,
                model=job.model,
                repeat=job.repeat,
                exc=exc,
                started_at=started,
                finished_at=time.time(),
            )
        record = apply_calibration(record, self.uncounted)
        self.store.add_trial(record)
        self.done += 1
        self.observer.finished(record.model_copy(update={"model": self.name(record.model)}))
        if self.on_progress is not None:
            where = f"{self.name(job.model)} · {job.task.name} #{job.repeat}"
            self.on_progress(self.done, self.total, where)
        await self._finish(executor, job.model)

    async def _finish(self, executor: Executor, model_id: str) -> None:
        if self.plan.finish(model_id):
            await executor.retire(model_id)


async def _until_decided(
    run: _Run, executor: Executor, scheduler: Scheduler, tasks: Sequence[TaskSpec]
) -> None:
    """`--until-decided`: one more repeat at a time, of the models in undecided pairs on the
    compared tasks (evals/verdict/sequential.py), until every pair is decided, the extra repeats reach
    the spec's limit or the budget is spent. Extra repeats are stored as repeats
    `spec.repeats`, `spec.repeats + 1`...; those already stored (a resumed run) are not rerun."""
    spec, by_name = run.spec, {t.name: t for t in tasks}
    assert spec.until_decided is not None
    reader = RowReader(uncounted=run.uncounted)
    for extra in range(1, spec.until_decided.max_repeats + 1):
        rows = run.store.trial_rows(spec.run_id, reader)
        state = replay(spec, rows, lambda r: trial_quality(r, spec.weights), upto=extra - 1)
        wanted, repeat = state.wanted(), spec.repeats + extra - 1
        if not wanted or scheduler.reached:
            return
        done = run.store.done_keys(spec.run_id)
        run.extend(
            [
                TrialJob(by_name[t], m, repeat)
                for t in state.tasks()
                for m in spec.models
                if m in wanted and t in by_name and (t, m, repeat) not in done
            ]
        )
        await run.drain(executor, scheduler.max_parallel)


async def _judge_pairs(
    spec: BakeoffSpec,
    tasks: Sequence[TaskSpec],
    store: Store,
    judges: dict[str, Model],
    limits: Dispatch,
    config: BakeoffConfig,
    workers: int,
) -> None:
    """Comparative grading: every pair of models on every (task, repeat), by every judge, in
    both orders (judge_pair asks both), each judge in a slot of its provider; verdicts already
    stored are not asked again."""
    from itertools import combinations

    from bakeoff.evals.trial.judge import judge_pair

    # An errored trial is no work to compare: its pairs wait until a retry gives it an answer.
    trials = {r.key: r for r in store.trials(spec.run_id) if r.status != "error"}
    have = {(v.task, v.repeat, v.judge, v.model_a, v.model_b) for v in store.verdicts(spec.run_id)}
    todo: Iterator[tuple[TaskSpec, int, str, str, str]] = (
        (t, r, jid, a, b)
        for t in tasks
        for r in range(spec.repeats)
        for jid in judges
        for a, b in combinations(spec.models, 2)
        if (t.name, a, r) in trials
        and (t.name, b, r) in trials
        and (t.name, r, jid, a, b) not in have
    )

    async def work() -> None:
        for task, repeat, jid, a, b in todo:  # one shared iterator: each pair asked once
            ta, tb = trials[(task.name, a, repeat)], trials[(task.name, b, repeat)]
            async with ProviderSlot(limits, jid):
                verdict = await judge_pair(
                    paced(judges[jid], jid, limits, config),
                    task=task.name,
                    repeat=repeat,
                    task_prompt=task.prompt,
                    rubric=task.judge.rubric if task.judge else "",
                    a=(a, ta.agent.answer, ta.diff),
                    b=(b, tb.agent.answer, tb.diff),
                )
            await limits.spend(verdict.cost_usd or 0.0)
            store.add_verdict(spec.run_id, verdict)

    await asyncio.gather(*(work() for _ in range(max(1, workers))))
