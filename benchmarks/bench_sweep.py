"""Benchmark 3 — sweep scale: 10,000 scripted runs through the `bakeoff run` CLI.

10 scripted models (`script:PATH`, zero latency: each run reads the fixture, writes a file and
answers, 3 turns) × 500 tiny tasks × 2 repeats. The tasks have a one-file fixture and a judge
rubric but no `[check]`, and no judge is given, so nothing is graded: a check would spawn a
subprocess per trial and measure the shell, not bakeoff. Everything else is the real path: the
CLI, the scheduler, a fresh workspace per trial (in $TMPDIR), the diff, the SQLite store, the
final grading and the HTML report.

Part 1 runs the sweep uninterrupted and reports its wall time, peak RSS of the `bakeoff`
process (from wait4's rusage, so exactly that process) and the store's write rate (trials
stored per second between the first and the last). Part 2 starts the same sweep under a new
run id, kills it with SIGKILL once about half the trials are stored, runs
`bakeoff run --resume RUN_ID`, and checks in SQLite that every (task, model, repeat) is present
exactly once.

Run:  .venv/bin/python benchmarks/bench_sweep.py [--models 10 --tasks 500 --repeats 2] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import results

TARGET_RSS_MB = 500


def write_inputs(root: Path, n_models: int, n_tasks: int) -> tuple[Path, list[str]]:
    tasks = root / "tasks"
    for i in range(n_tasks):
        folder = tasks / f"sweep-{i:04d}"
        (folder / "files").mkdir(parents=True)
        (folder / "files" / "input.txt").write_text(f"task {i}\n")
        (folder / "task.toml").write_text(
            f'name = "sweep-{i:04d}"\n'
            f'prompt = "Read input.txt and write answer.txt (task {i})."\n'
            f'category = "sweep"\ndifficulty = {1 + i % 5}\n\n'
            '[judge]\nrubric = "answer.txt exists."\n'
        )
    models = []
    for k in range(n_models):
        script = root / "scripts" / f"model-{k:02d}.json"
        script.parent.mkdir(parents=True, exist_ok=True)
        turns = [
            {"tool_calls": [{"name": "read_file", "arguments": {"path": "input.txt"}}]},
            {
                "tool_calls": [
                    {
                        "name": "write_file",
                        "arguments": {"path": "answer.txt", "content": f"model {k}\n"},
                    }
                ],
                "usage": {"input_tokens": 120, "output_tokens": 12},
            },
            {"text": f"Wrote answer.txt (model {k}).", "usage": {"output_tokens": 6}},
        ]
        script.write_text(json.dumps(turns))
        models.append(f"script:{script}")
    return tasks, models


def bakeoff_cmd(store: Path, *args: str) -> list[str]:
    exe = Path(results.python()).with_name("bakeoff")
    return [str(exe), "run", *args, "--store", str(store), "--json"]


def wait_rss(proc: subprocess.Popen[bytes]) -> tuple[int, float]:
    """Wait for `proc`; return (exit status, its peak RSS in MB) from wait4's rusage."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024  # KiB on Linux


def stored(store: Path, run_id: str) -> int:
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10)
    try:
        return int(
            db.execute("SELECT COUNT(*) FROM trials WHERE run_id=?", (run_id,)).fetchone()[0]
        )
    except sqlite3.OperationalError:  # the run or table is not created yet
        return 0
    finally:
        db.close()


def write_rate(store: Path, run_id: str, since: float = 0.0) -> tuple[float, float]:
    """(trials per second between the first and last stored, that span in s) for trials
    finished after `since`."""
    db = sqlite3.connect(store)
    lo, hi, n = db.execute(
        "SELECT MIN(finished_at), MAX(finished_at), COUNT(*) FROM trials "
        "WHERE run_id=? AND finished_at >= ?",
        (run_id, since),
    ).fetchone()
    db.close()
    span = (hi - lo) if n and n > 1 else 0.0
    return ((n - 1) / span if span else 0.0), span


WORKSPACES: str | None = None
"""TMPDIR given to `bakeoff run` (where trial workspaces go); None = inherit."""


def run_env() -> dict[str, str]:
    env = dict(os.environ)
    env["COLUMNS"] = "120"
    if WORKSPACES:
        env["TMPDIR"] = WORKSPACES
    return env


def part_full(store: Path, tasks: Path, models: list[str], repeats: int) -> dict[str, Any]:
    run_id = "sweep-full"
    cmd = bakeoff_cmd(
        store,
        str(tasks),
        "--models",
        ",".join(models),
        "--repeats",
        str(repeats),
        "--run-id",
        run_id,
    )
    log = store.parent / "full.log"
    t0 = time.time()
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=run_env())
        code, rss = wait_rss(proc)
    wall = time.time() - t0
    if code != 0:
        raise SystemExit(f"bakeoff run failed ({code}):\n{log.read_text()[-3000:]}")
    rate, span = write_rate(store, run_id)
    db = sqlite3.connect(store)
    first, last = db.execute(
        "SELECT MIN(finished_at), MAX(finished_at) FROM trials WHERE run_id=?", (run_id,)
    ).fetchone()
    statuses = dict(
        db.execute(
            "SELECT status, COUNT(*) FROM trials WHERE run_id=? GROUP BY status", (run_id,)
        ).fetchall()
    )
    db.close()
    return {
        "wall": wall,
        "rss_mb": rss,
        "rate": rate,
        "span": span,
        "startup": first - t0,
        "after_last": t0 + wall - last,
        "stored": stored(store, run_id),
        "statuses": statuses,
        "store_mb": store.stat().st_size / 1e6,
    }


STAGES = """
import sys, time
from pathlib import Path
def rss():
    status = dict(l.split(":", 1) for l in open("/proc/self/status"))
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024
from bakeoff.evals.verdict.grading import summarize
from bakeoff.evals.store.store import Store
from bakeoff.report.html import write_html
import bakeoff.evals.run.runner
out = {"imports": rss()}
store = Store(sys.argv[1]); spec = store.get_spec(sys.argv[2])
records = store.trials(spec.run_id); out["records loaded"] = rss()
summary = summarize(spec, records, store.verdicts(spec.run_id), local_models=set())
out["graded"] = rss()
html = write_html(summary, records, Path(sys.argv[3])); out["HTML written"] = rss()
out["html_mb"] = html.stat().st_size / 1e6
print(repr(out))
"""


def memory_stages(store: Path, run_id: str) -> dict[str, Any]:
    """RSS (current, peak) in MB of a fresh process after each step of building the outcome
    of a stored run, as `bakeoff run` does once the last trial is stored."""
    import ast

    out = subprocess.run(
        [results.python(), "-c", STAGES, str(store), run_id, str(store.parent / "stages.html")],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(ast.literal_eval(out.stdout.strip().splitlines()[-1]))


def part_resume(
    store: Path, tasks: Path, models: list[str], repeats: int, expected: set[tuple[str, str, int]]
) -> dict[str, Any]:
    run_id = "sweep-killed"
    total = len(expected)
    cmd = bakeoff_cmd(
        store,
        str(tasks),
        "--models",
        ",".join(models),
        "--repeats",
        str(repeats),
        "--run-id",
        run_id,
    )
    log = store.parent / "killed.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=run_env())
        while stored(store, run_id) < total // 2:
            if proc.poll() is not None:
                raise SystemExit(f"the run ended before it could be killed:\n{log.read_text()}")
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        code, rss_killed = wait_rss(proc)
    at_kill = stored(store, run_id)
    db = sqlite3.connect(store)
    status_after_kill = db.execute("SELECT status FROM runs WHERE run_id=?", (run_id,)).fetchone()[
        0
    ]
    db.close()

    resume_log = store.parent / "resume.log"
    t0 = time.time()
    with resume_log.open("wb") as out:
        proc = subprocess.Popen(
            bakeoff_cmd(store, "--resume", run_id),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=run_env(),
        )
        rcode, rss_resume = wait_rss(proc)
    wall = time.time() - t0
    if rcode != 0:
        raise SystemExit(f"resume failed ({rcode}):\n{resume_log.read_text()[-3000:]}")

    db = sqlite3.connect(store)
    rows = db.execute(
        "SELECT task, model, repeat, COUNT(*) FROM trials WHERE run_id=? GROUP BY task, model, repeat",
        (run_id,),
    ).fetchall()
    n_rows = db.execute("SELECT COUNT(*) FROM trials WHERE run_id=?", (run_id,)).fetchone()[0]
    final_status = db.execute("SELECT status FROM runs WHERE run_id=?", (run_id,)).fetchone()[0]
    db.close()
    keys = {(t, m, int(r)) for t, m, r, _ in rows}
    dupes = sum(1 for *_, c in rows if c != 1)
    return {
        "killed_signal": -code,
        "at_kill": at_kill,
        "status_after_kill": status_after_kill,
        "rss_killed_mb": rss_killed,
        "resume_wall": wall,
        "rss_resume_mb": rss_resume,
        "rows": n_rows,
        "distinct": len(keys),
        "missing": len(expected - keys),
        "unexpected": len(keys - expected),
        "duplicates": dupes,
        "final_status": final_status,
        "exactly_once": n_rows == total and keys == expected and dupes == 0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=int, default=10)
    ap.add_argument("--tasks", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="10 models × 100 tasks × 1 repeat")
    ap.add_argument("--skip-resume", action="store_true", help="part 1 only")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (store, logs)")
    results.add_wait_quiet(ap)
    ap.add_argument(
        "--workspaces",
        metavar="DIR",
        help="TMPDIR for `bakeoff run` only, i.e. where trial workspaces go (the store stays put)",
    )
    args = ap.parse_args()
    global WORKSPACES
    WORKSPACES = args.workspaces
    if args.quick:
        args.tasks, args.repeats = 100, 1
    total = args.models * args.tasks * args.repeats

    print(f"machine: {results.machine_line()}")
    print(f"CPUs {results.wait_for_quiet(args.wait_quiet):.0%} busy before starting")
    print(
        f"store in: {tempfile.gettempdir()}; trial workspaces in: {WORKSPACES or tempfile.gettempdir()}"
    )
    root = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        tasks, models = write_inputs(root, args.models, args.tasks)
        store = root / "results.sqlite"
        print(
            f"sweep: {args.models} scripted models × {args.tasks} tasks × {args.repeats} "
            f"repeats = {total} runs"
        )
        with results.OtherLoad() as load:
            full = part_full(store, tasks, models, args.repeats)
        print(load.line())
        print(
            f"part 1: wall {full['wall']:.1f} s, peak RSS {full['rss_mb']:.0f} MB, "
            f"store write rate {full['rate']:.0f} trials/s (first→last stored {full['span']:.1f} s), "
            f"start-up {full['startup']:.1f} s, after the last trial (grading + report) "
            f"{full['after_last']:.1f} s, stored {full['stored']}, statuses {full['statuses']}, "
            f"store {full['store_mb']:.0f} MB"
        )
        rows = [
            [
                "runs (models × tasks × repeats)",
                f"{total} ({args.models} × {args.tasks} × {args.repeats})",
            ],
            ["wall time of `bakeoff run`", f"{full['wall']:.1f} s"],
            ["start-up (process start → first trial stored)", f"{full['startup']:.1f} s"],
            ["trials stored per second (first → last stored)", f"{full['rate']:.0f}"],
            ["grading + HTML report after the last trial", f"{full['after_last']:.1f} s"],
            ["peak RSS of the `bakeoff` process", f"{full['rss_mb']:.0f} MB"],
            ["trials stored / statuses", f"{full['stored']} / {full['statuses']}"],
            ["SQLite store size", f"{full['store_mb']:.0f} MB"],
            ["CPU used by other processes during part 1", f"{load.share:.0%}"],
        ]
        stages = memory_stages(store, "sweep-full")
        html_mb = stages.pop("html_mb")
        print(
            "memory of the final grading + report, in a fresh process: "
            + ", ".join(f"{k} {v[0]:.0f} MB (peak {v[1]:.0f})" for k, v in stages.items())
            + f"; HTML report {html_mb:.0f} MB"
        )
        rows.append(
            [
                "RSS of a fresh process building the final outcome (current / peak)",
                "; ".join(f"{k}: {v[0]:.0f} / {v[1]:.0f} MB" for k, v in stages.items())
                + f" (HTML {html_mb:.0f} MB)",
            ]
        )
        verdicts = [
            f"peak RSS {full['rss_mb']:.0f} MB; target < {TARGET_RSS_MB} MB: "
            + ("met" if full["rss_mb"] < TARGET_RSS_MB else "MISSED")
        ]
        if not args.skip_resume:
            db = sqlite3.connect(store)
            expected = {
                (t, m, int(r))
                for t, m, r in db.execute(
                    "SELECT task, model, repeat FROM trials WHERE run_id='sweep-full'"
                )
            }
            db.close()
            res = part_resume(store, tasks, models, args.repeats, expected)
            print(
                f"part 2: killed (signal {res['killed_signal']}) with {res['at_kill']} trials stored "
                f"(run status left '{res['status_after_kill']}', peak RSS {res['rss_killed_mb']:.0f} MB); "
                f"resume took {res['resume_wall']:.1f} s (peak RSS {res['rss_resume_mb']:.0f} MB); "
                f"rows {res['rows']}, distinct keys {res['distinct']}, missing {res['missing']}, "
                f"unexpected {res['unexpected']}, duplicates {res['duplicates']}, "
                f"final status '{res['final_status']}'"
            )
            rows += [
                ["kill -9 after", f"{res['at_kill']} trials stored"],
                ["`bakeoff run --resume` wall", f"{res['resume_wall']:.1f} s"],
                [
                    "peak RSS (killed run / resume)",
                    f"{res['rss_killed_mb']:.0f} / {res['rss_resume_mb']:.0f} MB",
                ],
                [
                    "after resume: rows / distinct keys / missing / duplicates",
                    f"{res['rows']} / {res['distinct']} / {res['missing']} / {res['duplicates']}",
                ],
            ]
            verdicts.append(
                "every run present exactly once after kill -9 + resume: "
                + ("yes" if res["exactly_once"] else "NO")
            )
        for v in verdicts:
            print(v)
        body = (
            results.table(["measure", "value"], rows)
            + "\n\n"
            + "\n".join(f"- {v}" for v in verdicts)
        )
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    results.print_block(
        "3. Sweep scale",
        "python benchmarks/bench_sweep.py" + (" --quick" if args.quick else ""),
        body,
    )


if __name__ == "__main__":
    main()
