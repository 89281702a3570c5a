"""Benchmark — the portable llama.cpp build against a native one, on the same machine.

`make install` builds llama.cpp for a baseline CPU (x86-64-v3: AVX2, FMA, F16C; no AVX-512, no
AMX), so it runs wherever it is copied. A build with `-march=native` may be faster on the build
host and dies with SIGILL elsewhere. This measures what the portable build costs: the same GGUF
(Qwen2.5-Coder-1.5B Q4), the same prompt (~600 tokens, a fresh nonce each time), 64 output tokens,
greedy, 2 threads, through `llama_cpp.Llama` in a child process of each interpreter, llama.cpp's
own perf counters (prompt-eval and eval time). The two builds alternate; median of --reps.

    .venv/bin/python benchmarks/bench_portable_build.py --native-python /tmp/native/bin/python
    # the native interpreter, once (about 5 minutes on 2 cores):
    python3 -m venv /tmp/native && CMAKE_ARGS=-DGGML_NATIVE=ON /tmp/native/bin/pip install \\
        --no-cache-dir --no-binary llama-cpp-python llama-cpp-python==0.3.36
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import results

CHILD = r"""
import json, sys, time, llama_cpp
path, nonce, threads, gen = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
llm = llama_cpp.Llama(path, n_ctx=4096, n_threads=threads, n_threads_batch=threads, verbose=False)
body = "".join(f"def f{i}(x):\n    return x * {i} + {i % 7}\n\n" for i in range(40))
prompt = f"# {nonce}\n{body}\n# Write a docstring for f3.\n"
llama_cpp.llama_perf_context_reset(llm._ctx.ctx)
llm(prompt, max_tokens=gen, temperature=0.0)
perf = llama_cpp.llama_perf_context(llm._ctx.ctx)
print(json.dumps({
    "prompt_tps": perf.n_p_eval / (perf.t_p_eval_ms / 1000),
    "output_tps": perf.n_eval / (perf.t_eval_ms / 1000),
    "prompt_tokens": perf.n_p_eval, "output_tokens": perf.n_eval,
    "system": llama_cpp.llama_print_system_info().decode(),
}))
"""


def measure(python: str, gguf: Path, threads: int, gen: int) -> dict[str, object]:
    """One generation's figures, or `{"crashed": returncode}` when the build dies (a native build
    on a CPU whose AMX the kernel does not grant, for one)."""
    done = subprocess.run(
        [python, "-c", CHILD, str(gguf), uuid.uuid4().hex, str(threads), str(gen)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if done.returncode != 0:
        return {"crashed": done.returncode}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--native-python", required=True, help="an interpreter with a native build")
    parser.add_argument("--portable-python", default=sys.executable)
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--gen", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from bakeoff.models.embedded import ensure_gguf

    gguf = ensure_gguf(args.model)
    runs: dict[str, list[dict[str, object]]] = {"portable": [], "native": []}
    for rep in range(args.reps):
        for side, python in (("portable", args.portable_python), ("native", args.native_python)):
            result = measure(python, gguf, args.threads, args.gen)
            runs[side].append(result)
            if "crashed" in result:
                print(f"rep {rep + 1} {side:8} died: exit {result['crashed']}", flush=True)
                continue
            print(
                f"rep {rep + 1} {side:8} prompt {result['prompt_tps']:7.1f} tok/s  "
                f"output {result['output_tps']:6.1f} tok/s",
                flush=True,
            )
    rows = []
    for side, measured in runs.items():
        ran = [r for r in measured if "crashed" not in r]
        if not ran:
            rows.append((side, f"died every time (exit {measured[0]['crashed']})", "", ""))
            continue
        prompt = statistics.median(float(str(r["prompt_tps"])) for r in ran)
        output = statistics.median(float(str(r["output_tps"])) for r in ran)
        rows.append((side, f"{prompt:.1f}", f"{output:.1f}", f"`{ran[0]['system']}`"))
    results.print_block(
        "8. A portable embedded build",
        f"python benchmarks/bench_portable_build.py --native-python {args.native_python}",
        results.table(["build", "prompt tok/s (median)", "output tok/s (median)", "system"], rows)
        + f"\n\n{args.model}, {args.threads} threads, {args.gen} output tokens, "
        f"{args.reps} alternating repetitions.",
    )


if __name__ == "__main__":
    main()
