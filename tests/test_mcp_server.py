"""The MCP server as its clients see it: the official MCP client drives it in memory (fast
cases), over stdio (a `bakeoff mcp` subprocess) and over streamable HTTP (a `bakeoff mcp --http`
subprocess on a free loopback port). Scripted models make every run real and offline. The HTTP
guards (Host/Origin checks, the bearer token) are tested with raw HTTP requests on real sockets;
the provenance rule of run_bakeoff with a scripted agent that writes a task.toml."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent
from models.wire_servers import WireServer, anthropic_stream, anthropic_text_block

from bakeoff.cli import main
from bakeoff.config import BakeoffConfig, load_config
from bakeoff.errors import UserError
from bakeoff.mcp_http import parse_http_address, stored_token
from bakeoff.mcp_server import TOOL_NAMES, build_server

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
    # Default agent workspaces are new temp folders: keep them in this test's tmp.
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    return root


def child_env(project: Path) -> dict[str, str]:
    env = {k: os.environ[k] for k in PASS_THROUGH_ENV if k in os.environ}
    env["BAKEOFF_CONFIG"] = str(project / "bakeoff.toml")
    env["BAKEOFF_STORE"] = str(project / ".bakeoff" / "results.sqlite")
    env["TMPDIR"] = str(project.parent / "tmp")
    env["XDG_CONFIG_HOME"] = str(project.parent / "config")  # where the MCP token is kept
    return env


def token_of(project: Path) -> str:
    """The token a `bakeoff mcp --http` started with `child_env(project)` keeps."""
    return (project.parent / "config" / "bakeoff" / "mcp-token").read_text().strip()


def bearer(project: Path) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_of(project)}"}


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
    # The agent --json object (its exact key set is test_cli's contract) plus the workspace.
    assert {
        "ok", "answer", "model", "provider", "turns", "tool_calls", "usage", "cost_usd",
        "duration_s", "error", "workspace",
    } <= set(data)  # fmt: skip
    assert data["workspace"] == os.path.realpath(project / "ws")
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
    assert {r["model"] for r in data["ranking"]} == {"script:writer", "script:talker"}
    assert "script:talker" in text_of(result)  # the comparison table
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
    assert data["model"] == "script:writer" and data["ok"] is True
    assert Path(data["workspace"]).is_dir()
    # write_file was not offered; the model was told
    assert not (Path(data["workspace"]) / "out.txt").exists()


async def test_an_alias_resolves_with_or_without_its_provider(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seed's sub-agents pass (model, provider); "opus-4.1" with "anthropic" is the alias,
    not a model named "opus-4.1". A provider that is not the alias's own keeps the name as its
    model: here a script file called "haiku"."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    (project / "haiku").write_text(json.dumps([{"text": "scripted haiku"}]))
    with WireServer() as wire:
        (project / "bakeoff.toml").write_text(f'[providers.anthropic]\nbase_url = "{wire.url}"\n')
        wire.add(*(anthropic_stream(*anthropic_text_block(0, "done")) for _ in range(2)))
        async with Client(build_server([project], load_config())) as client:
            results = [
                await client.call_tool("prompt_nano_agent", {"agentic_prompt": "x", **args})
                for args in (
                    {"model": "opus-4.1", "provider": "anthropic"},
                    {"model": "opus-4.1"},
                    {"model": "haiku", "provider": "script"},
                )
            ]
    assert [r.is_error for r in results] == [False] * 3, [text_of(r) for r in results]
    data = [r.structured_content or {} for r in results]
    assert [(d["provider"], d["answer"]) for d in data] == [
        ("anthropic", "done"),
        ("anthropic", "done"),
        ("script", "scripted haiku"),
    ]
    assert [request.body["model"] for request in wire.requests] == ["claude-opus-4-1"] * 2


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


async def test_default_workspace_is_a_fresh_temp_folder_each_call(project: Path) -> None:
    before = sorted(project.iterdir())
    call = {"agentic_prompt": "write out.txt", "model": "script:writer.json"}
    async with in_memory(project) as client:
        first = (await client.call_tool("prompt_nano_agent", call)).structured_content
        second = (await client.call_tool("prompt_nano_agent", call)).structured_content
    assert first is not None and second is not None
    spaces = [Path(first["workspace"]), Path(second["workspace"])]
    assert spaces[0] != spaces[1]
    for space in spaces:
        assert space.parent == Path(os.path.realpath(tempfile.gettempdir()))
        assert (space / "out.txt").read_text() == "hi\n"  # kept after the run
    assert sorted(project.iterdir()) == before


def task_writer(project: Path, folder: str) -> str:
    """A scripted agent that writes a complete task (task.toml, fixture, check) into `folder`
    of its workspace; returns its model id."""
    toml = (
        'name = "planted"\nprompt = "Write out.txt"\ncategory = "create"\ndifficulty = 1\n'
        '[check]\ncommand = "python check.py"\n'
    )
    files = {
        f"{folder}/task.toml": toml,
        f"{folder}/files/README": "empty\n",
        f"{folder}/hidden/check.py": "print('checked')\n",
    }
    script = [
        {"tool_calls": [{"name": "write_file", "arguments": {"path": path, "content": text}}]}
        for path, text in files.items()
    ] + [{"text": "planted a task"}]
    (project / "planter.json").write_text(json.dumps(script))
    return "script:planter.json"


async def test_run_bakeoff_refuses_a_task_an_agent_wrote(project: Path) -> None:
    model = task_writer(project, "evil")
    async with in_memory(project) as client:
        planted = await client.call_tool(
            "prompt_nano_agent", {"agentic_prompt": "x", "model": model, "workspace": "ws"}
        )
        assert not planted.is_error, text_of(planted)
        assert (project / "ws" / "evil" / "task.toml").is_file()
        refused = {
            target: await client.call_tool(
                "run_bakeoff", {"prompt_or_task": target, "models": ["script:writer.json"]}
            )
            for target in ("ws/evil", "ws/evil/task.toml", "ws", str(project / "ws" / "evil"))
        }
        # The same files, copied out by the user after review, run: provenance decides.
        shutil.copytree(project / "ws" / "evil", project / "reviewed")
        reviewed = await client.call_tool(
            "run_bakeoff", {"prompt_or_task": "reviewed", "models": ["script:writer.json"]}
        )
    for target, result in refused.items():
        assert result.is_error, target
        assert "a workspace a nano agent wrote to" in text_of(result), target
        assert "bakeoff run" in text_of(result)
    assert not reviewed.is_error, text_of(reviewed)


async def test_run_bakeoff_refuses_a_task_an_agent_worked_inside(project: Path) -> None:
    task = project / "tasks" / "hello"
    (task / "files").mkdir(parents=True)
    (task / "task.toml").write_text(
        'name = "hello"\nprompt = "Write out.txt"\ncategory = "create"\ndifficulty = 1\n'
        '[judge]\nrubric = "ok"\n'
    )
    async with in_memory(project) as client:
        worked = await client.call_tool(
            "prompt_nano_agent",
            {
                "agentic_prompt": "x",
                "model": "script:writer.json",
                "workspace": "tasks/hello/files",
            },
        )
        assert not worked.is_error, text_of(worked)
        results = [
            await client.call_tool(
                "run_bakeoff", {"prompt_or_task": target, "models": ["script:writer.json"]}
            )
            for target in ("tasks/hello", "tasks")
        ]
    for result in results:
        assert result.is_error and "overlaps" in text_of(result)


async def test_run_bakeoff_refuses_a_task_in_a_default_workspace_under_a_root(
    project: Path, tmp_path: Path
) -> None:
    """Even with a root that holds the temp dir, a default workspace's task is refused."""
    model = task_writer(project, "evil")
    async with Client(build_server([project, tmp_path], BakeoffConfig())) as client:
        planted = await client.call_tool(
            "prompt_nano_agent", {"agentic_prompt": "x", "model": model}
        )
        assert planted.structured_content is not None
        evil = Path(planted.structured_content["workspace"]) / "evil"
        assert (evil / "task.toml").is_file() and tmp_path in evil.parents
        refused = await client.call_tool(
            "run_bakeoff", {"prompt_or_task": str(evil), "models": ["script:writer.json"]}
        )
    assert refused.is_error and "a workspace a nano agent wrote to" in text_of(refused)


def test_http_address_is_loopback_unless_allowed() -> None:
    assert parse_http_address("127.0.0.1:8765") == ("127.0.0.1", 8765)
    assert parse_http_address("localhost:80") == ("localhost", 80)
    assert parse_http_address("[::1]:9000") == ("::1", 9000)
    assert parse_http_address("0.0.0.0:8765", allow_remote=True) == ("0.0.0.0", 8765)
    bad_addresses = (
        "0.0.0.0:8765", "192.168.1.5:80", "8765", "host:port", "127.0.0.1:70000",
        "127.0.0.2:8765", "127.1:8765", "[::ffff:127.0.0.1]:8765", "[::]:8765",
        "localhost.evil.example:80",
    )  # fmt: skip
    for bad in bad_addresses:
        with pytest.raises(UserError):
            parse_http_address(bad)
    assert parse_http_address("127.0.0.2:8765", allow_remote=True) == ("127.0.0.2", 8765)


def test_cli_refuses_a_remote_host_and_a_missing_root(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["mcp", "--http", "0.0.0.0:8765"]) == 2
    assert "--allow-remote" in capsys.readouterr().err
    assert main(["mcp", "--http", "127.0.0.2:8765"]) == 2
    assert "not a loopback address" in capsys.readouterr().err
    assert main(["mcp", "--root", str(project / "missing")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["mcp", "--allow-remote"]) == 2
    assert "apply to --http only" in capsys.readouterr().err
    monkeypatch.delenv("BAKEOFF_TEST_TOKEN", raising=False)
    args = ["mcp", "--http", "127.0.0.1:8765", "--token-env", "BAKEOFF_TEST_TOKEN"]
    assert main(args) == 2
    assert "$BAKEOFF_TEST_TOKEN is not set" in capsys.readouterr().err
    monkeypatch.setenv("BAKEOFF_TEST_TOKEN", "short")
    assert main(args) == 2
    assert "under 16 characters" in capsys.readouterr().err


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
    # No workspace given: a new folder under the temp dir, never the server's own folder.
    workspace = Path(replies[2]["result"]["structuredContent"]["workspace"])
    assert workspace.parent == Path(os.path.realpath(project.parent / "tmp"))
    assert (workspace / "out.txt").read_text() == "hi\n"
    assert not (project / "out.txt").exists()


# ---- over streamable HTTP ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class HttpServer:
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text()


@contextmanager
def running_http_server(
    project: Path, host: str = "127.0.0.1", *flags: str, env: dict[str, str] | None = None
) -> Iterator[HttpServer]:
    """`bakeoff mcp --http HOST:PORT FLAGS...` on a free port, until the block ends."""
    port = free_port()
    log_path = project.parent / f"server-{port}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bakeoff.cli", "mcp", "--http", f"{host}:{port}", *flags],
            cwd=project,
            env={**os.environ, **child_env(project), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, log_path.read_text()
                try:
                    socket.create_connection((host, port), timeout=0.5).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "the HTTP server did not start in 60 s"
                    time.sleep(0.1)
            yield HttpServer(f"http://{host}:{port}/mcp", log_path)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def http_server(project: Path) -> Iterator[str]:
    with running_http_server(project) as server:
        yield server.url


async def test_streamable_http_end_to_end(http_server: str, project: Path, tmp_path: Path) -> None:
    async with (
        httpx2.AsyncClient(headers=bearer(project), timeout=60) as http,
        Client(streamable_http_client(http_server, http_client=http)) as client,
    ):
        await check_tools(client)
        await check_agent_writes(client, project)
        await check_list_models(client)
        await check_errors(client, project, tmp_path / "elsewhere")
        await check_bakeoff(client)
    logs = "".join(log.read_text() for log in project.parent.glob("server-*.log"))
    assert f"bakeoff MCP server on {http_server}" in logs


INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"}},
}  # fmt: skip
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


def post_initialize(url: str, **headers: str) -> httpx2.Response:
    """One raw MCP initialize request; `headers` override the ones httpx2 would send."""
    return httpx2.post(url, json=INITIALIZE, headers={**MCP_HEADERS, **headers}, timeout=30)


def test_loopback_http_needs_the_token_too(project: Path) -> None:
    """A contestant given the network reaches the host's loopback: no token, no agent."""
    with running_http_server(project) as server:
        token = token_of(project)
        refused = [
            post_initialize(server.url),
            post_initialize(server.url, Authorization="Bearer"),
            post_initialize(server.url, Authorization=f"Bearer {token[:-1]}"),
            post_initialize(server.url, Authorization=f"bearer {token} extra"),
        ]
        accepted = post_initialize(server.url, Authorization=f"bearer {token}")
        first = server.output()
    assert [r.status_code for r in refused] == [401] * len(refused)
    assert accepted.status_code == 200
    assert first.count(token) == 1  # made now: shown once, so the user can copy it
    kept = project.parent / "config" / "bakeoff" / "mcp-token"
    assert kept.stat().st_mode & 0o777 == 0o600 and kept.parent.stat().st_mode & 0o777 == 0o700
    with running_http_server(project) as again:
        assert post_initialize(again.url, **bearer(project)).status_code == 200
        assert token not in again.output() and str(kept) in again.output()


def test_a_token_file_others_can_read_or_a_link_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "mcp-token"
    token, made = stored_token(path)
    assert made and len(token) >= 32 and stored_token(path) == (token, False)
    path.chmod(0o644)
    with pytest.raises(UserError, match="chmod 600"):
        stored_token(path)
    path.unlink()
    (tmp_path / "elsewhere").write_text("x" * 40)
    path.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UserError, match="remove it"):
        stored_token(path)
    path.unlink()
    path.write_text("short\n")
    path.chmod(0o600)
    with pytest.raises(UserError, match="under 16 characters"):
        stored_token(path)


def test_http_refuses_a_foreign_host_or_origin(http_server: str, project: Path) -> None:
    """A DNS-rebinding page reaches the port under its own name: refused before any tool runs."""
    port = http_server.split(":")[2].split("/")[0]
    auth = bearer(project)
    rebound = post_initialize(http_server, **auth, Host=f"evil.example:{port}")
    assert rebound.status_code == 421 and "Invalid Host header" in rebound.text
    assert post_initialize(http_server, **auth, Host="evil.example").status_code == 421
    # Host of another loopback port (a second local service's origin) is not ours either.
    assert post_initialize(http_server, **auth, Host="127.0.0.1:1").status_code == 421
    cross = post_initialize(http_server, **auth, Origin="http://evil.example")
    assert cross.status_code == 403 and "Invalid Origin header" in cross.text
    # A modern-era request goes through the other code path of the SDK: also checked.
    modern = post_initialize(
        http_server, **auth, Host="evil.example", **{"MCP-Protocol-Version": "2026-07-28"}
    )
    assert modern.status_code == 421
    assert post_initialize(http_server, **auth).status_code == 200
    assert post_initialize(http_server, **auth, Host=f"localhost:{port}").status_code == 200
    assert (
        post_initialize(http_server, **auth, Origin=f"http://127.0.0.1:{port}").status_code == 200
    )


def test_allow_remote_requires_the_printed_token(project: Path) -> None:
    # 127.0.0.2 is not loopback to bakeoff (so it needs --allow-remote) yet reachable from here.
    with running_http_server(project, "127.0.0.2", "--allow-remote") as server:
        deadline = time.monotonic() + 30
        while "TOKEN: " not in server.output():
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.1)
        token = server.output().split("TOKEN: ", 1)[1].split()[0]
        assert len(token) >= 32
        refused = [
            post_initialize(server.url),
            post_initialize(server.url, Authorization="Bearer wrong-token"),
            post_initialize(server.url, Authorization=f"Basic {token}"),
            post_initialize(server.url, Authorization=f"Bearer {token}x"),
            httpx2.get(server.url.removesuffix("/mcp") + "/anything", timeout=30),
        ]
        accepted = post_initialize(server.url, Authorization=f"Bearer {token}")
        rebound = post_initialize(server.url, Authorization=f"Bearer {token}", Host="evil.example")
        output = server.output()
    assert [r.status_code for r in refused] == [401] * len(refused)
    assert refused[0].headers["www-authenticate"].startswith("Bearer")
    assert "'Authorization: Bearer TOKEN'" in refused[0].text
    assert accepted.status_code == 200
    assert rebound.status_code == 421  # the token does not lift the Host check
    assert output.count(token) == 1  # printed once, never logged with a request


ENV_TOKEN = "t0ken-from-the-environment-0123456789"


@pytest.fixture
def token_env_server(project: Path) -> Iterator[HttpServer]:
    """A loopback server that reads its token from $MY_MCP_TOKEN and also answers to the name
    my-box.example (started outside the event loop: the start-up wait sleeps)."""
    flags = ("--token-env", "MY_MCP_TOKEN", "--allow-host", "my-box.example")
    with running_http_server(
        project, "127.0.0.1", *flags, env={"MY_MCP_TOKEN": ENV_TOKEN}
    ) as server:
        yield server


async def test_token_from_env_lets_the_official_client_in(
    token_env_server: HttpServer, project: Path
) -> None:
    url = token_env_server.url
    port = url.split(":")[2].split("/")[0]
    async with httpx2.AsyncClient(headers=MCP_HEADERS, timeout=30) as raw:
        anonymous = await raw.post(url, json=INITIALIZE)
        bearer = {"Authorization": f"Bearer {ENV_TOKEN}"}
        named = await raw.post(
            url, json=INITIALIZE, headers={**bearer, "Host": f"my-box.example:{port}"}
        )
        other = await raw.post(
            url, json=INITIALIZE, headers={**bearer, "Host": f"other.example:{port}"}
        )
    assert anonymous.status_code == 401
    assert named.status_code == 200 and other.status_code == 421  # --allow-host adds just that name
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {ENV_TOKEN}"}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        await check_tools(client)
        await check_agent_writes(client, project)
    output = token_env_server.output()
    assert ENV_TOKEN not in output
    assert "Authorization: Bearer TOKEN" in output
