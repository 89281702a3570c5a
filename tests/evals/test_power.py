"""Issue 23, item 5: a run states what it could and could not detect. The simulated power is
checked against an independent simulation (pass/fail trials through the run's own sign-flip
test) and against the audit's figures (two models at 0.5 and 0.8: 9% at 10 tasks x 1 repeat,
88% at 20 x 3), and the report says it in place of the old "minimum detectable difference"."""

from __future__ import annotations

import numpy as np
import pytest
from test_verdicts_round2 import shown, spec, trial

from bakeoff.evals.verdict import stats
from bakeoff.evals.verdict.grading import summarize


def direct_power(n: int, k: int, high: float, low: float, sims: int = 300) -> float:
    """Whole simulated runs, each tested by stats.sign_flip_p as a report tests it."""
    rng = np.random.default_rng(7)
    hits = 0
    for _ in range(sims):
        a = rng.binomial(k, high, n) / k
        b = rng.binomial(k, low, n) / k
        hits += stats.sign_flip_p(list(a - b)) <= stats.ALPHA
    return hits / sims


@pytest.mark.parametrize(("n", "k", "audit"), [(10, 1, 0.09), (10, 3, None), (20, 3, 0.88)])
def test_power_matches_an_independent_simulation_and_the_audit(
    n: int, k: int, audit: float | None
) -> None:
    found = stats.power(0.3, n, k, level=0.65)
    # Two simulations of 300-400 runs: a binomial SD of at most 0.03 each.
    assert found == pytest.approx(direct_power(n, k, 0.8, 0.5), abs=0.09)
    if audit is not None:
        assert found == pytest.approx(audit, abs=0.06)


def test_power_grows_with_the_gap_tasks_and_repeats_and_falls_with_more_pairs() -> None:
    assert stats.power(0.0, 10, 1) <= stats.ALPHA + 0.03  # no gap: found at about alpha
    assert stats.power(0.1, 20, 1) < stats.power(0.3, 20, 1) < stats.power(0.6, 20, 1)
    assert stats.power(0.3, 10, 1) < stats.power(0.3, 10, 3) < stats.power(0.3, 30, 3)
    assert stats.power(0.3, 20, 3, n_tests=6) < stats.power(0.3, 20, 3)
    assert stats.power(1.0, 3, 1) == 0.0  # 3 tasks: p is never below 0.25
    assert stats.power(0.3, 10, 1) == stats.power(0.3, 10, 1)  # seeded


def test_the_report_states_what_ten_tasks_could_and_could_not_detect() -> None:
    # The audit's case: two models at 0.8 and 0.5, 10 tasks, one repeat.
    tasks = [f"t{i}" for i in range(10)]
    good, fair = "openai:good", "openai:fair"
    records = [trial(t, good, tests=(1, 1) if i < 8 else (0, 1)) for i, t in enumerate(tasks)]
    records += [trial(t, fair, tests=(1, 1) if i % 2 else (0, 1)) for i, t in enumerate(tasks)]
    s = summarize(spec([good, fair], tasks), records)
    res = s.resolution
    assert (res.tasks, res.repeats, res.pairs, res.level) == (10, 1, 1, pytest.approx(0.65))
    here = {p.gap: p.found for p in res.power if (p.tasks, p.repeats) == (10, 1)}
    assert set(here) == {0.1, 0.2, 0.3} and here[0.3] < 0.2  # the 30-point gap: mostly missed
    more = {(p.tasks, p.repeats): p.found for p in res.power if p.gap == 0.3}
    assert more[(20, 3)] > 0.8 > more[(10, 1)]
    assert res.gap_found_80 is not None and res.gap_found_80 > 0.3
    text = " ".join(shown(s).split())
    assert f"30 points {100 * here[0.3]:.0f}%" in text
    assert "Power: with 10 tasks × 1 repeat, a true quality gap" in text
    assert f"found 80% of the time only from {100 * res.gap_found_80:.0f} points up" in text
    assert f"20 tasks × 3 repeats: {100 * more[(20, 3)]:.0f}%" in text
    assert "only a quality gap of ≥" not in text  # the old, misleading sentence
