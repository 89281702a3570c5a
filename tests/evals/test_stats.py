"""The statistics behind the report, checked against values worked out by hand or published:
Wilson intervals, seeded bootstrap, exact McNemar, the sign-flip test that keeps tiny samples
honest, Krippendorff's alpha (interval) and Cohen's kappa."""

from __future__ import annotations

import pytest

from bakeoff.evals.stats import (
    bootstrap_ci,
    cohen_kappa,
    krippendorff_alpha_interval,
    mcnemar,
    paired_bootstrap,
    sign_flip_p,
    sign_test,
    wilson_interval,
)


def test_wilson_interval_matches_the_textbook_values() -> None:
    # 8/10: centre (0.8 + 1.96²/20) / (1 + 1.96²/10) = 0.7167,
    # half-width 1.96·sqrt(0.016 + 0.009604) / 1.38416 = 0.2266
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.490, abs=5e-4)
    assert high == pytest.approx(0.943, abs=5e-4)


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


def test_bootstrap_ci_is_seeded_and_brackets_the_mean() -> None:
    values = [0.2, 0.9, 0.4, 0.7, 1.0, 0.1, 0.5]
    mean, low, high = bootstrap_ci(values)
    assert mean == pytest.approx(sum(values) / len(values))
    assert low < mean < high
    assert low >= 0.1 and high <= 1.0
    assert bootstrap_ci(values) == (mean, low, high)  # the same report twice, the same numbers
    assert bootstrap_ci(values, seed=1) != (mean, low, high)


def test_bootstrap_ci_of_one_value_has_zero_width_and_of_none_refuses() -> None:
    assert bootstrap_ci([0.7]) == (0.7, 0.7, 0.7)
    with pytest.raises(ValueError):
        bootstrap_ci([])


def test_mcnemar_uses_only_the_discordant_pairs() -> None:
    # 6 pairs only A passed, 1 only B, 3 both: binomial(6 of 7, 0.5) two-sided
    # = 2 · (C(7,6) + C(7,7)) / 2^7 = 2 · 8 / 128 = 0.125
    a = [True] * 6 + [False] + [True] * 3
    b = [False] * 6 + [True] + [True] * 3
    assert mcnemar(a, b) == pytest.approx((6, 1, 0.125))
    assert mcnemar(b, a) == pytest.approx((1, 6, 0.125))


def test_mcnemar_without_discordant_pairs_finds_no_difference() -> None:
    assert mcnemar([True, False], [True, False]) == (0, 0, 1.0)
    with pytest.raises(ValueError):
        mcnemar([True], [True, False])


def test_sign_test_counts_wins_against_losses() -> None:
    assert sign_test(0, 0) == 1.0
    assert sign_test(5, 0) == pytest.approx(2 / 32)


def test_paired_bootstrap_will_not_call_two_pairs_a_difference() -> None:
    # Both differences are positive, so every bootstrap resample is too; a bootstrap p would be
    # 0. Flipping signs: 2 of the 4 patterns are as extreme as the data, p = 0.5.
    diff, low, high, p = paired_bootstrap([0.9, 0.8], [0.1, 0.2])
    assert diff == pytest.approx(0.7)
    assert low > 0 and high <= 0.8 + 1e-9
    assert p == pytest.approx(0.5)


def test_paired_bootstrap_finds_a_consistent_difference_on_eight_pairs() -> None:
    diff, low, high, p = paired_bootstrap([1.0] * 8, [0.0] * 8)
    assert (diff, low, high) == (1.0, 1.0, 1.0)
    assert p == pytest.approx(2 / 256)  # only all-plus and all-minus are as extreme


def test_paired_bootstrap_sees_no_difference_in_noise() -> None:
    a = [0.5, 0.7, 0.2, 0.9, 0.4, 0.6]
    b = [0.6, 0.6, 0.3, 0.8, 0.5, 0.5]
    diff, low, high, p = paired_bootstrap(a, b)
    assert diff == pytest.approx(0.0, abs=1e-12)
    assert low < 0 < high
    assert p == pytest.approx(1.0)


def test_sign_flip_p_is_exact_for_small_samples_and_seeded_beyond() -> None:
    assert sign_flip_p([0.0, 0.0]) == 1.0
    assert sign_flip_p([1, 1, 1, 1, 1]) == pytest.approx(2 / 32)
    assert sign_flip_p([1, -1, 1, -1]) == 1.0
    # 20 equal differences: beyond exact enumeration; the Monte Carlo estimate counts the
    # observed pattern, so the smallest possible value is 1/(draws + 1).
    p = sign_flip_p([0.3] * 20, n_draws=999)
    assert p == pytest.approx(1 / 1000)
    assert sign_flip_p([0.3] * 20, n_draws=999) == p


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


def test_cohen_kappa_extremes_and_undefined_cases() -> None:
    assert cohen_kappa([True, False, True], [True, False, True]) == pytest.approx(1.0)
    assert cohen_kappa([True, False], [False, True]) == pytest.approx(-1.0)
    assert cohen_kappa([True, True], [True, True]) is None  # chance agreement is already 1
    assert cohen_kappa([], []) is None
