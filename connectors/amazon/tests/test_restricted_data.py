"""Restricted data as Amazon grants it: by the application's roles and the order's
state (Orders 2026-01-01 without RDT; Orders v0 with RDTs limited to the roles)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from keybuzz_double_amazon.env import AmazonDoubleSettings
from keybuzz_sandbox import SandboxConfig
from sandbox_helpers import DE, DE_SELLER, FR, all_orders_v0, connect, headers, iso_ago, spapi_get

pytestmark = pytest.mark.asyncio  # explicit, whatever asyncio_mode the root config sets

RDT = "/tokens/2021-03-01/restrictedDataToken"
SEARCH = "/orders/2026-01-01/orders"
NO_ACCESS = "Application does not have access to one or more requested data elements"
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


async def _rdt(client, token: str, *resources: dict) -> Any:
    return await client.post(
        RDT, headers=headers(token), json={"restrictedResources": list(resources)}
    )


def _kind(order: dict[str, Any]) -> tuple[str, str]:
    return order["fulfillment"]["fulfilledBy"], order["fulfillment"]["fulfillmentStatus"]


async def test_orders_2026_needs_no_rdt_and_amazon_issues_none(make_client) -> None:
    client = await make_client(SandboxConfig(time_scale=1))  # statuses hold still
    token = (await connect(client, DE_SELLER))["access_token"]
    refused = await _rdt(
        client, token, {"method": "GET", "path": SEARCH, "dataElements": ["buyerInfo"]}
    )
    assert refused.status_code == 400 and refused.json()["errors"][0]["code"] == "InvalidInput"
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


async def test_rdt_for_data_elements_the_roles_do_not_cover_is_refused(make_client) -> None:
    client = await make_client(
        SandboxConfig(doubles=(AmazonDoubleSettings(app_roles=("inventory-and-order-tracking",)),))
    )
    token = (await connect(client))["access_token"]
    for resource in (
        {"method": "GET", "path": "/orders/v0/orders", "dataElements": ["shippingAddress"]},
        {"method": "GET", "path": "/orders/v0/orders/{orderId}/buyerInfo"},
    ):
        refused = await _rdt(client, token, resource)
        assert refused.status_code == 400
        assert refused.json()["errors"][0] == {
            "code": "InvalidInput",
            "message": NO_ACCESS,
            "details": "",
        }
    default = await make_client()  # Direct-to-Consumer Shipping, no tax roles
    token = (await connect(default))["access_token"]
    tax = {"method": "GET", "path": "/orders/v0/orders", "dataElements": ["buyerTaxInformation"]}
    assert (await _rdt(default, token, tax)).json()["errors"][0]["message"] == NO_ACCESS


async def _v0_with_rdt(client, token: str, **params: str) -> list[dict[str, Any]]:
    rdt = await _rdt(
        client,
        token,
        {
            "method": "GET",
            "path": "/orders/v0/orders",
            "dataElements": ["buyerInfo", "shippingAddress"],
        },
    )
    assert rdt.status_code == 200, rdt.text
    return await all_orders_v0(client, rdt.json()["restrictedDataToken"], **params)


async def test_v0_shows_what_the_order_state_allows(make_client) -> None:
    client = await make_client(SandboxConfig(time_scale=1))
    token = (await connect(client, DE_SELLER))["access_token"]
    orders = await _v0_with_rdt(
        client, token, MarketplaceIds=DE, CreatedAfter=iso_ago(hours=24), MaxResultsPerPage="100"
    )
    pending = [o for o in orders if o["OrderStatus"] == "Pending"]
    assert pending and all(
        not {"ShippingAddress", "BuyerInfo", "OrderTotal"} & o.keys() for o in pending
    )
    live = [o for o in orders if o["OrderStatus"] in ("Unshipped", "Shipped")]
    for order in live:
        address = order["ShippingAddress"]
        assert address["Name"] and order["BuyerInfo"]["BuyerEmail"]
        # Phone: never for Amazon-fulfilled orders; these are all before LatestDeliveryDate.
        assert ("Phone" in address) is (order["FulfillmentChannel"] == "MFN"), order
    assert {o["FulfillmentChannel"] for o in live} == {"AFN", "MFN"}
    items = await spapi_get(
        client, f"/orders/v0/orders/{pending[0]['AmazonOrderId']}/orderItems", token
    )
    for item in items.json()["payload"]["OrderItems"]:
        assert not {"ItemPrice", "ItemTax", "ShippingPrice", "PromotionIds", "IsGift"} & item.keys()
        assert item["QuantityOrdered"] >= 1


async def test_v0_phone_is_suppressed_after_the_latest_delivery_date(client) -> None:
    token = (await connect(client))["access_token"]
    orders = await _v0_with_rdt(
        client,
        token,
        MarketplaceIds=FR,
        CreatedAfter=iso_ago(days=40),
        CreatedBefore=iso_ago(days=8),
    )
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    shipped = [
        o for o in orders if o["OrderStatus"] == "Shipped" and o["FulfillmentChannel"] == "MFN"
    ]
    assert shipped and all(o["LatestDeliveryDate"] < now for o in shipped)
    assert all(
        o["ShippingAddress"]["Name"] and "Phone" not in o["ShippingAddress"] for o in shipped
    )
