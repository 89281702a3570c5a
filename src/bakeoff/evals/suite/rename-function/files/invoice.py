"""Plain-text invoices."""

from orders import calc_total


def render_invoice(customer, lines):
    rows = [f"Invoice for {customer}"]
    for name, price, quantity in lines:
        rows.append(f"  {quantity} x {name} @ {price / 100:.2f}")
    # calc_total gives cents; the invoice shows the amount with tax.
    rows.append(f"Total (incl. tax): {calc_total(lines, with_tax=True) / 100:.2f}")
    return "\n".join(rows)
