"""Which work a verdict compares. A model whose trials errored on some tasks has a mean over
the others only, and those are often the easy ones: ranked on its own mean it would beat a model
that did every task. So the comparison is made on the same work: the *compared tasks* are those
where every graded model has a graded trial; the paired tests and the ranking read only them,
and every other task is *dropped*, with the models and reasons that dropped it. A model whose
planned trials did not all give a result (errors, or never run) is *incomplete*: it is ranked
below every complete model, and when fewer than MIN_GRADED_SHARE of its planned trials gave a
result, it gets no letter and no recommendation. A model's own numbers (quality over its own
tasks, the letter) never depend on who else ran; only the order between models does. Pure
computation over trials; `grading.summarize` calls it."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bakeoff.evals.store.records import BakeoffSpec
from bakeoff.evals.store.rows import Trial

MIN_GRADED_SHARE = 0.8
"""Least share of a model's planned trials that must give a result (not an error, not missing)
for it to get a letter and a recommendation."""
TOO_FEW = "not enough graded trials"
"""What the report says in place of a letter for a model below MIN_GRADED_SHARE."""


@dataclass(frozen=True)
class Coverage:
    """The work a run's verdict compares (module docstring)."""

    compared: tuple[str, ...]
    """Tasks where every graded model has a graded trial, in the run's order."""
    dropped: dict[str, str]
    """Task -> why it is left out of the comparison, in words."""
    planned: dict[str, int]
    """Model -> trials planned for it (tasks x repeats; its trials found, if not in the spec)."""
    missing: dict[str, int]
    """Model -> planned trials with no result: infrastructure errors, or never run."""

    def share(self, model: str) -> float:
        """The share of `model`'s planned trials that gave a result."""
        planned = self.planned.get(model, 0)
        return 1.0 if planned == 0 else 1.0 - self.missing.get(model, 0) / planned

    def enough(self, model: str) -> bool:
        """Whether `model` gave a result on at least MIN_GRADED_SHARE of its planned trials."""
        return self.share(model) >= MIN_GRADED_SHARE - 1e-9

    def withheld(self, model: str) -> str:
        """Why `model` has no letter ("" when it has one)."""
        if self.enough(model):
            return ""
        done = self.planned[model] - self.missing[model]
        return (
            f"{TOO_FEW}: {done} of {self.planned[model]} planned trials gave a result "
            f"(needs {MIN_GRADED_SHARE:.0%})"
        )


def coverage(
    spec: BakeoffSpec,
    records: Sequence[Trial],
    quality: Mapping[str, Mapping[str, float]],
) -> Coverage:
    """The coverage of a run: `quality` holds each model's graded tasks (model -> task ->
    mean quality); models with no graded task at all (a run without checks or judges) do not
    narrow the compared tasks."""
    by_model: dict[str, list[Trial]] = {m: [] for m in spec.models}
    for r in records:
        by_model.setdefault(r.model, []).append(r)
    planned = {
        m: len(spec.task_names) * spec.repeats if m in spec.models else len(rs)
        for m, rs in by_model.items()
    }
    valid = {m: sum(1 for r in rs if r.status != "error") for m, rs in by_model.items()}
    missing = {m: max(0, planned[m] - valid[m]) for m in by_model}
    graded = [m for m, rs in by_model.items() if quality.get(m) and valid[m]]
    order = list(dict.fromkeys([*spec.task_names, *(r.task for r in records)]))
    compared = tuple(t for t in order if graded and all(t in quality[m] for m in graded))
    dropped = {}
    for task in order:
        if task in compared or not graded:
            continue
        why = [_why(m, task, by_model[m]) for m in graded if task not in quality[m]]
        dropped[task] = "; ".join(why)
    return Coverage(compared, dropped, planned, missing)


def _why(model: str, task: str, records: Sequence[Trial]) -> str:
    """Why `model` has no graded trial of `task`, e.g. "a: 2 errors (connection refused)"."""
    mine = [r for r in records if r.task == task]
    errors = [r for r in mine if r.status == "error"]
    if not mine:
        return f"{model}: never ran"
    if errors:
        reasons: Counter[str] = Counter(r.reason for r in errors if r.reason)
        reason = f" ({reasons.most_common(1)[0][0]})" if reasons else ""
        n = len(errors)
        return f"{model}: {n} error{'s' if n != 1 else ''}{reason}"
    return f"{model}: no check or judge score"


def restrict(
    means: Mapping[str, Mapping[str, float]], tasks: Sequence[str]
) -> dict[str, dict[str, float]]:
    """`means` (model -> task -> value) over `tasks` only."""
    keep = set(tasks)
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for model, per_task in means.items():
        out[model] = {t: v for t, v in per_task.items() if t in keep}
    return dict(out)
