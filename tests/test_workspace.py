"""The path jail: nothing a model names may land outside its workspace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bakeoff.errors import WorkspaceEscape
from bakeoff.workspace import Workspace, install_file, printable_name


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


def test_symlinks_inside_the_workspace_are_not_followed_either(ws: Workspace) -> None:
    # A link that points inside now can point outside a moment later: none is followed.
    os.symlink(ws.root / "src" / "app.py", ws.root / "alias.py")
    os.symlink("src", ws.root / "srcdir")
    with pytest.raises(WorkspaceEscape, match="symlinks are not followed"):
        ws.resolve("alias.py")
    with pytest.raises(WorkspaceEscape, match="'srcdir' is a symlink"):
        ws.resolve("srcdir/app.py")


def test_a_path_that_is_not_utf8_text_is_refused(ws: Workspace) -> None:
    with pytest.raises(WorkspaceEscape, match="not valid UTF-8"):
        ws.resolve("bad\udcff.txt")


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("plain.py", "plain.py"),
        ("caf\u00e9 \u65e5\u672c.txt", "caf\u00e9 \u65e5\u672c.txt"),
        (os.fsdecode(b"bad\xff.txt"), "bad\\xff.txt"),
        ("two\nlines", "two\\nlines"),
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("\ud800", "\\ud800"),
    ],
)
def test_printable_name_is_printable_utf8(name: str, shown: str) -> None:
    assert printable_name(name) == shown
    printable_name(name).encode("utf-8")  # never raises: safe for JSON, SQLite, HTML
    assert printable_name(name).isprintable()


def test_install_file_replaces_planted_links_fifos_and_folders(tmp_path: Path) -> None:
    root, outside = tmp_path / "ws", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "check.py").write_text("outside\n")
    os.symlink(outside, root / "tests")  # a symlinked folder where the check goes
    os.mkfifo(root / "ANSWER.txt")  # a FIFO where the answer goes: must not block
    (root / "data").mkdir()
    (root / "data" / "expected.json").mkdir()  # a folder where a file goes
    os.symlink(outside / "check.py", root / "check.py")  # a link where a file goes

    install_file(root, "tests/check.py", b"real\n", 0o755)
    install_file(root, "ANSWER.txt", b"42\n")
    install_file(root, "data/expected.json", b"{}")
    install_file(root, "check.py", b"mine\n")

    assert sorted(p.name for p in outside.iterdir()) == ["check.py"]
    assert (outside / "check.py").read_text() == "outside\n"
    assert (
        not (root / "tests").is_symlink() and (root / "tests" / "check.py").read_text() == "real\n"
    )
    assert os.stat(root / "tests" / "check.py").st_mode & 0o777 == 0o755
    assert (root / "ANSWER.txt").read_text() == "42\n"
    assert (root / "data" / "expected.json").read_text() == "{}"
    assert not (root / "check.py").is_symlink() and (root / "check.py").read_text() == "mine\n"


def test_install_file_refuses_paths_that_leave_the_root(tmp_path: Path) -> None:
    for rel in ("../x", "/etc/x", ""):
        with pytest.raises(ValueError, match="not a path inside"):
            install_file(tmp_path, rel, b"")


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
    assert os.path.normpath(real) == str(real)  # no '..' left to climb out with
    assert real == ws.root or ws.root in real.parents
    here = ws.root
    for part in real.relative_to(ws.root).parts:  # and no symlink on the way
        here = here / part
        assert not here.is_symlink()


def test_parts_are_the_components_pathlib_finds(tmp_path: Path) -> None:
    """`Workspace.parts` splits by hand for speed; every path of up to six characters from
    the characters that matter gets pathlib's components, or a refusal where pathlib sees an
    absolute path or `..`."""
    from itertools import product
    from pathlib import PurePosixPath

    ws = Workspace(tmp_path)
    for n in range(1, 7):
        for chars in product("a./\\:", repeat=n):
            path = "".join(chars)
            pure = PurePosixPath(path.replace("\\", "/"))
            refused = (
                not path.strip()
                or pure.is_absolute()
                or (len(path) > 1 and path[1] == ":")
                or ".." in pure.parts
            )
            if refused:
                with pytest.raises(WorkspaceEscape):
                    ws.parts(path)
            else:
                assert ws.parts(path) == pure.parts, path
