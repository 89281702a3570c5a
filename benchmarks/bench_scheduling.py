"""Benchmark 2 — scheduling efficiency against the ideal lower bound.

A fake OpenAI-compatible server (benchmarks/fake_openai.py, its own process) answers chat
completions after a seeded latency: per model a mean and a spread (the slowest model is 10×
the fastest), scaled by the task's difficulty (1-5 → ×0.5 … ×1.5). It streams, as bakeoff's
OpenAI adapter asks by default. Eight models on three providers with different concurrency
limits run a matrix of 8 models × 50 one-turn tasks (ad-hoc task folders in a temp dir, graded
by a judge rubric with no judge configured, so grading costs nothing) through
`bakeoff.evals.run.runner.run_bakeoff` with default settings (max_parallel 32, results store),
but no preflight ping (it would wait each model's latency before any trial starts).

The ideal wall time is the larger of (a) the busiest provider's total service time divided by
its limit and (b) the longest single request. The benchmark reports the wall time of
`run_bakeoff` (start-up, store writes and the final report included) and the span from the
first request to the last, against that bound, and checks on the server side that no provider
ever had more requests in flight than its limit.

The providers listen on 127.0.0.1. Every loopback address counts as this machine
(`bakeoff.net.is_local_url`), so the main part configures them with `shares_machine = false`:
a server on loopback with hardware of its own, scheduled by its own `concurrency` like the
remote providers it stands in for. A second, smaller part (`--loopback-tasks`, default 10) runs
the same models with `shares_machine` unset: bakeoff then puts every loopback provider in the
one shared local pool (the `local` provider's concurrency, 1 by default), and the benchmark
measures what that costs against the same per-provider bound.

Run:  .venv/bin/python benchmarks/bench_scheduling.py [--tasks 50] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import results
from fake_openai import latency_s

PROVIDERS = {"prov-a": 6, "prov-b": 3, "prov-c": 4}
"""Provider → concurrency limit."""
MODELS = {
    "fast-1": ("prov-a", 0.3, 0.5),
    "fast-2": ("prov-a", 0.5, 0.4),
    "fast-3": ("prov-a", 0.8, 0.3),
    "mid-1": ("prov-b", 0.6, 0.5),
    "mid-2": ("prov-b", 1.5, 0.3),
    "mid-3": ("prov-b", 0.3, 0.2),
    "slow-1": ("prov-c", 1.0, 0.5),
    "slow-2": ("prov-c", 3.0, 0.5),
}
"""Model → (provider, mean latency in s, spread as ± fraction of the mean)."""
SEED = 20261125
HOST = "127.0.0.1"


def make_spec(n_tasks: int, scale: float) -> dict[str, Any]:
    rng = random.Random(SEED)
    return {
        "seed": SEED,
        "scale": scale,
        "models": {
            m: {"provider": p, "mean_s": mean, "spread": spread}
            for m, (p, mean, spread) in MODELS.items()
        },
        "tasks": {f"t{i:03d}": rng.randint(1, 5) for i in range(n_tasks)},
    }


def write_tasks(spec: dict[str, Any], root: Path) -> Path:
    folder = root / "tasks"
    for name, difficulty in spec["tasks"].items():
        (folder / name).mkdir(parents=True)
        (folder / name / "task.toml").write_text(
            f'name = "{name}"\n'
            f'prompt = "Task {name}: reply with the word OK."\n'
            f'category = "scheduling"\ndifficulty = {difficulty}\n\n'
            '[judge]\nrubric = "Says OK."\n'
        )
    return folder


def lower_bound(spec: dict[str, Any]) -> tuple[float, dict[str, float], float]:
    """(bound, per-provider work / limit, longest single request) from the nominal latencies."""
    work: dict[str, float] = dict.fromkeys(PROVIDERS, 0.0)
    longest = 0.0
    for model, m in spec["models"].items():
        for task in spec["tasks"]:
            s = latency_s(spec, model, task)
            work[m["provider"]] += s
            longest = max(longest, s)
    per_provider = {p: work[p] / PROVIDERS[p] for p in PROVIDERS}
    return max(*per_provider.values(), longest), per_provider, longest


def start_server(spec: dict[str, Any], host: str, tmp: Path) -> tuple[subprocess.Popen[str], int]:
    spec_file = tmp / f"spec-{len(list(tmp.glob('spec-*')))}.json"
    spec_file.write_text(json.dumps(spec))
    proc = subprocess.Popen(
        [
            results.python(),
            str(Path(__file__).with_name("fake_openai.py")),
            "--host",
            host,
            "--spec",
            str(spec_file),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise SystemExit(f"fake server did not start: {line!r}")
    return proc, int(line.split()[1])


def fetch_stats(host: str, port: int) -> dict[str, Any]:
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://{host}:{port}/v1/stats", timeout=30) as r:
        return dict(json.loads(r.read()))


def run_matrix(
    n_tasks: int, scale: float, shares_machine: bool | None, tmp: Path, extra: dict[str, Any]
) -> dict[str, Any]:
    from bakeoff.agent import AgentConfig
    from bakeoff.config import BakeoffConfig, ProviderConfig
    from bakeoff.evals.run.request import BakeoffRequest
    from bakeoff.evals.run.runner import run_bakeoff
    from bakeoff.evals.store.store import Store

    t_import = time.perf_counter()
    import bakeoff.models.openai_chat  # noqa: F401 - the OpenAI SDK import (~1 s) is start-up

    import_s = time.perf_counter() - t_import
    spec = make_spec(n_tasks, scale)
    root = tmp / f"{'own' if shares_machine is False else 'pooled'}-{n_tasks}"
    root.mkdir()
    tasks = write_tasks(spec, root)
    proc, port = start_server(spec, HOST, tmp)
    try:
        config = BakeoffConfig(
            providers={
                p: ProviderConfig(
                    kind="openai_compatible",
                    base_url=f"http://{HOST}:{port}/v1",
                    concurrency=n,
                    shares_machine=shares_machine,
                )
                for p, n in PROVIDERS.items()
            }
        )
        models = [f"{p}:{m}" for m, (p, _, _) in MODELS.items()]
        store = Store(root / "results.sqlite")
        # No preflight: its one ping per model would wait the model's latency before any trial
        # starts (up to 4.5 s for slow-2), which is not scheduling.
        request = BakeoffRequest(
            models=models,
            tasks=[str(tasks)],
            agent=AgentConfig(max_turns=2),
            preflight=False,
            **extra,
        )
        t0 = time.time()
        outcome = asyncio.run(run_bakeoff(request, store=store, config=config))
        wall = time.time() - t0
        stats = fetch_stats(HOST, port)
    finally:
        proc.terminate()
        proc.wait()
    reqs = stats["requests"]
    ok = sum(r.agent.stop_reason == "completed" for r in outcome.rows)
    bound, per_provider, longest = lower_bound(spec)
    span = max(r["end"] for r in reqs) - min(r["start"] for r in reqs)
    served = dict.fromkeys(PROVIDERS, 0.0)
    last_end = dict.fromkeys(PROVIDERS, 0.0)
    first_start = min(r["start"] for r in reqs)
    for r in reqs:
        p = MODELS[r["model"]][0]
        served[p] += r["end"] - r["start"]
        last_end[p] = max(last_end[p], r["end"] - first_start)
    return {
        "import_s": import_s,
        "tasks": n_tasks,
        "scale": scale,
        "trials": len(outcome.rows),
        "completed": ok,
        "requests": len(reqs),
        "wall": wall,
        "span": span,
        "first_request_after": min(r["start"] for r in reqs) - t0,
        "after_last_request": t0 + wall - max(r["end"] for r in reqs),
        "bound": bound,
        "per_provider_bound": per_provider,
        "served_per_limit": {p: served[p] / PROVIDERS[p] for p in PROVIDERS},
        "done_after": last_end,
        "longest": longest,
        "max_in_flight": stats["max_in_flight"],
        "pooled": config.provider(models[0].split(":", 1)[0]).in_local_pool,
        "local_pool_limit": config.provider("local").concurrency,
    }


def describe(r: dict[str, Any], title: str) -> str:
    over = r["wall"] / r["bound"] - 1
    span_over = r["span"] / r["bound"] - 1
    print(f"\n{title}")
    print(
        f"  {r['trials']} trials ({r['completed']} completed, {r['requests']} requests); "
        f"in the shared local pool: {r['pooled']}"
    )
    print(
        f"  bound {r['bound']:.2f} s (longest single request {r['longest']:.2f} s); "
        f"run_bakeoff wall {r['wall']:.2f} s (+{over:.1%}); first→last request "
        f"{r['span']:.2f} s (+{span_over:.1%}); start-up {r['first_request_after']:.2f} s, "
        f"after last request (store, report) {r['after_last_request']:.2f} s"
    )
    rows = []
    for p, limit in PROVIDERS.items():
        seen = r["max_in_flight"].get(p, 0)
        print(
            f"  {p}: limit {limit}, work/limit {r['per_provider_bound'][p]:.2f} s "
            f"(served {r['served_per_limit'][p]:.2f} s), last answer after "
            f"{r['done_after'][p]:.2f} s, max in flight {seen}"
        )
        rows.append(
            [
                p,
                limit,
                ", ".join(m for m, v in MODELS.items() if v[0] == p),
                f"{r['per_provider_bound'][p]:.1f}",
                f"{r['done_after'][p]:.1f}",
                seen,
            ]
        )
    table = results.table(
        [
            "provider",
            "limit",
            "models",
            "work / limit (s)",
            "last answer after (s)",
            "max in flight seen",
        ],
        rows,
    )
    summary = results.table(
        ["", "seconds", "vs bound"],
        [
            ["ideal lower bound", f"{r['bound']:.2f}", ""],
            ["longest single request", f"{r['longest']:.2f}", ""],
            ["first request → last request", f"{r['span']:.2f}", f"+{span_over:.1%}"],
            ["run_bakeoff wall (incl. store, report)", f"{r['wall']:.2f}", f"+{over:.1%}"],
        ],
    )
    return f"{table}\n\n{summary}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=50)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every latency")
    ap.add_argument(
        "--loopback-tasks",
        type=int,
        default=10,
        help="tasks of the second part, shares_machine unset (0 = skip it)",
    )
    ap.add_argument("--loopback-scale", type=float, default=0.25)
    ap.add_argument("--quick", action="store_true", help="20 tasks at half latency; 5 loopback")
    results.add_wait_quiet(ap)
    ap.add_argument("--executor", help="passed to run_bakeoff(executor=...) when given (e.g. ray)")
    args = ap.parse_args()
    if args.quick:
        args.tasks, args.scale, args.loopback_tasks = 20, 0.5, 5
    extra: dict[str, Any] = {"executor": args.executor} if args.executor else {}

    print(f"machine: {results.machine_line()}")
    print(f"CPUs {results.wait_for_quiet(args.wait_quiet):.0%} busy before starting")
    tmp = Path(tempfile.mkdtemp(prefix="bench-scheduling-"))
    try:
        with results.OtherLoad() as load:
            main_run = run_matrix(args.tasks, args.scale, False, tmp, extra)
        print(load.line())
        body = describe(
            main_run,
            f"8 models × {args.tasks} tasks, providers with their own limits "
            "(shares_machine = false)",
        )
        over = main_run["wall"] / main_run["bound"] - 1
        verdict = "met" if over <= 0.05 else "MISSED"
        line = f"run_bakeoff wall is {over:+.1%} over the bound; target <= +5%: {verdict}"
        print(line)
        body = (
            f"8 models × {args.tasks} tasks = {main_run['trials']} trials, one request each; "
            f"{load.line()}.\n\n{body}\n\n{line}"
        )
        if args.loopback_tasks:
            lb = run_matrix(args.loopback_tasks, args.loopback_scale, None, tmp, extra)
            lb_body = describe(
                lb,
                f"the same, shares_machine unset: 8 models × {args.loopback_tasks} tasks, "
                f"latencies × {args.loopback_scale}",
            )
            note = (
                f"With shares_machine unset every loopback provider shares one pool of "
                f"{lb['local_pool_limit']} (the `local` provider's concurrency): wall "
                f"{lb['wall']:.2f} s against a per-provider bound of {lb['bound']:.2f} s "
                f"({lb['wall'] / lb['bound']:.1f}x)."
            )
            print(note)
            body += (
                f"\n\nSame models, shares_machine unset, 8 × {args.loopback_tasks} tasks, "
                f"latencies × {args.loopback_scale}:\n\n{lb_body}\n\n{note}"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results.print_block(
        "2. Scheduling efficiency",
        "python benchmarks/bench_scheduling.py" + (" --quick" if args.quick else ""),
        body,
    )


if __name__ == "__main__":
    main()
