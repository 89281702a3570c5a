"""The bake-off's limits and its order of work. `Plan` is the trials to run, in order: longest
expected work first, and the models of the shared local pool one after the other (first given
first), so each local model's server is loaded for its first trial and stopped after its last.
`Scheduler` owns every limit: concurrency slots per provider (one shared pool, of size
`[providers.local] concurrency`, for every provider whose models share this machine), request
starts per provider (`requests_per_minute`), the number of trials in flight (`max_parallel`),
and the budget (`max_cost_usd`). Slots are held by ticket, so a slot freed twice — by the
trial, then by the runner making sure — is freed once. Executors run one trial each under
these limits: `LocalExecutor` here, `RayExecutor` (evals/run/ray_executor.py) on a cluster, both
through `trial.scheduled_trial`, so they behave the same by construction.

Unknown prices: `--max-cost` can only count what it can price, so a run with a cap refuses to
start while a contestant or judge has no known price (`unpriced_models`), unless the user
accepts counting those as $0 (`--allow-unpriced`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from bakeoff.config import BakeoffConfig
from bakeoff.evals.store.records import BakeoffSpec, TrialRecord
from bakeoff.evals.trial.task import TaskSpec
from bakeoff.evals.trial.trial import Limits, scheduled_trial
from bakeoff.models.base import Model
from bakeoff.models.model_id import ModelId, provider_of
from bakeoff.models.ratelimit import RateLimiter
from bakeoff.types import AgentResult

LOCAL_POOL = "local-machine"
"""The pool name of every provider whose models share this machine."""


@dataclass(frozen=True)
class TrialJob:
    task: TaskSpec
    model: str
    repeat: int


class Plan:
    """The trials still to start, in order; taken per model (`pop`) so a free provider never
    waits behind a busy one's queue."""

    def __init__(self, jobs: Iterable[TrialJob]) -> None:
        self._queues: dict[str, deque[tuple[int, TrialJob]]] = {}
        for seq, job in enumerate(jobs):
            self._queues.setdefault(job.model, deque()).append((seq, job))
        self.left_of = {m: len(q) for m, q in self._queues.items()}
        """Trials of each model not yet finished or skipped (`finish` counts them down)."""

    @classmethod
    def build(
        cls,
        tasks: Sequence[TaskSpec],
        spec: BakeoffSpec,
        config: BakeoffConfig,
        keep: Callable[[tuple[str, str, int]], bool],
    ) -> Plan:
        """Every (task, model, repeat) of `spec` that `keep` accepts, in the order they start."""
        jobs = [
            TrialJob(t, m, r)
            for t in tasks
            for m in spec.models
            for r in range(spec.repeats)
            if keep((t.name, m, r))
        ]
        # Longest expected work first: harder tasks and local models take longest.
        local = {m: _is_local(config, m) for m in spec.models}
        jobs.sort(key=lambda j: -j.task.difficulty * (4.0 if local[j.model] else 1.0))
        local_rank = {m: i for i, m in enumerate(spec.models) if _in_local_pool(config, m)}
        jobs.sort(key=lambda j: local_rank.get(j.model, -1))
        return cls(jobs)

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def models(self) -> list[str]:
        """Models with trials left to start, by the place of their next trial in the plan."""
        heads = [(q[0][0], m) for m, q in self._queues.items() if q]
        return [m for _, m in sorted(heads)]

    def pop(self, model: str) -> TrialJob | None:
        """The next trial of `model`, or None when none is left."""
        queue = self._queues.get(model)
        return queue.popleft()[1] if queue else None

    def pop_next(self) -> TrialJob | None:
        """The next trial of any model."""
        models = self.models()
        return self.pop(models[0]) if models else None

    def finish(self, model: str) -> bool:
        """Count one trial of `model` done; True when it was its last."""
        self.left_of[model] -= 1
        return self.left_of[model] == 0


class Dispatch(Limits, Protocol):
    """The limits as the runner sees them: a trial starts by taking its contestant's slot."""

    async def start(self, model_ids: Sequence[str], ticket: str) -> str | None:
        """Wait until a provider slot of one of `model_ids` is free, take the first that is
        (in the order given) as `ticket`, and return its model; None, with no slot taken,
        when the budget is reached."""
        ...


class Scheduler:
    """Every limit of one bake-off, on one event loop (see the module docstring). For Ray,
    one async actor holds the only instance, so the limits hold across the cluster."""

    def __init__(
        self,
        config: BakeoffConfig,
        *,
        max_parallel: int = 32,
        max_cost_usd: float | None = None,
        spent_usd: float = 0.0,
    ) -> None:
        self.config = config
        self.max_parallel = max(1, max_parallel)
        self.max_cost_usd = max_cost_usd
        self.spent_usd = spent_usd
        self._free: dict[str, int] = {}
        self._pools: dict[str, str] = {}  # model id -> pool
        self._held: dict[str, str] = {}  # ticket -> pool
        self._limiters: dict[str, RateLimiter] = {}
        self._changed = asyncio.Condition()

    def pool_of(self, model_id: str) -> str:
        """The pool whose slots `model_id` takes: its provider's, or the shared local pool."""
        pool = self._pools.get(model_id)
        if pool is None:  # asked on every wake-up of every waiter: worked out once per model
            pool = LOCAL_POOL if _in_local_pool(self.config, model_id) else provider_of(model_id)
            self._pools[model_id] = pool
        return pool

    def capacity(self, pool: str, model_id: str) -> int:
        if pool == LOCAL_POOL:
            return max(1, self.config.provider("local").concurrency)
        return max(1, self.config.concurrency_for(model_id))

    @property
    def reached(self) -> bool:
        """Whether the budget is spent: no more trials start."""
        return self.max_cost_usd is not None and self.spent_usd >= self.max_cost_usd

    def _room(self, model_id: str) -> bool:
        pool = self.pool_of(model_id)
        if pool not in self._free:
            self._free[pool] = self.capacity(pool, model_id)
        return self._free[pool] > 0

    def _take(self, model_id: str, ticket: str) -> None:
        pool = self.pool_of(model_id)
        self._free[pool] -= 1
        self._held[ticket] = pool

    async def start(self, model_ids: Sequence[str], ticket: str) -> str | None:
        # The budget is checked once a slot is free, so trials queued behind a busy provider
        # see the spend of the ones that finished meanwhile.
        async with self._changed:
            await self._changed.wait_for(lambda: any(self._room(m) for m in model_ids))
            if self.reached:
                return None
            model = next(m for m in model_ids if self._room(m))
            self._take(model, ticket)
            return model

    async def acquire(self, model_id: str, ticket: str) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self._room(model_id))
            self._take(model_id, ticket)

    async def release(self, ticket: str) -> None:
        async with self._changed:
            pool = self._held.pop(ticket, None)
            if pool is not None:
                self._free[pool] += 1
                self._changed.notify_all()

    async def reserve(self, model_id: str) -> float:
        rpm = self.config.rpm_for(model_id)
        if not rpm:
            return 0.0
        limiter = self._limiters.setdefault(provider_of(model_id), RateLimiter(rpm))
        return limiter.take()

    async def spend(self, usd: float) -> None:
        self.spent_usd += usd

    def held(self) -> int:
        """Slots held now, over every pool."""
        return len(self._held)


def unpriced_models(model_ids: Iterable[str], config: BakeoffConfig) -> list[str]:
    """The models whose price is unknown (`ModelId.price`: a configured price, a self-hosted
    model — local, scripted, billed by the hour — or the price table); an id whose provider is
    not configured has none."""
    parsed = {m: ModelId.stored_or_none(m, config) for m in model_ids}
    return [m for m, model in parsed.items() if model is None or model.price is None]


class Executor(Protocol):
    """Runs trials under the limits of one scheduler, reached through `limits`."""

    limits: Dispatch

    async def run(self, job: TrialJob, ticket: str, queued_s: float) -> TrialRecord:
        """Run `job`, whose contestant slot `limits.start` gave as `ticket`."""
        ...

    async def retire(self, model_id: str) -> None:
        """No more trials of `model_id` will run here."""
        ...

    async def close(self) -> None: ...


class LocalExecutor:
    """Runs each trial on this event loop, with models made once for the whole run."""

    def __init__(
        self,
        scheduler: Scheduler,
        spec: BakeoffSpec,
        contestants: dict[str, Model],
        judges: dict[str, Model],
        on_turn: Callable[[TrialJob, AgentResult], None],
    ) -> None:
        self.limits: Dispatch = scheduler
        self.config = scheduler.config
        self.spec = spec
        self.contestants = contestants
        self.judges = judges
        self.on_turn = on_turn

    async def run(self, job: TrialJob, ticket: str, queued_s: float) -> TrialRecord:
        return await scheduled_trial(
            job.task,
            self.contestants[job.model],
            job.repeat,
            limits=self.limits,
            ticket=ticket,
            judges=self.judges,
            config=self.config,
            run_id=self.spec.run_id,
            agent_config=self.spec.agent,
            judge_sees_checks=self.spec.judge_sees_checks,
            on_turn=lambda result: self.on_turn(job, result),
            queued_s=queued_s,
        )

    async def retire(self, model_id: str) -> None:
        # After a model's last trial its client (and an embedded model's server) is closed.
        if model_id not in self.judges and model_id in self.contestants:
            await close_models([self.contestants[model_id]])

    async def close(self) -> None:
        return None  # the models are the runner's: it made them, it closes them


async def close_models(models: Iterable[Model]) -> None:
    """Close each model's client (and an embedded model's server); a second close is safe."""
    for model in models:
        with contextlib.suppress(Exception):  # a client that fails to close loses no result
            await model.aclose()


def _is_local(config: BakeoffConfig, model_id: str) -> bool:
    """Runs on this machine (`ModelId.local`), so its trials take longest."""
    model = ModelId.stored_or_none(model_id, config)
    return model is not None and model.local


def _in_local_pool(config: BakeoffConfig, model_id: str) -> bool:
    """Takes turns in the shared local pool (`ModelId.pooled`)."""
    model = ModelId.stored_or_none(model_id, config)
    return model is not None and model.pooled
