"""The nano agent's tools: five file tools confined to a workspace, and an opt-in
`run_command` that runs in the OS sandbox (`bakeoff.sandbox`). Names and parameters are a
contract: README's "One nano agent" lists them, stored transcripts and the blocks format's
prompt use them, and a user's scripted models call them by name. A tool that cannot do what it
was asked raises ToolError; the agent turns that into text for the model, never a crash."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bakeoff import command_guard, sandbox, sandbox_limits
from bakeoff.errors import ToolError
from bakeoff.redact import redact
from bakeoff.types import ToolCall, ToolSpec
from bakeoff.workspace import (
    MAX_LIST_ENTRIES,
    MAX_READ_BYTES,
    MAX_WRITE_BYTES,
    Workspace,
    is_addressable,
    kind_of,
    printable_name,
    read_at_most,
    replace_content,
    symlink_refused,
)

MAX_COMMAND_OUTPUT = 16 * 1024
FILE_TOOL_TIMEOUT_S = 30.0
"""How long a file tool run in a thread (list_directory) may take before the agent gets an error
instead."""
MAX_WORKSPACE_BYTES = 256 * 1024**2
"""Disk a workspace may use; one over it fails its checks (see `workspace_bytes`)."""


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
        "The whole text content of a file in the workspace.",
        path="File path relative to the workspace root, e.g. 'hello.py' or 'src/app.py'.",
    ),
    _spec(
        "list_directory",
        "List the entries of a directory in the workspace (directories end with '/').",
        path="Directory relative to the workspace; default '.'.",
    ),
    _spec(
        "get_file_info",
        "Only the type, size in bytes, line count and modification time of a path in the workspace, "
        "not its content (read_file shows that).",
        path="Path relative to the workspace.",
    ),
]
WRITE_TOOLS = [
    _spec(
        "write_file",
        "Create or overwrite a file in the workspace; it then holds exactly `content`.",
        path="File path relative to the workspace root, e.g. 'hello.py' or 'src/app.py'.",
        content="The complete new content of the file, exactly as it will be on disk (for a "
        "program: its source code).",
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


Known = set[tuple[int, int]]
"""The files (device, inode) an agent has read or written in its run: the ones it may change.
Keyed by inode, so `./a.py` and `a.py` are one file."""


def _no_such_file(path: str) -> ToolError:
    return ToolError(f"{path}: no such file; use list_directory to see what exists")


def _require_known(path: str, st: os.stat_result, known: Known | None) -> None:
    """Refuse to change an existing file the agent has not read in this run (as Claude Code's
    tools do): an edit made blind replaces text it guessed and breaks what it never saw."""
    if known is not None and (st.st_dev, st.st_ino) not in known:
        raise ToolError(
            f"{path} exists and you have not read it yet: read it with read_file first, then "
            "change it (edit_file's old_str must match the file exactly)"
        )


PYTHON_CHECK = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
resource.setrlimit(resource.RLIMIT_CPU, (5, 5))
data = sys.stdin.buffer.read()
try:
    compile(data, "f", "exec", dont_inherit=True)
except (SyntaxError, ValueError) as exc:
    line = (getattr(exc, "text", None) or "").strip()[:120]
    where = f" at line {exc.lineno}" if getattr(exc, "lineno", None) else ""
    print(f"{type(exc).__name__}{where}: {getattr(exc, 'msg', exc)}" + (f": {line!r}" if line else ""))
except (MemoryError, RecursionError):
    pass
"""
"""Compiles (never runs) a file's bytes in a child interpreter, with no site packages and
capped memory and CPU time: hostile source can crash or stall only that child."""


def python_note(path: str, data: bytes) -> str:
    """For a `.py` file that no longer compiles, a line telling the model so (the way agent
    harnesses lint after each edit); else ''. The file is written either way."""
    if not path.casefold().endswith(".py"):
        return ""
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", PYTHON_CHECK],
            input=data,
            capture_output=True,
            timeout=10,
            check=False,
            env={},  # it only compiles; still, none of bakeoff's environment (keys) goes to it
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    problem = done.stdout.decode("utf-8", errors="replace").strip()[:300]
    if done.returncode != 0 or not problem:
        return ""
    return f"\nWarning: {path} is not valid Python now ({problem}). Read it and fix it."


def read_file(ws: Workspace, path: str, known: Known | None = None) -> str:
    try:
        with ws.open_file(path, "read") as (fd, st, _):
            data = read_at_most(fd, MAX_READ_BYTES + 1)
            if known is not None:
                known.add((st.st_dev, st.st_ino))
    except FileNotFoundError:
        raise _no_such_file(path) from None
    if b"\x00" in data[:8192]:
        raise ToolError(f"{path} is a binary file ({st.st_size} bytes); not shown")
    text = data[:MAX_READ_BYTES].decode("utf-8", errors="replace")
    if len(data) > MAX_READ_BYTES:
        text += f"\n[truncated: showing the first {MAX_READ_BYTES} of {st.st_size} bytes]"
    return text


def write_file(ws: Workspace, path: str, content: str, known: Known | None = None) -> str:
    # errors="replace": a lone surrogate that JSON let through becomes '?', not a crash.
    encoded = content.encode("utf-8", errors="replace")
    if len(encoded) > MAX_WRITE_BYTES:
        raise ToolError(f"content is {len(encoded)} bytes; the limit is {MAX_WRITE_BYTES}")
    with ws.open_file(path, "write") as (fd, st, created):
        if not created:
            _require_known(path, st, known)
        replace_content(fd, encoded)
        if known is not None:
            known.add((st.st_dev, st.st_ino))
    done = f"{'Created' if created else 'Overwrote'} {path} ({len(encoded)} bytes)"
    return done + python_note(path, encoded)


def edit_file(
    ws: Workspace, path: str, old_str: str, new_str: str, known: Known | None = None
) -> str:
    if old_str == "":
        raise ToolError(
            "old_str is empty; give the exact text to replace (use write_file to create)"
        )
    try:
        with ws.open_file(path, "edit") as (fd, st, _):
            _require_known(path, st, known)
            if st.st_size > MAX_WRITE_BYTES:
                raise ToolError(
                    f"{path} is {st.st_size} bytes; edit_file edits files up to "
                    f"{MAX_WRITE_BYTES} bytes"
                )
            try:
                text = read_at_most(fd, MAX_WRITE_BYTES + 1).decode("utf-8")
            except UnicodeDecodeError:
                raise ToolError(
                    f"{path} is not UTF-8 text; edit_file would corrupt it (use write_file)"
                ) from None
            new_text = _edited(path, text, old_str, new_str).encode("utf-8", errors="replace")
            replace_content(fd, new_text)
    except FileNotFoundError:
        raise _no_such_file(path) from None
    done = f"Edited {path}: replaced 1 occurrence ({len(old_str)} -> {len(new_str)} chars)"
    return done + python_note(path, new_text)


def _edited(path: str, text: str, old_str: str, new_str: str) -> str:
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
    if len(new_text.encode("utf-8", errors="replace")) > MAX_WRITE_BYTES:
        raise ToolError(f"the edited file would exceed {MAX_WRITE_BYTES} bytes")
    return new_text


def list_directory(ws: Workspace, path: str = ".") -> str:
    path = path or "."
    try:
        with ws.directory(path) as fd, os.scandir(fd) as entries:
            found = sorted(entries, key=lambda e: e.name)
            shown = [_listed(e) for e in found[:MAX_LIST_ENTRIES]]
    except FileNotFoundError:
        raise ToolError(f"{path}: no such directory; use list_directory('.')") from None
    if not found:
        return f"{path} is empty"
    if len(found) > MAX_LIST_ENTRIES:
        shown.append(f"[... {len(found) - MAX_LIST_ENTRIES} more entries not shown]")
    return "\n".join(shown)


def _listed(entry: os.DirEntry[str]) -> str:
    """One listing line: directories end with '/', anything but a plain file says what it is,
    and a name that is not printable UTF-8 is shown escaped and says so."""
    line = printable_name(entry.name)
    try:
        if entry.is_dir(follow_symlinks=False):
            line += "/"
        elif entry.is_symlink():
            line += " [symlink: not followed]"
        elif not entry.is_file(follow_symlinks=False):
            line += f" [{kind_of(entry.stat(follow_symlinks=False).st_mode)}]"
    except OSError:
        line += " [vanished]"
    if not is_addressable(entry.name):
        line += " [name is not valid UTF-8: shown escaped, cannot be opened]"
    elif printable_name(entry.name) != entry.name:
        line += " [name shown escaped]"
    return line


def get_file_info(ws: Workspace, path: str) -> str:
    try:
        with ws.parent(path) as (dir_fd, name):
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        raise ToolError(f"{path}: no such file or directory") from None
    kind = kind_of(st.st_mode)
    if kind == "symlink":
        raise symlink_refused(path, path)
    if kind not in ("file", "directory"):
        raise ToolError(f"{path} is a {kind}, not a regular file or directory")
    info = [f"path: {path}", f"type: {kind}", f"size_bytes: {st.st_size}"]
    if st.st_nlink > 1 and kind == "file":
        info.append(f"hard_links: {st.st_nlink} (not read, written or edited)")
    elif kind == "file" and st.st_size <= MAX_WRITE_BYTES:
        with contextlib.suppress(ToolError, OSError), ws.open_file(path, "read") as (fd, _, _):
            data = read_at_most(fd, MAX_WRITE_BYTES)
            if b"\x00" not in data[:8192]:
                newlines = data.count(b"\n")
                unterminated = 1 if data and not data.endswith(b"\n") else 0
                info.append(f"lines: {newlines + unterminated}")
    info.append("modified: " + time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(st.st_mtime)))
    return "\n".join(info)


async def run_command(
    ws: Workspace,
    command: str,
    timeout_s: float,
    *,
    sandboxed: bool = True,
    network: bool = False,
) -> str:
    """Run a contestant's shell command in the OS sandbox (`bakeoff.sandbox`) at the
    workspace root, its protected paths read-only and what it makes there undone
    (`bakeoff.command_guard`); `sandboxed=False` only when the user passed
    --unsafe-no-sandbox. `python`
    and `pytest` are bakeoff's own interpreter and its pytest (the folder of `sys.executable`
    leads PATH), the ones the hidden checks run with."""
    protected, binds = await asyncio.to_thread(command_guard.before_command, ws)
    with tempfile.TemporaryDirectory(prefix="bakeoff-cmd-") as scratch:
        try:
            step = await sandbox.run_sandboxed(
                command,
                workspace=ws.root,
                output_path=Path(scratch) / "output.log",
                timeout_s=timeout_s,
                env=sandbox.step_env(ws.root, path_prefix=[Path(sys.executable).parent]),
                policy=sandbox.SandboxPolicy(network=network, workspace_bytes=MAX_WORKSPACE_BYTES),
                mounts=sandbox.Mounts(read_only_over=binds),
                sandboxed=sandboxed,
            )
        finally:  # a timeout or a cancel too: what the command planted never stays
            undone = await asyncio.to_thread(command_guard.after_command, ws, protected)
        text = sandbox.read_tail(step.output_path, MAX_COMMAND_OUTPUT) + undone
    if step.timed_out:
        raise ToolError(f"command timed out after {timeout_s:g} s and was killed\n{text}")
    used = await asyncio.to_thread(workspace_bytes, ws.root)
    if used > MAX_WORKSPACE_BYTES:
        text += (
            f"\n[bakeoff: the workspace now holds {used} bytes, over the {MAX_WORKSPACE_BYTES} "
            "byte limit; a workspace over the limit fails its checks]"
        )
    return f"exit code: {step.exit_code}\n{text}"


def workspace_bytes(root: Path) -> int:
    """Bytes allocated on disk under `root`, links not followed (sparse files count as
    what they really use, not their apparent size), however deep (`sandbox_limits.disk_used`)."""
    return sandbox_limits.disk_used(root)


CONTESTANT_DATA_ERRORS = (ValueError, OSError, ArithmeticError, RecursionError, MemoryError)
"""What a call raises when the bytes a model sent are ones it will not take: a NUL or a lone
surrogate where the OS or a codec meets it (ValueError, UnicodeError), a path the OS refuses,
a value too big or too deep. Anything else a tool raises is bakeoff's own bug."""


def tool_argument(name: str, value: object) -> str:
    """A tool argument as the text the tool takes: a string as sent, a number as written; any
    other JSON value (null, a list, an object) is refused, as is a NUL byte or a lone surrogate
    in a command (no shell can take one; a path's are refused by the workspace), with a message
    saying what to send instead."""
    if isinstance(value, bool) or value is None or not isinstance(value, str | int | float):
        kind = {bool: "a boolean", type(None): "null", list: "a list", dict: "an object"}
        shown = kind.get(type(value), type(value).__name__)
        raise ToolError(f"{name} must be a string, not {shown}; send it as a JSON string")
    text = value if isinstance(value, str) else repr(value)
    if name == "command":
        if "\x00" in text:
            raise ToolError(f"{name} contains a NUL byte, which no {name} can hold; remove it")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ToolError(
                f"{name} is not valid text: a lone surrogate (\\u{ord(text[exc.start]):04x}) at "
                f"character {exc.start}; send plain UTF-8 text"
            ) from None
    return text


_TRACKED = ("read_file", "write_file", "edit_file")
_ONE_FILE = ("read_file", "write_file", "edit_file", "get_file_info")
"""Tools that touch one file of bounded size (`MAX_READ_BYTES`, `MAX_WRITE_BYTES`): they run on
the event loop, where they cost less than a hop to a thread and back (BENCHMARKS.md §7);
list_directory reads a whole folder, so it runs there only for a small one (`_small_folder`)."""
SMALL_FOLDER = 64


def _small_folder(ws: Workspace, path: str) -> bool:
    """Whether `path` is a folder of at most `SMALL_FOLDER` entries, counted no further than
    one more; anything odd means no (the listing in a thread then reports it)."""
    try:
        with ws.directory(path or ".") as fd, os.scandir(fd) as entries:
            return sum(1 for _ in itertools.islice(entries, SMALL_FOLDER + 1)) <= SMALL_FOLDER
    except (OSError, ValueError, ToolError):
        return False


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
        sandboxed: bool = True,
        network: bool = False,
    ) -> None:
        self.workspace = workspace
        self.command_timeout_s = command_timeout_s
        self.sandboxed = sandboxed
        self.network = network
        self.specs = list(READ_TOOLS) + ([] if read_only else list(WRITE_TOOLS))
        if allow_commands and not read_only:
            self.specs.append(COMMAND_TOOL)
        self._offered = {s.name: s for s in self.specs}
        self.known: Known = set()
        """The files this run has read or written, the ones its tools may change."""

    async def run(self, call: ToolCall) -> str:
        """Run one call; raises ToolError with a message for the model. A key that a
        contestant read somehow never goes back to the provider or into the transcript.
        Whatever the model sent that a call underneath refuses (bytes the OS or a codec will
        not take, a value too deep or too big) is its mistake, told to it as a ToolError: it
        never ends the run."""
        try:
            return redact(await self._run(call))
        except ToolError as exc:
            raise ToolError(redact(str(exc))) from None
        except CONTESTANT_DATA_ERRORS as exc:
            what = f"{type(exc).__name__}: {exc}".splitlines()[0][:300] if str(exc) else ""
            raise ToolError(
                redact(f"{call.name} refused its arguments ({what or type(exc).__name__})")
            ) from None

    async def _run(self, call: ToolCall) -> str:
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
        args = {k: tool_argument(k, v) for k, v in call.arguments.items()}
        if call.name == "run_command":
            return await run_command(
                self.workspace,
                args["command"],
                self.command_timeout_s,
                sandboxed=self.sandboxed,
                network=self.network,
            )
        tool = SYNC_TOOLS[call.name]
        # `known` is not a parameter the model can name (unknown arguments are refused above).
        extra = {"known": self.known} if call.name in _TRACKED else {}
        try:
            if call.name in _ONE_FILE or (
                call.name == "list_directory"
                and _small_folder(self.workspace, args.get("path", "."))
            ):
                return tool(self.workspace, **args, **extra)
            # in a thread: a huge folder never stalls the other trials
            return await asyncio.wait_for(
                asyncio.to_thread(tool, self.workspace, **args, **extra), FILE_TOOL_TIMEOUT_S
            )
        except TimeoutError:
            raise ToolError(f"{call.name} took over {FILE_TOOL_TIMEOUT_S:g} s; gave up") from None
        except OSError as exc:
            raise ToolError(f"{call.name} failed: {exc.strerror or exc}") from None
