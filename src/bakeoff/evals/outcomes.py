"""Errors apart from results, in words and in the store: `outcome_notes` tells the reader of a
report which trials were left out as infrastructure errors and the command that reruns them;
`crashed_trial` records a trial that bakeoff itself failed to run as an `error`, so it is
counted, shown and retried like any other. (The grades leave errors out in `grading`; the
outcome of one trial is `records.trial_status`.) Pure computation."""

from __future__ import annotations

from bakeoff.evals.records import BakeoffSummary, TrialRecord
from bakeoff.types import AgentResult


def outcome_notes(summary: BakeoffSummary) -> list[str]:
    """Sentences for the report: the errors left out of a ranked model's numbers, and the
    command that reruns every errored trial (the models not ranked have lines of their own)."""
    notes = []
    for m in summary.ranking:
        if m.errors:
            notes.append(
                f"{m.model}: {m.errors} of {m.errors + m.runs} trials failed for reasons outside "
                "the model (infrastructure errors) and are left out of its numbers."
            )
    if any(m.errors for m in summary.ranking) or any(u.errors for u in summary.unranked):
        notes.append(
            f"Rerun only the errored trials with: bakeoff run --retry-errors {summary.run_id}"
        )
    return notes


def crashed_trial(
    *,
    run_id: str,
    task: str,
    category: str,
    difficulty: int,
    model: str,
    repeat: int,
    exc: BaseException,
    started_at: float,
    finished_at: float,
) -> TrialRecord:
    """The record of a trial that raised instead of returning: an `error`, never a grade."""
    agent = AgentResult(
        ok=False,
        answer="",
        model=model,
        provider=model.partition(":")[0],
        stop_reason="error",
        error=f"bakeoff failed to run this trial: {type(exc).__name__}: {exc}",
    )
    return TrialRecord(
        run_id=run_id,
        task=task,
        category=category,
        difficulty=difficulty,
        model=model,
        repeat=repeat,
        status="error",
        agent=agent,
        started_at=started_at,
        finished_at=finished_at,
    )
