from invoice import render_invoice
from orders import calc_total
from report import average_order, daily_revenue

LINES = [("tea", 350, 2), ("cake", 425, 1)]


def test_total():
    assert calc_total(LINES) == 1125


def test_total_with_tax():
    assert calc_total(LINES, with_tax=True) == 1350


def test_invoice_shows_total():
    assert render_invoice("Ada", LINES).endswith("Total (incl. tax): 13.50")


def test_report():
    assert daily_revenue([LINES, LINES]) == 2250
    assert average_order([LINES, [("tea", 350, 1)]]) == 737.5
