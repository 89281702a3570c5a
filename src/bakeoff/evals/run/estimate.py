"""What a bake-off would run and roughly cost, before anything runs (`bakeoff run --dry-run`):
the trials (tasks × models × repeats) and judges, and for each model a token and cost range
from the past trials of the same tasks by the same model in the store — per task, the fewest
and the most tokens one valid trial used, times the repeats, summed over the tasks that have
history, and priced at today's price (`models.prices`, applied to each trial's whole usage: a
long-context tier is a per-request price, so a range, not a bill). A model or task with no
history says so, and the price per Mtok is shown instead. Reads the store and stores no run
(opening a writable store of an older layout migrates it, as every command does); reaches no
model."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bakeoff.config import BakeoffConfig
from bakeoff.errors import UserError
from bakeoff.evals.store.store import Store
from bakeoff.models.model_id import ModelId
from bakeoff.models.prices import Price
from bakeoff.types import Usage


@dataclass(frozen=True)
class Span:
    """The fewest and the most of something over a range of outcomes."""

    low: float
    high: float


@dataclass
class ModelEstimate:
    """One model's share of a planned bake-off."""

    model: str
    """As the run's reports would name it (`model_names.model_labels`)."""
    model_id: str
    trials: int
    price: Price | None
    tokens: Span | None = None
    """Input + output tokens of all its trials; None with no history."""
    cost_usd: Span | None = None
    """None with no history, or when its price is unknown."""
    past_trials: int = 0
    tasks_without_history: list[str] = field(default_factory=list)


def estimate(
    tasks: Sequence[str],
    models: Sequence[tuple[str, str]],
    repeats: int,
    store: Store | None,
    config: BakeoffConfig,
) -> list[ModelEstimate]:
    """An estimate per model of `models` ((as shown, stored id)) for `tasks` × `repeats`, from
    the past valid trials in `store` (None: no store yet, so no history)."""
    history = _history(store, set(tasks), {m for _, m in models})
    out = []
    for shown, model_id in models:
        price = ModelId.stored(model_id, config).price
        one = ModelEstimate(shown, model_id, len(tasks) * repeats, price)
        lows: list[tuple[int, float | None]] = []
        highs: list[tuple[int, float | None]] = []
        for task in tasks:
            past = history.get((task, model_id), [])
            if not past:
                one.tasks_without_history.append(task)
                continue
            one.past_trials += len(past)
            priced = sorted(((u.input_tokens + u.output_tokens, _cost(price, u)) for u in past),
                            key=lambda p: p[0])  # fmt: skip
            lows.append(priced[0])
            highs.append(priced[-1])
        if lows:
            one.tokens = Span(repeats * sum(t for t, _ in lows), repeats * sum(t for t, _ in highs))
            costs = [c for _, c in lows + highs]
            if all(c is not None for c in costs):
                low = [c for _, c in lows if c is not None]
                high = [c for _, c in highs if c is not None]
                one.cost_usd = Span(repeats * sum(low), repeats * sum(high))
        out.append(one)
    return out


def _cost(price: Price | None, usage: Usage) -> float | None:
    return None if price is None else price.cost(usage)


def _history(
    store: Store | None, tasks: set[str], models: set[str]
) -> dict[tuple[str, str], list[Usage]]:
    """(task, model) -> the usage of each past valid (not errored) trial of it in `store`."""
    found: dict[tuple[str, str], list[Usage]] = {}
    if store is None:
        return found
    for run in store.list_runs():
        if run.get("damaged"):
            continue
        run_id = str(run["run_id"])
        spec = store.get_spec(run_id)
        if not tasks & set(spec.task_names) or not models & set(spec.models):
            continue
        for row in store.trial_rows(run_id):
            wanted = row.task in tasks and row.model in models and row.status != "error"
            if wanted and row.agent.usage.known:  # an unreported usage is no measure
                found.setdefault((row.task, row.model), []).append(row.agent.usage)
    return found


def describe(
    estimates: Sequence[ModelEstimate], tasks: Sequence[str], repeats: int, judges: Sequence[str]
) -> list[str]:
    """The dry run's lines: the plan, then one line a model."""
    trials = sum(e.trials for e in estimates)
    shown = ", ".join(tasks[:8]) + (f", ... ({len(tasks)} in all)" if len(tasks) > 8 else "")
    lines = [
        f"Dry run: {_n(len(tasks), 'task')} × {_n(len(estimates), 'model')} × "
        f"{_n(repeats, 'repeat')} = {_n(trials, 'trial')} (nothing is run, reached or stored)",
        f"  tasks: {shown}",
    ]
    if judges:
        lines.append(f"  judges: {', '.join(judges)} (each gives {trials} verdicts, not estimated)")
    width = max(len(e.model) for e in estimates)
    for e in estimates:
        price = "price unknown" if e.price is None else e.price.describe()
        if e.tokens is None:
            lines.append(f"  {e.model:<{width}}  {_n(e.trials, 'trial')}  no history; {price}")
            continue
        cost = "cost unknown (no price)" if e.cost_usd is None else _span_usd(e.cost_usd)
        missing = (
            f"; {len(e.tasks_without_history)} of {len(tasks)} tasks have no history, not counted"
            if e.tasks_without_history
            else ""
        )
        lines.append(
            f"  {e.model:<{width}}  {_n(e.trials, 'trial')}  {_span_tokens(e.tokens)} tokens, "
            f"{cost} (from {_n(e.past_trials, 'past trial')}{missing})"
        )
    return lines


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _span_tokens(span: Span) -> str:
    def short(n: float) -> str:
        return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e3 else f"{n:.0f}"

    return short(span.low) if span.low == span.high else f"{short(span.low)}-{short(span.high)}"


def _span_usd(span: Span) -> str:
    if span.low == span.high:
        return f"${span.low:.4f}"
    return f"${span.low:.4f}-${span.high:.4f}"


def dry_run(
    targets: Sequence[str],
    models: Sequence[str],
    *,
    judges: Sequence[str],
    repeats: int,
    patterns: Sequence[str],
    category: str | None,
    files: Path | None,
    quick: bool,
    store_path: Path,
    config: BakeoffConfig,
) -> list[str]:
    """The lines `bakeoff run --dry-run` prints for this run: its tasks chosen as the run would
    (a prompt's ad-hoc task made in a temporary folder), every model id resolved (an unknown
    one raises, as the run would), history read from `store_path` if it exists."""
    from bakeoff.evals.run.runner import parse_models
    from bakeoff.evals.run.selection import select_tasks
    from bakeoff.evals.verdict.model_names import model_labels

    if not models:
        raise UserError("no models given: pass --models ID,ID,... (see `bakeoff models`)")
    with tempfile.TemporaryDirectory(prefix="bakeoff-dry-run-") as scratch:
        chosen = select_tasks(
            targets, patterns=patterns, category=category, files=files, adhoc_root=Path(scratch)
        )
    if quick:
        chosen = [t for t in chosen if "quick" in t.tags]
    if not chosen:
        raise UserError("no tasks to run")
    names = [t.name for t in chosen]
    parsed = parse_models(list(dict.fromkeys(models)), config)
    parse_models(judges, config)  # an unknown judge is refused here, as by the run
    labels = model_labels(parsed)  # named as the run's reports would name them
    ids = [(labels[stored], stored) for stored in dict.fromkeys(str(m) for m in parsed)]
    store = Store(store_path) if store_path.is_file() else None
    try:
        return describe(estimate(names, ids, repeats, store, config), names, repeats, judges)
    finally:
        if store is not None:
            store.close()
