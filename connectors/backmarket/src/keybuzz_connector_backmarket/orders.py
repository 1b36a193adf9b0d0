"""A Back Market shop's orders as the kit's ``ListedOrders`` (docs/BACKMARKET.md, "Orders"):
its states in KeyBuzz's vocabulary, its own word kept beside ours; a state it may add later
PENDING with no delivery status: shown, never lost."""

from __future__ import annotations

import re
from datetime import datetime

import msgspec
from keybuzz_shared.connectors import kit
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


def order_state(state: int) -> tuple[str, str, str | None]:
    return ORDER_STATES.get(state, (f"STATE_{state}", "PENDING", None))


def line_state(state: int) -> tuple[str, str]:
    return LINE_STATES.get(state, (f"STATE_{state}", "PENDING"))


PAGE_SIZE = 50  # page-size's maximum [official]
# A cursor in the text form this connector handed out earlier (``created|<since>|<page>``):
# a backfill job keeps its cursor across restarts.
OLD_CURSOR = re.compile(r"(created|modified)\|([0-9T:+.Z-]{20,32})\|([1-9][0-9]{0,5})")


def old_cursor(cursor: str) -> kit.Listing.PageNumbers.state | None:
    """A cursor of the earlier text form, matched whole, as the state its fields make;
    None for any other cursor (or a field the earlier listing never wrote)."""
    found = OLD_CURSOR.fullmatch(cursor)
    if found is None:
        return None
    try:
        since = as_utc(datetime.fromisoformat(found[2]))
    except ValueError:
        return None
    return kit.Listing.PageNumbers.state(found[1] == "modified", since, None, int(found[3]))


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
    shipping_address: kit.PersonName | None = None
    currency: str | None = None
    tracking_number: str | None = None


def summary_of(order: Order) -> OrderSummary:
    name, status, delivery = order_state(order.state)
    return OrderSummary(
        external_id=str(order.order_id),
        state=name,
        status=status,
        delivery_status=delivery,
        created_at=as_utc(order.date_creation),
        updated_at=as_utc(order.date_modification or order.date_creation),
        lines=tuple(
            OrderLine(
                line_id=str(line.id),
                state=line_state(line.state)[0],
                status=line_state(line.state)[1],
                product_name=line.product,
                quantity=line.quantity,
                seller_sku=line.listing,
                # The price is the quantity's, taxes included [official] (below one: one).
                unit_price=kit.unit_price(line.price, max(line.quantity, 1)),
                currency=line.currency or order.currency,
            )
            for line in order.orderlines
        ),
        buyer_name=order.shipping_address.full if order.shipping_address else None,
        shipped_at=as_utc(order.date_shipping) if order.date_shipping else None,
        tracking_code=order.tracking_number or None,
    )


def shop_orders(client: kit.Requester) -> kit.ListedOrders:
    """A shop's orders through its client: page numbers, the window by update open (Back
    Market's listing takes no end: no ``complete_until``)."""
    paging = kit.Listing.PageNumbers[OrderSummary](size=PAGE_SIZE)

    def listing(field: str) -> kit.ListedOrders.OrderListing:
        return kit.JsonAnswers(client).listing("/ws/orders", paging, field, legacy=old_cursor)

    return kit.ListedOrders(
        updated=listing("date_modification"),
        created=listing("date_creation"),
        by_id=kit.ListedOrders.EachById(client.get_json, "/ws/orders", str.isdigit),
        read=lambda item: summary_of(kit.read_as(Order, item, "order")),
        calls=client,
        now=None,
    )
