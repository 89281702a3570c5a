"""The records of a whole bake-off's verdict: `BakeoffSummary`, everything a report shows —
each model's `ModelSummary` (with its `Interval`s) or why it is unranked (`UnrankedModel`), the
`PairwiseTest`s between models, the `Recommendation`, how far the judges can be trusted
(`JudgeReliability`, `JudgeSummary`, and each judge's `JudgeCalibration` before the run) and
what the run could tell apart (`Resolution`). The graders compute them from the per-trial
records in `evals/store/records.py`. Pure data shared by the graders, the store and the
reports; it imports nothing but other data shapes and does no I/O."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from bakeoff.evals.store.records import BakeoffSpec
from bakeoff.types import Usage
from bakeoff.weights import Grade


class Interval(BaseModel):
    """A point estimate with its 95% confidence interval (None where it cannot be computed)."""

    value: float | None = None
    low: float | None = None
    high: float | None = None


CostSource = Literal["price table", "free", "unknown"]
"""Where a model's cost comes from: tokens x the price table (a local model's configured $/hour
included), a scripted or unpriced-free model's $0, or unknown (never shown as $0)."""


class ModelSummary(BaseModel):
    """One contestant across all its trials."""

    model: str
    provider: str
    local: bool = False
    runs: int = 0  # valid trials: every one but the errors
    tasks: int = 0  # tasks with a graded valid trial: the n behind the quality interval
    completed: int = 0  # agent runs that ended with an answer (not a limit or an error)
    timeouts: int = 0  # trials where the model ran out of its own time, turns or cost cap
    errors: int = 0  # infrastructure errors: not in `runs`, nor in any number below
    internal_errors: int = 0  # of `errors`, those bakeoff's own bugs caused (`error_kind`)
    checked: int = 0  # runs graded by a deterministic check
    passed: int = 0
    # Means over tasks of each task's mean over repeats; intervals: continuity-corrected Wilson
    # with the number of tasks as n (stats.mean_interval), so they never collapse to 0 width.
    pass_rate: Interval = Field(default_factory=Interval)  # 0..1
    judge_score: Interval = Field(default_factory=Interval)  # 1..10
    quality: Interval = Field(default_factory=Interval)  # 0..1
    median_s: float | None = None
    median_model_s: float | None = None
    median_tool_s: float | None = None
    median_wait_s: float | None = None
    warmup_s: float = 0.0
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float | None = 0.0  # None: some price unknown
    cost_per_solved_usd: float | None = None
    speed_score: float | None = None  # 0..1, median time against the bands
    cost_score: float | None = None  # 0..1, cost per solved task against the bands
    overall: float | None = None  # 0..1: quality scaled by speed and cost (GradeWeights)
    grade: Grade = "-"  # letter of `overall`, capped by the solved rate (letters.capped)
    quality_grade: Grade = "-"  # letter of quality alone, capped alike
    partial_credit_grade: Grade = "-"  # the letter partial credit would give: "-" unless capped
    tier: int | None = None  # 1 = best; models in a tier cannot be told apart on quality
    group: str = ""  # compact letter display: models sharing a letter cannot be told apart
    same_family_judges: list[str] = Field(default_factory=list)
    planned: int = 0  # trials planned for it (tasks x repeats)
    missing: int = 0  # planned trials with no result (errors, never run): incomplete when > 0
    withheld: str = ""  # why it has no letter or recommendation ("" when it has them)
    injections: int = 0  # trials whose work tried to steer the judge (judge part scored 0)
    cost_source: CostSource = "price table"


Verdict = Literal["A better", "B better", "indistinguishable"]


class PairwiseTest(BaseModel):
    """Whether model A really beats model B on the tasks both ran: a sign-flip test (exact up
    to 16 tasks, sampled above) on the per-task differences (repeats averaged first), n = tasks;
    wins counted in tasks (for `judge`: in consistent head-to-head verdicts)."""

    model_a: str
    model_b: str
    metric: Literal["pass", "quality", "judge"]  # judge: consistent head-to-head wins
    n: int
    a_wins: int
    b_wins: int
    mean_diff: float | None = None  # A - B
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None  # the test's own
    p_holm: float | None = None  # Holm-adjusted across every pair of its metric
    verdict: Verdict  # from p_holm < stats.ALPHA


class Recommendation(BaseModel):
    best_quality: str | None = None
    best_value: str | None = None  # quality per dollar among acceptable models
    fastest_acceptable: str | None = None
    best_local: str | None = None
    local_good_enough: bool | None = None
    per_category: dict[str, str | None] = Field(default_factory=dict)  # cheapest clearing the bar
    notes: list[str] = Field(default_factory=list)


class JudgeReliability(BaseModel):
    judges: list[str] = Field(default_factory=list)
    agreement_alpha: float | None = None  # Krippendorff's alpha (interval) across judges
    check_agreement: float | None = None  # Cohen's kappa: judges' mean >= 6 vs check passed
    check_agreement_n: int = 0  # trials with both (infrastructure errors left out)
    pairwise_consistency: float | None = None  # share of pair verdicts stable across orders
    same_family: dict[str, list[str]] = Field(default_factory=dict)  # judge -> contestants
    cost_usd: float | None = 0.0
    duration_s: float = 0.0


class CalibrationTask(BaseModel):
    """One judge on one calibration task: the reference solution and two broken versions of
    it (the untouched fixture, the solution truncated), each scored blind as a trial, and the
    reference compared head to head with the truncated one in both orders."""

    task: str
    reference_score: float | None = None  # overall 1-10; None: no verdict
    fixture_score: float | None = None
    truncated_score: float | None = None  # None also in calibrations stored before it existed
    pair_winner: Literal["reference", "fixture", "truncated"] | None = None  # both orders
    separated: bool = False  # reference >= each broken + margin, and chosen head to head
    errors: list[str] = Field(default_factory=list)


class JudgeCalibration(BaseModel):
    """Whether a judge told reference solutions from broken ones before the run."""

    judge: str
    calibrated: bool
    reason: str  # one sentence a report can show
    margin: float  # points the reference must score above each broken version
    required: int  # separated tasks needed to pass
    auc: float | None = None  # P(reference scores above a broken version), ties half
    reference_mean: float | None = None
    broken_mean: float | None = None
    tasks: list[CalibrationTask] = Field(default_factory=list)
    cost_usd: float | None = 0.0  # the judge's own, apart from the run's
    duration_s: float = 0.0


class JudgeSummary(BaseModel):
    """One judge over a run: calibration, agreement with the checks, what it failed to grade."""

    model: str
    calibrated: bool | None  # None: not calibrated (no calibration record)
    calibration: str = ""  # the calibration's reason, in words
    calibration_auc: float | None = None  # reference vs broken scores (JudgeCalibration.auc)
    sees_checks: bool = False  # shown the check's verdict: agreement is then circular
    agreement_kappa: float | None = None  # Cohen's kappa: (score >= 6) vs check passed
    agreement_n: int = 0  # trials with both a check result and this judge's verdict
    judged: int = 0  # trials with a verdict from this judge
    missing_verdicts: int = 0  # trials it was asked about and gave no verdict on
    missing_by_reason: dict[str, int] = Field(default_factory=dict)  # JudgeFailure -> count
    missing_pair_verdicts: int = 0  # head-to-head comparisons with an order unanswered
    mean_score: float | None = None
    cost_usd: float | None = 0.0  # trials and pairs judged in the run
    duration_s: float = 0.0
    calibration_cost_usd: float | None = 0.0
    calibration_duration_s: float = 0.0

    def public(self) -> dict[str, Any]:
        """The `run --json` contract entry for this judge."""
        return self.model_dump(mode="json")


class UnrankedModel(BaseModel):
    """A contestant with no valid trial (every one an error, or none ran): not ranked."""

    model: str
    reason: str  # the most common error, or why nothing ran
    errors: int = 0
    internal_errors: int = 0  # of `errors`, those bakeoff's own bugs caused (`error_kind`)


class PowerEstimate(BaseModel):
    """How often a true quality gap would show in a run of this design (`stats.power`)."""

    tasks: int
    repeats: int
    gap: float  # 0..1 quality
    found: float  # share of simulated runs whose test shows it


class Resolution(BaseModel):
    """What the run's quality tests could tell apart: the method, stated in every report, and
    the smallest gap its number of tasks lets show."""

    tasks: int = 0  # tasks the tested pairs share (the most any pair shares)
    pairs: int = 0  # pairs tested: Holm's m
    alpha: float = 0.05  # family-wise error rate across the pairs
    spread: float | None = None  # SD of per-task quality differences, pooled over pairs
    detectable_gap: float | None = None  # None: no gap can show with this many tasks
    tasks_needed: int = 0  # fewest tasks with which any gap could show over these pairs
    repeats: int = 1  # the run's repeats per task
    level: float | None = None  # mean quality of the tested models: where power is simulated
    power: list[PowerEstimate] = Field(default_factory=list)  # this design, then others
    gap_found_80: float | None = None  # least gap found 80% of the time here; None: none <= 1


class BakeoffSummary(BaseModel):
    """Everything a report shows, computed from the records."""

    run_id: str
    spec: BakeoffSpec
    ranking: list[ModelSummary]  # quality first (grading.summarize); models with a valid trial
    unranked: list[UnrankedModel] = Field(default_factory=list)
    pairwise: list[PairwiseTest] = Field(default_factory=list)
    recommendation: Recommendation = Field(default_factory=Recommendation)
    judging: JudgeReliability = Field(default_factory=JudgeReliability)
    categories: dict[str, dict[str, float | None]] = Field(
        default_factory=dict
    )  # cat -> model -> quality
    missing: int = 0  # planned trials not in the store (interrupted / budget)
    resolution: Resolution = Field(default_factory=Resolution)
    judges: list[JudgeSummary] = Field(
        default_factory=list
    )  # per judge; filled by outcomes.build_outcome
    unsandboxed: int = 0  # trials whose contestant code ran without the OS sandbox
    internal_errors: int = 0  # error trials bakeoff's own bugs caused, every model's: shown
    compared_tasks: list[str] = Field(default_factory=list)  # every graded model graded on each
    dropped_tasks: dict[str, str] = Field(default_factory=dict)  # task -> why not compared
    notes: list[str] = Field(default_factory=list)

    def public(self) -> dict[str, Any]:
        """The verdict part of the `run --json` contract: ranking, unranked, internal_errors
        (trials bakeoff's own bugs ended: 0 unless there is one to report), and judges and
        unsandboxed when they apply."""
        out: dict[str, Any] = {
            "ranking": self.ranking_public(),
            "unranked": self.unranked_public(),
            "internal_errors": self.internal_errors,
        }
        if self.judges:
            out["judges"] = [j.public() for j in self.judges]
        if self.unsandboxed:
            out["unsandboxed"] = self.unsandboxed
        return out

    def ranking_public(self) -> list[dict[str, Any]]:
        """The `run --json` contract: model, quality, pass_rate, judge_score, median_s, cost_usd,
        grade, errors, timeouts; and partial_credit_grade (the letter the solved rate capped,
        else null), solved and checked (trials), internal_errors (of errors, bakeoff's own),
        incomplete, missing, withheld, judge_injections, cost_source."""
        return [
            {
                "model": m.model,
                "quality": m.quality.value,
                "pass_rate": m.pass_rate.value,
                "judge_score": m.judge_score.value,
                "median_s": m.median_s,
                "cost_usd": m.cost_usd,
                "grade": m.grade,
                "partial_credit_grade": None
                if m.partial_credit_grade == "-"
                else m.partial_credit_grade,
                "solved": m.passed,
                "checked": m.checked,
                "errors": m.errors,
                "internal_errors": m.internal_errors,
                "timeouts": m.timeouts,
                "incomplete": m.missing > 0,
                "missing": m.missing,
                "withheld": m.withheld or None,
                "judge_injections": m.injections,
                "cost_source": m.cost_source,
            }
            for m in self.ranking
        ]

    def unranked_public(self) -> list[dict[str, Any]]:
        """The `run --json` contract's `unranked`: model, reason, errors, internal_errors."""
        return [u.model_dump() for u in self.unranked]
