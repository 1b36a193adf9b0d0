"""Mirakl's order and order line states in KeyBuzz's order vocabulary (docs/MIRAKL-orders.md,
"Order states"; the vocabulary is orders' ``OrderStatus``/``DeliveryStatus``,
seam.ORDER_STATUSES).

Mirakl's own word is kept beside ours (``OrderSummary.state``, each line's ``state``). The
states are the enum of OR11's ``order_state`` and ``order_line_state`` in Mirakl's OpenAPI
description [official], its deprecated ones included; a line adds INCIDENT_OPEN (the
customer reported a problem: the line keeps its order's status) and REFUNDED. A state
Mirakl may add later maps to PENDING with no delivery status: shown, never lost."""

from __future__ import annotations

# Mirakl order state -> (our order status, our delivery status or None).
ORDER_STATES: dict[str, tuple[str, str | None]] = {
    "STAGING": ("PENDING", None),  # placed, the operator's fraud check not done
    "WAITING_ACCEPTANCE": ("PENDING", None),  # the shop has to accept it
    "WAITING_DEBIT": ("PENDING", None),  # accepted, the customer not yet debited
    "WAITING_DEBIT_PAYMENT": ("PENDING", None),  # debit asked, payment not confirmed
    "SHIPPING": ("CONFIRMED", "PREPARING"),  # paid: the shop ships it
    "SHIPPED": ("SHIPPED", "SHIPPED"),
    "TO_COLLECT": ("SHIPPED", "OUT_FOR_DELIVERY"),  # at the pick-up point, to be collected
    "RECEIVED": ("DELIVERED", "DELIVERED"),
    "CLOSED": ("DELIVERED", "DELIVERED"),  # received, and past the operator's return time
    "REFUSED": ("CANCELLED", None),  # the shop refused it (or did not accept it in time)
    "CANCELED": ("CANCELLED", None),
    "WAITING_REFUND": ("RETURNED", None),  # deprecated by Mirakl, still listed
    "WAITING_REFUND_PAYMENT": ("RETURNED", None),  # deprecated by Mirakl, still listed
}
# A line's states besides the order's: None keeps the order's status for the line.
LINE_STATES: dict[str, str | None] = {"INCIDENT_OPEN": None, "REFUNDED": "RETURNED"}
UNKNOWN_STATE: tuple[str, str | None] = ("PENDING", None)


def order_status(state: str) -> tuple[str, str | None]:
    """(our status, our delivery status) of a Mirakl order state."""
    return ORDER_STATES.get(state, UNKNOWN_STATE)


def line_status(state: str, order_state: str) -> str:
    """Our status of an order line in Mirakl's ``state``, on an order in ``order_state``."""
    if state in LINE_STATES:
        return LINE_STATES[state] or order_status(order_state)[0]
    return order_status(state)[0]
