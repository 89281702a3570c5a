"""`bakeoff init claude`: wire bakeoff into a Claude Code project. It registers the MCP server
in `.mcp.json` (merged, so other servers stay), writes one relay sub-agent per model under
`.claude/agents/nano-agent-<slug>.md` that passes a prompt unchanged to `prompt_nano_agent` and
returns its JSON unchanged, and a `/bakeoff` slash command that fans a prompt out to all of them
in parallel and grades the answers with the bake-off's own weights, formulas and letter bands —
imported here from the graders, so the text cannot drift from the report. Existing files are
never overwritten without `force`; nothing is written when anything would be."""

from __future__ import annotations

import json
import math
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from bakeoff.config import BakeoffConfig
from bakeoff.errors import UserError
from bakeoff.evals.grading import LETTER_BANDS
from bakeoff.evals.judge import CRITERIA, DEFAULT_RUBRIC
from bakeoff.evals.records import GradeWeights
from bakeoff.mcp_server import SERVER_NAME

DEFAULT_MODELS = ("gpt-5-mini", "sonnet-4", "haiku", "local")
AGENT_TOOL = f"mcp__{SERVER_NAME}__prompt_nano_agent"
"""Claude Code names MCP tools mcp__<server>__<tool>."""


def mcp_entry() -> dict[str, Any]:
    """How Claude Code starts the server: `bakeoff mcp` when `bakeoff` is on PATH, else the
    absolute path of the one running now (a venv that is not activated)."""
    here = Path(sys.argv[0]).resolve() if sys.argv and Path(sys.argv[0]).name == "bakeoff" else None
    on_path = shutil.which("bakeoff")
    if here is None or (on_path is not None and Path(on_path).resolve() == here):
        return {"command": "bakeoff", "args": ["mcp"]}
    return {"command": str(here), "args": ["mcp"]}


RELAY_MODEL = "haiku"
"""The Claude model that runs each relay sub-agent: it only forwards a prompt and a JSON reply."""
FANOUT_DIR = ".bakeoff/fanout"
"""Where /bakeoff gives each nano agent its own workspace, so parallel runs never collide."""


@dataclass
class InitResult:
    """What `init_claude` did: files written (new or replaced) and the .mcp.json merge."""

    written: list[Path] = field(default_factory=list)
    mcp_json: Path | None = None
    kept_servers: list[str] = field(default_factory=list)


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


def render_command(models: Sequence[str]) -> str:
    """The /bakeoff slash command that fans $ARGUMENTS out to every relay sub-agent."""
    w = GradeWeights()
    head = _front_matter(
        {
            "description": (
                f"Run a prompt on {len(models)} nano agents ({', '.join(models)}) in parallel and "
                "grade them on quality, speed and cost"
            ),
            "argument-hint": "<agentic coding prompt>",
            "allowed-tools": f"Task, {AGENT_TOOL}",
        }
    )
    agents = "\n".join(
        f"- `{agent_name(m)}` — workspace `{FANOUT_DIR}/RUN/{model_slug(m)}`" for m in models
    )
    body = _template("command.md").format(
        agents=agents,
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


def merge_mcp_json(existing: str | None) -> tuple[str, list[str], bool]:
    """`.mcp.json` text with the bakeoff server registered; the other servers' names (kept as
    they are); and whether a different `bakeoff` entry was there (replace it only with force)."""
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
    entry = mcp_entry()
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
) -> InitResult:
    """Write .mcp.json, the relay sub-agents and the /bakeoff command into `directory`."""
    root = Path(directory)
    if not root.is_dir():
        raise UserError(f"--dir {root}: no such directory")
    checked = _check_models(models, config)
    files = {
        root / ".claude" / "agents" / f"{agent_name(m)}.md": render_agent(m, mid)
        for m, mid in checked
    }
    files[root / ".claude" / "commands" / "bakeoff.md"] = render_command([m for m, _ in checked])
    mcp_path = root / ".mcp.json"
    existing = mcp_path.read_text(encoding="utf-8") if mcp_path.is_file() else None
    mcp_text, kept, differs = merge_mcp_json(existing)
    clashes = [str(p) for p, text in files.items() if p.exists() and p.read_text("utf-8") != text]
    if differs:
        clashes.append(f'{mcp_path} (its "{SERVER_NAME}" server entry differs)')
    if clashes and not force:
        raise _exists_error(clashes)
    result = InitResult(mcp_json=mcp_path, kept_servers=kept)
    for path, text in {**files, mcp_path: mcp_text}.items():
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue  # re-running init is a no-op, not an overwrite
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        result.written.append(path)
    return result
