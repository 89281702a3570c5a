"""The `blocks` tool format, for small local models that write code well in a fenced block and
badly as a JSON string inside a tool call (Qwen2.5-Coder-1.5B: BENCHMARKS.md §6): its texts and
parsers, which `tool_format.BlockTools` puts together. No tool is sent to the server. The agent
opens with the workspace's small files shown in the first message (`opening`), each as its path
on a line and its content in a fenced block; the model changes a file by writing it back the
same way, runs a command (when `run_command` is offered) in a ```bash block, and answers with a
reply that has neither. `block_calls` turns such a reply into the tool calls it stands for,
which the agent runs through its tools as any other call (so a path is still confined to the
workspace, a write still capped, a file still read before it is replaced); `plain_messages`
renders the conversation back as plain chat, each reply as the model wrote it and each tool
result as a user message; `review` asks once for a last look before a final answer.

A block with no path above it is taken for the shown file that defines the same top-level
functions and classes, when exactly one does (the model often answers "Here is the fixed
code:" and a block)."""

from __future__ import annotations

import ast
import json
import re
import uuid
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from bakeoff.models.guards import CHARS_PER_TOKEN, estimate_tokens
from bakeoff.models.openai_wire import tool_call
from bakeoff.types import Message, ToolCall, ToolSpec

SYSTEM_PROMPT = """\
You are a careful software engineer working in a workspace directory. The user shows you the \
files in the workspace and gives you a task.
To create a file or change one, write its path on a line of its own, then its complete new \
content in one fenced code block: the file then holds exactly what the block holds. Change \
only the files the task is about. For example, to the task "Create hi.py that prints Hi" the \
whole reply is:
hi.py
```python
print("Hi")
```"""
COMMANDS_NOTE = """
To run a command, such as the tests, write it in a ```bash block; you will see its output."""
FINISH_NOTE = """
When the task is done, reply with a short final answer and no code block. If the task asks a \
question, the final answer is only what it asks for, for example just the number."""

SHOW_BYTES = 12_000
"""The most bytes of file content the opening message shows (the embedded model's context is
8,192 tokens, and its reply needs room)."""
SHOW_FILE_BYTES = 6_000
"""A file larger than this is listed, not shown."""

_FENCE = re.compile(r"^[ \t]*```[ \t]*([^\n`]*)\n(.*?)^[ \t]*```[ \t]*$", re.DOTALL | re.MULTILINE)
_CLOSER = re.compile(r"^[ \t]*```[ \t]*$", re.MULTILINE)
_PATH = re.compile(
    r"\.[A-Za-z_][\w.-]*|[\w./~-]*[\w-]\.[A-Za-z_][\w-]*|[\w./~-]*/(?=[.-]*\w)[\w.-]*"
)
"""A path as a model writes one: a name with an extension, or with a folder. Whether it stays in
the workspace is the workspace's to decide (`../x` and `/etc/x` reach it, and are refused).
(The last name after a folder holds a word character: a look-ahead says so, where a pattern
that matched it in place backtracked over every split of a long name.)"""
MAX_PATH_CHARS = 4096
"""A longer line is no path (Linux's PATH_MAX), whatever it looks like."""
MAX_BLOCKS = 256
"""Blocks read from one message; the rest stay text (the agent runs 16 calls a reply at most,
and 40,000 tiny blocks in a 1 MB reply cost a third of a second to read)."""


def _is_path(text: str) -> bool:
    return len(text) <= MAX_PATH_CHARS and _PATH.fullmatch(text) is not None


def _last_closer(text: str) -> int | None:
    """Where the last line that can close a block ends, or None when there is none."""
    last = deque(_CLOSER.finditer(text), maxlen=1)  # iterated in C: no Python step a match
    return last[0].end() if last else None


def _fences(text: str) -> list[tuple[re.Match[str], str]]:
    """Each fenced block of `text` with the last non-blank line above it, in linear time. The
    search ends at the last line that can close a block: an opening fence after it would have
    made the lazy body scan to the end of the text, once per such fence (a reply of 20 KB of
    unclosed fences took a second). The line above a block is looked for from the start of the
    block before it, not from the start of the text."""
    last = _last_closer(text)
    if last is None:
        return []
    found: list[tuple[re.Match[str], str]] = []
    since = 0
    for match in _FENCE.finditer(text, 0, last):
        if len(found) == MAX_BLOCKS:
            break
        lines = text[since : match.start()].rstrip().splitlines()
        found.append((match, lines[-1] if lines else ""))
        since = match.start()
    return found


_SHELLS = {"bash", "sh", "shell", "console", "zsh"}
_LANGUAGES = {"python", "py", "python3", "text", "txt", "json", "toml", "yaml", "ini", "md", ""}


def system_prompt(tools: Sequence[ToolSpec]) -> str:
    """The system message for `tools` in this format."""
    names = {t.name for t in tools}
    prompt = SYSTEM_PROMPT if "write_file" in names else SYSTEM_PROMPT.split("\n")[0]
    if "run_command" in names:
        prompt += COMMANDS_NOTE
    return prompt + FINISH_NOTE


def show(path: str, content: str) -> str:
    """A file as the model writes one: its path, then its content in a fenced block."""
    language = "python" if path.endswith(".py") else ""
    return f"{path}\n```{language}\n{content.rstrip(chr(10))}\n```\n"


ASK = (
    "If the task asks for code or files, reply with each file you create or change, and only "
    "those: its path on a line of its own, then its complete new content in one fenced code "
    "block. If it asks a question, reply with just the answer."
)


def opening(prompt: str, shown: Sequence[tuple[str, str]], listed: Sequence[str]) -> str:
    """The first user message: the workspace's files (`shown`: path and content), the ones
    only listed (too big, binary, or past the budget), then the task."""
    parts = []
    if shown or listed:
        parts.append("The files in the workspace:\n")
        parts += [show(path, content) for path, content in shown]
        if listed:
            parts.append("Also there, not shown: " + ", ".join(listed) + "\n")
    elif not shown:
        parts.append("The workspace is empty.\n")
    parts.append(f"The task:\n{prompt}\n\n{ASK}")
    return "\n".join(parts)


def _path_above(above: str) -> str | None:
    """The path written on `above` (the last non-blank line before a block), if it is one."""
    line = above.strip().strip("*`#:").strip()
    if len(line) > MAX_PATH_CHARS:
        return None
    line = re.sub(r"^(?:file(?:name)?|path)\s*[:=]?\s*", "", line, flags=re.IGNORECASE)
    line = line.strip("*`:").strip()
    return line if _is_path(line) else None


def _path_in_prose(above: str) -> str | None:
    """The one path named in backticks on `above`, the last line before a block ("The file
    `calc.py` holds:"), if there is exactly one."""
    found = re.findall(r"`([^`\s]+)`", above)
    named = {name for name in found if _is_path(name)}
    return named.pop() if len(named) == 1 else None


def _named_in_first_line(body: str) -> str | None:
    first = body.partition("\n")[0].strip()
    if len(first) > MAX_PATH_CHARS:
        return None
    name = re.sub(r"^(?:#|//)\s*(?:file(?:name)?\s*:?\s*)?", "", first, flags=re.IGNORECASE)
    return name if name != first and _is_path(name) else None


def _defined(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # a model's text: anything
        return set()
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {node.name for node in tree.body if isinstance(node, kinds)}


def shown_files(texts: Iterable[str]) -> dict[str, str]:
    """The files shown or written in `texts` (the conversation's messages), by path, with the
    content they were last shown with."""
    files: dict[str, str] = {}
    for text in texts:
        for match, above in _fences(text):
            path = _path_above(above)
            if path is not None:
                files[path] = match.group(2)
    return files


def _owner(
    code: str, files: dict[str, str], parsed: dict[str, set[str]] | None = None
) -> str | None:
    """The one Python file among `files` defining the most of `code`'s top-level names
    (`parsed`: the names each text defines, kept across calls so each file is parsed once)."""
    parsed = {} if parsed is None else parsed

    def defined(text: str) -> set[str]:
        if text not in parsed:
            parsed[text] = _defined(text)
        return parsed[text]

    names = defined(code)
    if not names:
        return None
    scores = {
        path: len(names & defined(content))
        for path, content in files.items()
        if path.endswith(".py") and not path.split("/")[-1].startswith("test")
    }
    best = max(scores.values(), default=0)
    owners = [path for path, score in scores.items() if score == best]
    return owners[0] if best and len(owners) == 1 else None


def block_calls(
    text: str, tools: Sequence[ToolSpec], messages: Sequence[Message], *, id_prefix: str
) -> list[ToolCall]:
    """The calls a reply's blocks stand for: `write_file` for a block under a path (or owned
    by one shown file), `run_command` for a shell block. Other blocks are part of an answer."""
    names = {t.name for t in tools}
    calls: list[ToolCall] = []
    files = shown_files(m.content for m in messages if m.role in ("user", "assistant"))
    parsed: dict[str, set[str]] = {}
    for match, above in _fences(text):
        info, body = match.group(1).strip(), match.group(2)
        path = _path_above(above)
        first, _, rest = body.partition("\n")
        second = rest.partition("\n")[0]
        if "\n" in rest and _is_path(first.strip()) and second.startswith("```"):
            # ```python / duration.py / ```python / the code / ```: a path fenced on its own
            path, info, body = first.strip(), second.strip("` \t"), rest.partition("\n")[2]
        language = info.split()[0].lower() if info else ""
        if language in _SHELLS:
            if "run_command" in names and body.strip():
                calls.append(_call(id_prefix, calls, "run_command", command=body.strip()))
            continue
        if path is None and info and language not in _LANGUAGES and _is_path(info):
            path = info  # ```hello.py
        if path is None:
            path = _named_in_first_line(body)  # ```python / # calc.py
        if path is None and language in ("python", "py", "python3", ""):
            path = _owner(body, files, parsed)
        if path is None and (named := _path_in_prose(above)) is not None:
            path = named if named not in files else None  # a shown one only as its owner above
        if path is not None and "write_file" in names:
            content = body if body.endswith("\n") or not body else body + "\n"
            calls.append(_call(id_prefix, calls, "write_file", path=path, content=content))
    return calls


def reply(message: Message, tools: Sequence[ToolSpec], messages: Sequence[Message]) -> Message:
    """`message` (a reply with no call found in it otherwise) with its blocks' calls."""
    prefix = f"call_block_{uuid.uuid4().hex[:8]}_"
    calls = block_calls(message.content, tools, messages, id_prefix=prefix)
    return message.model_copy(update={"tool_calls": calls}) if calls else message


def _call(prefix: str, calls: list[ToolCall], name: str, **arguments: str) -> ToolCall:
    return ToolCall(id=f"{prefix}{len(calls)}", name=name, arguments=arguments)


NEXT = (
    "If the task is done, reply with your final answer: one short sentence, and no code block. "
    "If it is not, write the file that is still wrong."
)
CHECK = " To check your work, run the tests:\n```bash\npython -m pytest -q\n```"
"""Added to what comes next where run_command is offered: a block the model can copy (the 1.5B
was told to run the tests in a ```bash block and never did)."""


REVIEW = (
    "Before you finish, check the files you wrote against the task: go through its rules, "
    "examples and tests one by one. If any is not met, write the complete corrected file. If "
    "all are met, reply with your final answer."
)
REVIEW_CHECK = " To be sure, run the tests:\n```bash\npython -m pytest -q\n```"


def review(transcript: Sequence[Message], tools: Sequence[ToolSpec]) -> str | None:
    """The once-per-run request to look again, when a model in this format gives its final
    answer after writing a file and has not been asked yet; None otherwise. The 1.5B fixed the
    first of two bugs it had been shown and called the task done."""
    if any(m.role == "user" and m.content == _asked(tools) for m in transcript):
        return None
    wrote = any(m.role == "tool" and m.name == "write_file" and not m.is_error for m in transcript)
    return _asked(tools) if wrote else None


def _asked(tools: Sequence[ToolSpec]) -> str:
    return REVIEW + (REVIEW_CHECK if any(t.name == "run_command" for t in tools) else "")


def plain_messages(
    wire: Sequence[dict[str, Any]], budget_tokens: int | None = None, *, commands: bool = False
) -> list[dict[str, Any]]:
    """The conversation (chat-completions form, already fitted to the context) as plain chat:
    replies as written (their blocks are their calls), the results of one reply's calls
    together in one user message. Over `budget_tokens`, the blocks of older replies give way
    to a note, oldest first."""
    out: list[dict[str, Any]] = []
    results: list[tuple[str, str]] = []  # (what ran and its result, a note on it)
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    shown: dict[str, str] = {}  # the files as the user's messages showed them
    written: set[str] = set()  # the paths the model has written since
    for m in wire:
        if m.get("role") == "tool":
            name, arguments = calls.get(str(m.get("tool_call_id")), ("tool", {}))
            result = str(m.get("content") or "")
            note = (
                _unchanged(result, arguments, shown, written)
                or _elsewhere(result, arguments, shown)
                or _broken(result)
            )
            if result.startswith(("Created ", "Overwrote ")) and name == "write_file":
                written.add(str(arguments.get("path")))
            results.append((f"{_described(name, arguments)}: {result}", note))
            continue
        if m.get("role") == "user":
            shown.update(shown_files([str(m.get("content") or "")]))
        if results:
            out.append(_results(results, commands))
            results = []
        if m.get("role") == "assistant":
            made = [_unwire(c) for c in m.get("tool_calls") or []]
            calls.update({call.id: (call.name, call.arguments) for call in made})
            as_blocks = (_written(call.name, call.arguments) for call in made)
            content = str(m.get("content") or "") or "\n\n".join(as_blocks)
            out.append({"role": "assistant", "content": content})
        else:
            out.append({"role": m.get("role"), "content": m.get("content") or ""})
    if results:
        out.append(_results(results, commands))
    if budget_tokens is not None:
        _trim_blocks(out, budget_tokens)
    return out


def _results(results: list[tuple[str, str]], commands: bool) -> dict[str, Any]:
    """One user message with the results of one reply's calls, and what to do next: what a
    note on one of them says, or `NEXT`."""
    notes = [note for _, note in results if note]
    shown = "\n\n".join(result for result, _ in results)
    then = ("\n".join(notes) or NEXT) + (CHECK if commands else "")
    return {"role": "user", "content": shown + "\n\n" + then}


def _unchanged(
    result: str, arguments: dict[str, Any], shown: dict[str, str], written: set[str]
) -> str:
    """A note when the model's first write of a shown file left it exactly as it was shown: the
    1.5B "fixed" a bug by copying the file back unchanged, then called the task done. (Writing
    back its own version again is no such thing: that is how it says it checked.)"""
    path, content = arguments.get("path"), arguments.get("content")
    if not result.startswith("Overwrote ") or not isinstance(content, str) or path not in shown:
        return ""
    if path in written:
        return ""
    if content.rstrip("\n") != shown[str(path)].rstrip("\n"):
        return ""
    if str(path).split("/")[-1].startswith("test"):
        return ""  # tests written back as they were: harmless
    return (
        f"But that {path} is exactly what {path} already held: nothing in it changed. If the task "
        f"asks for a change to {path}, write {path} again with the change made."
    )


_BROKEN = re.compile(r"\nWarning: (\S+) is not valid Python now")


def _broken(result: str) -> str:
    """The next step after a write left a .py file that does not compile (the tool's warning
    says "read it and fix it"; here the model has it already, in its own block)."""
    found = _BROKEN.search(result)
    return f"Write the complete {found.group(1)} again with that fixed." if found else ""


def _elsewhere(result: str, arguments: dict[str, Any], shown: dict[str, str]) -> str:
    """A note when a write created a new file that defines what an existing one does: the
    model wrote `slugify.py` when the task was text_tools.py's slugify()."""
    path, content = arguments.get("path"), arguments.get("content")
    if not result.startswith("Created ") or not isinstance(content, str):
        return ""
    owner = _owner(content, {p: c for p, c in shown.items() if p != path})
    if owner is None:
        return ""
    names = ", ".join(sorted(_defined(content) & _defined(shown[owner])))
    return (
        f"But {owner} already defines {names}, and it is unchanged. The task is about "
        f"{owner}: write the complete new {owner}, with the changed {names} in it."
    )


def _trim_blocks(out: list[dict[str, Any]], budget_tokens: int) -> None:
    excess = estimate_tokens(out) - budget_tokens
    for message in out[:-1]:
        if excess <= 0:
            return
        if message["role"] != "assistant":
            continue
        before = message["content"]
        kept, cursor = [], 0
        for match, _ in _fences(before):  # linear, as block_calls reads them
            note = f"[{match.group(2).count(chr(10))} lines, trimmed to fit the context]"
            kept += [before[cursor : match.start()], f"```\n{note}\n```"]
            cursor = match.end()
        message["content"] = "".join(kept) + before[cursor:]
        excess -= int((len(before) - len(message["content"])) / CHARS_PER_TOKEN)


def _unwire(call: dict[str, Any]) -> ToolCall:
    """A call in chat-completions form read back (arguments sent malformed come back empty)."""
    function = call.get("function") or {}
    return tool_call(
        str(call.get("id") or ""), str(function.get("name") or "tool"), function.get("arguments")
    )


def _described(name: str, arguments: dict[str, Any]) -> str:
    if name == "run_command":
        return f"$ {arguments.get('command', '')}"
    path = arguments.get("path")
    return f"{name} {path}" if isinstance(path, str) else name


def _written(name: str, arguments: dict[str, Any]) -> str:
    """A call the model made some other way (JSON), written as this format would have it."""
    if name == "write_file":
        return show(str(arguments.get("path", "")), str(arguments.get("content", "")))
    if name == "run_command":
        return f"```bash\n{arguments.get('command', '')}\n```"
    return f"{name} {json.dumps(arguments)}"
