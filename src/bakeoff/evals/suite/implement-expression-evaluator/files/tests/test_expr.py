import pytest
from expr import evaluate


@pytest.mark.parametrize(
    ("expression", "value"),
    [("1 + 2", 3.0), ("2 * 3 + 4", 10.0), ("2 * (3 + 4)", 14.0), ("-2 ** 2", -4.0), ("7 / 2", 3.5)],
)
def test_examples(expression, value):
    assert evaluate(expression) == pytest.approx(value)


@pytest.mark.parametrize("expression", ["", "1 +", "(1", "1 2"])
def test_malformed(expression):
    with pytest.raises(ValueError):
        evaluate(expression)
