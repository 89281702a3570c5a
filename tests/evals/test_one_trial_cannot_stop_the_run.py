"""Contestants that try to stop the whole bake-off — a FIFO where the answer goes, a file name
that is not UTF-8, a 6 GB sparse file, a FIFO or a folder where a hidden check goes — each lose
only their own trial; an honest contestant beside them passes, every trial is recorded, and
`--resume` of the same run survives them too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bakeoff.agent import AgentConfig
from bakeoff.evals.run.runner import BakeoffRequest, run_bakeoff
from bakeoff.evals.store.store import Store
from bakeoff.sandbox import sandbox_status

pytestmark = pytest.mark.skipif(
    not sandbox_status().available, reason=f"no sandbox here: {sandbox_status().reason}"
)

GOOD = "def add(a, b):\n    return a + b\n"


def make_task(root: Path) -> Path:
    folder = root / "calc"
    (folder / "hidden" / "checks").mkdir(parents=True)
    (folder / "hidden" / "hidden_test_calc.py").write_text(
        "from calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    )
    (folder / "hidden" / "checks" / "note.txt").write_text("a nested hidden file\n")
    (folder / "task.toml").write_text(
        'name = "calc"\nprompt = "Create calc.py with add(a, b)."\ncategory = "implement"\n'
        "difficulty = 1\nallow_commands = true\n"
        '[check]\ncommand = "python -m pytest -q hidden_test_calc.py"\ntimeout_s = 30\n'
    )
    return folder


def contestant(tmp: Path, name: str, *commands: str, write_after: bool = False) -> str:
    turns: list[dict[str, Any]] = []
    if commands:
        turns.append(
            {"tool_calls": [{"name": "run_command", "arguments": {"command": c}} for c in commands]}
        )
    turns.append(
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "calc.py", "content": GOOD}}]}
    )
    if write_after:  # then write into whatever it planted: must fail fast, not block
        turns.append(
            {
                "tool_calls": [
                    {"name": "write_file", "arguments": {"path": "pipe", "content": "x"}},
                    {"name": "read_file", "arguments": {"path": "pipe"}},
                ]
            }
        )
    turns.append({"text": "done"})
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(turns))
    return f"script:{path}"


async def test_hostile_workspaces_lose_only_their_own_trial(tmp_path: Path) -> None:
    task = make_task(tmp_path)
    models = [
        contestant(tmp_path, "honest"),
        contestant(tmp_path, "fifo-write", "mkfifo pipe", write_after=True),
        contestant(tmp_path, "fifo-answer", "mkfifo ANSWER.txt"),
        contestant(tmp_path, "non-utf8", "printf x > \"$(printf 'bad\\377name.py')\""),
        contestant(tmp_path, "sparse", "truncate -s 6G huge.bin"),
        contestant(tmp_path, "fifo-hidden", "mkfifo hidden_test_calc.py; mkdir -p checks"),
        contestant(tmp_path, "dir-hidden", "mkdir -p hidden_test_calc.py checks/note.txt"),
        contestant(
            tmp_path, "link-hidden", "ln -s /etc checks; ln -s /etc/passwd hidden_test_calc.py"
        ),
    ]
    store = Store(tmp_path / "results.sqlite")
    agent = AgentConfig(allow_commands=True, timeout_s=60)
    outcome = await run_bakeoff(
        BakeoffRequest(
            models=models, tasks=[task], agent=agent, run_id="hostile-fs", preflight=False
        ),
        store=store,
    )
    records = {r.model.split("/")[-1].removesuffix(".json"): r for r in store.trials("hostile-fs")}
    assert sorted(records) == sorted(m.split("/")[-1].removesuffix(".json") for m in models)
    # Each contestant also wrote a correct calc.py: once its tricks are neutralised it passes,
    # except where the trick is itself aimed at the grader: a .py file no one can read (a FIFO,
    # or a link to /etc/passwd, named like the hidden test) voids the pass, with the tamper
    # scan's finding.
    aimed = {"fifo-hidden", "link-hidden"}
    for name, record in records.items():
        expected = "failed" if name in aimed else "passed"
        assert record.status == expected, (name, record.agent.error, record.check)
    for name in aimed:
        voided = records[name].check
        assert voided is not None and "tamper scan" in voided.output, voided
    assert "bad" in records["non-utf8"].diff  # shown escaped, never a crash
    assert outcome.summary is not None

    # Resuming the same run (nothing left to do) reads every record back without a crash.
    again = await run_bakeoff(
        BakeoffRequest(models=models, tasks=[task], agent=agent, resume="hostile-fs"), store=store
    )
    assert len(store.trials("hostile-fs")) == len(models)
    assert again.summary is not None
