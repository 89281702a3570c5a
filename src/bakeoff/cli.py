"""The `bakeoff` command: argument parsing and terminal output over the library API. No logic of
its own: every subcommand calls one library function and prints what comes back. Every
subcommand's `--help` ends with examples; `bakeoff completion bash|zsh` prints a completion
script. Exit statuses are `ExitStatus` (stated in `--help` as `EXIT_STATUS_HELP`): user mistakes
exit with 2 and one line that says what to do; a missed `--fail-under`, a failed agent run or
doctor check exit with 1; a run with nothing graded exits with 3; a reader that goes away
(`bakeoff runs | head`) ends the command quietly."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from enum import IntEnum
from pathlib import Path
from typing import Any

from bakeoff import __version__
from bakeoff.cli_flags import Parser, add_limit_flags, add_sandbox_flags, sandbox_options, usd
from bakeoff.errors import BakeoffError, UserError
from bakeoff.redact import redact, redact_model

Handler = Callable[[argparse.Namespace], int]


class ExitStatus(IntEnum):
    """How every `bakeoff` command ends; CI scripts rely on these (DESIGN.md)."""

    OK = 0
    FAILED = 1
    """A `--fail-under` threshold missed; also a failed agent run (`agent`), an invalid task
    (`tasks validate`), a required check failed (`doctor`), or a run that broke off."""
    USAGE = 2
    """Bad usage or input: a flag, a model id, a task or config file, a run id."""
    UNGRADED = 3
    """Nothing could be graded: every trial of the run was an infrastructure error."""
    INTERRUPTED = 130
    """Ctrl-C or SIGTERM."""


EXIT_STATUS_HELP = """\
exit status: 0 ok; 1 a --fail-under threshold missed (agent: the run failed; tasks validate:
  a task is invalid; doctor: a required check failed); 2 bad usage or input; 3 nothing could
  be graded (every trial an infrastructure error; the table still prints); 130 interrupted"""


def _emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


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
    from bakeoff.evals.scheduler import unpriced_models
    from bakeoff.models.registry import resolve_model_id

    if unpriced_models([resolve_model_id(model, config)], config):
        raise UserError(
            f"--max-cost cannot cap {model}: no price is known for it, so its spend cannot be "
            f'counted. Set one under [prices."ID"] in the config, or pass --allow-unpriced to '
            "run it with its spend counted as $0"
        )


def _log_agent_run(args: argparse.Namespace, entry: Any) -> None:
    """Keep the run in the agent log (`bakeoff logs`); a log that cannot be written is said
    in one line on stderr and never fails the run."""
    from bakeoff.evals.agent_log import log_run
    from bakeoff.evals.store import default_store_path

    try:
        log_run(args.store or default_store_path(), entry)
    except BakeoffError as exc:
        print(f"warning: this run was not logged ({redact(str(exc))}); --no-log skips the log",
              file=sys.stderr)  # fmt: skip


def cmd_agent(args: argparse.Namespace) -> int:
    from bakeoff.agent import AgentConfig, run_agent
    from bakeoff.config import load_config
    from bakeoff.evals.agent_log import AgentLogEntry, logging_disabled
    from bakeoff.evals.model_names import display_name
    from bakeoff.models.registry import resolve_model
    from bakeoff.report.progress import AgentProgress
    from bakeoff.report.terminal import print_agent_result

    config = load_config(args.config)
    if args.max_cost is not None and not args.allow_unpriced:
        refuse_unpriced_cap(args.model, config)
    model = resolve_model(args.model, config)
    agent_config = AgentConfig(
        max_turns=args.max_turns,
        timeout_s=args.timeout,
        max_cost_usd=args.max_cost,
        max_output_tokens=args.max_output_tokens,
        read_only=args.read_only,
        protected=config.protected,
        **sandbox_options(args),
    )

    workspace = _agent_workspace(args.workspace)
    started_at = time.time()

    async def go() -> Any:
        try:
            progress = None if args.quiet else AgentProgress(sys.stderr)
            return await run_agent(args.prompt, model, workspace, agent_config, on_turn=progress)
        finally:
            await model.aclose()

    result = redact_model(asyncio.run(go()))
    result = result.model_copy(update={"model": display_name(args.model)})
    if not logging_disabled(args.no_log):
        _log_agent_run(args, AgentLogEntry(
            started_at=started_at, source="agent", prompt=args.prompt, model=result.model,
            workspace=str(workspace.absolute()), result=result,
        ))  # fmt: skip
    if args.transcript:
        Path(args.transcript).write_text(result.model_dump_json(indent=2), encoding="utf-8")
    if args.json:
        _emit_json(result.to_public())
    else:
        print_agent_result(result)
    return 0 if result.ok else 1


def cmd_models(args: argparse.Namespace) -> int:
    from bakeoff.config import load_config
    from bakeoff.models.registry import list_models
    from bakeoff.report.terminal import print_models

    infos = list_models(load_config(args.config))
    if args.json:
        _emit_json([i.model_dump() for i in infos])
    else:
        print_models(infos)
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    from bakeoff.config import load_config
    from bakeoff.evals.agent_log import logging_disabled
    from bakeoff.evals.store import default_store_path
    from bakeoff.mcp_http import HttpOptions, bearer_token, parse_http_address
    from bakeoff.mcp_server import serve
    from bakeoff.redact import register_secret_env

    http, token_from = None, None
    if args.http is not None:
        host, port = parse_http_address(args.http, allow_remote=args.allow_remote)
        token, token_from = bearer_token(args.token_env)
        if args.token_env:
            register_secret_env(args.token_env)
        http = HttpOptions(host, port, token, tuple(args.allow_host))
    elif args.allow_remote or args.token_env or args.allow_host:
        raise UserError("--allow-remote, --token-env and --allow-host apply to --http only")
    log = None if logging_disabled(args.no_log) else default_store_path()
    # Nothing may be printed to stdout here: in stdio mode it is the protocol channel.
    serve(args.root, load_config(args.config), http=http, token_from=token_from, agent_log=log)
    return 0


INIT_MODELS = "gpt-5-mini,sonnet-4,haiku,local"
"""The sub-agents `bakeoff init claude` writes when --models is not given."""


def cmd_init(args: argparse.Namespace) -> int:
    from bakeoff.claude_init import init_claude, next_steps
    from bakeoff.cli_config import cmd_init_config
    from bakeoff.config import load_config

    if args.target == "config":
        return cmd_init_config(args)
    models = [m.strip() for m in (args.models or INIT_MODELS).split(",") if m.strip()]
    config = load_config(args.config)
    result = init_claude(models, args.dir, force=args.force, config=config, http=args.http)
    for path in result.written:
        print(f"wrote {path}")
    if not result.written:
        print("everything was already in place; nothing written")
    if result.kept_servers:
        print(f"kept the other servers in {result.mcp_json}: {', '.join(result.kept_servers)}")
    print(next_steps(result, config))
    return 0


def cmd_completion(args: argparse.Namespace) -> int:
    from bakeoff.cli_completion import completion_script
    from bakeoff.evals.task import builtin_task_names

    sys.stdout.write(completion_script(build_parser(), args.shell, task_names=builtin_task_names()))
    return 0


def example_parser(sub: Any, name: str, help_text: str, examples: str) -> argparse.ArgumentParser:
    """A subcommand whose `--help` ends with `examples` as written."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(  # one-line refusals, and so are its subcommands'
        prog="bakeoff",
        description="Run one agentic coding task on many LLMs at once; grade quality, speed and cost.",
        epilog="""examples:
  bakeoff run "Create hello.py that prints hello" --models gpt-5-mini,haiku,local
  bakeoff run --models gpt-5-mini,local          the built-in task suite
  bakeoff agent "Add a README" --model local     one nano agent
  bakeoff runs; bakeoff report latest; bakeoff compare RUN_A latest
  bakeoff doctor                                 is this machine ready? (sandbox, models, store)
  eval "$(bakeoff completion bash)"              tab completion

"""
        + EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"bakeoff {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="config file (default: $BAKEOFF_CONFIG, ./bakeoff.toml, ~/.config/bakeoff/config.toml)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    p.set_defaults(handler=cmd_agent)

    p = example_parser(
        sub,
        "models",
        "list known models, aliases, prices and whether each is usable now",
        "examples:\n  bakeoff models\n  bakeoff models --json | jq '.[] | select(.usable)'",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_models)

    from bakeoff.cli_route import add_route_command
    from bakeoff.cli_run import add_commands

    add_commands(sub)
    add_route_command(sub)

    p = example_parser(
        sub,
        "mcp",
        "serve the nano agent and bake-offs over MCP (stdio by default)",
        "examples:\n  bakeoff mcp\n  bakeoff mcp --http 127.0.0.1:8765\n"
        "  bakeoff mcp --http 0.0.0.0:8765 --allow-remote --token-env BAKEOFF_TOKEN",
    )
    p.add_argument(
        "--http",
        metavar="HOST:PORT",
        default=None,
        help="serve streamable HTTP at http://HOST:PORT/mcp instead of stdio (e.g. "
        "127.0.0.1:8765); every request needs 'Authorization: Bearer TOKEN'",
    )
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow --http on a non-loopback address (every request carries "
        "'Authorization: Bearer TOKEN' either way)",
    )
    p.add_argument(
        "--token-env",
        metavar="VAR",
        default=None,
        help="read the bearer token clients must send from $VAR (at least 16 characters) "
        "instead of ~/.config/bakeoff/mcp-token, made and printed on first use",
    )
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also accept HTTP requests addressed to NAME (Host/Origin headers), e.g. this "
        "machine's DNS name for --allow-remote; repeatable",
    )
    p.add_argument(
        "--root",
        action="append",
        default=[],
        metavar="DIR",
        help="directory workspaces and task folders must lie in; repeatable (default: the current directory)",
    )
    p.add_argument(
        "--no-log",
        action="store_true",
        help="keep no record of prompt_nano_agent calls in the agent log (`bakeoff logs`; "
        "$BAKEOFF_NO_LOG=1 does the same)",
    )
    p.set_defaults(handler=cmd_mcp)

    p = example_parser(
        sub,
        "init",
        "wire bakeoff into a project for a coding assistant, or write a bakeoff.toml",
        "examples:\n  bakeoff init claude\n  bakeoff init claude --models haiku,local --dir ~/proj\n"
        "  bakeoff init config --models haiku,local     a commented bakeoff.toml",
    )
    p.add_argument(
        "target",
        choices=["claude", "config"],
        help="claude: .mcp.json, .claude/agents/nano-agent-*.md and the /bakeoff command; "
        "config: a commented bakeoff.toml ([defaults] of `bakeoff run`, providers, aliases)",
    )
    p.add_argument(
        "--models",
        help=f"comma-separated models: claude: one sub-agent each (default: {INIT_MODELS}); "
        "config: the [defaults] models (default: left commented out)",
    )
    p.add_argument("--dir", default=".", help="project directory to write into (default: .)")
    p.add_argument(
        "--force",
        action="store_true",
        help="overwrite existing sub-agent and command files (config: an existing bakeoff.toml)",
    )
    p.add_argument(
        "--http",
        metavar="HOST:PORT",
        default=None,
        help="register a `bakeoff mcp --http HOST:PORT` server (loopback) instead of stdio; "
        "Claude Code sends its token from $BAKEOFF_MCP_TOKEN",
    )
    p.set_defaults(handler=cmd_init)

    from bakeoff.cli_apply import add_apply_command
    from bakeoff.cli_config import add_config_commands

    add_config_commands(sub)
    add_apply_command(sub)

    from bakeoff.cli_doctor import add_doctor_command
    from bakeoff.cli_logs import add_logs_command

    add_logs_command(sub)

    add_doctor_command(sub)

    p = example_parser(
        sub,
        "completion",
        "print a shell completion script",
        "examples:\n"
        '  eval "$(bakeoff completion bash)"            in ~/.bashrc\n'
        '  eval "$(bakeoff completion zsh)"             in ~/.zshrc',
    )
    p.add_argument("shell", choices=["bash", "zsh"])
    p.set_defaults(handler=cmd_completion)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    # `kill`, a CI timeout, systemd: stop as on Ctrl-C, so the run is marked interrupted and
    # every model (an embedded llama.cpp server too) is closed on the way out.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        code = handler(args)
        sys.stdout.flush()  # here, where a reader that left is caught, not at exit
        return code
    except UserError as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return ExitStatus.USAGE
    except BakeoffError as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return ExitStatus.FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:
        # The reader left (`bakeoff runs | head`): stop quietly. stdout is pointed at devnull
        # so the interpreter's own flush at exit does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
