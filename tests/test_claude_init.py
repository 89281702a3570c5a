"""`bakeoff init claude` as a Claude Code user meets it: the files it writes follow Claude Code's
formats (YAML front matter, `mcp__<server>__<tool>` names of tools the server really exposes,
a valid .mcp.json), nothing is overwritten without --force, other MCP servers are kept, the
server command works from any clone (never an absolute path), and the printed next steps say how
to approve the server and which key each sub-agent needs. tests/test_claude_code_cli.py checks
the result with the real Claude Code CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp import Client

from bakeoff.claude_init import READY_TOOL, init_claude, model_slug, render_command
from bakeoff.cli import main
from bakeoff.config import BakeoffConfig
from bakeoff.errors import UnknownModelError, UserError
from bakeoff.evals.store.records import GradeWeights
from bakeoff.evals.verdict.letters import LETTER_BANDS
from bakeoff.mcp_server import SERVER_NAME, build_server

MODELS = ["gpt-5-mini", "sonnet-4", "haiku", "local", "ollama:gpt-oss:20b"]


def front_matter(path: Path) -> tuple[dict[str, Any], str]:
    return front_matter_of(path.read_text(encoding="utf-8"))


def front_matter_of(text: str) -> tuple[dict[str, Any], str]:
    match = re.match(r"---\n(.*?)\n---\n(.*)", text, re.DOTALL)
    assert match, f"{text[:80]!r}... does not start with a --- front matter block"
    meta = yaml.safe_load(match.group(1))
    assert isinstance(meta, dict)
    return meta, match.group(2)


def listed_tools(value: str) -> list[str]:
    return [t.strip() for t in value.split(",") if t.strip()]


async def exposed_tools(tmp_path: Path) -> set[str]:
    async with Client(build_server([tmp_path], BakeoffConfig())) as client:
        return {t.name for t in (await client.list_tools()).tools}


async def test_generated_files_follow_claude_code_formats(
    tmp_path: Path, isolated_config: Path
) -> None:
    result = init_claude(MODELS, tmp_path)
    agents = sorted((tmp_path / ".claude" / "agents").glob("*.md"))
    command = tmp_path / ".claude" / "commands" / "bakeoff.md"
    assert [p.name for p in agents] == sorted(f"nano-agent-{model_slug(m)}.md" for m in MODELS)
    assert set(result.written) == {*agents, command, tmp_path / ".mcp.json"}

    real = {f"mcp__{SERVER_NAME}__{name}" for name in await exposed_tools(tmp_path)}
    for path, model in zip(agents, sorted(MODELS, key=model_slug), strict=True):
        meta, body = front_matter(path)
        assert set(meta) == {"name", "description", "tools", "model"}
        assert meta["name"] == path.stem and re.fullmatch(r"[a-z0-9-]+", meta["name"])
        assert listed_tools(meta["tools"]) == ["mcp__bakeoff__prompt_nano_agent"]
        assert set(listed_tools(meta["tools"])) <= real
        assert meta["model"] in {"haiku", "sonnet", "opus", "inherit"}
        assert model in meta["description"]
        assert f'`model`: `"{model}"`' in body and "unchanged" in body

    meta, body = front_matter(command)
    assert set(meta) == {"description", "argument-hint", "allowed-tools"}
    mcp_tools = [t for t in listed_tools(meta["allowed-tools"]) if t.startswith("mcp__")]
    assert mcp_tools and set(mcp_tools) <= real
    assert "$ARGUMENTS" in body
    for path in agents:
        assert f"`{path.stem}`" in body  # every sub-agent is part of the fan-out

    config = json.loads((tmp_path / ".mcp.json").read_text())
    assert config == {"mcpServers": {"bakeoff": {"command": "bakeoff", "args": ["mcp"]}}}


def test_grading_text_comes_from_the_graders() -> None:
    body = render_command(["gpt-5-mini"])
    w = GradeWeights()
    assert f"quality × ({w.quality:g} + {w.speed:g} × speed + {w.cost:g} × cost)" in body
    assert f"1 at ≤ {w.bands.fast_s:g} s, 0 at ≥ {w.bands.slow_s:g} s" in body
    assert "never as free" in body
    bands = ", ".join(f"{n} ≥ {f:.2f}" for n, f in LETTER_BANDS if f > 0)
    assert f"{bands}, else F" in body
    assert "S ≥ 0.90, A ≥ 0.80, B ≥ 0.70, C ≥ 0.60, D ≥ 0.50, else F" in body


def test_the_command_grades_with_the_configs_weights_and_bands(
    tmp_path: Path, isolated_config: Path
) -> None:
    config = BakeoffConfig.model_validate(
        {"weights": {"quality": 0.5, "speed": 0.1, "cost": 0.4}, "grading": {"slow_s": 600}}
    )
    init_claude(["gpt-5-mini"], tmp_path, config=config)
    body = (tmp_path / ".claude" / "commands" / "bakeoff.md").read_text(encoding="utf-8")
    assert "quality × (0.5 + 0.1 × speed + 0.4 × cost)" in body
    assert "0 at ≥ 600 s" in body


def test_no_overwrite_without_force_and_force_overwrites(
    tmp_path: Path, isolated_config: Path
) -> None:
    init_claude(["gpt-5-mini", "haiku"], tmp_path)
    agent = tmp_path / ".claude" / "agents" / "nano-agent-haiku.md"
    agent.write_text("my own edits\n")
    with pytest.raises(UserError) as err:
        init_claude(["gpt-5-mini", "haiku"], tmp_path)
    assert str(agent) in str(err.value) and "--force" in str(err.value)
    assert "bakeoff.md" not in str(err.value)  # unchanged files are not in the way
    assert agent.read_text() == "my own edits\n"
    # Nothing at all is written when something is in the way.
    with pytest.raises(UserError):
        init_claude(["gpt-5-mini", "haiku", "sonnet-4"], tmp_path)
    assert not (tmp_path / ".claude" / "agents" / "nano-agent-sonnet-4.md").exists()

    result = init_claude(["gpt-5-mini", "haiku"], tmp_path, force=True)
    assert result.written == [agent]
    assert front_matter(agent)[0]["name"] == "nano-agent-haiku"
    assert init_claude(["gpt-5-mini", "haiku"], tmp_path).written == []  # idempotent


def test_merge_keeps_other_servers(tmp_path: Path, isolated_config: Path) -> None:
    mcp_json = tmp_path / ".mcp.json"
    other = {"command": "npx", "args": ["-y", "some-server"], "env": {"TOKEN": "${TOKEN}"}}
    mcp_json.write_text(json.dumps({"mcpServers": {"other": other}, "extra": 1}))
    result = init_claude(["haiku"], tmp_path)
    data = json.loads(mcp_json.read_text())
    assert data["mcpServers"] == {
        "other": other,
        "bakeoff": {"command": "bakeoff", "args": ["mcp"]},
    }
    assert data["extra"] == 1 and result.kept_servers == ["other"]

    # A different bakeoff entry is the user's: replaced only with --force, others still kept.
    data["mcpServers"]["bakeoff"] = {"command": "/opt/bakeoff", "args": ["mcp", "--root", "/x"]}
    mcp_json.write_text(json.dumps(data))
    with pytest.raises(UserError, match=r"\.mcp\.json.*bakeoff.*differs"):
        init_claude(["haiku"], tmp_path)
    init_claude(["haiku"], tmp_path, force=True)
    assert json.loads(mcp_json.read_text())["mcpServers"]["other"] == other

    mcp_json.write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        init_claude(["haiku"], tmp_path, force=True)
    assert mcp_json.read_text() == "{not json"


def test_unknown_model_is_refused_with_suggestions(tmp_path: Path, isolated_config: Path) -> None:
    with pytest.raises(UnknownModelError, match="gpt-5-mini"):
        init_claude(["gpt-5-minii"], tmp_path)
    assert not (tmp_path / ".claude").exists() and not (tmp_path / ".mcp.json").exists()


def test_cli_init_claude(
    tmp_path: Path,
    isolated_config: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    project = tmp_path / "proj"
    project.mkdir()
    args = ["init", "claude", "--models", "gpt-5-mini,local,haiku", "--dir", str(project)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "nano-agent-gpt-5-mini.md" in out and "nano-agent-local.md" in out
    # The next steps: approve the server, each sub-agent's key, how to run /bakeoff.
    flat = " ".join(out.split())  # as read, whatever the line breaks
    assert f"Start `claude` in {project} and approve the project MCP server" in flat
    assert (
        ".claude/settings.local.json" in flat and '{"enabledMcpjsonServers": ["bakeoff"]}' in flat
    )
    keys = {line.split()[0]: line for line in out.splitlines() if "  nano-agent-" in line}
    assert "OPENAI_API_KEY (set here)" in keys["nano-agent-gpt-5-mini"]
    assert "ANTHROPIC_API_KEY (not set here)" in keys["nano-agent-haiku"]
    assert "nothing" in keys["nano-agent-local"] and "KEY" not in keys["nano-agent-local"]
    assert "/bakeoff <prompt> runs the prompt on every model above" in flat
    (project / ".claude" / "commands" / "bakeoff.md").write_text("mine\n")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "bakeoff.md" in err and "--force" in err
    assert main([*args, "--force"]) == 0
    assert (project / ".claude" / "commands" / "bakeoff.md").read_text() != "mine\n"


def test_command_waits_for_the_server_before_fanning_out() -> None:
    meta, body = front_matter_of(render_command(["gpt-5-mini", "local"]))
    assert READY_TOOL in listed_tools(meta["allowed-tools"])
    wait = body.index(f"call\n`{READY_TOOL}`")
    assert wait < body.index("## 1. Fan out") < body.index("`nano-agent-local`")
    assert "call it once more" in body and "launch nothing" in body


def test_mcp_json_never_holds_an_absolute_path(
    tmp_path: Path, isolated_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This venv on PATH (activated): `bakeoff`. A venv inside the project (here a link to this
    one, started by its path): that path, relative. Neither: `bakeoff` and a note saying why
    Claude Code will not find it and what to do."""
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "bakeoff").is_file():
        pytest.skip("no `bakeoff` script beside this Python: install bakeoff in the test venv")
    system_path = "/usr/local/bin:/usr/bin:/bin"

    def init(project: Path, bakeoff: Path, path: str) -> tuple[Any, str]:
        project.mkdir(exist_ok=True)
        done = subprocess.run(
            [str(bakeoff), "init", "claude", "--models", "local"],
            cwd=project,
            env={**os.environ, "PATH": path},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        text = (project / ".mcp.json").read_text()
        assert str(tmp_path) not in text and str(bin_dir) not in text
        return json.loads(text)["mcpServers"]["bakeoff"], done.stdout

    activated = tmp_path / "activated"
    entry, out = init(activated, bin_dir / "bakeoff", f"{bin_dir}:{system_path}")
    assert entry == {"command": "bakeoff", "args": ["mcp"]} and "note:" not in out

    inside = tmp_path / "inside"
    inside.mkdir()
    (inside / ".venv").symlink_to(Path(sys.prefix))
    entry, out = init(inside, inside / ".venv" / "bin" / "bakeoff", system_path)
    assert entry == {"command": ".venv/bin/bakeoff", "args": ["mcp"]}
    assert "start it in the project root" in " ".join(out.split()) and "note:" not in out

    entry, out = init(tmp_path / "neither", bin_dir / "bakeoff", system_path)
    assert entry == {"command": "bakeoff", "args": ["mcp"]}
    flat = " ".join(out.split())
    assert "note: `bakeoff` is not on PATH" in flat and "(activate the venv first" in flat


def test_init_with_http_sends_the_servers_token_without_committing_it(
    tmp_path: Path,
    isolated_config: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    project = tmp_path / "proj"
    project.mkdir()
    args = ["init", "claude", "--models", "local", "--dir", str(project)]
    assert main([*args, "--http", "127.0.0.1:8765"]) == 0
    flat = " ".join(capsys.readouterr().out.split())
    entry = json.loads((project / ".mcp.json").read_text())["mcpServers"]["bakeoff"]
    assert entry == {
        "type": "http",
        "url": "http://127.0.0.1:8765/mcp",
        "headers": {"Authorization": "Bearer ${BAKEOFF_MCP_TOKEN}"},
    }
    kept = tmp_path / "config" / "bakeoff" / "mcp-token"
    token = kept.read_text().strip()
    assert len(token) >= 32 and kept.stat().st_mode & 0o777 == 0o600
    assert not any(token in p.read_text() for p in project.rglob("*") if p.is_file())
    assert "`bakeoff mcp --http 127.0.0.1:8765`" in flat
    assert f'export BAKEOFF_MCP_TOKEN="$(cat {kept})"' in flat
    assert main([*args, "--http", "127.0.0.1:8765"]) == 0  # again: same token, nothing new
    assert kept.read_text().strip() == token
    assert main([*args, "--http", "0.0.0.0:8765", "--force"]) == 2
    assert "not a loopback address" in capsys.readouterr().err
