"""Errors apart from results, in words and in the store: `outcome_notes` tells the reader of a
report which trials were left out as errors and the command that reruns them;
`internal_errors_line` says how many of them bakeoff's own bugs caused, never hidden;
`crashed_trial` records a trial that bakeoff itself failed to run as an `error` with the stop
reason `internal`, so it is counted, shown and retried like any other. (The grades leave
errors out in `grading`; the outcome of one trial is `records.trial_status`.) And the graded run itself: `build_outcome`
grades what the store holds from its lean rows (`rows.TrialRow`), and the `BakeoffOutcome` it
returns streams the full records from the store on demand (`iter_records`), so grading and
reporting 100,000 trials never holds their transcripts at once. Reads the store; writes
nothing."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bakeoff.config import BakeoffConfig, load_config
from bakeoff.evals.store.records import TrialRecord, TrialStatus
from bakeoff.evals.store.rows import RowReader, TrialRow
from bakeoff.evals.store.store import Store
from bakeoff.evals.store.summary_records import BakeoffSummary
from bakeoff.evals.verdict.calibration import (
    apply_calibration,
    judge_notes,
    judge_summaries,
    uncounted_judges,
)
from bakeoff.evals.verdict.grading import summarize
from bakeoff.evals.verdict.model_names import namer, relabel, relabel_trial
from bakeoff.models.model_id import ModelId, provider_of
from bakeoff.redact import redact
from bakeoff.types import AgentResult

Outcome = TrialStatus | Literal["done", "no change"]
"""How a trial ended as the reports say it: its status, except that nothing can have `passed`
what nothing graded. A trial with neither a check nor a judge's verdict that ended with an
answer is `done` when it changed files and `no change` when it changed none (a refused or
never-made edit included)."""


def trial_outcome(record: TrialRecord) -> Outcome:
    """The trial's `Outcome` (its status unless nothing graded it)."""
    graded = record.check is not None or any(s.overall is not None for s in record.judges)
    if record.status != "passed" or graded:
        return record.status
    return "done" if record.diff.strip() else "no change"


def refused_calls(result: AgentResult) -> int:
    """Tool calls of a run that the tools refused or that failed (an edit of a file not read
    first, a path outside the workspace...): a run with any is not simply "ok"."""
    return sum(1 for m in result.transcript if m.role == "tool" and m.is_error)


def outcome_notes(summary: BakeoffSummary) -> list[str]:
    """Sentences for the report: the errors left out of a ranked model's numbers, and the
    command that reruns every errored trial (the models not ranked have lines of their own;
    bakeoff's own bugs have `internal_errors_line`)."""
    notes = []
    for m in summary.ranking:
        if m.errors:
            why = "infrastructure errors"
            if m.internal_errors:
                why += f", {m.internal_errors} of them bakeoff's own bugs"
            notes.append(
                f"{m.model}: {m.errors} of {m.errors + m.runs} trials failed for reasons outside "
                f"the model ({why}) and are left out of its numbers."
            )
    if any(m.errors for m in summary.ranking) or any(u.errors for u in summary.unranked):
        notes.append(
            f"Rerun only the errored trials with: bakeoff run --retry-errors {summary.run_id}"
        )
    return notes


def internal_errors_line(summary: BakeoffSummary) -> str | None:
    """The line every report shows when bakeoff's own bugs ended trials (stop reason
    `internal`): how many, whose, and what to do; None when none did."""
    n = summary.internal_errors
    if not n:
        return None
    models = [(m.model, m.internal_errors) for m in summary.ranking if m.internal_errors]
    models += [(u.model, u.internal_errors) for u in summary.unranked if u.internal_errors]
    whose = ", ".join(f"{model} {count}" for model, count in models)
    return (
        f"{n} internal error{'s' if n != 1 else ''} ({whose}): a bakeoff bug, not the models' "
        "failure, left out of their numbers — please report it, with the trial's log (its "
        f"error in `bakeoff report {summary.run_id} --json`, stop_reason internal)."
    )


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
    """The record of a trial that raised instead of returning: an `error` with the stop reason
    `internal` (a trial never raises unless bakeoff has a bug: `trial.run_trial`), never a
    grade."""
    detail = str(exc).splitlines()[0][:300] if str(exc).strip() else ""
    agent = AgentResult(
        ok=False,
        answer="",
        model=model,
        provider=provider_of(model),
        stop_reason="internal",
        error=redact(
            f"internal error (a bakeoff bug): bakeoff failed to run this trial: "
            f"{type(exc).__name__}" + (f": {detail}" if detail else "")
        ),
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


@dataclass
class BakeoffOutcome:
    """A graded run. `rows` holds every trial in lean form (`rows.TrialRow`: what the grid,
    the comparisons and the summary read) under the names the reports show; the full records
    (transcripts, diffs, check output) stay in the store and are read a page at a time by
    `iter_records`, so an outcome of 100,000 trials stays small."""

    run_id: str
    summary: BakeoffSummary
    rows: list[TrialRow]
    report_html: Path | None
    budget_skipped: int = 0
    store: Store | None = None
    """Where the full records are: the store the outcome was built from (keep it open)."""
    shown: Callable[[TrialRecord], TrialRecord] = field(default=lambda r: r, repr=False)
    """A stored record as the summary saw it: display names, judges' calibration applied."""

    def iter_records(
        self, *, tasks: Collection[str] | None = None, limit: int | None = None
    ) -> Iterator[TrialRecord]:
        """The full records (only of `tasks` when given, at most `limit`), by task, model,
        repeat, as `shown`; streamed from the store a page at a time."""
        if self.store is None:
            return iter(())
        stored = self.store.iter_trials(self.run_id, tasks=tasks, limit=limit)
        return (self.shown(r) for r in stored)

    @property
    def records(self) -> list[TrialRecord]:
        """Every full record at once: for small runs and tests; reports read `rows` and
        stream `iter_records`."""
        return list(self.iter_records())


def build_outcome(
    store: Store,
    run_id: str,
    config: BakeoffConfig | None = None,
    *,
    budget_skipped: int = 0,
    notes: Sequence[str] = (),
) -> BakeoffOutcome:
    """Grade what the store holds for `run_id`, from its lean rows (`Store.trial_rows`), so
    memory grows by under 1 KB per trial whatever the transcripts hold. Writing reports is
    the shells' job (`bakeoff.report.html.write_run_report`)."""
    config = config or load_config()
    stored = store.get_spec(run_id)
    calibrations = store.calibrations(run_id)
    uncounted = uncounted_judges(calibrations)
    local_ids = {m for m in stored.models if _local_contestant(config, m)}
    # From here on every model is named as the user typed it (evals/verdict/model_names.py).
    name = namer(stored)
    spec, _, verdicts, calibrations = relabel(stored, [], store.verdicts(run_id), calibrations)
    records = store.trial_rows(run_id, RowReader(name, uncounted, requests_for=local_ids))
    # An uncalibrated judge's head-to-head verdicts count nowhere (stored by older runs).
    counted = [v for v in verdicts if v.judge not in uncounted_judges(calibrations)]
    summary = summarize(spec, records, counted, local_models={name(m) for m in local_ids})
    summary.judges = judge_summaries(spec, records, verdicts, calibrations)
    summary.unsandboxed = sum(not r.sandboxed for r in records)
    if summary.unsandboxed:
        summary.notes.append(
            f"UNSANDBOXED: contestant code in {summary.unsandboxed} trials ran without the OS "
            "sandbox (no bubblewrap here; --unsafe-no-sandbox). It could read files and keys."
        )
    summary.notes.extend(judge_notes(summary.judges))
    summary.notes.extend(outcome_notes(summary))
    if budget_skipped:
        summary.notes.append(
            f"Budget cap ${spec.max_cost_usd:g} reached: {budget_skipped} trials were not started."
        )
    if summary.ranking and all(m.quality.value is None for m in summary.ranking):
        judge = suggested_judge(stored.models, config)
        summary.notes.append(ungraded_note(None if judge is None else name(judge)))
    summary.notes.extend(notes)

    def shown(record: TrialRecord) -> TrialRecord:
        return relabel_trial(apply_calibration(record, uncounted), name)

    return BakeoffOutcome(run_id, summary, records, None, budget_skipped, store, shown)


def ungraded_note(judge: str | None) -> str:
    """What a report says when no check or judge graded a run: nothing is ranked, the order is
    alphabetical, and how to grade it, naming `judge` (a model usable here) when there is one."""
    how = (
        f"pass --judge {judge} to grade them"
        if judge
        else "configure a model with a key (see `bakeoff models`) and pass it as --judge ID"
    )
    return (
        "No check or judge graded this run, so quality is not measured, nothing is ranked and "
        f"the models are listed alphabetically: compare the answers, or {how}."
    )


def suggested_judge(models: Sequence[str], config: BakeoffConfig) -> str | None:
    """A model usable as a judge now: the first `bakeoff models` lists as usable that is not
    scripted, preferring one of the run's own contestants (`models`: stored ids; it just
    answered); None if none."""
    for model in models:
        parsed = ModelId.stored_or_none(model, config)
        if parsed is not None and not parsed.scripted:
            return model
    try:
        from bakeoff.models.registry import first_usable

        return first_usable(config, skip_kind="script")
    except Exception:  # listing probes the environment; a failure only loses the hint
        return None


def _local_contestant(config: BakeoffConfig, model_id: str) -> bool:
    """Runs on this machine as a real contestant (`ModelId.local_contestant`)."""
    model = ModelId.stored_or_none(model_id, config)
    return model is not None and model.local_contestant
