"""What every `bakeoff` subcommand module shares, so none imports another to get it: how a
command ends (`ExitStatus`, stated in `--help` as `EXIT_STATUS_HELP`), a subcommand parser whose
`--help` ends with examples (`example_parser`), JSON on stdout (`emit_json`) and comma-separated
flag values (`split`). It imports no other CLI module: the CLI's imports form a tree with
`cli.py` at the top."""

from __future__ import annotations

import argparse
import json
import sys
from enum import IntEnum
from typing import Any


class ExitStatus(IntEnum):
    """How every `bakeoff` command ends; CI scripts rely on these (README: "In CI")."""

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


def emit_json(obj: Any) -> None:
    """`obj` as indented JSON on stdout (anything JSON lacks written as its str)."""
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def split(value: str | None) -> list[str]:
    """A comma-separated flag value as its non-empty, stripped items."""
    return [v.strip() for v in (value or "").split(",") if v.strip()]
