"""Two stored runs side by side: for each model (by the name it is shown under), its change in
quality, pass rate, median time and cost per trial from run A to run B, and whether the quality
change is more than noise. The test is the same one a run uses between models: an exact (or
sampled) sign-flip test on the per-task quality differences over the tasks both runs graded,
Holm-corrected across the models compared, so a field of unchanged models rarely shows even one
false "changed"."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel

from bakeoff.evals.store.rows import Trial
from bakeoff.evals.store.summary_records import BakeoffSummary, ModelSummary
from bakeoff.evals.verdict import stats
from bakeoff.evals.verdict.compare import SIGNIFICANCE, task_means
from bakeoff.evals.verdict.trial_quality import trial_quality

Change = Literal["better", "worse", "no detectable change", "not comparable"]


class ModelChange(BaseModel):
    """One model's numbers in run A and run B; `*_change` is B minus A (None where either is
    unknown). `p_value` is Holm-adjusted; `change` reads it at SIGNIFICANCE."""

    model: str
    in_a: bool
    in_b: bool
    quality_a: float | None = None
    quality_b: float | None = None
    quality_change: float | None = None
    pass_rate_a: float | None = None
    pass_rate_b: float | None = None
    pass_rate_change: float | None = None
    median_s_a: float | None = None
    median_s_b: float | None = None
    median_s_change: float | None = None
    cost_per_trial_a: float | None = None
    cost_per_trial_b: float | None = None
    cost_per_trial_change: float | None = None
    shared_tasks: int = 0
    p_value: float | None = None
    change: Change = "not comparable"


def _minus(b: float | None, a: float | None) -> float | None:
    return None if a is None or b is None else b - a


def _per_trial(m: ModelSummary | None) -> float | None:
    if m is None or m.cost_usd is None or not m.runs:
        return None
    return m.cost_usd / m.runs


def compare_runs(
    a: tuple[BakeoffSummary, Sequence[Trial]],
    b: tuple[BakeoffSummary, Sequence[Trial]],
) -> list[ModelChange]:
    """Every model of either run (run A's order first), compared as the module says."""
    (sa, ra), (sb, rb) = a, b
    qa = task_means(ra, lambda r: trial_quality(r, sa.spec.weights))
    qb = task_means(rb, lambda r: trial_quality(r, sb.spec.weights))
    by_a = {m.model: m for m in sa.ranking}
    by_b = {m.model: m for m in sb.ranking}
    names = list(dict.fromkeys([*sa.spec.models, *by_a, *sb.spec.models, *by_b]))
    changes: list[ModelChange] = []
    diffs: list[list[float]] = []
    tested: list[int] = []
    for name in names:
        ma, mb = by_a.get(name), by_b.get(name)
        shared = sorted(set(qa.get(name, {})) & set(qb.get(name, {})))
        change = ModelChange(
            model=name,
            in_a=name in sa.spec.models,
            in_b=name in sb.spec.models,
            quality_a=None if ma is None else ma.quality.value,
            quality_b=None if mb is None else mb.quality.value,
            pass_rate_a=None if ma is None else ma.pass_rate.value,
            pass_rate_b=None if mb is None else mb.pass_rate.value,
            median_s_a=None if ma is None else ma.median_s,
            median_s_b=None if mb is None else mb.median_s,
            cost_per_trial_a=_per_trial(ma),
            cost_per_trial_b=_per_trial(mb),
            shared_tasks=len(shared),
        )
        change.quality_change = _minus(change.quality_b, change.quality_a)
        change.pass_rate_change = _minus(change.pass_rate_b, change.pass_rate_a)
        change.median_s_change = _minus(change.median_s_b, change.median_s_a)
        change.cost_per_trial_change = _minus(change.cost_per_trial_b, change.cost_per_trial_a)
        if shared:
            tested.append(len(changes))
            diffs.append([qb[name][t] - qa[name][t] for t in shared])
        changes.append(change)
    adjusted = stats.holm(stats.sign_flip_ps(diffs)) if diffs else []
    for index, p, d in zip(tested, adjusted, diffs, strict=True):
        c = changes[index]
        c.p_value = p
        total = sum(d)
        if p < SIGNIFICANCE and total != 0:
            c.change = "better" if total > 0 else "worse"
        else:
            c.change = "no detectable change"
    return changes


def changes_public(run_a: str, run_b: str, changes: Sequence[ModelChange]) -> dict[str, Any]:
    """The `compare --json` object: both run ids, the test, and one entry per model."""
    return {
        "run_a": run_a,
        "run_b": run_b,
        "test": "sign-flip on per-task quality differences over shared tasks, Holm-corrected "
        f"across models, alpha {SIGNIFICANCE:g}",
        "models": [c.model_dump() for c in changes],
    }
