"""What the nano agent is offered and how one call runs: the specs of the five file tools
(their bodies live in `bakeoff.file_tools`) and of an opt-in `run_command` that runs in the OS
sandbox (`bakeoff.sandbox`), the checks on a call's arguments, and `ToolBox`, which runs one call
against a run's workspace. Names and parameters are a contract: README's "One nano agent" lists
them, stored transcripts and the blocks format's prompt use them, and a user's scripted models
call them by name. A tool that cannot do what it was asked raises ToolError; the agent turns
that into text for the model, never a crash."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bakeoff import command_guard, sandbox, sandbox_limits
from bakeoff.errors import ToolError
from bakeoff.file_tools import (
    Known,
    edit_file,
    get_file_info,
    list_directory,
    read_file,
    write_file,
)
from bakeoff.redact import redact
from bakeoff.types import ToolCall, ToolSpec
from bakeoff.workspace import Workspace

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
