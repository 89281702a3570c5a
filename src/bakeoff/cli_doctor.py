"""The `bakeoff doctor` subcommand: runs `bakeoff.doctor.diagnose` and prints one line per
check as it finishes (or `--json`); exits 1 when a required check failed."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bakeoff.cli_common import EXIT_STATUS_HELP, ExitStatus, example_parser

if TYPE_CHECKING:  # the checks (and what they import) load only when doctor runs
    from bakeoff.doctor import Finding, Status

MARKS: dict[Status, str] = {"ok": "✔", "failed": "✘", "warning": "!", "skipped": "–"}
ASCII_MARKS: dict[Status, str] = {"ok": "ok", "failed": "FAIL", "warning": "warn", "skipped": "-"}


def render(finding: Finding, *, ascii_only: bool = False) -> str:
    """One line: mark, what was checked, what was found, and `→ fix` when there is one."""
    if ascii_only:  # a terminal whose encoding has no ✔ (LANG=C on an old system)
        mark, arrow = f"{ASCII_MARKS[finding.status]:<4}", "->"
    else:
        mark, arrow = MARKS[finding.status], "→"
    # One line per check, whatever a server's message holds (a crash report's log lines).
    said = " ".join(finding.detail.split())
    if finding.fix:
        said += f" {arrow} " + " ".join(finding.fix.split())
    return f"{mark} {finding.subject:<26} {said}"


def cmd_doctor(args: argparse.Namespace) -> int:
    from bakeoff.config import load_config
    from bakeoff.doctor import CHECK_NAMES, diagnose

    config = load_config(args.config)
    checks = [c for c in args.only or CHECK_NAMES if c not in (args.skip or ())]
    models = [m.strip() for m in (args.models or "").split(",") if m.strip()] or None
    try:
        "✔✘–→".encode(sys.stdout.encoding or "ascii")
        ascii_only = False
    except (UnicodeEncodeError, LookupError):
        ascii_only = True

    def show(finding: Finding) -> None:
        if not args.json:
            print(render(finding, ascii_only=ascii_only), flush=True)

    if "local" in checks and not args.json:
        print("checking (loading the embedded model takes a while)...", file=sys.stderr)
    findings = asyncio.run(
        diagnose(
            config,
            checks=checks,
            models=models,
            store_path=args.store,
            timeout_s=args.timeout,
            on_finding=show,
        )
    )
    blocking = [f.subject for f in findings if f.blocking]
    if args.json:
        doc = {"ok": not blocking, "checks": [f.public() for f in findings]}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    elif blocking:
        print(f"not ready: {', '.join(blocking)} failed (fixes above)", file=sys.stderr)
    elif not findings:
        print("nothing to check: --only, --skip and --models left no check", file=sys.stderr)
    return ExitStatus.FAILED if blocking else ExitStatus.OK


def _check_names(text: str) -> list[str]:
    """argparse type of doctor's --only and --skip: known check names, comma-separated."""
    from bakeoff.doctor import CHECK_NAMES

    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in CHECK_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown check {', '.join(unknown) or repr(text)}: choose from {', '.join(CHECK_NAMES)}"
        )
    return names


def _seconds(text: str) -> float:
    """argparse type of a timeout: a finite number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def add_doctor_command(sub: Any) -> None:
    """Register doctor on the main parser's subparsers."""
    p = example_parser(
        sub,
        "doctor",
        "check this machine can run bake-offs: sandbox, embedded model, providers, store",
        "checks: sandbox (bubblewrap runs Python), local (the embedded model loads and "
        "generates),\n  providers (one one-token request to each with a key set or a server "
        "here), store,\n  chromium (optional). Exit 1 when a required check fails.\n\n"
        "examples:\n  bakeoff doctor\n  bakeoff doctor --skip local                  the quick "
        "checks only\n  bakeoff doctor --models haiku,local          these models only\n"
        "  bakeoff doctor --json | jq '.checks[] | select(.blocking)'\n\n" + EXIT_STATUS_HELP,
    )
    p.add_argument(
        "--only", type=_check_names, metavar="CHECKS", help="run only these (comma-separated)"
    )
    p.add_argument("--skip", type=_check_names, metavar="CHECKS", help="leave these out")
    p.add_argument(
        "--models",
        help="check these model ids or aliases instead of one model per usable provider and "
        "the embedded model",
    )
    p.add_argument(
        "--store",
        type=Path,
        metavar="FILE",
        help="results database (default .bakeoff/results.sqlite)",
    )
    p.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="seconds each check may take (default 30; the embedded model 600)",
    )
    p.add_argument("--json", action="store_true", help="print {ok, checks: [...]} as JSON")
    p.set_defaults(handler=cmd_doctor)
