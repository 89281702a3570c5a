"""Benchmark 6 — the embedded model's ceiling on the suite's stub-plus-tests tasks.

As a tool-calling contestant, Qwen2.5-Coder-1.5B solved none of the built-in `implement-*` /
`fix-*` tasks, and in the `blocks` format now its default, few (BENCHMARKS.md §6). This measures
how much of that is the agent harness and how much the model:
no agent and no tools. Each task's prompt and every `.py` file of its `files/` go to the model
in one user message, with the whole changed module asked back in one ```python block; that
block is written over the file the task's `solution/` changes, and the task's own hidden check
grades it in the sandbox, exactly as it grades a trial. The untouched stub is graded too, as
the floor. The model runs as `local` does in a bake-off (`EmbeddedModel`: its llama.cpp server,
the model maker's sampling, the 1,024-token output cap), `--repeats` replies per task.

A task is solved when every hidden test passes. If the model cannot write the module with the
files and the task handed to it, no harness around the same model will make it do so.

Run:  .venv/bin/python benchmarks/bench_local_ceiling.py [--repeats 3] [--tasks 'implement-*,fix-*']
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import results

from bakeoff.evals.trial.checks import CheckResult, acheck_fixture
from bakeoff.evals.trial.task import TaskSpec, builtin_suite_dir, load_tasks

_BLOCK = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)


def target_file(task: TaskSpec) -> str:
    """The one file the task's reference solution changes."""
    changed = [p for p in task.solution_dir.rglob("*") if p.is_file()]
    if len(changed) != 1:
        raise SystemExit(f"{task.name}: its solution/ changes {len(changed)} files, not one")
    return changed[0].relative_to(task.solution_dir).as_posix()


def ask(task: TaskSpec, target: str) -> str:
    """The one user message: the files, the task, the reply format."""
    shown = "".join(
        f"{p.relative_to(task.files_dir).as_posix()}:\n```python\n{p.read_text()}```\n\n"
        for p in sorted(task.files_dir.rglob("*.py"))
    )
    return f"{shown}{task.prompt}\n\nReply with the complete new {target} in one ```python block."


async def grade(task: TaskSpec, target: str, code: str | None) -> CheckResult:
    """The task's hidden check on its files with `target` replaced by `code` (None: the stub)."""

    def write(workspace: Path) -> None:
        if code is not None:
            (workspace / target).write_text(code, encoding="utf-8")

    with tempfile.TemporaryDirectory(prefix="bench-ceiling-") as tmp:
        return await acheck_fixture(task, Path(tmp) / "ws", write)


def count(check: CheckResult) -> str:
    if check.tests_total is None:
        return "no tests ran" if not check.passed else "passed"
    return f"{check.tests_passed}/{check.tests_total}"


async def measure(tasks: list[TaskSpec], repeats: int) -> list[list[object]]:
    from bakeoff.models.embedded import EmbeddedModel
    from bakeoff.models.local_server import stop_local_servers
    from bakeoff.types import Message

    model = EmbeddedModel()
    rows: list[list[object]] = []
    try:
        await model.start()
        for task in tasks:
            target = target_file(task)
            floor = await grade(task, target, None)
            message = [Message(role="user", content=ask(task, target))]
            counts, solved, seconds = [], 0, []
            for _ in range(repeats):
                t0 = time.perf_counter()
                reply = await model.complete(message, [], max_output_tokens=1024)
                seconds.append(time.perf_counter() - t0)
                block = _BLOCK.search(reply.message.content)
                check = await grade(
                    task, target, block.group(1) if block else reply.message.content
                )
                solved += check.passed
                counts.append(count(check))
                print(f"{task.name}: {count(check)} ({seconds[-1]:.0f} s)", flush=True)
            rows.append(
                [
                    task.name,
                    count(floor),
                    ", ".join(counts),
                    f"{solved}/{repeats}",
                    f"{statistics.median(seconds):.0f} s",
                ]
            )
    finally:
        await model.aclose()
        stop_local_servers()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="replies per task (default 3)")
    ap.add_argument(
        "--tasks",
        default="implement-*,fix-*",
        help="built-in tasks whose name matches (comma-separated shell globs)",
    )
    ap.add_argument("--quick", action="store_true", help="one reply each for two tasks")
    args = ap.parse_args()
    results.guard_network()
    patterns = ["implement-slugify", "fix-pagination"] if args.quick else args.tasks.split(",")
    repeats = 1 if args.quick else args.repeats
    tasks = [
        t
        for t in load_tasks([builtin_suite_dir()])
        if any(fnmatch.fnmatch(t.name, p.strip()) for p in patterns)
    ]
    if not tasks:
        raise SystemExit(f"no built-in task matches {args.tasks!r}")
    print(f"{len(tasks)} tasks x {repeats} replies on the embedded model", flush=True)
    rows = asyncio.run(measure(tasks, repeats))
    body = results.table(
        ["task", "stub (hidden tests)", "replies (hidden tests)", "solved", "median reply"], rows
    )
    command = "python benchmarks/bench_local_ceiling.py" + (" --quick" if args.quick else "")
    results.print_block("The embedded model's ceiling, no agent", command, body)


if __name__ == "__main__":
    main()
