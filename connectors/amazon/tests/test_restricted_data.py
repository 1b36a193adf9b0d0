"""Restricted data as Amazon grants it: by the application's roles and the order's
state (Orders 2026-01-01 without RDT; Orders v0 without one, as our connector reads it:
no buyer, only where the parcel goes)."""

from __future__ import annotations

from typing import Any

import pytest
from keybuzz_double_amazon.env import AmazonDoubleSettings
from keybuzz_sandbox import SandboxConfig
from sandbox_helpers import DE, DE_SELLER, all_orders_v0, connect, iso_ago, spapi_get

pytestmark = pytest.mark.asyncio  # explicit, whatever asyncio_mode the root config sets

SEARCH = "/orders/2026-01-01/orders"
PII_STATUSES = {"UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED"}


async def _search(client, token: str, **params: str) -> list[dict[str, Any]]:
    first = {"maxResultsPerPage": "100", **params}
    query, orders = first, []
    while True:
        response = await spapi_get(client, SEARCH, token, query)
        assert response.status_code == 200, response.text
        body = response.json()
        orders.extend(body["orders"])
        if "pagination" not in body:
            return orders
        query = {**first, "paginationToken": body["pagination"]["nextToken"]}


def _kind(order: dict[str, Any]) -> tuple[str, str]:
    return order["fulfillment"]["fulfilledBy"], order["fulfillment"]["fulfillmentStatus"]


async def test_orders_2026_shows_pii_by_role_without_rdt(make_client) -> None:
    client = await make_client(SandboxConfig(time_scale=1))  # statuses hold still
    token = (await connect(client, DE_SELLER))["access_token"]
    orders = await _search(
        client, token, createdAfter=iso_ago(hours=24), includedData="BUYER,RECIPIENT,FULFILLMENT"
    )
    kinds = {_kind(o) for o in orders}
    assert ("MERCHANT", "SHIPPED") in kinds and any(c == "AMAZON" for c, _ in kinds)
    assert any(s == "PENDING" for _, s in kinds)
    for order in orders:
        channel, status = _kind(order)
        buyer, address = order.get("buyer", {}), order["recipient"]["deliveryAddress"]
        # Default roles (Direct-to-Consumer Shipping): PII of merchant orders being fulfilled.
        visible = channel == "MERCHANT" and status in PII_STATUSES
        assert ("buyerEmail" in buyer) is visible, order
        assert ("buyerName" in buyer) is visible, order
        assert ("name" in address and "postalCode" in address) is visible, order
        assert address["countryCode"] == "DE" and address["city"]


async def test_orders_2026_pii_follows_configured_roles(make_client) -> None:
    client = await make_client(
        SandboxConfig(
            time_scale=1,
            doubles=(
                AmazonDoubleSettings(app_roles=("inventory-and-order-tracking", "tax-remittance")),
            ),
        )
    )
    token = (await connect(client, DE_SELLER))["access_token"]
    orders = await _search(
        client, token, createdAfter=iso_ago(hours=24), includedData="BUYER,RECIPIENT,FULFILLMENT"
    )
    for order in orders:
        channel, status = _kind(order)
        buyer = order.get("buyer", {})
        assert "buyerEmail" not in buyer  # e-mail needs Direct-to-Consumer Shipping
        assert ("buyerName" in buyer) is (status in PII_STATUSES)  # tax roles: any channel
        assert "name" not in order["recipient"]["deliveryAddress"]
    assert any(_kind(o)[0] == "AMAZON" and "buyerName" in o.get("buyer", {}) for o in orders)


async def test_v0_shows_what_the_order_state_allows(make_client) -> None:
    client = await make_client(SandboxConfig(time_scale=1))
    token = (await connect(client, DE_SELLER))["access_token"]
    orders = await all_orders_v0(
        client, token, MarketplaceIds=DE, CreatedAfter=iso_ago(hours=24), MaxResultsPerPage="100"
    )
    pending = [o for o in orders if o["OrderStatus"] == "Pending"]
    assert pending and all(
        not {"ShippingAddress", "BuyerInfo", "OrderTotal"} & o.keys() for o in pending
    )
    live = [o for o in orders if o["OrderStatus"] in ("Unshipped", "Shipped")]
    for order in live:  # where the parcel goes, not to whom
        address = order["ShippingAddress"]
        assert address["City"] and address["CountryCode"] == "DE", order
        assert not {"Name", "AddressLine1", "Phone"} & address.keys() and "BuyerInfo" not in order
    assert {o["FulfillmentChannel"] for o in live} == {"AFN", "MFN"}
    items = await spapi_get(
        client, f"/orders/v0/orders/{pending[0]['AmazonOrderId']}/orderItems", token
    )
    for item in items.json()["payload"]["OrderItems"]:
        assert not {"ItemPrice", "ItemTax", "ShippingPrice", "PromotionIds", "IsGift"} & item.keys()
        assert item["QuantityOrdered"] >= 1
