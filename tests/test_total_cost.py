"""The cost sum every part uses (`bakeoff.types.total_cost`): one unknown price makes the total
unknown, never a total that quietly leaves it out; known costs add up exactly."""

from __future__ import annotations

from bakeoff.types import total_cost


def test_known_costs_add_up_without_float_drift() -> None:
    assert total_cost([0.1] * 10) == 1.0
    assert total_cost([]) == 0.0


def test_one_unknown_cost_makes_the_total_unknown() -> None:
    assert total_cost([0.5, None, 0.25]) is None
    assert total_cost(iter([None])) is None
