"""The flags that several commands share, with one meaning each: the agent's limits
(`--max-turns`, `--timeout`, `--max-output-tokens`), whose defaults and help come from
`AgentConfig`, and the sandbox flags that decide how contestant code runs; the `type=`
functions that check every value while the arguments are parsed (a finite number in range, a
whole count in range, a plain run id, a run label, a fixture folder of bounded size); and
`Parser`, whose refusals are one line."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

_UNSET = object()

MAX_TIMEOUT_S = 7 * 24 * 3600.0
"""The longest wall-clock limit a flag may set: a week (past it, it is a typo)."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose refusals are one line on stderr (exit status 2): the error and
    where the help is, without the usage block that would bury it."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        sys.exit(2)


def seconds(text: str) -> float:
    """argparse type: a finite number of seconds above 0, at most `MAX_TIMEOUT_S`."""
    value = _number(text)
    if not 0 < value <= MAX_TIMEOUT_S:  # NaN fails this too
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time limit: give seconds above 0, at most {MAX_TIMEOUT_S:g}"
        )
    return value


def usd(text: str) -> float:
    """argparse type: a finite amount of US dollars above 0."""
    value = _number(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount: give USD above 0 (e.g. 2.5)")
    return value


def count(low: int, high: int) -> Callable[[str], int]:
    """argparse type: a whole number from `low` to `high`."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{text[:40]!r} is not a whole number from {low} to {high}"
            )
        return value

    parse.__name__ = "count"  # argparse names the type in some messages
    return parse


def run_id(text: str) -> str:
    """argparse type of a new run's id: a plain name (`store.check_run_id`)."""
    from bakeoff.errors import UserError
    from bakeoff.evals.store.store import check_run_id

    try:
        return check_run_id(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run_ref(text: str) -> str:
    """argparse type of a stored run: `latest`, or a plain run id."""
    return text if text == "latest" else run_id(text)


def label(text: str) -> tuple[str, str]:
    """argparse type of `--label KEY=VALUE` (rules: `bakeoff.labels`)."""
    from bakeoff.labels import parse_label

    try:
        return parse_label(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def fixture_folder(text: str) -> Path:
    """argparse type of `--files`: a folder of bounded size holding only files, folders and
    links (`user_files.measure_folder`); /proc, devices and FIFOs are refused."""
    from bakeoff.errors import UserError
    from bakeoff.user_files import measure_folder

    path = Path(text).expanduser()
    try:
        measure_folder(path, what="")
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return path


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


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
        if self.default is None:  # `run`: bakeoff.toml's [defaults] may set it (cli_config)
            from bakeoff.agent import AgentConfig

            builtin = AgentConfig.model_fields[self.field].default
            shown = f"(default: [defaults] in bakeoff.toml, else {builtin:g})"
        else:
            shown = f"(default {self.default:g})"
        return f"{self._help} {shown}".replace("%", "%%")

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
        type=count(1, 100_000),
        action=AgentDefault,
        field="max_turns",
        help=f"model requests allowed{scope}",
    )
    p.add_argument(
        "--timeout",
        type=seconds,
        action=AgentDefault,
        field="timeout_s",
        help=f"wall-clock limit{scope} in seconds",
    )
    p.add_argument(
        "--max-output-tokens",
        type=count(1, 10_000_000),
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
