"""A scripted model under a provider of the user's own name (`[providers.NAME] kind = "script"`)
is that provider's model: its trials are stored under `NAME:PATH` and its requests keep to that
provider's `requests_per_minute` and `concurrency`, as any other provider's would."""

from __future__ import annotations

import json
from pathlib import Path

from bakeoff.evals.run.runner import BakeoffRequest, run_bakeoff
from bakeoff.evals.store.store import Store

RPM = 600.0  # one request start every 0.1 s


def make_task(root: Path) -> Path:
    folder = root / "say-ok"
    (folder / "files").mkdir(parents=True)
    (folder / "files" / "notes.txt").write_text("alpha\n")
    (folder / "task.toml").write_text(
        'name = "say-ok"\nprompt = "Say OK."\ncategory = "c"\ndifficulty = 1\n'
        '[judge]\nrubric = "Says OK."\n'
    )
    return folder


async def test_a_script_provider_under_another_name_keeps_its_rate_cap_and_its_name(
    tmp_path: Path, isolated_config: Path
) -> None:
    isolated_config.write_text(
        f'[providers.paced]\nkind = "script"\nrequests_per_minute = {RPM}\nconcurrency = 3\n'
    )
    script = tmp_path / "s.json"
    turns = [{"tool_calls": [{"name": "list_directory", "arguments": {}}]}, {"text": "OK"}]
    script.write_text(json.dumps(turns))
    store = Store(tmp_path / "r.sqlite")
    outcome = await run_bakeoff(
        BakeoffRequest(
            models=[f"paced:{script}"], tasks=[make_task(tmp_path / "tasks")], repeats=3
        ),
        store=store,
    )
    records = list(store.trials(outcome.run_id))
    assert {r.model for r in records} == {f"paced:{script}"}  # not `script:PATH`
    assert [r.model for r in outcome.summary.unranked] == []
    # Six zero-latency requests, three trials at once: without the cap they all start within a
    # few milliseconds; with it each waits its turn, 0.1 s apart (a lower bound: load only adds).
    assert sum(len(r.agent.requests) for r in records) == 6
    assert any(t.wait_s > 0 for r in records for t in r.agent.requests)
    interval = 60.0 / RPM
    span = max(r.finished_at for r in records) - min(r.started_at for r in records)
    assert span >= 5 * interval * 0.9
