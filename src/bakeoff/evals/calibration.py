"""Judges that earn their place. Before a judge's scores count, it must tell a task's reference
solution from the untouched fixture: on up to CALIBRATION_TASKS tasks with a `solution/` (the
run's own first, then the built-in suite's FALLBACK_TASKS) it scores, blind and exactly as it
scores trials, the reference (the solution laid over the fixture: its diff, and its ANSWER.txt
as the answer) and the fixture (no change), both claiming the same bare "Done." where the
solution has no answer of its own; then it compares the two head to head, in both orders.

"Clearly" means: a task is *separated* when the reference's overall score is at least MARGIN
(2) points above the fixture's AND the head-to-head names the reference in both orders; the
judge is *calibrated* when at least SHARE_REQUIRED (2/3, rounded up: 1 of 1, 2 of 2, 2 of 3)
of its calibration tasks are separated. A missing verdict separates nothing. An always-10 judge,
a judge that only echoes a claim of success, and one that picks by position all fail. An
uncalibrated judge still grades the run, and its scores are shown, but they are marked
`counted=False` and left out of quality. Calibration cost and time are recorded apart.

Also here: the per-judge summary of a finished run (`judge_summaries`) and the report's
sentences about it (`judge_notes`): calibration, Cohen's kappa of "the judge would pass it"
(overall >= JUDGE_PASS_SCORE) against the check, with n, and every missing verdict counted by
reason."""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from bakeoff.evals import stats
from bakeoff.evals.compare import JUDGE_PASS_SCORE
from bakeoff.evals.diff import snapshot, unified_diff
from bakeoff.evals.judge import DEFAULT_RUBRIC, judge_pair, judge_trial
from bakeoff.evals.records import (
    BakeoffSpec,
    CalibrationTask,
    JudgeCalibration,
    JudgeSummary,
    PairVerdict,
    TrialRecord,
)
from bakeoff.evals.rows import Trial
from bakeoff.evals.store import Store
from bakeoff.evals.task import (
    ANSWER_FILE,
    TaskSpec,
    apply_solution,
    builtin_suite_dir,
    load_tasks,
    prepare_workspace,
)
from bakeoff.models.base import Model
from bakeoff.types import total_cost

CALIBRATION_TASKS = 3
"""At most this many tasks per judge: 4 judge requests each (2 scores, 2 pair orders)."""
MARGIN = 2.0
"""Points (of 10) the reference must score above the untouched fixture."""
SHARE_REQUIRED = 2 / 3
"""Share of calibration tasks, rounded up, that must be separated."""
FALLBACK_TASKS = ("fix-pagination", "implement-slugify", "http-status-answer")
"""Built-in tasks (a bug fix, an implementation, an answer) that top up a run with too few
tasks of its own with a reference solution."""
CLAIM = "Done."
"""The answer both sides claim when the solution has none, so only the work tells them apart."""
REFERENCE, FIXTURE = "reference", "fixture"


def has_reference(task: TaskSpec) -> bool:
    """Whether the task ships a `solution/` with at least one file."""
    return task.solution_dir.is_dir() and any(p.is_file() for p in task.solution_dir.rglob("*"))


def calibration_tasks(
    run_tasks: Sequence[TaskSpec], limit: int = CALIBRATION_TASKS
) -> list[TaskSpec]:
    """Up to `limit` tasks with a reference solution: the run's own (judged ones first), then
    the built-in FALLBACK_TASKS."""
    own = sorted((t for t in run_tasks if has_reference(t)), key=lambda t: t.judge is None)
    if len(own) < limit:
        names = {t.name for t in own}
        folders = [builtin_suite_dir() / n for n in FALLBACK_TASKS if n not in names]
        own += [t for t in load_tasks([f for f in folders if f.is_dir()]) if has_reference(t)]
    return own[:limit]


def reference_work(task: TaskSpec) -> tuple[str, str]:
    """(answer, diff) of the reference solution as a trial would show them: the diff of the
    solution over the fixture, without ANSWER.txt, whose text is the answer."""
    with tempfile.TemporaryDirectory(prefix="bakeoff-calibration-") as tmp:
        ws = prepare_workspace(task, Path(tmp) / "ws")
        before = snapshot(ws)
        apply_solution(task, ws)
        answer = task.expected_answer or CLAIM
        answer_file = ws / ANSWER_FILE
        if (task.solution_dir / ANSWER_FILE).is_file():
            answer = answer_file.read_text(encoding="utf-8", errors="replace")
            # Trials take the diff before the answer file is written; so does the reference.
            prior = before.get(ANSWER_FILE)
            if isinstance(prior, bytes):
                answer_file.write_bytes(prior)
            else:
                answer_file.unlink()
        return answer, unified_diff(before, ws)


async def _calibrate_on(
    judge: Model, task: TaskSpec, slot: asyncio.Semaphore | None
) -> tuple[CalibrationTask, list[float | None]]:
    answer, diff = await asyncio.to_thread(reference_work, task)
    rubric = task.judge.rubric if task.judge else DEFAULT_RUBRIC

    async def score(work: tuple[str, str]) -> tuple[float | None, str | None, float | None]:
        async with slot or contextlib.nullcontext():
            s = await judge_trial(
                judge, task_prompt=task.prompt, rubric=rubric, answer=work[0], diff=work[1]
            )
        return s.overall, s.error, s.cost_usd

    async def pair() -> PairVerdict:
        async with slot or contextlib.nullcontext():
            return await judge_pair(
                judge,
                task=task.name,
                repeat=0,
                task_prompt=task.prompt,
                rubric=rubric,
                a=(REFERENCE, answer, diff),
                b=(FIXTURE, CLAIM, ""),
            )

    (ref, ref_error, ref_cost), (fix, fix_error, fix_cost), verdict = await asyncio.gather(
        score((answer, diff)), score((CLAIM, "")), pair()
    )
    winner: Literal["reference", "fixture"] | None = (
        "reference"
        if verdict.winner == REFERENCE
        else "fixture"
        if verdict.winner == FIXTURE
        else None
    )
    item = CalibrationTask(
        task=task.name,
        reference_score=ref,
        fixture_score=fix,
        pair_winner=winner,
        separated=ref is not None
        and fix is not None
        and ref >= fix + MARGIN
        and winner == REFERENCE,
        errors=[e for e in (ref_error, fix_error, verdict.error) if e],
    )
    return item, [ref_cost, fix_cost, verdict.cost_usd]


def required_separated(n_tasks: int) -> int:
    """Separated tasks a judge needs out of `n_tasks`: SHARE_REQUIRED of them, rounded up."""
    return math.ceil(SHARE_REQUIRED * n_tasks - 1e-9)


async def calibrate_judge(
    judge: Model, tasks: Sequence[TaskSpec], *, slot: asyncio.Semaphore | None = None
) -> JudgeCalibration:
    """Calibrate one judge on `tasks` (module docstring); never raises for a failing judge."""
    started = time.perf_counter()
    results = await asyncio.gather(*(_calibrate_on(judge, t, slot) for t in tasks))
    items = [item for item, _ in results]
    separated = sum(1 for i in items if i.separated)
    required = required_separated(len(items))
    calibrated = bool(items) and separated >= required
    refs = [i.reference_score for i in items if i.reference_score is not None]
    fixes = [i.fixture_score for i in items if i.fixture_score is not None]
    if not items:
        reason = "no task with a reference solution to calibrate on"
    else:
        reason = (
            f"told the reference solution from the untouched fixture on {separated} of "
            f"{len(items)} tasks (needs {required}: reference >= fixture + {MARGIN:g} points "
            "and chosen head to head in both orders)"
        )
        if refs and fixes:
            reason += (
                f"; mean score reference {statistics.fmean(refs):.1f}, "
                f"fixture {statistics.fmean(fixes):.1f}"
            )
        unanswered = sum(len(i.errors) for i in items)
        if unanswered:
            reason += f"; {unanswered} calibration requests got no usable verdict"
    return JudgeCalibration(
        judge=judge.id,
        calibrated=calibrated,
        reason=reason,
        margin=MARGIN,
        required=required,
        tasks=items,
        cost_usd=total_cost([c for _, costs in results for c in costs]),
        duration_s=round(time.perf_counter() - started, 3),
    )


async def calibrate_run(
    store: Store,
    run_id: str,
    run_tasks: Sequence[TaskSpec],
    judges: Mapping[str, Model],
    slot_of: Callable[[str], asyncio.Semaphore] | None = None,
    *,
    pairwise: bool = False,
) -> dict[str, JudgeCalibration]:
    """The calibration of every judge of a run, by judge id. Those already stored (a resumed
    run) are kept; the others are asked now and stored. Nothing is asked when the judges will
    grade nothing (no task has a [judge] table and no pairwise judging)."""
    have = {c.judge: c for c in store.calibrations(run_id)}
    todo = {j: m for j, m in judges.items() if j not in have}
    if todo and (pairwise or any(t.judge is not None for t in run_tasks)):
        tasks = await asyncio.to_thread(calibration_tasks, run_tasks)
        done = await asyncio.gather(
            *(
                calibrate_judge(m, tasks, slot=slot_of(j) if slot_of else None)
                for j, m in todo.items()
            )
        )
        for jid, calibration in zip(todo, done, strict=True):
            # Keyed by the run's judge id: a wrapper (rate limiter) may report another id.
            calibration = calibration.model_copy(update={"judge": jid})
            store.add_calibration(run_id, calibration)
            have[jid] = calibration
    return have


def uncounted_judges(calibrations: Sequence[JudgeCalibration]) -> frozenset[str]:
    """Judges whose scores quality leaves out: those that failed calibration."""
    return frozenset(c.judge for c in calibrations if not c.calibrated)


def apply_calibration(record: TrialRecord, uncounted: frozenset[str]) -> TrialRecord:
    """`record` with each score's `counted` flag set from the judges' calibration."""
    if all(s.counted == (s.judge not in uncounted) for s in record.judges):
        return record
    scores = [s.model_copy(update={"counted": s.judge not in uncounted}) for s in record.judges]
    return record.model_copy(update={"judges": scores})


def judge_summaries(
    spec: BakeoffSpec,
    records: Sequence[Trial],
    verdicts: Sequence[PairVerdict] = (),
    calibrations: Sequence[JudgeCalibration] = (),
) -> list[JudgeSummary]:
    """One JudgeSummary per judge (the spec's, then any other found in the records): its
    calibration, Cohen's kappa against the checks over the trials where both graded (trials
    that ended in an infrastructure error excluded), and every verdict it failed to give."""
    names = [*spec.judges, *(s.judge for r in records for s in r.judges)]
    by_judge = {c.judge: c for c in calibrations}
    out: list[JudgeSummary] = []
    for judge in dict.fromkeys(names):
        scored = [(r, s) for r in records for s in r.judges if s.judge == judge]
        judged = [s.overall for _, s in scored if s.overall is not None]
        both = [
            (s.overall >= JUDGE_PASS_SCORE, passed)
            for r, s in scored
            if s.overall is not None and (passed := r.passed) is not None and r.status != "error"
        ]
        missing = Counter(s.failure or "no_verdict" for _, s in scored if s.overall is None)
        pairs = [v for v in verdicts if v.judge == judge]
        calibration = by_judge.get(judge)
        out.append(
            JudgeSummary(
                model=judge,
                calibrated=None if calibration is None else calibration.calibrated,
                calibration="" if calibration is None else calibration.reason,
                sees_checks=spec.judge_sees_checks,
                agreement_kappa=stats.cohen_kappa([a for a, _ in both], [b for _, b in both]),
                agreement_n=len(both),
                judged=len(judged),
                missing_verdicts=sum(missing.values()),
                missing_by_reason=dict(sorted(missing.items())),
                missing_pair_verdicts=sum(1 for v in pairs if v.error is not None),
                mean_score=statistics.fmean(judged) if judged else None,
                cost_usd=total_cost([s.cost_usd for _, s in scored] + [v.cost_usd for v in pairs]),
                duration_s=round(
                    sum(s.duration_s for _, s in scored) + sum(v.duration_s for v in pairs), 3
                ),
                calibration_cost_usd=0.0 if calibration is None else calibration.cost_usd,
                calibration_duration_s=0.0 if calibration is None else calibration.duration_s,
            )
        )
    return out


def judge_notes(summaries: Sequence[JudgeSummary]) -> list[str]:
    """The sentences a report prints about each judge: whether its scores count, its agreement
    with the checks, and the verdicts it failed to give."""
    notes: list[str] = []
    for j in summaries:
        if j.calibrated is False:
            notes.append(
                f"Judge {j.model} is not calibrated ({j.calibration}): its scores are shown but "
                "left out of quality."
            )
        if j.agreement_n:
            kappa = "undefined" if j.agreement_kappa is None else f"{j.agreement_kappa:.2f}"
            circular = (
                " It was shown the checks' verdicts, so this agreement is circular."
                if j.sees_checks
                else ""
            )
            notes.append(
                f"Judge {j.model} agrees with the checks at Cohen's kappa {kappa} "
                f"(n={j.agreement_n}; 0 is chance, 1 is perfect).{circular}"
            )
        if j.missing_verdicts:
            why = ", ".join(
                f"{n} {reason.replace('_', ' ')}" for reason, n in j.missing_by_reason.items()
            )
            notes.append(
                f"Judge {j.model} gave no verdict on {j.missing_verdicts} of "
                f"{j.missing_verdicts + j.judged} trials ({why}); judge scores cover the "
                f"{j.judged} judged trials only."
            )
    return notes
