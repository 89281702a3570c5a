"""`bakeoff tasks list|validate|from-git`: list or validate task folders (default: the built-in
suite), or make them from a repository's history as a thin shell over `bakeoff.evals.trial.from_git`
— one line per commit as it is read, then what was written and every commit left out with its
reason."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bakeoff.cli_common import emit_json, example_parser


def cmd_tasks(args: argparse.Namespace) -> int:
    from bakeoff.evals.trial.checks import validate_tasks
    from bakeoff.evals.trial.task import load_tasks

    if args.action == "from-git":
        return cmd_from_git(args)
    tasks = load_tasks(args.paths)
    if args.action == "list":
        if args.json:
            emit_json([{**t.model_dump(exclude={"path"}), "path": str(t.path)} for t in tasks])
            return 0
        for t in tasks:
            graded = "+".join(k for k in ("check", "judge") if getattr(t, k) is not None)
            tags = f" [{', '.join(t.tags)}]" if t.tags else ""
            print(f"{t.name:<28} {t.category:<12} difficulty {t.difficulty}  {graded}{tags}")
        return 0
    results = validate_tasks(tasks)
    bad = [r for r in results if not r.ok]
    for r in results:
        print(f"{'ok  ' if r.ok else 'FAIL'} {r.task}: {r.message}")
    print(f"{len(results) - len(bad)} of {len(results)} tasks valid")
    return 1 if bad else 0


def add_tasks_command(sub: Any) -> None:
    p = example_parser(
        sub,
        "tasks",
        "list or validate task folders (default: the built-in suite), or make them from git",
        "examples:\n  bakeoff tasks list\n  bakeoff tasks validate ./my-tasks\n"
        "  bakeoff tasks from-git . HEAD~30..HEAD --out ./my-tasks   tasks from your own commits",
    )
    p.add_argument("action", choices=["list", "validate", "from-git"])
    p.add_argument(
        "paths", nargs="*", help="task folders; for from-git: REPO [REV|RANGE] (default HEAD)"
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", default="tasks", help="from-git: where to write the task folders")
    p.add_argument(
        "--limit", type=int, default=50, help="from-git: at most this many commits (newest first)"
    )
    p.add_argument(
        "--test-command",
        help="from-git: the test command, the changed test files appended (default: pytest)",
    )
    p.set_defaults(handler=cmd_tasks)


def cmd_from_git(args: argparse.Namespace) -> int:
    from bakeoff.errors import UserError
    from bakeoff.evals.trial.from_git import tasks_from_git

    if not args.paths or len(args.paths) > 2:
        raise UserError("usage: bakeoff tasks from-git REPO [REV|RANGE] [--out DIR]")
    repo = Path(args.paths[0])
    rev = args.paths[1] if len(args.paths) == 2 else "HEAD"
    out = Path(args.out)
    harvest = tasks_from_git(
        repo,
        rev,
        out,
        limit=args.limit,
        test_command=args.test_command,
        on_commit=lambda sha, subject: print(f"reading {sha[:12]} {subject[:70]}", file=sys.stderr),
    )
    for folder in harvest.written:
        print(f"task  {folder}")
    for s in harvest.skipped:
        print(f"skip  {s.sha} {s.subject[:50]!r}: {s.reason}")
    print(
        f"{len(harvest.written)} tasks written to {out}, {len(harvest.skipped)} commits skipped"
        + (f"; run them: bakeoff run {out} --models ..." if harvest.written else "")
    )
    return 0
