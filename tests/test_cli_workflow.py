"""The workflow a new user follows, through the real `bakeoff` command with scripted models:
one prompt fanned out to many models, built-in tasks by name and by pattern, signs of life on
stderr, `ok` only for an attempt, one name per model, past runs (`runs`, `latest`, `compare`),
and the care a CLI owes (examples in --help, completion, clear refusals, no BrokenPipe)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROMPT = "Create hello.py that prints hello"
WRITES_HELLO = [
    {"tool_calls": [{"name": "write_file", "arguments": {"path": "hello.py", "content": "print('hello')\n"}}]},
    {"text": "Created hello.py", "usage": {"input_tokens": 300, "output_tokens": 12}},
]  # fmt: skip
TOOL_CALL_AS_TEXT = [{"text": '{"name": "create_file", "arguments": {"path": "hello.py"}}'}]


def bakeoff(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bakeoff.cli", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=180,
    )


def script(folder: Path, name: str, turns: Any) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(turns))
    return f"script:{path}"


def json_of(out: subprocess.CompletedProcess[str]) -> Any:
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_one_prompt_fans_out_to_every_model_and_reports_them_side_by_side(
    tmp_path: Path, isolated_config: Path
) -> None:
    careful = script(tmp_path / "scripts", "careful", WRITES_HELLO)
    lazy = script(tmp_path / "scripts", "lazy", TOOL_CALL_AS_TEXT)
    out = bakeoff("run", PROMPT, "--models", f"{careful},{lazy}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    table = " ".join(out.stdout.split())
    assert "Created hello.py" in table and "hello.py (+1 −0)" in table  # answers and diffs
    assert "[failed: the final answer is a tool call" in table  # and why
    assert "quality is not measured" in table  # no judge: said, not hidden
    # Without a terminal: one line per finished trial, with task, model, outcome and time.
    lines = [x for x in out.stderr.splitlines() if x.startswith("[")]
    assert len(lines) == 2
    assert any("script:careful" in x and "passed" in x and " ms" in x for x in lines)
    assert any("script:lazy" in x and "failed (no_attempt)" in x for x in lines)

    run = json_of(bakeoff("run", PROMPT, "--models", f"{careful},{lazy}", "--json", cwd=tmp_path))
    listed = {m["model"] for m in run["ranking"]} | {u["model"] for u in run["unranked"]}
    assert listed == {"script:careful", "script:lazy"}  # every model, under one name each
    assert str(tmp_path) not in json.dumps(run["ranking"])

    report = json_of(bakeoff("report", "latest", "--json", cwd=tmp_path))
    assert report["run_id"] == run["run_id"]
    records = {r["model"]: r for r in report["records"]}
    assert records["script:careful"]["stop_reason"] == "completed"
    assert records["script:lazy"]["status"] == "failed"
    assert records["script:lazy"]["stop_reason"] == "no_attempt"
    assert "tool call written as text" in records["script:lazy"]["error"]


def test_a_prompt_with_files_starts_every_model_from_a_copy_of_them(
    tmp_path: Path, isolated_config: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "greet.py").write_text("print('hi')\n")
    editor = script(
        tmp_path,
        "editor",
        [
            {"tool_calls": [{"name": "read_file", "arguments": {"path": "greet.py"}}]},
            {"tool_calls": [{"name": "edit_file", "arguments": {
                "path": "greet.py", "old_str": "'hi'", "new_str": "'hello'"}}]},
            {"text": "Changed the greeting"},
        ],
    )  # fmt: skip
    out = bakeoff("run", "Say hello, not hi", "--files", "src", "--models", editor, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "greet.py (+1 −1)" in out.stdout
    assert (src / "greet.py").read_text() == "print('hi')\n"  # the user's folder is untouched

    lone = bakeoff("run", "--files", "src", "--models", editor, cwd=tmp_path)
    assert lone.returncode == 2 and "--files" in lone.stderr


def test_builtin_tasks_by_name_pattern_and_category(tmp_path: Path, isolated_config: Path) -> None:
    model = script(tmp_path, "m", [{"text": "done"}])
    db = str(tmp_path / "r.sqlite")

    def tasks_run(*args: str) -> set[str]:
        json_of(bakeoff("run", *args, "--models", model, "--store", db, "--json", cwd=tmp_path))
        report = json_of(bakeoff("report", "latest", "--json", "--store", db, cwd=tmp_path))
        return {r["task"] for r in report["records"]}

    assert tasks_run("hello-world", "add-numbers") == {"hello-world", "add-numbers"}
    assert tasks_run("--tasks", "http-*,hello*") == {"http-status-answer", "hello-world"}
    assert tasks_run("--tasks", "*", "--category", "bugfix") == {"fix-duration", "fix-pagination"}

    typo = bakeoff("run", "hello-wrld", "--models", model, cwd=tmp_path)
    assert typo.returncode == 2 and "did you mean hello-world" in typo.stderr
    none = bakeoff("run", "--category", "nosuch", "--models", model, cwd=tmp_path)
    assert none.returncode == 2 and "categories:" in none.stderr and "bugfix" in none.stderr


def test_pairwise_without_a_judge_is_refused(tmp_path: Path, isolated_config: Path) -> None:
    model = script(tmp_path, "m", [{"text": "done"}])
    out = bakeoff("run", PROMPT, "--models", model, "--pairwise", cwd=tmp_path)
    assert out.returncode == 2 and "--pairwise needs --judge" in out.stderr
    assert not (tmp_path / ".bakeoff" / "results.sqlite").exists() or "Run id" not in out.stdout


def test_every_missing_key_is_named_in_one_message(tmp_path: Path, isolated_config: Path) -> None:
    env = {"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": "", "GEMINI_API_KEY": ""}
    out = bakeoff(
        "run", PROMPT, "--models", "gpt-5-mini,haiku,gemini-2.5-flash", cwd=tmp_path, env=env
    )
    assert out.returncode != 0
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        assert key in out.stderr


def test_agent_shows_each_turn_and_tool_call_as_it_happens(
    tmp_path: Path, isolated_config: Path
) -> None:
    model = script(tmp_path, "careful", WRITES_HELLO)
    out = bakeoff("agent", PROMPT, "--model", model, "-w", "w", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    turns = [x for x in out.stderr.splitlines() if x.startswith("turn ")]
    assert len(turns) == 2
    assert "write_file(hello.py)" in turns[0]
    assert "312 tokens" in turns[1] and "answered" in turns[1]
    quiet = bakeoff("agent", PROMPT, "--model", model, "-w", "w2", "--quiet", cwd=tmp_path)
    assert quiet.returncode == 0 and "turn " not in quiet.stderr


@pytest.mark.parametrize(
    ("turns", "why"),
    [
        (TOOL_CALL_AS_TEXT, "tool call written as text (create_file)"),
        ([{"text": '```json\n{"name": "write_file", "arguments": {"path": "a"}}\n```'}],
         "tool call written as text (write_file)"),
        ([{"text": ""}], "no answer and no tool call"),
        ([{"text": "<tools>\n{}\n</tools>"}], "no answer and no tool call"),
    ],
)  # fmt: skip
def test_an_agent_that_never_attempts_the_task_is_not_ok(
    tmp_path: Path, isolated_config: Path, turns: Any, why: str
) -> None:
    model = script(tmp_path, "idle", turns)
    out = bakeoff("agent", PROMPT, "--model", model, "-w", "w", "--json", cwd=tmp_path)
    assert out.returncode == 1
    result = json.loads(out.stdout)
    assert result["ok"] is False and why in result["error"]
    assert result["model"] == "script:idle"


def test_models_at_80_columns_shows_whole_ids_and_whole_hints(
    tmp_path: Path, isolated_config: Path
) -> None:
    infos = json_of(bakeoff("models", "--json", cwd=tmp_path))
    out = bakeoff("models", cwd=tmp_path, env={"COLUMNS": "80"})
    assert out.returncode == 0
    assert max(len(line) for line in out.stdout.splitlines()) <= 80
    anthropic = [m["id"] for m in infos if m["id"].startswith("anthropic:")]
    assert anthropic and all(f" {i} " in out.stdout for i in anthropic)
    text = " ".join(out.stdout.split())
    assert all(" ".join(m["why_not"].split()) in text for m in infos if not m["usable"])


def make_task(root: Path, name: str) -> None:
    folder = root / name
    (folder / "files").mkdir(parents=True)
    (folder / "task.toml").write_text(
        f'name = "{name}"\nprompt = "Create ok.txt"\ncategory = "create"\ndifficulty = 1\n'
        '[check]\ncommand = "python -c \\"import os, sys; sys.exit(not os.path.exists(\'ok.txt\'))\\""\n'
    )


def test_past_runs_listed_reported_and_compared_with_latest(
    tmp_path: Path, isolated_config: Path
) -> None:
    for i in range(7):
        make_task(tmp_path / "tasks", f"t{i}")
    db = str(tmp_path / "r.sqlite")
    writes = [
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "ok.txt", "content": "1"}}]},
        {"text": "done"},
    ]
    steady = script(tmp_path / "a", "steady", writes)
    first = script(tmp_path / "a", "m", [{"text": "done"}])  # run A: never writes ok.txt
    a = json_of(bakeoff("run", "tasks", "--models", f"{first},{steady}", "--run-id", "A",
                        "--store", db, "--json", cwd=tmp_path))  # fmt: skip
    second = script(tmp_path / "b", "m", writes)  # run B: the same name, now it does
    json_of(bakeoff("run", "tasks", "--models", f"{second},{steady}", "--run-id", "B",
                    "--store", db, "--json", cwd=tmp_path))  # fmt: skip
    assert a["run_id"] == "A"

    runs = bakeoff("runs", "--store", db, cwd=tmp_path)
    assert runs.returncode == 0
    assert runs.stdout.splitlines()[0].startswith("B ") and "script:m, script:steady" in runs.stdout

    diff = json_of(bakeoff("compare", "A", "latest", "--json", "--store", db, cwd=tmp_path))
    assert (diff["run_a"], diff["run_b"]) == ("A", "B")
    changes = {c["model"]: c for c in diff["models"]}
    assert changes["script:m"]["quality_change"] == pytest.approx(1.0)
    assert changes["script:m"]["pass_rate_change"] == pytest.approx(1.0)
    assert changes["script:m"]["shared_tasks"] == 7
    assert changes["script:m"]["change"] == "better" and changes["script:m"]["p_value"] < 0.05
    assert changes["script:steady"]["change"] == "no detectable change"
    assert changes["script:steady"]["quality_change"] == 0.0

    shown = bakeoff("compare", "A", "B", "--store", db, cwd=tmp_path)
    assert shown.returncode == 0 and "better" in shown.stdout and "+100 pts" in shown.stdout
    again = bakeoff("run", "--resume", "latest", "--store", db, "--json", cwd=tmp_path)
    assert json_of(again)["run_id"] == "B"
    retried = bakeoff("run", "--retry-errors", "latest", "--store", db, "--json", cwd=tmp_path)
    assert json_of(retried)["run_id"] == "B"


def test_latest_without_runs_says_so(tmp_path: Path, isolated_config: Path) -> None:
    out = bakeoff("report", "latest", "--store", str(tmp_path / "r.sqlite"), cwd=tmp_path)
    assert out.returncode == 2 and "no runs yet" in out.stderr


def test_runs_into_a_closed_pipe_ends_quietly(tmp_path: Path, isolated_config: Path) -> None:
    model = script(tmp_path, "m", [{"text": "done"}])
    db = str(tmp_path / "r.sqlite")
    for _ in range(3):
        json_of(bakeoff("run", "hello-world", "--models", model, "--store", db, "--json",
                        cwd=tmp_path))  # fmt: skip
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head -0`: the reader is gone before anything is written
    try:
        out = subprocess.run(
            [sys.executable, "-m", "bakeoff.cli", "runs", "--store", db],
            cwd=tmp_path,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    err = out.stderr
    assert "Traceback" not in err and "BrokenPipe" not in err


SUBCOMMANDS = ["agent", "models", "run", "demo", "report", "runs", "compare", "tasks", "mcp",
               "init", "completion"]  # fmt: skip


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_help_ends_with_examples(tmp_path: Path, command: str) -> None:
    out = bakeoff(command, "--help", cwd=tmp_path)
    assert out.returncode == 0
    examples = out.stdout.split("examples:\n", 1)
    assert len(examples) == 2 and f"bakeoff {command}" in examples[1]


def complete(script_text: str, words: list[str]) -> list[str]:
    """What bash offers for the last of `words`, with the generated completion loaded."""
    line = " ".join(f"'{w}'" for w in words)
    probe = (
        f"{script_text}\nCOMP_WORDS=({line}); COMP_CWORD={len(words) - 1}\n"
        '_bakeoff; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completion_offers_commands_flags_choices_and_task_names(tmp_path: Path) -> None:
    out = bakeoff("completion", "bash", cwd=tmp_path)
    assert out.returncode == 0 and "complete -o default -F _bakeoff bakeoff" in out.stdout
    text = out.stdout
    assert set(complete(text, ["bakeoff", "ru"])) == {"run", "runs"}
    assert "--retry-errors" in complete(text, ["bakeoff", "run", "--ret"])
    assert complete(text, ["bakeoff", "run", "--executor", ""]) == ["local", "ray"]
    assert complete(text, ["bakeoff", "run", "hello-w"]) == ["hello-world"]
    assert complete(text, ["bakeoff", "tasks", "val"]) == ["validate"]
    assert complete(text, ["bakeoff", "completion", ""]) == ["bash", "zsh"]
    assert complete(text, ["bakeoff", "report", "l"]) == ["latest"]
    assert complete(text, ["bakeoff", "run", "--resume", ""]) == ["latest"]
    assert complete(text, ["bakeoff", "apply", "l"]) == ["latest"]


def test_zsh_completion_loads_the_same_function_through_bashcompinit(tmp_path: Path) -> None:
    out = bakeoff("completion", "zsh", cwd=tmp_path)
    assert out.returncode == 0 and "bashcompinit" in out.stdout and "_bakeoff()" in out.stdout
    if shutil.which("zsh"):
        check = subprocess.run(["zsh", "-n"], input=out.stdout, capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
