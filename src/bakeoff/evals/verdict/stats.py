"""The statistics behind the verdicts. The task is the unit: callers average a model's repeats of
one task first, so six repeats of one task are one piece of evidence, not six. Intervals: the
Wilson score interval, with continuity correction where the report needs coverage it can promise
(pass rates and means of 0..1 scores over a handful of tasks: it never collapses to zero width
and covers the truth at least 94.8% of the time at 3..10 tasks whatever the rate, nominal 95%).
Paired comparisons: a sign-flip (permutation) test on per-task differences (exact up to 16
tasks), Holm's step-down correction across every pair of a bake-off, and the smallest gap a run
of n tasks can show.
Agreement: Krippendorff's alpha (interval metric) between judges' scores; Cohen's kappa between
two pass/fail raters (callers: a judge's score >= 6, or the judges' mean >= 6, against the
check's verdict). Pure functions over plain lists; every random draw is seeded, so a report built
twice from the same records shows the same numbers."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where a test runs: most commands never need it
    import numpy as np

ALPHA = 0.05
"""Family-wise error rate of a bake-off's paired tests (after Holm's correction)."""
Z95 = 1.959963984540054
"""Two-sided 95% normal quantile."""
# Up to this many non-zero differences the sign-flip test enumerates every sign pattern
# (2**16 = 65,536 rows) and is exact; above it, it draws seeded random patterns.
_EXACT_SIGN_FLIP_MAX_N = 16
_CHUNK_CELLS = 4_000_000  # random signs drawn at a time (32 MB), to bound memory


def wilson_interval(
    successes: float, n: int, z: float = Z95, *, continuity: bool = False
) -> tuple[float, float]:
    """Wilson score interval for a proportion `successes / n`. It stays inside 0..1 and is not
    degenerate at 0/n or n/n. With `continuity`, Newcombe's continuity-corrected form: wider,
    and its coverage stays near nominal for every rate at small n (at least 94.8% at 3..10, by
    exact binomial sums), where the plain form dips to ~83% near 0 or 1. `successes` may be
    fractional (a mean of 0..1 scores times n), which keeps the interval valid because a 0..1
    score varies no more than a pass/fail one.
    Raises ValueError when n < 1 or successes is outside 0..n."""
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n >= 1, got {successes}/{n}")
    p = successes / n
    z2 = z * z
    if not continuity:
        denominator = 1 + z2 / n
        centre = (p + z2 / (2 * n)) / denominator
        half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
        return max(0.0, centre - half), min(1.0, centre + half)
    q = 1 - p
    low = (
        0.0
        if p <= 0
        else (2 * n * p + z2 - 1 - z * math.sqrt(max(0.0, z2 - 2 - 1 / n + 4 * p * (n * q + 1))))
        / (2 * (n + z2))
    )
    high = (
        1.0
        if p >= 1
        else (2 * n * p + z2 + 1 + z * math.sqrt(max(0.0, z2 + 2 - 1 / n + 4 * p * (n * q - 1))))
        / (2 * (n + z2))
    )
    return max(0.0, min(low, p)), min(1.0, max(high, p))


def mean_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean of 0..1 values (one per task) with a 95% interval: (mean, low, high), the
    continuity-corrected Wilson interval with the mean in place of a proportion and the number
    of values as n. Unlike a bootstrap it cannot collapse to zero width when every value is the
    same (five tasks all at 100% still leave room for 46%). Raises ValueError when empty or a
    value lies outside 0..1."""
    if not values:
        raise ValueError("mean_interval needs at least one value")
    if any(not 0.0 <= v <= 1.0 for v in values):
        raise ValueError("mean_interval takes values in 0..1")
    mean = math.fsum(values) / len(values)
    low, high = wilson_interval(mean * len(values), len(values), continuity=True)
    return mean, low, high


@functools.cache
def _sign_patterns(n: int) -> np.ndarray:
    """Every one of the 2**n patterns of n signs, as rows of +1/-1."""
    import numpy as np

    bits = (np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1
    return np.where(bits == 1, -1.0, 1.0)


def sign_flip_p(diffs: Sequence[float], n_draws: int = 2000, seed: int = 0) -> float:
    """Two-sided p-value that paired differences are centred on zero: the share of sign patterns
    whose |sum| is at least the observed |sum|. Under "no difference" the two models are
    interchangeable on each task, so every pattern is as likely as the observed one and the
    test is exact (no normality assumed) up to 16 non-zero differences; above that it draws
    `n_draws` seeded patterns, counting the observed one. All-zero differences: 1.0. The
    smallest p it can give is 2 / 2**n: with one task it is always 1, with five never below
    0.0625."""
    return sign_flip_ps([diffs], n_draws, seed)[0]


def sign_flip_ps(
    diff_lists: Sequence[Sequence[float]], n_draws: int = 2000, seed: int = 0
) -> list[float]:
    """`sign_flip_p` for many lists at once: lists of the same length beyond exact enumeration
    share one stream of random patterns, so a field of many models over hundreds of tasks
    costs one matrix product per chunk rather than one per pair."""
    out: list[float] = [1.0] * len(diff_lists)
    sampled: dict[int, list[int]] = {}
    for i, diffs in enumerate(diff_lists):
        values = [d for d in diffs if d != 0]
        if not values:
            continue
        import numpy as np

        nonzero = np.asarray(values, dtype=float)
        if nonzero.size <= _EXACT_SIGN_FLIP_MAX_N:
            sums = np.abs(_sign_patterns(nonzero.size) @ nonzero)
            out[i] = float(np.mean(sums >= _threshold(nonzero)))
        else:
            sampled.setdefault(len(diffs), []).append(i)
    for n, items in sampled.items():
        import numpy as np

        # Zeros flip to zero, so keeping them leaves every pattern's sum unchanged.
        d = np.asarray([list(diff_lists[i]) for i in items], dtype=float).T  # n x items
        thresholds = np.asarray([_threshold(d[:, k]) for k in range(len(items))])
        rng = np.random.default_rng(seed)
        extreme = np.zeros(len(items), dtype=np.int64)
        rows = max(1000, _CHUNK_CELLS // n)
        for start in range(0, n_draws, rows):
            packed = rng.integers(
                0, 256, size=(min(rows, n_draws - start), -(-n // 8)), dtype=np.uint8
            )
            signs = 1.0 - 2.0 * np.unpackbits(packed, axis=1)[:, :n]  # 8 signs per random byte
            extreme += np.sum(np.abs(signs @ d) >= thresholds, axis=0)
        for k, i in enumerate(items):
            out[i] = float((extreme[k] + 1) / (n_draws + 1))
    return out


def _threshold(diffs: np.ndarray) -> float:
    observed = abs(float(diffs.sum()))
    # Float sums of the same magnitudes can differ in the last bits; don't let that decide.
    return observed - 1e-9 * max(1.0, observed)


def draws_for(n_tests: int, alpha: float = ALPHA) -> int:
    """Random sign patterns a Monte Carlo sign-flip test needs so that its resolution (1/draws)
    is well below Holm's strictest level alpha / n_tests."""
    return max(2000, math.ceil(20 * max(1, n_tests) / alpha))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order: the i-th smallest of m p-values
    is multiplied by (m - i + 1), kept at least as large as every smaller one's, capped at 1.
    Rejecting where the adjusted p < alpha keeps the chance of even one false "X beats Y" among
    all the pairs at most alpha, whatever the tests' dependence."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def tasks_needed(n_tests: int, alpha: float = ALPHA) -> int:
    """Fewest tasks with which an exact sign-flip test can pass Holm's first step over
    `n_tests` pairs: the smallest n with 2 / 2**n <= alpha / n_tests."""
    return max(1, math.ceil(math.log2(2 * max(1, n_tests) / alpha)))


def detectable_gap(n_tasks: int, n_tests: int, spread: float, alpha: float = ALPHA) -> float | None:
    """The smallest mean per-task difference that a pair can show at Holm's strictest level
    (alpha / n_tests), given per-task differences with standard deviation `spread`: the
    t-approximation t(1 - level/2, n - 1) * spread / sqrt(n) of the sign-flip test. None when no
    gap at all can show: fewer than `tasks_needed` tasks, or fewer than two."""
    if n_tasks < 2 or n_tasks < tasks_needed(n_tests, alpha):
        return None
    from scipy.special import stdtrit  # the t quantile; scipy.stats would take seconds to import

    level = alpha / max(1, n_tests)
    return float(stdtrit(n_tasks - 1, 1 - level / 2)) * spread / math.sqrt(n_tasks)


def krippendorff_alpha_interval(ratings: Sequence[Sequence[float | None]]) -> float | None:
    """Krippendorff's alpha with the interval metric, for `ratings[unit][rater]` where None is
    a missing rating. alpha = 1 - D_o / D_e, with only units rated at least twice counted
    (n = their values in total):
      D_o = (1/n) * sum over units u of (1/(m_u - 1)) * sum over ordered pairs i != j in u of
            (v_i - v_j)**2
      D_e = (1/(n(n-1))) * sum over ordered pairs i != j of all n values of (v_i - v_j)**2
    1 is perfect agreement, 0 is what chance gives, negative is systematic disagreement. None
    when fewer than two values are pairable or they show no variation at all (D_e = 0)."""
    units = [[float(v) for v in unit if v is not None] for unit in ratings]
    units = [u for u in units if len(u) >= 2]
    import numpy as np

    pooled = np.asarray([v for u in units for v in u], dtype=float)
    n = pooled.size
    if n < 2:
        return None
    observed = 0.0
    for unit in units:
        values = np.asarray(unit, dtype=float)
        # sum over ordered pairs of (v_i - v_j)^2 == 2 * (m * sum(v^2) - (sum v)^2)
        pair_sum = 2.0 * (values.size * float(np.sum(values**2)) - float(values.sum()) ** 2)
        observed += pair_sum / (values.size - 1)
    observed /= n
    expected = 2.0 * (n * float(np.sum(pooled**2)) - float(pooled.sum()) ** 2) / (n * (n - 1))
    if expected <= 1e-12:
        return None
    return 1.0 - observed / expected


def cohen_kappa(a: Sequence[bool], b: Sequence[bool]) -> float | None:
    """Cohen's kappa for two binary raters: (p_o - p_e) / (1 - p_e), where p_o is the observed
    agreement and p_e the agreement expected from each rater's own base rate. 1 is perfect
    agreement, 0 chance, -1 perfect disagreement. A rater that never changes its answer scores
    exactly 0 against a rater that does (always "pass" agrees with mostly-passing checks often,
    by chance alone), and also 0 against a constant rater that says the opposite. None when the
    lists are empty, or both raters give one and the same answer throughout (p_e = 1: kappa is
    undefined). Lists of different lengths raise ValueError."""
    if len(a) != len(b):
        raise ValueError(f"paired ratings differ in length: {len(a)} vs {len(b)}")
    n = len(a)
    if n == 0:
        return None
    p_o = sum(1 for x, y in zip(a, b, strict=True) if x == y) / n
    rate_a = sum(a) / n
    rate_b = sum(b) / n
    p_e = rate_a * rate_b + (1 - rate_a) * (1 - rate_b)
    if p_e >= 1.0:
        return None
    return (p_o - p_e) / (1 - p_e)


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """The area under the ROC curve of a score that should rank `positives` above `negatives`:
    the share of (positive, negative) pairs the score orders rightly, a tie counting half
    (the Mann-Whitney U statistic over the number of pairs). 1 separates them perfectly, 0.5
    is chance, and so is a constant score. None when either side is empty."""
    if not positives or not negatives:
        return None
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


_EXACT_POWER_MAX_N = 12  # above it the permutation distribution is taken as normal


def power(
    gap: float,
    n_tasks: int,
    repeats: int = 1,
    *,
    level: float = 0.5,
    n_tests: int = 1,
    alpha: float = ALPHA,
    sims: int = 400,
    seed: int = 0,
) -> float:
    """The share of simulated runs in which a true quality gap `gap` between two models shows.
    Each simulated run gives the two models pass/fail trials at rates level + gap/2 and
    level - gap/2 (moved to fit in 0..1), `repeats` per task over `n_tasks` tasks, averages the
    repeats per task and tests the per-task differences as the run does: the two-sided
    sign-flip test, at Holm's strictest level alpha / n_tests (a pair tested later in Holm's
    order gets a looser one). Pass/fail is the most a 0..1 score can vary at its mean, so for
    partial-credit or judged scores the answer leans low; differences between tasks in the
    gap itself are left out, which leans the other way. The test is exact up to 12 tasks;
    above, its permutation distribution is taken as normal. Seeded: the same inputs give the
    same answer. (With 10 tasks x 1 repeat, rates 0.65 and 0.35: about 11%; 20 x 3: about 88%.)"""
    if n_tasks < 1 or repeats < 1:
        return 0.0
    gap = min(abs(gap), 1.0)
    high = min(1.0, max(gap, level + gap / 2))
    import numpy as np

    rng = np.random.default_rng(seed)
    a = rng.binomial(repeats, high, (n_tasks, sims)) / repeats
    b = rng.binomial(repeats, high - gap, (n_tasks, sims)) / repeats
    diffs = a - b
    observed = np.abs(diffs.sum(axis=0))
    if n_tasks <= _EXACT_POWER_MAX_N:
        sums = np.abs(_sign_patterns(n_tasks) @ diffs)  # patterns x sims
        p = np.mean(sums >= observed - 1e-9 * np.maximum(1.0, observed), axis=0)
    else:
        from scipy.special import ndtr  # the normal CDF, without importing scipy.stats

        squares = np.sum(diffs**2, axis=0)
        z = np.divide(observed, np.sqrt(squares), out=np.zeros_like(observed), where=squares > 0)
        p = 2 * (1 - ndtr(z))
    return float(np.mean(p <= alpha / max(1, n_tests)))
