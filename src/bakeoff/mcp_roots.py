"""Where the MCP server may work: `Roots`, the directories workspaces and task folders must lie
in (`--root`), and `AgentWorkspaces`, the folders nano agents wrote to during the server's life
(a task folder that overlaps one is refused: its checks could be an agent's code); and
`model_id_for`, the seed's (model, provider) pair as one id; `task_fields`, what `run_bakeoff`
is given as the tasks of a `BakeoffRequest`."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from mcp.server.mcpserver.exceptions import ToolError

from bakeoff.config import BakeoffConfig
from bakeoff.errors import UserError


class Roots:
    """The directories workspaces and task folders must lie in (real paths, symlinks resolved)."""

    def __init__(self, dirs: Sequence[Path | str] = ()) -> None:
        given = [Path(d).expanduser() for d in dirs] or [Path.cwd()]
        missing = [str(d) for d in given if not d.is_dir()]
        if missing:
            raise UserError(
                f"--root must name existing directories; not found: {', '.join(missing)}"
            )
        self.dirs = [Path(os.path.realpath(d)) for d in given]

    def resolve(self, path: str | None, what: str = "workspace") -> Path:
        """The real path of `path` (relative paths start at the first root); ToolError outside."""
        base = self.dirs[0]
        target = base if not path else Path(path).expanduser()
        if not target.is_absolute():
            target = base / target
        # realpath follows symlinks, so a link inside a root that points out is refused too.
        real = Path(os.path.realpath(target))
        if not self.contains(real):
            allowed = ", ".join(str(d) for d in self.dirs)
            raise ToolError(
                f"{what} {path!r} is outside the directories this server may use ({allowed}); "
                "pass a path inside one of them, or restart the server with --root DIR"
            )
        return real

    def contains(self, real: Path) -> bool:
        return any(real == d or d in real.parents for d in self.dirs)


class AgentWorkspaces:
    """The workspaces this server has handed to nano agents (real paths). Agents write there, so
    a task folder that lies in one, or holds one, may carry a `task.toml` (whose check command
    is code) that an agent wrote: `run_bakeoff` refuses it for the life of the server."""

    def __init__(self) -> None:
        self._dirs: set[Path] = set()

    def fresh(self) -> Path:
        """A new empty folder under the system temp dir, kept after the run for its files."""
        made = Path(os.path.realpath(tempfile.mkdtemp(prefix="bakeoff-agent-")))
        self._dirs.add(made)
        return made

    def add(self, real: Path) -> None:
        self._dirs.add(real)

    def refuse_overlap(self, task: Path) -> None:
        """ToolError when `task` (a real path) is inside, or contains, an agent's workspace."""
        for ws in self._dirs:
            if task == ws or ws in task.parents or task in ws.parents:
                raise ToolError(
                    f"task folder {str(task)!r} overlaps {str(ws)!r}, a workspace a nano agent "
                    "wrote to in this server session, so its task.toml or checks may be the "
                    "agent's work; run_bakeoff only runs tasks the user wrote: review the "
                    "task and run it with `bakeoff run` yourself"
                )


def model_id_for(model: str, provider: str | None, config: BakeoffConfig | None = None) -> str:
    """The seed's (model, provider) pair as one alias or id for `resolve_model`. An alias stays
    an alias (so results carry the name the user typed) when no provider is given or the
    provider is the alias's own: ("opus-4.1", "anthropic") → "opus-4.1"; otherwise the provider
    wins and the name is its model: ("gpt-5-mini", "azure") → "azure:gpt-5-mini"."""
    from bakeoff.models.model_id import all_aliases, provider_of

    model, provider = model.strip(), (provider or "").strip()
    alias_of = provider_of(all_aliases(config).get(model, ""))
    if not provider or model.startswith(f"{provider}:") or alias_of == provider:
        return model
    return f"{provider}:{model}"


def task_fields(
    prompt_or_task: str, roots: Roots, agents: AgentWorkspaces
) -> tuple[list[str], list[str]]:
    """(tasks, prompts) of a `BakeoffRequest`: ([path], []) for a task folder in the roots
    (and clear of every agent workspace) or a built-in task (its folder's real path), else
    ([], [prompt]): a prompt is never read again as a path or a name."""
    from bakeoff.evals.trial.task import TASK_FILE, builtin_suite_dir

    text = prompt_or_task.strip()
    if not text:
        raise ToolError("prompt_or_task is empty: pass a prompt or a task folder")
    if "\n" not in text and len(text) < 4096:
        base = roots.dirs[0]
        candidate = Path(text).expanduser()
        candidate = candidate if candidate.is_absolute() else base / candidate
        if candidate.is_dir() or (candidate.name == TASK_FILE and candidate.is_file()):
            task = roots.resolve(text, "task folder")
            agents.refuse_overlap(task.parent if task.name == TASK_FILE else task)
            return [str(task)], []
        # A name, never a path: "../x" must not reach out of the suite.
        if text in {child.name for child in builtin_suite_dir().iterdir()}:
            builtin = builtin_suite_dir() / text
            if (builtin / TASK_FILE).is_file():
                real = Path(os.path.realpath(builtin))
                agents.refuse_overlap(real)
                return [str(real)], []
    return [], [prompt_or_task]
