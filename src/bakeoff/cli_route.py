"""`bakeoff route "PROMPT"`: the model to send a task to, from the evidence of stored runs — a
thin shell over `bakeoff.evals.verdict.route` (which the MCP tool `route_task` calls too)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def cmd_route(args: argparse.Namespace) -> int:
    from bakeoff.evals.store.store import Store
    from bakeoff.evals.verdict.route import route

    answer = route(
        Store(args.store),
        args.prompt,
        category=args.category,
        min_quality=args.min_quality,
        by=args.by,
    )
    if args.json:
        sys.stdout.write(json.dumps(answer.public(), indent=2) + "\n")
        return 0
    where = answer.category or "all categories"
    guessed = " (read from the prompt)" if answer.category_guessed and answer.category else ""
    print(f"Category: {where}{guessed}")
    print(f"Route to: {answer.model}" if answer.model else "Route to: no model (see why)")
    print(f"Why: {answer.reason}")
    if answer.evidence:
        print("Evidence (quality with its 95% interval, over stored runs):")
        for e in answer.evidence:
            print(f"  {e.line()}")
    if answer.model:
        print(f'Next: bakeoff agent "{args.prompt[:60]}" --model {answer.model}')
    return 0


def add_route_command(sub: Any) -> None:
    from bakeoff.cli_common import example_parser
    from bakeoff.cli_history import quality_threshold

    p = example_parser(
        sub,
        "route",
        "which model should take this task: the cheapest (or fastest) that clears the bar",
        'examples:\n  bakeoff route "Fix the off-by-one in pagination"\n'
        '  bakeoff route "Add a CSV export" --category feature --min-quality 0.9 --by speed\n'
        '  bakeoff route "..." --json',
    )
    p.add_argument("prompt", metavar="PROMPT")
    p.add_argument("--category", help="the task's category (default: read from the prompt)")
    p.add_argument(
        "--min-quality",
        type=quality_threshold,
        default=0.8,
        metavar="Q",
        help="the bar, 0-1 (default 0.8): the interval's low end must clear it",
    )
    p.add_argument("--by", choices=["cost", "speed"], default="cost")
    p.add_argument("--store", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_route)
