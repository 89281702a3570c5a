"""The flags that several commands share, with one meaning each: the agent's limits
(`--max-turns`, `--timeout`, `--max-output-tokens`), whose defaults and help come from
`AgentConfig`, and the sandbox flags that decide how contestant code runs."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

_UNSET = object()


class AgentDefault(argparse.Action):
    """`store` for a flag that sets an `AgentConfig` field: unless a subcommand sets its own
    (`set_defaults`), its default is `AgentConfig`'s, and its help names that default. Both are
    read from `AgentConfig` only when needed (parsing that subcommand, or its --help), so the
    agent is imported by the commands that run it and by no other."""

    def __init__(
        self, option_strings: Sequence[str], dest: str, *, field: str, **kwargs: Any
    ) -> None:
        self.field = field
        self._default: Any = None
        self._help = ""
        super().__init__(option_strings, dest, **kwargs)
        self._default = _UNSET  # what Action.__init__ stored was no choice of the caller

    @property
    def default(self) -> Any:
        if self._default is _UNSET:
            from bakeoff.agent import AgentConfig

            return AgentConfig.model_fields[self.field].default
        return self._default

    @default.setter
    def default(self, value: Any) -> None:
        self._default = value

    @property
    def help(self) -> str:
        return f"{self._help} (default {self.default:g})".replace("%", "%%")

    @help.setter
    def help(self, value: str | None) -> None:
        self._help = value or ""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)


def add_limit_flags(p: argparse.ArgumentParser, *, per: str) -> None:
    """--max-turns, --timeout and --max-output-tokens, defaults from `AgentConfig`; `per`
    says what each limit applies to in the help ("per trial")."""
    scope = f" {per}" if per else ""
    p.add_argument(
        "--max-turns",
        type=int,
        action=AgentDefault,
        field="max_turns",
        help=f"model requests allowed{scope}",
    )
    p.add_argument(
        "--timeout",
        type=float,
        action=AgentDefault,
        field="timeout_s",
        help=f"wall-clock limit{scope} in seconds",
    )
    p.add_argument(
        "--max-output-tokens",
        type=int,
        action=AgentDefault,
        field="max_output_tokens",
        help="output-token cap per request",
    )


def add_sandbox_flags(p: argparse.ArgumentParser) -> None:
    """The flags that decide how contestant code runs (shared by agent and run)."""
    p.add_argument(
        "--allow-network",
        action="store_true",
        help="give run_command and the checks the network (off: the sandbox has none)",
    )
    p.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="where bubblewrap cannot run, run contestant commands anyway, UNSANDBOXED: they "
        "can read your files and keys; every report marks such runs",
    )


def sandbox_options(args: argparse.Namespace) -> dict[str, Any]:
    """AgentConfig fields from the sandbox flags; --allow-commands without a sandbox (and
    without --unsafe-no-sandbox) is refused here, before anything runs."""
    from bakeoff.errors import ConfigError
    from bakeoff.sandbox import sandbox_status

    status = sandbox_status()
    if args.allow_commands and not status.available and not args.unsafe_no_sandbox:
        raise ConfigError(
            f"--allow-commands needs the sandbox, and it cannot run here: {status.reason}. "
            "Install bubblewrap, or pass --unsafe-no-sandbox to run contestant commands "
            "unsandboxed (they can then read your files and keys)."
        )
    return {
        "allow_commands": args.allow_commands,
        "allow_network": args.allow_network,
        "unsafe_no_sandbox": args.unsafe_no_sandbox,
    }
