"""The path jail: nothing a model names may land outside its workspace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bakeoff.errors import WorkspaceEscape
from bakeoff.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("x = 1\n")
    return Workspace(root)


def test_relative_paths_resolve_inside(ws: Workspace) -> None:
    assert ws.resolve("src/app.py") == ws.root / "src" / "app.py"
    assert ws.resolve("./src/../src/app.py".replace("../src/", "")) == ws.root / "src" / "app.py"
    assert ws.resolve(".") == ws.root


@pytest.mark.parametrize(
    "path", ["/etc/passwd", "../outside.txt", "src/../../x", "..", "C:\\Windows\\x", "a\x00b", ""]
)
def test_escapes_are_refused_with_a_readable_reason(ws: Workspace, path: str) -> None:
    with pytest.raises(WorkspaceEscape) as info:
        ws.resolve(path)
    assert str(info.value)  # the model gets a message, not an empty error


def test_symlink_to_outside_file_is_refused(ws: Workspace, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("key")
    os.symlink(secret, ws.root / "link.txt")
    with pytest.raises(WorkspaceEscape, match="outside the workspace"):
        ws.resolve("link.txt")


def test_symlinked_directory_to_outside_is_refused(ws: Workspace, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f.txt").write_text("x")
    os.symlink(outside, ws.root / "door")
    with pytest.raises(WorkspaceEscape):
        ws.resolve("door/f.txt")
    with pytest.raises(WorkspaceEscape):
        ws.resolve("door/new_file.txt")  # writing through it would create outside


def test_dangling_symlink_pointing_outside_is_refused(ws: Workspace, tmp_path: Path) -> None:
    os.symlink(tmp_path / "not-yet", ws.root / "dangling")
    with pytest.raises(WorkspaceEscape):
        ws.resolve("dangling")


def test_symlink_inside_the_workspace_is_fine(ws: Workspace) -> None:
    os.symlink(ws.root / "src" / "app.py", ws.root / "alias.py")
    assert ws.resolve("alias.py") == ws.root / "src" / "app.py"


_segment = st.sampled_from(["..", ".", "src", "a", "/", "", "...", "~", "\\", "..\\..", "%2e%2e"])


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(_segment | st.text(min_size=1, max_size=8), min_size=1, max_size=8))
def test_no_generated_path_leaves_the_workspace(
    tmp_path_factory: pytest.TempPathFactory, parts: list[str]
) -> None:
    root = tmp_path_factory.mktemp("prop")
    (root / "src").mkdir(exist_ok=True)
    outside = root.parent / f"{root.name}-outside"
    outside.mkdir(exist_ok=True)
    link = root / "a"
    if not link.is_symlink():
        os.symlink(outside, link)  # a trap: a directory symlink pointing outside
    ws = Workspace(root)
    path = "/".join(parts)
    try:
        real = ws.resolve(path)
    except WorkspaceEscape:
        return
    assert real == ws.root or ws.root in real.parents
