"""Terminal output with rich: one agent run, the model list, and (for bake-offs) the
comparison table. Everything goes to stdout through one Console so `--json` modes stay clean."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from bakeoff.types import AgentResult

console = Console(highlight=False)


def fmt_cost(cost: float | None) -> str:
    if cost is None:
        return "unknown"
    if cost == 0:
        return "$0"
    return f"${cost:.4f}" if cost < 1 else f"${cost:.2f}"


def print_agent_result(r: AgentResult) -> None:
    title = f"{r.model} — {'ok' if r.ok else r.stop_reason}"
    console.print(Panel(r.answer or "[dim](no answer)[/dim]", title=title, expand=False))
    if r.error:
        console.print(f"[red]error:[/red] {r.error}")
    u = r.usage
    ttfts = [q.ttft_s for q in r.requests if q.ttft_s is not None]
    tps = [q.output_tps for q in r.requests if q.output_tps]
    console.print(
        f"turns {r.turns} · tool calls {r.tool_calls} · tokens in {u.input_tokens} "
        f"(cached {u.cached_tokens}) out {u.output_tokens} (reasoning {u.reasoning_tokens}) · "
        f"cost {fmt_cost(r.cost_usd)}"
    )
    line = (
        f"time {r.duration_s:.2f} s (model {r.model_time_s:.2f} s, tools {r.tool_time_s:.3f} s, "
        f"waiting {r.wait_time_s:.2f} s)"
    )
    if r.warmup_s:
        line += f" · model load {r.warmup_s:.1f} s"
    if ttfts:
        line += f" · median TTFT {statistics.median(ttfts):.2f} s"
    if tps:
        line += f" · {statistics.median(tps):.1f} tok/s"
    console.print(line)


def print_models(infos: Sequence[Any]) -> None:
    table = Table(title="Models")
    for col in ("id", "aliases", "price in/out per Mtok", "usable now"):
        table.add_column(col)
    for i in infos:
        price = i.price
        price_text = (
            f"${price.input:g} / ${price.output:g}" if price is not None else
            ("$0 (local)" if getattr(i, "local", False) else "unknown")
        )
        usable = "[green]yes[/green]" if i.usable else f"[yellow]no[/yellow] — {i.why_not}"
        table.add_row(i.id, ", ".join(i.aliases), price_text, usable)
    console.print(table)
