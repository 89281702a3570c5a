"""The records of one bake-off run and its trials: the spec (`BakeoffSpec`, with
`UntilDecided`), one `TrialRecord` per (task, model, repeat) with its check's result
(`CheckResult`), tamper findings (`TamperFinding`) and the judges' scores and head-to-head
verdicts (`JudgeScore`, `PairVerdict`), the names of a trial's outcome (`trial_status`,
`error_kind`) and the entries of a workspace snapshot (`Unread`). The verdict the graders
compute from them lives in `evals/store/summary_records.py`. Pure data shared by the runner, the
store, the graders and the reports; it imports nothing above the bottom layer and does no I/O."""

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
