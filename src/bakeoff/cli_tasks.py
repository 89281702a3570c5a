"""`bakeoff tasks from-git REPO [REV|RANGE]`: task folders from a repository's history, as a thin
shell over `bakeoff.evals.from_git` — one line per commit as it is read, then what was written
and every commit left out with its reason."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_from_git(args: argparse.Namespace) -> int:
    from bakeoff.errors import UserError
    from bakeoff.evals.from_git import tasks_from_git

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
