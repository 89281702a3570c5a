"""`bakeoff route` and the MCP tool `route_task` over a real store: bake-offs of scripted models
on twenty small checked tasks in one category are the evidence. A model whose quality clears the
bar with 95% confidence is routed to (the cheapest, or the fastest); a bar no model clears with
confidence is "not enough evidence", with what each showed; the category is read from the prompt
when not given; and with `delegate` the prompt goes to the chosen model's nano agent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client

from bakeoff.cli import main
from bakeoff.config import BakeoffConfig
from bakeoff.evals.store.store import Store
from bakeoff.evals.verdict.route import guess_category, route
from bakeoff.mcp_server import build_server

TASKS = 20


def _tasks(root: Path) -> list[Path]:
    folders = []
    for i in range(TASKS):
        folder = root / f"echo-{i:02}"
        (folder / "files").mkdir(parents=True)
        (folder / "task.toml").write_text(
            f'name = "echo-{i:02}"\nprompt = "Write out.txt containing {i}."\n'
            'category = "files"\ndifficulty = 1\n'
            f'[check]\ncommand = "test \\"$(cat out.txt)\\" = {i}"\ntimeout_s = 20\n'
        )
        folders.append(folder)
    return folders


def _script(root: Path, name: str, solves: set[int], delay_s: float = 0.0) -> Path:
    """A model that solves the tasks in `solves` (by the number in the prompt) and writes a
    wrong answer to the others."""
    scripts = []
    for i in range(TASKS):
        content = str(i) if i in solves else "wrong"
        scripts.append(
            {
                "prompt_contains": f"containing {i}.",
                "turns": [
                    {
                        "tool_calls": [
                            {
                                "name": "write_file",
                                "arguments": {"path": "out.txt", "content": content},
                            }
                        ],
                        "delay_s": delay_s,
                    },
                    {"text": "done"},
                ],
            }
        )
    path = root / f"{name}.json"
    path.write_text(json.dumps({"scripts": scripts}))
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("route")
    db = root / "results.sqlite"
    models = [
        _script(root, "sure", set(range(TASKS))),
        _script(root, "slow-sure", set(range(TASKS)), delay_s=0.3),
        _script(root, "half", set(range(0, TASKS, 2))),
    ]
    with pytest.MonkeyPatch.context() as mp:
        (root / "bakeoff.toml").write_text("")
        mp.setenv("BAKEOFF_CONFIG", str(root / "bakeoff.toml"))
        mp.setenv("BAKEOFF_STORE", str(db))
        code = main(
            ["run", *map(str, _tasks(root)), "--models", ",".join(f"script:{m}" for m in models),
             "--store", str(db), "--json"]
        )  # fmt: skip
        assert code == 0
        yield db


def test_the_cheapest_model_that_clears_the_bar(store: Path) -> None:
    # 20 tasks all solved: the interval's low end is 0.80 (five tasks would leave 0.46).
    answer = route(Store(store), "Write a file", category="files", min_quality=0.75)
    assert answer.model is not None and answer.model.endswith("sure.json")
    assert "clears 0.75 with 95% confidence" in answer.reason
    half = next(e for e in answer.evidence if e.model.endswith("half.json"))
    assert half.tasks == TASKS and half.high < 0.75  # seen and ruled out
    sure = next(e for e in answer.evidence if e.model == answer.model)
    assert sure.low >= 0.75 and sure.runs == 1 and sure.trials == TASKS


def test_by_speed_the_fastest(store: Path) -> None:
    answer = route(Store(store), "Write a file", category="files", min_quality=0.75, by="speed")
    assert answer.model is not None and answer.model.endswith("/sure.json")
    assert "the fastest" in answer.reason


def test_a_bar_no_model_clears_with_confidence_is_not_enough_evidence(store: Path) -> None:
    answer = route(Store(store), "Write a file", category="files", min_quality=0.9)
    assert answer.model is None
    assert answer.reason.startswith("not enough evidence") and "best:" in answer.reason
    assert len(answer.evidence) == 3


def test_the_category_is_read_from_the_prompt() -> None:
    assert guess_category("Fix the crash in the parser", ["bugfix", "files"]) == "bugfix"
    assert guess_category("Rename the files helper", ["answer", "files"]) == "files"
    assert guess_category("Make it faster", ["bugfix"]) is None


def test_the_cli_says_where_to_route_with_the_evidence(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["route", "Write the files", "--store", str(store), "--min-quality", "0.75"]) == 0
    out = capsys.readouterr().out
    assert "Category: files (read from the prompt)" in out
    assert "Route to: script:" in out and "Evidence" in out and "Next: bakeoff agent" in out
    assert main(["route", "Write the files", "--store", str(store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] is None  # 0.8 is not cleared by 20 tasks
    assert (
        main(["route", "Write the files", "--store", str(store), "--json", "--min-quality", "0.7"])
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"].endswith("sure.json") and len(doc["evidence"]) == 3


def test_an_empty_store_says_so(tmp_path: Path) -> None:
    answer = route(Store(tmp_path / "empty.sqlite"), "anything")
    assert answer.model is None and "no stored runs" in answer.reason


async def test_claude_code_can_route_and_delegate_through_mcp(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAKEOFF_STORE", str(store))
    async with Client(build_server([tmp_path], BakeoffConfig())) as client:
        routed = await client.call_tool(
            "route_task",
            {"prompt": "Write out.txt containing 3.", "category": "files", "delegate": True,
             "min_quality": 0.75,
             "workspace": str(tmp_path / "w")},
        )  # fmt: skip
    assert not routed.is_error
    data = routed.structured_content or {}
    assert data["model"].endswith("sure.json")
    assert data["result"]["ok"] is True
    assert (tmp_path / "w" / "out.txt").read_text() == "3"
