from report import balance_line, invoice_line, refund_line


def test_invoice_line():
    assert invoice_line(17, 123456) == "Invoice #17: $1,234.56"


def test_refund_line():
    assert refund_line(3, -2500, "damaged") == "Refund #3 (damaged): -$25.00"


def test_balance_line():
    assert balance_line(5) == "Balance: $0.05 (in credit)"
    assert balance_line(-100000) == "Balance: -$1,000.00 (overdrawn)"
