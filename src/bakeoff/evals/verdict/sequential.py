"""`bakeoff run --until-decided`: after the planned repeats, one more repeat at a time for the
models of undecided pairs, until every pair of ranked models is decided or a limit is reached,
without raising the chance of a false "A beats B" above ALPHA however often the run looks.

The method (group-sequential Holm with Bonferroni over looks): a run with `max_repeats` extra
repeats has at most L = max_repeats + 1 looks (the planned repeats, then each extra one), and
each look gets ALPHA / L. At a look, every pair still undecided is tested as the fixed design
tests it (the sign-flip test on per-task differences of quality, repeats averaged, over
the compared tasks) and Holm's step-down at ALPHA / L runs over every pair not yet found to
differ (pairs already decided "no difference" stay in the family with p = 1, so the family
never shrinks below its true nulls). Why it holds: a false "beats" anywhere needs some true
null's p-value at some look below ALPHA / (L * m0), m0 the true nulls; each such p-value is a
valid sign-flip p-value of the first repeats, so the union over looks and true nulls has
probability at most ALPHA, whatever the dependence between looks and whichever pairs got
more repeats. A pair is decided "no difference" when two one-sided sign-flip tests (TOST) at
ALPHA / L each put its mean per-task difference inside +-`min_gap` (not corrected across
pairs: it claims less than "beats"). A pair decided stays decided; pairs still open after the
last look are undecided. The final table's verdicts are these decisions, replayed from the
stored repeats (look l reads repeats below planned + l), so `bakeoff report` shows the same.
tests/evals/test_sequential.py measures the error rate over thousands of simulated runs."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from bakeoff.evals.store.records import BakeoffSpec, UntilDecided
from bakeoff.evals.store.rows import Trial
from bakeoff.evals.store.summary_records import PairwiseTest
from bakeoff.evals.verdict import stats
from bakeoff.evals.verdict.compare import TaskMeans, task_means
from bakeoff.evals.verdict.coverage import coverage, restrict

Decision = Literal["beats", "no difference", "undecided"]

METHOD = (
    "sequential test: Holm across pairs at each look, alpha {alpha:g} split evenly over "
    "{looks} looks (Bonferroni over looks, {level:.2g} each); 'no difference' = the mean "
    "per-task gap shown inside +-{gap:g} (two one-sided tests at {level:.2g})"
)


@dataclass(frozen=True)
class PairDecision:
    """Where one pair stands: decided at look `look` (0: the planned repeats, k: after k extra
    repeats), or still undecided at its last look. The numbers are that look's."""

    model_a: str
    model_b: str
    decision: Decision
    winner: str | None  # the better model when decision is "beats"
    look: int
    n: int  # tasks compared
    a_wins: int
    b_wins: int
    mean_diff: float  # A - B
    p_value: float  # the sign-flip test's own
    p_adjusted: float  # Holm within the look, times the looks (capped at 1): < alpha = beats

    def test(self) -> PairwiseTest:
        """The pair as the report's paired test: "beats" is a verdict, the rest are not."""
        verdict = "indistinguishable"
        if self.decision == "beats":
            verdict = "A better" if self.winner == self.model_a else "B better"
        return PairwiseTest(
            model_a=self.model_a,
            model_b=self.model_b,
            metric="quality",
            n=self.n,
            a_wins=self.a_wins,
            b_wins=self.b_wins,
            mean_diff=self.mean_diff,
            p_value=self.p_value,
            p_holm=self.p_adjusted,
            verdict=verdict,  # type: ignore[arg-type]
        )


def decide(
    models: Sequence[str],
    looks: Sequence[TaskMeans],
    design: UntilDecided,
    alpha: float = stats.ALPHA,
) -> list[PairDecision]:
    """Replay the sequential procedure (module docstring) over `looks` (look l: model -> task
    -> mean quality over the repeats up to l), for every two of `models` that share a task.
    Fewer looks than the design's are fine: the alpha of the looks not taken is unspent."""
    n_looks = design.max_repeats + 1
    level = alpha / n_looks
    pairs = list(itertools.combinations(models, 2))
    state: dict[tuple[str, str], PairDecision] = {}
    for look, means in enumerate(looks[:n_looks]):
        open_pairs, diffs = [], []
        for a, b in pairs:
            if (a, b) in state and state[(a, b)].decision != "undecided":
                continue
            ma, mb = means.get(a, {}), means.get(b, {})
            shared = sorted(ma.keys() & mb.keys())
            if shared:
                open_pairs.append((a, b))
                diffs.append([ma[t] - mb[t] for t in shared])
        if not open_pairs:
            break
        gap = design.min_gap
        shifted = [[d - gap for d in ds] for ds in diffs] + [[d + gap for d in ds] for ds in diffs]
        draws = stats.draws_for(len(pairs) * n_looks, alpha)
        ps = stats.sign_flip_ps([*diffs, *shifted], draws)
        k = len(open_pairs)
        p_open, p_below, p_above = ps[:k], ps[k : 2 * k], ps[2 * k :]
        # Holm over every pair not yet shown to differ; "no difference" ones sit in at p = 1.
        family = [p for p in state if state[p].decision == "no difference"]
        adjusted = stats.holm([*p_open, *([1.0] * len(family))])[:k]
        for i, (a, b) in enumerate(open_pairs):
            ds = diffs[i]
            mean = math.fsum(ds) / len(ds)
            decision: Decision = "undecided"
            if adjusted[i] < level and mean != 0:
                decision = "beats"
            elif _inside(ds, gap, p_below[i], p_above[i], level):
                decision = "no difference"
            state[(a, b)] = PairDecision(
                model_a=a,
                model_b=b,
                decision=decision,
                winner=(a if mean > 0 else b) if decision == "beats" else None,
                look=look,
                n=len(ds),
                a_wins=sum(1 for d in ds if d > 0),
                b_wins=sum(1 for d in ds if d < 0),
                mean_diff=mean,
                p_value=p_open[i],
                p_adjusted=min(1.0, adjusted[i] * n_looks),
            )
    return [state[p] for p in pairs if p in state]


def _inside(
    diffs: Sequence[float], gap: float, p_below: float, p_above: float, level: float
) -> bool:
    """Two one-sided tests: the mean difference is below +gap and above -gap, each at `level`.
    A sign-flip distribution is symmetric, so a one-sided p is half the two-sided one when
    the sum lies on the tested side."""
    below = math.fsum(d - gap for d in diffs) < 0 and p_below / 2 < level
    above = math.fsum(d + gap for d in diffs) > 0 and p_above / 2 < level
    return below and above


@dataclass
class Replay:
    """A run's sequential verdict from its stored trials (`replay`)."""

    design: UntilDecided
    base_repeats: int
    extra: int  # extra repeats found in the records
    looks: Sequence[TaskMeans]
    models: list[str]  # the graded models, as coverage finds them
    decisions: list[PairDecision]

    def tests(self, models: Sequence[str], _quality: TaskMeans | None = None) -> list[PairwiseTest]:
        """The paired tests of `models` (grading's ranking), from the sequential decisions;
        the signature of `compare.paired_tests`, so grading can use either."""
        self.decisions = decide(models, self.looks, self.design)
        return [d.test() for d in self.decisions]

    def wanted(self) -> set[str]:
        """Models in a pair still undecided: the next extra repeat is theirs."""
        return {
            m for d in self.decisions if d.decision == "undecided" for m in (d.model_a, d.model_b)
        }

    def tasks(self) -> list[str]:
        """The compared tasks (those the tests read): where the extra repeats run."""
        return sorted({t for means in self.looks[:1] for per in means.values() for t in per})

    def note(self) -> str:
        """The table's sentence: what was decided after how many extra repeats, and how."""
        looks = self.design.max_repeats + 1
        method = METHOD.format(
            alpha=stats.ALPHA, looks=looks, level=stats.ALPHA / looks, gap=self.design.min_gap
        )
        parts = []
        for d in self.decisions:
            when = f"after {d.look} extra repeat{'s' if d.look != 1 else ''}"
            if d.decision == "beats":
                loser = d.model_b if d.winner == d.model_a else d.model_a
                parts.append(f"{d.winner} beats {loser} ({when})")
            elif d.decision == "no difference":
                parts.append(
                    f"{d.model_a} and {d.model_b} differ by less than {self.design.min_gap:g} "
                    f"({when})"
                )
            else:
                parts.append(f"{d.model_a} vs {d.model_b} undecided ({when})")
        open_left = any(d.decision == "undecided" for d in self.decisions)
        head = f"Until decided: {self.extra} extra repeat{'s' if self.extra != 1 else ''} run" + (
            f", stopped at the limit or budget (--max-repeats {self.design.max_repeats})"
            if open_left
            else f"; decided after {self.extra} extra repeat{'s' if self.extra != 1 else ''}"
        )
        return f"{head}; {method}. " + ("; ".join(parts) or "no pair to decide") + "."


def replay(
    spec: BakeoffSpec,
    records: Sequence[Trial],
    value: Callable[[Trial], float | None],
    *,
    upto: int | None = None,
) -> Replay:
    """The sequential verdict of a run with `spec.until_decided` from its trials (`value`: a
    trial's quality), over looks 0..`upto` (default: every extra repeat stored). Looks read
    the compared tasks (`coverage`) of the planned repeats."""
    design = spec.until_decided or UntilDecided()
    base = spec.repeats
    extra = max([r.repeat - base + 1 for r in records if r.repeat >= base], default=0)
    extra = min(extra, design.max_repeats) if upto is None else min(upto, design.max_repeats)
    planned = [r for r in records if r.repeat < base]
    first = task_means(planned, value)
    cov = coverage(spec, planned, first)
    looks = [
        restrict(task_means([r for r in records if r.repeat < base + k], value), cov.compared)
        for k in range(extra + 1)
    ]
    graded = [m for m in dict.fromkeys([*spec.models, *first]) if looks[0].get(m)]
    out = Replay(design, base, extra, looks, graded, [])
    out.tests(graded)
    return out
