"""The records of a bake-off: its spec, one TrialRecord per (task, model, repeat), the judges'
scores, and the summary the graders compute from them. Pure data shared by the runner, the
store, the graders and the reports; nothing here does I/O."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bakeoff.agent import AgentConfig
from bakeoff.evals.checks import CheckResult
from bakeoff.types import AgentResult, Usage


class GradeWeights(BaseModel):
    """The stated weights behind every grade; printed in every report."""

    model_config = ConfigDict(extra="forbid")

    check: float = 0.6
    """Share of quality from deterministic checks (tests passed / total, or pass/fail)."""
    judge: float = 0.4
    """Share of quality from the judges' overall score (1-10 scaled to 0-1)."""
    quality: float = 0.6
    """Share of the overall score from quality."""
    speed: float = 0.2
    """Share of the overall score from speed relative to the field (fastest median = 1)."""
    cost: float = 0.2
    """Share of the overall score from cost relative to the field (cheapest = 1)."""
    quality_bar: float = 0.7
    """Quality a model must reach to count as acceptable in the recommendation."""


class BakeoffSpec(BaseModel):
    """What a bake-off was asked to do; stored with the run so --resume needs nothing else."""

    run_id: str
    task_paths: list[str]
    task_names: list[str]
    models: list[str]
    repeats: int = 1
    judges: list[str] = Field(default_factory=list)
    pairwise: bool = False
    weights: GradeWeights = Field(default_factory=GradeWeights)
    max_cost_usd: float | None = None
    agent: AgentConfig = Field(default_factory=AgentConfig)
    created_at: float = 0.0


class JudgeScore(BaseModel):
    """One judge's verdict on one trial. Scores are 1-10; cost and time are the judge's own."""

    judge: str
    criteria: dict[str, float] = Field(default_factory=dict)
    overall: float | None = None
    rationale: str = ""
    error: str | None = None
    cost_usd: float | None = 0.0
    duration_s: float = 0.0
    usage: Usage = Field(default_factory=Usage)


class PairVerdict(BaseModel):
    """A comparative judgement of two trials on the same task, judged in both orders."""

    task: str
    repeat: int
    judge: str
    model_a: str
    model_b: str
    winner: str | None  # a model id, or None: a tie or the two orders disagreed
    consistent: bool  # both orders named the same winner
    error: str | None = None  # the judge failed or never answered usably (not position bias)
    cost_usd: float | None = 0.0
    duration_s: float = 0.0


TrialStatus = Literal["completed", "agent_failed", "error"]


class TrialRecord(BaseModel):
    """One (task, model, repeat): the agent run, its workspace diff, check and judge grades."""

    run_id: str
    task: str
    category: str
    difficulty: int
    model: str
    repeat: int
    status: TrialStatus
    agent: AgentResult
    diff: str = ""
    check: CheckResult | None = None
    judges: list[JudgeScore] = Field(default_factory=list)
    slot_wait_s: float = 0.0  # waiting for a free provider slot / rate limit before starting
    started_at: float = 0.0
    finished_at: float = 0.0

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.task, self.model, self.repeat)

    @property
    def passed(self) -> bool | None:
        return None if self.check is None else self.check.passed

    @property
    def judge_overall(self) -> float | None:
        """Mean overall score of the judges that answered (1-10), or None."""
        scores = [j.overall for j in self.judges if j.overall is not None]
        return sum(scores) / len(scores) if scores else None


class Interval(BaseModel):
    """A point estimate with its 95% confidence interval (None where it cannot be computed)."""

    value: float | None = None
    low: float | None = None
    high: float | None = None


class ModelSummary(BaseModel):
    """One contestant across all its trials."""

    model: str
    provider: str
    local: bool = False
    runs: int = 0
    completed: int = 0  # agent runs that ended with an answer (not a limit or an error)
    checked: int = 0  # runs graded by a deterministic check
    passed: int = 0
    pass_rate: Interval = Field(default_factory=Interval)  # 0..1, Wilson
    judge_score: Interval = Field(default_factory=Interval)  # 1..10, bootstrap
    quality: Interval = Field(default_factory=Interval)  # 0..1, bootstrap
    median_s: float | None = None
    median_model_s: float | None = None
    median_tool_s: float | None = None
    median_wait_s: float | None = None
    warmup_s: float = 0.0
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float | None = 0.0  # None: some price unknown
    cost_per_solved_usd: float | None = None
    speed_score: float | None = None  # 0..1 relative to the field
    cost_score: float | None = None  # 0..1 relative to the field
    overall: float | None = None  # 0..1, weighted
    grade: str = "F"  # letter of `overall`
    quality_grade: str = "F"  # letter of quality alone
    same_family_judges: list[str] = Field(default_factory=list)


class PairwiseTest(BaseModel):
    """Whether model A really beats model B on the same tasks (paired test)."""

    model_a: str
    model_b: str
    metric: Literal["pass", "quality", "judge"]  # judge: consistent head-to-head wins
    n: int
    a_wins: int
    b_wins: int
    mean_diff: float | None = None  # A - B
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    verdict: str  # "A better", "B better", or "indistinguishable"


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
    check_agreement: float | None = None  # share of checked trials where judge (>=6) == check pass
    pairwise_consistency: float | None = None  # share of pair verdicts stable across orders
    same_family: dict[str, list[str]] = Field(default_factory=dict)  # judge -> contestants
    cost_usd: float | None = 0.0
    duration_s: float = 0.0


class BakeoffSummary(BaseModel):
    """Everything a report shows, computed from the records."""

    run_id: str
    spec: BakeoffSpec
    ranking: list[ModelSummary]  # best overall first
    pairwise: list[PairwiseTest] = Field(default_factory=list)
    recommendation: Recommendation = Field(default_factory=Recommendation)
    judging: JudgeReliability = Field(default_factory=JudgeReliability)
    categories: dict[str, dict[str, float | None]] = Field(
        default_factory=dict
    )  # cat -> model -> quality
    missing: int = 0  # planned trials not in the store (interrupted / budget)
    notes: list[str] = Field(default_factory=list)

    def ranking_public(self) -> list[dict[str, Any]]:
        """The `run --json` contract: model, quality, pass_rate, judge_score, median_s, cost_usd, grade."""
        return [
            {
                "model": m.model,
                "quality": m.quality.value,
                "pass_rate": m.pass_rate.value,
                "judge_score": m.judge_score.value,
                "median_s": m.median_s,
                "cost_usd": m.cost_usd,
                "grade": m.grade,
            }
            for m in self.ranking
        ]
