"""Running trials on a Ray cluster, for sweeps that outgrow one machine (`--executor ray`).

The limits live in one place: a `SchedulerActor`, an async Ray actor holding the run's only
`Scheduler`. The driver and every worker reach it through `RemoteLimits`, a thin client with
the scheduler's own methods, so a provider's slots, its requests per minute, the shared local
pool and the budget hold across the whole cluster, exactly as on one machine: the driver takes
a trial's contestant slot (`start`), the worker frees it when the agent is done, its judges
take their provider's slots, and every request waits for its provider's rate cap — the same
`trial.scheduled_trial` as the local executor. A slot a lost worker never freed is freed by
the driver when the trial's call returns or fails (slots are held by ticket).

One async worker actor per node runs the trials it is sent. Each trial ships its task folder as
data, so workers need bakeoff installed but no shared disk; the worker resolves each model by
id once, keeps it until the driver says its last trial is done, and sends each record back as
JSON. The driver keeps the order of work and the store."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bakeoff.config import BakeoffConfig
from bakeoff.errors import UserError
from bakeoff.evals.run.scheduler import Dispatch, Scheduler, TrialJob, close_models
from bakeoff.evals.store.changes import trial_from_json
from bakeoff.evals.store.records import BakeoffSpec, TrialRecord
from bakeoff.evals.trial.task import TaskSpec, load_task
from bakeoff.evals.trial.trial import scheduled_trial
from bakeoff.models.base import Model
from bakeoff.workspace import remove_tree

CLOSE_TIMEOUT_S = 30.0
"""How long the workers get to close their models when the run ends."""


def _ray() -> Any:
    # Ray reports usage to its makers by default; never from here.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise UserError("--executor ray needs Ray: pip install 'bakeoff[ray]'") from None
    return ray


def pack_task(task: TaskSpec) -> dict[str, bytes]:
    """The task folder as {relative path: bytes}."""
    root = task.path
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


class SchedulerActor:
    """A Ray async actor holding the run's one `Scheduler` (its waits are coroutines on the
    actor's event loop, so thousands of callers can wait at once)."""

    def __init__(
        self, config: dict[str, Any], max_parallel: int, max_cost_usd: float | None, spent: float
    ) -> None:
        self.scheduler = Scheduler(
            BakeoffConfig.model_validate(config),
            max_parallel=max_parallel,
            max_cost_usd=max_cost_usd,
            spent_usd=spent,
        )

    async def start(self, model_ids: Sequence[str], ticket: str) -> str | None:
        return await self.scheduler.start(model_ids, ticket)

    async def acquire(self, model_id: str, ticket: str) -> None:
        await self.scheduler.acquire(model_id, ticket)

    async def release(self, ticket: str) -> None:
        await self.scheduler.release(ticket)

    async def reserve(self, model_id: str) -> float:
        return await self.scheduler.reserve(model_id)

    async def spend(self, usd: float) -> None:
        await self.scheduler.spend(usd)


class RemoteLimits:
    """The scheduler's methods, called on its actor; picklable, so it travels to workers."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor

    async def start(self, model_ids: Sequence[str], ticket: str) -> str | None:
        result: str | None = await self.actor.start.remote(list(model_ids), ticket)
        return result

    async def acquire(self, model_id: str, ticket: str) -> None:
        await self.actor.acquire.remote(model_id, ticket)

    async def release(self, ticket: str) -> None:
        await self.actor.release.remote(ticket)

    async def reserve(self, model_id: str) -> float:
        wait: float = await self.actor.reserve.remote(model_id)
        return wait

    async def spend(self, usd: float) -> None:
        await self.actor.spend.remote(usd)


def _unpack(packed: dict[str, bytes], root: Path) -> TaskSpec:
    for rel, data in packed.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return load_task(root)


class TrialWorker:
    """A Ray async actor: one process per node runs many trials at once on its event loop, as
    trials mostly wait on model APIs (a task per trial would cost a process and a CPU each).
    Each model it makes serves its later trials too (one client, or one embedded server, per
    model per node, as on one machine) until the driver retires it after its last trial."""

    def __init__(self) -> None:
        self._models: dict[str, Model] = {}

    def _model(self, model_id: str, config: BakeoffConfig) -> Model:
        if model_id not in self._models:
            from bakeoff.models.registry import resolve_model

            self._models[model_id] = resolve_model(model_id, config)
        return self._models[model_id]

    async def run(
        self,
        packed: dict[str, bytes],
        model_id: str,
        repeat: int,
        spec_json: str,
        config: dict[str, Any],
        limits: RemoteLimits,
        ticket: str,
        queued_s: float,
    ) -> str:
        """One trial: unpack the task, run it under the cluster's limits, return the record
        as JSON."""
        cfg = BakeoffConfig.model_validate(config)
        spec = BakeoffSpec.model_validate_json(spec_json)
        root = Path(tempfile.mkdtemp(prefix="bakeoff-task-"))
        try:
            task = await asyncio.to_thread(_unpack, packed, root)
            record = await scheduled_trial(
                task,
                self._model(model_id, cfg),
                repeat,
                limits=limits,
                ticket=ticket,
                judges={j: self._model(j, cfg) for j in spec.judges},
                config=cfg,
                run_id=spec.run_id,
                agent_config=spec.agent,
                judge_sees_checks=spec.judge_sees_checks,
                queued_s=queued_s,
            )
        finally:
            await asyncio.to_thread(remove_tree, root, ignore_errors=True)
        return record.model_dump_json()

    async def retire(self, model_id: str) -> None:
        model = self._models.pop(model_id, None)
        if model is not None:
            await close_models([model])

    async def close(self) -> None:
        models, self._models = list(self._models.values()), {}
        await close_models(models)


class RayExecutor:
    """Runs trials on a Ray cluster (a new local one when no address is given), under the
    limits of `scheduler`, whose settings seed the cluster's one `SchedulerActor`."""

    def __init__(
        self,
        scheduler: Scheduler,
        spec: BakeoffSpec,
        address: str | None = None,
    ) -> None:
        ray = _ray()
        self._ray = ray
        self._owns = not ray.is_initialized()
        if self._owns:
            ray.init(
                address=address,
                include_dashboard=False,
                log_to_driver=False,
                logging_level="WARNING",
                configure_logging=False,
            )
        config = scheduler.config.model_dump()
        actor = ray.remote(num_cpus=0, max_concurrency=10_000)(SchedulerActor)
        self._scheduler = actor.remote(
            config, scheduler.max_parallel, scheduler.max_cost_usd, scheduler.spent_usd
        )
        # Sent once to the object store; each trial's call names them.
        self._config = ray.put(config)
        self._spec = ray.put(spec.model_dump_json())
        self.limits: Dispatch = RemoteLimits(self._scheduler)
        # One worker per node, spread over the cluster; the scheduler decides how many trials
        # run at once, so the workers accept as many as they are sent.
        nodes = max(1, sum(1 for n in ray.nodes() if n.get("Alive")))
        worker = ray.remote(num_cpus=0, max_concurrency=10_000)(TrialWorker)
        self._workers = [
            worker.options(scheduling_strategy="SPREAD").remote() for _ in range(nodes)
        ]
        self._next = 0
        self._packed: dict[str, Any] = {}
        self._judges = set(spec.judges)

    async def run(self, job: TrialJob, ticket: str, queued_s: float) -> TrialRecord:
        key = str(job.task.path)
        if key not in self._packed:  # one copy of each task in the object store
            self._packed[key] = self._ray.put(pack_task(job.task))
        worker = self._workers[self._next % len(self._workers)]
        self._next += 1
        ref = worker.run.remote(
            self._packed[key],
            job.model,
            job.repeat,
            self._spec,
            self._config,
            self.limits,
            ticket,
            queued_s,
        )
        return trial_from_json(await ref)  # with the files it changed (evals/store/changes.py)

    async def retire(self, model_id: str) -> None:
        if model_id not in self._judges:  # a judge still judges other models' trials
            await asyncio.gather(*(w.retire.remote(model_id) for w in self._workers))

    async def close(self) -> None:
        # Models first (an embedded model's server is a process of its own), then the actors.
        with contextlib.suppress(Exception):
            closing = asyncio.gather(*(w.close.remote() for w in self._workers))
            await asyncio.wait_for(closing, CLOSE_TIMEOUT_S)
        for handle in [*self._workers, self._scheduler]:
            with contextlib.suppress(Exception):
                self._ray.kill(handle)
        if self._owns:
            self._ray.shutdown()
