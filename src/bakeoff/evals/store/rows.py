"""The lean form of a trial: what grading, the grid and the comparisons read (status, check
verdict and test counts, each judge's score and cost, timings, usage, cost), without the
transcript, diff, answer, check output or judges' rationales. The store writes these facts beside
each full record (`trial_facts`) and reads them back as `TrialRow`s, so a summary of 100,000
trials holds 100,000 small rows (under 1 KB each) instead of 100,000 full records (transcripts
included). A row mirrors the attribute paths of `TrialRecord` (`row.agent.duration_s`,
`row.check.tests_total`, `row.judges[i].overall`), so the graders take either: `Trial`.
Pure data; nothing here does I/O."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from bakeoff.evals.store.records import JudgeFailure, TrialRecord, TrialStatus, counted_mean
from bakeoff.types import StopReason, Usage

ERROR_CAP = 500
"""Characters of an agent's error a row keeps (the full text stays in the record)."""


@dataclass(slots=True)
class RequestFacts:
    """One model request's speed: time to first token and output tokens/s."""

    ttft_s: float | None
    output_tps: float | None


@dataclass(slots=True)
class AgentFacts:
    """The parts of an `AgentResult` the graders read. `requests` is kept only for the models a
    reader asks for (the local ones, whose speed the report shows); `request_count` always."""

    ok: bool
    model: str
    provider: str
    stop_reason: StopReason
    error: str | None
    turns: int
    tool_calls: int
    usage: Usage
    cost_usd: float | None
    duration_s: float
    model_time_s: float
    tool_time_s: float
    wait_time_s: float
    warmup_s: float
    request_count: int
    requests: tuple[RequestFacts, ...] = ()


@dataclass(slots=True)
class CheckFacts:
    """A check's verdict and test counts, without its output."""

    passed: bool
    tests_passed: int | None
    tests_total: int | None
    tests_credited: int | None = None
    tests_creditable: int | None = None


@dataclass(slots=True)
class JudgeFacts:
    """One judge's score of one trial, without its rationale and criteria."""

    judge: str
    overall: float | None
    failure: JudgeFailure | None
    counted: bool
    cost_usd: float | None
    duration_s: float


@dataclass(slots=True)
class TrialRow:
    """One (task, model, repeat) as the graders see it (module docstring)."""

    task: str
    category: str
    difficulty: int
    model: str
    repeat: int
    status: TrialStatus
    agent: AgentFacts
    check: CheckFacts | None
    judges: tuple[JudgeFacts, ...]
    sandboxed: bool
    slot_wait_s: float
    started_at: float
    finished_at: float
    reason: str
    """The first line of the agent's error, else of its stop reason (`TrialRecord.reason`)."""

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.task, self.model, self.repeat)

    @property
    def passed(self) -> bool | None:
        return None if self.check is None else self.check.passed

    @property
    def judge_overall(self) -> float | None:
        """Mean overall score of the judges that answered and count, as `TrialRecord`'s."""
        return counted_mean(self.judges)


Trial = TrialRecord | TrialRow
"""A trial in either form: the graders and the comparisons read both."""


def trial_facts(record: TrialRecord) -> str:
    """The JSON the store keeps beside `record` for `RowReader.row`: a positional array, with
    no transcript, diff, answer or check output (only the head of the error)."""
    a, c = record.agent, record.check
    return json.dumps(
        [
            record.task,
            record.category,
            record.difficulty,
            record.model,
            record.repeat,
            record.status,
            [
                a.ok,
                a.model,
                a.provider,
                a.stop_reason,
                None if a.error is None else a.error[:ERROR_CAP],
            ],
            [a.turns, a.tool_calls, a.cost_usd, a.duration_s, a.model_time_s, a.tool_time_s],
            [a.wait_time_s, a.warmup_s],
            a.usage.model_dump(),
            [[t.ttft_s, t.output_tps] for t in a.requests],
            None
            if c is None
            else [c.passed, c.tests_passed, c.tests_total, c.tests_credited, c.tests_creditable],
            [
                [s.judge, s.overall, s.failure, s.counted, s.cost_usd, s.duration_s]
                for s in record.judges
            ],
            [record.sandboxed, record.slot_wait_s, record.started_at, record.finished_at],
            record.reason,
        ],
        separators=(",", ":"),
    )


class RowReader:
    """Builds `TrialRow`s from the store's facts (`trial_facts`), as the reports show them:
    models and judges under their display names (`name`), each judge's `counted` flag from
    calibration when `uncounted` is given (judges in it do not count; without it the stored
    flags stand), per-request speeds kept only for the
    stored model ids in `requests_for`. What rows repeat is shared: names and other strings
    are held once, equal usages are one `Usage`, and zero timings one float, so 100,000 rows
    of a scripted run cost well under 1 KB each."""

    def __init__(
        self,
        name: Callable[[str], str] | None = None,
        uncounted: Collection[str] | None = None,
        requests_for: Collection[str] = (),
    ) -> None:
        self._name = name or (lambda m: m)
        self._uncounted = None if uncounted is None else frozenset(uncounted)
        self._requests_for = frozenset(requests_for)
        self._names: dict[str, str] = {}
        self._texts: dict[Any, Any] = {}
        self._usages: dict[tuple[Any, ...], Usage] = {}

    def row(self, facts: str) -> TrialRow:
        """The row of one `trial_facts` JSON text."""
        (task, category, difficulty, model, repeat, status, who, counts, waits, usage, reqs,
         check, judges, when, reason) = json.loads(facts)  # fmt: skip
        ok, agent_model, provider, stop_reason, error = who
        turns, tool_calls, cost, duration, model_time, tool_time = counts
        t = self._text
        agent = AgentFacts(
            ok=ok,
            model=t(agent_model),
            provider=t(provider),
            stop_reason=t(stop_reason),
            error=error,
            turns=turns,
            tool_calls=tool_calls,
            usage=self._usage(usage),
            cost_usd=cost,
            duration_s=duration,
            model_time_s=model_time or 0.0,  # `or 0.0`: every zero is one shared float
            tool_time_s=tool_time or 0.0,
            wait_time_s=waits[0] or 0.0,
            warmup_s=waits[1] or 0.0,
            request_count=len(reqs),
            requests=(tuple(RequestFacts(*r) for r in reqs) if model in self._requests_for else ()),
        )
        return TrialRow(
            task=t(task),
            category=t(category),
            difficulty=difficulty,
            model=self._shown(model),
            repeat=repeat,
            status=t(status),
            agent=agent,
            check=None if check is None else CheckFacts(*check),
            judges=tuple(
                JudgeFacts(self._shown(j), o, f, self._counts(j, counted), c, d)
                for j, o, f, counted, c, d in judges
            ),
            sandboxed=when[0],
            slot_wait_s=when[1] or 0.0,
            started_at=when[2],
            finished_at=when[3],
            reason=t(reason),
        )

    def row_of(self, record: TrialRecord) -> TrialRow:
        """The row of a full record (a store written before the facts were kept)."""
        return self.row(trial_facts(record))

    def _shown(self, model: str) -> str:
        shown = self._names.get(model)
        if shown is None:
            shown = self._names[model] = sys.intern(self._name(model))
        return shown

    def _counts(self, judge: str, stored: bool) -> bool:
        return stored if self._uncounted is None else judge not in self._uncounted

    def _text(self, value: Any) -> Any:
        return self._texts.setdefault(value, value)

    def _usage(self, counts: dict[str, int]) -> Usage:
        key = tuple(counts.items())
        usage = self._usages.get(key)
        if usage is None:
            usage = self._usages[key] = Usage(**counts)
        return usage
