"""An order line's unit price where the marketplace gives the line's price for its whole
quantity: that amount as the marketplace wrote it, exactly, divided by the quantity."""

from __future__ import annotations

from decimal import Decimal

from keybuzz_shared.connectors.kit.orders import decimal_of


def unit_price(total: float | str | None, quantity: int) -> Decimal | None:
    """The price of one of the line's ``quantity`` items whose price in all is ``total``
    (a JSON number or text); None without a total that is a number, or for a quantity
    below one."""
    amount = decimal_of(total)
    return amount / quantity if amount is not None and quantity >= 1 else None
