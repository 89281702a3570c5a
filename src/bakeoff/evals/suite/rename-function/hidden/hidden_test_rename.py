import hashlib
import pathlib

import invoice
import orders
import report

LINES = [("tea", 350, 2), ("cake", 425, 1)]
# sha256 of each original file (trailing blanks trimmed): the rename is the only change allowed.
ORIGINAL = {
    "orders.py": "f25a3729b3eb00bf3b14fbeb5d2e6d4fbb1d99b6d7541b7c8e172341e71e2b61",
    "invoice.py": "357ce13cf61ed4f808a8380f470b5d968dd912a00cc4f756dddacb6e21b37b59",
    "report.py": "5f1915aa97f8606800bb52217b1d6729eb300cbad4db0c63b6578009c461309c",
    "tests/test_shop.py": "90904dfd9247bfb095ba05f3e68f7aab46b7f92411d3ea3d812b343ce1e40f6e",
}
PROJECT = list(ORIGINAL)


def test_new_name_works():
    assert orders.order_total(LINES) == 1125
    assert orders.order_total(LINES, with_tax=True) == 1350


def test_old_name_is_gone():
    assert not hasattr(orders, "calc_total")
    for name in PROJECT:
        assert "calc_total" not in pathlib.Path(name).read_text(encoding="utf-8"), name


def test_callers_still_work():
    assert invoice.render_invoice("Ada", LINES).endswith("Total (incl. tax): 13.50")
    assert report.daily_revenue([LINES, LINES]) == 2250
    assert report.average_order([LINES, [("tea", 350, 1)]]) == 737.5


def test_tests_use_the_new_name():
    text = pathlib.Path("tests/test_shop.py").read_text(encoding="utf-8")
    assert text.count("order_total") >= 3


def test_nothing_else_changed():
    for name, digest in ORIGINAL.items():
        text = pathlib.Path(name).read_text(encoding="utf-8").rstrip() + "\n"
        restored = text.replace("order_total", "calc_total")
        assert hashlib.sha256(restored.encode()).hexdigest() == digest, name
