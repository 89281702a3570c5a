"""Running trials on a Ray cluster, for sweeps that outgrow one machine (`--executor ray`):
one async worker actor per node runs the trials it is sent. The driver keeps everything else: scheduling order, per-provider limits (one driver dispatches every
trial, so a provider's limit holds across the whole cluster, not per node), the budget, and the
store. Each trial ships its task folder as data, so workers need bakeoff installed but no shared
disk; the worker resolves the model by id, runs the same `run_trial` as the local executor, and
sends the record back as JSON."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

from bakeoff.agent import AgentConfig
from bakeoff.config import BakeoffConfig
from bakeoff.errors import UserError
from bakeoff.evals.records import BakeoffSpec, TrialRecord
from bakeoff.evals.task import TaskSpec, load_task


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


async def trial_in_worker(
    packed: dict[str, bytes],
    model_id: str,
    repeat: int,
    run_id: str,
    agent_config: dict[str, Any],
    judge_ids: list[str],
    config: dict[str, Any],
    judge_sees_checks: bool = False,
) -> str:
    """One trial on a worker: unpack the task, run it, return the record as JSON."""
    from bakeoff.evals.trial import run_trial
    from bakeoff.models.registry import resolve_model

    cfg = BakeoffConfig.model_validate(config)
    with tempfile.TemporaryDirectory(prefix="bakeoff-task-") as tmp:
        for rel, data in packed.items():
            target = Path(tmp) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        task = load_task(tmp)
        model = resolve_model(model_id, cfg)
        judges = [resolve_model(j, cfg) for j in judge_ids]
        try:
            record = await run_trial(
                task,
                model,
                repeat,
                run_id=run_id,
                agent_config=AgentConfig.model_validate(agent_config),
                judges=[(j, contextlib.nullcontext()) for j in judges],
                judge_sees_checks=judge_sees_checks,
            )
        finally:
            for m in (model, *judges):
                with contextlib.suppress(Exception):
                    await m.aclose()
        return record.model_dump_json()


class TrialWorker:
    """A Ray async actor: one process per node runs many trials at once on its event loop, as
    trials mostly wait on model APIs (a task per trial would cost a process and a CPU each)."""

    async def run(self, *args: Any) -> str:
        return await trial_in_worker(*args)


class RayTrials:
    """Submits trials to a Ray cluster (a new local one when no address is given)."""

    def __init__(self, address: str | None = None) -> None:
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
        # One worker per node, spread over the cluster; the driver's limits decide how many
        # trials run at once, so the actors accept as many as they are sent.
        nodes = max(1, sum(1 for n in ray.nodes() if n.get("Alive")))
        actor = ray.remote(num_cpus=0, max_concurrency=10_000)(TrialWorker)
        self._workers = [actor.options(scheduling_strategy="SPREAD").remote() for _ in range(nodes)]
        self._next = 0
        self._packed: dict[str, Any] = {}

    async def run(
        self, task: TaskSpec, model_id: str, repeat: int, spec: BakeoffSpec, config: BakeoffConfig
    ) -> TrialRecord:
        key = str(task.path)
        if key not in self._packed:  # one copy of each task in the object store
            self._packed[key] = self._ray.put(pack_task(task))
        worker = self._workers[self._next % len(self._workers)]
        self._next += 1
        ref = worker.run.remote(
            self._packed[key],
            model_id,
            repeat,
            spec.run_id,
            spec.agent.model_dump(),
            list(spec.judges),
            config.model_dump(),
            spec.judge_sees_checks,
        )
        return TrialRecord.model_validate_json(await ref)

    def close(self) -> None:
        for worker in self._workers:
            with contextlib.suppress(Exception):
                self._ray.kill(worker)
        if self._owns:
            self._ray.shutdown()
