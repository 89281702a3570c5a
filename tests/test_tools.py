"""The file tools and run_command, as a model would call them."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest

from bakeoff.agent import run_agent
from bakeoff.errors import ToolError
from bakeoff.models.scripted import ScriptedModel
from bakeoff.tools import ToolBox
from bakeoff.types import ToolCall
from bakeoff.workspace import MAX_LIST_ENTRIES, MAX_READ_BYTES, MAX_WRITE_BYTES, Workspace


@pytest.fixture
def box(tmp_path: Path) -> ToolBox:
    (tmp_path / "notes.txt").write_text("alpha\nbeta\nalpha\n")
    return ToolBox(Workspace(tmp_path), allow_commands=True, command_timeout_s=2)


async def call(box: ToolBox, name: str, **args: object) -> str:
    return await box.run(ToolCall(id="c1", name=name, arguments=dict(args)))


async def test_write_then_read_and_info(box: ToolBox) -> None:
    assert "Created" in await call(box, "write_file", path="pkg/mod.py", content="print(1)\n")
    assert await call(box, "read_file", path="pkg/mod.py") == "print(1)\n"
    info = await call(box, "get_file_info", path="pkg/mod.py")
    assert "type: file" in info and "size_bytes: 9" in info and "lines: 1" in info
    assert await call(box, "list_directory") == "notes.txt\npkg/"


async def test_edit_file_requires_exactly_one_match(box: ToolBox) -> None:
    await call(box, "read_file", path="notes.txt")
    with pytest.raises(ToolError, match=r"occurs 2 times .*lines 1, 3"):
        await call(box, "edit_file", path="notes.txt", old_str="alpha", new_str="x")
    with pytest.raises(ToolError, match="not found"):
        await call(box, "edit_file", path="notes.txt", old_str="gamma", new_str="x")
    await call(box, "edit_file", path="notes.txt", old_str="beta\nalpha", new_str="beta\nomega")
    assert (box.workspace.root / "notes.txt").read_text() == "alpha\nbeta\nomega\n"


async def test_overwrites_leave_exactly_the_new_bytes(box: ToolBox) -> None:
    """Content is written over from the start and then cut to its length (not cut to zero
    first): a shorter write or edit leaves no tail of the old file, a longer one no gap."""
    notes = box.workspace.root / "notes.txt"
    await call(box, "read_file", path="notes.txt")
    await call(box, "write_file", path="notes.txt", content="ab\n")
    assert notes.read_bytes() == b"ab\n"
    await call(box, "write_file", path="notes.txt", content="x" * 5000)
    assert notes.read_bytes() == b"x" * 5000
    await call(box, "edit_file", path="notes.txt", old_str="x" * 4000, new_str="y")
    assert notes.read_bytes() == b"y" + b"x" * 1000
    await call(box, "write_file", path="notes.txt", content="")
    assert notes.read_bytes() == b""


async def test_edit_hint_points_at_a_whitespace_mismatch(box: ToolBox) -> None:
    (box.workspace.root / "f.py").write_text("def f():\n    return 1\n")
    await call(box, "read_file", path="f.py")
    with pytest.raises(ToolError, match="line 2"):
        await call(box, "edit_file", path="f.py", old_str="return 1\n  ", new_str="return 2")


async def test_an_existing_file_is_changed_only_after_it_was_read(box: ToolBox) -> None:
    """Read before change, as Claude Code's tools require: an edit made blind (old_str
    guessed) is refused with what to do, and so is overwriting a file never seen."""
    with pytest.raises(ToolError, match="not read it yet: read it with read_file first"):
        await call(box, "edit_file", path="notes.txt", old_str="beta", new_str="gamma")
    with pytest.raises(ToolError, match="not read it yet"):
        await call(box, "write_file", path="notes.txt", content="gone\n")
    assert (box.workspace.root / "notes.txt").read_text() == "alpha\nbeta\nalpha\n"
    await call(box, "read_file", path="./notes.txt")  # another name for the same file
    await call(box, "edit_file", path="notes.txt", old_str="beta", new_str="gamma")
    # A file the agent created or overwrote is known to it: it may change it again.
    await call(box, "write_file", path="new.txt", content="one\n")
    await call(box, "edit_file", path="new.txt", old_str="one", new_str="two")
    await call(box, "write_file", path="new.txt", content="three\n")
    assert (box.workspace.root / "new.txt").read_text() == "three\n"
    # Each run keeps its own record: a fresh toolbox on the same folder has read nothing.
    fresh = ToolBox(box.workspace)
    with pytest.raises(ToolError, match="not read it yet"):
        await call(fresh, "edit_file", path="new.txt", old_str="three", new_str="four")
    # `known` is bakeoff's, not a parameter a model can pass to skip the rule.
    with pytest.raises(ToolError, match="unknown: known"):
        await call(fresh, "edit_file", path="new.txt", old_str="t", new_str="x", known="[]")


async def test_a_python_file_that_no_longer_compiles_is_flagged(box: ToolBox) -> None:
    """After a write or edit, a `.py` file that does not compile gets a warning with the line
    and the error (the file is still written); valid Python and other files get none."""
    out = await call(box, "write_file", path="hello.py", content="Hello, world!\n")
    assert "Created hello.py" in out
    assert "Warning: hello.py is not valid Python now (SyntaxError at line 1" in out
    assert "'Hello, world!'" in out and "Read it and fix it." in out
    assert (box.workspace.root / "hello.py").read_text() == "Hello, world!\n"
    fixed = await call(box, "write_file", path="hello.py", content="print('Hello, world!')\n")
    assert "Warning" not in fixed
    out = await call(
        box, "edit_file", path="hello.py", old_str="print(", new_str="def f():\nprint("
    )
    assert "IndentationError at line 2" in out
    assert "Warning" not in await call(box, "write_file", path="notes.md", content="Hello {\n")


@pytest.mark.parametrize(
    "source",
    [
        "(" * 100_000,  # deeper than the parser nests
        "x = " + "-" * 200_000 + "1\n",  # a deep unary chain for the compiler to recurse on
        "x = [" + "[" * 5_000 + "]" * 5_000 + "]\n",
        "# -*- coding: no-such-codec -*-\nx = 1\n",
        "\x00\x01\x02 not even text",
    ],
    ids=["parens", "unary-chain", "nested-lists", "bad-codec", "binary"],
)
async def test_hostile_python_cannot_stop_the_check(box: ToolBox, source: str) -> None:
    """The check only compiles, in a child interpreter with capped memory and CPU: source
    built to crash or stall a compiler at worst goes unflagged, and the tool still answers."""
    out = await call(box, "write_file", path="evil.py", content=source)
    assert out.startswith("Created evil.py")


async def test_huge_files_are_capped(box: ToolBox) -> None:
    (box.workspace.root / "big.txt").write_text("x" * (MAX_READ_BYTES + 10))
    text = await call(box, "read_file", path="big.txt")
    assert "[truncated" in text and len(text) < MAX_READ_BYTES + 200
    with pytest.raises(ToolError, match="limit"):
        await call(box, "write_file", path="huge.txt", content="y" * (MAX_WRITE_BYTES + 1))
    assert not (box.workspace.root / "huge.txt").exists()


async def test_long_listings_are_capped(box: ToolBox) -> None:
    d = box.workspace.root / "many"
    d.mkdir()
    for i in range(MAX_LIST_ENTRIES + 5):
        (d / f"f{i:04d}").touch()
    assert "5 more entries not shown" in await call(box, "list_directory", path="many")


async def test_bad_calls_get_helpful_errors(box: ToolBox) -> None:
    with pytest.raises(ToolError, match="unknown tool 'delete_file'"):
        await call(box, "delete_file", path="x")
    with pytest.raises(ToolError, match="missing: content"):
        await call(box, "write_file", path="x")
    with pytest.raises(ToolError, match="not a JSON object"):
        await box.run(ToolCall(id="c", name="read_file", malformed="{path: notes"))
    with pytest.raises(ToolError, match="no such file"):
        await call(box, "read_file", path="missing.txt")
    with pytest.raises(ToolError, match=r"outside|absolute"):
        await call(box, "read_file", path="/etc/passwd")


async def test_read_only_and_no_commands_by_default(tmp_path: Path) -> None:
    names = [s.name for s in ToolBox(Workspace(tmp_path)).specs]
    assert names == ["read_file", "list_directory", "get_file_info", "write_file", "edit_file"]
    ro = ToolBox(Workspace(tmp_path), read_only=True, allow_commands=True)
    assert [s.name for s in ro.specs] == ["read_file", "list_directory", "get_file_info"]
    with pytest.raises(ToolError, match="unknown tool"):
        await ro.run(ToolCall(id="c", name="write_file", arguments={"path": "a", "content": "b"}))


async def test_run_command_runs_in_workspace_without_keys(
    box: ToolBox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leak")
    out = await call(box, "run_command", command="pwd; echo key=${OPENAI_API_KEY:-none}; exit 3")
    assert out.startswith("exit code: 3")
    assert str(box.workspace.root) in out and "key=none" in out


async def test_run_command_has_python_and_pytest_as_task_prompts_say(tmp_path: Path) -> None:
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert 1 == 1\n")
    box = ToolBox(Workspace(tmp_path), allow_commands=True, command_timeout_s=60)
    command = "python -c 'print(6 * 7)' && python -m pytest -q -p no:asyncio -p no:cacheprovider"
    out = await call(box, "run_command", command=command)
    assert out.startswith("exit code: 0"), out
    assert "42" in out and "1 passed" in out


async def test_run_command_timeout_kills_the_process_group(box: ToolBox) -> None:
    marker = box.workspace.root / "survived"
    t0 = time.perf_counter()
    with pytest.raises(ToolError, match="timed out"):
        await call(box, "run_command", command=f"(sleep 3; touch {marker}) & sleep 30")
    assert time.perf_counter() - t0 < 5
    # The background job would touch the marker 3 s after it started, had it survived.
    await asyncio.sleep(max(0.0, t0 + 3.5 - time.perf_counter()))
    assert not marker.exists()


async def test_run_command_output_is_capped(box: ToolBox) -> None:
    out = await call(box, "run_command", command="python3 -c \"print('z' * 100000)\"")
    assert "bytes cut" in out and len(out) < 20_000


def test_special_files_are_not_read(box: ToolBox) -> None:
    os.mkfifo(box.workspace.root / "pipe")
    with pytest.raises(ToolError, match="not a regular file"):
        asyncio.run(call(box, "read_file", path="pipe"))


# Hostile contestants: each trick from issue 8's "The jail has holes", tried through the tools.


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file beside the workspace (same file system, so a hard link to it can exist)."""
    secret = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    secret.write_text("SECRET outside content\n")
    return secret


async def test_hard_link_to_an_outside_file_is_not_read_written_or_edited(
    box: ToolBox, outside: Path
) -> None:
    os.link(outside, box.workspace.root / "innocent.txt")  # planted by a command
    for name, args in [
        ("read_file", {}),
        ("write_file", {"content": "overwritten"}),
        ("edit_file", {"old_str": "SECRET", "new_str": "pwned"}),
    ]:
        with pytest.raises(ToolError, match="hard link") as info:
            await call(box, name, path="innocent.txt", **args)
        assert "SECRET" not in str(info.value)
    info_text = await call(box, "get_file_info", path="innocent.txt")
    assert "hard_links: 2" in info_text and "lines:" not in info_text
    assert outside.read_text() == "SECRET outside content\n"


@pytest.mark.parametrize(
    "path", ["link.txt", "door/f.txt", "door/new.txt", "door/sub/new.txt", "inner/f.txt"]
)
async def test_a_symlink_at_any_component_is_not_followed(
    box: ToolBox, outside: Path, path: str
) -> None:
    root = box.workspace.root
    os.symlink(outside, root / "link.txt")
    os.symlink(outside.parent, root / "door")
    (root / "real").mkdir()
    os.symlink("real", root / "inner")  # points inside: refused all the same
    (root / "real" / "f.txt").write_text("inside\n")
    for name, args in [
        ("read_file", {}),
        ("write_file", {"content": "x"}),
        ("edit_file", {"old_str": "SECRET", "new_str": "pwned"}),
        ("get_file_info", {}),
    ]:
        with pytest.raises(ToolError, match="symlinks are not followed") as info:
            await call(box, name, path=path, **args)
        assert "SECRET" not in str(info.value)
    with pytest.raises(ToolError, match="symlink"):
        await call(box, "list_directory", path="door")
    assert outside.read_text() == "SECRET outside content\n"
    assert not (outside.parent / "new.txt").exists() and not (outside.parent / "sub").exists()
    listing = await call(box, "list_directory")
    assert "door [symlink: not followed]" in listing and "real/" in listing


@pytest.mark.parametrize("tool", ["read_file", "write_file", "edit_file", "get_file_info"])
async def test_a_fifo_never_blocks_a_tool(box: ToolBox, tool: str) -> None:
    fifo = box.workspace.root / "ANSWER.txt"
    os.mkfifo(fifo)
    args = {"write_file": {"content": "x"}, "edit_file": {"old_str": "a", "new_str": "b"}}
    t0 = time.perf_counter()
    try:
        with pytest.raises(ToolError, match="FIFO"):
            await asyncio.wait_for(call(box, tool, path="ANSWER.txt", **args.get(tool, {})), 5)
    finally:  # had the tool blocked, opening the other end frees its thread
        os.close(os.open(fifo, os.O_RDWR | os.O_NONBLOCK))
    assert time.perf_counter() - t0 < 2
    assert "ANSWER.txt [FIFO (named pipe)]" in await call(box, "list_directory")


async def test_names_that_are_not_utf8_are_listed_escaped(box: ToolBox) -> None:
    root = os.fsencode(box.workspace.root)
    os.close(os.open(root + b"/bad\xff.txt", os.O_CREAT | os.O_WRONLY, 0o644))
    os.mkdir(root + b"/dir\xfe")
    listing = await call(box, "list_directory")
    assert "bad\\xff.txt [name is not valid UTF-8: shown escaped, cannot be opened]" in listing
    assert "dir\\xfe/ [name is not valid UTF-8: shown escaped, cannot be opened]" in listing
    listing.encode("utf-8")  # storable and printable as it is
    assert "type: directory" in await call(box, "get_file_info", path=".")
    with pytest.raises(ToolError, match="not valid UTF-8"):
        await call(box, "read_file", path=os.fsdecode(b"bad\xff.txt"))


async def test_git_is_read_only_unless_allowed(tmp_path: Path) -> None:
    (tmp_path / ".git" / "hooks").mkdir(parents=True)
    (tmp_path / ".git" / "config").write_text("[core]\n\tbare = false\n")
    box = ToolBox(Workspace(tmp_path))
    with pytest.raises(ToolError, match="read-only"):
        await call(
            box,
            "edit_file",
            path=".git/config",
            old_str="[core]",
            new_str="[core]\n\tfsmonitor = evil",
        )
    for path in (".git/hooks/pre-commit", ".GIT/config", "./.git/new", "sub/.git/config"):
        with pytest.raises(ToolError, match="read-only"):
            await call(box, "write_file", path=path, content="#!/bin/sh\nevil\n")
    assert "[core]" in await call(box, "read_file", path=".git/config")
    assert (tmp_path / ".git" / "config").read_text() == "[core]\n\tbare = false\n"
    assert not (tmp_path / ".git" / "hooks" / "pre-commit").exists()
    allowed = ToolBox(Workspace(tmp_path, allow_git_writes=True))
    await call(allowed, "read_file", path=".git/config")
    await call(allowed, "edit_file", path=".git/config", old_str="false", new_str="true")
    assert "bare = true" in (tmp_path / ".git" / "config").read_text()


async def test_a_file_in_the_way_of_a_folder_is_named(box: ToolBox) -> None:
    with pytest.raises(ToolError, match=r"'notes\.txt' is not a directory"):
        await call(box, "write_file", path="notes.txt/x.py", content="x")
    with pytest.raises(ToolError, match="is a directory"):
        await call(box, "write_file", path=".", content="x")


async def test_a_scripted_contestant_trying_every_trick_leaves_the_outside_alone(
    tmp_path: Path, outside: Path
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    os.link(outside, ws / "hard.txt")
    os.symlink(outside.parent, ws / "door")
    os.mkfifo(ws / "pipe")
    os.close(os.open(os.fsencode(ws) + b"/bad\xff", os.O_CREAT | os.O_WRONLY, 0o644))
    tricks = [
        ("read_file", {"path": "hard.txt"}),
        ("edit_file", {"path": "hard.txt", "old_str": "SECRET", "new_str": "pwned"}),
        ("write_file", {"path": "door/planted.txt", "content": "x"}),
        ("read_file", {"path": f"door/{outside.name}"}),
        ("write_file", {"path": "pipe", "content": "x"}),
        ("list_directory", {}),
        ("write_file", {"path": ".git/config", "content": "[core]\n\tfsmonitor = evil\n"}),
    ]
    turns = [{"tool_calls": [{"name": n, "arguments": a}]} for n, a in tricks]
    script = tmp_path / "hostile.json"
    script.write_text(json.dumps([*turns, {"text": "done"}]))
    r = await asyncio.wait_for(run_agent("escape", ScriptedModel(script), ws), 30)
    assert r.ok and r.answer == "done"
    results = [m for m in r.transcript if m.role == "tool"]
    assert [m.is_error for m in results] == [True, True, True, True, True, False, True]
    assert "bad\\xff" in results[5].content
    assert all("SECRET" not in m.content for m in results)
    json.dumps([m.content for m in results], ensure_ascii=False).encode("utf-8")
    assert outside.read_text() == "SECRET outside content\n"
    assert not (outside.parent / "planted.txt").exists() and not (ws / ".git").exists()
