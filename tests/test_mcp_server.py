"""The MCP server as its clients see it: the official MCP client drives it in memory (fast
cases), over stdio (a `bakeoff mcp` subprocess) and over streamable HTTP (a `bakeoff mcp --http`
subprocess on a free loopback port). Scripted models make every run real and offline."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult, TextContent

from bakeoff.cli import main
from bakeoff.config import BakeoffConfig
from bakeoff.errors import UserError
from bakeoff.mcp_server import TOOL_NAMES, build_server, parse_http_address

WRITER = [
    {"tool_calls": [{"name": "write_file", "arguments": {"path": "out.txt", "content": "hi\n"}}]},
    {"text": "wrote out.txt", "usage": {"input_tokens": 12, "output_tokens": 3}},
]
PASS_THROUGH_ENV = ("GENAI_PRICES_AUTO_UPDATE", "OTEL_SDK_DISABLED", "DO_NOT_TRACK")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with two scripted models, an empty config and its own result store."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "writer.json").write_text(json.dumps(WRITER))
    (root / "talker.json").write_text(json.dumps([{"text": "hello", "delay_s": 0.05}]))
    (root / "bakeoff.toml").write_text("")
    monkeypatch.setenv("BAKEOFF_CONFIG", str(root / "bakeoff.toml"))
    monkeypatch.setenv("BAKEOFF_STORE", str(root / ".bakeoff" / "results.sqlite"))
    monkeypatch.chdir(root)
    return root


def child_env(project: Path) -> dict[str, str]:
    env = {k: os.environ[k] for k in PASS_THROUGH_ENV if k in os.environ}
    env["BAKEOFF_CONFIG"] = str(project / "bakeoff.toml")
    env["BAKEOFF_STORE"] = str(project / ".bakeoff" / "results.sqlite")
    return env


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


class Progress:
    def __init__(self) -> None:
        self.seen: list[tuple[float, float | None, str | None]] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.seen.append((progress, total, message))


# ---- what every transport must do -------------------------------------------------------------


async def check_tools(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert sorted(tools) == sorted(TOOL_NAMES)
    agent = tools["prompt_nano_agent"].input_schema
    assert agent["required"] == ["agentic_prompt", "model"]
    assert {"provider", "workspace", "max_turns", "read_only"} <= set(agent["properties"])
    assert tools["run_bakeoff"].input_schema["required"] == ["prompt_or_task", "models"]


async def check_agent_writes(client: Client, project: Path) -> None:
    progress = Progress()
    result = await client.call_tool(
        "prompt_nano_agent",
        {"agentic_prompt": "write out.txt", "model": "script:writer.json", "workspace": "ws"},
        progress_callback=progress,
    )
    assert not result.is_error, text_of(result)
    assert (project / "ws" / "out.txt").read_text() == "hi\n"
    data = json.loads(text_of(result))
    assert data == result.structured_content
    assert set(data) == {
        "ok", "answer", "model", "provider", "turns", "tool_calls", "usage", "cost_usd",
        "duration_s", "error",
    }  # fmt: skip
    assert data["ok"] is True and data["answer"] == "wrote out.txt"
    assert (data["provider"], data["turns"], data["tool_calls"]) == ("script", 2, 1)
    assert data["usage"] == {
        "input_tokens": 12, "output_tokens": 3, "cached_tokens": 0, "reasoning_tokens": 0,
    }  # fmt: skip
    assert data["cost_usd"] == 0.0 and data["error"] is None
    assert [p[:2] for p in progress.seen] == [(1, 20), (2, 20)]


async def check_errors(client: Client, project: Path, outside: Path) -> None:
    unknown = await client.call_tool("prompt_nano_agent", {"agentic_prompt": "x", "model": "nope"})
    assert unknown.is_error and "unknown model 'nope'" in text_of(unknown)
    escape = await client.call_tool(
        "prompt_nano_agent",
        {"agentic_prompt": "x", "model": "script:writer.json", "workspace": str(outside)},
    )
    assert escape.is_error and "outside the directories this server may use" in text_of(escape)
    assert not (outside / "out.txt").exists()
    no_key = await client.call_tool(
        "prompt_nano_agent", {"agentic_prompt": "x", "model": "gpt-5-mini"}
    )
    assert no_key.is_error and "OPENAI_API_KEY" in text_of(no_key)
    # The server is still serving after the errors.
    listed = await client.call_tool("list_models", {})
    assert not listed.is_error


async def check_list_models(client: Client) -> None:
    result = await client.call_tool("list_models", {})
    assert not result.is_error
    assert result.structured_content is not None
    models = {m["id"]: m for m in result.structured_content["models"]}
    mini = models["openai:gpt-5-mini"]
    assert "gpt-5-mini" in mini["aliases"] and mini["provider"] == "openai"
    assert mini["usable"] is False and "OPENAI_API_KEY" in mini["why_not"]
    assert mini["price"]["input"] > 0


async def check_bakeoff(client: Client) -> None:
    progress = Progress()
    result = await client.call_tool(
        "run_bakeoff",
        {"prompt_or_task": "Say hello.", "models": ["script:writer.json", "script:talker.json"],
         "repeats": 2},
        progress_callback=progress,
    )  # fmt: skip
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data is not None
    assert f"run id: {data['run_id']}" in text_of(result)
    assert Path(data["report_html"]).is_file()
    assert {r["model"].rsplit("/", 1)[-1] for r in data["ranking"]} == {
        "writer.json",
        "talker.json",
    }
    assert "talker.json" in text_of(result)  # the comparison table
    assert [(p, t) for p, t, _ in progress.seen] == [(1, 4), (2, 4), (3, 4), (4, 4)]


# ---- in memory ---------------------------------------------------------------------------------


@asynccontextmanager
async def in_memory(project: Path) -> AsyncIterator[Client]:
    async with Client(build_server([project], BakeoffConfig())) as client:
        yield client


async def test_in_memory_tools_and_agent(project: Path) -> None:
    async with in_memory(project) as client:
        await check_tools(client)
        await check_agent_writes(client, project)
        await check_list_models(client)


async def test_in_memory_errors_come_back_as_tool_errors(project: Path, tmp_path: Path) -> None:
    async with in_memory(project) as client:
        await check_errors(client, project, tmp_path / "elsewhere")


async def test_symlink_out_of_the_root_is_refused(project: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (project / "link").symlink_to(tmp_path / "elsewhere")
    async with in_memory(project) as client:
        result = await client.call_tool(
            "prompt_nano_agent",
            {"agentic_prompt": "x", "model": "script:writer.json", "workspace": "link"},
        )
    assert result.is_error and "outside" in text_of(result)
    assert not (tmp_path / "elsewhere" / "out.txt").exists()


async def test_provider_and_model_make_one_id_and_read_only_blocks_writes(project: Path) -> None:
    async with in_memory(project) as client:
        result = await client.call_tool(
            "prompt_nano_agent",
            {
                "agentic_prompt": "x",
                "model": "writer.json",
                "provider": "script",
                "read_only": True,
            },
        )
    data = result.structured_content
    assert not result.is_error and data is not None
    assert data["model"] == "script:writer.json" and data["ok"] is True
    assert not (project / "out.txt").exists()  # write_file was not offered; the model was told


async def test_max_turns_limit_is_a_result_not_an_error(project: Path) -> None:
    async with in_memory(project) as client:
        result = await client.call_tool(
            "prompt_nano_agent",
            {
                "agentic_prompt": "x",
                "model": "script:writer.json",
                "max_turns": 1,
                "workspace": "w",
            },
        )
    data = result.structured_content
    assert not result.is_error and data is not None
    assert data["ok"] is False and "1 turns" in data["error"]


async def test_in_memory_bakeoff_sends_progress(project: Path) -> None:
    async with in_memory(project) as client:
        await check_bakeoff(client)


async def test_bakeoff_on_a_task_folder_and_outside_the_roots(
    project: Path, tmp_path: Path
) -> None:
    task = project / "tasks" / "hello"
    (task / "files").mkdir(parents=True)
    (task / "hidden").mkdir()
    (task / "hidden" / "check_out.py").write_text("assert open('out.txt').read() == 'hi\\n'\n")
    (task / "task.toml").write_text(
        'name = "hello"\nprompt = "Write out.txt"\ncategory = "create"\ndifficulty = 1\n'
        '[check]\ncommand = "python check_out.py"\n'
    )
    outside = tmp_path / "other-task"
    outside.mkdir()
    (outside / "task.toml").write_text((task / "task.toml").read_text())
    async with in_memory(project) as client:
        result = await client.call_tool(
            "run_bakeoff", {"prompt_or_task": "tasks/hello", "models": ["script:writer.json"]}
        )
        refused = await client.call_tool(
            "run_bakeoff", {"prompt_or_task": str(outside), "models": ["script:writer.json"]}
        )
        unknown = await client.call_tool(
            "run_bakeoff", {"prompt_or_task": "tasks/hello", "models": ["nope"]}
        )
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    [row] = result.structured_content["ranking"]
    assert row["pass_rate"] == 1.0 and row["grade"] != "-"
    assert refused.is_error and "outside" in text_of(refused)
    assert unknown.is_error and "unknown model 'nope'" in text_of(unknown)


def test_http_address_is_loopback_unless_allowed() -> None:
    assert parse_http_address("127.0.0.1:8765") == ("127.0.0.1", 8765)
    assert parse_http_address("localhost:80") == ("localhost", 80)
    assert parse_http_address("[::1]:9000") == ("::1", 9000)
    assert parse_http_address("0.0.0.0:8765", allow_remote=True) == ("0.0.0.0", 8765)
    for bad in ("0.0.0.0:8765", "192.168.1.5:80", "8765", "host:port", "127.0.0.1:70000"):
        with pytest.raises(UserError):
            parse_http_address(bad)


def test_cli_refuses_a_remote_host_and_a_missing_root(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["mcp", "--http", "0.0.0.0:8765"]) == 2
    assert "--allow-remote" in capsys.readouterr().err
    assert main(["mcp", "--root", str(project / "missing")]) == 2
    assert "not found" in capsys.readouterr().err


# ---- over stdio ----------------------------------------------------------------------------------


def stdio_params(project: Path, *roots: Path) -> StdioServerParameters:
    args = ["-m", "bakeoff.cli", "mcp"]
    for root in roots:
        args += ["--root", str(root)]
    return StdioServerParameters(
        command=sys.executable, args=args, cwd=project, env=child_env(project)
    )


async def test_stdio_end_to_end(project: Path, tmp_path: Path) -> None:
    async with Client(stdio_params(project, project)) as client:
        await check_tools(client)
        await check_agent_writes(client, project)
        await check_list_models(client)
        await check_errors(client, project, tmp_path / "elsewhere")
        await check_bakeoff(client)


def test_stdio_stdout_carries_only_protocol_messages(project: Path) -> None:
    """Raw pipes, no SDK on our side: every line the server writes to stdout is JSON-RPC."""
    requests: list[dict[str, Any]] = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "prompt_nano_agent",
            "arguments": {"agentic_prompt": "go", "model": "script:writer.json"}}},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "prompt_nano_agent", "arguments": {"agentic_prompt": "go", "model": "nope"}}},
    ]  # fmt: skip
    with subprocess.Popen(
        [sys.executable, "-m", "bakeoff.cli", "mcp"],
        cwd=project,
        env={**os.environ, **child_env(project)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        replies: dict[int, dict[str, Any]] = {}
        lines: list[str] = []
        for request in requests:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
            while "id" in request and request["id"] not in replies:
                line = proc.stdout.readline()
                assert line, f"server exited early: {proc.stderr.read() if proc.stderr else ''}"
                lines.append(line)
                message = json.loads(line)
                assert message["jsonrpc"] == "2.0"
                if "id" in message:
                    replies[message["id"]] = message
        rest, _ = proc.communicate(timeout=30)  # closes stdin: the server exits on EOF
    assert rest == ""
    assert all(line.endswith("\n") for line in lines)
    assert replies[2]["result"]["isError"] is False
    assert replies[2]["result"]["structuredContent"]["answer"] == "wrote out.txt"
    assert replies[3]["result"]["isError"] is True
    assert (project / "out.txt").read_text() == "hi\n"


# ---- over streamable HTTP ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def http_server(project: Path) -> Iterator[str]:
    port = free_port()
    log = (project.parent / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bakeoff.cli", "mcp", "--http", f"127.0.0.1:{port}"],
        cwd=project,
        env={**os.environ, **child_env(project)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (project.parent / "server.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the HTTP server did not start in 60 s"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


async def test_streamable_http_end_to_end(http_server: str, project: Path, tmp_path: Path) -> None:
    async with Client(http_server) as client:
        await check_tools(client)
        await check_agent_writes(client, project)
        await check_list_models(client)
        await check_errors(client, project, tmp_path / "elsewhere")
        await check_bakeoff(client)
    assert f"bakeoff MCP server on {http_server}" in (project.parent / "server.log").read_text()
