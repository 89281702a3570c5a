"""The Python API both shells call: the CLI (`bakeoff run`, `bakeoff demo`, `bakeoff agent`)
and the MCP server (`run_bakeoff`, `prompt_nano_agent`) parse what they are given into a
`BakeoffRequest` or an `AgentConfig`, call `bake` or `run_agent_once`, and print what comes
back. A bake-off is settled here (`latest` made a run id, a new run named), run by
`evals.run.runner.run_bakeoff` and its HTML report written beside the store; an agent's run is
logged in the agent log (`bakeoff logs`) unless logging is off."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bakeoff.agent import AgentConfig, run_agent
from bakeoff.config import BakeoffConfig
from bakeoff.errors import BakeoffError
from bakeoff.evals.observer import Observer
from bakeoff.evals.run.request import BakeoffRequest, resolve_run_id
from bakeoff.evals.run.runner import new_run_id, run_bakeoff
from bakeoff.evals.store.agent_log import LogSource
from bakeoff.evals.store.store import Store
from bakeoff.evals.verdict.outcomes import BakeoffOutcome
from bakeoff.models.base import Model
from bakeoff.types import AgentResult

__all__ = [
    "AgentConfig",
    "BakeoffOutcome",
    "BakeoffRequest",
    "Observer",
    "bake",
    "resolve_run_id",
    "run_agent_once",
    "settle",
]


def settle(request: BakeoffRequest, store: Store) -> BakeoffRequest:
    """`request` with `latest` made the newest stored run's id and a new run named (a
    timestamp unless `run_id` is given), so a shell knows the run id before it runs (the
    resume hint on Ctrl-C)."""
    update: dict[str, str] = {}
    for field in ("resume", "retry_errors"):
        given = getattr(request, field)
        if given is not None:
            update[field] = resolve_run_id(store, given)
    if request.continues is None and request.run_id is None:
        update["run_id"] = new_run_id()
    return request.model_copy(update=update) if update else request


def run_id_of(request: BakeoffRequest) -> str:
    """The id of the run a settled `request` makes or continues."""
    run_id = request.continues or request.run_id
    if run_id is None:
        raise ValueError("settle(request, store) first: the request names no run yet")
    return run_id


async def bake(
    request: BakeoffRequest,
    *,
    store: Store,
    config: BakeoffConfig,
    observer: Observer | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> BakeoffOutcome:
    """Run the bake-off `request` asks for in `store` and return its graded outcome, its
    HTML report written in the reports folder beside the store (`outcome.report_html`). A
    read-only store is refused before anything runs."""
    from bakeoff.report.html import default_report_dir, write_run_report

    store.require_writable()  # one line now, not after the first trial
    settled = settle(request, store)
    outcome = await run_bakeoff(
        settled, store=store, config=config, observer=observer, on_progress=on_progress
    )
    write_run_report(outcome, default_report_dir(store.path))
    return outcome


async def run_agent_once(
    prompt: str,
    model: Model,
    workspace: Path,
    agent: AgentConfig,
    *,
    model_name: str,
    source: LogSource,
    log_to: Path | None,
    on_turn: Callable[[AgentResult], Any] | None = None,
    warn: Callable[[str], None],
) -> AgentResult:
    """One nano agent's run on `prompt` in `workspace`, secrets redacted from its result and
    the model named `model_name` (as every report names it); kept in the agent log at
    `log_to` (None: not logged) as coming from `source` ("agent", "mcp"). A log that cannot be
    written is told to `warn` in one line and never fails the run. `model` stays open."""
    import asyncio
    import time

    from bakeoff.evals.store.agent_log import AgentLogEntry, log_run
    from bakeoff.redact import redact, redact_model

    started_at = time.time()
    result = await run_agent(prompt, model, workspace, agent, on_turn=on_turn)
    result = redact_model(result).model_copy(update={"model": model_name})
    if log_to is not None:
        entry = AgentLogEntry(
            started_at=started_at, source=source, prompt=prompt, model=model_name,
            workspace=str(workspace.absolute()), result=result,
        )  # fmt: skip
        try:
            await asyncio.to_thread(log_run, log_to, entry)
        except BakeoffError as exc:
            warn(f"this run was not logged ({redact(str(exc))})")
    return result
