"""The bake-off subcommands of the `bakeoff` CLI — run and demo (report, runs and compare are in
`cli_history`, tasks in `cli_tasks`) — as thin shells over `bakeoff.api`: parse the flags into a
`BakeoffRequest`, call `bake`, print. `latest` stands for the newest stored run wherever a run
id goes. Ctrl-C stops a run cleanly and prints the exact command that resumes it."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from bakeoff.cli_common import EXIT_STATUS_HELP, emit_json, example_parser, split
from bakeoff.errors import UserError


def _agent_config(args: argparse.Namespace, config: Any) -> Any:
    """The contestants' `AgentConfig`: the flags, and the config's `[protected]` table."""
    from bakeoff.agent import AgentConfig
    from bakeoff.cli_flags import sandbox_options

    return AgentConfig(
        max_turns=args.max_turns,
        timeout_s=args.timeout,
        max_output_tokens=args.max_output_tokens,
        protected=config.protected,
        **sandbox_options(args),
    )


def _request(
    args: argparse.Namespace, models: list[str], targets: list[str], quick: bool, config: Any
) -> Any:
    """The `BakeoffRequest` the flags ask for (validated here, before the store is opened)."""
    from bakeoff.evals.run.request import BakeoffRequest

    continuing = bool(args.resume or args.retry_errors)
    return BakeoffRequest(
        models=models, tasks=targets, files=args.files, quick=quick,
        task_patterns=split(args.task_patterns), category=args.category,
        judges=split(args.judge), repeats=args.repeats, pairwise=args.pairwise,
        judge_sees_checks=args.judge_sees_checks, run_id=args.run_id, resume=args.resume,
        retry_errors=args.retry_errors, preflight=not args.no_preflight,
        max_cost_usd=args.max_cost, allow_unpriced=args.allow_unpriced,
        max_parallel=args.max_parallel, executor=args.executor, ray_address=args.ray_address,
        tags={} if continuing else args.tags, until_decided=_until_decided(args),
        agent=_agent_config(args, config),
    )  # fmt: skip


def _run(
    args: argparse.Namespace, models: list[str] | None, targets: list[str], quick: bool
) -> int:
    """The bake-off `run` and `demo` share; `models` None means run's --models, else the
    `[defaults]` models (`cli_config.standing_settings`, as for every standing flag)."""
    from bakeoff.api import bake, run_id_of, settle
    from bakeoff.cli_config import apply_defaults
    from bakeoff.config import load_config
    from bakeoff.evals.store.store import Store
    from bakeoff.report.progress import progress_observer

    config = load_config(args.config)
    args = apply_defaults(args, config)
    if (args.resume or args.retry_errors) and args.label:
        raise UserError("--label labels a new run: a resumed run keeps the labels it began with")
    if models is None:
        models = split(args.models)
        if not models and not args.resume and not args.retry_errors:
            raise UserError(
                "--models is required (e.g. --models gpt-5-mini,haiku,local; or set `models` "
                "under [defaults] in bakeoff.toml: `bakeoff init config`), or --resume RUN_ID, "
                "or --retry-errors RUN_ID"
            )
    if args.dry_run:  # before the store is opened: a dry run makes and reaches nothing
        return _dry_run(args, models, targets, quick, config)
    request = _request(args, models, targets, quick, config)
    store = Store(args.store)
    store.require_writable()  # a read-only store: one line now, not after the first trial
    request = settle(request, store)
    observer = progress_observer()
    try:
        with observer:
            outcome = asyncio.run(bake(request, store=store, config=config, observer=observer))
    except KeyboardInterrupt:
        run_id = run_id_of(request)
        print(
            f"\nInterrupted. {len(store.done_keys(run_id))} finished trials are saved in "
            f"{store.path}.\nResume with: bakeoff run --resume {run_id}"
            + (f" --store {args.store}" if args.store else ""),
            file=sys.stderr,
        )
        return 130
    return _print_outcome(args, outcome)


def _print_outcome(args: argparse.Namespace, outcome: Any) -> int:
    """The finished run on stdout (the --json contract, or the tables), and its exit status."""
    from bakeoff.cli_history import exit_status
    from bakeoff.report.html import write_outcome_html
    from bakeoff.report.side_by_side import print_answers
    from bakeoff.report.terminal import console, print_summary, print_trials

    html = outcome.report_html
    if args.html:
        html = write_outcome_html(outcome, Path(args.html))
    if args.json:
        emit_json({"run_id": outcome.run_id, "report_html": str(html), **outcome.summary.public()})
    else:
        if args.show_runs:
            print_trials(outcome.records)
        adhoc = {r.task for r in outcome.rows if r.category == "ad-hoc"}
        if adhoc:  # only prompt tasks are shown side by side: read just their records
            print_answers(list(outcome.iter_records(tasks=adhoc)))
        print_summary(outcome.summary)
        console.print(f"\nReport: {html}\nRun id: {outcome.run_id}", markup=False)
    return exit_status(outcome.summary, args.fail_under)


def _dry_run(
    args: argparse.Namespace, models: list[str], targets: list[str], quick: bool, config: Any
) -> int:
    from bakeoff.evals.run.estimate import dry_run
    from bakeoff.evals.store.store import default_store_path

    if args.resume or args.retry_errors:
        raise UserError("--dry-run plans a new run: `bakeoff report RUN` shows a stored one")
    lines = dry_run(
        targets,
        models,
        judges=split(args.judge),
        repeats=args.repeats,
        patterns=split(args.task_patterns),
        category=args.category,
        files=args.files,
        quick=quick,
        store_path=args.store or default_store_path(),
        config=config,
    )
    print("\n".join(lines))
    return 0


def _until_decided(args: argparse.Namespace) -> Any:
    """`--until-decided [--max-repeats N] [--min-gap G]` as the spec's `UntilDecided`."""
    from bakeoff.evals.store.records import UntilDecided

    if not getattr(args, "until_decided", False):
        return None
    return UntilDecided(max_repeats=args.max_repeats, min_gap=args.min_gap)


def _gap(text: str) -> float:
    """argparse type: a quality gap, more than 0 and at most 1."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a gap from 0 (excluded) to 1")
    return value


def cmd_run(args: argparse.Namespace) -> int:
    return _run(args, None, args.targets, args.quick)


def demo_models(requested: list[str]) -> list[str]:
    """The requested models plus gpt-5-mini, haiku or gemini-2.5-flash for each key that is set."""
    extra = {
        "OPENAI_API_KEY": "gpt-5-mini",
        "ANTHROPIC_API_KEY": "haiku",
        "GEMINI_API_KEY": "gemini-2.5-flash",
    }
    models = list(requested)
    models += [m for key, m in extra.items() if os.environ.get(key) and m not in models]
    return models


def cmd_demo(args: argparse.Namespace) -> int:
    models = demo_models(split(args.models) or ["local"])
    print(f"bakeoff demo: quick built-in tasks on {', '.join(models)}", file=sys.stderr)
    return _run(args, models, [], quick=True)


RUN_EXAMPLES = """examples:
  bakeoff run "Create hello.py that prints hello" --models gpt-5-mini,haiku,local
  bakeoff run "Add type hints to utils.py" --files ./src --models sonnet-4,local --judge gpt-5
  bakeoff run --models gpt-5-mini,local                  the built-in task suite
  bakeoff run fix-duration add-numbers --models haiku    built-in tasks by name
  bakeoff run ./my-tasks --tasks 'fix-*' --models haiku  task folders, chosen by name
  bakeoff run --category bugfix --models haiku,local --repeats 3
  bakeoff run --resume latest                            finish an interrupted run
  bakeoff run --retry-errors latest                      rerun only the errored trials
  bakeoff run ./ci --models haiku --fail-under 0.8       a CI gate: exit 1 below 0.8"""


def add_commands(sub: Any) -> None:
    """Register run, demo, report, runs, compare and tasks on the main parser's subparsers."""
    from bakeoff.cli_history import add_history_commands
    from bakeoff.cli_tasks import add_tasks_command

    add_run_command(sub)
    add_demo_command(sub)
    add_history_commands(sub)
    add_tasks_command(sub)


def add_run_command(sub: Any) -> None:
    help_text = "the bake-off: tasks × models × repeats, graded and reported"
    p = example_parser(sub, "run", help_text, f"{RUN_EXAMPLES}\n\n{EXIT_STATUS_HELP}")
    _add_task_flags(p)
    _add_until_decided_flags(p)
    _add_bakeoff_flags(p)
    p.set_defaults(handler=cmd_run, timeout=None)  # timeout absent: [defaults], else AgentConfig's


def add_demo_command(sub: Any) -> None:
    examples = "examples:\n  bakeoff demo\n  bakeoff demo --models local,script:careful.json"
    p = example_parser(
        sub,
        "demo",
        "a quick bake-off on the embedded model (+ cloud models whose keys are set)",
        f"{examples}\n\n{EXIT_STATUS_HELP}",
    )
    p.add_argument("--models", default="local", help="comma-separated models (default: local)")
    _add_bakeoff_flags(p)
    # The default 1.5B model writes ~9 tokens/s on 2 busy CPU cores (BENCHMARKS.md §6): tighter
    # limits keep the demo to minutes even when it rambles.
    p.set_defaults(handler=cmd_demo, max_output_tokens=400, timeout=60.0, show_runs=True)
    p.set_defaults(resume=None, retry_errors=None, targets=[], task_patterns=None)
    p.set_defaults(category=None, files=None)


def _add_task_flags(p: argparse.ArgumentParser) -> None:
    """`run`'s choice of tasks and models, and of a stored run to continue."""
    from bakeoff.cli_flags import fixture_folder, run_ref

    p.add_argument(
        "targets",
        nargs="*",
        metavar="TASK_OR_PROMPT",
        help="a task folder, a folder of tasks, a built-in task's name, or a prompt in "
        "quotes (an ad-hoc task; default: the built-in suite)",
    )
    p.add_argument(
        "--models",
        help="comma-separated model ids or aliases (default: [defaults] models in bakeoff.toml)",
    )
    p.add_argument(
        "--files",
        type=fixture_folder,
        metavar="DIR",
        help="for a prompt: the folder every model starts from (a fresh copy each)",
    )
    p.add_argument(
        "--tasks",
        dest="task_patterns",
        metavar="PATTERN",
        help="only tasks whose name matches (shell glob; comma-separated for several)",
    )
    p.add_argument("--category", help="only tasks of this category (`bakeoff tasks list`)")
    p.add_argument("--quick", action="store_true", help="only tasks tagged 'quick'")
    p.add_argument(
        "--resume",
        type=run_ref,
        metavar="RUN_ID",
        help="finish an interrupted run (or `latest`): its missing and errored trials",
    )
    p.add_argument(
        "--retry-errors",
        type=run_ref,
        metavar="RUN_ID",
        help="rerun only the trials of RUN_ID (or `latest`) that ended in an error (auth, "
        "unreachable, 5xx...), replacing their records, and print the table again",
    )


def _add_until_decided_flags(p: argparse.ArgumentParser) -> None:
    from bakeoff.cli_flags import count

    p.add_argument(
        "--until-decided",
        action="store_true",
        help="after the planned repeats, add one repeat at a time to the models of "
        "undecided pairs until every pair is decided (beats, or no difference of "
        "--min-gap) or --max-repeats or --max-cost is reached; the sequential test "
        "keeps false 'beats' at 5%% over all looks (README: Until decided)",
    )
    p.add_argument(
        "--max-repeats",
        type=count(1, 100),
        default=5,
        metavar="N",
        help="with --until-decided: extra repeats at most (default 5)",
    )
    p.add_argument(
        "--min-gap",
        type=_gap,
        default=0.1,
        metavar="G",
        help="with --until-decided: quality gaps below G count as no difference (default 0.1)",
    )


def _add_bakeoff_flags(p: argparse.ArgumentParser) -> None:
    """The flags run and demo share: how the bake-off is graded and limited."""
    from bakeoff.cli_config import add_standing_flags
    from bakeoff.cli_flags import add_limit_flags, add_sandbox_flags, run_id

    p.add_argument(
        "--no-preflight",
        action="store_true",
        help="skip reaching every model once before the run (unreachable ones then error)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the trials it would run and a token and cost range per model (from "
        "past runs in the store), then exit: nothing is run, reached or stored",
    )
    add_standing_flags(p)  # --judge, --repeats, --max-cost, --max-parallel, --label...
    p.add_argument(
        "--pairwise",
        action="store_true",
        help="also judge every pair of models head to head, in both orders (needs --judge)",
    )
    p.add_argument(
        "--judge-sees-checks",
        action="store_true",
        help="show judges the check's verdict and output (off: judges grade blind, so their "
        "agreement with the checks is a real measurement)",
    )
    p.add_argument(
        "--run-id",
        type=run_id,
        help="name this run: letters, digits, '.', '_', '-' (default: a timestamp)",
    )
    p.add_argument(
        "--allow-unpriced",
        action="store_true",
        help="with --max-cost, run models of unknown price anyway, counting their spend as "
        "$0 (the summary notes which)",
    )
    add_limit_flags(p, per="per trial")
    add_sandbox_flags(p)
    _add_output_flags(p)


def _add_output_flags(p: argparse.ArgumentParser) -> None:
    """Where run and demo run their trials, keep the results and print them."""
    from bakeoff.cli_history import add_fail_under

    p.add_argument("--store", type=Path, help="results database (default .bakeoff/results.sqlite)")
    p.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="run trials in this process (local) or as Ray tasks (needs bakeoff[ray])",
    )
    p.add_argument("--ray-address", help="Ray cluster to join (default: start a local one)")
    p.add_argument("--html", help="also write the HTML report to this file")
    p.add_argument("--show-runs", action="store_true", help="also print one line per run")
    add_fail_under(p)
    p.add_argument(
        "--json", action="store_true", help="print run_id, report_html and ranking as JSON"
    )
