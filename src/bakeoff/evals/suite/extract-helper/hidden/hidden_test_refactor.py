import ast
import hashlib
import importlib.util
import pathlib

import money
import pytest
import report


@pytest.mark.parametrize(
    ("cents", "text"),
    [
        (0, "$0.00"),
        (5, "$0.05"),
        (100, "$1.00"),
        (123456, "$1,234.56"),
        (-123456, "-$1,234.56"),
        (-1, "-$0.01"),
        (100000000, "$1,000,000.00"),
    ],
)
def test_format_money(cents, text):
    assert money.format_money(cents) == text


def test_behaviour_unchanged():
    assert report.invoice_line(17, 123456) == "Invoice #17: $1,234.56"
    assert report.invoice_line(1, 0) == "Invoice #1: $0.00"
    assert report.refund_line(3, -2500, "damaged") == "Refund #3 (damaged): -$25.00"
    assert report.refund_line(4, 99, "late") == "Refund #4 (late): $0.99"
    assert report.balance_line(5) == "Balance: $0.05 (in credit)"
    assert report.balance_line(0) == "Balance: $0.00 (in credit)"
    assert report.balance_line(-100000) == "Balance: -$1,000.00 (overdrawn)"


def _functions():
    tree = ast.parse(pathlib.Path("report.py").read_text(encoding="utf-8"))
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def _calls_format_money(function):
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name == "format_money":
                return True
    return False


@pytest.mark.parametrize("name", ["invoice_line", "refund_line", "balance_line"])
def test_each_function_uses_the_helper(name):
    assert _calls_format_money(_functions()[name])


def test_duplicated_arithmetic_is_gone():
    source = pathlib.Path("report.py").read_text(encoding="utf-8")
    assert "// 100" not in source
    assert "% 100" not in source


def test_visible_tests_still_pass():
    spec = importlib.util.spec_from_file_location("visible_tests", "tests/test_report.py")
    visible = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(visible)
    visible.test_invoice_line()
    visible.test_refund_line()
    visible.test_balance_line()


def test_visible_tests_untouched():
    digest = hashlib.sha256(pathlib.Path("tests/test_report.py").read_bytes()).hexdigest()
    assert digest == "b1f484998a0131c7c631db088e10ca7644487670303c1248677392d3d9691126"
