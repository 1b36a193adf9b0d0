"""Amazon's orders as KeyBuzz stores them (``keybuzz_shared.connectors.orders.OrderRow``):
from Orders 2026-01-01 (``Order``, its items and packages), from a line group of the orders
report's flat file, and from Orders v0. Pure mappings, no I/O.

What Amazon withholds (buyer data by role and status, totals of pending or cancelled
orders, prices of cancelled items) becomes ``None``: a cancelled order with
zero-quantity items is an ordinary order, not an error. Amazon's own word for the state
is kept in ``marketplace_status`` (the 2026-01-01 word, whatever the source).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import msgspec
from keybuzz_shared.connectors.orders import (
    DeliveryStatus,
    ItemRow,
    OrderRow,
    OrderStatus,
    delivery_of,
    new_order_row,
)

from keybuzz_connector_amazon.ids import is_amazon_order_id
from keybuzz_connector_amazon.orders_v0 import V0Order, V0OrderItem
from keybuzz_connector_amazon.spapi import Order, OrderItem, OrderPackage

# Orders 2026-01-01 FulfillmentStatus → ours. Amazon's word is kept in marketplace_status.
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
        marketplace_updated_at=order.last_updated_time,
        items=[_item_row(item) for item in order.order_items],
        delivery_status=delivery_status(status, package),
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
    """The latest package's word when it has one, else what the status implies."""
    if package and package.package_status:
        return _DELIVERY_STATUS.get(package.package_status.status)
    return delivery_of(status)


def _ship_by(order: Order) -> datetime | None:
    window = order.fulfillment.ship_by_window if order.fulfillment else None
    return window.latest_date_time if window else None


# --- the orders report (GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL) ------------------
#
# One line per item, columns read by name. The flat file has no buyer, no full address,
# no packages (carrier, tracking) and no ship-by date: rows built from it are marked
# source REPORT, and those fields stay NULL until an API read of the order fills them.

CENT = Decimal("0.01")
REPORT_ITEM_PREFIX = "report:"  # the flat file has no order item id: ours until the API's


class ReportLineError(ValueError):
    """A report line we cannot read (missing id or date): one counted error."""


# The flat file's status words → (ours, Amazon's API word kept in marketplace_status).
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
        marketplace_updated_at=_report_time(first.get("last-updated-date")),
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

# v0 OrderStatus → (ours, the 2026-01-01 word kept in marketplace_status, as every source does).
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
        marketplace_updated_at=order.LastUpdateDate,
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
