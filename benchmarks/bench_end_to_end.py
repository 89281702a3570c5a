"""Benchmark 7 — the whole path a user runs: `bakeoff run` as one process, from 100 to 100,000
trials, and against inspect-ai's whole `eval()` process on the same workload.

The workload is benchmark 1's: a zero-latency scripted model asks for list_directory,
write_file, read_file, edit_file, then answers in text (5 turns), on a task whose fixture is
one file. Each trial is the real path: task loading, a fresh copy of the fixture, the agent
loop, the diff and tamper scan, the SQLite store, and at the end grading from the store, the
HTML report and the JSON on stdout. Checks are skipped by default (a check starts a sandboxed
subprocess per trial and would measure bubblewrap; `--check` adds a trivial one).

Part 1, scaling: for each size, `bakeoff run TASKS --models M1,.. --repeats K` in a subprocess
(workspaces on /dev/shm through TMPDIR, the store on disk; bakeoff's bytecode compiled first,
as inspect-ai's was by pip: `compile_bakeoff`), measured by wait4's rusage of that
process alone: wall, CPU (user + system), peak RSS. Trials/s is counted at the store: rows in
SQLite over the process's wall time (and between the first and last row stored). Then
`bakeoff report RUN_ID --html FILE` in a second process: its wall and peak RSS, and the HTML
size. Memory is flat when peak RSS stays level as trials grow.

Part 2, per turn against inspect-ai: 1,000 samples x 5 turns, 16 at a time, each harness as a
whole process (interpreter start, imports, the run, its logging, exit): `bakeoff run` as in
part 1, and a process that runs benchmark 1's inspect-ai `eval()` (its lightest logging:
log_samples, log_realtime and log_model_api off, display none, no score) once over 1,000 samples
(plus one warm-up sample inside the same process, counted). The same tool bodies run in both.
`--rounds` rounds (default 3) alternate the two processes, so load from other work on a shared
machine falls on both; the best and the median of each are compared, CPU time (user + system)
being the fairer figure where the machine is busy. The inner-loop figure (benchmark 1:
`run_agent` alone, best of 3 batches) is the last line.

Run:  .venv/bin/python benchmarks/bench_end_to_end.py [--sizes 100,1000,10000,100000]
      [--inspect-python /path/to/python-with-inspect-ai] [--quick] [--check] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_overhead
import results

SHAPES: dict[int, tuple[int, int, int]] = {
    100: (10, 2, 5),
    1_000: (20, 2, 25),
    10_000: (50, 4, 50),
    100_000: (100, 5, 200),
}
"""Trials -> (tasks, models, repeats)."""
TARGET_RSS_MB = 300
TARGET_RATIO = 0.07
CONCURRENCY = 16


def write_inputs(root: Path, n_tasks: int, n_models: int, check: bool) -> tuple[Path, list[str]]:
    """`n_tasks` task folders (benchmark 1's prompt and fixture) and `n_models` scripts."""
    tasks = root / "tasks"
    for i in range(n_tasks):
        folder = tasks / f"e2e-{i:03d}"
        (folder / "files").mkdir(parents=True)
        for name, text in bench_overhead.FIXTURE.items():
            (folder / "files" / name).write_text(text)
        toml = (
            f'name = "e2e-{i:03d}"\nprompt = "{bench_overhead.PROMPT}"\n'
            f'category = "e2e"\ndifficulty = {1 + i % 5}\n\n'
        )
        if check:
            toml += '[check]\ncommand = "grep -q BETA notes.txt"\ntimeout_s = 30\n'
        else:
            toml += '[judge]\nrubric = "notes.txt holds alpha, BETA, gamma."\n'
        (folder / "task.toml").write_text(toml)
    models = []
    for k in range(n_models):
        script = root / "scripts" / f"model-{k}.json"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(json.dumps(bench_overhead.TURNS))
        models.append(f"script:{script}")
    return tasks, models


class LoadWatch:
    """The 1-minute load average before and after a block, as text: the machine is shared, and
    this is how busy it was (a load above the core count means work waited for a CPU)."""

    def __enter__(self) -> LoadWatch:
        self.before = os.getloadavg()[0]
        self.text = ""
        return self

    def __exit__(self, *exc: object) -> None:
        self.text = f"{self.before:.1f} → {os.getloadavg()[0]:.1f}"


def measured(cmd: list[str], env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run `cmd`; its exit status, wall, CPU and peak RSS (wait4: this process alone)."""
    t0 = time.time()
    errors = log.with_suffix(".stderr")
    with log.open("wb") as out, errors.open("wb") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.time() - t0
    code = proc.returncode
    if code != 0:
        tail = log.read_bytes()[-2000:] + errors.read_bytes()[-2000:]
        raise SystemExit(f"{' '.join(cmd[:3])} failed ({code}):\n{tail.decode(errors='replace')}")
    return {
        "t0": t0,
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
    }


def env_for(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["TMPDIR"] = str(workdir)  # trial workspaces
    env["COLUMNS"] = "120"
    return env


def store_facts(store: Path, run_id: str) -> dict[str, Any]:
    db = sqlite3.connect(store)
    n, first, last = db.execute(
        "SELECT COUNT(*), MIN(finished_at), MAX(finished_at) FROM trials WHERE run_id = ?",
        (run_id,),
    ).fetchone()
    statuses = dict(
        db.execute(
            "SELECT status, COUNT(*) FROM trials WHERE run_id = ? GROUP BY status", (run_id,)
        ).fetchall()
    )
    db.close()
    size = sum(p.stat().st_size for p in store.parent.glob(store.name + "*"))
    return {"rows": n, "first": first, "last": last, "statuses": statuses, "size_mb": size / 1e6}


def bakeoff_run(
    n: int, root: Path, workdir: Path, check: bool, shape: tuple[int, int, int] | None = None
) -> dict[str, Any]:
    """One `bakeoff run` of `n` trials, then `bakeoff report` of it."""
    n_tasks, n_models, repeats = shape or SHAPES[n]
    base = root / f"n{n}"
    tasks, models = write_inputs(base, n_tasks, n_models, check)
    store, run_id = base / "results.sqlite", f"e2e-{n}"
    exe = str(Path(results.python()).with_name("bakeoff"))
    env = env_for(workdir)
    run = measured(
        [
            exe,
            "run",
            str(tasks),
            "--models",
            ",".join(models),
            "--repeats",
            str(repeats),
            "--run-id",
            run_id,
            "--store",
            str(store),
            "--max-parallel",
            str(CONCURRENCY),
            "--no-preflight",
            "--json",
        ],
        env,
        base / "run.json",
    )
    out = json.loads((base / "run.json").read_text())
    html = Path(out["report_html"])
    facts = store_facts(store, run_id)
    report_html = base / "report.html"
    report = measured(
        [exe, "report", run_id, "--store", str(store), "--html", str(report_html)],
        env,
        base / "report.log",
    )
    span = (facts["last"] - facts["first"]) if facts["rows"] > 1 else 0.0
    return {
        "n": n,
        "shape": (n_tasks, n_models, repeats),
        **{k: run[k] for k in ("wall", "cpu", "rss_mb")},
        "rows": facts["rows"],
        "statuses": facts["statuses"],
        "stored_per_s": facts["rows"] / run["wall"],
        "stored_per_s_span": (facts["rows"] - 1) / span if span else 0.0,
        "startup_s": facts["first"] - run["t0"] if facts["first"] else None,
        "after_last_s": run["t0"] + run["wall"] - facts["last"] if facts["last"] else None,
        "sqlite_mb": facts["size_mb"],
        "html_mb": html.stat().st_size / 1e6,
        "report_wall": report["wall"],
        "report_rss_mb": report["rss_mb"],
        "report_html_mb": report_html.stat().st_size / 1e6,
        "us_per_turn": run["wall"] / (n * bench_overhead.TURNS_PER_RUN) * 1e6,
        "cpu_us_per_turn": run["cpu"] / (n * bench_overhead.TURNS_PER_RUN) * 1e6,
    }


INSPECT_PROCESS = """
import json, sys
sys.path.insert(0, sys.argv[1])
import bench_overhead, results
results.guard_network()
bench_overhead.WARMUP_RUNS = 1
out = bench_overhead.inspect_worker(int(sys.argv[2]), int(sys.argv[3]), 1)
out["blocked_connections"] = list(results.blocked_connections)
print(json.dumps(out))
"""


def inspect_run(python: str, runs: int, root: Path, workdir: Path) -> dict[str, Any]:
    """inspect-ai's `eval()` of `runs` samples (+1 warm-up) as one whole process."""
    env = {**bench_overhead._worker_env(), "TMPDIR": str(workdir), "BENCH_WORKDIR": str(workdir)}
    env["PYTHONPATH"] = str(results.ROOT / "src")  # the same bakeoff tool bodies
    log = root / "inspect.json"
    here = str(Path(__file__).resolve().parent)
    run = measured([python, "-c", INSPECT_PROCESS, here, str(runs), str(CONCURRENCY)], env, log)
    out = json.loads(log.read_text().strip().splitlines()[-1])
    turns = (runs + 1) * bench_overhead.TURNS_PER_RUN
    return {
        **run,
        "version": out.get("version", "?"),
        "failures": out["failures"],
        "eval_wall": out["walls"][0],
        "us_per_turn": run["wall"] / turns * 1e6,
        "cpu_us_per_turn": run["cpu"] / turns * 1e6,
    }


def has_inspect(python: str) -> bool:
    probe = subprocess.run([python, "-c", "import inspect_ai"], capture_output=True)
    return probe.returncode == 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100,1000,10000,100000", help="trials per scaling run")
    ap.add_argument("--quick", action="store_true", help="sizes 100,1000 and part 2")
    ap.add_argument("--check", action="store_true", help="a trivial sandboxed check per trial")
    ap.add_argument("--skip-scaling", action="store_true")
    ap.add_argument("--skip-inspect", action="store_true")
    ap.add_argument("--rounds", type=int, default=3, help="part 2: rounds of both processes")
    ap.add_argument(
        "--inspect-python",
        default=results.python(),
        help="a Python with inspect-ai installed (default: this one)",
    )
    ap.add_argument("--workdir", help="trial workspaces (default /dev/shm when present)")
    ap.add_argument("--keep", action="store_true", help="keep the stores and reports")
    args = ap.parse_args()
    sizes = [100, 1000] if args.quick else [int(s) for s in args.sizes.split(",") if s]
    workdir = Path(
        args.workdir or ("/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir())
    )
    root = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    compile_bakeoff()
    print(f"machine: {results.machine_line()}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"stores in {root}, workspaces in {workdir}")
    body: list[str] = []
    try:
        if not args.skip_scaling:
            body.append(scaling(sizes, root, workdir, args.check))
        if not args.skip_inspect:
            body.append(per_turn(args.inspect_python, root, workdir, args.check, args.rounds))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    body.append(f"Load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}.")
    results.print_block(
        "7. The whole path: `bakeoff run` end to end",
        "python benchmarks/bench_end_to_end.py" + (" --quick" if args.quick else ""),
        "\n\n".join(body),
    )


def compile_bakeoff() -> None:
    """Both harnesses run as installed, with their modules' bytecode compiled: pip compiled
    inspect-ai's when it installed it; bakeoff's (an editable install) is compiled here. Python
    would write it on a first import, but not where PYTHONDONTWRITEBYTECODE is set (as on the
    machines of BENCHMARKS.md), and then every `bakeoff run` compiles ~100 modules again (~0.15 s
    of CPU that no installed copy pays). The built-in suite's task folders are data, not
    bakeoff's modules: they are left alone."""
    source = results.ROOT / "src" / "bakeoff"
    skip = ["-x", "/evals/suite/"]
    subprocess.run([results.python(), "-m", "compileall", "-q", *skip, str(source)], check=True)


def scaling(sizes: list[int], root: Path, workdir: Path, check: bool) -> str:
    rows = []
    for n in sizes:
        with LoadWatch() as load:
            m = bakeoff_run(n, root, workdir, check)
        t, k, r = m["shape"]
        print(
            f"{n:>7} trials ({t} tasks x {k} models x {r}): wall {m['wall']:.1f} s, "
            f"CPU {m['cpu']:.1f} s, peak RSS {m['rss_mb']:.0f} MB, {m['stored_per_s']:.0f} "
            f"stored/s ({m['stored_per_s_span']:.0f} first->last), store {m['sqlite_mb']:.0f} MB, "
            f"report {m['report_wall']:.1f} s / {m['report_rss_mb']:.0f} MB, HTML "
            f"{m['html_mb']:.1f} MB, statuses {m['statuses']}, load average {load.text}",
            flush=True,
        )
        rows.append(
            [
                f"{n:,}",
                f"{t} × {k} × {r}",
                f"{m['wall']:.1f}",
                f"{m['cpu']:.1f}",
                f"{m['rss_mb']:.0f}",
                f"{m['stored_per_s']:.0f} ({m['stored_per_s_span']:.0f})",
                f"{m['sqlite_mb']:.1f}",
                f"{m['report_wall']:.1f}",
                f"{m['report_rss_mb']:.0f}",
                f"{m['html_mb']:.1f}",
                f"{m['rows']:,}",
                load.text,
            ]
        )
    peak = max(float(r[4]) for r in rows)
    verdict = "met" if peak < TARGET_RSS_MB else "MISSED"
    return (
        results.table(
            [
                "trials",
                "tasks × models × repeats",
                "wall (s)",
                "CPU (s)",
                "peak RSS (MB)",
                "stored/s: rows ÷ wall (first→last)",
                "SQLite (MB)",
                "`bakeoff report` (s)",
                "report peak RSS (MB)",
                "HTML (MB)",
                "rows stored",
                "load average (1 min) before → after",
            ],
            rows,
        )
        + f"\n\nPeak RSS of `bakeoff run` at most {peak:.0f} MB; target < {TARGET_RSS_MB} MB: "
        f"{verdict}."
    )


def per_turn(python: str, root: Path, workdir: Path, check: bool, rounds: int) -> str:
    """Part 2: `rounds` rounds, each a whole `bakeoff run` process then a whole inspect-ai
    process (alternating, so load that comes and goes falls on both); best and median of each."""
    runs = 1000
    if not has_inspect(python):
        return f"inspect-ai is not importable by {python}: pass --inspect-python."
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    for k in range(rounds):
        with LoadWatch() as load:
            b = bakeoff_run(runs, root / f"vs-inspect-{k}", workdir, check, shape=(1, 1, runs))
        b["load"] = load.text
        ours.append(b)
        print(
            f"round {k + 1}: bakeoff run, {runs} x 5 turns: {b['wall']:.2f} s wall, "
            f"{b['us_per_turn']:.0f} µs/turn, CPU {b['cpu_us_per_turn']:.0f} µs/turn, "
            f"statuses {b['statuses']}, load average {load.text}",
            flush=True,
        )
        with LoadWatch() as load:
            i = inspect_run(python, runs, root, workdir)
        i["load"] = load.text
        theirs.append(i)
        print(
            f"round {k + 1}: inspect-ai {i['version']} eval(), whole process: {i['wall']:.2f} s "
            f"wall (eval() itself {i['eval_wall']:.2f} s), {i['us_per_turn']:.0f} µs/turn, CPU "
            f"{i['cpu_us_per_turn']:.0f} µs/turn, failed {i['failures']}, load average "
            f"{load.text}",
            flush=True,
        )
    rows = []
    ratios: dict[str, tuple[float, float]] = {}
    for key, what in (("us_per_turn", "wall"), ("cpu_us_per_turn", "CPU")):
        b_best, i_best = min(r[key] for r in ours), min(r[key] for r in theirs)
        b_med = statistics.median(r[key] for r in ours)
        i_med = statistics.median(r[key] for r in theirs)
        ratios[what] = (b_best / i_best, b_med / i_med)
        rows.append(
            [what, f"{b_best:,.0f}", f"{b_med:,.0f}", f"{i_best:,.0f}", f"{i_med:,.0f}",
             f"{b_best / i_best:.3f}", f"{b_med / i_med:.3f}"]
        )  # fmt: skip
    failed = sum(i["failures"] for i in theirs)
    passed = all(set(b["statuses"]) == {"passed"} for b in ours)
    best_cpu, median_cpu = ratios["CPU"]
    verdict = "met" if median_cpu <= TARGET_RATIO else "MISSED"
    table = results.table(
        ["µs per turn", "bakeoff best", "bakeoff median", "inspect-ai best", "inspect-ai median",
         "ratio of bests", "ratio of medians"],
        rows,
    )  # fmt: skip
    rounds_table = results.table(
        ["round", "`bakeoff run` wall / CPU (s)", "peak RSS (MB)", "load (1 min)",
         f"inspect-ai {theirs[0]['version']} wall / CPU (s)", "peak RSS (MB)", "load (1 min)"],
        [
            [k + 1, f"{b['wall']:.2f} / {b['cpu']:.2f}", f"{b['rss_mb']:.0f}", b["load"],
             f"{i['wall']:.2f} / {i['cpu']:.2f}", f"{i['rss_mb']:.0f}", i["load"]]
            for k, (b, i) in enumerate(zip(ours, theirs, strict=True))
        ],
    )  # fmt: skip
    inner = bench_overhead.run_worker("bakeoff", runs, CONCURRENCY, 3)
    us = min(inner["walls"]) / (runs * bench_overhead.TURNS_PER_RUN) * 1e6
    print(f"inner loop (run_agent only, best of 3): {us:.0f} µs/turn", flush=True)
    return (
        f"{rounds_table}\n\n{table}\n\nbakeoff / inspect-ai per turn, end to end, CPU: "
        f"{median_cpu:.3f} (ratio of medians), {best_cpu:.3f} (of bests); wall "
        f"{ratios['wall'][1]:.3f} / {ratios['wall'][0]:.3f}; target ≤ {TARGET_RATIO} (CPU, "
        f"medians): {verdict}. Every bakeoff trial passed: {passed}; inspect-ai samples failed: "
        f"{failed}.\nInner loop (benchmark 1: `run_agent` in-process, no store or report, best of "
        f"3): {us:.0f} µs/turn."
    )


if __name__ == "__main__":
    main()
