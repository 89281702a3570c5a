"""Daily sales report."""

import orders


def daily_revenue(all_orders):
    """Revenue in cents before tax over a day's orders."""
    return sum(orders.order_total(lines) for lines in all_orders)


def average_order(all_orders):
    if not all_orders:
        return 0
    return daily_revenue(all_orders) / len(all_orders)
