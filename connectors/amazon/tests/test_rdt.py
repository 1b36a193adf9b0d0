"""Restricted data: buyer name, e-mail and address only with a Restricted Data Token."""

from __future__ import annotations

import pytest
from keybuzz_sandbox import SandboxConfig
from sandbox_helpers import FR, HeldClock, all_orders_v0, connect, headers, iso_ago

pytestmark = pytest.mark.asyncio  # explicit, whatever asyncio_mode the root config sets

RDT = "/tokens/2021-03-01/restrictedDataToken"


async def _rdt(client, token: str, *resources: dict) -> str:
    response = await client.post(
        RDT, headers=headers(token), json={"restrictedResources": list(resources)}
    )
    assert response.status_code == 200, response.text
    return response.json()["restrictedDataToken"]


async def _some_order(client, token: str) -> dict:
    orders = await all_orders_v0(client, token, CreatedAfter=iso_ago(days=20))
    return next(o for o in orders if o["OrderStatus"] == "Shipped")


async def test_pii_is_withheld_without_rdt(client) -> None:
    token = (await connect(client))["access_token"]
    order = await _some_order(client, token)
    assert "BuyerInfo" not in order
    assert set(order["ShippingAddress"]) == {"City", "StateOrRegion", "PostalCode", "CountryCode"}
    for suffix in ("buyerInfo", "address"):
        denied = await client.get(
            f"/orders/v0/orders/{order['AmazonOrderId']}/{suffix}", headers=headers(token)
        )
        assert denied.status_code == 403 and denied.json()["errors"][0]["code"] == "Unauthorized"


async def test_rdt_opens_the_paths_it_covers_only(client) -> None:
    token = (await connect(client))["access_token"]
    orders = await all_orders_v0(client, token, CreatedAfter=iso_ago(days=20))
    first, second = orders[0]["AmazonOrderId"], orders[1]["AmazonOrderId"]
    rdt = await _rdt(
        client,
        token,
        {"method": "GET", "path": f"/orders/v0/orders/{first}/buyerInfo"},
        {"method": "GET", "path": "/orders/v0/orders/{orderId}/address"},
    )
    buyer = await client.get(f"/orders/v0/orders/{first}/buyerInfo", headers=headers(rdt))
    assert buyer.status_code == 200
    info = buyer.json()["payload"]
    assert info["BuyerEmail"].endswith("@marketplace.amazon.fr") and info["BuyerName"]
    address = await client.get(f"/orders/v0/orders/{second}/address", headers=headers(rdt))
    assert (
        address.status_code == 200 and address.json()["payload"]["ShippingAddress"]["AddressLine1"]
    )
    other = await client.get(f"/orders/v0/orders/{second}/buyerInfo", headers=headers(rdt))
    assert other.status_code == 403
    not_covered = await client.get(f"/orders/v0/orders/{first}", headers=headers(rdt))
    assert not_covered.status_code == 403


async def test_rdt_with_data_elements_adds_pii_to_listings(client) -> None:
    token = (await connect(client))["access_token"]
    rdt = await _rdt(
        client,
        token,
        {
            "method": "GET",
            "path": "/orders/v0/orders",
            "dataElements": ["buyerInfo", "shippingAddress"],
        },
    )
    orders = (
        await client.get(
            "/orders/v0/orders",
            headers=headers(rdt),
            params={"MarketplaceIds": FR, "CreatedAfter": iso_ago(days=20)},
        )
    ).json()["payload"]["Orders"]
    shipped = [o for o in orders if o["OrderStatus"] == "Shipped"]
    assert all(o["BuyerInfo"]["BuyerEmail"] and o["ShippingAddress"]["Name"] for o in shipped)


async def test_rdt_requests_are_validated(client) -> None:
    token = (await connect(client))["access_token"]
    bad = [
        {
            "restrictedResources": [{"method": "GET", "path": "/orders/v0/orders"}]
        },  # needs dataElements
        {"restrictedResources": [{"method": "GET", "path": "/catalog/v0/items"}]},
        {
            "restrictedResources": [{"method": "PATCH", "path": "/orders/v0/orders"}]
        },  # not in the model's enum
        {"restrictedResources": []},
        {},
    ]
    for body in bad:
        response = await client.post(RDT, headers=headers(token), json=body)
        assert (
            response.status_code == 400 and response.json()["errors"][0]["code"] == "InvalidInput"
        ), body


async def test_rdt_expires_with_scaled_time(make_client) -> None:
    client = await make_client(SandboxConfig(time_scale=60))  # 3600 s -> 60 real s
    clock = HeldClock(client)
    token = (await connect(client))["access_token"]
    order = await _some_order(client, token)
    buyer_info = f"/orders/v0/orders/{order['AmazonOrderId']}/buyerInfo"
    response = await client.post(
        RDT,
        headers=headers(token),
        json={
            "restrictedResources": [
                {"method": "GET", "path": "/orders/v0/orders/{orderId}/buyerInfo"}
            ]
        },
    )
    assert response.json()["expiresIn"] == 60
    rdt = response.json()["restrictedDataToken"]
    clock.advance(59)
    assert (await client.get(buyer_info, headers=headers(rdt))).status_code == 200
    clock.advance(2)
    expired = await client.get(buyer_info, headers=headers(rdt))
    assert expired.status_code == 403 and "expired" in expired.json()["errors"][0]["details"]
