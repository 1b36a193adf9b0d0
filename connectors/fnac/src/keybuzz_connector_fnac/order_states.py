"""Fnac's order and line states in KeyBuzz's order vocabulary (docs/FNAC.md, "Order
states"; the vocabulary is orders' ``OrderStatus``/``DeliveryStatus``, seam.ORDER_STATUSES).

Fnac's own word is kept beside ours (``OrderSummary.state``, ``OrderLine.state``). A state
Fnac may add later maps to PENDING with no delivery status: shown, never lost.
"""

from __future__ import annotations

# Fnac state -> (our order status, our delivery status or None).
ORDER_STATES: dict[str, tuple[str, str | None]] = {
    "Created": ("PENDING", None),  # waiting for the seller to accept its lines
    "Accepted": ("PENDING", None),  # accepted, the buyer not debited yet: not to ship
    "Refused": ("CANCELLED", None),  # the seller refused every line
    "ToShip": ("CONFIRMED", "PREPARING"),  # debited: the seller ships it
    "Shipped": ("SHIPPED", "SHIPPED"),
    "NotReceived": ("SHIPPED", "DELAYED"),  # the buyer says it has not come
    "Received": ("DELIVERED", "DELIVERED"),
    "Cancelled": ("CANCELLED", None),
    "Refunded": ("RETURNED", None),  # every line refunded
    "Error": ("PENDING", None),  # Fnac could not process it: nothing to ship yet
}
UNKNOWN_STATE: tuple[str, str | None] = ("PENDING", None)

# Fnac line state -> our order status for that line.
LINE_STATES: dict[str, str] = {
    "ToAccept": "PENDING",
    "Accepted": "PENDING",
    "Refused": "CANCELLED",
    "ToShip": "CONFIRMED",
    "Shipped": "SHIPPED",
    "NotReceived": "SHIPPED",
    "Received": "DELIVERED",
    "Cancelled": "CANCELLED",
    "Refunded": "RETURNED",
    "Error": "PENDING",
}


def order_status(state: str) -> tuple[str, str | None]:
    """(our status, our delivery status) of a Fnac order state."""
    return ORDER_STATES.get(state, UNKNOWN_STATE)


def line_status(state: str) -> str:
    return LINE_STATES.get(state, UNKNOWN_STATE[0])
