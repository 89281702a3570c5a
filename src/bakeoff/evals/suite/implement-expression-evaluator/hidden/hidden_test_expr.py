import ast
import pathlib

import pytest
from expr import evaluate


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("42", 42.0),
        ("3.5", 3.5),
        (".5 + .25", 0.75),
        ("1 + 2", 3.0),
        ("  1+2  ", 3.0),
        ("2 * 3 + 4", 10.0),
        ("2 + 3 * 4", 14.0),
        ("2 * (3 + 4)", 14.0),
        ("((1))", 1.0),
        ("8 - 3 - 2", 3.0),
        ("16 / 4 / 2", 2.0),
        ("7 / 2", 3.5),
        ("2 ** 3 ** 2", 512.0),
        ("-2 ** 2", -4.0),
        ("(-2) ** 2", 4.0),
        ("2 ** -1", 0.5),
        ("-3 + 5", 2.0),
        ("--3", 3.0),
        ("+4 - -4", 8.0),
        ("2 * -3", -6.0),
        ("-(2 + 3) * 2", -10.0),
        ("1 - 2 * 3 ** 2 / 6", -2.0),
        ("(1 + 2) * (3 + 4) / (5 - 2)", 7.0),
    ],
)
def test_values(expression, value):
    result = evaluate(expression)
    assert isinstance(result, float)
    assert result == pytest.approx(value)


@pytest.mark.parametrize(
    "expression",
    ["", "   ", "1 +", "* 2", "(1", "1)", "()", "1 2", "1 $ 2", "2 ** ", "1..2", "abc", "2 (3)"],
)
def test_malformed_raises_value_error(expression):
    with pytest.raises(ValueError):
        evaluate(expression)


@pytest.mark.parametrize("expression", ["1 / 0", "1 / (2 - 2)"])
def test_division_by_zero(expression):
    with pytest.raises(ZeroDivisionError):
        evaluate(expression)


def test_does_not_use_eval():
    tree = ast.parse(pathlib.Path("expr.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in {"eval", "exec", "compile"}, node.func.id
        if isinstance(node, ast.Import):
            assert all(alias.name != "ast" for alias in node.names)
        if isinstance(node, ast.ImportFrom):
            assert node.module != "ast"
