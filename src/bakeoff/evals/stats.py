"""The statistics behind the grades: confidence intervals for pass rates (Wilson) and means
(percentile bootstrap), paired tests that say whether one model really beats another on the same
tasks (exact McNemar on pass/fail, paired bootstrap with a sign-flip p-value on scores), and the
agreement of judges with each other (Krippendorff's alpha, interval metric) and with the checks
(Cohen's kappa). Pure functions over plain lists; every random draw is seeded, so a report built
twice from the same records shows the same numbers."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

# Up to this many non-zero differences the sign-flip test enumerates every sign pattern
# (2**16 = 65,536 rows) and is exact; above it, it draws seeded random patterns.
_EXACT_SIGN_FLIP_MAX_N = 16


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion. Unlike the normal approximation it stays inside
    0..1 and is not degenerate at 0/n or n/n, which matters for the small run counts of a
    bake-off. Raises ValueError when n < 1 or successes is outside 0..n."""
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n >= 1, got {successes}/{n}")
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_ci(
    values: Sequence[float], n_boot: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of `values` with a 95% percentile-bootstrap interval: (mean, low, high). One value
    gives a zero-width interval (there is nothing to resample). Raises ValueError when empty."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    mean = float(data.mean())
    if data.size == 1:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(n_boot, data.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return mean, float(low), float(high)


def mcnemar(a_pass: Sequence[bool], b_pass: Sequence[bool]) -> tuple[int, int, float]:
    """Exact McNemar test on paired pass/fail outcomes: (a_only, b_only, two-sided p). Only the
    discordant pairs carry information; under "no difference" each is equally likely to favour
    A or B, so the p-value is a binomial test at 0.5. No discordant pair gives p = 1.0."""
    if len(a_pass) != len(b_pass):
        raise ValueError(f"paired outcomes differ in length: {len(a_pass)} vs {len(b_pass)}")
    a_only = sum(1 for a, b in zip(a_pass, b_pass, strict=True) if a and not b)
    b_only = sum(1 for a, b in zip(a_pass, b_pass, strict=True) if b and not a)
    return a_only, b_only, sign_test(a_only, b_only)


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact binomial test at 0.5 of `wins` against `losses` (ties left out before
    calling). Used for McNemar's discordant pairs and for a judge's head-to-head wins. 1.0 when
    there is nothing to test."""
    if wins + losses == 0:
        return 1.0
    from scipy.stats import binomtest  # 1.4 s to import: only when a report needs it

    return float(binomtest(wins, wins + losses, 0.5).pvalue)


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], n_boot: int = 2000, seed: int = 0
) -> tuple[float, float, float, float]:
    """Paired comparison of two score lists over the same items: (mean of a - b, 95% bootstrap
    low, high, two-sided p). The interval is the percentile bootstrap of the mean difference.
    The p-value comes from a sign-flip randomisation test on the same differences rather than
    from the bootstrap distribution: with a handful of pairs all pointing one way, every
    bootstrap resample has the same sign and would report p = 0, whereas flipping signs gives
    the honest answer (two pairs can never reach p < 0.5). Raises ValueError when empty."""
    if len(a) != len(b):
        raise ValueError(f"paired scores differ in length: {len(a)} vs {len(b)}")
    diffs = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    mean, low, high = bootstrap_ci(diffs.tolist(), n_boot=n_boot, seed=seed)
    return mean, low, high, sign_flip_p(diffs.tolist(), n_draws=n_boot, seed=seed)


def sign_flip_p(diffs: Sequence[float], n_draws: int = 2000, seed: int = 0) -> float:
    """Two-sided p-value that paired differences are centred on zero: the share of sign
    patterns whose |mean| is at least the observed |mean|. Exact up to 16 non-zero differences,
    seeded Monte Carlo (counting the observed pattern) above that. All-zero differences: 1.0."""
    nonzero = np.asarray([d for d in diffs if d != 0], dtype=float)
    if nonzero.size == 0:
        return 1.0
    observed = abs(float(nonzero.sum()))
    # Float sums of the same magnitudes can differ in the last bits; don't let that decide.
    tolerance = 1e-9 * max(1.0, observed)
    if nonzero.size <= _EXACT_SIGN_FLIP_MAX_N:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=nonzero.size)))
        sums = np.abs(signs @ nonzero)
        return float(np.mean(sums >= observed - tolerance))
    rng = np.random.default_rng(seed)
    signs = rng.choice((1.0, -1.0), size=(n_draws, nonzero.size))
    extreme = int(np.sum(np.abs(signs @ nonzero) >= observed - tolerance))
    return (extreme + 1) / (n_draws + 1)


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
    agreement and p_e the agreement expected from each rater's own base rate. None when the
    lists are empty or both raters are constant and agree (p_e = 1: kappa is undefined)."""
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
