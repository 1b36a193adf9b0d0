"""A Kaufland seller's orders, one line per order unit (docs/KAUFLAND.md, "Orders")."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import msgspec
from keybuzz_shared.connectors import kit, seam
from keybuzz_shared.times import as_utc

from keybuzz_connector_kaufland.tickets import answers_of, newest_first

ORDERS_PAGE = 20  # orders a page (each then read with its units); Kaufland takes 1-100
SORT = {"sort": "ts_updated:desc"}  # order units by their last change, as the paging reads
STATUSES = {
    "open": "PENDING",
    "need_to_be_sent": "CONFIRMED",
    "sent": "SHIPPED",
    "sent_and_autopaid": "SHIPPED",
    "received": "DELIVERED",
    "returned": "RETURNED",
    "returned_paid": "RETURNED",
    "cancelled": "CANCELLED",
}


class Product(msgspec.Struct, frozen=True):
    title: str | None = None


class Unit(msgspec.Struct, frozen=True):
    id_order_unit: int
    status: str
    price: int  # cents
    currency: str
    ts_updated_iso: datetime
    id_offer: str | None = None
    product: Product | None = None


class Order(msgspec.Struct, frozen=True):
    id_order: str
    ts_created_iso: datetime
    storefront: str
    order_units: list[Unit] = []


def order_of(raw: Any) -> seam.OrderSummary:
    order = kit.read_as(Order, raw, "order")
    lines = tuple(
        seam.OrderLine(
            line_id=str(u.id_order_unit),
            state=u.status,
            status=STATUSES.get(u.status, "PENDING"),
            product_name=(u.product.title if u.product else None) or u.id_offer or "",
            quantity=1,  # a unit is one item [official]
            seller_sku=u.id_offer,
            unit_price=Decimal(u.price) / 100,
            currency=u.currency,
        )
        for u in order.order_units
    )
    least = kit.ListedOrders.least_advanced(lines)
    created = as_utc(order.ts_created_iso)
    return seam.OrderSummary(
        external_id=order.id_order,
        state=least.state if least else "open",
        status=least.status if least else "PENDING",
        created_at=created,
        updated_at=max((as_utc(u.ts_updated_iso) for u in order.order_units), default=created),
        lines=lines,
        sales_channel=order.storefront,
    )


async def storefronts(client: kit.Requester) -> list[str]:
    asked = answers_of(client).get("info/storefront", list[str], operation="GetAllStorefronts")
    return [s.lower() for s in await asked]


def unit_orders(client: kit.Requester) -> seam.OrderSource:
    answers = answers_of(client)
    get = partial(answers.get, operation="GetOrder")
    by_id = kit.ListedOrders.EachById(get, "orders", valid=str.isalnum)
    listing = partial(answers.listing, each=partial(by_id.each_listed, key="id_order"))
    by_update = newest_first(lambda o: (o.updated_at, o.external_id), size=ORDERS_PAGE, overlap=2)
    by_creation = newest_first(lambda o: (o.created_at, o.external_id), size=ORDERS_PAGE, overlap=2)
    return kit.ListedOrders(
        updated=listing(
            "order-units", by_update, "ts_updated_from_iso", operation="GetOrderUnits", fixed=SORT
        ),
        created=listing("orders", by_creation, "ts_created_from_iso", operation="GetOrders"),
        by_id=by_id,
        read=order_of,
        calls=client,
        overlap=timedelta(minutes=5),
    ).each_of(partial(storefronts, client), "storefront")
