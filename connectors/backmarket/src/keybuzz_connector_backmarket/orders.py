"""A Back Market shop's orders (``GET /ws/orders``, ``GET /ws/orders/{order_id}``) as the
seam's OrderSource (docs/BACKMARKET.md, "Orders").

``orders(since)`` lists the orders modified from ``since`` on (``date_modification``),
``orders_created`` those created from ``start`` on (``date_creation``), the ones created
at or after ``end`` left out here, the reading ended at a page wholly past ``end``; 50 a page (the largest ``page-size`` [official]), by
page number. ``orders_by_id`` reads each order named (the orders of the lines the care
folders name). An order whose fields we cannot read is left out and said
(``Page.unreadable``), never guessed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
from keybuzz_shared.connectors.seam import CallRefused, OrderLine, OrderSummary, Page
from keybuzz_shared.times import as_utc

from keybuzz_connector_backmarket.client import ERRORS, BackMarketClient
from keybuzz_connector_backmarket.order_states import (
    line_state_name,
    line_status,
    order_state_name,
    order_status,
)

PAGE_SIZE = 50  # page-size's maximum [official]
_CURSOR = re.compile(r"(created|modified)\|([0-9T:+.Z-]{20,32})\|([1-9][0-9]{0,5})")


class Address(msgspec.Struct, frozen=True, rename="camel"):
    first_name: str | None = None
    last_name: str | None = None


class Line(msgspec.Struct, frozen=True):
    id: int
    state: int = 0
    product: str = ""
    quantity: int = 1
    listing: str | None = None
    price: str | None = None
    currency: str | None = None


class Order(msgspec.Struct, frozen=True):
    order_id: int
    state: int
    date_creation: datetime
    date_modification: datetime | None = None
    date_shipping: datetime | None = None
    orderlines: list[Line] = []
    shipping_address: Address | None = None
    currency: str | None = None
    tracking_number: str | None = None


def summary_of(order: Order) -> OrderSummary:
    status, delivery = order_status(order.state)
    buyer = order.shipping_address
    name = " ".join(n for n in (buyer.first_name, buyer.last_name) if n) if buyer else ""
    return OrderSummary(
        external_id=str(order.order_id),
        state=order_state_name(order.state),
        created_at=as_utc(order.date_creation),
        updated_at=as_utc(order.date_modification or order.date_creation),
        lines=tuple(
            OrderLine(
                line_id=str(line.id),
                state=line_state_name(line.state),
                status=line_status(line.state),
                product_name=line.product,
                quantity=line.quantity,
                seller_sku=line.listing,
                unit_price=_price(line.price, line.quantity),
                currency=line.currency or order.currency,
            )
            for line in order.orderlines
        ),
        status=status,
        delivery_status=delivery,
        buyer_name=name or None,
        shipped_at=as_utc(order.date_shipping) if order.date_shipping else None,
        tracking_code=order.tracking_number or None,
    )


def _price(total: str | None, quantity: int) -> Decimal | None:
    """A line's price is its quantity's, taxes included [official]: the unit's."""
    try:
        return Decimal(total) / max(quantity, 1) if total else None
    except InvalidOperation:
        return None


def _iso(moment: datetime) -> str:
    return as_utc(moment).isoformat().replace("+00:00", "Z")


class ShopOrders:
    def __init__(self, client: BackMarketClient) -> None:
        self.client = client

    async def orders(self, *, since: datetime, cursor: str | None = None) -> Page[OrderSummary]:
        return await self._listed("modified", since, None, cursor)

    async def orders_created(
        self, *, start: datetime, end: datetime, cursor: str | None = None
    ) -> Page[OrderSummary]:
        return await self._listed("created", start, as_utc(end), cursor)

    async def orders_by_id(self, order_ids: Sequence[str]) -> list[OrderSummary]:
        found = []
        for order_id in dict.fromkeys(order_ids):
            if not order_id.isdigit():
                continue
            try:
                body = await self.client.get_json(f"/ws/orders/{order_id}")
            except CallRefused as exc:
                if exc.status == 404:
                    continue
                raise
            try:
                found.append(summary_of(msgspec.convert(body, Order)))
            except msgspec.ValidationError as exc:
                raise ERRORS.unreadable("GET ws/orders/{id}", str(exc)) from None
        return found

    async def _listed(
        self, by: str, start: datetime, end: datetime | None, cursor: str | None
    ) -> Page[OrderSummary]:
        since, page = _iso(start), 1
        if cursor is not None:
            found = _CURSOR.fullmatch(cursor)
            if found is None or found.group(1) != by:
                raise ValueError("not a cursor this connector handed out")
            since, page = found.group(2), int(found.group(3))
        field = "date_creation" if by == "created" else "date_modification"
        body = await self.client.get_json(
            "/ws/orders", {field: since, "page": str(page), "page-size": str(PAGE_SIZE)}
        )
        items, unreadable = _orders(body)
        more = isinstance(body, dict) and bool(body.get("next"))
        if end is not None:
            # Back Market lists by order id, which grows with creation [double: assumed]: a
            # page created wholly at or after ``end`` ends the window's reading.
            if items and min(o.created_at for o in items) >= end:
                more = False
            items = [o for o in items if o.created_at < end]
        return Page(
            items=tuple(sorted(items, key=lambda o: o.created_at)),
            next_cursor=f"{by}|{since}|{page + 1}" if more else None,
            unreadable=tuple(unreadable),
        )


def _orders(body: Any) -> tuple[list[OrderSummary], list[str]]:
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise ERRORS.unreadable("GET ws/orders", "no list of results in the page")
    read, unreadable = [], []
    for item in body["results"]:
        try:
            read.append(summary_of(msgspec.convert(item, Order)))
        except msgspec.ValidationError as exc:
            unreadable.append(f"order off its shape: {exc}")
    return read, unreadable
