"""Which model to use for what, in plain sentences, from a graded ranking: the best quality,
the best value (quality per dollar among acceptable models; a free acceptable model wins), the
fastest acceptable, the best local model and whether it is good enough, and per task category
the cheapest model that clears the bar. A model is acceptable when its mean quality reaches
GradeWeights.quality_bar. A model with too few results for a letter (`ModelSummary.withheld`)
is recommended for nothing, and a local one leaves "good enough" unknown. Pure computation;
`grading.summarize` calls it.

The on-device answer comes from the trial records as well: `local_vs_cloud` sets, per category,
the best local model beside the best cloud model (quality, median time, cost per run), and
`local_speeds` each local model's measured prompt and output tokens/s and time to first token
beside llama.cpp's own figures where they were measured (`LLAMA_CPP_REFERENCE`, one per model
file, found by `llama_cpp_reference`; a model without one gets none, never a neighbour's)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from bakeoff.evals.store.records import GradeWeights
from bakeoff.evals.store.rows import Trial
from bakeoff.evals.store.summary_records import ModelSummary, Recommendation
from bakeoff.models.model_id import name_of


def recommend(
    ranking: Sequence[ModelSummary],
    categories: dict[str, dict[str, float | None]],
    category_cost: dict[str, dict[str, float | None]],
    w: GradeWeights,
) -> Recommendation:
    """The recommendation for a ranking (best first) and its per-category quality and cost."""
    bar = w.quality_bar
    graded = [m for m in ranking if m.quality.value is not None and not m.withheld]
    counted = {m.model for m in graded}
    ok = [m for m in graded if _clears(_q(m), bar)]
    rec = Recommendation()
    notes = rec.notes
    for m in ranking:
        if m.withheld:
            notes.append(f"{m.model} is recommended for nothing: {m.withheld}.")
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
    if local and not any(m.model in counted for m in local):
        rec.best_local = local[0].model  # ran, but nothing graded: good enough stays unknown
    elif local:
        best_local = max((m for m in local if m.model in counted), key=_q)
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


class Contender(BaseModel):
    """One model's showing in one category (infrastructure errors left out)."""

    model: str
    quality: float
    """The category's mean quality, 0..1 (the summary's `categories`)."""
    median_s: float | None
    """Median wall time of its trials in the category."""
    cost_per_run_usd: float | None
    """Mean cost of one trial in the category; None when a price is unknown."""


class LocalVsCloud(BaseModel):
    """The best local and the best cloud model of one category: best quality, then cheaper,
    then faster. Either side is None when no model of that kind was graded there."""

    category: str
    local: Contender | None = None
    cloud: Contender | None = None


def local_vs_cloud(
    ranking: Sequence[ModelSummary],
    categories: dict[str, dict[str, float | None]],
    records: Sequence[Trial],
) -> list[LocalVsCloud]:
    """Per category (sorted by name), the best local model beside the best cloud model; empty
    when the run had no local model or no cloud model."""
    local = {m.model for m in ranking if m.local}
    cloud = {m.model for m in ranking if not m.local}
    if not local or not cloud:
        return []
    out = []
    for category, quals in sorted(categories.items()):
        runs = [r for r in records if r.category == category and r.status != "error"]
        out.append(
            LocalVsCloud(
                category=category,
                local=_best(
                    [
                        _contender(m, q, runs)
                        for m, q in quals.items()
                        if m in local and q is not None
                    ]
                ),
                cloud=_best(
                    [
                        _contender(m, q, runs)
                        for m, q in quals.items()
                        if m in cloud and q is not None
                    ]
                ),
            )
        )
    return out


def _contender(model: str, quality: float, runs: Sequence[Trial]) -> Contender:
    mine = [r for r in runs if r.model == model]
    costs = [r.agent.cost_usd for r in mine]
    return Contender(
        model=model,
        quality=quality,
        median_s=statistics.median(r.agent.duration_s for r in mine) if mine else None,
        cost_per_run_usd=None
        if not costs or any(c is None for c in costs)
        else statistics.fmean(c or 0.0 for c in costs),
    )


def _best(contenders: list[Contender]) -> Contender | None:
    def key(c: Contender) -> tuple[float, float, float]:
        cost = math.inf if c.cost_per_run_usd is None else c.cost_per_run_usd
        return (-c.quality, cost, math.inf if c.median_s is None else c.median_s)

    return min(contenders, key=key) if contenders else None


class LlamaCppReference(BaseModel):
    """llama.cpp's own speed for one GGUF on one machine, measured by its perf counters."""

    prompt_tps: float
    output_tps: float
    machine: str
    measured: str  # date, YYYY-MM-DD
    source: str


LLAMA_CPP_REFERENCE: dict[str, LlamaCppReference] = {
    "qwen2.5-coder-1.5b": LlamaCppReference(
        prompt_tps=18.3,
        output_tps=6.9,
        machine="2-core x86-64 VM, CPU only, 2 threads, n_ctx 8192 (the project's build machine)",
        measured="2026-11-29",
        source="BENCHMARKS.md §4, llama.cpp perf counters, ~1,680-token prompt, 128 output "
        "tokens, one pair (bakeoff's `local` measured the same: 18.4 and 6.9)",
    ),
    "qwen2.5-coder-0.5b": LlamaCppReference(
        prompt_tps=168.7,
        output_tps=37.7,
        machine="2-core x86-64 VM, CPU only, 2 threads, n_ctx 8192 (the project's build machine)",
        measured="2026-11-25",
        source="BENCHMARKS.md §4, llama.cpp perf counters, ~1,680-token prompt, 128 output tokens",
    ),
}
"""Measured reference figures, one per model file, keyed by a model's full id
(`llamacpp:my-model`) or by the name after the provider, which for the embedded models is the
GGUF key (`qwen2.5-coder-1.5b`) and for a llama.cpp server its model alias or GGUF file name.
Another machine's speed differs: they are labelled with where and when they were measured.
Models missing here show no reference."""


def llama_cpp_reference(
    model_ids: Sequence[str], table: Mapping[str, LlamaCppReference] | None = None
) -> LlamaCppReference | None:
    """The reference of the first of `model_ids` that `table` (default `LLAMA_CPP_REFERENCE`)
    holds by its full id or its name, case-insensitive; never one of a similar name (another
    size or quantisation is another model file)."""
    by_key = {k.lower(): v for k, v in (LLAMA_CPP_REFERENCE if table is None else table).items()}
    for model_id in model_ids:
        for key in (model_id, name_of(model_id)):
            if key and key.lower() in by_key:
                return by_key[key.lower()]
    return None


class LocalSpeed(BaseModel):
    """How fast a local model ran in this bake-off, over its model requests."""

    model: str
    requests: int
    prompt_tps: float | None
    """Input tokens ÷ time to first token, summed over the requests (prompt evaluation as a
    user sees it: HTTP, template, tokenising; tokens served from a prompt cache count too);
    runs whose server did not report every request's tokens are left out."""
    output_tps: float | None
    """Median of the requests' output tokens/s, measured after the first token."""
    ttft_s: float | None
    """Median time to first token."""
    reference: LlamaCppReference | None = None


def local_speeds(ranking: Sequence[ModelSummary], records: Sequence[Trial]) -> list[LocalSpeed]:
    """Each local model's measured speed (in ranking order), with llama.cpp's reference."""
    out = []
    for m in ranking:
        if not m.local:
            continue
        runs = [r for r in records if r.model == m.model and r.status != "error"]
        reqs = [t for r in runs for t in r.agent.requests]
        ttfts = [t.ttft_s for t in reqs if t.ttft_s is not None]
        tps = [t.output_tps for t in reqs if t.output_tps is not None]
        # A run whose server did not report every prompt's tokens would understate the rate.
        timed = [
            r
            for r in runs
            if r.agent.usage.unreported == 0 and any(t.ttft_s for t in r.agent.requests)
        ]
        first = sum(t.ttft_s or 0.0 for r in timed for t in r.agent.requests)
        prompt = sum(r.agent.usage.input_tokens for r in timed)
        ref = llama_cpp_reference([m.model, *dict.fromkeys(r.agent.model for r in runs)])
        out.append(
            LocalSpeed(
                model=m.model,
                requests=len(reqs),
                prompt_tps=prompt / first if first > 0 and prompt else None,
                output_tps=statistics.median(tps) if tps else None,
                ttft_s=statistics.median(ttfts) if ttfts else None,
                reference=ref,
            )
        )
    return out
