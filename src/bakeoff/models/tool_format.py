"""How a model is offered its tools, as one object the model owns (`Model.tool_format`): the
system prompt, the opening user message, the request's messages and tools in chat-completions
form, the reply read back into tool calls, and a last look asked for before a final answer.
`NATIVE` offers the API's own tool calls; `BLOCKS` sends no tools and reads fenced blocks in
plain text (`bakeoff.models.blocks`), for small local models that write code badly inside JSON.
Users choose one by name (`tool_format = "native"` or `"blocks"` in a provider's config:
`TOOL_FORMATS`). The agent and the adapters ask the format; neither asks which one it is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from bakeoff.errors import ToolError
from bakeoff.models import blocks
from bakeoff.types import Message, ToolCall, ToolFormatName, ToolSpec

SYSTEM_PROMPT = """\
You are a nano agent: a careful software engineer working inside one workspace directory. You \
act only through the tools you are given; a change described in prose or in a code block does \
nothing. The functions in the workspace's code are not tools.
1. Look first: list_directory shows the files, read_file shows a file's content (get_file_info \
shows only its size).
2. Change files with write_file (the complete new content) or edit_file (old_str copied exactly \
from the file). A file holds exactly what the task asks for; a .py file holds Python code.
3. Every path is relative to the workspace root, for example 'hello.py' or 'src/app.py', never an \
absolute path such as /workspace/hello.py.
4. When the task is done, reply with a short final answer and no tool call. If the task asks a \
question, the final answer is only what it asks for, for example just the number.
Example: for "total() in invoice.py returns the wrong value; fix it", call read_file with \
{"path": "invoice.py"}, see `return price + qty`, call edit_file with {"path": "invoice.py", \
"old_str": "return price + qty", "new_str": "return price * qty"}, then answer: Fixed total()."""
"""The nano agent's default system prompt (`AgentConfig.system_prompt`), written for the API's
tool calls."""
COMMANDS_NOTE = """
5. Check your work with run_command: run the tests or the program, and fix what fails."""
"""Added to the system prompt when run_command is offered (naming a tool that is not offered
made Qwen2.5-Coder-1.5B call it)."""


class Tools(Protocol):
    """What a format may use of the agent's tools (`bakeoff.tools.ToolBox`): a call run as the
    model's would be, confined to the workspace."""

    async def run(self, call: ToolCall) -> str: ...


class ToolFormat(Protocol):
    """How one model is offered its tools and how its replies are read."""

    name: ToolFormatName
    """The name users choose it by in a provider's config."""
    sends_tools: bool
    """Whether a request carries the tools in the API's `tools` field."""

    def system_prompt(self, prompt: str, tools: Sequence[ToolSpec]) -> str:
        """The system message, given the agent's (`AgentConfig.system_prompt`)."""
        ...

    async def opening(self, prompt: str, tools: Tools) -> str:
        """The first user message, for the task `prompt`."""
        ...

    def chat_messages(
        self, sent: list[dict[str, Any]], tools: Sequence[ToolSpec], budget_tokens: int | None
    ) -> list[dict[str, Any]]:
        """The conversation as a request sends it (`sent`: chat-completions form, already
        fitted to `budget_tokens`, None when the context is not known)."""
        ...

    def read_reply(
        self, reply: Message, tools: Sequence[ToolSpec], messages: Sequence[Message]
    ) -> Message:
        """`reply` with the tool calls this format finds in it (`messages`: the request's)."""
        ...

    def review(self, transcript: Sequence[Message], tools: Sequence[ToolSpec]) -> str | None:
        """What to ask before a final answer is taken, or None to take it."""
        ...


def _commands_note(tools: Sequence[ToolSpec]) -> str:
    return COMMANDS_NOTE if any(t.name == "run_command" for t in tools) else ""


class NativeTools:
    """The API's own tool calls: the tools go in the request, the calls come back in the reply
    (or are recovered from its text by the adapter), the agent's prompt as it is."""

    name: ToolFormatName = "native"
    sends_tools = True

    def system_prompt(self, prompt: str, tools: Sequence[ToolSpec]) -> str:
        return prompt + _commands_note(tools)

    async def opening(self, prompt: str, tools: Tools) -> str:
        return prompt

    def chat_messages(
        self, sent: list[dict[str, Any]], tools: Sequence[ToolSpec], budget_tokens: int | None
    ) -> list[dict[str, Any]]:
        return sent

    def read_reply(
        self, reply: Message, tools: Sequence[ToolSpec], messages: Sequence[Message]
    ) -> Message:
        return reply

    def review(self, transcript: Sequence[Message], tools: Sequence[ToolSpec]) -> str | None:
        return None


class BlockTools:
    """Files shown and written as fenced blocks in plain chat (`bakeoff.models.blocks`): no
    tools sent, the workspace's small files shown up front, a reply's blocks read as the calls
    they stand for, and one review asked for after a write. A system prompt set by the user is
    sent as it is; the default gives way to this format's own."""

    name: ToolFormatName = "blocks"
    sends_tools = False

    def system_prompt(self, prompt: str, tools: Sequence[ToolSpec]) -> str:
        if prompt == SYSTEM_PROMPT:
            return blocks.system_prompt(tools)
        return prompt + _commands_note(tools)

    async def opening(self, prompt: str, tools: Tools) -> str:
        shown, listed = await overview(tools, blocks.SHOW_BYTES, blocks.SHOW_FILE_BYTES)
        return blocks.opening(prompt, shown, listed)

    def chat_messages(
        self, sent: list[dict[str, Any]], tools: Sequence[ToolSpec], budget_tokens: int | None
    ) -> list[dict[str, Any]]:
        commands = any(t.name == "run_command" for t in tools)
        return blocks.plain_messages(sent, budget_tokens, commands=commands)

    def read_reply(
        self, reply: Message, tools: Sequence[ToolSpec], messages: Sequence[Message]
    ) -> Message:
        return reply if reply.tool_calls else blocks.reply(reply, tools, messages)

    def review(self, transcript: Sequence[Message], tools: Sequence[ToolSpec]) -> str | None:
        return blocks.review(transcript, tools)


NATIVE = NativeTools()
BLOCKS = BlockTools()
TOOL_FORMATS: dict[ToolFormatName, ToolFormat] = {"native": NATIVE, "blocks": BLOCKS}
"""The formats by the name a provider's config chooses them with."""


async def overview(
    tools: Tools, max_bytes: int, max_file_bytes: int, *, max_entries: int = 60
) -> tuple[list[tuple[str, str]], list[str]]:
    """The workspace at a glance, through the agent's own tools (so a file shown counts as
    read, and nothing escapes the workspace): (path, text) of the small text files, up to
    `max_bytes` in all, breadth first; and the paths of the others (too big, binary, past the
    budget), at most `max_entries` entries walked."""
    shown: list[tuple[str, str]] = []
    listed: list[str] = []
    budget, walked = max_bytes, 0
    folders = ["."]
    while folders and walked < max_entries:
        folder = folders.pop(0)
        try:
            entries = await tools.run(
                ToolCall(id="", name="list_directory", arguments={"path": folder})
            )
        except ToolError:
            continue
        for line in entries.splitlines():
            if walked >= max_entries or " " in line.strip() or line.startswith("["):
                continue  # annotated (a link, a device, an odd name): never opened
            walked += 1
            path = line if folder == "." else f"{folder}/{line}"
            if path.endswith("/"):
                if not line.startswith("."):
                    folders.append(path.rstrip("/"))
                continue
            text = await _small_text(tools, path, min(budget, max_file_bytes))
            if text is None:
                listed.append(path)
            else:
                shown.append((path, text))
                budget -= len(text.encode())
    return shown, listed


async def _small_text(tools: Tools, path: str, limit: int) -> str | None:
    try:
        info = await tools.run(ToolCall(id="", name="get_file_info", arguments={"path": path}))
        size = int(info.split("size_bytes: ", 1)[1].split("\n", 1)[0])
        if size > limit:
            return None
        return await tools.run(ToolCall(id="", name="read_file", arguments={"path": path}))
    except (ToolError, ValueError, IndexError):
        return None
