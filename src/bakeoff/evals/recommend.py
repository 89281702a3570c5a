"""Which model to use for what, in plain sentences, from a graded ranking: the best quality,
the best value (quality per dollar among acceptable models; a free acceptable model wins), the
fastest acceptable, the best local model and whether it is good enough, and per task category
the cheapest model that clears the bar. A model is acceptable when its mean quality reaches
GradeWeights.quality_bar. Pure computation; `grading.summarize` calls it."""

from __future__ import annotations

from collections.abc import Sequence

from bakeoff.evals.records import GradeWeights, ModelSummary, Recommendation


def recommend(
    ranking: Sequence[ModelSummary],
    categories: dict[str, dict[str, float | None]],
    category_cost: dict[str, dict[str, float | None]],
    w: GradeWeights,
) -> Recommendation:
    """The recommendation for a ranking (best first) and its per-category quality and cost."""
    bar = w.quality_bar
    graded = [m for m in ranking if m.quality.value is not None]
    ok = [m for m in graded if _clears(_q(m), bar)]
    rec = Recommendation()
    notes = rec.notes
    if graded:
        best = max(graded, key=_q)  # first of equals in ranking order
        rec.best_quality = best.model
        if not ok:
            notes.append(
                f"No model reached the quality bar of {bar:.2f}; the best was {best.model} "
                f"at {_q(best):.2f}."
            )
        top = [m.model for m in graded if m.tier is not None and m.tier == graded[0].tier]
        if len(top) > 1:
            notes.append(
                f"The tests cannot tell the top {len(top)} apart on quality ({', '.join(top)}); "
                "they are ordered by overall score, where speed and cost count."
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
    return rec


def _per_trial_cost(m: ModelSummary) -> float | None:
    return None if m.cost_usd is None or not m.runs else m.cost_usd / m.runs


def _clears(quality: float, bar: float) -> bool:
    return quality >= bar - 1e-9  # a mean of 0.7 summed in floats must still clear a 0.7 bar


def _q(m: ModelSummary) -> float:
    return m.quality.value if m.quality.value is not None else float("-inf")


def _cost_rank(cost: float | None) -> tuple[int, float]:
    if cost is None:
        return (2, 0.0)
    return (0, 0.0) if cost <= 0 else (1, cost)
