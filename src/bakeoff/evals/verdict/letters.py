"""The absolute scale every grade is read on: the letters S/A/B/C/D/F with the lowest overall
score each needs (`letter_bands`, from `[grading.letters]`), the cap that keeps a letter no
better than the one the solved rate earns (`capped`), and the log-scale band score that turns a
median time or a cost per solved task into 0..1 (`band_score`). Nothing here depends on the
other contestants, so the same trials earn the same letter alone or in any field; `grading`
applies the scale to each model.

Formulas (also printed with every report through GradeBands):
- band score = 1 - log10(x / best) / log10(worst / best), clipped to 0..1: 1 at or below
  best, 0 at or above worst. speed: x = median wall time, best..worst = bands.fast_s..slow_s.
  cost: x = cost per solved task, best..worst = bands.cheap_usd..expensive_usd.
- letter: the best of bands.letters the score reaches, else F; "-" for no score. Capped by the
  solved rate: never better than the letter the share of checked tasks solved outright (every
  test passing) earns."""

from __future__ import annotations

import math

from bakeoff.evals.store.records import Grade, GradeBands, Letter, LetterFloors

__all__ = [
    "COST_DECADES",
    "LETTER_BANDS",
    "SPEED_DECADES",
    "band_score",
    "capped",
    "letter",
    "letter_bands",
]


def letter_bands(floors: LetterFloors) -> tuple[tuple[Letter, float], ...]:
    """Each letter and the lowest overall score that earns it, best first, F last at 0."""
    return (
        ("S", floors.S),
        ("A", floors.A),
        ("B", floors.B),
        ("C", floors.C),
        ("D", floors.D),
        ("F", 0.0),
    )


LETTER_BANDS = letter_bands(LetterFloors())
"""The default letters and floors (`[grading.letters]` changes them per run)."""
SPEED_DECADES = math.log10(GradeBands().slow_s / GradeBands().fast_s)
"""Decades of median time between a speed score of 1 and of 0, by default."""
COST_DECADES = math.log10(GradeBands().expensive_usd / GradeBands().cheap_usd)
"""Decades of cost per solved task between a cost score of 1 and of 0, by default."""


def letter(score: float | None, floors: LetterFloors | None = None) -> Grade:
    """S/A/B/C/D/F for a 0..1 score by `floors` (the defaults unless given); "-" for none."""
    if score is None:
        return "-"
    for name, floor in letter_bands(floors or LetterFloors()):
        if score >= floor - 1e-9:  # 0.7 computed as 0.6999999 is still a B
            return name
    return "F"


def capped(earned: Grade, solved_rate: float | None, floors: LetterFloors) -> Grade:
    """`earned`, but no better than the letter `solved_rate` earns (the task-mean share of
    checked trials whose check passed; None: nothing checked, no cap).

    Why a cap and not a mark: the letter is what a reader takes away, and the question behind
    it is "will this model do my task". Partial test credit rewards work that still fails
    (4 of 10 exercises solved and most other tests passing reads 0.76, a B), so a letter from
    it would outrun what the model delivers. Capping keeps the letter honest; the uncapped
    letter is still shown beside it ("F, B by partial credit"), so nothing is hidden, and
    quality, the ranking and the tests keep the partial credit, where it does separate a model
    that nearly solved a task from one that did nothing."""
    if solved_rate is None or earned == "-":
        return earned
    order: list[Grade] = [name for name, _ in letter_bands(floors)]
    return max(earned, letter(solved_rate, floors), key=order.index)  # later in order: worse


def band_score(value: float, best: float, worst: float) -> float:
    """1 at or below `best`, 0 at or above `worst`, log scale between (module docstring)."""
    if value <= best:
        return 1.0
    return max(0.0, 1.0 - math.log10(value / best) / math.log10(worst / best))
