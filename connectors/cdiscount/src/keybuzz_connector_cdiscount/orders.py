"""A Cdiscount shop's orders as the kit's ``ListedOrders`` (docs/CDISCOUNT.md, "Orders")."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

import msgspec
from keybuzz_shared.connectors import kit
from keybuzz_shared.connectors.seam import OrderLine, OrderSummary
from keybuzz_shared.times import as_utc

from keybuzz_connector_cdiscount.discussions import LIMITS, SALES_CHANNELS

# Octopia status -> (our order status, our delivery status or None); its page listing them
# was cut after Shipped [official]; Delivered and Cancelled occur too.
ORDER_STATES: dict[str, tuple[str, str | None]] = {
    "Processing": ("PENDING", None),  # placed, Octopia checking it (payment, fraud)
    "WaitingAcceptance": ("PENDING", None),  # the seller has to accept it
    "Refused": ("CANCELLED", None),  # the seller refused it
    "Accepted": ("CONFIRMED", "PREPARING"),  # accepted: the seller ships it
    "InPreparation": ("CONFIRMED", "PREPARING"),
    "Shipped": ("SHIPPED", "SHIPPED"),
    "Delivered": ("DELIVERED", "DELIVERED"),
    "Cancelled": ("CANCELLED", None),
    "Canceled": ("CANCELLED", None),
    "Refunded": ("RETURNED", None),
    "Returned": ("RETURNED", None),
}

_STATES = kit.ListedOrders.States({word.lower(): state for word, state in ORDER_STATES.items()})


def order_status(word: str) -> tuple[str, str | None]:
    """Our status and delivery status of Octopia's ``word``, by its letters alone: whatever
    its case or separators ("WAITING_ACCEPTANCE"); one it may add: PENDING."""
    return _STATES["".join(filter(str.isalnum, word.lower()))]


# Octopia may show an order's change a little after its updatedAt: each listing starts
# this much before ``since``.
LISTING_OVERLAP = timedelta(minutes=5)
CURRENCY = "EUR"  # Cdiscount's sales channels (France, Belgium…) sell in euros


# --- the wire --------------------------------------------------------------------------


class Offer(msgspec.Struct, rename="camel", frozen=True):
    seller_product_id: str | None = None
    product_title: str | None = None
    product_name: str | None = None


class Line(msgspec.Struct, rename="camel", frozen=True):
    line_id: str | int | None = None
    offer: Offer | None = None
    quantity: int = 1
    unit_price: float | str | None = None
    status: str | None = None


class Parcel(msgspec.Struct, rename="camel", frozen=True):
    parcel_number: str | None = None


class Order(msgspec.Struct, rename="camel", frozen=True):
    status: str
    order_id: str | None = None
    reference: str | None = None
    purchased_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    sales_channel_id: str | None = None
    customer: kit.PersonName | None = None
    lines: list[Line] = []
    parcels: list[Parcel] = []


def read_order(item: Any) -> OrderSummary:
    """One listed order in the seam's terms; ValueError saying why it cannot be."""
    order = kit.read_as(Order, item, "order")
    order_id, placed = order.order_id or order.reference, order.created_at or order.purchased_at
    if not order_id or placed is None:
        raise ValueError("an order without orderId/reference or createdAt/purchasedAt")
    status, delivery = order_status(order.status)
    tracking = [p.parcel_number for p in order.parcels if p.parcel_number]
    return OrderSummary(
        external_id=order_id,
        state=order.status,
        status=status,
        delivery_status=delivery,
        created_at=as_utc(placed),
        updated_at=as_utc(order.updated_at or placed),
        buyer_name=order.customer.full if order.customer else None,
        tracking_code=tracking[-1] if tracking else None,
        # Octopia documents one channel's label; another is shown by its code.
        sales_channel=kit.labelled(order.sales_channel_id, SALES_CHANNELS),
        lines=tuple(_line(n, line, order) for n, line in enumerate(order.lines, 1)),
    )


def _line(number: int, line: Line, order: Order) -> OrderLine:
    offer = line.offer or Offer()
    state = line.status or order.status
    price = kit.decimal_of(line.unit_price)
    return OrderLine(
        line_id=str(line.line_id) if line.line_id is not None else str(number),
        state=state,
        status=order_status(state)[0],
        product_name=offer.product_title or offer.product_name or offer.seller_product_id or "",
        quantity=line.quantity,
        seller_sku=offer.seller_product_id,
        unit_price=price,
        currency=CURRENCY if price is not None else None,
    )


def shop_orders(client: kit.Requester, *, page_size: int = LIMITS.page_size) -> kit.ListedOrders:
    """A shop's orders; a cursor is a ``WindowCursor``, the layout backfill jobs keep."""
    size = str(min(page_size, LIMITS.page_size))  # Octopia's largest page
    up = functools.partial(iso_seconds, up=True)
    window = functools.partial(kit.Listing.window_query, written=iso_seconds, pageSize=size)
    changed = window("updatedAtMin", "updatedAtMax", end_written=up, sort="updatedAt:asc")
    # createdAtMax is inclusive and dates are shown to the second: the orders of the
    # window's last second shown at its end belong to the next window.
    created = window("createdAtMin", "createdAtMax", sort="createdAt:asc")
    page = functools.partial(client.get_page, "/orders")
    return kit.ListedOrders(
        updated=kit.Listing(kit.Listing.Seek(lambda o: o.updated_at), changed, page),
        created=kit.Listing(kit.Listing.Seek(), created, page),
        by_id=kit.ListedOrders.EachById(client.get_json, "/orders"),
        read=read_order,
        calls=client,
        overlap=LISTING_OVERLAP,
    )


def iso_seconds(moment: datetime, *, up: bool = False) -> str:
    """``moment`` in UTC to the second (``2026-11-23T09:48:00Z``); ``up``: to the second
    above when within one (a window ending there keeps what changed in its last second)."""
    utc = as_utc(moment)
    if up and utc.microsecond:
        utc += timedelta(seconds=1)
    return kit.iso_z(utc, "seconds")
