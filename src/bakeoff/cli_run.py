"""The bake-off subcommands of the `bakeoff` CLI — run, demo and tasks (report, runs and compare
are in `cli_history`) — as thin shells over `bakeoff.evals`: parse, call, print. `latest` stands
for the newest stored run wherever a run id goes. Ctrl-C stops a run cleanly and prints the exact
command that resumes it."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from bakeoff.errors import UserError


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


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


def _run(
    args: argparse.Namespace, models: list[str] | None, targets: list[str], quick: bool
) -> int:
    """The bake-off `run` and `demo` share; `models` None means run's --models, else the
    `[defaults]` models (`cli_config.standing_settings`, as for every standing flag)."""
    from bakeoff.cli_config import apply_defaults
    from bakeoff.cli_history import exit_status, resolve_run_id
    from bakeoff.config import load_config
    from bakeoff.evals.runner import new_run_id, run_bakeoff
    from bakeoff.evals.selection import select_tasks
    from bakeoff.evals.store import Store
    from bakeoff.report.progress import progress_observer
    from bakeoff.report.side_by_side import print_answers
    from bakeoff.report.terminal import console, print_summary, print_trials

    config = load_config(args.config)
    args = apply_defaults(args, config)
    if (args.resume or args.retry_errors) and args.label:
        raise UserError("--label labels a new run: a resumed run keeps the labels it began with")
    if models is None:
        models = _split(args.models)
        if not models and not args.resume and not args.retry_errors:
            raise UserError(
                "--models is required (e.g. --models gpt-5-mini,haiku,local; or set `models` "
                "under [defaults] in bakeoff.toml: `bakeoff init config`), or --resume RUN_ID, "
                "or --retry-errors RUN_ID"
            )
    if args.dry_run:  # before the store is opened: a dry run makes and reaches nothing
        return _dry_run(args, models, targets, quick, config)
    store = Store(args.store)
    store.require_writable()  # a read-only store: one line now, not after the first trial
    resume = args.resume and resolve_run_id(store, args.resume)
    retry = args.retry_errors and resolve_run_id(store, args.retry_errors)
    judges = _split(args.judge)
    task_specs = None
    if not resume and not retry:
        if args.pairwise and not judges:
            raise UserError("--pairwise needs --judge ID (the judge that compares each pair)")
        task_specs = select_tasks(
            targets,
            patterns=_split(args.task_patterns),
            category=args.category,
            files=args.files,
            adhoc_root=store.path.parent / "adhoc",
        )
        if quick:
            task_specs = [t for t in task_specs if "quick" in t.tags]
    run_id = resume or retry or args.run_id or new_run_id()
    observer = progress_observer()
    try:
        with observer:
            outcome = asyncio.run(
                run_bakeoff(
                    models,
                    task_specs=task_specs,
                    repeats=args.repeats,
                    judges=judges,
                    pairwise=args.pairwise,
                    judge_sees_checks=args.judge_sees_checks,
                    run_id=run_id,
                    resume=resume,
                    retry_errors=retry,
                    preflight=not args.no_preflight,
                    max_cost_usd=args.max_cost,
                    allow_unpriced=args.allow_unpriced,
                    store=store,
                    config=config,
                    agent=_agent_config(args, config),
                    observer=observer,
                    max_parallel=args.max_parallel,
                    executor=args.executor,
                    ray_address=args.ray_address,
                    tags=args.tags,
                    until_decided=_until_decided(args),
                )
            )
    except KeyboardInterrupt:
        done = len(store.done_keys(run_id))
        print(
            f"\nInterrupted. {done} finished trials are saved in {store.path}.\n"
            f"Resume with: bakeoff run --resume {run_id}"
            + (f" --store {args.store}" if args.store else ""),
            file=sys.stderr,
        )
        return 130
    from bakeoff.report.html import default_report_dir, write_outcome_html, write_run_report

    html = write_run_report(outcome, default_report_dir(store.path))
    if args.html:
        html = write_outcome_html(outcome, Path(args.html))
    if args.json:
        _emit_json(
            {
                "run_id": outcome.run_id,
                "report_html": str(html),
                **outcome.summary.public(),
            }
        )
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
    from bakeoff.evals.estimate import dry_run
    from bakeoff.evals.store import default_store_path

    if args.resume or args.retry_errors:
        raise UserError("--dry-run plans a new run: `bakeoff report RUN` shows a stored one")
    lines = dry_run(
        targets,
        models,
        judges=_split(args.judge),
        repeats=args.repeats,
        patterns=_split(args.task_patterns),
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
    from bakeoff.evals.records import UntilDecided

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
    """The embedded model plus every configured cloud model whose key is set."""
    extra = {
        "OPENAI_API_KEY": "gpt-5-mini",
        "ANTHROPIC_API_KEY": "haiku",
        "GEMINI_API_KEY": "gemini-2.5-flash",
    }
    models = list(requested)
    models += [m for key, m in extra.items() if os.environ.get(key) and m not in models]
    return models


def cmd_demo(args: argparse.Namespace) -> int:
    models = demo_models(_split(args.models) or ["local"])
    print(f"bakeoff demo: quick built-in tasks on {', '.join(models)}", file=sys.stderr)
    return _run(args, models, [], quick=True)


def cmd_tasks(args: argparse.Namespace) -> int:
    from bakeoff.evals.checks import validate_tasks
    from bakeoff.evals.task import load_tasks

    if args.action == "from-git":
        from bakeoff.cli_tasks import cmd_from_git

        return cmd_from_git(args)
    tasks = load_tasks(args.paths)
    if args.action == "list":
        if args.json:
            _emit_json([{**t.model_dump(exclude={"path"}), "path": str(t.path)} for t in tasks])
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
    from bakeoff.cli import EXIT_STATUS_HELP, example_parser
    from bakeoff.cli_config import add_standing_flags
    from bakeoff.cli_flags import (
        add_limit_flags,
        add_sandbox_flags,
        count,
        fixture_folder,
        run_id,
        run_ref,
    )
    from bakeoff.cli_history import add_fail_under, add_history_commands

    for name, handler, help_text, examples in (
        (
            "run",
            cmd_run,
            "the bake-off: tasks × models × repeats, graded and reported",
            RUN_EXAMPLES,
        ),
        (
            "demo",
            cmd_demo,
            "a quick bake-off on the embedded model (+ cloud models whose keys are set)",
            "examples:\n  bakeoff demo\n  bakeoff demo --models local,script:careful.json",
        ),
    ):
        p = example_parser(sub, name, help_text, f"{examples}\n\n{EXIT_STATUS_HELP}")
        if name == "run":
            p.add_argument(
                "targets",
                nargs="*",
                metavar="TASK_OR_PROMPT",
                help="a task folder, a folder of tasks, a built-in task's name, or a prompt in "
                "quotes (an ad-hoc task; default: the built-in suite)",
            )
            p.add_argument(
                "--models",
                help="comma-separated model ids or aliases (default: [defaults] models in "
                "bakeoff.toml)",
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
                help="with --until-decided: quality gaps below G count as no difference "
                "(default 0.1)",
            )
        else:
            p.add_argument(
                "--models", default="local", help="comma-separated models (default: local)"
            )
            p.set_defaults(
                resume=None,
                retry_errors=None,
                targets=[],
                task_patterns=None,
                category=None,
                files=None,
            )
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
        if name == "run":
            p.set_defaults(timeout=None)  # absent: [defaults] timeout, else AgentConfig's
        add_sandbox_flags(p)
        p.add_argument(
            "--store", type=Path, help="results database (default .bakeoff/results.sqlite)"
        )
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
        p.set_defaults(handler=handler)
        if name == "demo":
            # A 0.5B model on 2 CPU cores writes ~30 tokens/s: tighter limits keep the demo to
            # minutes even when it rambles.
            p.set_defaults(max_output_tokens=400, timeout=60.0, show_runs=True)

    add_history_commands(sub)

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
