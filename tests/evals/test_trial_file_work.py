"""A trial's file work (copy, snapshot, diff, kept changes, tamper scan, delete) runs on the event
loop for a small tree and in a thread for a large one; which one it is never changes the record.
The size probe (`fits_inline`) walks the contestant's tree without following a link and stops at
the first entry over its limits, whatever is planted there; a delete runs on the loop only on a
filesystem in memory."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from bakeoff.agent import AgentConfig
from bakeoff.evals.store.changes import TrialWithChanges
from bakeoff.evals.trial.file_work import INLINE_BYTES, INLINE_ENTRIES, deletes_inline, fits_inline
from bakeoff.evals.trial.task import JudgeSpec, TaskSpec
from bakeoff.evals.trial.trial import run_trial
from bakeoff.models.scripted import ScriptedModel


def test_a_small_tree_fits_and_a_large_one_does_not(tmp_path: Path) -> None:
    small = tmp_path / "small"
    (small / "src").mkdir(parents=True)
    (small / "src" / "app.py").write_text("x = 1\n")
    assert fits_inline(small)
    many = tmp_path / "many"
    many.mkdir()
    for k in range(INLINE_ENTRIES + 1):
        (many / f"f{k}").write_text("")
    assert not fits_inline(many)
    big = tmp_path / "big"
    big.mkdir()
    (big / "blob").write_bytes(b"x" * (INLINE_BYTES + 1))
    assert not fits_inline(big)
    assert not fits_inline(tmp_path / "missing")  # cannot be measured: a thread's work


def test_the_probe_is_not_fooled_by_links_sparse_files_or_deep_folders(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    for k in range(INLINE_ENTRIES * 2):
        (outside / f"f{k}").write_text("")
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "link").symlink_to(outside, target_is_directory=True)  # one entry, never followed
    os.mkfifo(ws / "pipe")  # never opened
    assert fits_inline(ws)
    with (ws / "sparse").open("wb") as f:  # 6 GB apparent, nothing on disk: not small
        f.truncate(6 * 1024**3)
    assert not fits_inline(ws)
    (ws / "sparse").unlink()
    deep = ws
    for _ in range(INLINE_ENTRIES + 1):  # one folder per level: over the entry limit
        deep = deep / "d"
    deep.mkdir(parents=True)
    assert not fits_inline(ws)


def script(tmp_path: Path, files: int) -> ScriptedModel:
    writes = [
        {"name": "write_file", "arguments": {"path": f"out/f{k:03d}.txt", "content": f"{k}\n"}}
        for k in range(files)
    ]
    edit = {"name": "edit_file", "arguments": {"path": "notes.txt", "old_str": "b", "new_str": "B"}}
    read = {"name": "read_file", "arguments": {"path": "notes.txt"}}  # read before a change
    turns: list[dict[str, Any]] = [{"tool_calls": [read, edit]}]
    turns += [{"tool_calls": writes[k : k + 10]} for k in range(0, files, 10)]  # 10 a turn
    turns.append({"text": "done"})
    path = tmp_path / f"script-{files}.json"
    path.write_text(json.dumps(turns))
    return ScriptedModel(path)


def test_only_a_filesystem_in_memory_deletes_on_the_loop(tmp_path: Path) -> None:
    mounts = Path("/proc/self/mountinfo")
    if not mounts.exists():
        pytest.skip("no /proc/self/mountinfo here: every delete goes to a thread")
    kinds = {
        line.split(" - ")[1].split()[0]: line.split()[4] for line in mounts.read_text().splitlines()
    }
    assert deletes_inline(Path(kinds["tmpfs"])) if "tmpfs" in kinds else True
    disk = next((where for kind, where in kinds.items() if kind in ("ext4", "xfs", "btrfs")), None)
    assert disk is None or not deletes_inline(Path(disk))
    assert not deletes_inline(tmp_path / "missing")


@pytest.mark.parametrize("in_memory", [False, True])
async def test_a_small_and_a_large_workspace_are_recorded_alike(
    tmp_path: Path, in_memory: bool
) -> None:
    workdir = tmp_path
    if in_memory:
        if not Path("/dev/shm").is_dir() or not deletes_inline(Path("/dev/shm")):
            pytest.skip("no filesystem in memory at /dev/shm")
        workdir = Path(tempfile.mkdtemp(dir="/dev/shm"))
    folder = tmp_path / "task"
    (folder / "files").mkdir(parents=True)
    (folder / "files" / "notes.txt").write_text("a\nb\nc\n")
    task = TaskSpec(
        name="notes",
        prompt="Write files.",
        category="c",
        difficulty=1,
        judge=JudgeSpec(rubric="r"),
        path=folder,
    )
    for files in (2, INLINE_ENTRIES + 10):  # on the loop, then in a thread
        record = await run_trial(
            task,
            script(tmp_path, files),
            0,
            run_id="r",
            agent_config=AgentConfig(),
            workdir=workdir,
        )
        assert record.status == "passed", record.agent.error
        assert "-b\n+B\n" in record.diff
        assert all(f"+++ b/out/f{k:03d}.txt" in record.diff for k in range(files))
        assert isinstance(record, TrialWithChanges)
        assert sorted(c.path for c in record.changes.files) == sorted(
            ["notes.txt", *(f"out/f{k:03d}.txt" for k in range(files))]
        )
    assert not list(workdir.glob("bakeoff-*"))  # every workspace deleted
    if in_memory:
        workdir.rmdir()


async def test_a_small_folder_and_a_large_one_list_alike(tmp_path: Path) -> None:
    from bakeoff.errors import ToolError
    from bakeoff.tools import SMALL_FOLDER, ToolBox
    from bakeoff.types import ToolCall
    from bakeoff.workspace import MAX_LIST_ENTRIES, Workspace

    box = ToolBox(Workspace(tmp_path))
    for name, count in (("small", 3), ("large", max(SMALL_FOLDER, MAX_LIST_ENTRIES) + 7)):
        (tmp_path / name).mkdir()
        for k in range(count):
            (tmp_path / name / f"f{k:04d}").write_text("")
        listing = await box.run(ToolCall(id="1", name="list_directory", arguments={"path": name}))
        assert listing.splitlines()[0] == "f0000"  # sorted, on the loop or in a thread
    assert listing.endswith("[... 7 more entries not shown]")
    with pytest.raises(ToolError, match="no such directory"):
        await box.run(ToolCall(id="2", name="list_directory", arguments={"path": "missing"}))
