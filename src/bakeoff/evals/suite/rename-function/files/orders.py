"""Orders are lists of (name, unit_price_cents, quantity) lines."""

TAX_RATE = 0.2


def calc_total(lines, with_tax=False):
    """The order total in cents, optionally with tax (rounded to the nearest cent)."""
    subtotal = sum(price * quantity for _name, price, quantity in lines)
    if with_tax:
        return round(subtotal * (1 + TAX_RATE))
    return subtotal


def biggest_line(lines):
    return max(lines, key=lambda line: line[1] * line[2])
