"""Orders as KeyBuzz stores and serves them (seed 002's fields and enums): pure decisions.

Nothing here does I/O, and nothing names a marketplace: each connector maps its
marketplace's orders into ``keybuzz_shared.connectors.orders.OrderRow`` (re-exported here
with its vocabulary), and ``connector_order_row`` maps the seam's ``OrderSummary`` of a
shop API's session into the same row.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

import msgspec
from keybuzz_shared import times
from keybuzz_shared.connectors.orders import DeliveryStatus as DeliveryStatus
from keybuzz_shared.connectors.orders import ItemRow as ItemRow
from keybuzz_shared.connectors.orders import OrderRow as OrderRow
from keybuzz_shared.connectors.orders import OrderStatus as OrderStatus
from keybuzz_shared.connectors.orders import new_order_row as new_order_row
from keybuzz_shared.connectors.orders import order_ref as order_ref
from keybuzz_shared.connectors.registry import connectors, marketplaces
from keybuzz_shared.connectors.seam import OrderIds
from keybuzz_shared.connectors.seam import OrderSummary as ConnectorOrder

SLA_AT_RISK_BEFORE = timedelta(hours=24)

# Every ``marketplace`` an order or a job may have (the registry's, at import).
Marketplace = StrEnum("Marketplace", [(m, m) for m in marketplaces()])  # type: ignore[misc]


# The lifecycle's order: at the same timestamp of the marketplace the later step wins (one advance
# or one second can carry Pending -> Unshipped -> Shipped).
LIFECYCLE = (
    OrderStatus.PENDING,
    OrderStatus.CONFIRMED,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.CANCELLED,
    OrderStatus.RETURNED,
)


def supersedes(
    changed_at: datetime, status: OrderStatus, held_at: datetime, held_status: OrderStatus
) -> bool:
    """Whether a change replaces the state we hold: strictly newer at the marketplace, or at the same
    time a later lifecycle step. A late or repeated change never overwrites a newer one."""
    return (changed_at, LIFECYCLE.index(status)) > (held_at, LIFECYCLE.index(held_status))


class SavStatus(StrEnum):
    NONE = "NONE"
    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    RESOLVED = "RESOLVED"


class SlaStatus(StrEnum):
    OK = "OK"
    AT_RISK = "AT_RISK"
    BREACHED = "BREACHED"


def _order_ids(parts: list[OrderIds | None]) -> list[OrderIds]:
    return [p for p in parts if p is not None]


def order_ids() -> list[OrderIds]:
    """Each connector's order ids, as the registry serves them now."""
    return _order_ids([c.order_ids for c in connectors()])


def messaging_order_ids() -> list[OrderIds]:
    """Those of the marketplaces with buyer messaging (an order feed)."""
    return _order_ids([c.order_ids for c in connectors() if c.order_feed])


def _formats(ids: list[OrderIds]) -> str:
    # A format shared by connectors (one class) is said once.
    return " or ".join(dict.fromkeys(i.described for i in ids))


class InvalidOrderId(ValueError):
    def __init__(self, *, messaging: bool = False) -> None:
        super().__init__(
            f"orderId must be {_formats(messaging_order_ids() if messaging else order_ids())}"
        )


def is_order_id(value: str, ids: list[OrderIds] | None = None) -> bool:
    """An order id of one of our marketplaces (of ``ids``: each connector's by default)."""
    return any(i.is_order_id(value) for i in (order_ids() if ids is None else ids))


class OrderNotFound(LookupError):
    def __init__(self, order_id: str) -> None:
        super().__init__(f"no order {order_id} for this tenant")


def as_utc(moment: datetime | None) -> datetime | None:
    """A date-time given without a zone (a query parameter, a request body) means UTC."""
    return None if moment is None else times.as_utc(moment)


class OrderLine(msgspec.Struct, frozen=True, kw_only=True):
    """An item of an order as the reads serve it (money as text: no float rounding)."""

    external_item_id: str
    sku: str | None
    asin: str | None
    title: str | None
    quantity: int
    unit_price: str | None
    currency: str | None
    marketplace_state: str | None = None
    refunded_amount: str | None = None


class OrderSummary(msgspec.Struct, frozen=True, kw_only=True):
    """An order as the reads serve it: what the store holds, JSON and money as text."""

    id: str
    external_order_id: str
    order_ref: str
    marketplace: str
    marketplace_id: str | None
    customer_name: str | None
    customer_email: str | None
    order_date: datetime
    currency: str | None
    total_amount: str | None
    order_status: str
    marketplace_status: str | None
    delivery_status: str | None
    sav_status: str
    ship_by: datetime | None
    carrier: str | None
    tracking_code: str | None
    shipping_address: str | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    fulfillment_channel: str | None
    sales_channel: str | None
    created_at: datetime
    updated_at: datetime


def sla_status(status: OrderStatus, ship_by: datetime | None, now: datetime) -> SlaStatus:
    """Whether the order leaves in time; derived when read so it never goes stale."""
    if ship_by is None or status not in (OrderStatus.PENDING, OrderStatus.CONFIRMED):
        return SlaStatus.OK
    if now > ship_by:
        return SlaStatus.BREACHED
    if ship_by - now < SLA_AT_RISK_BEFORE:
        return SlaStatus.AT_RISK
    return SlaStatus.OK


def connector_order_row(order: ConnectorOrder, marketplace_id: str | None) -> OrderRow:
    """An order of a shop API's session (``seam.OrderSummary``): its connector
    mapped its states into our vocabulary; its own word is kept in ``marketplace_status``."""
    lines = order.lines
    priced = [line for line in lines if line.unit_price is not None]
    live = [line for line in priced if line.status not in ("CANCELLED", "RETURNED")]
    total = sum((line.unit_price * line.quantity for line in live if line.unit_price), Decimal())
    currency = next((line.currency for line in priced if line.currency), None)
    delivery = order.delivery_status
    return OrderRow(
        external_order_id=order.external_id,
        order_ref=order_ref(order.external_id),
        marketplace_id=marketplace_id,
        order_date=order.created_at,
        marketplace_updated_at=order.updated_at,
        order_status=OrderStatus(order.status),
        marketplace_status=order.state,
        delivery_status=DeliveryStatus(delivery) if delivery else None,
        items=[
            ItemRow(
                external_item_id=line.line_id,
                sku=line.seller_sku,
                asin=None,
                title=line.product_name,
                quantity=line.quantity,
                unit_price=line.unit_price,
                currency=line.currency if line.unit_price is not None else None,
                marketplace_state=line.state,
                refunded_amount=line.refunded_amount,
            )
            for line in lines
        ],
        customer_name=order.buyer_name,
        currency=currency if priced else None,
        total_amount=total if priced and currency else None,
        carrier=None,
        tracking_code=order.tracking_code,
        shipped_at=order.shipped_at,
        delivered_at=order.delivered_at,
        sales_channel=order.sales_channel,
    )
