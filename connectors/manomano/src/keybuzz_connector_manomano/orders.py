"""A ManoMano seller's orders from the partner API as the kit's ``ListedOrders`` on
``PageNumbers`` (docs/MANOMANO.md, "Orders": each filter's source, the states' table)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from keybuzz_shared.connectors.kit import (
    ListedOrders,
    Listing,
    PersonName,
    Requester,
    decimal_of,
    iso_z,
    read_as,
)
from keybuzz_shared.connectors.seam import OrderLine, OrderSummary
from keybuzz_shared.times import as_utc

from keybuzz_connector_manomano.relay import ORDER_IDS

ORDERS_PATH = "orders/v1/orders"
PAGE_SIZE = 50  # [assumed: ManoMano publishes no maximum the SDKs show]

# ManoMano's order status [third-party: Lengow's and zynk's ManoMano guides] ->
# (our order status, our delivery status or None).
ORDER_STATES = ListedOrders.States(
    WAITING_PAYMENT=("PENDING", None),  # the buyer has not paid yet
    PENDING=("PENDING", None),  # paid, waiting for the seller to accept or refuse
    PREPARATION=("CONFIRMED", "PREPARING"),  # accepted: the seller ships
    SHIPPED=("SHIPPED", "SHIPPED"),
    REFUSED=("CANCELLED", None),  # the seller refused it
    CANCELLED=("CANCELLED", None),
    REFUNDING=("RETURNED", None),  # a refund after shipment, being paid
    REFUNDED=("RETURNED", None),
)


class Price(msgspec.Struct, frozen=True):
    amount: float | str | None = None
    currency: str | None = None


class Product(msgspec.Struct, frozen=True):
    seller_sku: str | None = None
    title: str = ""
    quantity: int = 1
    price: Price | None = None
    status: str | None = None


class Order(msgspec.Struct, frozen=True):
    order_reference: str
    status: str
    created_at: datetime
    status_updated_at: datetime | None = None
    products: list[Product] = []
    customer: PersonName | None = None
    shipped_at: datetime | None = None
    tracking_number: str | None = None


def read_order(item: Any) -> OrderSummary:
    """One listed order in the seam's terms (a state ManoMano may add: PENDING); ValueError
    saying why it cannot be."""
    order = read_as(Order, item, "order")
    if not ORDER_IDS.is_order_id(order.order_reference):
        raise ValueError(f"order off its shape: {order.order_reference!r} is no ManoMano id")
    status, delivery = ORDER_STATES[order.status.upper()]
    return OrderSummary(
        external_id=order.order_reference,
        state=order.status.upper(),
        created_at=as_utc(order.created_at),
        updated_at=as_utc(order.status_updated_at or order.created_at),
        lines=tuple(
            OrderLine(
                line_id=f"{order.order_reference}-{index}",
                state=(line.status or order.status).upper(),
                status=ORDER_STATES[(line.status or order.status).upper()][0],
                product_name=line.title,
                quantity=line.quantity,
                seller_sku=line.seller_sku,
                unit_price=decimal_of(line.price.amount) if line.price else None,
                currency=line.price.currency if line.price else None,
            )
            for index, line in enumerate(order.products, start=1)
        ),
        status=status,
        delivery_status=delivery,
        buyer_name=order.customer.full if order.customer else None,
        shipped_at=as_utc(order.shipped_at) if order.shipped_at else None,
        tracking_code=order.tracking_number or None,
    )


def orders_page(body: Any) -> tuple[list[Any], bool]:
    """The page's orders and whether another page follows; ValueError when the answer is
    not a page of orders."""
    if not isinstance(body, dict) or not isinstance(body.get("content"), list):
        raise ValueError("the answer is not a page of orders (no content list)")
    paging = body.get("pagination")
    page = paging.get("page") if isinstance(paging, dict) else None
    pages = paging.get("pages") if isinstance(paging, dict) else None
    more = isinstance(page, int) and isinstance(pages, int) and page < pages
    content: list[Any] = body["content"]
    return content, more


async def orders_at(
    client: Requester, query: dict[str, str], link: str | None, operation: str = "get_orders"
) -> tuple[list[Any], bool]:
    """A page of the seller's orders asked with ``query``, and whether another follows;
    an answer off its shape is ManoMano's unreadable answer."""
    body = await client.get_json(ORDERS_PATH, query, operation=operation)
    try:
        return orders_page(body)
    except ValueError as exc:
        raise client.spec.errors.unreadable("GET orders", str(exc)) from None


def seller_orders(client: Requester) -> ListedOrders:
    """A seller's orders through its client."""
    paging = Listing.PageNumbers[OrderSummary](size=PAGE_SIZE, size_param="limit")
    page = functools.partial(orders_at, client)

    async def named(reference: str) -> Sequence[Any]:
        return (await page({"order_reference": reference}, None, "get_order"))[0]

    def listing(field: str) -> ListedOrders.OrderListing:
        return Listing(paging, Listing.window_query(f"{field}_start", f"{field}_end", iso_z), page)

    return ListedOrders(
        updated=listing("status_updated_at"),
        created=listing("created_at"),
        by_id=ListedOrders.InLists(named, size=1, askable=ORDER_IDS.is_order_id),
        read=read_order,
        calls=client,
    )
