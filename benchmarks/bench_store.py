"""Benchmark 9 — the results store alone: trials written per second.

A real trial of benchmark 1's workload (the 5-turn scripted file agent, run once through
`run_trial`, so the record carries its transcript, diff, timings and kept changes) is written
`--trials` times under distinct keys to a fresh SQLite store on disk, as the runner writes it:
`Store.add_trial` per trial, each in its own committed transaction (redaction, serialisation,
the lean facts, the record and its changes). The time covers only the writes; each round uses a
new store file, best and median of `--rounds` are reported, with the load average around them
(the machine may be shared). The target is ≥ 500 trials/s: a bake-off of zero-latency agents
must not wait on its store.

Run:  .venv/bin/python benchmarks/bench_store.py [--trials 2000] [--rounds 5] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_overhead
import results

from bakeoff.agent import AgentConfig
from bakeoff.evals.store.records import BakeoffSpec, TrialRecord
from bakeoff.evals.store.store import Store
from bakeoff.evals.trial.task import JudgeSpec, TaskSpec
from bakeoff.evals.trial.trial import run_trial
from bakeoff.models.scripted import ScriptedModel

TARGET_PER_S = 500.0


def one_record(root: Path) -> TrialRecord:
    """A trial of benchmark 1's task, run for real (its record as the runner stores it)."""
    folder = root / "task"
    (folder / "files").mkdir(parents=True)
    for name, text in bench_overhead.FIXTURE.items():
        (folder / "files" / name).write_text(text)
    script = root / "model.json"
    script.write_text(json.dumps(bench_overhead.TURNS))
    task = TaskSpec(
        name="store-bench",
        prompt=bench_overhead.PROMPT,
        category="bench",
        difficulty=1,
        judge=JudgeSpec(rubric="notes.txt holds alpha, BETA, gamma."),
        path=folder,
    )
    record = asyncio.run(
        run_trial(task, ScriptedModel(script), 0, run_id="store", agent_config=AgentConfig())
    )
    if record.status == "error" or len(record.agent.transcript) < 5:
        raise SystemExit(f"the sample trial did not run: {record.status} {record.agent.error}")
    return record


def write_round(record: TrialRecord, trials: int, path: Path) -> float:
    """Seconds to store `trials` copies of `record` (one transaction each) in a new store."""
    store = Store(path)
    spec = BakeoffSpec(
        run_id="store", task_paths=[], task_names=[record.task], models=[record.model],
        repeats=trials,
    )  # fmt: skip
    store.create_run(spec)
    copies = [record.model_copy(update={"repeat": k}) for k in range(trials)]
    t0 = time.perf_counter()
    for copy in copies:
        store.add_trial(copy)
    elapsed = time.perf_counter() - t0
    assert len(store.done_keys("store")) == trials
    store.close()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="500 trials, 3 rounds")
    ap.add_argument("--dir", help="where the stores go (default: a temp folder on disk)")
    args = ap.parse_args()
    if args.quick:
        args.trials, args.rounds = 500, 3
    results.guard_network()
    root = Path(tempfile.mkdtemp(prefix="bench-store-", dir=args.dir))
    print(f"machine: {results.machine_line()}")
    try:
        record = one_record(root)
        size = len(record.model_dump_json())
        before = os.getloadavg()[0]
        rates = []
        for k in range(args.rounds):
            elapsed = write_round(record, args.trials, root / f"round-{k}.sqlite")
            rates.append(args.trials / elapsed)
            print(f"round {k + 1}: {args.trials} trials in {elapsed:.2f} s = {rates[-1]:.0f}/s")
        after = os.getloadavg()[0]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    best, median = max(rates), statistics.median(rates)
    verdict = "met" if median >= TARGET_PER_S else "MISSED"
    body = (
        results.table(
            [
                "trials a round",
                "record (KB)",
                "rounds",
                "best (trials/s)",
                "median (trials/s)",
                "µs per trial (median)",
                "load average (1 min) before → after",
            ],
            [
                [
                    f"{args.trials:,}",
                    f"{size / 1024:.1f}",
                    args.rounds,
                    f"{best:.0f}",
                    f"{median:.0f}",
                    f"{1e6 / median:.0f}",
                    f"{before:.1f} → {after:.1f}",
                ]
            ],
        )
        + f"\n\nMedian {median:.0f} trials/s; target ≥ {TARGET_PER_S:.0f}: {verdict}."
    )
    results.print_block(
        "9. The store alone: trials written per second",
        "python benchmarks/bench_store.py" + (" --quick" if args.quick else ""),
        body,
    )


if __name__ == "__main__":
    main()
