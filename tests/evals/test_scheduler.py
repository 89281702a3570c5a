"""The scheduler's limits on one event loop (no sleeping: a waiter that can go on does so within
a few loop turns), the plan's order, and the price policy of `--max-cost`."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest

from bakeoff.config import BakeoffConfig, load_config
from bakeoff.evals.run.scheduler import LOCAL_POOL, Plan, Scheduler, unpriced_models
from bakeoff.evals.store.records import BakeoffSpec
from bakeoff.evals.trial.task import JudgeSpec, TaskSpec


def config_of(path: Path, text: str) -> BakeoffConfig:
    path.write_text(text)
    return load_config(path)


async def turns() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def pending(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    return asyncio.ensure_future(coro)


async def test_a_provider_runs_at_most_its_concurrency(isolated_config: Path) -> None:
    cfg = config_of(isolated_config, '[providers.api]\nbase_url = "https://api.example/v1"\n'
                    "concurrency = 2\n")  # fmt: skip
    s = Scheduler(cfg)
    await s.acquire("api:a", "t1")
    await s.acquire("api:b", "t2")  # another model of the same provider: the same slots
    third = pending(s.acquire("api:a", "t3"))
    other = pending(s.acquire("openai:gpt-5", "t4"))  # another provider is not held up
    await turns()
    assert not third.done() and other.done()
    await s.release("t1")
    await turns()
    assert third.done() and s.held() == 3


async def test_a_slot_freed_twice_is_freed_once(isolated_config: Path) -> None:
    cfg = config_of(isolated_config, '[providers.api]\nbase_url = "https://api.example/v1"\n'
                    "concurrency = 1\n")  # fmt: skip
    s = Scheduler(cfg)
    await s.acquire("api:a", "t1")
    await s.release("t1")
    await s.release("t1")  # the trial freed it, then the runner made sure
    await s.acquire("api:a", "t2")
    late = pending(s.acquire("api:a", "t3"))
    await turns()
    assert not late.done()  # one slot, not two
    late.cancel()


async def test_local_servers_share_one_pool(isolated_config: Path) -> None:
    cfg = config_of(
        isolated_config,
        '[providers.llama]\nbase_url = "http://127.0.0.1:8080/v1"\nconcurrency = 4\n'
        '[providers.ollama2]\nbase_url = "http://localhost:11434/v1"\nconcurrency = 4\n'
        '[providers.tunnel]\nbase_url = "http://127.0.0.1:9000/v1"\nshares_machine = false\n',
    )
    s = Scheduler(cfg)
    assert s.pool_of("llama:m") == s.pool_of("ollama2:m") == LOCAL_POOL
    assert s.pool_of("tunnel:m") == "tunnel"  # its own hardware: its own limit
    await s.acquire("llama:m", "t1")  # [providers.local] concurrency = 1 by default
    other = pending(s.acquire("ollama2:m", "t2"))
    tunnel = pending(s.acquire("tunnel:m", "t3"))
    await turns()
    assert not other.done() and tunnel.done()
    await s.release("t1")
    await turns()
    assert other.done()


async def test_a_free_provider_does_not_wait_behind_a_busy_ones_queue(
    isolated_config: Path,
) -> None:
    cfg = config_of(isolated_config, '[providers.slow]\nbase_url = "https://slow.example/v1"\n'
                    "concurrency = 1\n")  # fmt: skip
    s = Scheduler(cfg)
    assert await s.start(["slow:m", "openai:gpt-5"], "t1") == "slow:m"  # first in plan order
    assert await s.start(["slow:m", "openai:gpt-5"], "t2") == "openai:gpt-5"
    waiting = pending(s.start(["slow:m"], "t3"))
    await turns()
    assert not waiting.done()
    await s.release("t1")
    assert await waiting == "slow:m"


async def test_a_spent_budget_starts_nothing_and_takes_no_slot(isolated_config: Path) -> None:
    s = Scheduler(load_config(isolated_config), max_cost_usd=1.0, spent_usd=0.4)
    assert await s.start(["openai:gpt-5"], "t1") == "openai:gpt-5"
    await s.spend(0.6)
    assert s.reached
    assert await s.start(["openai:gpt-5"], "t2") is None
    assert s.held() == 1


async def test_requests_of_a_capped_provider_get_spaced_starts(isolated_config: Path) -> None:
    cfg = config_of(isolated_config, '[providers.api]\nbase_url = "https://api.example/v1"\n'
                    "requests_per_minute = 30\n")  # fmt: skip
    s = Scheduler(cfg)
    waits = [await s.reserve("api:a"), await s.reserve("api:b"), await s.reserve("api:a")]
    assert waits[0] == 0.0
    assert waits[1] == pytest.approx(2.0, abs=0.1) and waits[2] == pytest.approx(4.0, abs=0.1)
    assert await s.reserve("openai:gpt-5") == 0.0  # no cap configured: no wait


def spec_of(models: list[str], repeats: int = 1) -> BakeoffSpec:
    return BakeoffSpec(run_id="r", task_paths=[], task_names=[], models=models, repeats=repeats)


def task(name: str, difficulty: int) -> TaskSpec:
    return TaskSpec(
        name=name,
        prompt="p",
        category="c",
        difficulty=difficulty,
        judge=JudgeSpec(rubric="r"),
        path=Path("/t") / name,
    )


def test_the_plan_puts_hard_work_first_and_local_models_one_after_the_other(
    isolated_config: Path,
) -> None:
    cfg = config_of(
        isolated_config,
        '[providers.la]\nbase_url = "http://127.0.0.1:1/v1"\n'
        '[providers.lb]\nbase_url = "http://127.0.0.1:2/v1"\n',
    )
    plan = Plan.build(
        [task("easy", 1), task("hard", 3)],
        spec_of(["la:m", "openai:gpt-5", "lb:m"]),
        cfg,
        keep=lambda key: key != ("easy", "openai:gpt-5", 0),  # already done
    )
    assert len(plan) == 5 and plan.left_of == {"la:m": 2, "openai:gpt-5": 1, "lb:m": 2}
    order = []
    while (job := plan.pop_next()) is not None:
        order.append((job.task.name, job.model))
    assert order == [
        ("hard", "openai:gpt-5"),
        ("hard", "la:m"),
        ("easy", "la:m"),
        ("hard", "lb:m"),
        ("easy", "lb:m"),
    ]


def test_self_hosted_and_configured_prices_count_as_known(isolated_config: Path) -> None:
    cfg = config_of(
        isolated_config,
        '[providers.cloud]\nbase_url = "https://cloud.example/v1"\n'
        '[providers.rented]\nbase_url = "https://gpu.example/v1"\nhourly_usd = 2.0\n'
        '[prices."cloud:priced"]\ninput = 1.0\noutput = 2.0\n',
    )
    ids = ["cloud:mystery", "cloud:priced", "rented:m", "local:qwen", "script:/x.json",
           "openai:gpt-5-mini"]  # fmt: skip
    assert unpriced_models(ids, cfg) == ["cloud:mystery"]
