"""`BakeoffRequest`: a bake-off asked with a broken value is refused once, in one line that
names the field, before anything is made or stored; `choose_tasks` reads prompts as prompts;
`bakeoff.api` settles `latest` and a new run's id, and `bake` writes the report."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from bakeoff.api import bake, settle
from bakeoff.config import BakeoffConfig
from bakeoff.errors import UserError
from bakeoff.evals.run.request import BakeoffRequest, choose_tasks
from bakeoff.evals.store.store import Store

OK: dict[str, Any] = {"models": ["script:x.json"]}


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"repeats": 0}, "repeats"),
        ({"max_parallel": 0}, "max_parallel"),
        ({"max_cost_usd": math.nan}, "max_cost_usd"),
        ({"max_cost_usd": math.inf}, "max_cost_usd"),
        ({"max_cost_usd": -1.0}, "max_cost_usd"),
        ({"preflight_timeout_s": 0.0}, "preflight_timeout_s"),
        ({"run_id": "../../etc/passwd"}, "run id"),
        ({"run_id": "latest"}, "run id"),
        ({"resume": "../x"}, "run id"),
        ({"tags": {"bad key": "v"}}, "label key"),
        ({"tags": {"k": "line\nbreak"}}, "printable"),
        ({"repeat": 2}, "repeat"),  # a typo is an error, not a silent default
        ({"executor": "slurm"}, "executor"),
        ({"repeats": "many"}, "repeats"),
    ],
)
def test_a_broken_value_is_one_user_error_naming_it(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(UserError) as caught:
        BakeoffRequest(**{**OK, **fields})
    message = str(caught.value)
    assert named in message and "\n" not in message


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"models": []}, "no models given"),
        ({"resume": "a", "retry_errors": "b"}, "cannot be combined"),
        ({"pairwise": True}, "--pairwise needs --judge"),
        ({"resume": "a", "tags": {"team": "x"}}, "keeps the labels"),
    ],
)
def test_inconsistent_asks_are_refused(fields: dict[str, Any], says: str) -> None:
    with pytest.raises(UserError, match=says):
        BakeoffRequest(**{**OK, **fields})


def test_a_continued_run_needs_no_models_and_paths_are_taken_as_text(tmp_path: Path) -> None:
    assert BakeoffRequest(resume="latest").continues == "latest"
    assert BakeoffRequest(models=["m"], tasks=[tmp_path]).tasks == [str(tmp_path)]


def test_a_prompt_is_never_read_as_a_folder_or_a_task_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "src").mkdir()  # a folder the prompt happens to name, beside the caller
    monkeypatch.chdir(tmp_path)
    for prompt in ("src", "add-numbers"):
        [task] = choose_tasks(BakeoffRequest(models=["m"], prompts=[prompt]), tmp_path / "adhoc")
        assert task.category == "ad-hoc" and task.prompt == prompt
        assert tmp_path / "adhoc" in task.path.parents
    [named] = choose_tasks(BakeoffRequest(models=["m"], tasks=["add-numbers"]), tmp_path)
    assert named.name == "add-numbers"


def test_files_without_a_prompt_and_an_empty_choice_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--files is the fixture of a prompt"):
        choose_tasks(BakeoffRequest(models=["m"], files=tmp_path), tmp_path / "adhoc")
    with pytest.raises(UserError, match="no task"):
        choose_tasks(BakeoffRequest(models=["m"], task_patterns=["zzz-*"]), tmp_path)


def test_a_prompt_starts_from_a_copy_of_its_files(tmp_path: Path) -> None:
    (tmp_path / "given").mkdir()
    (tmp_path / "given" / "app.py").write_text("print(1)\n")
    request = BakeoffRequest(models=["m"], prompts=["fix app.py"], files=tmp_path / "given")
    [task] = choose_tasks(request, tmp_path / "adhoc")
    assert (task.files_dir / "app.py").read_text() == "print(1)\n"


def test_settle_names_a_new_run_and_finds_latest(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.sqlite")
    named = settle(BakeoffRequest(**OK), store)
    assert named.run_id is not None and named.continues is None
    assert settle(named, store) == named  # settled once, settled for good
    with pytest.raises(UserError, match="no runs yet"):
        settle(BakeoffRequest(retry_errors="latest"), store)


async def test_bake_runs_a_prompt_and_writes_its_report_beside_the_store(
    tmp_path: Path, isolated_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "answer.json"
    script.write_text(json.dumps([{"text": "42"}]))
    store = Store(tmp_path / "db" / "r.sqlite")
    request = BakeoffRequest(
        models=[f"script:{script}"], prompts=["what is 6 x 7?"], preflight=False, run_id="p1"
    )
    outcome = await bake(request, store=store, config=BakeoffConfig())
    assert outcome.run_id == "p1" and [r.agent.answer for r in outcome.records] == ["42"]
    assert outcome.report_html is not None and Path(outcome.report_html).is_file()
    assert Path(outcome.report_html).parent.parent == tmp_path / "db"
    # The ad-hoc task lies beside the store, so `--resume` finds it from any folder.
    [path] = store.get_spec("p1").task_paths
    assert Path(path).is_relative_to(tmp_path / "db")
    monkeypatch.chdir(tmp_path)
    again = await bake(BakeoffRequest(resume="latest"), store=store, config=BakeoffConfig())
    assert again.run_id == "p1" and len(again.records) == 1
