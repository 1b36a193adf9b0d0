"""Amazon orders as KeyBuzz stores them (seed 002's fields and enums): pure decisions.

Nothing here does I/O. What Amazon withholds (buyer data by role and status, totals
of pending or cancelled orders, prices of cancelled items) becomes ``None``: a
cancelled order with zero-quantity items is an ordinary order, not an error.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

import msgspec
from keybuzz_shared import times
from keybuzz_shared.connectors.amazon.ids import is_amazon_order_id
from keybuzz_shared.connectors.amazon.orders_v0 import V0Order, V0OrderItem
from keybuzz_shared.connectors.amazon.spapi import Order, OrderItem, OrderPackage
from keybuzz_shared.connectors.seam import OrderSummary as ConnectorOrder

SLA_AT_RISK_BEFORE = timedelta(hours=24)


class Marketplace(StrEnum):
    """Every ``marketplace`` an order or a job may have (``registry.MARKETPLACES``)."""

    AMAZON = "AMAZON"
    FNAC = "FNAC"
    DARTY = "DARTY"


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"
    RETURNED = "RETURNED"


# The lifecycle's order: at the same Amazon timestamp the later step wins (one advance
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
    """Whether a change replaces the state we hold: strictly newer at Amazon, or at the same
    time a later lifecycle step. A late or repeated change never overwrites a newer one."""
    return (changed_at, LIFECYCLE.index(status)) > (held_at, LIFECYCLE.index(held_status))


class DeliveryStatus(StrEnum):
    PREPARING = "PREPARING"
    SHIPPED = "SHIPPED"
    IN_TRANSIT = "IN_TRANSIT"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    DELIVERED = "DELIVERED"
    DELAYED = "DELAYED"
    LOST = "LOST"


class SavStatus(StrEnum):
    NONE = "NONE"
    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    RESOLVED = "RESOLVED"


class SlaStatus(StrEnum):
    OK = "OK"
    AT_RISK = "AT_RISK"
    BREACHED = "BREACHED"


# Orders 2026-01-01 FulfillmentStatus → ours. Amazon's word is kept in amazon_status.
_ORDER_STATUS = {
    "PENDING_AVAILABILITY": OrderStatus.PENDING,
    "PENDING": OrderStatus.PENDING,
    "UNSHIPPED": OrderStatus.CONFIRMED,
    "PARTIALLY_SHIPPED": OrderStatus.CONFIRMED,  # not all of it has left yet
    "SHIPPED": OrderStatus.SHIPPED,
    "CANCELLED": OrderStatus.CANCELLED,
    "UNFULFILLABLE": OrderStatus.CANCELLED,  # Amazon will not deliver it
}
# PackageStatus.status → ours.
_DELIVERY_STATUS = {
    "PENDING": DeliveryStatus.PREPARING,
    "IN_TRANSIT": DeliveryStatus.IN_TRANSIT,
    "SHIPPED": DeliveryStatus.SHIPPED,
    "DELIVERED": DeliveryStatus.DELIVERED,
    "UNDELIVERABLE": DeliveryStatus.LOST,
}


class InvalidOrderId(ValueError):
    def __init__(self, *, amazon_only: bool = False) -> None:
        fnac = "" if amazon_only else " or a Fnac/Darty one (13 letters and digits)"
        super().__init__(f"orderId must be an Amazon order id (3-7-7 digits){fnac}")


# Fnac's order ids (Darty's too): common.xsd's order_id_restriction, 13 characters.
_FNAC_ORDER_ID = re.compile(r"[0-9A-Za-z]{13}")


def is_order_id(value: str) -> bool:
    """An order id of one of our marketplaces: Amazon's (3-7-7) or Fnac's and Darty's."""
    return is_amazon_order_id(value) or _FNAC_ORDER_ID.fullmatch(value) is not None


class OrderNotFound(LookupError):
    def __init__(self, order_id: str) -> None:
        super().__init__(f"no order {order_id} for this tenant")


def as_utc(moment: datetime | None) -> datetime | None:
    """A date-time given without a zone (a query parameter, a request body) means UTC."""
    return None if moment is None else times.as_utc(moment)


def order_ref(external_order_id: str) -> str:
    """What agents call an order (seed 003: ``407-8949262-6149120`` → ``#149120``)."""
    return "#" + external_order_id.replace("-", "")[-6:]


# Structs, not dataclasses: built in C, they stay a small part of a report order's
# import (docs/BENCHMARKS.md).
class ItemRow(msgspec.Struct, frozen=True, kw_only=True):
    external_item_id: str
    sku: str | None
    asin: str | None
    title: str | None
    quantity: int
    unit_price: Decimal | None
    currency: str | None
    marketplace_state: str | None = None  # the line's state in its marketplace's word (Fnac)


class OrderRow(msgspec.Struct, frozen=True, kw_only=True):
    """An order as we store it; made only by ``new_order_row``. What a source does not
    carry (the buyer in a report, the packages in Orders v0) is None."""

    external_order_id: str
    order_ref: str
    marketplace_id: str | None
    order_date: datetime
    amazon_updated_at: datetime
    order_status: OrderStatus
    amazon_status: str | None
    delivery_status: DeliveryStatus | None
    items: list[ItemRow]
    customer_name: str | None = None
    customer_email: str | None = None
    currency: str | None = None
    total_amount: Decimal | None = None
    fulfillment_channel: str | None = None
    ship_by: datetime | None = None
    carrier: str | None = None
    tracking_code: str | None = None
    shipping_address: dict[str, Any] | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None

    @property
    def cancelled(self) -> bool:
        return self.order_status is OrderStatus.CANCELLED


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
    amazon_status: str | None
    delivery_status: str | None
    sav_status: str
    ship_by: datetime | None
    carrier: str | None
    tracking_code: str | None
    shipping_address: str | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    fulfillment_channel: str | None
    created_at: datetime
    updated_at: datetime


def new_order_row(
    order_id: str,
    status: OrderStatus,
    amazon_status: str | None,
    *,
    marketplace_id: str | None,
    order_date: datetime,
    amazon_updated_at: datetime,
    items: list[ItemRow],
    package: OrderPackage | None = None,
    **carried: Any,
) -> OrderRow:
    """The one place an ``OrderRow`` is made, from any source (searchOrders, a report,
    Orders v0, a notification): the ref follows from the id and the delivery status from
    the status and the latest package; ``carried`` are the optional columns the source has.
    """
    return OrderRow(
        external_order_id=order_id,
        order_ref=order_ref(order_id),
        marketplace_id=marketplace_id,
        order_date=order_date,
        amazon_updated_at=amazon_updated_at,
        order_status=status,
        amazon_status=amazon_status,
        delivery_status=delivery_status(status, package),
        items=items,
        **carried,
    )


def order_row(order: Order) -> OrderRow:
    fulfillment = order.fulfillment
    amazon_status = fulfillment.fulfillment_status if fulfillment else None
    package = _latest_package(order.packages or [])
    status = _order_status(amazon_status, package)
    total = order.proceeds.grand_total if order.proceeds else None
    buyer = order.buyer
    address = order.recipient.delivery_address if order.recipient else None
    return new_order_row(
        order.order_id,
        status,
        amazon_status,
        marketplace_id=order.sales_channel.marketplace_id,
        order_date=order.created_time,
        amazon_updated_at=order.last_updated_time,
        items=[_item_row(item) for item in order.order_items],
        package=package,
        customer_name=(buyer.buyer_name if buyer else None) or (address.name if address else None),
        customer_email=buyer.buyer_email if buyer else None,
        currency=total.currency_code if total else None,
        total_amount=total.amount if total else None,
        fulfillment_channel=fulfillment.fulfilled_by if fulfillment else None,
        ship_by=_ship_by(order),
        carrier=package.carrier if package else None,
        tracking_code=package.tracking_number if package else None,
        shipping_address=msgspec.to_builtins(address) if address else None,
        shipped_at=package.ship_time if package else None,
        # delivered_at: Amazon's package gives no delivery time
    )


def _item_row(item: OrderItem) -> ItemRow:
    product = item.product
    price = product.price.unit_price if product.price else None
    return ItemRow(
        external_item_id=item.order_item_id,
        sku=product.seller_sku,
        asin=product.asin,
        title=product.title,
        quantity=item.quantity_ordered,
        unit_price=price.amount if price else None,
        currency=price.currency_code if price else None,
    )


def _latest_package(packages: list[OrderPackage]) -> OrderPackage | None:
    """The package that tells where the order is now: the last one shipped."""
    if not packages:
        return None
    return max(packages, key=lambda p: p.ship_time or p.created_time or datetime.min.astimezone())


def _order_status(amazon_status: str | None, package: OrderPackage | None) -> OrderStatus:
    package_status = package.package_status.status if package and package.package_status else None
    if package_status == "DELIVERED":
        return OrderStatus.DELIVERED
    if amazon_status is None:  # FULFILLMENT not returned: the packages still tell something
        return OrderStatus.SHIPPED if package else OrderStatus.PENDING
    return _ORDER_STATUS.get(amazon_status, OrderStatus.PENDING)


def delivery_status(status: OrderStatus, package: OrderPackage | None) -> DeliveryStatus | None:
    if package and package.package_status:
        return _DELIVERY_STATUS.get(package.package_status.status)
    if status is OrderStatus.CONFIRMED:
        return DeliveryStatus.PREPARING
    if status is OrderStatus.SHIPPED:
        return DeliveryStatus.SHIPPED
    if status is OrderStatus.DELIVERED:  # a report's "Delivered" carries no package
        return DeliveryStatus.DELIVERED
    return None


def _ship_by(order: Order) -> datetime | None:
    window = order.fulfillment.ship_by_window if order.fulfillment else None
    return window.latest_date_time if window else None


def sla_status(status: OrderStatus, ship_by: datetime | None, now: datetime) -> SlaStatus:
    """Whether the order leaves in time; derived when read so it never goes stale."""
    if ship_by is None or status not in (OrderStatus.PENDING, OrderStatus.CONFIRMED):
        return SlaStatus.OK
    if now > ship_by:
        return SlaStatus.BREACHED
    if ship_by - now < SLA_AT_RISK_BEFORE:
        return SlaStatus.AT_RISK
    return SlaStatus.OK


# --- the orders report (GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL) ------------------
#
# One line per item, columns read by name. The flat file has no buyer, no full address,
# no packages (carrier, tracking) and no ship-by date: rows built from it are marked
# source REPORT, and those fields stay NULL until an API read of the order fills them.

CENT = Decimal("0.01")
REPORT_ITEM_PREFIX = "report:"  # the flat file has no order item id: ours until the API's


class ReportLineError(ValueError):
    """A report line we cannot read (missing id or date): one counted error."""


# The flat file's status words → (ours, Amazon's API word kept in amazon_status).
_REPORT_STATUS = {
    "pending": (OrderStatus.PENDING, "PENDING"),
    "pending - waiting for pick up": (OrderStatus.PENDING, "PENDING"),
    "unshipped": (OrderStatus.CONFIRMED, "UNSHIPPED"),
    "shipping": (OrderStatus.CONFIRMED, "UNSHIPPED"),
    "partiallyshipped": (OrderStatus.CONFIRMED, "PARTIALLY_SHIPPED"),
    "cancelled": (OrderStatus.CANCELLED, "CANCELLED"),
    "canceled": (OrderStatus.CANCELLED, "CANCELLED"),
    "shipped - delivered to buyer": (OrderStatus.DELIVERED, "SHIPPED"),
    "shipped - returned to seller": (OrderStatus.RETURNED, "SHIPPED"),
    "shipped - returning to seller": (OrderStatus.RETURNED, "SHIPPED"),
}
_REPORT_CHANNEL = {"amazon": "AMAZON", "merchant": "MERCHANT"}
_REPORT_ADDRESS = {
    "ship-city": "city",
    "ship-state": "stateOrRegion",
    "ship-postal-code": "postalCode",
    "ship-country": "countryCode",
}


def _report_status(word: str) -> tuple[OrderStatus, str]:
    key = word.strip().lower()
    if key in _REPORT_STATUS:
        return _REPORT_STATUS[key]
    if key.startswith("shipped") or key == "complete":
        return OrderStatus.SHIPPED, "SHIPPED"
    return OrderStatus.PENDING, word.strip().upper() or "PENDING"


def _decimal(text: str | None) -> Decimal | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return Decimal(text)
    except ArithmeticError:
        raise ReportLineError(f"not an amount: {text[:20]!r}") from None


def _report_time(text: str | None) -> datetime:
    try:
        moment = datetime.fromisoformat((text or "").strip())
    except ValueError:
        raise ReportLineError(f"not a date-time: {(text or '')[:40]!r}") from None
    if moment.tzinfo is None:
        raise ReportLineError("date-time without a zone")
    return moment


def report_order_row(lines: list[dict[str, str]], marketplace_id: str | None) -> OrderRow:
    """The item lines of one order (same ``amazon-order-id``, in file order) → our row.

    ``marketplace_id``: the one the report was asked for (the file does not name it)."""
    first = lines[0]
    order_id = first.get("amazon-order-id", "").strip()
    if not is_amazon_order_id(order_id):
        raise ReportLineError(f"not an Amazon order id: {order_id[:30]!r}")
    status, amazon_status = _report_status(first.get("order-status", ""))
    items: list[ItemRow] = []
    seen: dict[str, int] = {}
    line_totals: list[Decimal | None] = []
    for line in lines:
        quantity = int((line.get("quantity") or "0").strip() or 0)
        price, shipping = _decimal(line.get("item-price")), _decimal(line.get("shipping-price"))
        currency = (line.get("currency") or "").strip() or None
        line_totals.append(None if price is None or currency is None else price + (shipping or 0))
        key = (line.get("sku") or line.get("asin") or "").strip()
        seen[key] = seen.get(key, 0) + 1
        items.append(
            ItemRow(
                external_item_id=f"{REPORT_ITEM_PREFIX}{key}:{seen[key]}",
                sku=(line.get("sku") or "").strip() or None,
                asin=(line.get("asin") or "").strip() or None,
                title=(line.get("product-name") or "").strip() or None,
                quantity=quantity,
                # item-price is the line's price (quantity × unit), as in Amazon's file.
                unit_price=(price / quantity).quantize(CENT)
                if price is not None and quantity and currency
                else None,
                currency=currency if price is not None and quantity else None,
            )
        )
    # A total only when every line has one: Amazon withholds pending/cancelled prices.
    complete = status not in (OrderStatus.PENDING, OrderStatus.CANCELLED) and all(
        t is not None for t in line_totals
    )
    total = sum((t for t in line_totals if t is not None), Decimal(0)) if complete else None
    address = {
        field: value.strip()
        for column, field in _REPORT_ADDRESS.items()
        if (value := first.get(column) or "").strip()
    }
    return new_order_row(
        order_id,
        status,
        amazon_status,
        marketplace_id=marketplace_id,
        order_date=_report_time(first.get("purchase-date")),
        amazon_updated_at=_report_time(first.get("last-updated-date")),
        items=items,
        currency=(first.get("currency") or "").strip() or None if total is not None else None,
        total_amount=total,
        fulfillment_channel=_REPORT_CHANNEL.get(
            (first.get("fulfillment-channel") or "").strip().lower()
        ),
        shipping_address=address or None,
    )


# --- Orders v0 (the fallback when Orders 2026-01-01 is refused) ----------------------------
#
# v0 without a Restricted Data Token has no buyer, no full address (where the parcel
# goes, not to whom) and no packages: like report rows, these rows are stored as
# source REPORT, never erase what an API read stored, and getOrder completes them.

# v0 OrderStatus → (ours, the 2026-01-01 word kept in amazon_status, as every source does).
V0_STATUS = {
    "PendingAvailability": (OrderStatus.PENDING, "PENDING_AVAILABILITY"),
    "Pending": (OrderStatus.PENDING, "PENDING"),
    "Unshipped": (OrderStatus.CONFIRMED, "UNSHIPPED"),
    "PartiallyShipped": (OrderStatus.CONFIRMED, "PARTIALLY_SHIPPED"),
    "InvoiceUnconfirmed": (OrderStatus.CONFIRMED, "UNSHIPPED"),  # shipped once invoiced
    "Shipped": (OrderStatus.SHIPPED, "SHIPPED"),
    "Canceled": (OrderStatus.CANCELLED, "CANCELLED"),
    "Unfulfillable": (OrderStatus.CANCELLED, "UNFULFILLABLE"),
}
V0_CHANNEL = {"AFN": "AMAZON", "MFN": "MERCHANT"}


def v0_order_row(order: V0Order, items: list[V0OrderItem]) -> OrderRow:
    status, amazon_status = V0_STATUS.get(
        order.OrderStatus, (OrderStatus.PENDING, order.OrderStatus.upper())
    )
    total = order.OrderTotal
    address = order.ShippingAddress
    return new_order_row(
        order.AmazonOrderId,
        status,
        amazon_status,
        marketplace_id=order.MarketplaceId,
        order_date=order.PurchaseDate,
        amazon_updated_at=order.LastUpdateDate,
        items=[_v0_item_row(item) for item in items],
        # No buyer: v0 buyer data needs an RDT.
        currency=total.CurrencyCode if total else None,
        total_amount=total.Amount if total else None,
        fulfillment_channel=V0_CHANNEL.get(order.FulfillmentChannel or ""),
        ship_by=order.LatestShipDate,
        # The same camelCase keys as the 2026-01-01 address (CustomerAddress).
        shipping_address={_camel(k): v for k, v in msgspec.to_builtins(address).items()}
        if address
        else None,
    )


def _v0_item_row(item: V0OrderItem) -> ItemRow:
    price = item.ItemPrice
    quantity = item.QuantityOrdered
    unit = (price.Amount / quantity).quantize(CENT) if price and quantity else None
    return ItemRow(
        external_item_id=item.OrderItemId,
        sku=item.SellerSKU,
        asin=item.ASIN,
        title=item.Title,
        quantity=quantity,
        unit_price=unit,
        currency=price.CurrencyCode if unit is not None and price else None,
    )


def _camel(pascal: str) -> str:
    return pascal[:1].lower() + pascal[1:]


def connector_order_row(order: ConnectorOrder, marketplace_id: str | None) -> OrderRow:
    """An order of a marketplace behind the connector seam (Fnac, Darty): its connector
    mapped its states into our vocabulary; its own word is kept in ``amazon_status``."""
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
        amazon_updated_at=order.updated_at,
        order_status=OrderStatus(order.status),
        amazon_status=order.state,
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
    )
