"""Lines of the monthly account statement."""

from money import format_money


def invoice_line(number, cents):
    return f"Invoice #{number}: {format_money(cents)}"


def refund_line(number, cents, reason):
    return f"Refund #{number} ({reason}): {format_money(cents)}"


def balance_line(cents):
    status = "overdrawn" if cents < 0 else "in credit"
    return f"Balance: {format_money(cents)} ({status})"
