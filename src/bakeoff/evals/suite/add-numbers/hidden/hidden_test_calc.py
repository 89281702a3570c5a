import calc


def test_adds_integers():
    assert calc.add(2, 3) == 5


def test_adds_negatives_and_zero():
    assert calc.add(-4, 1) == -3
    assert calc.add(0, 0) == 0


def test_adds_floats():
    assert abs(calc.add(0.1, 0.2) - 0.3) < 1e-9


def test_adds_large_numbers():
    assert calc.add(10**20, 1) == 10**20 + 1
