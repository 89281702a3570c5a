"""`bakeoff logs`: the agent log (`bakeoff.evals.store.agent_log`) read like `llm logs` — every
`bakeoff agent` run and MCP `prompt_nano_agent` call, newest first, one line each; `bakeoff
logs ID` shows one in full (prompt, answer, transcript, usage, cost, outcome). Everything in it
is model output or the user's prompt: printed as plain text, never read as rich markup."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.text import Text

from bakeoff.errors import UserError


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def cmd_logs(args: argparse.Namespace) -> int:
    from bakeoff.evals.store.agent_log import AgentLog
    from bakeoff.evals.store.store import default_store_path
    from bakeoff.report.terminal import console
    from bakeoff.report.text import fmt_cost

    path = args.store or default_store_path()
    if not Path(path).exists():  # reading must not leave a new store behind
        if args.id is not None:
            raise UserError(f"no agent run #{args.id}: nothing is logged in {path} yet")
        if args.json:
            sys.stdout.write("[]\n")
            return 0
        print(f'no agent runs logged in {path} yet: try `bakeoff agent "hi" --model local`')
        return 0
    with AgentLog(path) as log:
        if args.id is not None:
            entry = log.get(args.id)
            if entry is None:
                raise UserError(f"no agent run #{args.id} in {path} (`bakeoff logs` lists them)")
            if args.json:
                out = {**entry.public(), "transcript": [
                    m.model_dump(mode="json") for m in entry.result.transcript
                ]}  # fmt: skip
                sys.stdout.write(json.dumps(out, indent=2, default=str) + "\n")
            else:
                _print_entry(entry, console, fmt_cost)
            return 0
        rows = log.recent(None if args.count == 0 else args.count, model=args.model)
    if args.json:
        sys.stdout.write(json.dumps([r.model_dump() for r in rows], indent=2) + "\n")
        return 0
    if not rows:
        which = f" of {args.model}" if args.model else ""
        print(f"no agent runs{which} logged in {path}")
        return 0
    for r in rows:
        state = "ok" if r.ok else r.stop_reason
        line = Text(f"#{r.id}  {_when(r.started_at)}  ")
        line.append(r.model, style="bold")
        line.append(f"  {state}", style="green" if r.ok else "yellow")
        line.append(f"  {r.duration_s:.1f} s  {fmt_cost(r.cost_usd)}  [{r.source}]  ")
        line.append(_one_line(r.prompt, 60))
        console.print(line, overflow="ellipsis", no_wrap=True)
    return 0


def _print_entry(entry: Any, console: Any, fmt_cost: Any) -> None:
    """One logged run in full: its facts, the prompt, then every message of the transcript."""
    from bakeoff.report.tokens import usage_text

    r = entry.result
    state = "ok" if r.ok else r.stop_reason
    head = Text(f"#{entry.id}  {_when(entry.started_at)}  ", style="bold")
    head.append(entry.model)
    head.append(f"  {state}  [{entry.source}]")
    console.print(head)
    console.print(Text(f"workspace: {entry.workspace}"))
    console.print(
        Text(
            f"turns {r.turns} · tool calls {r.tool_calls} · {usage_text(r.usage)} · "
            f"cost {fmt_cost(r.cost_usd)} · {r.duration_s:.2f} s"
        )
    )
    if r.error:
        console.print(Text.assemble(("error: ", "red"), r.error))
    console.print(Text("\nprompt", style="bold"))
    console.print(Text(entry.prompt))
    for m in r.transcript[2:] if len(r.transcript) > 2 else []:  # after the system and prompt
        label = m.role if m.role != "tool" else f"tool {m.name or ''}".strip()
        console.print(Text(f"\n{label}" + (" (error)" if m.is_error else ""), style="bold"))
        if m.content:
            console.print(Text(m.content))
        for call in m.tool_calls:
            args = json.dumps(call.arguments, ensure_ascii=False)
            console.print(Text(f"→ {call.name}({_one_line(args, 400)})", style="cyan"))
    console.print(Text("\nanswer", style="bold"))
    console.print(Text(r.answer or "(no answer)"))


def entry_id(text: str) -> int:
    """argparse type of `logs ID`: a logged run's number."""
    value = text.removeprefix("#")
    if not value.isdigit() or len(value) > 18:
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} is not a logged run's number: give one from `bakeoff logs` (e.g. 12)"
        )
    return int(value)


def add_logs_command(sub: Any) -> None:
    """Register `bakeoff logs` on the main parser's subparsers."""
    from bakeoff.cli_common import example_parser
    from bakeoff.cli_flags import count

    p = example_parser(
        sub,
        "logs",
        "list logged agent runs and MCP calls, newest first, or show one in full",
        "examples:\n  bakeoff logs                   the 20 newest\n"
        "  bakeoff logs -n 0 --model haiku   every run of one model\n"
        "  bakeoff logs 12                one run: prompt, transcript, usage, cost\n"
        "  bakeoff logs 12 --json | jq .transcript",
    )
    p.add_argument("id", nargs="?", type=entry_id, metavar="ID", help="show this run in full")
    p.add_argument(
        "-n", "--count", type=count(0, 10**9), default=20, help="how many (default 20; 0: all)"
    )
    p.add_argument("--model", "-m", help="only runs of this model (as it was named)")
    p.add_argument("--store", type=Path, help="results database (default .bakeoff/results.sqlite)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_logs)
