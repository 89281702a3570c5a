"""Judges that earn their place. Before a judge's scores count, it must tell a task's reference
solution from broken ones: on up to CALIBRATION_TASKS tasks with a `solution/` (the run's own
first, then the built-in suite's FALLBACK_TASKS) it scores, blind and exactly as it scores
trials, the reference (the solution laid over the fixture: its diff, and its ANSWER.txt as the
answer) and two broken versions of it: the untouched fixture (no change) and the solution
truncated (every file the solution writes cut to the first half of its lines, its answer to
the first half of its words: work that looks done but is not). Where the solution has no answer
of its own, all three claim the same bare "Done.", so only the work tells them apart. Then it
compares the reference with the truncated version head to head, in both orders.

"Clearly" means all three of: the AUC over every (reference, broken) pair of scores is at least
AUC_REQUIRED (0.8; a tie counts half, so a constant judge gets 0.5); the mean broken score is
at least MARGIN (2) points below the mean reference score; and at least SHARE_REQUIRED (2/3,
rounded up: 1 of 1, 2 of 2, 2 of 3) of the tasks are *separated*: the reference scores MARGIN
above each broken version AND the head-to-head names the reference in both orders. A missing
verdict separates nothing. An always-10 judge, an always-9 one, one that gives 9 to any change
and only faults an empty diff, one that only echoes a claim of success, and one that picks by
position all fail. An uncalibrated judge still grades the run, and its scores are shown, but
they are marked `counted=False` and left out of quality, and its head-to-head verdicts are
neither asked nor counted. Calibration cost and time are recorded apart.

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

from bakeoff.evals.store.records import BakeoffSpec, PairVerdict, TrialRecord
from bakeoff.evals.store.rows import Trial
from bakeoff.evals.store.store import Store
from bakeoff.evals.store.summary_records import CalibrationTask, JudgeCalibration, JudgeSummary
from bakeoff.evals.trial.diff import snapshot, unified_diff
from bakeoff.evals.trial.judge import DEFAULT_RUBRIC, judge_pair, judge_trial
from bakeoff.evals.trial.task import (
    ANSWER_FILE,
    TaskSpec,
    apply_solution,
    builtin_suite_dir,
    load_tasks,
    prepare_workspace,
)
from bakeoff.evals.verdict import stats
from bakeoff.evals.verdict.compare import JUDGE_PASS_SCORE
from bakeoff.models.base import Model
from bakeoff.types import total_cost

CALIBRATION_TASKS = 3
"""At most this many tasks per judge: 5 judge requests each (3 scores, 2 pair orders)."""
MARGIN = 2.0
"""Points (of 10) the reference must score above each broken version."""
AUC_REQUIRED = 0.8
"""Share of (reference, broken) score pairs the judge must order rightly, ties counting half."""
SHARE_REQUIRED = 2 / 3
"""Share of calibration tasks, rounded up, that must be separated."""
FALLBACK_TASKS = ("fix-pagination", "implement-slugify", "http-status-answer")
"""Built-in tasks (a bug fix, an implementation, an answer) that top up a run with too few
tasks of its own with a reference solution."""
CLAIM = "Done."
"""The answer both sides claim when the solution has none, so only the work tells them apart."""
REFERENCE, FIXTURE, TRUNCATED = "reference", "fixture", "truncated"


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


def reference_work(task: TaskSpec, *, truncated: bool = False) -> tuple[str, str]:
    """(answer, diff) of the reference solution as a trial would show them: the diff of the
    solution over the fixture, without ANSWER.txt, whose text is the answer. `truncated`: the
    broken version instead, every file the solution writes (and its answer) cut to its first
    half (`truncate`)."""
    with tempfile.TemporaryDirectory(prefix="bakeoff-calibration-") as tmp:
        ws = prepare_workspace(task, Path(tmp) / "ws")
        before = snapshot(ws)
        written = apply_solution(task, ws)
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
        if truncated:
            answer = truncate(answer, sep=" ") or CLAIM
            for rel in written:
                path = ws / rel
                if rel != ANSWER_FILE and path.is_file():
                    text = path.read_text(encoding="utf-8", errors="replace")
                    path.write_text(truncate(text), encoding="utf-8")
        return answer, unified_diff(before, ws)


def truncate(text: str, sep: str = "\n") -> str:
    """The first half (rounded down) of `text`'s lines, or its words with `sep=" "`: at least
    one is always cut, so the result is never the whole."""
    parts = text.split("\n") if sep == "\n" else text.split()
    if sep == "\n" and parts and parts[-1] == "":
        parts.pop()  # a final newline ends the last line, it is not one more
    kept = parts[: len(parts) // 2]
    return "".join(f"{line}\n" for line in kept) if sep == "\n" else " ".join(kept)


async def _calibrate_on(
    judge: Model, task: TaskSpec, slot: asyncio.Semaphore | None
) -> tuple[CalibrationTask, list[float | None]]:
    answer, diff = await asyncio.to_thread(reference_work, task)
    cut_answer, cut_diff = await asyncio.to_thread(reference_work, task, truncated=True)
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
                b=(TRUNCATED, cut_answer, cut_diff),
            )

    (ref, ref_e, ref_c), (fix, fix_e, fix_c), (cut, cut_e, cut_c), verdict = await asyncio.gather(
        score((answer, diff)), score((CLAIM, "")), score((cut_answer, cut_diff)), pair()
    )
    winner: Literal["reference", "truncated"] | None = (
        "reference"
        if verdict.winner == REFERENCE
        else "truncated"
        if verdict.winner == TRUNCATED
        else None
    )
    item = CalibrationTask(
        task=task.name,
        reference_score=ref,
        fixture_score=fix,
        truncated_score=cut,
        pair_winner=winner,
        separated=ref is not None
        and fix is not None
        and cut is not None
        and ref >= max(fix, cut) + MARGIN
        and winner == REFERENCE,
        errors=[e for e in (ref_e, fix_e, cut_e, verdict.error) if e],
    )
    return item, [ref_c, fix_c, cut_c, verdict.cost_usd]


def required_separated(n_tasks: int) -> int:
    """Separated tasks a judge needs out of `n_tasks`: SHARE_REQUIRED of them, rounded up."""
    return math.ceil(SHARE_REQUIRED * n_tasks - 1e-9)


def broken_scores(item: CalibrationTask) -> list[float]:
    """The scores a judge gave the broken versions of one task (those it gave)."""
    return [s for s in (item.fixture_score, item.truncated_score) if s is not None]


async def calibrate_judge(
    judge: Model, tasks: Sequence[TaskSpec], *, slot: asyncio.Semaphore | None = None
) -> JudgeCalibration:
    """Calibrate one judge on `tasks` (module docstring); never raises for a failing judge."""
    started = time.perf_counter()
    results = await asyncio.gather(*(_calibrate_on(judge, t, slot) for t in tasks))
    items = [item for item, _ in results]
    separated = sum(1 for i in items if i.separated)
    required = required_separated(len(items))
    refs = [i.reference_score for i in items if i.reference_score is not None]
    broken = [s for i in items for s in broken_scores(i)]
    auc = stats.auc(refs, broken)
    ref_mean = statistics.fmean(refs) if refs else None
    broken_mean = statistics.fmean(broken) if broken else None
    apart = ref_mean is not None and broken_mean is not None and ref_mean - broken_mean >= MARGIN
    calibrated = (
        bool(items) and separated >= required and auc is not None and auc >= AUC_REQUIRED and apart
    )
    if not items:
        reason = "no task with a reference solution to calibrate on"
    else:
        shown_auc = "undefined" if auc is None else f"{auc:.2f}"
        reason = (
            f"AUC {shown_auc} over reference vs broken scores (needs {AUC_REQUIRED:g})"
            + (
                f"; mean score reference {ref_mean:.1f}, broken {broken_mean:.1f} (needs "
                f"{MARGIN:g} points apart)"
                if ref_mean is not None and broken_mean is not None
                else ""
            )
            + f"; told the reference from the untouched fixture and the truncated solution on "
            f"{separated} of {len(items)} tasks (needs {required}: {MARGIN:g} points above "
            "each, and chosen head to head in both orders)"
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
        auc=auc,
        reference_mean=ref_mean,
        broken_mean=broken_mean,
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
    """Judges whose scores quality and the head-to-head tests leave out: those that failed
    calibration."""
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
                calibration_auc=None if calibration is None else calibration.auc,
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
                f"Judge {j.model} is uncounted: it failed calibration ({j.calibration}); its "
                "scores are shown but left out of quality, and its head-to-head verdicts are "
                "neither asked nor counted."
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
