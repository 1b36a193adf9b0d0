"""Amazon's order → our row (keybuzz_connector_amazon.order_rows): statuses and delivery,
the latest package's carrier, what Amazon withholds as None. Pure, no servers."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest
from keybuzz_connector_amazon import Order
from keybuzz_connector_amazon.order_rows import order_row
from keybuzz_orders.domain import DeliveryStatus, OrderStatus


def _order(
    status: str | None, packages: list[dict[str, object]] | None = None, **extra: object
) -> Order:
    body: dict[str, object] = {
        "orderId": "407-8949262-6149120",
        "createdTime": "2026-11-20T10:00:00Z",
        "lastUpdatedTime": "2026-11-21T10:00:00Z",
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": "A13V1IB3VIYZZH"},
        "orderItems": [{"orderItemId": "1", "quantityOrdered": 0, "product": {"sellerSku": "S"}}],
        **extra,
    }
    if status:
        body["fulfillment"] = {"fulfillmentStatus": status, "fulfilledBy": "MERCHANT"}
    if packages is not None:
        body["packages"] = packages
    return msgspec.json.decode(msgspec.json.encode(body), type=Order)


@pytest.mark.parametrize(
    ("amazon", "ours", "delivery"),
    [
        ("PENDING", OrderStatus.PENDING, None),
        ("PENDING_AVAILABILITY", OrderStatus.PENDING, None),
        ("UNSHIPPED", OrderStatus.CONFIRMED, DeliveryStatus.PREPARING),
        ("PARTIALLY_SHIPPED", OrderStatus.CONFIRMED, DeliveryStatus.PREPARING),
        ("SHIPPED", OrderStatus.SHIPPED, DeliveryStatus.SHIPPED),
        ("CANCELLED", OrderStatus.CANCELLED, None),
        ("UNFULFILLABLE", OrderStatus.CANCELLED, None),
        (None, OrderStatus.PENDING, None),
    ],
)
def test_statuses(amazon: str | None, ours: OrderStatus, delivery: DeliveryStatus | None) -> None:
    row = order_row(_order(amazon))
    assert (row.order_status, row.delivery_status, row.marketplace_status) == (
        ours,
        delivery,
        amazon,
    )


def test_a_delivered_package_makes_a_delivered_order_with_its_carrier() -> None:
    packages = [
        {
            "packageReferenceId": "1",
            "shipTime": "2026-11-20T12:00:00Z",
            "carrier": "DHL",
            "trackingNumber": "OLD",
            "packageStatus": {"status": "IN_TRANSIT"},
        },
        {
            "packageReferenceId": "2",
            "shipTime": "2026-11-21T12:00:00Z",
            "carrier": "Colissimo",
            "trackingNumber": "NEW",
            "packageStatus": {"status": "DELIVERED"},
        },
    ]
    row = order_row(_order("SHIPPED", packages))
    assert row.order_status is OrderStatus.DELIVERED
    assert row.delivery_status is DeliveryStatus.DELIVERED
    assert (row.carrier, row.tracking_code) == ("Colissimo", "NEW")
    assert row.shipped_at == datetime(2026, 11, 21, 12, tzinfo=UTC)


def test_what_amazon_withholds_is_none_not_an_error() -> None:
    row = order_row(_order("CANCELLED"))  # no buyer, no proceeds, item quantity 0, no price
    assert row.customer_name is row.customer_email is row.total_amount is row.currency is None
    assert row.shipping_address is None
    assert row.items[0].quantity == 0 and row.items[0].unit_price is None
    assert row.cancelled


def test_buyer_and_address_when_given() -> None:
    row = order_row(
        _order(
            "SHIPPED",
            buyer={"buyerName": "Camille", "buyerEmail": "x@marketplace.amazon.fr"},
            recipient={"deliveryAddress": {"city": "Lyon", "countryCode": "FR"}},
            proceeds={"grandTotal": {"amount": "391.84", "currencyCode": "EUR"}},
        )
    )
    assert (row.customer_name, row.customer_email) == ("Camille", "x@marketplace.amazon.fr")
    assert row.shipping_address == {"city": "Lyon", "countryCode": "FR"}
    assert str(row.total_amount) == "391.84" and row.currency == "EUR"
