"""A Mirakl shop's orders (OR11) as the kit's ``ListedOrders`` on OR11's offset pages, an
order we cannot read left out and said, and the shop's response figure (A21):
docs/MIRAKL-orders.md."""

from __future__ import annotations

import functools
import operator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from keybuzz_shared.connectors import kit
from keybuzz_shared.connectors.seam import OrderLine, OrderSummary
from keybuzz_shared.times import as_utc

OR11 = "/api/orders"
MAX_PAGE_SIZE = 100  # OR11's ``max`` at most [official, Mirakl's paging guide]
# Places a next page starts before where the last one ended: orders leaving the window
# up to this many between two pages cost no step back.
OVERLAP = 10


# Every order state of OR11 [official] → (our order status, our delivery status or None);
# a state Mirakl may add later is PENDING (docs/MIRAKL-orders.md, "Order states").
ORDER_STATES = kit.ListedOrders.States(
    STAGING=("PENDING", None),  # placed, the operator's fraud check not done
    WAITING_ACCEPTANCE=("PENDING", None),  # the shop has to accept it
    WAITING_DEBIT=("PENDING", None),  # accepted, the customer not yet debited
    WAITING_DEBIT_PAYMENT=("PENDING", None),  # debit asked, payment not confirmed
    SHIPPING=("CONFIRMED", "PREPARING"),  # paid: the shop ships it
    SHIPPED=("SHIPPED", "SHIPPED"),
    TO_COLLECT=("SHIPPED", "OUT_FOR_DELIVERY"),  # at the pick-up point, to be collected
    RECEIVED=("DELIVERED", "DELIVERED"),
    CLOSED=("DELIVERED", "DELIVERED"),  # received, and past the operator's return time
    REFUSED=("CANCELLED", None),  # the shop refused it (or did not accept it in time)
    CANCELED=("CANCELLED", None),
    WAITING_REFUND=("RETURNED", None),  # deprecated by Mirakl, still listed
    WAITING_REFUND_PAYMENT=("RETURNED", None),  # deprecated by Mirakl, still listed
)
# A line's states besides the order's (INCIDENT_OPEN: the customer reported a problem on
# the line): None keeps the order's status for the line.
LINE_STATES: dict[str, str | None] = {"INCIDENT_OPEN": None, "REFUNDED": "RETURNED"}


# --- the wire (OR11's answer, fields as Mirakl's OpenAPI description names them) ---------


class Refund(msgspec.Struct, frozen=True):
    id: str
    amount: float | None = None
    shipping_amount: float | None = None


class Line(msgspec.Struct, frozen=True):
    order_line_id: str
    order_line_state: str
    quantity: int = 1
    offer_sku: str | None = None
    product_title: str | None = None
    price_unit: float | None = None
    shipped_date: datetime | None = None
    received_date: datetime | None = None
    refunds: list[Refund] = []


class Channel(msgspec.Struct, frozen=True):
    code: str | None = None
    label: str | None = None


class Order(msgspec.Struct, frozen=True):
    order_id: Annotated[str, msgspec.Meta(min_length=1)]
    order_state: str
    created_date: datetime
    last_updated_date: datetime | None = None
    currency_iso_code: str | None = None
    customer: kit.PersonName | None = None
    order_lines: list[Line] = []
    shipping_tracking: str | None = None
    fully_refunded: bool = False
    channel: Channel | None = None  # the operator's sales channel; absent: it sells on one


def read_order(item: Any) -> OrderSummary:
    order = kit.read_as(Order, item, "order")
    status, delivery = ORDER_STATES[order.order_state]
    shipped = [line.shipped_date for line in order.order_lines if line.shipped_date]
    received = [line.received_date for line in order.order_lines if line.received_date]
    channel = order.channel or Channel()  # shown as the operator names it, else by its code
    return OrderSummary(
        external_id=order.order_id,
        state=order.order_state,
        status="RETURNED" if order.fully_refunded and status != "CANCELLED" else status,
        delivery_status=delivery,
        created_at=as_utc(order.created_date),
        updated_at=as_utc(order.last_updated_date or order.created_date),
        buyer_name=order.customer.full if order.customer else None,
        shipped_at=as_utc(min(shipped)) if shipped else None,
        delivered_at=as_utc(max(received)) if received else None,
        tracking_code=order.shipping_tracking or None,
        sales_channel=channel.label or channel.code or None,
        lines=tuple(_line(line, order, status) for line in order.order_lines),
    )


def _line(line: Line, order: Order, order_status: str) -> OrderLine:
    state, price = line.order_line_state, kit.decimal_of(line.price_unit)
    # What the line's refunds give back (its price and shipping), asked or paid: a partial
    # one leaves the line's state as it was.
    amounts = [kit.decimal_of(a) for r in line.refunds for a in (r.amount, r.shipping_amount)]
    refunded = sum((a for a in amounts if a is not None), Decimal()) if line.refunds else None
    return OrderLine(
        line_id=line.order_line_id,
        state=state,
        status=LINE_STATES.get(state, ORDER_STATES[state][0]) or order_status,
        product_name=line.product_title or line.offer_sku or "",
        quantity=line.quantity,
        seller_sku=line.offer_sku,
        unit_price=price,
        currency=order.currency_iso_code if price is not None else None,
        refunded_amount=refunded,
    )


# An order's place in OR11's sort: its creation date, then its id [official].
SORT = {"sort": "dateCreated", "order": "asc"}
# OR11's orders in ``orders``, how many it holds in ``total_count``.
OR11_PAGE: dict[str, Any] = {"items": "orders", "total": "total_count"}
_place = operator.attrgetter("created_at", "external_id")


def shop_orders(
    calls: kit.Requester, *, page_size: int = MAX_PAGE_SIZE, interval: float = 0.0
) -> kit.ListedOrders:
    """A shop's orders (``interval``: the kit's ``spacing``); a cursor is an
    ``OffsetState``, the layout backfill jobs keep."""
    answers = kit.JsonAnswers(calls, **OR11_PAGE)
    size = max(OVERLAP + 1, min(page_size, MAX_PAGE_SIZE))
    paging = kit.Listing.Offsets[OrderSummary](_place, size=size, overlap=OVERLAP)
    # A window as OR11's query (by update or by creation), in creation order.
    window = functools.partial(
        answers.listing, OR11, paging, operation="OR11", written=iso_millis, fixed=SORT
    )

    async def by_id(order_ids: str) -> list[Any]:
        asked = {"order_ids": order_ids, "max": str(MAX_PAGE_SIZE)}
        return (await answers.page(OR11, asked, operation="OR11"))[0]

    return kit.ListedOrders(
        updated=window("start_update_date", until="end_update_date"),
        created=window("start_date", until="end_date"),
        by_id=kit.ListedOrders.InLists(by_id, MAX_PAGE_SIZE),
        read=read_order,
        calls=calls,
        # A window's bounds as Mirakl holds them: in UTC, cut to the millisecond.
        bounds=lambda moment: datetime.fromisoformat(iso_millis(moment)),
        spacing=interval,
    )


# ``moment`` in UTC to the millisecond (``2026-11-23T09:48:00.250Z``), cut, not rounded.
iso_millis = functools.partial(kit.iso_z, unit="milliseconds")


# --- the shop's response figure: A21 (docs/MIRAKL-orders.md, "The shop's response figure") -

A21 = "/api/account/statistics"
FIGURE = "order_messages_response_delay"
# A21's periods, shortest first, with how far back each goes (None: since the beginning).
# Mirakl names them by calendar words; the spans are ours (a month as 30 days).
PERIODS: tuple[tuple[str, timedelta | None], ...] = (
    ("LAST_MONTH", timedelta(days=30)),
    ("LAST_THREE_MONTHS", timedelta(days=91)),
    ("LAST_SIX_MONTHS", timedelta(days=182)),
    ("LAST_YEAR", timedelta(days=365)),
    ("ALL_SINCE_BEGINNING", None),
)
EVERY_PERIOD = ",".join(name for name, _ in PERIODS)  # A21's ``periods``: comma-separated
# A report's window ends when the report is read, A21's periods when the call is made, a
# moment later: the window is matched to A21's period of its length, not the next longer.
CALL_SLACK = timedelta(minutes=1)


class Figure(msgspec.Struct, frozen=True):
    period: str
    value: int


class Statistics(msgspec.Struct, frozen=True):
    order_messages_response_delay: list[Figure] = []
    last_updated_date: datetime | None = None


def response_delays(calls: kit.Requester, kept_seconds: float) -> kit.KitSession.PeriodFigures:
    """A shop's figure from A21: every period in one call, kept ``kept_seconds``."""

    async def a21() -> tuple[dict[str, float], datetime | None]:
        body = await calls.get_json(A21, {"periods": EVERY_PERIOD}, operation="A21")
        statistics = kit.read_as(Statistics, body, "statistics", call="A21")
        # A period given twice: its first figure.
        given = reversed(statistics.order_messages_response_delay)
        return {f.period: float(f.value) for f in given}, statistics.last_updated_date

    return kit.KitSession.PeriodFigures(
        FIGURE, PERIODS, a21, kept_seconds=kept_seconds, slack=CALL_SLACK
    )
