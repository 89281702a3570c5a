"""From trial records to the bake-off's verdict: a quality score per trial (checks and judges,
by the stated weights), a ModelSummary per contestant with confidence intervals, speed and cost
relative to the field, an overall score and its letter, paired tests that say which models
cannot be told apart, how far the judges can be trusted, and a recommendation in plain
sentences. Pure computation over records; the runner and the reports call `summarize`. The
paired tests and judge checks live in `compare`; `same_family` is re-exported from there.

Formulas (also printed with every report through GradeWeights):
- trial quality = (w.check * check + w.judge * judge) / (w.check + w.judge) over the parts the
  trial has, where check = tests passed / tests total when known, else 1 or 0, and judge = the
  judges' mean overall score / 10. A trial with neither part is left out of quality means.
- speed and cost are scored on a log scale, because models differ by orders of magnitude:
  score = max(0, 1 - log10(x / best) / decades). speed: x = median wall time, best = the
  fastest median in the field (1 ms floor), 2 decades (100x slower scores 0, 10x slower 0.5).
  cost: x = cost per trial, best = the cheapest non-zero cost per trial, 3 decades (1000x
  pricier scores 0, 10x pricier 0.67); a model that costs $0 scores 1.0, tying with the
  cheapest paid one instead of sinking every paid model to 0. Unknown cost: no cost_score.
- overall = (w.quality * quality + w.speed * speed + w.cost * cost) / (sum of the weights of the
  parts present); a model without any graded trial gets no overall (speed alone is no grade)."""

from __future__ import annotations

import itertools
import math
import statistics
from collections import defaultdict
from collections.abc import Sequence

from bakeoff.evals import stats
from bakeoff.evals.compare import (
    judge_reliability,
    judge_tests,
    pair_sentence,
    paired_tests,
    same_family,
)

__all__ = ["LETTER_BANDS", "letter", "same_family", "summarize", "trial_quality"]
from bakeoff.evals.records import (
    BakeoffSpec,
    BakeoffSummary,
    GradeWeights,
    Interval,
    ModelSummary,
    PairVerdict,
    PairwiseTest,
    Recommendation,
    TrialRecord,
)
from bakeoff.types import Usage

LETTER_BANDS: tuple[tuple[str, float], ...] = (
    ("S", 0.90),
    ("A", 0.80),
    ("B", 0.70),
    ("C", 0.60),
    ("D", 0.50),
    ("F", 0.0),
)
"""Letter and the lowest score that earns it, best first."""
_MIN_SECONDS = 1e-3  # scripted runs can take ~0 s; below a millisecond, times are noise


def letter(score: float | None) -> str:
    """S/A/B/C/D/F for a 0..1 score by LETTER_BANDS; "-" when there is no score to grade."""
    if score is None:
        return "-"
    for name, floor in LETTER_BANDS:
        if score >= floor - 1e-9:  # 0.7 computed as 0.6999999 is still a B
            return name
    return "F"


def trial_quality(record: TrialRecord, weights: GradeWeights) -> float | None:
    """0..1 quality of one trial from its check and judges (module docstring), or None."""
    check: float | None = None
    if record.check is not None:
        c = record.check
        if c.tests_total and c.tests_passed is not None:
            check = c.tests_passed / c.tests_total
        else:
            check = 1.0 if c.passed else 0.0
    judge = None if record.judge_overall is None else record.judge_overall / 10
    return _weighted([(weights.check, check), (weights.judge, judge)])


def summarize(
    spec: BakeoffSpec,
    records: Sequence[TrialRecord],
    pair_verdicts: Sequence[PairVerdict] = (),
    *,
    local_models: set[str] | frozenset[str] = frozenset(),
) -> BakeoffSummary:
    """Grade every model of `spec` (and any other model found in `records`) and compare them."""
    w = spec.weights
    by_model: dict[str, list[TrialRecord]] = {m: [] for m in spec.models}
    for r in records:
        by_model.setdefault(r.model, []).append(r)
    summaries = [_model_summary(m, rs, w, m in local_models) for m, rs in by_model.items()]
    _relative_scores(summaries, w)
    ranking = sorted(summaries, key=_rank_key)
    names = [m.model for m in ranking]
    categories, category_cost = _categories(records, w)
    pairwise = paired_tests(names, records, lambda r: trial_quality(r, w))
    pairwise += judge_tests(names, pair_verdicts)
    judging = judge_reliability(spec.judges, records, pair_verdicts, names)
    for m in ranking:
        m.same_family_judges = [j for j in judging.judges if same_family(j, m.model)]

    planned = {(t, m, k) for t in spec.task_names for m in spec.models for k in range(spec.repeats)}
    missing = len(planned - {r.key for r in records})
    notes = []
    if missing:
        notes.append(
            f"{missing} of {len(planned)} planned trials are missing (interrupted or over "
            "budget); every number covers only the trials that ran."
        )
    for m in ranking:
        ungraded = sum(1 for r in by_model[m.model] if trial_quality(r, w) is None)
        if ungraded:
            notes.append(
                f"{m.model}: {ungraded} of {m.runs} trials had neither a check nor a judge "
                "score and are left out of its quality."
            )
        if m.cost_usd is None:
            notes.append(
                f"{m.model}: some prices are unknown, so its cost is shown as unknown and its "
                "overall score leaves cost out."
            )
    for judge, models in judging.same_family.items():
        notes.append(
            f"Judge {judge} is of the same family as {', '.join(models)}; its scores for "
            "them may be biased."
        )
    return BakeoffSummary(
        run_id=spec.run_id,
        spec=spec,
        ranking=ranking,
        pairwise=pairwise,
        recommendation=_recommend(ranking, pairwise, categories, category_cost, w),
        judging=judging,
        categories=categories,
        missing=missing,
        notes=notes,
    )


def _weighted(parts: Sequence[tuple[float, float | None]]) -> float | None:
    """Weighted mean over the parts that have a value and a positive weight, or None."""
    present = [(weight, v) for weight, v in parts if v is not None and weight > 0]
    total = sum(weight for weight, _ in present)
    return sum(weight * v for weight, v in present) / total if total > 0 else None


def _interval(values: Sequence[float]) -> Interval:
    if not values:
        return Interval()
    mean, low, high = stats.bootstrap_ci(values)
    return Interval(value=mean, low=low, high=high)


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _model_summary(
    model: str, records: Sequence[TrialRecord], w: GradeWeights, local: bool
) -> ModelSummary:
    checked = [r for r in records if r.check is not None]
    passed = sum(1 for r in checked if r.check is not None and r.check.passed)
    judged = [j for r in records if (j := r.judge_overall) is not None]
    quality = [q for r in records if (q := trial_quality(r, w)) is not None]
    costs = [r.agent.cost_usd for r in records]
    cost = None if any(c is None for c in costs) else sum(c for c in costs if c is not None)
    usage = Usage()
    for r in records:
        usage = usage + r.agent.usage
    pass_rate = Interval()
    if checked:
        low, high = stats.wilson_interval(passed, len(checked))
        pass_rate = Interval(value=passed / len(checked), low=low, high=high)
    quality_iv = _interval(quality)
    return ModelSummary(
        model=model,
        provider=records[0].agent.provider if records else model.partition(":")[0],
        local=local,
        runs=len(records),
        completed=sum(1 for r in records if r.status == "completed"),
        checked=len(checked),
        passed=passed,
        pass_rate=pass_rate,
        judge_score=_interval(judged),
        quality=quality_iv,
        median_s=_median([r.agent.duration_s for r in records]),
        median_model_s=_median([r.agent.model_time_s for r in records]),
        median_tool_s=_median([r.agent.tool_time_s for r in records]),
        median_wait_s=_median([r.agent.wait_time_s + r.slot_wait_s for r in records]),
        warmup_s=max((r.agent.warmup_s for r in records), default=0.0),
        usage=usage,
        cost_usd=cost,
        cost_per_solved_usd=cost / passed if cost is not None and passed else None,
        quality_grade=letter(quality_iv.value),
    )


def _per_trial_cost(m: ModelSummary) -> float | None:
    return None if m.cost_usd is None or not m.runs else m.cost_usd / m.runs


SPEED_DECADES = 2.0
COST_DECADES = 3.0


def _log_score(value: float, best: float, decades: float) -> float:
    return max(0.0, 1.0 - math.log10(value / best) / decades)


def _relative_scores(summaries: Sequence[ModelSummary], w: GradeWeights) -> None:
    """Fill speed_score, cost_score, overall and grade (formulas in the module docstring)."""
    medians = [max(m.median_s, _MIN_SECONDS) for m in summaries if m.median_s is not None]
    paid = [c for m in summaries if (c := _per_trial_cost(m)) is not None and c > 0]
    for m in summaries:
        if m.median_s is not None:
            m.speed_score = _log_score(max(m.median_s, _MIN_SECONDS), min(medians), SPEED_DECADES)
        cost = _per_trial_cost(m)
        if cost is not None:
            m.cost_score = 1.0 if cost <= 0 else _log_score(cost, min(paid), COST_DECADES)
        if m.quality.value is not None:
            m.overall = _weighted(
                [(w.quality, m.quality.value), (w.speed, m.speed_score), (w.cost, m.cost_score)]
            )
        m.grade = letter(m.overall)


def _rank_key(m: ModelSummary) -> tuple[bool, float, bool, float, str]:
    """Best overall first, then best quality; unscored models last, by name for stability."""
    return (
        m.overall is None,
        -(m.overall or 0.0),
        m.quality.value is None,
        -(m.quality.value or 0.0),
        m.model,
    )


def _categories(
    records: Sequence[TrialRecord], w: GradeWeights
) -> tuple[dict[str, dict[str, float | None]], dict[str, dict[str, float | None]]]:
    """Per category and model: mean quality, and cost per trial (None when a price is unknown)."""
    groups: dict[str, dict[str, list[TrialRecord]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        groups[r.category][r.model].append(r)
    means: dict[str, dict[str, float | None]] = {}
    costs: dict[str, dict[str, float | None]] = {}
    for category, models in sorted(groups.items()):
        means[category], costs[category] = {}, {}
        for model, rs in models.items():
            qs = [q for r in rs if (q := trial_quality(r, w)) is not None]
            means[category][model] = statistics.fmean(qs) if qs else None
            cs = [r.agent.cost_usd for r in rs]
            known = [c for c in cs if c is not None]
            costs[category][model] = sum(known) / len(cs) if len(known) == len(cs) else None
    return means, costs


def _recommend(
    ranking: Sequence[ModelSummary],
    pairwise: Sequence[PairwiseTest],
    categories: dict[str, dict[str, float | None]],
    category_cost: dict[str, dict[str, float | None]],
    w: GradeWeights,
) -> Recommendation:
    """Which model to use for what; a model is acceptable when its mean quality reaches the bar."""
    bar = w.quality_bar
    graded = [m for m in ranking if m.quality.value is not None]
    ok = [m for m in graded if _clears(_q(m), bar)]
    rec = Recommendation()
    notes = rec.notes
    if graded:
        best = max(graded, key=_q)  # first of equals in ranking order: the better overall
        rec.best_quality = best.model
        if not ok:
            notes.append(
                f"No model reached the quality bar of {bar:.2f}; the best was {best.model} "
                f"at {_q(best):.2f}."
            )
    priced = [(m, c) for m in ok if (c := _per_trial_cost(m)) is not None]
    free = [m for m, c in priced if c <= 0]
    if free:
        value = max(free, key=_q)
        rec.best_value = value.model
        notes.append(
            f"{value.model} clears the quality bar ({_q(value):.2f} >= {bar:.2f}) at $0 per "
            "run, so it is the best value whatever the others cost."
        )
    elif priced:
        rec.best_value = max(priced, key=lambda mc: _q(mc[0]) / mc[1])[0].model
    timed = [m for m in ok if m.median_s is not None]
    if timed:
        rec.fastest_acceptable = min(timed, key=lambda m: m.median_s or 0.0).model
    local = [m for m in ranking if m.local]
    if local and not any(m.quality.value is not None for m in local):
        rec.best_local = local[0].model  # ran, but nothing graded: good enough stays unknown
    elif local:
        best_local = max(local, key=_q)
        rec.best_local = best_local.model
        rec.local_good_enough = _clears(_q(best_local), bar)
        verdict = "is good enough" if rec.local_good_enough else "falls short"
        notes.append(
            f"The best local model, {best_local.model}, {verdict}: quality "
            f"{_q(best_local):.2f} against a bar of {bar:.2f}."
        )
    for category, models in categories.items():
        fit = [m for m, q in models.items() if q is not None and _clears(q, bar)]
        costs = category_cost[category]
        # $0 first, then cheapest known, unknown cost last; equal cost: better quality first.
        fit.sort(key=lambda m: (*_cost_rank(costs[m]), -(models[m] or 0.0), m))
        rec.per_category[category] = fit[0] if fit else None
    for upper, lower in itertools.pairwise(ranking):
        notes.extend(
            pair_sentence(t)
            for t in pairwise
            if (t.model_a, t.model_b) == (upper.model, lower.model)
        )
    return rec


def _clears(quality: float, bar: float) -> bool:
    return quality >= bar - 1e-9  # a mean of 0.7 summed in floats must still clear a 0.7 bar


def _q(m: ModelSummary) -> float:
    return m.quality.value if m.quality.value is not None else float("-inf")


def _cost_rank(cost: float | None) -> tuple[int, float]:
    if cost is None:
        return (2, 0.0)
    return (0, 0.0) if cost <= 0 else (1, cost)
