"""The statistics behind the report, checked against values worked out by hand or published:
Wilson intervals (plain and continuity-corrected), the interval on a mean of 0..1 scores, the
exact sign-flip test that keeps small samples honest, Holm's correction, the detectable gap,
Krippendorff's alpha (interval) and Cohen's kappa. Simulations live in test_stats_simulation."""

from __future__ import annotations

import pytest

from bakeoff.evals.verdict import stats
from bakeoff.evals.verdict.stats import (
    cohen_kappa,
    detectable_gap,
    holm,
    krippendorff_alpha_interval,
    mean_interval,
    sign_flip_p,
    tasks_needed,
    wilson_interval,
)


def test_wilson_interval_matches_the_textbook_values() -> None:
    # 8/10: centre (0.8 + 1.96²/20) / (1 + 1.96²/10) = 0.7167,
    # half-width 1.96·sqrt(0.016 + 0.009604) / 1.38416 = 0.2266
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.490, abs=5e-4)
    assert high == pytest.approx(0.943, abs=5e-4)


def test_continuity_corrected_wilson_matches_newcombes_formula() -> None:
    # 8/10, z² = 3.8415: low = (16 + z² - 1 - z·sqrt(z² - 2.1 + 3.2·3)) / (2·13.8415)
    #   = (18.8415 - 1.96·3.3677) / 27.683 = 0.4422
    # high = (16 + z² + 1 + z·sqrt(z² + 1.9 + 3.2·1)) / 27.683 = (20.8415 + 1.96·2.9903) / 27.683
    #   = 0.9646 — wider than the plain 0.490–0.943 on both sides
    low, high = wilson_interval(8, 10, continuity=True)
    assert low == pytest.approx(0.4422, abs=5e-4)
    assert high == pytest.approx(0.9646, abs=5e-4)


def test_wilson_interval_is_not_degenerate_at_the_edges() -> None:
    low, high = wilson_interval(0, 5)
    assert low == 0.0 and 0.4 < high < 0.5  # 0/5 still leaves room for a 43% pass rate
    low, high = wilson_interval(5, 5)
    assert 0.5 < low < 0.6 and high == 1.0


def test_wilson_interval_refuses_impossible_counts() -> None:
    with pytest.raises(ValueError):
        wilson_interval(0, 0)
    with pytest.raises(ValueError):
        wilson_interval(4, 3)


def test_mean_interval_never_collapses_to_zero_width() -> None:
    # Five tasks all solved: a bootstrap would say 100–100%. Continuity-corrected Wilson, n = 5:
    # low = (10 + z² - 1 - z·sqrt(z² - 2.2 + 4)) / (2·8.8415) = (12.8415 - 1.96·2.3752) / 17.683
    assert mean_interval([1.0] * 5) == pytest.approx((1.0, 0.4629, 1.0), abs=5e-4)
    assert mean_interval([0.0] * 5) == pytest.approx((0.0, 0.0, 0.5371), abs=5e-4)
    mean, low, high = mean_interval([0.5] * 5)  # identical partial scores: still a real width
    assert mean == 0.5 and high - low > 0.7
    mean, low, high = mean_interval([1.0])
    assert (mean, high) == (1.0, 1.0) and low < 0.1  # one task says almost nothing


def test_mean_interval_refuses_what_it_cannot_bound() -> None:
    with pytest.raises(ValueError):
        mean_interval([])
    with pytest.raises(ValueError):
        mean_interval([0.5, 1.2])


def test_sign_flip_p_is_exact_and_cannot_be_fooled_by_few_tasks() -> None:
    assert sign_flip_p([0.0, 0.0]) == 1.0
    assert sign_flip_p([1.0]) == 1.0  # one task, however lopsided, proves nothing
    assert sign_flip_p([1, 1, 1, 1, 1]) == pytest.approx(2 / 32)  # five tasks never reach 0.05
    assert sign_flip_p([1, -1, 1, -1]) == 1.0
    # Magnitudes count, not just wins: three small wins and one large loss (|sum| = 0.6). The
    # 0.9 dominates, so every one of the 16 patterns has |sum| >= 0.6: p = 1, while a sign
    # test on 3 wins to 1 loss would give 0.625.
    assert sign_flip_p([0.1, 0.1, 0.1, -0.9]) == 1.0
    assert sign_flip_p([0.3] * 16) == pytest.approx(2 / 2**16)  # still exact at 16


def test_sign_flip_p_is_seeded_beyond_exact_enumeration() -> None:
    # 20 equal differences: Monte Carlo, counting the observed pattern, so the smallest possible
    # value is 1/(draws + 1); the same call twice gives the same p.
    p = sign_flip_p([0.3] * 20, n_draws=999)
    assert p == pytest.approx(1 / 1000)
    assert sign_flip_p([0.3] * 20, n_draws=999) == p
    noisy = [0.3, -0.2, 0.1, -0.4, 0.2] * 4
    assert 0.3 < sign_flip_p(noisy, n_draws=4000) <= 1.0


def test_holm_adjusts_step_down_and_keeps_the_input_order() -> None:
    # sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → raised to 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == [1.0, 1.0]  # capped at 1
    assert holm([]) == []


def test_tasks_needed_and_the_detectable_gap() -> None:
    # One pair: 2/2^n <= 0.05 from n = 6. 28 pairs (8 models): 2/2^n <= 0.05/28 from n = 11.
    assert tasks_needed(1) == 6 and tasks_needed(28) == 11
    assert detectable_gap(5, 1, 0.3) is None
    assert detectable_gap(10, 28, 0.3) is None
    # t(0.975, 9) = 2.2622: 2.2622 · 0.3 / sqrt(10) = 0.2146
    assert detectable_gap(10, 1, 0.3) == pytest.approx(0.2146, abs=1e-4)
    # More pairs to correct for need a bigger gap on the same tasks.
    wide, narrow = detectable_gap(20, 28, 0.3), detectable_gap(20, 1, 0.3)
    assert wide is not None and narrow is not None and wide > narrow


def test_krippendorff_alpha_on_a_hand_computed_example() -> None:
    # Units × 2 raters: [1, 2], [3, 3], [5, 4]; all six values pair, n = 6.
    # D_o = (1/n) Σ_u 1/(m_u-1) Σ_{i≠j} (v_i - v_j)² = (2·1 + 0 + 2·1) / 6 = 2/3
    # D_e = Σ_{i≠j over all values} (v_i - v_j)² / (n(n-1))
    #     = 2·(n·Σv² - (Σv)²) / 30 = 2·(6·64 - 18²) / 30 = 120 / 30 = 4
    # alpha = 1 - (2/3) / 4 = 5/6
    assert krippendorff_alpha_interval([[1, 2], [3, 3], [5, 4]]) == pytest.approx(5 / 6)


def test_krippendorff_alpha_matches_the_published_example() -> None:
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the 4-observer,
    # 12-unit example with missing values: interval alpha = 0.849. Unit 12 has a single value
    # and cannot be paired, so it must not count.
    n = None
    observers = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
        [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n],
    ]
    units = [list(unit) for unit in zip(*observers, strict=True)]
    assert krippendorff_alpha_interval(units) == pytest.approx(0.849, abs=5e-4)


def test_krippendorff_alpha_extremes_and_undefined_cases() -> None:
    assert krippendorff_alpha_interval([[1, 1], [5, 5], [9, 9]]) == pytest.approx(1.0)
    # Raters that swap high and low agree worse than chance.
    opposite = krippendorff_alpha_interval([[1, 9], [9, 1], [2, 8], [8, 2]])
    assert opposite is not None and opposite < 0
    assert krippendorff_alpha_interval([[7, 7], [7, 7]]) is None  # no variation at all
    assert krippendorff_alpha_interval([[3, None], [None, 4]]) is None  # nothing pairable
    assert krippendorff_alpha_interval([]) is None


def test_cohen_kappa_on_a_hand_computed_table() -> None:
    # 10 items: both yes 4, only A 2, only B 1, both no 3.
    # p_o = 7/10; A says yes 6/10, B 5/10; p_e = 0.6·0.5 + 0.4·0.5 = 0.5
    # kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4
    a = [True] * 6 + [False] * 4
    b = [True] * 4 + [False] * 2 + [True] + [False] * 3
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_cohen_kappa_gives_no_credit_for_always_saying_pass() -> None:
    # Checks pass 9 of 10; a rater that always says "pass" agrees 90% of the time, by chance.
    checks = [True] * 9 + [False]
    assert cohen_kappa([True] * 10, checks) == pytest.approx(0.0)


def test_cohen_kappa_extremes_and_undefined_cases() -> None:
    assert cohen_kappa([True, False, True], [True, False, True]) == pytest.approx(1.0)
    assert cohen_kappa([True, False], [False, True]) == pytest.approx(-1.0)
    assert cohen_kappa([True, True], [True, True]) is None  # chance agreement is already 1
    assert cohen_kappa([], []) is None
    with pytest.raises(ValueError):
        cohen_kappa([True], [True, False])


def test_auc_counts_pairs_ordered_rightly_and_ties_half() -> None:
    assert stats.auc([9, 9], [2, 2]) == 1.0
    assert stats.auc([9, 9], [9, 9]) == 0.5  # a constant score is chance
    assert stats.auc([9], [2, 9]) == 0.75
    assert stats.auc([2], [9]) == 0.0
    assert stats.auc([], [1]) is None and stats.auc([1], []) is None
