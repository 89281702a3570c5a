"""An independent MCP client checks the server: the official MCP Inspector CLI
(`@modelcontextprotocol/inspector`, installed into ./node_modules by `make inspector`) starts
`bakeoff mcp` over stdio, lists its tools and calls the nano agent with a scripted model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
INSPECTOR = REPO / "node_modules" / ".bin" / "mcp-inspector"

pytestmark = pytest.mark.skipif(
    not INSPECTOR.exists(),
    reason="MCP Inspector not installed: run `make inspector` (npm, into ./node_modules)",
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "bakeoff.toml").write_text("")
    script = [
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "a.txt", "content": "A"}}]},
        {"text": "wrote a.txt"},
    ]
    (root / "writer.json").write_text(json.dumps(script))
    return root


def run_inspector(project: Path, *method_args: str) -> tuple[int, dict[str, Any], str]:
    """Run the Inspector CLI against `python -m bakeoff.cli mcp`; (exit code, JSON out, stderr)."""
    home = project.parent / "inspector-home"
    env = {
        **os.environ,
        # The Inspector keeps a catalog and client config in ~; keep them in the test's tmp.
        "HOME": str(home),
        "MCP_CATALOG_PATH": str(home / "catalog.json"),
        "MCP_CLIENT_CONFIG_PATH": str(home / "client.json"),
    }
    command = [
        str(INSPECTOR), "--cli", "--format", "json", "--cwd", str(project),
        "-e", f"BAKEOFF_CONFIG={project / 'bakeoff.toml'}",
        "-e", f"BAKEOFF_STORE={project / 'results.sqlite'}",
        "-e", "GENAI_PRICES_AUTO_UPDATE=0",
        sys.executable, "-m", "bakeoff.cli", "mcp",
        *method_args,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    out = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, out, done.stderr


def test_inspector_lists_the_four_tools(project: Path) -> None:
    code, out, err = run_inspector(project, "--method", "tools/list")
    assert code == 0, err
    tools = {t["name"]: t for t in out["result"]["tools"]}
    assert set(tools) == {"prompt_nano_agent", "list_models", "route_task", "run_bakeoff"}
    assert tools["route_task"]["inputSchema"]["required"] == ["prompt"]
    assert tools["prompt_nano_agent"]["inputSchema"]["required"] == ["agentic_prompt", "model"]


def test_inspector_calls_the_nano_agent(project: Path) -> None:
    arguments = {"agentic_prompt": "write a.txt", "model": "script:writer.json", "workspace": "ws"}
    code, out, err = run_inspector(
        project,
        "--method", "tools/call",
        "--tool-name", "prompt_nano_agent",
        "--tool-args-json", json.dumps(arguments),
    )  # fmt: skip
    assert code == 0, err
    result = out["result"]
    assert result["isError"] is False
    data = json.loads(result["content"][0]["text"])
    assert data == result["structuredContent"]
    assert data["ok"] is True and data["answer"] == "wrote a.txt" and data["tool_calls"] == 1
    assert (project / "ws" / "a.txt").read_text() == "A"


def test_inspector_sees_a_tool_error_for_an_unknown_model(project: Path) -> None:
    code, out, _ = run_inspector(
        project,
        "--method", "tools/call",
        "--tool-name", "prompt_nano_agent",
        "--tool-args-json", json.dumps({"agentic_prompt": "x", "model": "nope"}),
    )  # fmt: skip
    assert code != 0  # the Inspector exits non-zero when a tool reports isError
    assert out["result"]["isError"] is True
    assert "unknown model 'nope'" in out["result"]["content"][0]["text"]
