"""The `bakeoff` command: argument parsing and terminal output over the library API. No logic of
its own: every subcommand calls one library function and prints what comes back. Every
subcommand's `--help` ends with examples; `bakeoff completion bash|zsh` prints a completion
script. Exit statuses are `ExitStatus` (stated in `--help` as `EXIT_STATUS_HELP`): user mistakes
exit with 2 and one line that says what to do; a missed `--fail-under`, a failed agent run or
doctor check exit with 1; a run with nothing graded exits with 3; a reader that goes away
(`bakeoff runs | head`) ends the command quietly."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bakeoff import __version__
from bakeoff.cli_common import EXIT_STATUS_HELP, ExitStatus, emit_json, example_parser
from bakeoff.cli_flags import Parser
from bakeoff.errors import BakeoffError, UserError
from bakeoff.redact import redact

__all__ = ["EXIT_STATUS_HELP", "ExitStatus", "build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]


def cmd_models(args: argparse.Namespace) -> int:
    from bakeoff.config import load_config
    from bakeoff.models.registry import list_models
    from bakeoff.report.terminal import print_models

    infos = list_models(load_config(args.config))
    if args.json:
        emit_json([i.model_dump() for i in infos])
    else:
        print_models(infos)
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    from bakeoff.config import load_config
    from bakeoff.evals.store.agent_log import logging_disabled
    from bakeoff.evals.store.store import default_store_path
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
    from bakeoff.evals.trial.task import builtin_task_names

    sys.stdout.write(completion_script(build_parser(), args.shell, task_names=builtin_task_names()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The `bakeoff` parser: each subcommand registered by its own `add_*_command`."""
    from bakeoff.cli_agent import add_agent_command
    from bakeoff.cli_apply import add_apply_command
    from bakeoff.cli_config import add_config_commands
    from bakeoff.cli_doctor import add_doctor_command
    from bakeoff.cli_logs import add_logs_command
    from bakeoff.cli_route import add_route_command
    from bakeoff.cli_run import add_commands

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
    for add in (
        add_agent_command,
        add_models_command,
        add_commands,  # run, demo, report, runs, compare, view, tasks
        add_route_command,
        add_mcp_command,
        add_init_command,
        add_config_commands,
        add_apply_command,
        add_logs_command,
        add_doctor_command,
        add_completion_command,
    ):
        add(sub)
    return parser


def add_models_command(sub: Any) -> None:
    p = example_parser(
        sub,
        "models",
        "list known models, aliases, prices and whether each is usable now",
        "examples:\n  bakeoff models\n  bakeoff models --json | jq '.[] | select(.usable)'",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_models)


def add_mcp_command(sub: Any) -> None:
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


def add_init_command(sub: Any) -> None:
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


def add_completion_command(sub: Any) -> None:
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
