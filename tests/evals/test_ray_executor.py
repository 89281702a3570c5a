"""`--executor ray` on a real one-node Ray instance started by the test: same records as the
local executor, same store, resumable, and provider limits held across the cluster."""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bakeoff.config import load_config
from bakeoff.evals.runner import run_bakeoff
from bakeoff.evals.store import Store

pytestmark = pytest.mark.ray

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'bakeoff[ray]'")


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[None]:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def make_task(root: Path, name: str) -> Path:
    folder = root / name
    for sub in ("files", "hidden", "solution"):
        (folder / sub).mkdir(parents=True)
    (folder / "hidden" / "hidden_check.py").write_text(
        "import pathlib, sys\nsys.exit(0 if pathlib.Path('out.txt').read_text() == 'ok' else 1)\n"
    )
    (folder / "solution" / "out.txt").write_text("ok")
    (folder / "task.toml").write_text(
        f'name = "{name}"\nprompt = "Write ok to out.txt"\ncategory = "create"\ndifficulty = 1\n'
        '[check]\ncommand = "python hidden_check.py"\n'
    )
    return folder


def script(tmp: Path, name: str, content: str, delay: float = 0.0) -> str:
    turns: list[dict[str, Any]] = [
        {
            "tool_calls": [
                {"name": "write_file", "arguments": {"path": "out.txt", "content": content}}
            ],
            "delay_s": delay,
        },
        {"text": "done"},
    ]
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(turns))
    return f"script:{path}"


def comparable(records: list[Any]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            r.task,
            Path(r.model).name,
            r.repeat,
            r.status,
            r.passed,
            r.agent.turns,
            r.agent.tool_calls,
            r.diff,
        )
        for r in records
    )


async def test_ray_matches_local_and_resumes(
    ray_instance: None, tmp_path: Path, isolated_config: Path
) -> None:
    tasks = [make_task(tmp_path / "tasks", f"t{i}") for i in range(3)]
    models = [script(tmp_path, "right", "ok"), script(tmp_path, "wrong", "nope")]
    local = await run_bakeoff(models, tasks, store=Store(tmp_path / "local.sqlite"))
    store = Store(tmp_path / "ray.sqlite")
    remote = await run_bakeoff(models, tasks, store=store, executor="ray", run_id="r1")
    assert comparable(remote.records) == comparable(local.records)
    assert [m.model for m in remote.summary.ranking] == [m.model for m in local.summary.ranking]

    # A crash mid-way, as the store sees it: two finished trials are missing.
    with sqlite3.connect(tmp_path / "ray.sqlite") as con:
        con.execute("DELETE FROM trials WHERE rowid IN (SELECT rowid FROM trials LIMIT 2)")
    resumed = await run_bakeoff(resume="r1", store=store, executor="ray")
    assert len(resumed.records) == 6
    with sqlite3.connect(tmp_path / "ray.sqlite") as con:
        counts = con.execute("SELECT COUNT(*) FROM trials GROUP BY task, model, repeat").fetchall()
    assert len(counts) == 6 and {c[0] for c in counts} == {1}


async def test_provider_limit_holds_across_the_cluster(
    ray_instance: None, tmp_path: Path, isolated_config: Path
) -> None:
    isolated_config.write_text('[providers.script]\nkind = "script"\nconcurrency = 1\n')
    tasks = [make_task(tmp_path / "tasks", f"t{i}") for i in range(4)]
    model = script(tmp_path, "slow", "ok", delay=0.3)
    out = await run_bakeoff(
        [model],
        tasks,
        store=Store(tmp_path / "r.sqlite"),
        executor="ray",
        config=load_config(isolated_config),
    )
    spans = sorted((r.started_at, r.finished_at) for r in out.records)
    assert len(spans) == 4
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))
