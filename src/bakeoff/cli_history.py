"""The past-runs subcommands of the `bakeoff` CLI — report, runs, compare, view — as thin
shells over `bakeoff.evals` (and `bakeoff.viewer`). `latest` stands for the newest stored run
wherever a run id goes."""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from bakeoff.cli_common import EXIT_STATUS_HELP, ExitStatus, emit_json, example_parser
from bakeoff.errors import UserError

if TYPE_CHECKING:
    from bakeoff.evals.store.summary_records import BakeoffSummary


def quality_threshold(text: str) -> float:
    """argparse type of `--fail-under`: a quality from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:  # NaN fails this too
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a quality: give a number between 0 and 1 (e.g. 0.8)"
        )
    return value


def add_fail_under(p: argparse.ArgumentParser) -> None:
    """`--fail-under Q` (run, demo, report): the CI gate."""
    p.add_argument(
        "--fail-under",
        type=quality_threshold,
        metavar="Q",
        help="exit 1 when a ranked model's quality (0-1) is below Q, naming each on stderr; "
        "the table still prints (a CI gate)",
    )


def exit_status(summary: BakeoffSummary, fail_under: float | None) -> int:
    """The exit status a graded run ends the command with (`cli_common.ExitStatus`): 3 when
    nothing could be graded (no model has a valid trial), 1 when a ranked model's quality is
    below `fail_under` or was not measured, else 0. Says why on stderr."""
    if not summary.ranking:
        errored = any(u.errors for u in summary.unranked)
        what = "every trial was an infrastructure error" if errored else "no trial ran"
        why = "; ".join(f"{u.model}: {u.reason}" for u in summary.unranked)
        retry = f" Fix that, then: bakeoff run --retry-errors {summary.run_id}" if errored else ""
        print(
            f"error: nothing could be graded, {what}" + (f" ({why})." if why else ".") + retry,
            file=sys.stderr,
        )
        return ExitStatus.UNGRADED
    if fail_under is None:
        return ExitStatus.OK
    below = [
        f"{m.model} ({m.quality.value:.2f})"
        for m in summary.ranking
        if m.quality.value is not None and m.quality.value < fail_under
    ]
    # A gate must not pass on what it could not measure.
    unmeasured = [f"{m.model} (not measured)" for m in summary.ranking if m.quality.value is None]
    if not below and not unmeasured:
        return ExitStatus.OK
    hint = "; a task's [check] or --judge ID measures quality" if unmeasured else ""
    print(
        f"error: quality below --fail-under {fail_under:g}: {', '.join(below + unmeasured)}{hint}",
        file=sys.stderr,
    )
    return ExitStatus.FAILED


def cmd_report(args: argparse.Namespace) -> int:
    from bakeoff.api import resolve_run_id
    from bakeoff.evals.run.runner import build_outcome
    from bakeoff.evals.store.store import Store
    from bakeoff.report.export import records_public, write_csv, write_json, write_jsonl
    from bakeoff.report.export_inspect import inspect_format, write_inspect
    from bakeoff.report.html import default_report_dir, write_outcome_html, write_run_report
    from bakeoff.report.terminal import console, print_summary

    if args.inspect:
        inspect_format(Path(args.inspect))  # a wrong suffix is refused before any work
    store = Store(args.store)
    outcome = build_outcome(store, resolve_run_id(store, args.run_id))
    html = _report_beside(store, outcome, write_run_report, default_report_dir, args.html)
    if args.html:
        html = write_outcome_html(outcome, Path(args.html))
    # Full records are streamed from the store, never all held at once.
    if args.csv:
        write_csv(outcome.iter_records(), Path(args.csv))
    if args.export_json:
        write_json(outcome.summary, outcome.iter_records(), Path(args.export_json))
    if args.jsonl:
        write_jsonl(outcome.iter_records(), Path(args.jsonl))
    if args.inspect:
        for path in write_inspect(outcome.summary, outcome.iter_records(), Path(args.inspect)):
            print(f"Inspect log: {path}", file=sys.stderr)
    if args.json:
        emit_json(
            {
                "run_id": outcome.run_id,
                "report_html": str(html),
                **outcome.summary.public(),
                "records": records_public(outcome.iter_records()),
            }
        )
    else:
        print_summary(outcome.summary)
        console.print(f"\nReport: {html}", markup=False)
    return exit_status(outcome.summary, args.fail_under)


def _report_beside(
    store: Any, outcome: Any, write: Any, report_dir: Any, elsewhere: str | None
) -> Path | None:
    """The run's HTML report in the reports folder beside the store. A folder that cannot be
    written (a read-only store) is skipped when the report goes `elsewhere` (--html), else one
    line saying to pass --html."""
    folder = report_dir(store.path)
    try:
        return Path(write(outcome, folder))
    except OSError as exc:
        if elsewhere:
            return None
        raise UserError(
            f"cannot write the report in {folder} ({exc.strerror}): pass --html FILE to write it "
            "elsewhere"
        ) from None


def cmd_runs(args: argparse.Namespace) -> int:
    import time

    from bakeoff.evals.store.records import RunStatus
    from bakeoff.evals.store.store import Store

    statuses = get_args(RunStatus)
    if args.status is not None and args.status not in statuses:
        raise UserError(f"--status {args.status[:40]!r}: give one of {', '.join(statuses)}")
    store = Store(args.store)
    labels = dict(args.label or [])
    filtered = labels or any(f is not None for f in (args.status, args.since, args.model))
    runs = store.list_runs(  # what can be read; a damaged part is None and said once
        status=args.status, since=args.since, model=args.model, labels=labels
    )
    damaged = [r for r in runs if "damaged" in r]
    if damaged:
        print(
            f"warning: the results store {store.path} is damaged in places ({damaged[0]['damaged']}"
            f"); {len(damaged)} of {len(runs)} runs are listed in part: move it aside to start "
            "a new one, or pass --store PATH",
            file=sys.stderr,
        )
    if args.json:
        emit_json(runs)
        return 0
    for r in runs:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(r["created_at"])))  # type: ignore[arg-type]
        if r["planned"] is None:
            print(f"{r['run_id']}  {when}  {r['status']:<14} unreadable (damaged in the store)")
            continue
        done = "?" if r["done"] is None else r["done"]
        tags = "".join(f"  {k}={v}" for k, v in r["labels"].items())  # type: ignore[attr-defined]
        print(
            f"{r['run_id']}  {when}  {r['status']:<14} {done}/{r['planned']} trials  "
            f"{r['tasks']} tasks  {', '.join(r['models'])}{tags}"  # type: ignore[arg-type]
        )
    if not runs and filtered:
        print("no run matches these filters (`bakeoff runs` lists every run)")
    elif not runs:
        print('no runs yet: try `bakeoff run "Create hello.py that prints hello" --models local`')
    return 0


def local_day(text: str) -> float:
    """argparse type of `runs --since`: a date, YYYY-MM-DD, as the timestamp of its first
    second in local time (the time `bakeoff runs` shows)."""
    import time

    try:
        return time.mktime(time.strptime(text, "%Y-%m-%d"))
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} is not a date: give YYYY-MM-DD (e.g. 2026-11-29)"
        ) from None


def cmd_compare(args: argparse.Namespace) -> int:
    from bakeoff.api import resolve_run_id
    from bakeoff.evals.run.runner import build_outcome
    from bakeoff.evals.store.store import Store
    from bakeoff.evals.verdict.run_compare import changes_public, compare_runs
    from bakeoff.report.side_by_side import print_run_changes

    store = Store(args.store)
    run_a, run_b = (resolve_run_id(store, r) for r in (args.run_a, args.run_b))
    a, b = build_outcome(store, run_a), build_outcome(store, run_b)
    changes = compare_runs((a.summary, a.rows), (b.summary, b.rows))
    if args.json:
        emit_json(changes_public(run_a, run_b, changes))
    else:
        print_run_changes(run_a, run_b, changes)
    return 0


def cmd_view(args: argparse.Namespace) -> int:
    from bakeoff.evals.store.store import default_store_path
    from bakeoff.viewer import serve

    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port}: give a port from 1 to 65535, or 0 for any free one")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a viewer is stopped
        serve(args.store or default_store_path(), args.port)
    return 0


def add_history_commands(sub: Any) -> None:
    """Register report, runs, compare and view on the main parser's subparsers."""
    add_report_command(sub)
    add_runs_command(sub)
    add_compare_command(sub)
    add_view_command(sub)


def add_report_command(sub: Any) -> None:
    from bakeoff.cli_flags import run_ref

    p = example_parser(
        sub,
        "report",
        "grade a stored run again and write its reports",
        "examples:\n  bakeoff report latest\n  bakeoff report latest --json | jq '.records[]'\n"
        "  bakeoff report 20261129-120000-ab12 --html report.html --csv trials.csv\n"
        "  bakeoff report latest --jsonl trials.jsonl --inspect logs/run.eval\n"
        "  bakeoff report latest --fail-under 0.8         exit 1 if a model is below 0.8\n\n"
        + EXIT_STATUS_HELP,
    )
    p.add_argument(
        "run_id", metavar="RUN_ID", type=run_ref, help="a run id from `bakeoff runs`, or latest"
    )
    p.add_argument("--store", type=Path)
    p.add_argument("--html", help="write the HTML report to this file")
    p.add_argument("--csv", help="export every trial as CSV")
    p.add_argument("--export-json", help="export summary and every record as JSON")
    p.add_argument("--jsonl", metavar="FILE", help="export every trial's record as JSON lines")
    p.add_argument(
        "--inspect",
        metavar="FILE.eval",
        help="export as Inspect eval logs (.eval or .json), one per model, for `inspect view`",
    )
    p.add_argument("--json", action="store_true", help="print ranking and records as JSON")
    add_fail_under(p)
    p.set_defaults(handler=cmd_report)


def add_runs_command(sub: Any) -> None:
    from bakeoff.cli_flags import label

    p = example_parser(
        sub,
        "runs",
        "list stored runs, newest first",
        "examples:\n  bakeoff runs\n  bakeoff runs | head -3\n  bakeoff runs --json\n"
        "  bakeoff runs --label team=infra --model haiku --since 2026-11-01 --status finished",
    )
    p.add_argument("--store", type=Path)
    p.add_argument(
        "--label",
        action="append",
        type=label,
        metavar="KEY=VALUE",
        help="only runs with this label and value (repeatable: every one must match)",
    )
    p.add_argument("--model", help="only runs with a model whose id or name contains this")
    p.add_argument(
        "--since", type=local_day, metavar="YYYY-MM-DD", help="only runs started that day or later"
    )
    p.add_argument(
        "--status",
        help="only runs in this state: running, interrupted, budget_stopped, incomplete or "
        "finished",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_runs)


def add_compare_command(sub: Any) -> None:
    from bakeoff.cli_flags import run_ref

    p = example_parser(
        sub,
        "compare",
        "each model's change between two runs, and whether it is more than noise",
        "examples:\n  bakeoff compare 20261128-090000-ab12 latest\n"
        "  bakeoff compare RUN_A RUN_B --json",
    )
    p.add_argument(
        "run_a", metavar="RUN_A", type=run_ref, help="the earlier run (an id, or latest)"
    )
    p.add_argument("run_b", metavar="RUN_B", type=run_ref, help="the later run (an id, or latest)")
    p.add_argument("--store", type=Path)
    p.add_argument("--json", action="store_true", help="print the changes as JSON")
    p.set_defaults(handler=cmd_compare)


def add_view_command(sub: Any) -> None:
    p = example_parser(
        sub,
        "view",
        "browse every stored run in a local, read-only web viewer",
        "examples:\n  bakeoff view                 prints http://127.0.0.1:PORT/?token=... to open\n"
        "  bakeoff view --port 8765 --store .bakeoff/results.sqlite",
    )
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    p.add_argument("--store", type=Path)
    p.set_defaults(handler=cmd_view)
