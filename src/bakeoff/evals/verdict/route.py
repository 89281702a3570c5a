"""The router (`bakeoff route "PROMPT"`, MCP `route_task`): which model should take the next task,
from the evidence of stored runs. For the task's category (given, or read from the prompt's
words against the categories the store holds; else every category, said so), every stored
trial of every run that a check or a judge graded is pooled per model: a model's quality is the
mean over tasks of its mean over trials (the report's measure), with the report's interval
(`stats.mean_interval`, tasks as n). A model *clears* `min_quality` only when the interval's low
end does; of those, the cheapest (mean cost per trial, unknown prices last) or the fastest
(median time per trial) is the answer. When no model clears it with confidence the answer is
"not enough evidence", with what each model showed — never a guess.

Infrastructure errors are not evidence (they are left out, as in grades); a trial of the model's
own failure (timeout, wrong answer) counts as what it scored."""

from __future__ import annotations

import math
import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from bakeoff.evals.store.records import GradeWeights
from bakeoff.evals.store.rows import TrialRow
from bakeoff.evals.store.store import Store
from bakeoff.evals.verdict.stats import mean_interval
from bakeoff.evals.verdict.trial_quality import trial_quality

RouteBy = Literal["cost", "speed"]
MIN_TASKS = 3
"""Tasks a model needs in the category before its interval is trusted at all."""
_HINTS = {
    "bugfix": r"\b(fix\w*|bug\w*|broken|crash\w*|wrong|fail\w*)\b",
    "refactor": r"\b(refactor\w*|rename\w*|extract\w*|clean\w*|simplif\w*)\b",
    "implement": r"\b(implement\w*|add\w*|create\w*|write|build)\b",
    "feature": r"\b(add\w*|implement\w*|support\w*|new)\b",
    "answer": r"\b(what|which|how many|count|find|answer)\b",
}


@dataclass(frozen=True)
class Evidence:
    """What the store shows of one model in the category."""

    model: str
    tasks: int
    trials: int
    runs: int
    quality: float
    low: float
    high: float
    cost_per_trial: float | None
    median_s: float

    def line(self) -> str:
        cost = "cost unknown" if self.cost_per_trial is None else f"${self.cost_per_trial:.4f}/task"
        return (
            f"{self.model}: quality {self.quality:.2f} [{self.low:.2f}, {self.high:.2f}] on "
            f"{self.tasks} tasks ({self.trials} trials, {self.runs} runs), {cost}, "
            f"median {self.median_s:.1f} s"
        )


@dataclass
class Route:
    """The answer: the model (None when the evidence does not decide), why, and the evidence."""

    model: str | None
    category: str | None
    reason: str
    evidence: list[Evidence] = field(default_factory=list)
    category_guessed: bool = False

    def public(self) -> dict[str, object]:
        return {
            "model": self.model,
            "category": self.category,
            "category_guessed": self.category_guessed,
            "reason": self.reason,
            "evidence": [e.__dict__ for e in self.evidence],
        }


def guess_category(prompt: str, known: Iterable[str]) -> str | None:
    """The stored category the prompt names, or whose words it uses; None when none fits."""
    known = sorted(set(known))
    lowered = prompt.lower()
    for category in known:
        if re.search(rf"\b{re.escape(category.lower())}\b", lowered):
            return category
    for category in known:
        hint = _HINTS.get(category)
        if hint and re.search(hint, lowered):
            return category
    return None


def stored_rows(store: Store) -> list[tuple[str, TrialRow]]:
    """(run id, row) for every trial of every readable run."""
    out: list[tuple[str, TrialRow]] = []
    for run in store.list_runs():
        if run.get("damaged"):
            continue
        run_id = str(run["run_id"])
        out += [(run_id, row) for row in store.trial_rows(run_id)]
    return out


def evidence(
    rows: Sequence[tuple[str, TrialRow]], category: str | None, weights: GradeWeights
) -> list[Evidence]:
    """Each model's pooled record in `category` (every category when None)."""
    per_task: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    costs: dict[str, list[float | None]] = defaultdict(list)
    times: dict[str, list[float]] = defaultdict(list)
    runs: dict[str, set[str]] = defaultdict(set)
    for run_id, row in rows:
        if row.status == "error" or (category is not None and row.category != category):
            continue
        quality = trial_quality(row, weights)
        if quality is None or not math.isfinite(quality):
            continue
        per_task[row.model][row.task].append(quality)
        costs[row.model].append(row.agent.cost_usd)
        times[row.model].append(row.agent.duration_s)
        runs[row.model].add(run_id)
    out = []
    for model, tasks in per_task.items():
        means = [statistics.fmean(v) for v in tasks.values()]
        value, low, high = mean_interval(means)
        known = costs[model]
        cost = None if any(c is None for c in known) else statistics.fmean(c or 0.0 for c in known)
        out.append(
            Evidence(
                model=model,
                tasks=len(tasks),
                trials=sum(map(len, tasks.values())),
                runs=len(runs[model]),
                quality=value,
                low=low,
                high=high,
                cost_per_trial=cost,
                median_s=statistics.median(times[model]),
            )
        )
    return sorted(out, key=lambda e: -e.low)


def route(
    store: Store,
    prompt: str,
    *,
    category: str | None = None,
    min_quality: float = 0.8,
    by: RouteBy = "cost",
    weights: GradeWeights | None = None,
) -> Route:
    """The model to send `prompt` to, by the stored evidence (module docstring)."""
    rows = stored_rows(store)
    if not rows:
        return Route(None, category, f"no stored runs in {store.path}: run a bake-off first")
    guessed = category is None
    if category is None:
        category = guess_category(prompt, {row.category for _, row in rows})
    found = evidence(rows, category, weights or GradeWeights())
    where = f"category {category!r}" if category else "all categories"
    if not found:
        return Route(None, category, f"no graded trials in {where}", [], guessed)
    trusted = [e for e in found if e.tasks >= MIN_TASKS]
    clear = [e for e in trusted if e.low >= min_quality]
    if not clear:
        best = found[0]
        why = (
            f"not enough evidence: no model's quality in {where} clears {min_quality:g} with "
            f"95% confidence (best: {best.line()})"
        )
        return Route(None, category, why, found, guessed)
    if by == "speed":
        pick = min(clear, key=lambda e: e.median_s)
        how = f"the fastest (median {pick.median_s:.1f} s)"
    else:
        pick = min(clear, key=lambda e: (e.cost_per_trial is None, e.cost_per_trial or 0.0))
        how = "the cheapest" if pick.cost_per_trial is not None else "cost unknown for all of them"
    why = (
        f"{pick.model}: {how} of {len(clear)} model(s) whose quality in {where} clears "
        f"{min_quality:g} with 95% confidence ({pick.line()})"
    )
    return Route(pick.model, category, why, found, guessed)
