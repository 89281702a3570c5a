"""The jail as a property: whatever a contestant plants in its workspace (folders, symlinks
pointing in, out or nowhere, hard links to an outside file, FIFOs) and whatever paths it then
names, while another thread keeps swapping a folder for a symlink to the outside, no file
outside the workspace is created, changed or read."""

from __future__ import annotations

import contextlib
import ctypes
import os
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bakeoff.errors import ToolError
from bakeoff.tools import SYNC_TOOLS
from bakeoff.workspace import Workspace

AT_FDCWD = -100

SLOTS = ["f", "a", "a/f", "a/a", "a/a/f", ".git", ".git/f"]
"""Where plants go and what paths name: few places, so the paths keep running into plants."""
LINK_TARGETS = ["in", "out_dir", "out_file", "dangling_out", "dangling_in", "relative_up"]

_component = st.sampled_from(["a", "f", "race", ".git", ".", "..", "", "/"])
paths = st.one_of(
    st.sampled_from([*SLOTS, "race/f", "race/a/f", "race", "./a/f", "a//f", "/a/f", "A/../f"]),
    st.lists(_component, min_size=1, max_size=3).map("/".join),
)
_slot = st.sampled_from(SLOTS).map(lambda slot: slot.split("/"))
plants = st.one_of(
    st.tuples(st.sampled_from(["mkdir", "hardlink", "fifo"]), _slot),
    st.tuples(st.just("symlink"), _slot, st.sampled_from(LINK_TARGETS)),
)
calls = st.one_of(
    st.tuples(st.just("read_file"), paths),
    st.tuples(st.just("write_file"), paths),
    st.tuples(st.just("edit_file"), paths),
    st.tuples(st.just("list_directory"), paths),
    st.tuples(st.just("get_file_info"), paths),
)
operations = st.lists(st.one_of(plants, calls), min_size=1, max_size=25)


class Scene:
    """A workspace with an outside neighbour holding a canary of unique content."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "ws"
        self.outside = base / "outside"
        self.root.mkdir()
        self.outside.mkdir()
        (self.root / "race").mkdir()
        self.token = f"canary-{uuid.uuid4().hex}"
        self.canary = self.outside / f"{self.token}.txt"
        self.canary.write_text(f"{self.token} outside content\n")

    def outside_state(self) -> dict[str, tuple[bool, bytes, int]]:
        """Every entry under the base folder except the workspace, with content and mtime."""
        state = {}
        for dirpath, dirnames, filenames in os.walk(self.base):
            if Path(dirpath) == self.base:
                dirnames[:] = [d for d in dirnames if d != "ws"]
                filenames = [f for f in filenames if f != "ws"]
            for name in dirnames + filenames:
                full = Path(dirpath) / name
                st_ = full.lstat()
                data = full.read_bytes() if full.is_file() and not full.is_symlink() else b""
                state[str(full.relative_to(self.base))] = (full.is_dir(), data, st_.st_mtime_ns)
        return state

    def plant(self, kind: str, parts: list[str], target: str = "") -> None:
        """What a contestant's command could leave behind, planted only below real folders
        of the workspace (the planting itself must not be the thing that escapes)."""
        here = self.root
        for part in parts[:-1]:
            here = here / part
            if here.is_symlink() or not here.is_dir():
                return
        at = here / parts[-1]
        with contextlib.suppress(OSError):
            if kind == "mkdir":
                at.mkdir()
            elif kind == "hardlink":
                os.link(self.canary, at)
            elif kind == "fifo":
                os.mkfifo(at)
            else:
                os.symlink(self._target(target), at)

    def _target(self, kind: str) -> str:
        return {
            "in": str(self.root / "a"),
            "out_dir": str(self.outside),
            "out_file": str(self.canary),
            "dangling_out": str(self.outside / "not-yet.txt"),
            "dangling_in": "nowhere",
            "relative_up": "../outside",
        }[kind]


_libc = ctypes.CDLL(None, use_errno=True)
_EXCHANGE = 2  # renameat2's RENAME_EXCHANGE: swaps two names in one step, no gap between


@contextlib.contextmanager
def swapping(scene: Scene) -> Iterator[None]:
    """A thread that keeps swapping the folder `race/` with a symlink to the outside, atomically
    with renameat2 where the C library has it (the GIL is released in the call, so the swaps
    interleave with the tools' system calls), else by rename, symlink, unlink, rename."""
    stop = threading.Event()
    race, spare = scene.root / "race", scene.root / "race.spare"

    def exchange() -> None:
        a, b = os.fsencode(race), os.fsencode(spare)
        while not stop.is_set():
            for _ in range(100):
                _libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, _EXCHANGE)

    def rename() -> None:
        while not stop.is_set():
            for step in (
                lambda: os.rename(race, spare),
                lambda: os.symlink(scene.outside, race),
                lambda: os.unlink(race),
                lambda: os.rename(spare, race),
            ):
                with contextlib.suppress(OSError):
                    step()

    atomic = hasattr(_libc, "renameat2")
    if atomic:
        os.symlink(scene.outside, spare)
    thread = threading.Thread(target=exchange if atomic else rename, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _run(ws: Workspace, tool: str, path: str, token: str) -> str:
    args: dict[str, str] = {"path": path}
    if tool == "write_file":
        args["content"] = "written by the contestant\n"
    elif tool == "edit_file":  # the canary's own text: an edit through a leak would succeed
        args |= {"old_str": token, "new_str": "pwned"}
    call: Callable[..., str] = SYNC_TOOLS[tool]
    try:
        return call(ws, **args)
    except (ToolError, OSError) as exc:
        return f"error: {exc}"


@settings(max_examples=100, deadline=None)
@given(ops=operations)
def test_no_operation_sequence_leaves_the_workspace(ops: list[tuple[object, ...]]) -> None:
    with tempfile.TemporaryDirectory(prefix="jail-") as tmp:
        scene = Scene(Path(tmp))
        before = scene.outside_state()
        ws = Workspace(scene.root)
        results = []
        with swapping(scene):
            for op in ops:
                match op:
                    case (str() as tool, str() as path):
                        results.append(_run(ws, tool, path, scene.token))
                    case (str() as kind, list() as parts, *target):
                        scene.plant(kind, parts, *target)
        assert scene.outside_state() == before
        for text in results:
            assert scene.token not in text  # neither the canary's content nor its name leaked
            text.encode("utf-8")


def test_thousands_of_racing_writes_never_land_outside(tmp_path: Path) -> None:
    scene = Scene(tmp_path)
    ws = Workspace(scene.root)
    with swapping(scene):
        written = [_run(ws, "write_file", f"race/f{i}.txt", scene.token) for i in range(2000)]
    landed = sorted(p.name for p in scene.outside.iterdir() if p != scene.canary)
    assert landed == []
    assert any(r.startswith("Created") for r in written)  # the race did not refuse them all
    assert any("is a symlink" in r for r in written)  # and the swaps really raced the writes
