"""Plain-text invoices."""

from orders import order_total


def render_invoice(customer, lines):
    rows = [f"Invoice for {customer}"]
    for name, price, quantity in lines:
        rows.append(f"  {quantity} x {name} @ {price / 100:.2f}")
    # order_total gives cents; the invoice shows the amount with tax.
    rows.append(f"Total (incl. tax): {order_total(lines, with_tax=True) / 100:.2f}")
    return "\n".join(rows)
