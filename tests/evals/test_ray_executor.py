"""`--executor ray` on a real one-node Ray instance started by the test: same records as the
local executor, same store, resumable; and the limits — a provider's concurrency with its judges
in it, its requests per minute, the shared local pool — hold the same on both executors, as a
loopback server that speaks the OpenAI wire format sees its requests arrive."""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from models.wire_servers import SlowServer

from bakeoff.config import load_config
from bakeoff.evals.run.runner import BakeoffRequest, run_bakeoff
from bakeoff.evals.store.store import Store

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
    local = await run_bakeoff(
        BakeoffRequest(models=models, tasks=tasks), store=Store(tmp_path / "local.sqlite")
    )
    store = Store(tmp_path / "ray.sqlite")
    remote = await run_bakeoff(
        BakeoffRequest(models=models, tasks=tasks, executor="ray", run_id="r1"), store=store
    )
    assert comparable(remote.records) == comparable(local.records)
    assert [m.model for m in remote.summary.ranking] == [m.model for m in local.summary.ranking]
    right = store.get_spec("r1").models[0]
    kept = store.trial_changes("r1", "t0", right, 0).files  # sent back for `bakeoff apply`
    assert [(f.path, f.content) for f in kept] == [("out.txt", b"ok")]

    # A crash mid-way, as the store sees it: two finished trials are missing.
    with sqlite3.connect(tmp_path / "ray.sqlite") as con:
        con.execute("DELETE FROM trials WHERE rowid IN (SELECT rowid FROM trials LIMIT 2)")
    resumed = await run_bakeoff(BakeoffRequest(resume="r1", executor="ray"), store=store)
    assert len(resumed.records) == 6
    with sqlite3.connect(tmp_path / "ray.sqlite") as con:
        counts = con.execute("SELECT COUNT(*) FROM trials GROUP BY task, model, repeat").fetchall()
    assert len(counts) == 6 and {c[0] for c in counts} == {1}


def most_at_once(spans: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    return max(itertools.accumulate(delta for _, delta in events))


def judged_task(root: Path, name: str) -> Path:
    folder = root / name
    (folder / "files").mkdir(parents=True)
    (folder / "task.toml").write_text(
        f'name = "{name}"\nprompt = "Say done ({name})."\ncategory = "chat"\ndifficulty = 1\n'
        '[judge]\nrubric = "Says done."\n'
    )
    return folder


@pytest.fixture(params=["local", "ray"])
def executor(request: pytest.FixtureRequest) -> str:
    if request.param == "ray":
        request.getfixturevalue("ray_instance")
    return str(request.param)


async def test_a_providers_concurrency_and_rate_hold_with_judges_taking_its_slots(
    executor: str, tmp_path: Path, isolated_config: Path
) -> None:
    # "wire" serves a contestant and the judge of every trial, 2 at a time, 0.3 s each: a
    # judge outside the provider's slots would make a third request run beside two others.
    # "paced" serves another contestant at 120 requests a minute (0.5 s apart) and answers at
    # once: uncapped, its 4 trials would all ask within a few milliseconds.
    with SlowServer(work_s=0.3) as wire, SlowServer(work_s=0.01) as paced:
        isolated_config.write_text(
            f'[providers.wire]\nbase_url = "{wire.url}"\nconcurrency = 2\n'
            "shares_machine = false\n"
            f'[providers.paced]\nbase_url = "{paced.url}"\nrequests_per_minute = 120\n'
            "shares_machine = false\n"
        )
        out = await run_bakeoff(
            BakeoffRequest(
                models=["wire:contestant", "paced:contestant"],
                tasks=[judged_task(tmp_path / "tasks", f"t{i}") for i in range(4)],
                judges=["wire:judge"],
                preflight=False,
                executor=executor,
            ),
            store=Store(tmp_path / "r.sqlite"),
            config=load_config(isolated_config),
        )
    assert all(r.status != "error" for r in out.records), [r.agent.error for r in out.records]
    assert len(out.records) == 8 and all(len(r.judges) == 1 for r in out.records)
    # Calibration runs first (its head-to-head asks both orders in one slot); from the first
    # contestant request on, every request is one trial's agent turn or one verdict.
    trials_from = min(s for (s, _), who in zip(wire.spans, wire.who, strict=True) if who == "c")
    in_trials = [(s, e) for s, e in wire.spans if s >= trials_from]
    assert len(in_trials) == 4 + 8  # 4 agent turns, 8 verdicts
    assert most_at_once(in_trials) == 2
    # When each trial's one request was let go: its start plus the wait the scheduler gave it.
    sent = sorted(r.started_at + r.agent.wait_time_s for r in out.records if "paced" in r.model)
    assert len(sent) == 4 and all(b - a >= 0.5 * 0.6 for a, b in itertools.pairwise(sent))
    starts = sorted(s for s, _ in paced.spans)
    assert len(starts) == 4  # as the server saw them (a busy worker may send a request late)
    assert starts[-1] - starts[0] >= 3 * 0.5 * 0.6


async def test_local_servers_take_turns_in_the_shared_pool(
    executor: str, tmp_path: Path, isolated_config: Path
) -> None:
    # Two servers on this machine, 4 runs each allowed: as local servers they share the
    # one-slot local pool, so their requests never overlap, one model after the other.
    with SlowServer(work_s=0.1) as a, SlowServer(work_s=0.1) as b:
        isolated_config.write_text(
            "".join(
                f'[providers.{name}]\nbase_url = "{srv.url}"\nconcurrency = 4\n'
                for name, srv in (("llama_a", a), ("llama_b", b))
            )
        )
        out = await run_bakeoff(
            BakeoffRequest(
                models=["llama_a:m", "llama_b:m"],
                tasks=[judged_task(tmp_path / "tasks", f"t{i}") for i in range(3)],
                preflight=False,
                executor=executor,
            ),
            store=Store(tmp_path / "r.sqlite"),
            config=load_config(isolated_config),
        )
    assert len(out.records) == 6 and all(r.status != "error" for r in out.records)
    spans = sorted([(s, e, "a") for s, e in a.spans] + [(s, e, "b") for s, e in b.spans])
    assert all(x[1] <= y[0] for x, y in itertools.pairwise(spans))
    assert "".join(name for _, _, name in spans) in ("aaabbb", "bbbaaa")


async def test_the_budget_stops_new_trials_on_the_cluster(
    ray_instance: None, tmp_path: Path, isolated_config: Path
) -> None:
    # Each trial reports 1M output tokens at a configured $0.02/Mtok: $0.02 a trial. The
    # workers report spend to the one scheduler before freeing the slot, so with one slot the
    # third trial sees $0.04 spent against a $0.03 cap and nothing more starts.
    path = tmp_path / "priced.json"
    path.write_text(json.dumps([
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "out.txt", "content": "ok"}}]},
        {"text": "done", "usage": {"output_tokens": 1_000_000}},
    ]))  # fmt: skip
    model = f"script:{path}"
    isolated_config.write_text(
        '[providers.script]\nkind = "script"\nconcurrency = 1\n'
        f'[prices."{model}"]\ninput = 0.0\noutput = 0.02\n'
    )
    out = await run_bakeoff(
        BakeoffRequest(
            models=[model],
            tasks=[make_task(tmp_path / "tasks", f"t{i}") for i in range(5)],
            max_cost_usd=0.03,
            executor="ray",
        ),
        store=Store(tmp_path / "r.sqlite"),
        config=load_config(isolated_config),
    )
    assert [r.agent.cost_usd for r in out.records] == [pytest.approx(0.02)] * 2
    assert out.budget_skipped == 3
