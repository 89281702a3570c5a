"""From trial records to the bake-off's verdict: a ModelSummary per contestant with honest
intervals, speed and cost scores and a letter against absolute bands, a ranking that puts
quality first, paired tests that say which models cannot be told apart, how far the judges can
be trusted, and a recommendation in plain sentences. Pure computation over records;
`outcomes.build_outcome` calls `summarize` for the runner and every report. Each trial's score
comes from `trial_quality`, the letters and band scores from `letters`; the tests, tiers and
letter groups live in `compare`.

Formulas (also printed with every report through GradeWeights and GradeBands):
- The task is the unit: a model's quality, pass rate and judge score are means over tasks of
  each task's mean over its repeats (trial quality: `trial_quality`; a trial with neither a
  check nor a judge score is left out of quality means), with a continuity-corrected Wilson
  interval over tasks. Trials that ended in an infrastructure error (status "error") count
  nowhere; a model with no other trial is not ranked but listed in `unranked`.
- speed = band score (`letters.band_score`) of the median wall time; cost = band score of the
  cost per solved task (cost / solved, solved = passed checks plus the judged quality of
  trials without a check); $0 scores 1; an unknown price or nothing solved scores 0, never as
  free.
- overall = quality * (w.quality + w.speed * speed + w.cost * cost) / (w.quality + w.speed +
  w.cost): speed and cost can pull a score below quality, never above it. Letter: the letter
  the overall reaches, capped by the solved rate (`letters.capped`): never better than the
  letter the share of checked tasks solved outright (every test passing) earns; the letter
  partial credit alone would give is kept beside it. A model's overall and letter depend on
  no other contestant.
- ranking: on the same work (`coverage`): by quality over the compared tasks, where every
  graded model has a graded trial, complete models first, then incomplete ones (trials errored
  or missing); within each, the tests cut that order into tiers (`compare.tiers`), and within
  a tier models go by overall, so speed and cost order only models whose quality cannot be
  told apart. A model a test says is better ranks above, unless it is incomplete and the other
  is not. Models with no graded trial come last. Below MIN_GRADED_SHARE of its planned trials
  a model gets no letter and no recommendation. A run with --until-decided takes its quality
  tests from the sequential test over its looks (`sequential`), and a note says how it went."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bakeoff.evals.store.records import BakeoffSpec, GradeWeights, PairVerdict, error_kind
from bakeoff.evals.store.rows import Trial
from bakeoff.evals.store.summary_records import (
    BakeoffSummary,
    CostSource,
    Interval,
    ModelSummary,
    PairwiseTest,
    UnrankedModel,
)
from bakeoff.evals.verdict import stats
from bakeoff.evals.verdict.compare import (
    compact_letters,
    flip,
    judge_reliability,
    judge_tests,
    paired_tests,
    resolution,
    same_family,
    task_means,
    tiers,
    winners_first,
)
from bakeoff.evals.verdict.coverage import Coverage, coverage, restrict
from bakeoff.evals.verdict.letters import band_score, capped, letter
from bakeoff.evals.verdict.recommend import recommend
from bakeoff.evals.verdict.sequential import replay
from bakeoff.evals.verdict.trial_quality import injected, judge_score, trial_quality
from bakeoff.models.model_id import provider_of
from bakeoff.types import Usage, total_cost

__all__ = ["summarize"]


def summarize(
    spec: BakeoffSpec,
    records: Sequence[Trial],
    pair_verdicts: Sequence[PairVerdict] = (),
    *,
    local_models: set[str] | frozenset[str] = frozenset(),
) -> BakeoffSummary:
    """Grade every model of `spec` (and any other model found in `records`) and compare them.
    `records` may be full records or the store's lean rows (`Store.trial_rows`): the numbers
    are the same."""
    w = spec.weights
    by_model: dict[str, list[Trial]] = {m: [] for m in spec.models}
    for r in records:
        by_model.setdefault(r.model, []).append(r)
    scored = {id(r): trial_quality(r, w) for r in records}

    def quality_of(r: Trial) -> float | None:
        return scored[id(r)]

    quality = task_means(records, quality_of)
    means = _Means(
        quality=quality,
        passes=task_means(records, lambda r: None if r.passed is None else float(r.passed)),
        judge=task_means(records, judge_score),
    )
    cov = coverage(spec, records, quality)
    summaries = [
        _model_summary(m, rs, w, m in local_models, means, quality_of, cov)
        for m, rs in by_model.items()
    ]
    compared = restrict(quality, cov.compared) if cov.compared else quality
    # --until-decided: the verdicts are the sequential test's, replayed from the repeats.
    until = replay(spec, records, quality_of) if spec.until_decided is not None else None
    ranking, tests = _rank(
        [s for s in summaries if s.runs], compared, paired_tests if until is None else until.tests
    )
    names = [m.model for m in ranking]
    pairwise = tests + judge_tests(names, pair_verdicts)
    judging = judge_reliability(spec.judges, records, pair_verdicts, names)
    for m in ranking:
        m.same_family_judges = [j for j in judging.judges if same_family(j, m.model)]
    categories, category_cost = _categories(records, quality)
    for m in ranking:  # too few results: no recommendation, in any category either
        if m.withheld:
            for per_model in categories.values():
                per_model.pop(m.model, None)

    planned = {(t, m, k) for t in spec.task_names for m in spec.models for k in range(spec.repeats)}
    missing = len(planned - {r.key for r in records})
    notes = _coverage_notes(ranking, cov)
    if until is not None:
        notes.append(until.note())
    if missing:
        notes.append(
            f"{missing} of {len(planned)} planned trials are missing (interrupted or over "
            "budget); every number covers only the trials that ran."
        )
    for m in ranking:
        ungraded = sum(
            1 for r in by_model[m.model] if r.status != "error" and quality_of(r) is None
        )
        if ungraded:
            notes.append(
                f"{m.model}: {ungraded} of {m.runs} trials had neither a check nor a judge "
                "score and are left out of its quality."
            )
        if m.cost_usd is None:
            notes.append(
                f"{m.model}: some prices are unknown, so its cost shows as unknown and its "
                "grade scores cost as the most expensive band, never as free."
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
        unranked=[_unranked(m, rs) for m, rs in by_model.items() if not _valid(rs)],
        pairwise=pairwise,
        recommendation=recommend(ranking, categories, category_cost, w),
        judging=judging,
        categories=categories,
        missing=missing,
        internal_errors=_internal(records),
        resolution=resolution(tests, compared, spec.repeats),
        notes=notes,
        compared_tasks=list(cov.compared),
        dropped_tasks=cov.dropped,
    )


def _coverage_notes(ranking: Sequence[ModelSummary], cov: Coverage) -> list[str]:
    """Sentences on the work compared: tasks dropped and why, incomplete models, withheld
    letters."""
    notes = []
    if cov.dropped:
        n = len(cov.compared)
        notes.append(
            f"Models are compared on the {n} task{'s' if n != 1 else ''} where every graded "
            f"model has a graded trial; {len(cov.dropped)} dropped: "
            + "; ".join(f"{t} ({why})" for t, why in cov.dropped.items())
        )
    for m in ranking:
        if m.missing:
            notes.append(
                f"{m.model} is incomplete: {m.missing} of {m.planned} planned trials gave no "
                "result, so it ranks below every complete model"
                + (f" and has no letter ({m.withheld})." if m.withheld else ".")
            )
    return notes


@dataclass(frozen=True)
class _Means:
    """Per model and task, the means of quality, pass (0/1) and the judges' score."""

    quality: Mapping[str, Mapping[str, float]]
    passes: Mapping[str, Mapping[str, float]]
    judge: Mapping[str, Mapping[str, float]]


def _valid(records: Sequence[Trial]) -> list[Trial]:
    return [r for r in records if r.status != "error"]


def _unranked(model: str, records: Sequence[Trial]) -> UnrankedModel:
    reasons = Counter(r.reason for r in records if r.reason)
    reason = reasons.most_common(1)[0][0] if reasons else "no trial ran"
    return UnrankedModel(
        model=model, reason=reason, errors=len(records), internal_errors=_internal(records)
    )


def _internal(records: Sequence[Trial]) -> int:
    """Trials that bakeoff's own bugs ended (`error_kind`): counted apart, to be reported."""
    return sum(1 for r in records if error_kind(r) == "internal")


def _interval(task_values: Mapping[str, float], lo: float = 0.0, hi: float = 1.0) -> Interval:
    """Mean over tasks with its interval (stats.mean_interval), on a lo..hi scale."""
    if not task_values:
        return Interval()
    values = list(task_values.values())
    unit = [min(1.0, max(0.0, (v - lo) / (hi - lo))) for v in values]
    _, low, high = stats.mean_interval(unit)
    mean = math.fsum(values) / len(values)  # not via the 0..1 scale: 7.0 stays 7.0
    return Interval(
        value=mean, low=min(mean, lo + low * (hi - lo)), high=max(mean, lo + high * (hi - lo))
    )


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _model_summary(
    model: str,
    records: Sequence[Trial],
    w: GradeWeights,
    local: bool,
    means: _Means,
    quality_of: Callable[[Trial], float | None],
    cov: Coverage,
) -> ModelSummary:
    valid = _valid(records)
    checked = [r for r in valid if r.check is not None]
    passed = sum(1 for r in checked if r.passed)
    costs = [r.agent.cost_usd for r in valid]
    cost = total_cost(costs)
    # solved: a passed check counts 1; a trial without a check counts its judged quality.
    solved = passed + math.fsum(
        q for r in valid if r.check is None and (q := quality_of(r)) is not None
    )
    usage = Usage()
    for r in valid:
        usage = usage + r.agent.usage
    quality = _interval(means.quality.get(model, {}))
    median_s = _median([r.agent.duration_s for r in valid])
    b = w.bands
    speed = None if median_s is None else band_score(median_s, b.fast_s, b.slow_s)
    cost_per_solved = cost / solved if cost is not None and solved > 0 else None
    cost_score = (
        0.0
        if cost_per_solved is None
        else band_score(cost_per_solved, b.cheap_usd, b.expensive_usd)
    )
    overall = None
    withheld = cov.withheld(model) if valid else ""
    if quality.value is not None:
        factor = w.quality + w.speed * (speed or 0.0) + w.cost * cost_score
        overall = quality.value * factor / (w.quality + w.speed + w.cost)
    pass_rate = _interval(means.passes.get(model, {}))
    earned = "-" if withheld else letter(overall, b.letters)
    grade = capped(earned, pass_rate.value, b.letters)
    return ModelSummary(
        model=model,
        provider=records[0].agent.provider if records else provider_of(model),
        local=local,
        runs=len(valid),
        tasks=len(means.quality.get(model, {})),
        completed=sum(1 for r in valid if r.status in ("passed", "failed")),
        timeouts=sum(1 for r in valid if r.status == "timeout"),
        errors=len(records) - len(valid),
        internal_errors=_internal(records),
        checked=len(checked),
        passed=passed,
        pass_rate=pass_rate,
        judge_score=_interval(means.judge.get(model, {}), 1.0, 10.0),
        quality=quality,
        median_s=median_s,
        median_model_s=_median([r.agent.model_time_s for r in valid]),
        median_tool_s=_median([r.agent.tool_time_s for r in valid]),
        median_wait_s=_median([r.agent.wait_time_s + r.slot_wait_s for r in valid]),
        warmup_s=max((r.agent.warmup_s for r in valid), default=0.0),
        usage=usage,
        cost_usd=cost,
        cost_per_solved_usd=cost_per_solved,
        speed_score=speed,
        cost_score=cost_score,
        overall=overall,
        grade=grade,
        quality_grade="-"
        if withheld
        else capped(letter(quality.value, b.letters), pass_rate.value, b.letters),
        partial_credit_grade=earned if earned != grade else "-",
        planned=cov.planned.get(model, 0),
        missing=cov.missing.get(model, 0),
        withheld=withheld,
        injections=sum(1 for r in valid if injected(r)),
        cost_source=_cost_source(cost),
    )


def _cost_source(cost: float | None) -> CostSource:
    if cost is None:
        return "unknown"
    return "free" if cost == 0 else "price table"


def _rank(
    summaries: Sequence[ModelSummary],
    quality: Mapping[str, Mapping[str, float]],
    test: Callable[[list[str], Mapping[str, Mapping[str, float]]], list[PairwiseTest]],
) -> tuple[list[ModelSummary], list[PairwiseTest]]:
    """The ranking (module docstring) from `quality` over the compared tasks, and the quality
    tests, each oriented so that A is the better-ranked model; fills each model's tier and
    letter group. Complete models come first, then incomplete ones (`coverage`). `test` makes
    the quality tests: `compare.paired_tests`, or a run's sequential test (`sequential`)."""

    def compared_mean(m: ModelSummary) -> float:
        values = list(quality.get(m.model, {}).values())
        return math.fsum(values) / len(values) if values else (m.quality.value or 0.0)

    graded = sorted(
        (m for m in summaries if m.quality.value is not None),
        key=lambda m: (-compared_mean(m), m.model),
    )
    ungraded = sorted((m for m in summaries if m.quality.value is None), key=lambda m: m.model)
    by_name = {m.model: m for m in graded}
    tests = test([m.model for m in graded], quality)
    names: list[str] = []
    tier_no = 0
    for group in ([m for m in graded if not m.missing], [m for m in graded if m.missing]):
        ordered: list[str] = []
        for tier in tiers([m.model for m in group], tests):
            tier_no += 1
            members = sorted(
                (by_name[x] for x in tier),
                key=lambda m: (-(m.overall or 0.0), -compared_mean(m), m.model),
            )
            for m in members:
                m.tier = tier_no
            ordered += [m.model for m in members]
        names += winners_first(ordered, tests)
    letters = compact_letters(names, tests)
    for name in names:
        by_name[name].group = letters[name]
    position = {name: i for i, name in enumerate(names)}
    oriented = [flip(t) if position[t.model_a] > position[t.model_b] else t for t in tests]
    return [by_name[n] for n in names] + ungraded, oriented


def _categories(
    records: Sequence[Trial], quality: Mapping[str, Mapping[str, float]]
) -> tuple[dict[str, dict[str, float | None]], dict[str, dict[str, float | None]]]:
    """Per category and model: mean over tasks of quality (`quality`: model -> task -> mean),
    and cost per valid trial (None when a price is unknown)."""
    cats = {r.task: r.category for r in records}
    means: dict[str, dict[str, float | None]] = {}
    costs: dict[str, dict[str, float | None]] = {}
    for category in sorted(set(cats.values())):
        means[category], costs[category] = {}, {}
        valid = [r for r in _valid(records) if r.category == category]
        for model in dict.fromkeys(r.model for r in valid):
            qs = [q for t, q in quality.get(model, {}).items() if cats[t] == category]
            means[category][model] = statistics.fmean(qs) if qs else None
            cs = [r.agent.cost_usd for r in valid if r.model == model]
            total = total_cost(cs)
            costs[category][model] = None if total is None else total / len(cs)
    return means, costs
