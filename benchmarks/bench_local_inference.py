"""Benchmark 4 — local inference: the `local` path against llama.cpp's own figures.

Both sides run the same GGUF (`--model`: Qwen2.5-Coder-1.5B-Instruct Q4 by default, assembled by
`bakeoff.models.embedded.ensure_gguf`), the same thread counts, context size and batch size, on
the same machine, with the same chat messages and the server's default sampling settings:

- bakeoff: `EmbeddedModel` (the `local` provider) starts its llama.cpp server subprocess and
  `complete()` streams the answer through the OpenAI adapter. Output tokens/s is bakeoff's own
  `RequestTiming.output_tps`; prompt tokens/s is `usage.input_tokens / ttft_s`, i.e. as a user
  sees it (HTTP, chat template, tokenization, prompt evaluation and the first token).
- llama.cpp: `llama_cpp.Llama(model_path, n_threads, n_threads_batch, n_ctx)` in this process,
  `create_chat_completion(..., stream=True)` on the same messages, with llama.cpp's perf
  counters (`llama_perf_context`: prompt-eval and eval time and token counts) reset before each
  request. Its wall-clock equivalents (measured like bakeoff's) are shown beside them.
- Between the two: the same llama.cpp counters as bakeoff's server printed them to its log for
  each request (llama-cpp-python prints them after every completion), which tells time spent
  inside llama.cpp from time spent around it (HTTP, streaming, parsing).

Each request starts with a fresh random nonce, so neither side reuses a cached prompt prefix.
Requests alternate between the two sides; the median of --reps is reported. llama.cpp's speed
depends on the CPUs being free: the script waits (up to --wait-quiet s) for other processes to
leave the CPUs idle before each pair of requests, and a pair during which other processes
used more than 10% of the CPUs is discarded and run again.

Run:  .venv/bin/python benchmarks/bench_local_inference.py [--reps 3] [--gen 128] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import results

DEFAULT_MODEL = "qwen2.5-coder-1.5b"
# llama-cpp-python's server defaults for a chat request that sets none (bakeoff sets none).
SERVER_SAMPLING = {
    "temperature": 0.8,
    "top_p": 0.95,
    "top_k": 40,
    "min_p": 0.05,
    "repeat_penalty": 1.1,
}


def context_code(n_functions: int) -> str:
    """A deterministic Python module to put in the prompt (about 25 tokens per function)."""
    return "".join(
        f"def combine_{i}(a: int, b: int) -> int:\n"
        f'    """Combine a and b, variant {i}."""\n'
        f"    return a * {i} + b - {i % 7}\n\n"
        for i in range(n_functions)
    )


def messages(code: str) -> list[dict[str, str]]:
    return [
        {
            "role": "system",
            "content": f"[{uuid.uuid4().hex}] You are a careful Python engineer.",
        },
        {
            "role": "user",
            "content": f"Here is a module:\n\n```python\n{code}```\n\n"
            "Write unit tests with pytest for every function in it.",
        },
    ]


def direct_request(llm: Any, msgs: list[dict[str, str]], n_gen: int) -> dict[str, float]:
    import llama_cpp

    llama_cpp.llama_perf_context_reset(llm._ctx.ctx)
    t0 = time.perf_counter()
    first: float | None = None
    chunks = 0
    for chunk in llm.create_chat_completion(msgs, max_tokens=n_gen, stream=True, **SERVER_SAMPLING):
        if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
            chunks += 1
            first = first if first is not None else time.perf_counter() - t0
    end = time.perf_counter() - t0
    perf = llama_cpp.llama_perf_context(llm._ctx.ctx)
    assert first is not None
    return {
        "prompt_tokens": perf.n_p_eval,
        "output_tokens": chunks,
        "pp_tps": perf.n_p_eval / (perf.t_p_eval_ms / 1000),
        "tg_tps": perf.n_eval / (perf.t_eval_ms / 1000),
        "wall_pp_tps": perf.n_p_eval / first,
        "wall_tg_tps": chunks / (end - first),
        "ttft_s": first,
        "latency_s": end,
    }


PERF_PROMPT = re.compile(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens")
PERF_EVAL = re.compile(r"\seval time =\s*([\d.]+) ms /\s*(\d+) runs")


def server_perf(log: Path, seen: int, wait_s: float = 3.0) -> tuple[int, dict[str, float]]:
    """llama.cpp's perf counters as the embedded server printed them for its latest request
    (llama-cpp-python prints them to its log after each completion): (blocks seen, figures)."""
    deadline = time.monotonic() + wait_s
    while True:
        text = log.read_text(errors="replace") if log.exists() else ""
        prompts, evals = PERF_PROMPT.findall(text), PERF_EVAL.findall(text)
        if len(evals) > seen or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if len(evals) <= seen or not prompts:
        return len(evals), {}
    (p_ms, p_n), (e_ms, e_n) = prompts[-1], evals[-1]
    return len(evals), {
        "server_pp_tps": int(p_n) / (float(p_ms) / 1000),
        "server_tg_tps": int(e_n) / (float(e_ms) / 1000),
    }


async def bakeoff_request(model: Any, msgs: list[dict[str, str]], n_gen: int) -> dict[str, Any]:
    from bakeoff.types import Message

    conversation = [Message(role=m["role"], content=m["content"]) for m in msgs]  # type: ignore[arg-type]
    log = model.server.log_path
    seen, _ = server_perf(log, 10**9, wait_s=0)
    completion = await model.complete(conversation, [], max_output_tokens=n_gen)
    _, inside = server_perf(log, seen)
    t = completion.timing
    u = completion.usage
    return {
        "prompt_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "pp_tps": (u.input_tokens / t.ttft_s) if (u.input_tokens and t.ttft_s) else None,
        "tg_tps": t.output_tps,
        "ttft_s": t.ttft_s,
        "latency_s": t.latency_s,
        "text": completion.message.content,
        **inside,
    }


def add_server_args(extra: list[str]) -> None:
    """Append `extra` to the embedded server's command line (for experiments only)."""
    import subprocess

    real = subprocess.Popen

    def popen(args: Any, *a: Any, **kw: Any) -> Any:
        if isinstance(args, list) and "--model_alias" in args:
            args = [*args, *extra]
        return real(args, *a, **kw)

    subprocess.Popen = popen  # type: ignore[assignment, misc]


def median(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else None


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    import llama_cpp

    from bakeoff.config import BakeoffConfig, LocalConfig
    from bakeoff.models.embedded import EmbeddedModel, ensure_gguf
    from bakeoff.models.local_server import _default_threads

    threads = args.threads or _default_threads()
    # The server's default n_threads_batch is every CPU; --threads-batch sets both sides.
    threads_batch = args.threads_batch or max(multiprocessing.cpu_count(), 1)
    gguf = ensure_gguf(args.model)
    config = BakeoffConfig(local=LocalConfig(model=args.model, threads=threads, n_ctx=args.ctx))
    model = EmbeddedModel(args.model, config)
    model.server.log_path = Path(tempfile.mkdtemp(prefix="bench-local-")) / "server.log"
    code = context_code(args.functions)

    t0 = time.perf_counter()
    load_s = await model.start()
    print(f"bakeoff: embedded server up in {load_s:.1f} s ({time.perf_counter() - t0:.1f} s)")
    t0 = time.perf_counter()
    llm = llama_cpp.Llama(
        model_path=str(gguf),
        n_threads=threads,
        n_threads_batch=threads_batch,
        n_ctx=args.ctx,
        verbose=False,
    )
    print(f"llama.cpp: Llama loaded in {time.perf_counter() - t0:.1f} s")

    # One warm-up request each (page cache, first-call allocations), not counted.
    await bakeoff_request(model, messages(code), 8)
    direct_request(llm, messages(code), 8)

    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, float]] = []
    others: list[float] = []
    discarded = 0
    server_pid = model.server._proc.pid if model.server._proc else 0
    while len(ours) < args.reps and discarded < 3 * args.reps:
        # Each pair starts on idle CPUs; a pair during which other processes used more than
        # 10% of the CPUs is thrown away and run again.
        results.wait_for_quiet(args.wait_quiet)
        with results.OtherLoad((server_pid,)) as load:
            o = await bakeoff_request(model, messages(code), args.gen)
            d = direct_request(llm, messages(code), args.gen)
        clean = load.share < 0.10
        print(
            f"{'pair' if clean else 'DISCARDED pair'}: bakeoff {o['prompt_tokens']} prompt tok, "
            f"pp {o['pp_tps'] or 0:.1f} tok/s, {o['output_tokens']} out tok, tg "
            f"{o['tg_tps'] or 0:.1f} tok/s (inside its server: pp "
            f"{o.get('server_pp_tps', 0):.1f}, tg {o.get('server_tg_tps', 0):.1f}) | llama.cpp "
            f"{d['prompt_tokens']} prompt tok, pp "
            f"{d['pp_tps']:.1f} tok/s (wall {d['wall_pp_tps']:.1f}), {d['output_tokens']} out "
            f"tok, tg {d['tg_tps']:.1f} tok/s (wall {d['wall_tg_tps']:.1f}) | other processes "
            f"{load.share:.0%} of the CPUs"
        )
        if clean:
            ours.append(o)
            theirs.append(d)
            others.append(load.share)
        else:
            discarded += 1
    if not ours:
        raise SystemExit("no clean pair: other processes kept the CPUs busy throughout")
    await model.aclose()
    model.server.stop()
    shutil.rmtree(model.server.log_path.parent, ignore_errors=True)
    del llm
    return {
        "threads": threads,
        "threads_batch": threads_batch,
        "ours": ours,
        "theirs": theirs,
        "load_s": load_s,
        "others": others,
        "discarded": discarded,
        "sample": ours[-1]["text"][:160],
        "server_log": str(model.server.log_path),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"embedded model key (default {DEFAULT_MODEL}; qwen2.5-coder-0.5b is the other)",
    )
    ap.add_argument("--gen", type=int, default=128, help="max output tokens per request")
    ap.add_argument("--functions", type=int, default=40, help="functions in the prompt's module")
    ap.add_argument("--threads", type=int, help="default: what `local` uses (CPUs, at most 8)")
    ap.add_argument(
        "--threads-batch", type=int, help="prompt threads, both sides (default: every CPU)"
    )
    ap.add_argument("--ctx", type=int, default=8192, help="context size (the `local` default)")
    results.add_wait_quiet(ap)
    ap.add_argument("--quick", action="store_true", help="1 rep, 48 tokens, shorter prompt")
    ap.add_argument(
        "--server-args",
        default="",
        help="experiment: extra arguments for the embedded server, e.g. '--logits_all false'",
    )
    args = ap.parse_args()
    if args.quick:
        args.reps, args.gen, args.functions = 1, 48, 20
    extra = args.server_args.split()
    if args.threads_batch:
        extra += ["--n_threads_batch", str(args.threads_batch)]
    if extra:
        add_server_args(extra)

    print(f"machine: {results.machine_line()}")
    busy = results.wait_for_quiet(args.wait_quiet)
    print(f"CPUs {busy:.0%} busy before starting (load average {os.getloadavg()[0]:.2f})")
    out = asyncio.run(measure(args))
    ours, theirs = out["ours"], out["theirs"]
    pp, tg = median(ours, "pp_tps"), median(ours, "tg_tps")
    ref_pp, ref_tg = median(theirs, "pp_tps"), median(theirs, "tg_tps")
    wall_pp, wall_tg = median(theirs, "wall_pp_tps"), median(theirs, "wall_tg_tps")
    assert ref_pp and ref_tg and wall_pp and wall_tg

    def pct(x: float | None, ref: float) -> str:
        return "n/a" if x is None else f"{x / ref:.0%}"

    def fmt(x: float | None) -> str:
        return "n/a (not reported)" if x is None else f"{x:.1f}"

    in_pp, in_tg = median(ours, "server_pp_tps"), median(ours, "server_tg_tps")
    rows = [
        [
            "prompt tokens/s",
            fmt(pp),
            fmt(in_pp),
            f"{ref_pp:.1f}",
            f"{wall_pp:.1f}",
            pct(pp, ref_pp),
        ],
        [
            "output tokens/s",
            fmt(tg),
            fmt(in_tg),
            f"{ref_tg:.1f}",
            f"{wall_tg:.1f}",
            pct(tg, ref_tg),
        ],
    ]
    body = (
        f"GGUF {args.model} Q4, n_threads {out['threads']}, n_threads_batch "
        f"{out['threads_batch']}, n_ctx {args.ctx}, n_batch 512, CPU only ({results.gpu_note()}); "
        f"prompt ≈{median(theirs, 'prompt_tokens'):.0f} tokens, up to {args.gen} output tokens "
        f"(bakeoff got {median(ours, 'output_tokens'):.0f}, llama.cpp "
        f"{median(theirs, 'output_tokens'):.0f}), median of {args.reps}; "
        f"other processes used at most {max(out['others']):.0%} of the CPUs during a counted "
        f"pair ({out['discarded']} pairs discarded for load above 10%)."
        + (
            f" Server started with extra arguments `{args.server_args}`."
            if args.server_args
            else ""
        )
        + "\n\n"
        + results.table(
            [
                "",
                "bakeoff `local` (EmbeddedModel)",
                "llama.cpp counters inside that server",
                "llama.cpp perf counters",
                "llama.cpp wall clock",
                "bakeoff / llama.cpp",
            ],
            rows,
        )
    )
    verdicts = []
    for name, x, ref in (("prompt", pp, ref_pp), ("output", tg, ref_tg)):
        verdict = "n/a" if x is None else ("met" if x / ref >= 0.9 else "MISSED")
        verdicts.append(
            f"{name} tokens/s at {pct(x, ref)} of llama.cpp's; target >= 90%: {verdict}"
        )
    for v in verdicts:
        print(v)
    body += "\n\n" + "\n".join(f"- {v}" for v in verdicts)
    print(f"sample answer: {out['sample']!r}")
    results.print_block(
        "4. Local inference",
        "python benchmarks/bench_local_inference.py"
        + (" --quick" if args.quick else "")
        + (f" --server-args '{args.server_args}'" if args.server_args else ""),
        body,
    )


if __name__ == "__main__":
    main()
