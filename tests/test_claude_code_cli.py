"""The real Claude Code CLI (`@anthropic-ai/claude-code`, installed into ./node_modules by
`make claude-code`) reads what `bakeoff init claude` wrote into a project whose venv lies inside
it, as a teammate's clone does: `claude mcp list` shows the server pending until it is approved
in the project's `.claude/settings.local.json`, then starts `.venv/bin/bakeoff mcp` (a relative
path, no absolute one in `.mcp.json`) and sees it connected. Claude Code runs offline: telemetry,
auto-update and other nonessential traffic are off, its home is in the test's tmp, and where
bubblewrap works it runs with no network at all."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CLAUDE = REPO / "node_modules" / ".bin" / "claude"
BAKEOFF = Path(sys.executable).parent / "bakeoff"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"

pytestmark = [
    pytest.mark.skipif(
        not CLAUDE.exists(),
        reason="Claude Code CLI not installed: run `make claude-code` (needs npm; installs "
        "@anthropic-ai/claude-code into ./node_modules)",
    ),
    pytest.mark.skipif(
        not BAKEOFF.is_file(), reason="no `bakeoff` script beside this Python to put in a venv"
    ),
]


@functools.cache
def offline_prefix() -> tuple[str, ...]:
    """`bwrap` with the host's files but no network, where user namespaces allow it."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return ()
    probe = [bwrap, "--dev-bind", "/", "/", "--unshare-net", "true"]
    if subprocess.run(probe, capture_output=True, timeout=30).returncode != 0:
        return ()
    return (bwrap, "--dev-bind", "/", "/", "--unshare-net", "--die-with-parent")


def claude_env(home: Path, project: Path) -> dict[str, str]:
    """What `claude` starts with: no keys, no bakeoff on PATH, nothing that phones home."""
    env = {k: os.environ[k] for k in ("LANG", "TZ") if k in os.environ}
    return {
        **env,
        "PATH": SYSTEM_PATH,
        "HOME": str(home),
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DO_NOT_TRACK": "1",
        "MCP_TIMEOUT": "60000",  # ms for the server to start: CI machines can be slow
        # Read by the bakeoff server Claude Code starts.
        "BAKEOFF_CONFIG": str(project / "bakeoff.toml"),
        "BAKEOFF_STORE": str(project / ".bakeoff" / "results.sqlite"),
        "GENAI_PRICES_AUTO_UPDATE": "0",
    }


def mcp_list(project: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [*offline_prefix(), str(CLAUDE), "mcp", "list"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_claude_code_connects_to_the_generated_server(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "bakeoff.toml").write_text("")
    # The project's own venv, as each teammate makes it in their clone (here: this one, linked).
    (project / ".venv").symlink_to(Path(sys.prefix))
    init = subprocess.run(
        [".venv/bin/bakeoff", "init", "claude", "--models", "local,gpt-5-mini"],
        cwd=project,
        env={**os.environ, "PATH": SYSTEM_PATH, "BAKEOFF_CONFIG": str(project / "bakeoff.toml")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert init.returncode == 0, init.stderr
    mcp_json = (project / ".mcp.json").read_text()
    assert str(tmp_path) not in mcp_json and sys.prefix not in mcp_json
    assert json.loads(mcp_json)["mcpServers"]["bakeoff"]["command"] == ".venv/bin/bakeoff"

    # A home where the user has trusted this folder, as the first `claude` run records it.
    home = tmp_path / "home"
    home.mkdir()
    trusted = {"projects": {os.path.realpath(project): {"hasTrustDialogAccepted": True}}}
    (home / ".claude.json").write_text(json.dumps(trusted))
    env = claude_env(home, project)

    version = subprocess.run(
        [str(CLAUDE), "--version"], env=env, capture_output=True, text=True, timeout=60
    )
    assert version.returncode == 0 and "Claude Code" in version.stdout, version.stderr

    before = mcp_list(project, env)
    assert "bakeoff: .venv/bin/bakeoff mcp" in before and "Pending approval" in before

    settings = project / ".claude" / "settings.local.json"
    settings.write_text(json.dumps({"enabledMcpjsonServers": ["bakeoff"]}))
    after = mcp_list(project, env)
    line = next(x for x in after.splitlines() if x.startswith("bakeoff:"))
    assert "Connected" in line, after
