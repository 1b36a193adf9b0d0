"""A Back Market shop's orders (``GET /ws/orders``, ``GET /ws/orders/{order_id}``) as the
seam's OrderSource (docs/BACKMARKET.md, "Orders").

``orders(since)`` lists the orders modified from ``since`` on (``date_modification``),
``orders_created`` those created from ``start`` on (``date_creation``), the ones created
at or after ``end`` left out, the reading ended at a page wholly past ``end`` (Back
Market lists by order id, which grows with creation [double: assumed]); 50 a page (the
largest ``page-size`` [official]), by page number: the kit's ``ListedOrders`` on
``PageNumbers``. ``orders_by_id`` reads each order named (the orders of the lines the care
folders name). An order whose fields we cannot read is left out and said
(``Page.unreadable``), never guessed.

Back Market's order and order-line states are KeyBuzz's order vocabulary
(docs/BACKMARKET.md, "Order states"; seam.ORDER_STATUSES / DELIVERY_STATUSES), Back
Market's own word kept beside ours; a state it may add later maps to PENDING with no
delivery status: shown, never lost."""

from __future__ import annotations

import functools
import logging
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
from keybuzz_shared.connectors.kit import (
    EachById,
    ListedOrders,
    Listing,
    Numbered,
    PageNumbers,
    PersonName,
    Requester,
    iso_z,
    read_as,
    results_page,
    window_query,
)
from keybuzz_shared.connectors.seam import OrderLine, OrderSummary
from keybuzz_shared.times import as_utc

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


PAGE_SIZE = 50  # page-size's maximum [official]
_CURSOR = re.compile(r"(created|modified)\|([0-9T:+.Z-]{20,32})\|([1-9][0-9]{0,5})")


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
    shipping_address: PersonName | None = None
    currency: str | None = None
    tracking_number: str | None = None


def summary_of(order: Order) -> OrderSummary:
    status, delivery = order_status(order.state)
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
        buyer_name=order.shipping_address.full if order.shipping_address else None,
        shipped_at=as_utc(order.date_shipping) if order.date_shipping else None,
        tracking_code=order.tracking_number or None,
    )


def _price(total: str | None, quantity: int) -> Decimal | None:
    """A line's price is its quantity's, taxes included [official]: the unit's."""
    try:
        return Decimal(total) / max(quantity, 1) if total else None
    except InvalidOperation:
        return None


def read_order(item: Any) -> OrderSummary:
    """One listed order in the seam's terms; ValueError saying why it cannot be."""
    return summary_of(read_as(Order, item, "order"))


async def _page(
    client: Requester, query: dict[str, str], link: str | None
) -> tuple[list[Any], bool]:
    """A page's orders, and whether Back Market says a next page follows."""
    body = await client.get_json("/ws/orders", query)
    return results_page(client, "GET ws/orders", body)


def _order_path(order_id: str) -> str | None:
    return f"/ws/orders/{order_id}" if order_id.isdigit() else None


def _old_cursor(cursor: str) -> Numbered | None:
    """A cursor in the text form this connector handed out earlier
    (``created|<since>|<page>``): a backfill job keeps its cursor across restarts."""
    found = _CURSOR.fullmatch(cursor)
    if found is None:
        return None
    try:
        since = datetime.fromisoformat(found.group(2))
    except ValueError:
        return None
    return Numbered(found.group(1) == "modified", as_utc(since), None, int(found.group(3)))


class ShopOrders(ListedOrders):
    """A shop's orders through its client: page numbers, the window by update open (Back
    Market's listing takes no end: no ``complete_until``)."""

    def __init__(self, client: Requester) -> None:
        paging = PageNumbers[OrderSummary](size=PAGE_SIZE)
        page = functools.partial(_page, client)
        super().__init__(
            updated=Listing(
                paging, window_query("date_modification", None, iso_z), page, _old_cursor
            ),
            created=Listing(paging, window_query("date_creation", None, iso_z), page, _old_cursor),
            by_id=EachById(client.get_json, _order_path),
            read=read_order,
            label="Back Market",
            log=logging.getLogger(__name__),
            now=None,
        )
        self.client = client
