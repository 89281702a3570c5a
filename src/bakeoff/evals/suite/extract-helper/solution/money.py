"""Money amounts as text."""


def format_money(cents):
    """`cents` as dollars, e.g. -123456 -> "-$1,234.56"."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}${cents // 100:,}.{cents % 100:02d}"
