"""The nano agent's tools: five file tools confined to a workspace, and an opt-in
`run_command`. Names and parameters are a contract (DESIGN.md). A tool that cannot do what it
was asked raises ToolError; the agent turns that into text for the model, never a crash."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import stat
import time
from collections.abc import Callable, Mapping
from typing import Any

from bakeoff.errors import ToolError
from bakeoff.types import ToolCall, ToolSpec
from bakeoff.workspace import MAX_LIST_ENTRIES, MAX_READ_BYTES, MAX_WRITE_BYTES, Workspace

MAX_COMMAND_OUTPUT = 16 * 1024
SECRET_NAME = re.compile(
    r"API_?KEY|TOKEN|SECRET|PASSW(OR)?D|CREDENTIAL|ACCESS_?KEY|AUTH|_KEY$|^KEY$", re.IGNORECASE
)
"""Environment variable names that may hold a credential; commands and checks never see them."""


def _spec(name: str, description: str, **params: str) -> ToolSpec:
    props = {p: {"type": "string", "description": d} for p, d in params.items()}
    required = [p for p in params if p != "path" or name != "list_directory"]
    return ToolSpec(
        name=name,
        description=description,
        parameters={"type": "object", "properties": props, "required": required},
    )


READ_TOOLS = [
    _spec(
        "read_file",
        "Read a text file in the workspace.",
        path="File path relative to the workspace root, e.g. 'hello.py' or 'src/app.py'.",
    ),
    _spec(
        "list_directory",
        "List the entries of a directory in the workspace (directories end with '/').",
        path="Directory relative to the workspace; default '.'.",
    ),
    _spec(
        "get_file_info",
        "Type, size in bytes, line count and modification time of a path in the workspace.",
        path="Path relative to the workspace.",
    ),
]
WRITE_TOOLS = [
    _spec(
        "write_file",
        "Create or overwrite a file in the workspace with the given content.",
        path="File path relative to the workspace root, e.g. 'hello.py' or 'src/app.py'.",
        content="The complete new content of the file.",
    ),
    _spec(
        "edit_file",
        "Replace one exact, unique occurrence of old_str with new_str in a file.",
        path="File path relative to the workspace root, e.g. 'hello.py' or 'src/app.py'.",
        old_str="Exact text to replace; must occur exactly once.",
        new_str="Replacement text.",
    ),
]
COMMAND_TOOL = _spec(
    "run_command",
    "Run a shell command in the workspace directory and return its exit code and output.",
    command="The shell command line.",
)


def _regular_file(ws: Workspace, path: str) -> Any:
    real = ws.resolve(path)
    if not real.exists():
        raise ToolError(f"{path}: no such file; use list_directory to see what exists")
    if real.is_dir():
        raise ToolError(f"{path} is a directory; use list_directory")
    if not stat.S_ISREG(real.stat().st_mode):
        raise ToolError(f"{path} is not a regular file")
    return real


def read_file(ws: Workspace, path: str) -> str:
    real = _regular_file(ws, path)
    with open(real, "rb") as f:
        data = f.read(MAX_READ_BYTES + 1)
    if b"\x00" in data[:8192]:
        raise ToolError(f"{path} is a binary file ({real.stat().st_size} bytes); not shown")
    text = data[:MAX_READ_BYTES].decode("utf-8", errors="replace")
    if len(data) > MAX_READ_BYTES:
        size = real.stat().st_size
        text += f"\n[truncated: showing the first {MAX_READ_BYTES} of {size} bytes]"
    return text


def write_file(ws: Workspace, path: str, content: str) -> str:
    encoded = content.encode("utf-8")
    if len(encoded) > MAX_WRITE_BYTES:
        raise ToolError(f"content is {len(encoded)} bytes; the limit is {MAX_WRITE_BYTES}")
    real = ws.resolve(path)
    if real.is_dir():
        raise ToolError(f"{path} is a directory")
    real.parent.mkdir(parents=True, exist_ok=True)
    existed = real.exists()
    real.write_bytes(encoded)
    return f"{'Overwrote' if existed else 'Created'} {path} ({len(encoded)} bytes)"


def edit_file(ws: Workspace, path: str, old_str: str, new_str: str) -> str:
    if old_str == "":
        raise ToolError(
            "old_str is empty; give the exact text to replace (use write_file to create)"
        )
    real = _regular_file(ws, path)
    text = real.read_text(encoding="utf-8", errors="replace")
    count = text.count(old_str)
    if count == 0:
        hint = ""
        first = old_str.strip().splitlines()[0].strip() if old_str.strip() else ""
        if first and first in text:
            line = text[: text.index(first)].count("\n") + 1
            hint = (
                f" A line like its first line is at line {line}: check whitespace and indentation."
            )
        raise ToolError(
            f"old_str not found in {path}.{hint} Read the file and copy the text exactly."
        )
    if count > 1:
        lines, start = [], 0
        for _ in range(count):
            i = text.index(old_str, start)
            lines.append(str(text[:i].count("\n") + 1))
            start = i + 1
        raise ToolError(
            f"old_str occurs {count} times in {path} (lines {', '.join(lines[:10])}); "
            "include more surrounding lines so it matches exactly once"
        )
    new_text = text.replace(old_str, new_str, 1)
    if len(new_text.encode("utf-8")) > MAX_WRITE_BYTES:
        raise ToolError(f"the edited file would exceed {MAX_WRITE_BYTES} bytes")
    real.write_text(new_text, encoding="utf-8")
    return f"Edited {path}: replaced 1 occurrence ({len(old_str)} -> {len(new_str)} chars)"


def list_directory(ws: Workspace, path: str = ".") -> str:
    real = ws.resolve(path or ".")
    if not real.is_dir():
        raise ToolError(f"{path} is not a directory")
    names = sorted(os.listdir(real))
    shown = [n + "/" if (real / n).is_dir() else n for n in names[:MAX_LIST_ENTRIES]]
    if not names:
        return f"{path} is empty"
    if len(names) > MAX_LIST_ENTRIES:
        shown.append(f"[... {len(names) - MAX_LIST_ENTRIES} more entries not shown]")
    return "\n".join(shown)


def get_file_info(ws: Workspace, path: str) -> str:
    real = ws.resolve(path)
    if not real.exists():
        raise ToolError(f"{path}: no such file or directory")
    st = real.stat()
    kind = "directory" if real.is_dir() else "file" if stat.S_ISREG(st.st_mode) else "special"
    info = [f"path: {path}", f"type: {kind}", f"size_bytes: {st.st_size}"]
    if kind == "file" and st.st_size <= MAX_WRITE_BYTES:
        data = real.read_bytes()
        if b"\x00" not in data[:8192]:
            newlines = data.count(b"\n")
            unterminated = 1 if data and not data.endswith(b"\n") else 0
            info.append(f"lines: {newlines + unterminated}")
    info.append("modified: " + time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(st.st_mtime)))
    return "\n".join(info)


def scrubbed_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment (default: this process's) minus anything that looks like a credential."""
    environ = os.environ if environ is None else environ
    return {k: v for k, v in environ.items() if not SECRET_NAME.search(k)}


async def run_command(ws: Workspace, command: str, timeout_s: float) -> str:
    proc = await asyncio.create_subprocess_shell(
        command,
        cwd=ws.root,
        env=scrubbed_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    except (TimeoutError, asyncio.CancelledError):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        raise ToolError(f"command timed out after {timeout_s:g} s and was killed") from None
    text = out.decode("utf-8", errors="replace")
    if len(text) > MAX_COMMAND_OUTPUT:
        text = (
            text[: MAX_COMMAND_OUTPUT // 2]
            + "\n[... output truncated ...]\n"
            + text[-MAX_COMMAND_OUTPUT // 2 :]
        )
    return f"exit code: {proc.returncode}\n{text}"


SyncTool = Callable[..., str]
SYNC_TOOLS: dict[str, SyncTool] = {
    "read_file": read_file,
    "write_file": write_file,
    "edit_file": edit_file,
    "list_directory": list_directory,
    "get_file_info": get_file_info,
}


class ToolBox:
    """The tools offered to one run, bound to its workspace."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        allow_commands: bool = False,
        read_only: bool = False,
        command_timeout_s: float = 60.0,
    ) -> None:
        self.workspace = workspace
        self.command_timeout_s = command_timeout_s
        self.specs = list(READ_TOOLS) + ([] if read_only else list(WRITE_TOOLS))
        if allow_commands and not read_only:
            self.specs.append(COMMAND_TOOL)
        self._offered = {s.name: s for s in self.specs}

    async def run(self, call: ToolCall) -> str:
        """Run one call; raises ToolError with a message for the model."""
        spec = self._offered.get(call.name)
        if spec is None:
            raise ToolError(f"unknown tool {call.name!r}; available: {', '.join(self._offered)}")
        if call.malformed is not None:
            raise ToolError(
                f"arguments for {call.name} are not a JSON object: {call.malformed[:200]!r}"
            )
        props = spec.parameters["properties"]
        unknown = set(call.arguments) - set(props)
        missing = [p for p in spec.parameters["required"] if p not in call.arguments]
        if unknown or missing:
            raise ToolError(
                f"{call.name} takes ({', '.join(props)}); "
                + (f"missing: {', '.join(missing)}. " if missing else "")
                + (f"unknown: {', '.join(sorted(unknown))}." if unknown else "")
            )
        args = {k: v if isinstance(v, str) else str(v) for k, v in call.arguments.items()}
        if call.name == "run_command":
            return await run_command(self.workspace, args["command"], self.command_timeout_s)
        try:
            return SYNC_TOOLS[call.name](self.workspace, **args)
        except OSError as exc:
            raise ToolError(f"{call.name} failed: {exc.strerror or exc}") from None
