"""One trial's score, the unit every grade is built from: its quality from its check and its
judges by the stated weights (`trial_quality`), its judge score (`judge_score`), and whether its
work tried to steer a judge (`injected`). Pure computation over one trial, with no other trial
or contestant in sight; `grading` averages these per model, and the runner, routing, run
comparisons and the Inspect export read them one trial at a time.

Formula (also printed with every report through GradeWeights):
- trial quality = (w.check * check + w.judge * judge) / (w.check + w.judge) over the parts the
  trial has, where check = 1 when the check passed, else the share of the tests the untouched
  fixture fails that passed (`CheckResult.tests_credited`: tests a do-nothing contestant
  passes earn no one anything; records kept before that: tests passed / total), else 0, and
  judge = the judges' mean overall score / 10, or 0 when the work tried to steer a judge (an
  injected verdict). A trial with neither part has no quality (None)."""

from __future__ import annotations

from bakeoff.evals.store.records import GradeWeights
from bakeoff.evals.store.rows import Trial

__all__ = ["injected", "judge_score", "trial_quality"]


def injected(record: Trial) -> bool:
    """Whether the trial's work tried to steer a judge: a judge's verdict was rejected because
    it repeated one written inside the work (`judge_verdicts.Planted`)."""
    return any(s.failure == "copied_verdict" for s in record.judges)


def judge_score(record: Trial) -> float | None:
    """The trial's judge score, 1..10: the counted judges' mean, the lowest score (1) when its
    work tried to steer a judge, None when no counted judge answered."""
    return 1.0 if injected(record) else record.judge_overall


def trial_quality(record: Trial, weights: GradeWeights) -> float | None:
    """0..1 quality of one trial from its check and judges (module docstring), or None. A
    trial whose work tried to steer a judge scores 0 on its judge part, so the attempt can
    only cost it."""
    check: float | None = None
    if record.check is not None:
        c = record.check
        credit = c.tests_credited, c.tests_creditable
        if c.passed:
            check = 1.0
        elif credit[0] is not None and credit[1]:
            # Only tests the untouched fixture fails earn partial credit: doing nothing is 0.
            check = credit[0] / credit[1]
        elif c.tests_total and c.tests_passed is not None and credit[1] is None:
            check = c.tests_passed / c.tests_total  # stored before credit was kept
        else:
            check = 0.0
    judge = None if record.judge_overall is None else record.judge_overall / 10
    if injected(record):
        judge = 0.0
    parts = [(weights.check, check), (weights.judge, judge)]
    present = [(weight, v) for weight, v in parts if v is not None and weight > 0]
    total = sum(weight for weight, _ in present)
    return sum(weight * v for weight, v in present) / total if total > 0 else None
