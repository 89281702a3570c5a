"""Lines of the monthly account statement."""


def invoice_line(number, cents):
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    amount = f"{sign}${cents // 100:,}.{cents % 100:02d}"
    return f"Invoice #{number}: {amount}"


def refund_line(number, cents, reason):
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    amount = f"{sign}${cents // 100:,}.{cents % 100:02d}"
    return f"Refund #{number} ({reason}): {amount}"


def balance_line(cents):
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    amount = f"{sign}${cents // 100:,}.{cents % 100:02d}"
    status = "overdrawn" if sign else "in credit"
    return f"Balance: {amount} ({status})"
