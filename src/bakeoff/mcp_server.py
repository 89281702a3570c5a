"""The MCP server: a thin shell that exposes the library over the Model Context Protocol, so
Claude Code or any MCP client can hand a sub-task to one nano agent (`prompt_nano_agent`, the
seed's interface, returning the `agent --json` object plus its workspace), see which models are
usable (`list_models`), ask which model should take a task from stored runs (`route_task`), or
run a whole bake-off (`run_bakeoff`, with progress notifications). It has no agent logic of its
own: each tool, registered by its own `_add_*_tool`, parses its arguments, calls the library
(`bakeoff.api`'s `run_agent_once` and `bake`, `list_models`, the router) and returns what comes
back. Explicit workspaces and task folders are confined to the directories the server was
started with (`--root`; `bakeoff.mcp_roots`); a nano agent without a workspace gets a new
temporary folder. `run_bakeoff` runs built-in tasks by name and task folders in the roots, never
one that overlaps a workspace an agent wrote to during the server's life (a task's check is code
the agent could have written). User mistakes (unknown model, missing key, bad workspace) come
back as tool errors with a message, never as a crashed server. In stdio mode nothing but
protocol messages reaches stdout: the SDK points file descriptor 1 at stderr while serving, and
our logging goes to stderr. HTTP serving and its guards live in `bakeoff.mcp_http`. The nano
agents' models stay open across calls for the server's session (`bakeoff.mcp_models`), so the
embedded model loads once rather than on every call. Every `prompt_nano_agent` call is kept in
the agent log (`bakeoff.evals.store.agent_log`, listed by `bakeoff logs`) unless `--no-log` or
`$BAKEOFF_NO_LOG` says not to."""

from __future__ import annotations

import asyncio
import inspect
import io
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from bakeoff import __version__
from bakeoff.config import BakeoffConfig, load_config
from bakeoff.errors import BakeoffError
from bakeoff.mcp_http import HttpOptions, serve_http
from bakeoff.mcp_models import OpenModels
from bakeoff.mcp_roots import AgentWorkspaces, Roots, model_id_for, task_fields
from bakeoff.redact import redact, redact_json, redact_model

SERVER_NAME = "bakeoff"
"""The name clients register the server under; Claude Code calls its tools mcp__bakeoff__<tool>."""
TOOL_NAMES = ("prompt_nano_agent", "list_models", "route_task", "run_bakeoff")

log = logging.getLogger("bakeoff.mcp")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
ProgressFn = Callable[[int, int, str], None]

INSTRUCTIONS = (
    "bakeoff runs agentic coding prompts on other LLMs (cloud or local) as isolated nano agents "
    "that read and write files in a workspace. Use prompt_nano_agent to hand a sub-task to one "
    "model, list_models to see which models are usable now, and run_bakeoff to compare several "
    "models on the same prompt or task and grade them on quality, speed and cost. route_task "
    "says which model the stored bake-offs show is the cheapest to clear a quality bar for a "
    "task's category (and can hand the task to it)."
)


async def with_progress(ctx: Context, run: Callable[[ProgressFn], Awaitable[T]]) -> T:
    """Run `run(on_progress)`, relaying its synchronous progress calls to the client as MCP
    progress notifications, in order, all sent before the result (a no-op when the client
    asked for no progress)."""
    queue: asyncio.Queue[tuple[int, int, str] | None] = asyncio.Queue()

    async def pump() -> None:
        while (item := await queue.get()) is not None:
            done, total, message = item
            try:
                await ctx.report_progress(done, total, message)
            except Exception:  # a client that went away must not fail the work itself
                log.debug("progress notification not delivered", exc_info=True)

    pumping = asyncio.create_task(pump())
    try:
        return await run(lambda done, total, message: queue.put_nowait((done, total, message)))
    finally:
        queue.put_nowait(None)
        with suppress(Exception):
            await pumping


def _tool(server: MCPServer, title: str, **hints: bool) -> Callable[[F], F]:
    """Register a tool with its docstring, dedented, as the description clients show."""

    def register(fn: F) -> F:
        server.add_tool(
            fn,
            title=title,
            description=inspect.cleandoc(fn.__doc__ or ""),
            annotations=ToolAnnotations(title=title, **hints),
        )
        return fn

    return register


def _user_error(exc: BakeoffError) -> ToolError:
    return ToolError(redact(f"{type(exc).__name__}: {exc}"))


@dataclass
class _Session:
    """What every tool of one server shares: its config, the roots, the agents' workspaces,
    the open models and where nano-agent calls are logged (None: not logged)."""

    config: BakeoffConfig
    roots: Roots
    workspaces: AgentWorkspaces
    models: OpenModels
    agent_log: Path | None
    default_turns: int


def build_server(
    roots: Sequence[Path | str] = (),
    config: BakeoffConfig | None = None,
    *,
    models: OpenModels | None = None,
    agent_log: Path | None = None,
) -> MCPServer:
    """The bakeoff MCP server. `roots` bound every workspace and task folder (default: the
    current directory); `config` defaults to `load_config()`; `models` keeps the nano agents'
    models open across calls (default: made by `resolve_model`, closed after `IDLE_S` idle)
    and is closed when the server's session ends. Each `prompt_nano_agent` call is logged
    in the results store at `agent_log` (`bakeoff logs`); None logs nothing."""
    from bakeoff.agent import AgentConfig

    cfg = config if config is not None else load_config()
    session = _Session(
        config=cfg,
        roots=Roots(roots),
        workspaces=AgentWorkspaces(),
        models=models if models is not None else OpenModels.resolving(cfg),
        agent_log=agent_log,
        default_turns=AgentConfig.model_fields["max_turns"].default,
    )
    server = MCPServer(
        SERVER_NAME,
        title="bakeoff",
        version=__version__,
        instructions=INSTRUCTIONS,
        log_level="WARNING",
        lifespan=session.models.session,
    )
    prompt_nano_agent = _add_prompt_tool(server, session)
    _add_list_models_tool(server, session)
    _add_route_tool(server, session, prompt_nano_agent)
    _add_bakeoff_tool(server, session)
    return server


def _add_prompt_tool(server: MCPServer, session: _Session) -> Callable[..., Awaitable[Any]]:
    @_tool(server, "Prompt a nano agent", open_world_hint=True)
    async def prompt_nano_agent(
        ctx: Context,
        agentic_prompt: Annotated[str, Field(description="The task for the agent, passed as is.")],
        model: Annotated[
            str,
            Field(
                description="Model alias (gpt-5-mini, sonnet-4, haiku, local...) or provider:model "
                "id; see list_models."
            ),
        ],
        provider: Annotated[
            str | None,
            Field(
                description="Provider name, optional: an alias resolves with or without its "
                "own provider; any other name becomes the id provider:model."
            ),
        ] = None,
        workspace: Annotated[
            str | None,
            Field(
                description="Directory the agent works in; must be inside the server's roots "
                "(relative paths start at the first root). Created if missing. Default: a new "
                "empty folder under the system temp dir, returned as `workspace`."
            ),
        ] = None,
        max_turns: Annotated[
            int, Field(ge=1, le=200, description="Model requests allowed.")
        ] = session.default_turns,
        read_only: Annotated[
            bool, Field(description="Offer only read_file, list_directory and get_file_info.")
        ] = False,
    ) -> dict[str, Any]:
        """Run one bakeoff nano agent on a prompt with the given model, in a workspace whose
        files it can read and write. Returns the `bakeoff agent --json` object: ok, answer,
        model, provider, turns, tool_calls, usage, cost_usd (null when unknown), duration_s,
        error, plus `workspace`, the folder the agent worked in. A run stopped by a limit or a
        provider failure has ok=false and says why."""
        return await _prompt(
            ctx,
            session,
            agentic_prompt,
            model_id_for(model, provider, session.config),
            workspace,
            max_turns,
            read_only,
        )

    return prompt_nano_agent


async def _prompt(
    ctx: Context,
    session: _Session,
    prompt: str,
    model_id: str,
    workspace: str | None,
    max_turns: int,
    read_only: bool,
) -> dict[str, Any]:
    """`prompt_nano_agent`: the workspace checked against the roots and noted as an agent's,
    the model made (or found open), then `api.run_agent_once` with progress per turn."""
    from bakeoff.agent import AgentConfig
    from bakeoff.api import run_agent_once
    from bakeoff.models.model_id import ModelId

    where = None if workspace is None else session.roots.resolve(workspace)
    if where is not None and where.exists() and not where.is_dir():
        raise ToolError(f"workspace {workspace!r} is a file, not a directory")
    try:
        session.models.model(model_id)  # made (or found open) now: a bad id fails here
    except BakeoffError as exc:
        raise _user_error(exc) from exc
    if where is None:
        where = session.workspaces.fresh()
    else:  # before the agent starts: run_bakeoff refuses it even while the agent works
        session.workspaces.add(where)
    agent = AgentConfig(
        max_turns=max_turns, read_only=read_only, protected=session.config.protected
    )
    name = ModelId.parse(model_id, session.config).shown  # as the CLI shows it

    async def go(on_progress: ProgressFn) -> Any:
        # Kept open after the call: the next one finds a local model loaded.
        async with session.models.using(model_id) as agent_model:
            return await run_agent_once(
                prompt, agent_model, where, agent, model_name=name, source="mcp",
                log_to=session.agent_log, warn=_not_logged,
                on_turn=lambda r: on_progress(r.turns, max_turns, f"turn {r.turns}"),
            )  # fmt: skip

    result = await with_progress(ctx, go)
    public: dict[str, Any] = redact_json(result.to_public())
    public["workspace"] = str(where)
    return public


def _add_list_models_tool(server: MCPServer, session: _Session) -> None:
    @_tool(server, "List models", read_only_hint=True)
    async def list_models() -> dict[str, Any]:
        """List the models bakeoff knows: id, aliases, provider, price per million tokens
        (null when unknown) and whether each is usable now (and if not, what to do)."""
        from bakeoff.models.registry import list_models as registry_models

        # The usability check may probe local servers for up to half a second each.
        infos = await asyncio.to_thread(registry_models, session.config)
        return {"models": [info.model_dump(mode="json") for info in infos]}


def _add_route_tool(
    server: MCPServer, session: _Session, prompt_nano_agent: Callable[..., Awaitable[Any]]
) -> None:
    @_tool(server, "Route a task to a model", open_world_hint=True)
    async def route_task(
        ctx: Context,
        prompt: Annotated[str, Field(description="The task to route (and, to delegate, run).")],
        category: Annotated[
            str | None,
            Field(description="The task's category; default: read from the prompt's words."),
        ] = None,
        min_quality: Annotated[
            float, Field(ge=0, le=1, description="The bar: 95% interval's low end must clear it.")
        ] = 0.8,
        by: Annotated[
            Literal["cost", "speed"], Field(description="Cheapest or fastest of those that clear.")
        ] = "cost",
        delegate: Annotated[
            bool, Field(description="Also hand the prompt to the chosen model's nano agent.")
        ] = False,
        workspace: Annotated[
            str | None, Field(description="With delegate: as prompt_nano_agent's workspace.")
        ] = None,
    ) -> dict[str, Any]:
        """Which model should take this task, from the evidence of stored bake-offs: the
        cheapest (or fastest) model whose quality in the task's category clears `min_quality`
        with 95% confidence, with the evidence (runs, tasks, interval, cost) — or no model and
        "not enough evidence". With `delegate`, the prompt then goes to that model's nano agent
        and its `prompt_nano_agent` result is returned as `result`."""
        from bakeoff.evals.store.store import Store
        from bakeoff.evals.verdict.route import route

        def decide() -> Any:
            store = Store()
            try:
                return route(store, prompt, category=category, min_quality=min_quality, by=by)
            finally:
                store.close()

        try:
            answer = await asyncio.to_thread(decide)
        except BakeoffError as exc:
            raise _user_error(exc) from exc
        out: dict[str, Any] = redact_json(answer.public())
        if delegate and answer.model is not None:
            out["result"] = await prompt_nano_agent(
                ctx, prompt, answer.model, workspace=workspace, max_turns=session.default_turns
            )
        return out


def _add_bakeoff_tool(server: MCPServer, session: _Session) -> None:
    @_tool(server, "Run a bake-off", open_world_hint=True)
    async def run_bakeoff(
        ctx: Context,
        prompt_or_task: Annotated[
            str,
            Field(
                description="A task folder (or folder of tasks) inside the server's roots and "
                "outside every nano-agent workspace, a built-in task name, or else a prompt to "
                "run as a one-off task."
            ),
        ],
        models: Annotated[list[str], Field(min_length=1, description="Model ids or aliases.")],
        judge: Annotated[
            str | None,
            Field(description="Judge model; a bare prompt is graded only by a judge."),
        ] = None,
        repeats: Annotated[int, Field(ge=1, le=50, description="Runs per task and model.")] = 1,
    ) -> CallToolResult:
        """Run the same prompt or task on several models at once and grade them on quality,
        speed and cost. Returns the comparison table as text plus run_id, report_html and the
        ranking (best first). Sends progress notifications as trials finish."""
        from bakeoff.api import bake
        from bakeoff.evals.run.request import BakeoffRequest
        from bakeoff.evals.store.store import Store

        tasks, prompts = task_fields(prompt_or_task, session.roots, session.workspaces)
        store = Store()
        try:
            request = BakeoffRequest(
                models=models,
                judges=[judge] if judge else [],
                repeats=repeats,
                tasks=tasks,
                prompts=prompts,
            )
            outcome = await with_progress(
                ctx,
                lambda on_progress: bake(
                    request, store=store, config=session.config, on_progress=on_progress
                ),
            )
        except BakeoffError as exc:
            raise _user_error(exc) from exc
        except Exception as exc:  # the SDK would hide the cause; say it and keep serving
            log.exception("run_bakeoff failed")
            raise ToolError(redact(f"run_bakeoff failed: {type(exc).__name__}: {exc}")) from exc
        finally:
            store.close()
        return redact_model(_bakeoff_result(outcome, judged=bool(judge)))


def _not_logged(message: str) -> None:
    """A nano agent's call that the agent log could not keep: a warning on stderr, never a
    failed call."""
    log.warning("prompt_nano_agent call not logged: %s", message)


def _bakeoff_result(outcome: Any, *, judged: bool) -> CallToolResult:
    from bakeoff.report.terminal import make_console, print_summary

    buffer = io.StringIO()
    # A private console: the shared one writes to stdout, which in stdio mode is not ours.
    print_summary(outcome.summary, make_console(file=buffer, width=140, color_system=None))
    lines = [buffer.getvalue().rstrip(), "", f"run id: {outcome.run_id}"]
    # Absolute: the client may not share the server's working directory.
    report = None if outcome.report_html is None else Path(outcome.report_html).resolve()
    if report is not None:
        lines.append(f"HTML report: {report}")
    if not judged and all(r.check is None for r in outcome.rows):
        lines.append(
            "note: no check and no judge graded these runs; pass judge=MODEL to grade them"
        )
    data = {
        "run_id": outcome.run_id,
        "report_html": None if report is None else str(report),
        **outcome.summary.public(),
    }
    return CallToolResult(
        content=[
            TextContent(type="text", text="\n".join(lines)),
            TextContent(type="text", text=json.dumps(data, indent=2)),
        ],
        structured_content=data,
    )


def _log_to_stderr() -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.WARNING)


def serve(
    roots: Sequence[Path | str] = (),
    config: BakeoffConfig | None = None,
    *,
    http: HttpOptions | None = None,
    token_from: str | None = None,
    agent_log: Path | None = None,
) -> None:
    """Run the server until its client goes away (stdio) or until interrupted (HTTP, guarded as
    `bakeoff.mcp_http` describes; `token_from` None prints the token, just made). Nano-agent
    calls are logged in the results store at `agent_log` (None: not logged)."""
    _log_to_stderr()  # before the SDK's basicConfig, so every record goes to stderr
    server = build_server(roots, config, agent_log=agent_log)
    if http is None:
        server.run("stdio")
        return
    serve_http(server, http, token_from=token_from)
