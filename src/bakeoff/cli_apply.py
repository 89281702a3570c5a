"""`bakeoff apply`: keep the winner's work. A thin shell over `bakeoff.evals.run.apply_target`: choose
the trial, plan its changes against the folder, print the summary, refuse (exit 2, one line)
on a conflict or an unsafe file, else write."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bakeoff.errors import UserError

EXAMPLES = """examples:
  bakeoff apply                          the winner's work of the latest run, into its --files folder
  bakeoff apply latest --to ./out        into ./out (a new or empty folder gets the task's files first)
  bakeoff apply RUN_ID --model haiku --task fix-duration --to ~/proj
  bakeoff apply --force                  write over files changed since the run"""


def cmd_apply(args: argparse.Namespace) -> int:
    from bakeoff.api import resolve_run_id
    from bakeoff.config import load_config
    from bakeoff.evals.run.apply_target import choose_trial, plan_apply, seed_folder, write_plan
    from bakeoff.evals.run.selection import files_origin
    from bakeoff.evals.store.store import Store

    config = load_config(args.config)
    store = Store(args.store)
    run_id = resolve_run_id(store, args.run)
    chosen = choose_trial(
        store, run_id, model=args.model, task=args.task, repeat=args.repeat, config=config
    )
    row = chosen.row
    target = args.to or files_origin(chosen.task_path)
    if target is None:
        raise UserError(
            f"--to DIR is required: task {row.task} of run {run_id} was not run on a --files "
            "folder, so there is no folder of yours to write to"
        )
    changes = store.trial_changes(run_id, row.task, row.model, row.repeat)
    print(
        f"run {run_id}: {chosen.model_name} on {row.task}, repeat {row.repeat} ({chosen.outcome})"
        f" -> {target}"
    )
    if not changes.files:
        print("nothing to apply: the trial changed no file (or ran before bakeoff kept changes)")
        return 0
    seeded = seed_folder(Path(target), chosen.task_path / "files")
    if seeded:
        print(f"{target} was empty: copied the task's fixture ({_files(seeded)}) into it first")
    plan = plan_apply(changes, Path(target), config.protected)
    for line in summary_lines(plan):
        print(line)
    if plan.refused and not args.skip_refused:
        raise UserError(
            "refused, nothing written: "
            + "; ".join(f"{f.shown}: {f.refused}" for f in plan.refused)
            + " (--skip-refused writes the rest)"
        )
    if plan.conflicts and not args.force:
        raise UserError(
            f"{target} changed since the run ({_files(len(plan.conflicts))}), nothing written: "
            + "; ".join(f"{f.shown} ({f.conflict})" for f in plan.conflicts)
            + " (--force writes over them)"
        )
    written = write_plan(plan, force=args.force)
    done = sum(f.done for f in plan.files)
    print(
        f"wrote {_files(len(written))} into {target}"
        + (f" ({done} already as the trial left them)" if done else "")
    )
    return 0


def summary_lines(plan: Any) -> list[str]:
    """One line a file (what happens to it, +/- lines, why not), then the totals."""
    width = min(48, max(len(f.shown) for f in plan.files))
    lines, plus, minus = [], 0, 0
    counts = {"added": 0, "changed": 0, "deleted": 0}
    for f in plan.files:
        counts[f.change.kind] += 1
        if f.added is None or f.removed is None:
            size = f"{len(f.change.content)} bytes" if f.change.content is not None else ""
            stat = "binary " + size if size else ""
        else:
            plus, minus = plus + f.added, minus + f.removed
            stat = f"+{f.added} -{f.removed}"
        note = (
            f"  REFUSED: {f.refused}"
            if f.refused
            else f"  CONFLICT: {f.conflict}"
            if f.conflict
            else "  (already applied)"
            if f.done
            else ""
        )
        lines.append(f"  {f.change.kind:<8} {f.shown:<{width}}  {stat}{note}")
    parts = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    lines.append(f"{_files(len(plan.files))}: {parts} (+{plus} -{minus} lines)")
    return lines


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def add_apply_command(sub: Any) -> None:
    """Register `bakeoff apply` on the main parser's subparsers."""
    from bakeoff.cli_common import EXIT_STATUS_HELP, example_parser
    from bakeoff.cli_flags import count, run_ref

    p = example_parser(
        sub,
        "apply",
        "write one trial's changes (default: the winner's best) into a folder",
        f"{EXAMPLES}\n\n{EXIT_STATUS_HELP}",
    )
    p.add_argument(
        "run", nargs="?", default="latest", type=run_ref, metavar="RUN", help="run id or latest"
    )
    p.add_argument("--model", help="whose work (default: the top-ranked model)")
    p.add_argument("--task", help="which task (needed when the run has several)")
    p.add_argument(
        "--repeat",
        type=count(0, 9_999),
        help="which repeat, from 0 as `report --json` numbers them (default: the best one)",
    )
    p.add_argument(
        "--to",
        type=Path,
        metavar="DIR",
        help="the folder to write into (default: the --files folder of a prompt run)",
    )
    p.add_argument("--force", action="store_true", help="write over files changed since the run")
    p.add_argument(
        "--skip-refused",
        action="store_true",
        help="write the rest when some files are refused (protected, unsafe or not kept)",
    )
    p.add_argument("--store", type=Path, help="results database (default .bakeoff/results.sqlite)")
    p.set_defaults(handler=cmd_apply)
