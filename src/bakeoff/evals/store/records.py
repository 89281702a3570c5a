"""The records of a bake-off: its spec, one TrialRecord per (task, model, repeat) with its
check's result (`CheckResult`) and tamper findings (`TamperFinding`), the judges' scores, and
the summary the graders compute from them. Pure data shared by the runner, the store, the
graders and the reports; it imports nothing above the bottom layer and does no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field, model_validator

from bakeoff.agent_config import AgentConfig
from bakeoff.types import AgentResult, StopReason, Usage
from bakeoff.weights import Grade as Grade  # re-exported: the graders' data lives below
from bakeoff.weights import GradeBands as GradeBands
from bakeoff.weights import GradeWeights as GradeWeights
from bakeoff.weights import Letter as Letter
from bakeoff.weights import LetterFloors as LetterFloors


@dataclass(frozen=True)
class Unread:
    """An entry whose bytes are not in the snapshot, and why; two are equal when nothing a
    reader could see about the entry changed."""

    note: str
    size: int = 0
    mtime_ns: int = 0


Snapshot = dict[str, bytes | Unread]
"""Workspace-relative path (as the OS names it) to its bytes, or to why they were not read."""


class CheckResult(BaseModel):
    """What one run of a check command did."""

    passed: bool
    """Exit status 0 within the time limit and, for pytest, a finished verdict with every test
    passed, the trusted run's tests among them."""
    exit_code: int | None
    """The command's exit status (negative: killed by that signal); None when it timed out."""
    output: str
    """The tail of stdout and stderr together, at most `OUTPUT_CAP_BYTES`."""
    duration_s: float
    """Wall-clock seconds the command ran."""
    timed_out: bool = False
    """The command ran past `timeout_s` and its process group was killed."""
    tests_passed: int | None = None
    """Tests passed, from pytest's verdict; None when pytest did not run."""
    tests_total: int | None = None
    """Tests passed + failed (collection errors count as failed), from pytest's verdict; None
    when pytest did not run."""
    sandboxed: bool = True
    """The check ran in the OS sandbox; False only with the explicit unsafe fallback."""
    tests_credited: int | None = None
    """Of the tests the untouched fixture fails, how many passed: the partial credit a failed
    check earns (a test the fixture already passes earns a do-nothing contestant nothing, so
    it earns no one anything). None when not computed (a pass, or no pytest)."""
    tests_creditable: int | None = None
    """How many of the task's tests the untouched fixture fails; None when not computed."""


Severity = Literal["void", "flag"]


Rule = Literal[
    "planted",
    "exit",
    "pytest",
    "unittest",
    "modules",
    "builtins",
    "patch",
    "import-hook",
    "tracing",
    "frame",
    "always-equal",
    "dynamic",
    "exec",
    "native",
    "process",
    "signal",
    "bytecode",
    "grader-name",
    "unscannable",
]
"""The family a finding belongs to, so a report can group them."""


class TamperFinding(BaseModel):
    """One thing a contestant wrote that aims at the grader."""

    path: str
    """Workspace-relative file."""
    line: int | None = None
    """1-based line of the match in a text file."""
    severity: Severity
    why: str
    """What it does, in a few words."""
    excerpt: str = ""
    """The matching line, shortened."""
    rule: Rule | None = None
    """The family of the finding (`exit`, `pytest`, `always-equal`…); None in records made
    before the scan named them."""


class UntilDecided(BaseModel):
    """`run --until-decided`: after the planned repeats, one extra repeat at a time for the
    models of undecided pairs (the sequential test: `evals/verdict/sequential.py`)."""

    max_repeats: int = Field(default=5, ge=1, le=100)
    """Extra repeats at most; the test splits its alpha over this many looks plus one."""
    min_gap: float = Field(default=0.1, gt=0.0, le=1.0)
    """A pair whose quality gap is shown to be smaller than this is decided "no difference"."""


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
    judge_sees_checks: bool = False
    """Whether judges are shown the check's verdict and output. Off by default, so the judges'
    agreement with the checks is a measurement; on, that agreement is circular."""
    created_at: float = 0.0
    labels: dict[str, str] = Field(default_factory=dict)
    """Stored model id -> the name every report shows (the id or alias the user typed;
    `script:` + file stem for scripted models). Ids missing here are shown as they are."""
    tags: dict[str, str] = Field(default_factory=dict)
    """The run's labels, KEY -> VALUE (`bakeoff run --label`, `[defaults] labels`; rules in
    `bakeoff.labels`), to find it by (`bakeoff runs --label`). Not to be confused with `labels`
    above, the models' display names, whose name older stores already hold."""
    until_decided: UntilDecided | None = None
    """Sequential repeats until every pair is decided (`run --until-decided`); None: off."""


RunStatus = Literal["running", "interrupted", "budget_stopped", "incomplete", "finished"]
"""Where a stored run stands: trials still `running` (or its process died), `interrupted`
(Ctrl-C, a crash), `budget_stopped` (--max-cost reached), `incomplete` (trials missing or
errored: `--resume` or `--retry-errors` finish it), `finished`."""


JudgeFailure = Literal["request_failed", "no_verdict", "copied_verdict"]
"""Why a judge gave no verdict: its request failed; it answered without a usable verdict (twice);
or its only verdict repeated one written inside the work under review (an injection)."""


class JudgeScore(BaseModel):
    """One judge's verdict on one trial. Scores are 1-10; cost and time are the judge's own."""

    judge: str
    criteria: dict[str, float] = Field(default_factory=dict)
    overall: float | None = None
    rationale: str = ""
    error: str | None = None
    failure: JudgeFailure | None = None  # set whenever `overall` is None
    counted: bool = True  # False: the judge failed calibration, so quality leaves this score out
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


class _Scored(Protocol):
    overall: float | None
    counted: bool


def counted_mean(judges: Iterable[_Scored]) -> float | None:
    """Mean overall score of the judges that answered and count (passed their calibration), or
    None: `judge_overall` of a full record and of a lean row alike."""
    scores = [j.overall for j in judges if j.overall is not None and j.counted]
    return sum(scores) / len(scores) if scores else None


TrialStatus = Literal["passed", "failed", "timeout", "error"]
"""How a trial ended. `passed`: the agent answered and its check passed (or it has no check:
judges alone grade it). `failed`: the agent answered and its check failed. `timeout`: the model
ran out of its own allowance — wall time, turns or its per-run cost cap. A request the provider
rejected as invalid (a context overflow the model caused) is the model's failure. `error`: the
infrastructure failed, not the model — auth, an unreachable server, 5xx or rate limits past the
retries, or a crash in an adapter or in bakeoff itself (stop reason `internal`: see
`error_kind`). Errors are no evidence about a model: they are counted, shown and left out of
every statistic — so nothing a contestant sends may cause one. Bytes of its own that bakeoff
cannot grade (a workspace its file work fails on) make the trial `failed`, its error saying
`ungradable: ...`."""

ErrorKind = Literal["infrastructure", "internal"]
"""What failed in an `error` trial: the infrastructure (a provider, the network, the machine) or
bakeoff itself (a bug: `internal`, to be reported)."""

TIMEOUT_STOPS: frozenset[StopReason] = frozenset({"timeout", "max_turns", "cost_limit", "runaway"})
"""Agent stop reasons that mean the model used up its own allowance (`runaway`: its output
allowance, in a reply that degenerated or was cut at the cap without a tool call)."""
ERROR_STOPS: frozenset[StopReason] = frozenset({"provider_error", "error", "cancelled", "internal"})
"""Agent stop reasons that mean the infrastructure or bakeoff itself, not the model, ended the
run."""


def trial_status(agent: AgentResult, check: CheckResult | None) -> TrialStatus:
    """The outcome of one trial from how its agent stopped and what its check said."""
    if agent.stop_reason in ERROR_STOPS:
        return "error"
    if agent.stop_reason in TIMEOUT_STOPS:
        return "timeout"
    if agent.stop_reason == "no_attempt":
        return "failed"  # the model never tried: no check can turn that into a pass
    if agent.stop_reason == "rejected" and (check is None or not check.passed):
        return "failed"  # the provider refused what the model sent (e.g. overflowed its context)
    return "failed" if check is not None and not check.passed else "passed"


class _Stopped(Protocol):
    @property
    def stop_reason(self) -> StopReason: ...


class _Ended(Protocol):
    """A trial in either form (a full `TrialRecord` or the store's lean row)."""

    @property
    def status(self) -> TrialStatus: ...
    @property
    def agent(self) -> _Stopped: ...


def error_kind(record: _Ended) -> ErrorKind | None:
    """For an `error` trial, what failed: bakeoff itself (`internal`) or the infrastructure;
    None for any other status."""
    if record.status != "error":
        return None
    return "internal" if record.agent.stop_reason == "internal" else "infrastructure"


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
    tamper: list[TamperFinding] = Field(default_factory=list)
    """What the tamper scan found in the files the contestant wrote (see evals/trial/tamper.py)."""
    sandboxed: bool = True
    """False when contestant code (run_command or the check) ran without the OS sandbox."""
    slot_wait_s: float = 0.0  # waiting for a free provider slot / rate limit before starting
    started_at: float = 0.0
    finished_at: float = 0.0

    @model_validator(mode="before")
    @classmethod
    def _legacy_status(cls, data: Any) -> Any:
        # Stores written before the four outcomes said completed / agent_failed.
        if isinstance(data, dict) and data.get("status") in ("completed", "agent_failed"):
            agent = AgentResult.model_validate(data["agent"])
            check = data.get("check")
            check = None if check is None else CheckResult.model_validate(check)
            data = {**data, "status": trial_status(agent, check)}
        return data

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.task, self.model, self.repeat)

    @property
    def passed(self) -> bool | None:
        return None if self.check is None else self.check.passed

    @property
    def judge_overall(self) -> float | None:
        """Mean overall score (1-10) of the judges that answered and count (passed their
        calibration), or None."""
        return counted_mean(self.judges)

    @property
    def reason(self) -> str:
        """The first line (at most 300 characters: room for a cause and a log path) of the
        agent's error, else of its stop reason: why a trial ended, as the unranked list says
        it; "" when there is none."""
        text = (self.agent.error or self.agent.stop_reason).strip()
        return text.splitlines()[0][:300] if text else ""


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
    grade: Grade = "-"  # letter of `overall`, capped by the solved rate (grading.capped)
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
    """Whether model A really beats model B on the tasks both ran: an exact sign-flip test on
    the per-task differences (repeats averaged first), n = tasks, wins counted in tasks."""

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
    judges: list[JudgeSummary] = Field(default_factory=list)  # per judge; filled by the runner
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
