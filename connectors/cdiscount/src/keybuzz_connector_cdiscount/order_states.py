"""Octopia's order statuses in KeyBuzz's order vocabulary (docs/CDISCOUNT.md, "Order
statuses"; the vocabulary is orders' ``OrderStatus``/``DeliveryStatus``, seam.ORDER_STATUSES).

Octopia's own word is kept beside ours (``OrderSummary.state``). Octopia's page listing the
statuses was cut after Shipped [official]; Delivered and Cancelled occur too. A status is
matched whatever its case or separators ("WaitingAcceptance", "WAITING_ACCEPTANCE",
"waiting-acceptance"), "Canceled" as "Cancelled"; one Octopia may add later maps to
PENDING with no delivery status: shown, never lost."""

from __future__ import annotations

# Octopia status -> (our order status, our delivery status or None).
ORDER_STATES: dict[str, tuple[str, str | None]] = {
    "Processing": ("PENDING", None),  # placed, Octopia checking it (payment, fraud)
    "WaitingAcceptance": ("PENDING", None),  # the seller has to accept it
    "Refused": ("CANCELLED", None),  # the seller refused it
    "Accepted": ("CONFIRMED", "PREPARING"),  # accepted: the seller ships it
    "InPreparation": ("CONFIRMED", "PREPARING"),
    "Shipped": ("SHIPPED", "SHIPPED"),
    "Delivered": ("DELIVERED", "DELIVERED"),
    "Cancelled": ("CANCELLED", None),
    "Refunded": ("RETURNED", None),
    "Returned": ("RETURNED", None),
}
UNKNOWN_STATE: tuple[str, str | None] = ("PENDING", None)
# Spellings seen of one status, by their key (lower case, letters and digits only).
_VARIANTS = {"canceled": "Cancelled"}


def _key(status: str) -> str:
    return "".join(c for c in status.lower() if c.isalnum())


_BY_KEY = {_key(s): s for s in ORDER_STATES} | _VARIANTS


def canonical(status: str) -> str | None:
    """Octopia's spelling of ``status`` in the table above; None for one it lacks."""
    return _BY_KEY.get(_key(status))


def order_status(status: str) -> tuple[str, str | None]:
    """(our status, our delivery status) of an Octopia order status."""
    known = canonical(status)
    return ORDER_STATES[known] if known is not None else UNKNOWN_STATE
