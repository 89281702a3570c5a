"""The path jail: every path a model names is resolved against one workspace directory, and
anything that would land outside it — absolute paths, `..`, symlinks pointing out, special
files — is refused with a message the model can read and act on."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from bakeoff.errors import WorkspaceEscape

MAX_READ_BYTES = 256 * 1024
MAX_WRITE_BYTES = 1024 * 1024
MAX_LIST_ENTRIES = 500


class Workspace:
    """A directory the agent may read and write, and nothing outside it."""

    def __init__(self, root: Path | str) -> None:
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        self.root = Path(os.path.realpath(root))

    def resolve(self, path: str) -> Path:
        """The real path inside the workspace that `path` names; raises WorkspaceEscape."""
        if not isinstance(path, str) or not path.strip():
            raise WorkspaceEscape("path must be a non-empty string relative to the workspace")
        if "\x00" in path:
            raise WorkspaceEscape(f"path {path!r} contains a NUL byte")
        pure = PurePosixPath(path.replace("\\", "/"))
        if pure.is_absolute() or (len(path) > 1 and path[1] == ":"):
            raise WorkspaceEscape(
                f"absolute path {path!r} refused: use a path relative to the workspace, e.g. 'src/app.py'"
            )
        if ".." in pure.parts:
            raise WorkspaceEscape(f"path {path!r} refused: '..' may not be used in workspace paths")
        # realpath follows every symlink on the way, including a final one that dangles.
        real = Path(os.path.realpath(self.root.joinpath(*pure.parts)))
        if real != self.root and self.root not in real.parents:
            raise WorkspaceEscape(
                f"path {path!r} refused: it leads outside the workspace (symlink)"
            )
        return real

    def relative(self, real: Path) -> str:
        rel = real.relative_to(self.root).as_posix()
        return rel or "."
