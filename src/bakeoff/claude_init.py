"""`bakeoff init claude`: wire bakeoff into a Claude Code project for a whole team. It registers
the MCP server in `.mcp.json` (merged, so other servers stay) with a command that works from any
clone — `bakeoff` from PATH, or a path inside the project such as `.venv/bin/bakeoff`, never an
absolute path of this machine — writes one relay sub-agent per model under
`.claude/agents/nano-agent-<slug>.md` that passes a prompt unchanged to `prompt_nano_agent` and
returns its JSON unchanged, and a `/bakeoff` slash command that first waits for the server, then
fans a prompt out to all of them in parallel and grades the answers with the bake-off's own
formulas and letter bands — imported here from the graders, so the text cannot drift from the
report — and the weights and speed/cost bands of the config given (`[weights]`, `[grading]`;
the defaults without one), as they stand when the command is written: rerun with `force` after
changing them. With `http`, `.mcp.json` names a `bakeoff mcp --http` server instead, and
Claude Code sends its token from `$BAKEOFF_MCP_TOKEN` (`${VAR}` is expanded in `headers`), so
the token — made here if there is none, 0600 in `~/.config/bakeoff/` — is never in a file the
team commits. `next_steps` says what is left to do by hand: approve the server, which key each
sub-agent needs, how to run `/bakeoff` (and, with `http`, how to start the server). Existing files are never overwritten without `force`;
nothing is written when anything would be."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from bakeoff.config import BakeoffConfig
from bakeoff.errors import UserError
from bakeoff.evals.trial.judge import CRITERIA, DEFAULT_RUBRIC
from bakeoff.evals.verdict.letters import LETTER_BANDS
from bakeoff.mcp_http import TOKEN_ENV, http_url, parse_http_address, stored_token, token_file
from bakeoff.mcp_server import SERVER_NAME
from bakeoff.weights import GradeWeights

DEFAULT_MODELS = ("gpt-5-mini", "sonnet-4", "haiku", "local")
AGENT_TOOL = f"mcp__{SERVER_NAME}__prompt_nano_agent"
"""Claude Code names MCP tools mcp__<server>__<tool>."""
READY_TOOL = f"mcp__{SERVER_NAME}__list_models"
"""The cheap tool /bakeoff calls first, to know the server is connected before it fans out."""


@dataclass(frozen=True)
class ServerCommand:
    """How `.mcp.json` starts the server, and why that may not work for the user (or None)."""

    command: str
    """`bakeoff`, found on PATH, or a POSIX path relative to the project root."""
    note: str | None = None


def running_bakeoff() -> Path | None:
    """The `bakeoff` script of the install that runs now (absolute, symlinks kept), if any."""
    if sys.argv and Path(sys.argv[0]).name == "bakeoff":
        return Path(os.path.abspath(sys.argv[0]))
    beside = Path(os.path.abspath(sys.executable)).parent / "bakeoff"  # `python -m bakeoff`
    return beside if beside.is_file() else None


def _inside(path: Path, root: Path) -> str | None:
    """`path` relative to `root` as a POSIX path, seen as given or with symlinks resolved."""
    for here, base in (
        (Path(os.path.abspath(path)), Path(os.path.abspath(root))),
        (Path(os.path.realpath(path.parent)) / path.name, Path(os.path.realpath(root))),
    ):
        if here.is_relative_to(base):
            return here.relative_to(base).as_posix()
    return None


def server_command(
    project: Path, running: Path | None = None, path_env: str | None = None
) -> ServerCommand:
    """The command every clone of `project` can start the server with: the running bakeoff's
    path inside the project (a venv in the project, the same for each teammate who makes it
    there), else `bakeoff` when PATH (`path_env`, default $PATH) has it, else `bakeoff` with a
    note on how to make it findable. Never an absolute path: it would break once committed."""
    running = running if running is not None else running_bakeoff()
    relative = None if running is None else _inside(running, project)
    if relative is not None:
        return ServerCommand(relative)
    if shutil.which("bakeoff", path=path_env) is not None:
        return ServerCommand("bakeoff")
    where = "" if running is None else f" and this bakeoff ({running}) is outside the project"
    return ServerCommand(
        "bakeoff",
        note=(
            f"`bakeoff` is not on PATH{where}, so Claude Code will not find the server "
            "command `bakeoff` in .mcp.json. Put it on the PATH `claude` starts with "
            "(activate the venv first, or `pipx install` bakeoff), or make the venv inside "
            "the project and run `bakeoff init claude --force` from it."
        ),
    )


def mcp_entry(command: ServerCommand, url: str | None = None) -> dict[str, Any]:
    """The `.mcp.json` server entry: `command` over stdio, or the HTTP server at `url` with
    the token Claude Code reads from `$BAKEOFF_MCP_TOKEN` when it starts."""
    if url is not None:
        auth = f"Bearer ${{{TOKEN_ENV}}}"
        return {"type": "http", "url": url, "headers": {"Authorization": auth}}
    return {"command": command.command, "args": ["mcp"]}


RELAY_MODEL = "haiku"
"""The Claude model that runs each relay sub-agent: it only forwards a prompt and a JSON reply."""
FANOUT_DIR = ".bakeoff/fanout"
"""Where /bakeoff gives each nano agent its own workspace, so parallel runs never collide."""


@dataclass
class InitResult:
    """What `init_claude` did: files written (new or replaced), the .mcp.json merge, and what
    `next_steps` needs: the project, the server command and the models (as typed, full id)."""

    written: list[Path] = field(default_factory=list)
    mcp_json: Path | None = None
    kept_servers: list[str] = field(default_factory=list)
    project: Path = field(default_factory=Path)
    command: ServerCommand = field(default_factory=lambda: ServerCommand("bakeoff"))
    models: list[tuple[str, str]] = field(default_factory=list)
    http: str | None = None
    """The HOST:PORT of the `bakeoff mcp --http` server `.mcp.json` names; None: stdio."""


def model_slug(model: str) -> str:
    """A file-name and agent-name safe slug: "ollama:gpt-oss:20b" → "ollama-gpt-oss-20b"."""
    slug = re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")
    if not slug:
        raise UserError(f"model {model!r} has no letters or digits to name a sub-agent after")
    return slug


def agent_name(model: str) -> str:
    return f"nano-agent-{model_slug(model)}"


def _front_matter(fields: dict[str, str]) -> str:
    # safe_dump quotes whatever needs it (colons, leading symbols), so any model name stays valid.
    text = yaml.safe_dump(fields, sort_keys=False, allow_unicode=True, width=10_000)
    return f"---\n{text}---\n"


def _template(name: str) -> str:
    return (resources.files("bakeoff") / "claude" / name).read_text(encoding="utf-8")


def render_agent(model: str, model_id: str) -> str:
    """The relay sub-agent for `model` (as the user typed it; `model_id` is its full id)."""
    shown = model if model == model_id else f"{model} ({model_id})"
    head = _front_matter(
        {
            "name": agent_name(model),
            "description": (
                f"Runs a prompt as a bakeoff nano agent on {shown} and returns its JSON result "
                f"unchanged. Use to hand a self-contained coding sub-task to {model}, or from "
                "/bakeoff to compare models."
            ),
            "tools": AGENT_TOOL,
            "model": RELAY_MODEL,
        }
    )
    return head + _template("agent.md").format(shown=shown, model=model, tool=AGENT_TOOL)


def _bands_text() -> str:
    bands = [f"{name} ≥ {floor:.2f}" for name, floor in LETTER_BANDS if floor > 0]
    return ", ".join(bands) + f", else {LETTER_BANDS[-1][0]}"


def render_command(models: Sequence[str], weights: GradeWeights | None = None) -> str:
    """The /bakeoff slash command that fans $ARGUMENTS out to every relay sub-agent, grading
    with `weights` (with their bands; default: `GradeWeights()`)."""
    w = weights if weights is not None else GradeWeights()
    head = _front_matter(
        {
            "description": (
                f"Run a prompt on {len(models)} nano agents ({', '.join(models)}) in parallel and "
                "grade them on quality, speed and cost"
            ),
            "argument-hint": "<agentic coding prompt>",
            "allowed-tools": f"Task, {READY_TOOL}, {AGENT_TOOL}",
        }
    )
    agents = "\n".join(
        f"- `{agent_name(m)}` — workspace `{FANOUT_DIR}/RUN/{model_slug(m)}`" for m in models
    )
    body = _template("command.md").format(
        agents=agents,
        ready_tool=READY_TOOL,
        server=SERVER_NAME,
        rubric=DEFAULT_RUBRIC,
        criteria="\n".join(f"   - {name}: {text}" for name, text in CRITERIA.items()),
        w_quality=f"{w.quality:g}",
        w_speed=f"{w.speed:g}",
        w_cost=f"{w.cost:g}",
        w_total=f"{w.quality + w.speed + w.cost:g}",
        bands=_bands_text(),
        bar=f"{w.quality_bar:g}",
        fast_s=w.bands.fast_s,
        slow_s=w.bands.slow_s,
        cheap_usd=w.bands.cheap_usd,
        expensive_usd=w.bands.expensive_usd,
        speed_decades=math.log10(w.bands.slow_s / w.bands.fast_s),
        cost_decades=math.log10(w.bands.expensive_usd / w.bands.cheap_usd),
    )
    return head + body


def merge_mcp_json(existing: str | None, entry: dict[str, Any]) -> tuple[str, list[str], bool]:
    """`.mcp.json` text with `entry` registered as the bakeoff server; the other servers' names
    (kept as they are); and whether a different `bakeoff` entry was there (replaced only with
    force)."""
    data: dict[str, Any] = {}
    if existing is not None and existing.strip():
        try:
            loaded = json.loads(existing)
        except json.JSONDecodeError as exc:
            raise UserError(f".mcp.json is not valid JSON ({exc}); fix or remove it first") from exc
        if not isinstance(loaded, dict) or not isinstance(loaded.get("mcpServers", {}), dict):
            raise UserError('.mcp.json must be an object with an "mcpServers" object; fix it first')
        data = loaded
    servers: dict[str, Any] = data.setdefault("mcpServers", {})
    differs = servers.get(SERVER_NAME, entry) != entry
    servers[SERVER_NAME] = entry
    kept = [name for name in servers if name != SERVER_NAME]
    return json.dumps(data, indent=2) + "\n", kept, differs


def _exists_error(items: Sequence[str]) -> UserError:
    listed = "\n".join(f"  {item}" for item in items)
    return UserError(
        f"not overwriting what already exists:\n{listed}\n"
        "re-run with --force to overwrite (other servers in .mcp.json are always kept)"
    )


def _check_models(models: Sequence[str], config: BakeoffConfig | None) -> list[tuple[str, str]]:
    from bakeoff.models.registry import resolve_model_id

    if not models:
        raise UserError("no models given: pass --models ID,ID,... (see `bakeoff models`)")
    seen: dict[str, str] = {}
    out = []
    for model in models:
        model_id = resolve_model_id(model, config)  # an unknown name lists the known ones
        slug = model_slug(model)
        if slug in seen:
            if seen[slug] == model:
                continue
            raise UserError(f"models {seen[slug]!r} and {model!r} would share one sub-agent name")
        seen[slug] = model
        out.append((model, model_id))
    return out


def init_claude(
    models: Sequence[str] = DEFAULT_MODELS,
    directory: Path | str = ".",
    *,
    force: bool = False,
    config: BakeoffConfig | None = None,
    http: str | None = None,
) -> InitResult:
    """Write .mcp.json, the relay sub-agents and the /bakeoff command into `directory`; with
    `http` (HOST:PORT on loopback) `.mcp.json` names that HTTP server, and its token is made."""
    root = Path(directory)
    if not root.is_dir():
        raise UserError(f"--dir {root}: no such directory")
    url = http_url(*parse_http_address(http)) if http is not None else None
    checked = _check_models(models, config)
    files = {
        root / ".claude" / "agents" / f"{agent_name(m)}.md": render_agent(m, mid)
        for m, mid in checked
    }
    weights = config.weights if config is not None else None
    files[root / ".claude" / "commands" / "bakeoff.md"] = render_command(
        [m for m, _ in checked], weights
    )
    mcp_path = root / ".mcp.json"
    existing = mcp_path.read_text(encoding="utf-8") if mcp_path.is_file() else None
    command = server_command(root)
    mcp_text, kept, differs = merge_mcp_json(existing, mcp_entry(command, url))
    clashes = [str(p) for p, text in files.items() if p.exists() and p.read_text("utf-8") != text]
    if differs:
        clashes.append(f'{mcp_path} (its "{SERVER_NAME}" server entry differs)')
    if clashes and not force:
        raise _exists_error(clashes)
    result = InitResult(
        mcp_json=mcp_path,
        kept_servers=kept,
        project=root,
        command=command,
        models=checked,
        http=http,
    )
    if http is not None:
        stored_token()  # made now (0600), so the user can export it before starting claude
    for path, text in {**files, mcp_path: mcp_text}.items():
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue  # re-running init is a no-op, not an overwrite
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        result.written.append(path)
    return result


def key_needed(model_id: str, config: BakeoffConfig | None = None) -> str:
    """What a model needs from the environment the server starts in: its provider's key
    variable (and whether this shell has it), a local server, or nothing."""
    from bakeoff.models.model_id import ModelId

    model = ModelId.stored_or_none(model_id, config or BakeoffConfig())
    if model is None or model.kind in ("local", "script"):
        return "nothing (runs on this machine)"
    provider = model.settings
    if provider.api_key_env:
        env = provider.api_key_env
        here = "set here" if os.environ.get(env, "").strip() else "not set here"
        return f"{env} ({here})"
    if provider.base_url:
        return f"no key; a server answering at {provider.base_url}"
    return "nothing"


def _para(text: str, first: str = "", rest: str = "   ") -> list[str]:
    return textwrap.wrap(
        text,
        width=100,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def next_steps(result: InitResult, config: BakeoffConfig | None = None) -> str:
    """What is left to do by hand after `init_claude`, as the CLI prints it: approve the
    server, export each sub-agent's key, run /bakeoff."""
    project = Path(os.path.abspath(result.project))
    note = result.command.note
    lines = [*_para(f"note: {note}", rest="  "), ""] if note else []
    lines.append("next steps:")
    lines += _para(
        f"Start `claude` in {project} and approve the project MCP server "
        f'"{SERVER_NAME}" when asked (once per clone; `claude mcp list` then shows it '
        "connected). Or approve it in .claude/settings.local.json, your own file (keep it out "
        "of git), which Claude Code reads once you have trusted the folder: "
        f'{{"enabledMcpjsonServers": ["{SERVER_NAME}"]}} or {{"enableAllProjectMcpServers": '
        "true}.",
        "1. ",
    )
    if result.http is not None:
        lines += _para(
            f"Start the server yourself: `bakeoff mcp --http {result.http}` (it reads its token "
            f"from {token_file()}), and start `claude` from a shell holding that token: "
            f'export {TOKEN_ENV}="$(cat {token_file()})". Claude Code sends it with each '
            "request; a request without it is refused.",
            "   ",
        )
    elif result.command.command != "bakeoff":
        lines += _para(
            f".mcp.json starts `{result.command.command} mcp` from the folder `claude` starts "
            "in: start it in the project root, where each teammate makes the same venv.",
            "   ",
        )
    lines += _para(
        "The sub-agents' models run in the bakeoff server, which gets the environment "
        "`claude` starts with: export their keys before starting `claude`.",
        "2. ",
    )
    rows = [(agent_name(m), mid, key_needed(mid, config)) for m, mid in result.models]
    name_w = max((len(r[0]) for r in rows), default=0)
    id_w = max((len(r[1]) for r in rows), default=0)
    lines += [f"   {name:<{name_w}}  {mid:<{id_w}}  {need}" for name, mid, need in rows]
    example = agent_name(result.models[0][0]) if result.models else "nano-agent-MODEL"
    lines += _para(
        "In `claude`: /bakeoff <prompt> runs the prompt on every model above in parallel and "
        f'grades the answers; or ask for one sub-agent by name: "use {example} to write '
        'tests for utils.py".',
        "3. ",
    )
    lines += _para(
        "Commit .mcp.json, .claude/agents and .claude/commands so teammates get the same kit.",
        rest="",
    )
    return "\n".join(lines)
