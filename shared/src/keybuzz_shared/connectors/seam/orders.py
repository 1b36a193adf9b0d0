"""What a session lists of a shop's orders, in KeyBuzz's order vocabulary."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

import msgspec

from keybuzz_shared.connectors.seam.page import Page

# KeyBuzz's order vocabulary (orders' ``OrderStatus`` and ``DeliveryStatus``): each
# connector maps its marketplace's states into it.
ORDER_STATUSES = ("PENDING", "CONFIRMED", "SHIPPED", "DELIVERED", "CANCELLED", "RETURNED")
DELIVERY_STATUSES = (
    "PREPARING",
    "SHIPPED",
    "IN_TRANSIT",
    "OUT_FOR_DELIVERY",
    "DELIVERED",
    "DELAYED",
    "LOST",
)


class OrderLine(msgspec.Struct, frozen=True, kw_only=True):
    line_id: str
    state: str  # the marketplace's own state name
    product_name: str
    quantity: int
    seller_sku: str | None = None
    status: str = "PENDING"  # ``state`` in ORDER_STATUSES
    unit_price: Decimal | None = None
    currency: str | None = None
    # What the marketplace refunded on the line (in ``currency``), its state aside: a
    # partial refund leaves a line's state as it was. None: it names no refund.
    refunded_amount: Decimal | None = None


class OrderSummary(msgspec.Struct, frozen=True, kw_only=True):
    external_id: str
    state: str  # the marketplace's own state name
    created_at: datetime
    updated_at: datetime
    lines: tuple[OrderLine, ...] = ()
    status: str = "PENDING"  # ``state`` in ORDER_STATUSES
    delivery_status: str | None = None  # in DELIVERY_STATUSES
    buyer_name: str | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    tracking_code: str | None = None
    # Where the marketplace sold it, in its own words (an operator's channel label or
    # code); None when it names none.
    sales_channel: str | None = None


class OrderSource(Protocol):
    async def orders(self, *, since: datetime, cursor: str | None = None) -> Page[OrderSummary]:
        """Orders changed from ``since`` on; ``cursor`` continues a listing."""
        ...

    async def orders_created(
        self, *, start: datetime, end: datetime, cursor: str | None = None
    ) -> Page[OrderSummary]:
        """Orders created in [start, end), oldest first: a window that never shifts, since
        an order's creation does not change (a backfill's date windows)."""
        ...

    async def orders_by_id(self, order_ids: Sequence[str]) -> list[OrderSummary]:
        """The orders named (any number: the session splits them as the marketplace needs)."""
        ...
