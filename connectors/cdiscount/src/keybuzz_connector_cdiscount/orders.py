"""A Cdiscount shop's orders (``GET /orders``, ``GET /orders/{orderId}``) as the seam's
OrderSource (docs/CDISCOUNT.md, "Orders").

``orders(since)`` lists the orders updated in a window fixed at its first page, [since -
overlap, now], oldest change first, and seeks: each next page asks from the last change
read (its orders read again are dropped by callers by external id), so an order updated
meanwhile leaves the window without shifting the pages still to read; only a full page
whose orders all changed at one second follows Octopia's ``Link`` instead.
``orders_created`` reads a window of creation dates, which never shifts: by ``Link``.
Pages hold at most 100 orders [official]. An order whose fields we cannot read is left
out and said (``Page.unreadable``), never guessed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import msgspec
from keybuzz_shared.connectors.seam import (
    CallRefused,
    OrderLine,
    OrderSummary,
    Page,
    cursor_of,
    read_each,
    state_of,
)
from keybuzz_shared.times import as_utc

from keybuzz_connector_cdiscount.client import OctopiaClient
from keybuzz_connector_cdiscount.discussions import SALES_CHANNELS
from keybuzz_connector_cdiscount.order_states import order_status

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100  # Octopia's [official] maximum
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
    carrier_name: str | None = None


class Customer(msgspec.Struct, rename="camel", frozen=True):
    customer_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None


class Order(msgspec.Struct, rename="camel", frozen=True):
    """An order as ``GET /orders`` lists it: ``orderId`` or ``reference`` names it, and
    ``createdAt`` or ``purchasedAt`` dates it [observed]; the rest may be missing."""

    status: str
    order_id: str | None = None
    reference: str | None = None
    purchased_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    sales_channel_id: str | None = None
    customer: Customer | None = None
    lines: list[Line] = []
    parcels: list[Parcel] = []

    @property
    def id(self) -> str:
        return self.order_id or self.reference or ""

    @property
    def placed(self) -> datetime | None:
        return self.created_at or self.purchased_at


def read_order(item: Any) -> OrderSummary:
    """One listed order in the seam's terms; ValueError saying why it cannot be."""
    try:
        order = msgspec.convert(item, Order)
    except msgspec.ValidationError as exc:
        raise ValueError(str(exc)) from None
    placed = order.placed
    if not order.id or placed is None:
        raise ValueError("an order without orderId/reference or createdAt/purchasedAt")
    status, delivery = order_status(order.status)
    customer = order.customer or Customer()
    names = (customer.first_name, customer.last_name)
    tracking = [p.parcel_number for p in order.parcels if p.parcel_number]
    return OrderSummary(
        external_id=order.id,
        state=order.status,
        status=status,
        delivery_status=delivery,
        created_at=as_utc(placed),
        updated_at=as_utc(order.updated_at or placed),
        buyer_name=" ".join(n for n in names if n) or None,
        tracking_code=tracking[-1] if tracking else None,
        sales_channel=_channel(order.sales_channel_id),
        lines=tuple(_line(n, line, order) for n, line in enumerate(order.lines, 1)),
    )


def _channel(code: str | None) -> str | None:
    """The sales channel as a ticket's details name it: its label where Octopia documents
    one, else its code."""
    return SALES_CHANNELS.get(code, code) if code else None


def _line(number: int, line: Line, order: Order) -> OrderLine:
    offer = line.offer or Offer()
    state = line.status or order.status
    price = _price(line.unit_price)
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


def _price(value: float | str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def iso(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_up(moment: datetime) -> str:
    """``moment`` to the second above, when it is within one: Octopia's dates are whole
    seconds, and what changed earlier in the window's last second belongs in it."""
    whole = as_utc(moment).replace(microsecond=0)
    return iso(whole if whole == as_utc(moment) else whole + timedelta(seconds=1))


# --- the cursor --------------------------------------------------------------------------


class _Listing(msgspec.Struct, array_like=True, frozen=True):
    """Where a listing is: its window, and Octopia's next page when it follows the
    ``Link`` (else the next page seeks from ``low``)."""

    low: datetime
    until: datetime
    link: str | None = None


# --- the source ---------------------------------------------------------------------------


class ShopOrders:
    """A shop's orders through its OctopiaClient (``now``: where a listing's window ends)."""

    def __init__(
        self,
        client: OctopiaClient,
        *,
        page_size: int = MAX_PAGE_SIZE,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.page_size = min(page_size, MAX_PAGE_SIZE)
        self.now = now

    async def orders(self, *, since: datetime, cursor: str | None = None) -> Page[OrderSummary]:
        if cursor is None:
            listing = _Listing(low=as_utc(since) - LISTING_OVERLAP, until=self.now())
        else:
            listing = state_of(cursor, _Listing)
        query = {
            "updatedAtMin": iso(listing.low),
            "updatedAtMax": iso_up(listing.until),
            "sort": "updatedAt:asc",
            "pageSize": str(self.page_size),
        }
        raw, link = await self.client.get_page("/orders", query, listing.link)
        items, unreadable = self._read(raw)
        if link is None:
            return Page(
                items=items, next_cursor=None, complete_until=listing.until, unreadable=unreadable
            )
        latest = max((o.updated_at for o in items), default=listing.low)
        if latest > listing.low:  # seek from the last change read
            following = _Listing(low=latest, until=listing.until)
        else:  # a whole page changed at one second: Octopia's next page
            following = _Listing(low=listing.low, until=listing.until, link=link)
        return Page(items=items, next_cursor=cursor_of(following), unreadable=unreadable)

    async def orders_created(
        self, *, start: datetime, end: datetime, cursor: str | None = None
    ) -> Page[OrderSummary]:
        # createdAtMax is inclusive and dates are shown to the second: the orders of the
        # window's last second shown at ``end`` belong to the next window.
        end = as_utc(end)
        query = {
            "createdAtMin": iso(start),
            "createdAtMax": iso(end),
            "sort": "createdAt:asc",
            "pageSize": str(self.page_size),
        }
        link = state_of(cursor, _Listing).link if cursor is not None else None
        raw, following = await self.client.get_page("/orders", query, link)
        items, unreadable = self._read(raw)
        kept = tuple(o for o in items if o.created_at < end)
        if following is None:
            return Page(items=kept, next_cursor=None, complete_until=end, unreadable=unreadable)
        listing = _Listing(low=as_utc(start), until=end, link=following)
        return Page(items=kept, next_cursor=cursor_of(listing), unreadable=unreadable)

    async def orders_by_id(self, order_ids: Sequence[str]) -> list[OrderSummary]:
        """One call per order; an id Octopia does not know (404) names no order, and one
        that cannot be a path segment is not asked."""
        found: list[OrderSummary] = []
        for order_id in dict.fromkeys(order_ids):
            if order_id.strip() in ("", ".", ".."):
                continue
            try:
                item = await self.client.get_json(f"/orders/{quote(order_id, safe='')}")
            except CallRefused as refused:
                if refused.status == 404:
                    continue
                raise
            orders, _ = self._read([item])
            found += orders
        return found

    def _read(self, raw: Sequence[Any]) -> tuple[tuple[OrderSummary, ...], tuple[str, ...]]:
        items, unreadable = read_each(raw, read_order)
        for reason in unreadable:
            log.warning(
                "Cdiscount order left out: unreadable",
                extra={"seller_id": self.client.seller_id, "reason": reason},
            )
        return items, unreadable
