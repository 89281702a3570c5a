"""`bakeoff agent`: one nano agent on a prompt in a workspace, as a thin shell over
`bakeoff.api.run_agent_once` — the flags made an `AgentConfig`, progress turn by turn on
stderr, the result printed (or the `agent --json` object), the run kept in the agent log."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from bakeoff.cli_common import emit_json, example_parser
from bakeoff.errors import UserError


def _agent_workspace(given: str | None) -> Path:
    """The folder `bakeoff agent` works in: the one given, else a new temporary folder (kept,
    since the user wants the files), whose path goes to stderr."""
    if given is not None:
        return Path(given)
    made = Path(tempfile.mkdtemp(prefix="bakeoff-agent-"))
    print(f"workspace: {made} (new; --workspace . works in the current folder)", file=sys.stderr)
    return made


def refuse_unpriced_cap(model: str, config: Any) -> None:
    """`agent --max-cost` counts only known prices: a model without one would run uncapped,
    so it is refused (UserError) unless the user passes --allow-unpriced."""
    from bakeoff.models.model_id import ModelId

    if ModelId.parse(model, config).price is None:
        raise UserError(
            f"--max-cost cannot cap {model}: no price is known for it, so its spend cannot be "
            f'counted. Set one under [prices."ID"] in the config, or pass --allow-unpriced to '
            "run it with its spend counted as $0"
        )


def _agent_config(args: argparse.Namespace, config: Any) -> Any:
    from bakeoff.agent import AgentConfig
    from bakeoff.cli_flags import sandbox_options

    return AgentConfig(
        max_turns=args.max_turns,
        timeout_s=args.timeout,
        max_cost_usd=args.max_cost,
        max_output_tokens=args.max_output_tokens,
        read_only=args.read_only,
        protected=config.protected,
        **sandbox_options(args),
    )


def _warn(message: str) -> None:
    print(f"warning: {message}; --no-log skips the log", file=sys.stderr)


def cmd_agent(args: argparse.Namespace) -> int:
    from bakeoff.api import run_agent_once
    from bakeoff.config import load_config
    from bakeoff.evals.store.agent_log import logging_disabled
    from bakeoff.evals.store.store import default_store_path
    from bakeoff.models.model_id import ModelId
    from bakeoff.models.registry import resolve_model
    from bakeoff.report.progress import AgentProgress
    from bakeoff.report.terminal import print_agent_result

    config = load_config(args.config)
    if args.max_cost is not None and not args.allow_unpriced:
        refuse_unpriced_cap(args.model, config)
    agent = _agent_config(args, config)
    model_id = ModelId.parse(args.model, config)
    model = resolve_model(model_id)
    workspace = _agent_workspace(args.workspace)
    log_to = None if logging_disabled(args.no_log) else args.store or default_store_path()

    async def go() -> Any:
        try:
            progress = None if args.quiet else AgentProgress(sys.stderr)
            return await run_agent_once(
                args.prompt, model, workspace, agent, model_name=model_id.shown,
                source="agent", log_to=log_to, on_turn=progress, warn=_warn,
            )  # fmt: skip
        finally:
            await model.aclose()

    result = asyncio.run(go())
    if args.transcript:
        Path(args.transcript).write_text(result.model_dump_json(indent=2), encoding="utf-8")
    if args.json:
        emit_json(result.to_public())
    else:
        print_agent_result(result)
    return 0 if result.ok else 1


def add_agent_command(sub: Any) -> None:
    from bakeoff.cli_flags import add_limit_flags, add_sandbox_flags, usd

    p = example_parser(
        sub,
        "agent",
        "run one nano agent on a prompt in a workspace",
        "examples:\n"
        '  bakeoff agent "Create hello.py that prints hello" --model local\n'
        '  bakeoff agent "Fix the failing test" --model haiku --workspace . --allow-commands\n'
        '  bakeoff agent "Summarise app.py" --model gpt-5-mini -w src --read-only --json',
    )
    p.add_argument("prompt", help="the task for the agent")
    p.add_argument(
        "--model",
        "-m",
        required=True,
        help="model id (provider:model) or alias; see `bakeoff models`",
    )
    p.add_argument(
        "--workspace",
        "-w",
        default=None,
        help="directory the agent works in (default: a new temporary folder, kept and printed "
        "to stderr; pass --workspace . for the current folder)",
    )
    add_limit_flags(p, per="")
    p.add_argument(
        "--max-cost",
        type=usd,
        default=None,
        help="stop once this many USD are spent (refused for a model of unknown price, unless "
        "--allow-unpriced)",
    )
    p.add_argument(
        "--allow-unpriced",
        action="store_true",
        help="with --max-cost, run a model of unknown price anyway, its spend counted as $0",
    )
    p.add_argument(
        "--allow-commands", action="store_true", help="offer the run_command tool (sandboxed)"
    )
    add_sandbox_flags(p)
    p.add_argument("--read-only", action="store_true", help="offer only the read tools")
    _add_agent_output_flags(p)
    p.set_defaults(handler=cmd_agent)


def _add_agent_output_flags(p: argparse.ArgumentParser) -> None:
    """What `bakeoff agent` prints and keeps."""
    p.add_argument(
        "--transcript",
        default=None,
        help="write the full record (transcript, timings) to this JSON file",
    )
    p.add_argument(
        "--json", action="store_true", help="print one JSON object (the agent --json contract)"
    )
    p.add_argument(
        "--quiet", "-q", action="store_true", help="print no turn-by-turn progress on stderr"
    )
    p.add_argument(
        "--no-log",
        action="store_true",
        help="keep no record of this run in the agent log (`bakeoff logs`; $BAKEOFF_NO_LOG=1 "
        "for every run)",
    )
    p.add_argument(
        "--store", type=Path, help="results database the run is logged in (default "
        ".bakeoff/results.sqlite)",
    )  # fmt: skip
