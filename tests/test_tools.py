"""The file tools and run_command, as a model would call them."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bakeoff.errors import ToolError
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
    with pytest.raises(ToolError, match=r"occurs 2 times .*lines 1, 3"):
        await call(box, "edit_file", path="notes.txt", old_str="alpha", new_str="x")
    with pytest.raises(ToolError, match="not found"):
        await call(box, "edit_file", path="notes.txt", old_str="gamma", new_str="x")
    await call(box, "edit_file", path="notes.txt", old_str="beta\nalpha", new_str="beta\nomega")
    assert (box.workspace.root / "notes.txt").read_text() == "alpha\nbeta\nomega\n"


async def test_edit_hint_points_at_a_whitespace_mismatch(box: ToolBox) -> None:
    (box.workspace.root / "f.py").write_text("def f():\n    return 1\n")
    with pytest.raises(ToolError, match="line 2"):
        await call(box, "edit_file", path="f.py", old_str="return 1\n  ", new_str="return 2")


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


async def test_run_command_timeout_kills_the_process_group(box: ToolBox) -> None:
    marker = box.workspace.root / "survived"
    t0 = time.perf_counter()
    with pytest.raises(ToolError, match="timed out"):
        await call(box, "run_command", command=f"(sleep 3; touch {marker}) & sleep 30")
    assert time.perf_counter() - t0 < 5
    time.sleep(3.5)
    assert not marker.exists()


async def test_run_command_output_is_capped(box: ToolBox) -> None:
    out = await call(box, "run_command", command="python3 -c \"print('z' * 100000)\"")
    assert "output truncated" in out and len(out) < 20_000


def test_special_files_are_not_read(box: ToolBox) -> None:
    os.mkfifo(box.workspace.root / "pipe")
    import asyncio

    with pytest.raises(ToolError, match="not a regular file"):
        asyncio.run(call(box, "read_file", path="pipe"))
