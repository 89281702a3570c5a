"""Exit status as CI reads it, through the real `bakeoff` command with scripted models and a
provider nobody answers: 0 ok; 1 a `--fail-under` threshold missed (naming each model below it,
the table printed all the same); 2 bad usage or input; 3 nothing could be graded (every trial an
infrastructure error). `report` on a stored run gives the same verdict as the run did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from models.wire_servers import free_port

from bakeoff.cli import main
from bakeoff.cli_history import exit_status
from bakeoff.evals.store.records import BakeoffSpec
from bakeoff.evals.store.summary_records import BakeoffSummary, UnrankedModel

CALC_TEST = """\
from calc import add, mul

def test_add():
    assert add(2, 3) == 5

def test_mul():
    assert mul(2, 3) == 6
"""
GOOD = "def add(a, b):\n    return a + b\n\ndef mul(a, b):\n    return a * b\n"
BAD = "def add(a, b):\n    return 0\n\ndef mul(a, b):\n    return 0\n"


def make_task(root: Path) -> Path:
    folder = root / "calc"
    for part in ("files", "hidden", "solution"):
        (folder / part).mkdir(parents=True)
    (folder / "files" / "README.md").write_text("calculator project\n")
    (folder / "hidden" / "hidden_test_calc.py").write_text(CALC_TEST)
    (folder / "solution" / "calc.py").write_text(GOOD)
    (folder / "task.toml").write_text(
        'name = "calc"\nprompt = "Create calc.py with add(a, b) and mul(a, b)."\n'
        'category = "implement"\ndifficulty = 1\n'
        '[check]\ncommand = "python -m pytest -q hidden_test_calc.py"\ntimeout_s = 60\n'
    )
    return folder


def solver(tmp: Path, name: str, content: str) -> str:
    turns: list[dict[str, Any]] = [
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "calc.py", "content": content}}]},
        {"text": "done"},
    ]  # fmt: skip
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(turns))
    return f"script:{path}"


@pytest.fixture
def dead_provider(isolated_config: Path) -> str:
    """A configured provider with nobody listening at its address: every request errors."""
    isolated_config.write_text(
        f'[providers.dead]\nbase_url = "http://127.0.0.1:{free_port()}/v1"\n'
    )
    return "dead:m"


def test_a_run_whose_every_trial_errored_exits_3_and_still_prints_the_table(
    tmp_path: Path, dead_provider: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "r.sqlite")
    args = ["run", "Say hi", "--models", dead_provider, "--no-preflight", "--store", store]
    assert main([*args, "--run-id", "dead"]) == 3
    out = capsys.readouterr()
    assert "dead:m" in out.out and "Run id: dead" in out.out  # the table and the run id
    assert "nothing could be graded" in out.err and "dead:m" in out.err
    assert "Traceback" not in out.err

    # --json: the object still prints (ranking empty, the model unranked), and the status is 3.
    assert main([*args, "--run-id", "dead-json", "--json"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["ranking"] == [] and [u["model"] for u in doc["unranked"]] == ["dead:m"]

    # The stored run reads back with the same verdict.
    assert main(["report", "dead", "--store", store]) == 3
    assert "nothing could be graded" in capsys.readouterr().err


def test_one_errored_model_beside_a_graded_one_is_not_exit_3_nor_below_the_gate(
    tmp_path: Path, dead_provider: str, capsys: pytest.CaptureFixture[str]
) -> None:
    good = solver(tmp_path, "good", GOOD)
    task = make_task(tmp_path / "tasks")
    store = str(tmp_path / "r.sqlite")
    models = f"{good},{dead_provider}"
    run = ["run", str(task), "--models", models, "--no-preflight", "--store", store]
    # The gate reads the ranked models: the errored one is unranked, named, and not "below".
    assert main([*run, "--fail-under", "0.8", "--json"]) == 0
    out = capsys.readouterr()
    assert "nothing could be graded" not in out.err and "--fail-under" not in out.err
    doc = json.loads(out.out)
    assert [m["quality"] for m in doc["ranking"]] == [1.0]
    assert [u["model"] for u in doc["unranked"]] == ["dead:m"]


def test_fail_under_names_each_model_below_the_threshold_and_exits_1(
    tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad = solver(tmp_path, "good", GOOD), solver(tmp_path, "bad", BAD)
    task = make_task(tmp_path / "tasks")
    store = str(tmp_path / "r.sqlite")
    run = ["run", str(task), "--store", store]
    assert main([*run, "--models", f"{good},{bad}", "--run-id", "both", "--fail-under", "0.8"]) == 1
    out = capsys.readouterr()
    assert "script:good" in out.out and "script:bad" in out.out  # the table printed all the same
    [line] = [x for x in out.err.splitlines() if "--fail-under" in x]
    assert "script:bad" in line and "0.8" in line and "script:good" not in line

    # The same run read back: the same verdict; a threshold every model meets passes.
    assert main(["report", "both", "--store", store, "--fail-under", "0.8"]) == 1
    assert "script:bad" in capsys.readouterr().err
    assert main(["report", "both", "--store", store, "--fail-under", "0"]) == 0
    assert main(["report", "both", "--store", store]) == 0  # no threshold: no gate
    capsys.readouterr()


def test_fail_under_on_a_run_nothing_measured_fails_and_says_why(
    tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A prompt with no check and no judge measures no quality: a gate cannot pass on it.
    model = solver(tmp_path, "m", GOOD)
    store = str(tmp_path / "r.sqlite")
    prompt = ["run", "Create calc.py", "--models", model, "--store", store]
    assert main(prompt) == 0
    capsys.readouterr()
    assert main([*prompt, "--fail-under", "0.5"]) == 1
    err = capsys.readouterr().err
    assert "script:m" in err and "not measured" in err and "--judge" in err


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan", "inf", "most", ""])
def test_a_threshold_outside_0_to_1_is_bad_usage(
    value: str, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "Say hi", "--models", "local", "--fail-under", value])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--fail-under" in err and "between 0 and 1" in err


def test_bad_usage_and_bad_input_exit_2(
    tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "Say hi"]) == 2  # no --models
    assert "--models is required" in capsys.readouterr().err
    assert main(["report", "latest", "--store", str(tmp_path / "empty.sqlite")]) == 2
    with pytest.raises(SystemExit) as exited:
        main(["run", "--no-such-flag"])
    assert exited.value.code == 2


@pytest.mark.parametrize("command", [[], ["run"], ["report"]])
def test_help_states_the_exit_status(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "exit status: 0 ok; 1" in text
    assert "2 bad usage or input; 3 nothing could be graded" in text


def test_a_run_in_which_no_trial_ran_is_ungraded_and_says_so_without_blaming_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = BakeoffSpec(run_id="r", task_paths=[], task_names=["t"], models=["m:x"])
    stopped = UnrankedModel(model="m:x", reason="the budget ran out before it started", errors=0)
    summary = BakeoffSummary(run_id="r", spec=spec, ranking=[], unranked=[stopped])
    assert exit_status(summary, fail_under=0.5) == 3
    err = capsys.readouterr().err
    assert "no trial ran" in err and "budget" in err
    assert "infrastructure" not in err and "--retry-errors" not in err
