"""Back Market's order and order-line states in KeyBuzz's order vocabulary
(docs/BACKMARKET.md, "Order states"; seam.ORDER_STATUSES / DELIVERY_STATUSES). Back
Market's own word is kept beside ours; a state it may add later maps to PENDING with no
delivery status: shown, never lost."""

from __future__ import annotations

# Order state [official] -> (its name, our order status, our delivery status or None).
ORDER_STATES: dict[int, tuple[str, str, str | None]] = {
    0: ("NEW", "PENDING", None),  # payment being verified: not to be shipped
    10: ("PENDING_PAYMENT", "PENDING", None),  # the buyer may still pay
    1: ("VALIDATED", "PENDING", None),  # paid: the seller accepts or cancels its lines
    3: ("TO_SHIP", "CONFIRMED", "PREPARING"),  # every line accepted: the seller ships
    8: ("NOT_PAID", "CANCELLED", None),  # payment failed: to be ignored
    9: ("SENT", "SHIPPED", "SHIPPED"),  # the seller shipped the package
}
# Order-line state [official] -> (its name, our order status).
LINE_STATES: dict[int, tuple[str, str]] = {
    0: ("NEW", "PENDING"),
    9: ("ON_HOLD", "PENDING"),
    8: ("PENDING_PAYMENT", "PENDING"),
    1: ("PAID", "PENDING"),
    2: ("VALIDATED", "CONFIRMED"),
    3: ("SHIPPED", "SHIPPED"),
    4: ("CANCELLED", "CANCELLED"),
    5: ("REFUNDED_PRE_DELIVERY", "CANCELLED"),
    6: ("REFUNDED_POST_DELIVERY", "RETURNED"),
    7: ("NOT_PAID", "CANCELLED"),
}


def order_state_name(state: int) -> str:
    return ORDER_STATES[state][0] if state in ORDER_STATES else f"STATE_{state}"


def line_state_name(state: int) -> str:
    return LINE_STATES[state][0] if state in LINE_STATES else f"STATE_{state}"


def order_status(state: int) -> tuple[str, str | None]:
    """(our status, our delivery status) of a Back Market order state."""
    if state not in ORDER_STATES:
        return "PENDING", None
    _, status, delivery = ORDER_STATES[state]
    return status, delivery


def line_status(state: int) -> str:
    return LINE_STATES[state][1] if state in LINE_STATES else "PENDING"
