"""The `bakeoff` command as a user runs it: the `agent --json` contract, exit codes, and one-line
errors that say what to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def bakeoff(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bakeoff.cli", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_agent_json_contract_with_a_scripted_model(tmp_path: Path, isolated_config: Path) -> None:
    script = tmp_path / "fizz.json"
    script.write_text(
        json.dumps(
            [
                {
                    "tool_calls": [
                        {
                            "name": "write_file",
                            "arguments": {"path": "fizzbuzz.py", "content": "print(1)\n"},
                        }
                    ]
                },
                {"text": "Created fizzbuzz.py", "usage": {"input_tokens": 120, "output_tokens": 7}},
            ]
        )
    )
    out = bakeoff(
        "agent",
        "Create fizzbuzz.py",
        "--model",
        f"script:{script}",
        "--workspace",
        "w",
        "--json",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    obj = json.loads(out.stdout)
    assert obj == {
        "ok": True,
        "answer": "Created fizzbuzz.py",
        "model": "script:fizz",  # the display name: never the absolute path
        "provider": "script",
        "turns": 2,
        "tool_calls": 1,
        "usage": {
            "input_tokens": 120,
            "output_tokens": 7,
            "cached_tokens": 0,
            "reasoning_tokens": 0,
        },
        "cost_usd": 0.0,
        "duration_s": obj["duration_s"],
        "error": None,
        "sandboxed": True,
    }
    assert (tmp_path / "w" / "fizzbuzz.py").read_text() == "print(1)\n"


def test_agent_without_json_prints_answer_and_numbers(
    tmp_path: Path, isolated_config: Path
) -> None:
    script = tmp_path / "s.json"
    script.write_text(json.dumps([{"text": "hello there"}]))
    out = bakeoff("agent", "hi", "--model", f"script:{script}", "--workspace", "w", cwd=tmp_path)
    assert out.returncode == 0
    assert "hello there" in out.stdout and "turns 1" in out.stdout and "cost $0" in out.stdout


def test_a_failed_run_exits_1_and_says_why(tmp_path: Path, isolated_config: Path) -> None:
    script = tmp_path / "loop.json"
    script.write_text(
        json.dumps([{"tool_calls": [{"name": "list_directory", "arguments": {}}]}] * 5)
    )
    out = bakeoff(
        "agent",
        "x",
        "--model",
        f"script:{script}",
        "-w",
        "w",
        "--max-turns",
        "2",
        "--json",
        cwd=tmp_path,
    )
    assert out.returncode == 1
    assert json.loads(out.stdout)["error"] == "stopped after 2 turns without a final answer"


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-5-mini", "needs OPENAI_API_KEY: export OPENAI_API_KEY="),
        ("sonnet-4", "needs ANTHROPIC_API_KEY"),
        ("gpt5-mini", "did you mean"),
        ("nosuch:model", "unknown provider 'nosuch'"),
    ],
)
def test_user_mistakes_are_one_line_errors(
    tmp_path: Path, isolated_config: Path, model: str, expected: str
) -> None:
    out = bakeoff("agent", "x", "--model", model, "-w", "w", cwd=tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0]
    assert out.stdout == ""


def test_unreachable_local_server_is_a_clear_error(tmp_path: Path, isolated_config: Path) -> None:
    isolated_config.write_text(
        '[providers.mybox]\nkind = "openai_compatible"\nbase_url = "http://127.0.0.1:9/v1"\n'
    )
    out = bakeoff("agent", "x", "--model", "mybox:some-model", "-w", "w", "--json", cwd=tmp_path)
    assert out.returncode == 1
    error = json.loads(out.stdout)["error"]
    assert "127.0.0.1:9" in error and "\n" not in error


def test_models_lists_aliases_prices_and_usability(tmp_path: Path, isolated_config: Path) -> None:
    out = bakeoff("models", "--json", cwd=tmp_path)
    assert out.returncode == 0
    rows = {m["id"]: m for m in json.loads(out.stdout)}
    mini = rows["openai:gpt-5-mini"]
    assert (
        "gpt-5-mini" in mini["aliases"]
        and mini["usable"] is False
        and "OPENAI_API_KEY" in mini["why_not"]
    )
    assert mini["price"]["input"] == pytest.approx(0.25) and mini["price"][
        "output"
    ] == pytest.approx(2.0)
    assert "local:qwen2.5-coder-0.5b" in rows


def test_tasks_validate_the_builtin_suite(tmp_path: Path) -> None:
    out = bakeoff("tasks", "list", cwd=tmp_path)
    assert out.returncode == 0 and len(out.stdout.strip().splitlines()) >= 15


def test_agent_without_workspace_works_in_a_new_kept_temp_folder(
    tmp_path: Path, isolated_config: Path
) -> None:
    script = tmp_path / "w.json"
    script.write_text(
        json.dumps(
            [
                {
                    "tool_calls": [
                        {"name": "write_file", "arguments": {"path": "a.txt", "content": "A"}}
                    ]
                },
                {"text": "done"},
            ]
        )
    )
    temp = tmp_path / "tmp"
    temp.mkdir()
    before = sorted(tmp_path.iterdir())
    runs = [
        bakeoff(
            "agent", "x", "--model", f"script:{script}", cwd=tmp_path, env={"TMPDIR": str(temp)}
        )
        for _ in range(2)
    ]
    spaces = []
    for out in runs:
        assert out.returncode == 0, out.stderr
        [line] = [x for x in out.stderr.splitlines() if x.startswith("workspace: ")]
        assert "--workspace ." in line
        spaces.append(Path(line.removeprefix("workspace: ").split(" (")[0]))
    assert spaces[0] != spaces[1]
    for space in spaces:
        assert space.parent == temp
        assert (space / "a.txt").read_text() == "A"  # kept for the user
    # Nothing written where it was run but the agent log (`bakeoff logs`) in the store there.
    assert sorted(p for p in tmp_path.iterdir() if p.name != ".bakeoff") == before

    here = bakeoff("agent", "x", "--model", f"script:{script}", "--workspace", ".", cwd=tmp_path)
    assert here.returncode == 0, here.stderr
    assert (tmp_path / "a.txt").read_text() == "A"
    assert "workspace: " not in here.stderr


def test_agent_help_says_the_default_workspace_is_a_new_folder(tmp_path: Path) -> None:
    out = bakeoff("agent", "--help", cwd=tmp_path)
    text = " ".join(out.stdout.split())  # argparse wraps lines at the terminal width
    assert "new temporary folder" in text and "pass --workspace . for the current folder" in text
