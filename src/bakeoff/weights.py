"""The stated weights and absolute bands behind every grade (`[weights]` and `[grading]` in the
config). Pure data at the bottom of the layers: the config reads it, the graders apply it, every
report prints it."""

from __future__ import annotations

import itertools
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Letter = Literal["S", "A", "B", "C", "D", "F"]
Grade = Literal["S", "A", "B", "C", "D", "F", "-"]
"""A letter, or "-" where there is nothing to grade."""


class LetterFloors(BaseModel):
    """The lowest overall score (0..1) that earns each letter; below D is F."""

    model_config = ConfigDict(extra="forbid")

    S: float = Field(default=0.90, ge=0, le=1)
    """Quality that is hard to fault, fast and cheap enough not to matter."""
    A: float = Field(default=0.80, ge=0, le=1)
    """Solid quality, or top quality held back a little by time or money."""
    B: float = Field(default=0.70, ge=0, le=1)
    """Usable; also the default bar of an acceptable model."""
    C: float = Field(default=0.60, ge=0, le=1)
    """Right more often than not."""
    D: float = Field(default=0.50, ge=0, le=1)
    """Right about half the time, or good but very slow or very expensive."""

    @model_validator(mode="after")
    def _best_first(self) -> LetterFloors:
        floors = [self.S, self.A, self.B, self.C, self.D]
        if any(hi <= lo for hi, lo in itertools.pairwise(floors)):
            raise ValueError(f"letter floors must fall from S to D, got {floors}")
        return self


class GradeBands(BaseModel):
    """Absolute bands that turn a model's own results into its speed and cost scores and its
    letter, so the same trials earn the same letter alone or in any field (`[grading]`).
    Between a band's two ends the score falls on a log scale, because models differ by orders
    of magnitude: score = 1 - log10(x / best) / log10(worst / best), clipped to 0..1."""

    model_config = ConfigDict(extra="forbid")

    fast_s: float = Field(default=10.0, gt=0)
    """Median wall time per trial, in seconds, at or below which speed scores 1."""
    slow_s: float = Field(default=1000.0, gt=0)
    """Median wall time per trial at or above which speed scores 0 (100 s scores 0.5)."""
    cheap_usd: float = Field(default=0.01, gt=0)
    """Cost per solved task, in USD, at or below which cost scores 1 ($0 included)."""
    expensive_usd: float = Field(default=10.0, gt=0)
    """Cost per solved task at or above which cost scores 0 ($0.10 scores 0.67, $1 0.33). An
    unknown price, or nothing solved, scores 0: never as free."""
    letters: LetterFloors = Field(default_factory=LetterFloors)
    """`[grading.letters]`: the overall score each letter needs."""

    @model_validator(mode="after")
    def _ends_in_order(self) -> GradeBands:
        if self.slow_s <= self.fast_s:
            raise ValueError(f"slow_s ({self.slow_s}) must be above fast_s ({self.fast_s})")
        if self.expensive_usd <= self.cheap_usd:
            raise ValueError(
                f"expensive_usd ({self.expensive_usd}) must be above cheap_usd ({self.cheap_usd})"
            )
        return self


class GradeWeights(BaseModel):
    """The stated weights and bands behind every grade; printed in every report and stored
    with every run. overall = quality x (quality + speed x speed score + cost x cost score) /
    (quality + speed + cost), with the weights below: speed and cost can pull a model's score
    below its quality but never lift it above, so a model that solves nothing scores 0."""

    model_config = ConfigDict(extra="forbid")

    check: float = Field(default=0.6, ge=0)
    """Share of quality from deterministic checks (1 when the check passed, else the share of
    the tests the untouched fixture fails that passed)."""
    judge: float = Field(default=0.4, ge=0)
    """Share of quality from the judges' overall score (1-10 scaled to 0-1)."""
    quality: float = Field(default=0.6, ge=0)
    """Weight of quality in the overall score."""
    speed: float = Field(default=0.2, ge=0)
    """Weight of the speed score (median time against `bands`) in the overall score."""
    cost: float = Field(default=0.2, ge=0)
    """Weight of the cost score (cost per solved task against `bands`) in the overall score."""
    quality_bar: float = Field(default=0.7, ge=0, le=1)
    """Quality a model must reach to count as acceptable in the recommendation."""
    bands: GradeBands = Field(default_factory=GradeBands)
    """The absolute bands (set them in the config's `[grading]` table)."""

    @model_validator(mode="after")
    def _some_weight(self) -> GradeWeights:
        if self.check + self.judge <= 0:
            raise ValueError("check + judge must be above 0: quality needs a source")
        if self.quality + self.speed + self.cost <= 0:
            raise ValueError("quality + speed + cost must be above 0")
        return self
