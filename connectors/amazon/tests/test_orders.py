"""Orders v0 and 2026-01-01 over the seeded sellers."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest
from keybuzz_double_amazon.env import AmazonDoubleSettings
from keybuzz_sandbox import SandboxConfig
from sandbox_helpers import (
    DE,
    DE_SELLER,
    FR,
    FR_SELLER,
    all_orders_v0,
    connect,
    headers,
    iso_ago,
    lwa,
    spapi_get,
)

pytestmark = pytest.mark.asyncio  # explicit, whatever asyncio_mode the root config sets

ORDER_ID = re.compile(r"^\d{3}-\d{7}-\d{7}$")


async def _token(client, seller: str = FR_SELLER) -> str:
    return (await connect(client, seller))["access_token"]


async def _items(client, token: str, order_id: str) -> list[dict]:
    items, params = [], {}
    while True:
        response = await spapi_get(
            client, f"/orders/v0/orders/{order_id}/orderItems", token, params
        )
        assert response.status_code == 200, response.text
        payload = response.json()["payload"]
        assert payload["AmazonOrderId"] == order_id
        items.extend(payload["OrderItems"])
        if "NextToken" not in payload:
            return items
        params = {"NextToken": payload["NextToken"]}


async def test_fr_seller_has_94_orders_in_90_days_6_cancelled_with_zero_quantities(client) -> None:
    token = await _token(client)
    orders = await all_orders_v0(client, token, CreatedAfter=iso_ago(days=90))
    assert len(orders) == 94
    assert len({o["AmazonOrderId"] for o in orders}) == 94
    assert all(ORDER_ID.match(o["AmazonOrderId"]) for o in orders)
    statuses = Counter(o["OrderStatus"] for o in orders)
    assert statuses["Canceled"] == 6 and statuses["Shipped"] > 80
    assert {o["MarketplaceId"] for o in orders} == {FR} and {o["SalesChannel"] for o in orders} == {
        "Amazon.fr"
    }
    for order in orders:
        quantities = [
            i["QuantityOrdered"] for i in await _items(client, token, order["AmazonOrderId"])
        ]
        if order["OrderStatus"] == "Canceled":
            assert quantities and set(quantities) == {0}
            assert "OrderTotal" not in order
        else:
            assert min(quantities) >= 1
            assert order["OrderTotal"]["CurrencyCode"] == "EUR"


async def test_pagination_is_complete_and_stable(client) -> None:
    token = await _token(client)
    whole = await all_orders_v0(client, token, CreatedAfter=iso_ago(days=90))
    paged = await all_orders_v0(
        client, token, CreatedAfter=iso_ago(days=90), MaxResultsPerPage="10"
    )
    assert [o["AmazonOrderId"] for o in paged] == [o["AmazonOrderId"] for o in whole]
    first = await client.get(
        "/orders/v0/orders",
        params={"MarketplaceIds": FR, "CreatedAfter": iso_ago(days=90), "MaxResultsPerPage": "10"},
        headers=headers(token),
    )
    payload = first.json()["payload"]
    assert len(payload["Orders"]) == 10 and payload["NextToken"] and payload["CreatedBefore"]


async def test_orders_are_bound_to_the_tokens_seller(client) -> None:
    fr_token, de_token = await _token(client), await _token(client, DE_SELLER)
    fr_orders = await all_orders_v0(client, fr_token, CreatedAfter=iso_ago(days=10))
    order_id = fr_orders[0]["AmazonOrderId"]
    assert (
        await client.get(f"/orders/v0/orders/{order_id}", headers=headers(fr_token))
    ).status_code == 200
    foreign = await client.get(f"/orders/v0/orders/{order_id}", headers=headers(de_token))
    assert foreign.status_code == 404 and foreign.json()["errors"][0]["code"] == "NotFound"
    assert (
        await client.get(f"/orders/2026-01-01/orders/{order_id}", headers=headers(de_token))
    ).status_code == 404
    de_view = await client.get(
        "/orders/v0/orders",
        params={"MarketplaceIds": FR, "CreatedAfter": iso_ago(days=10)},
        headers=headers(de_token),
    )
    assert de_view.json()["payload"]["Orders"] == []


async def test_order_items_paginate_with_next_token(client) -> None:
    token = await _token(client)
    orders = await all_orders_v0(client, token, CreatedAfter=iso_ago(days=90))
    bulk = next(o for o in orders if o["IsBusinessOrder"] and o["OrderStatus"] != "Canceled")
    first = await client.get(
        f"/orders/v0/orders/{bulk['AmazonOrderId']}/orderItems", headers=headers(token)
    )
    assert (
        len(first.json()["payload"]["OrderItems"]) == 20 and "NextToken" in first.json()["payload"]
    )
    items = await _items(client, token, bulk["AmazonOrderId"])
    assert len(items) > 20 and len({i["OrderItemId"] for i in items}) == len(items)
    assert bulk["NumberOfItemsShipped"] + bulk["NumberOfItemsUnshipped"] == sum(
        i["QuantityOrdered"] for i in items
    )


async def test_advance_moves_lifecycle_and_incremental_sync_sees_it(make_client) -> None:
    # Real-time scale: nothing moves on its own during the test, only the advance does.
    # No listing lag here (see test_listing_lag.py for it): the advance is seen at once.
    client = await make_client(
        SandboxConfig(time_scale=1, doubles=(AmazonDoubleSettings(listing_lag_seconds=0),))
    )
    token = await _token(client)
    before = {
        o["AmazonOrderId"]: o
        for o in await all_orders_v0(client, token, CreatedAfter=iso_ago(days=10))
    }
    await asyncio.sleep(
        1.1
    )  # timestamps have whole seconds: the cursor must be after every existing update
    cursor = iso_ago(seconds=0)
    assert (await all_orders_v0(client, token, LastUpdatedAfter=cursor)) == []
    advanced = await client.post(
        f"/_sandbox/sellers/{FR_SELLER}/advance", json={"seconds": 3 * 86400}
    )
    summary = advanced.json()
    assert (
        advanced.status_code == 200
        and len(summary["newOrderIds"]) >= 2
        and summary["updatedOrderIds"]
    )
    changed = await all_orders_v0(client, token, LastUpdatedAfter=cursor)
    changed_ids = {o["AmazonOrderId"] for o in changed}
    assert changed_ids == set(summary["newOrderIds"]) | set(summary["updatedOrderIds"])
    assert all(o["LastUpdateDate"] >= cursor for o in changed)
    moved = [o for o in changed if o["AmazonOrderId"] in before]
    assert moved and all(
        o["OrderStatus"] != before[o["AmazonOrderId"]]["OrderStatus"] for o in moved
    )
    response = await client.get(
        "/orders/v0/orders",
        params={"MarketplaceIds": FR, "LastUpdatedAfter": cursor},
        headers=headers(token),
    )
    assert "LastUpdatedBefore" in response.json()["payload"]


async def test_new_orders_appear_as_scaled_time_passes(make_client) -> None:
    client = await make_client(SandboxConfig(time_scale=2000))  # 1 real second = 33 virtual minutes
    token = await _token(
        client, DE_SELLER
    )  # the bench seller gets an order every ~13 virtual minutes
    since = iso_ago(seconds=0)
    await asyncio.sleep(1.0)
    fresh = await all_orders_v0(client, token, CreatedAfter=since, MarketplaceIds=DE)
    assert len(fresh) >= 1 and all(o["PurchaseDate"] >= since for o in fresh)


async def test_v0_and_2026_describe_the_same_orders(client) -> None:
    token = await _token(client)
    since = iso_ago(days=30)
    v0 = {o["AmazonOrderId"]: o for o in await all_orders_v0(client, token, CreatedAfter=since)}
    first = {
        "createdAfter": since,
        "includedData": "FULFILLMENT,PROCEEDS",
        "maxResultsPerPage": "7",
    }
    found, params = {}, first
    while True:
        response = await client.get(
            "/orders/2026-01-01/orders", params=params, headers=headers(token)
        )
        body = response.json()
        found.update({o["orderId"]: o for o in body["orders"]})
        if "pagination" not in body:
            break
        # As the model wants: the same parameters again, plus the token.
        params = {**first, "paginationToken": body["pagination"]["nextToken"]}
    assert found.keys() == v0.keys()
    status = {
        "Shipped": "SHIPPED",
        "Unshipped": "UNSHIPPED",
        "Pending": "PENDING",
        "Canceled": "CANCELLED",
    }
    for order_id, new in found.items():
        old = v0[order_id]
        assert (new["createdTime"], new["lastUpdatedTime"]) == (
            old["PurchaseDate"],
            old["LastUpdateDate"],
        )
        assert new["fulfillment"]["fulfillmentStatus"] == status[old["OrderStatus"]]
        assert "fulfillment" in new["orderItems"][0]  # includedData re-sent on every page
        if "OrderTotal" in old:
            assert new["proceeds"]["grandTotal"]["amount"] == old["OrderTotal"]["Amount"]
    sample = next(iter(v0))
    items = {i["OrderItemId"]: i for i in await _items(client, token, sample)}
    single = (
        await client.get(f"/orders/2026-01-01/orders/{sample}", headers=headers(token))
    ).json()["order"]
    for item in single["orderItems"]:
        assert items[item["orderItemId"]]["QuantityOrdered"] == item["quantityOrdered"]
        assert items[item["orderItemId"]]["SellerSKU"] == item["product"]["sellerSku"]


async def test_2026_datasets_only_when_included(client) -> None:
    token = await _token(client)
    plain = await client.get(
        "/orders/2026-01-01/orders",
        params={"createdAfter": iso_ago(days=20)},
        headers=headers(token),
    )
    order = plain.json()["orders"][0]
    assert (
        "orderItems" in order
        and not {"buyer", "recipient", "packages", "fulfillment"} & order.keys()
    )
    rich = await client.get(
        "/orders/2026-01-01/orders",
        headers=headers(token),
        params={"createdAfter": iso_ago(days=20), "includedData": "PACKAGES,RECIPIENT,BUYER"},
    )
    shipped = [o for o in rich.json()["orders"] if "packages" in o]
    assert shipped and all(o["packages"][0]["packageItems"] for o in shipped)
    assert all("deliveryAddress" in o["recipient"] for o in rich.json()["orders"])


async def test_invalid_requests_get_invalid_input(client) -> None:
    token = await _token(client)
    day = iso_ago(days=1)
    cases = [
        ("/orders/v0/orders", {"CreatedAfter": iso_ago(days=1)}),  # MarketplaceIds is required
        ("/orders/v0/orders", {"MarketplaceIds": FR}),
        ("/orders/v0/orders", {"MarketplaceIds": FR, "CreatedAfter": "yesterday"}),
        (
            "/orders/v0/orders",
            {"MarketplaceIds": FR, "CreatedAfter": day, "CreatedBefore": iso_ago(seconds=0)},
        ),
        ("/orders/v0/orders", {"MarketplaceIds": FR, "CreatedAfter": day, "LastUpdatedAfter": day}),
        (
            "/orders/v0/orders",
            {"MarketplaceIds": FR, "CreatedAfter": iso_ago(days=1), "MaxResultsPerPage": "101"},
        ),
        (
            "/orders/v0/orders",
            {"MarketplaceIds": "A13V1IB3VIYZZHFR", "CreatedAfter": iso_ago(days=1)},
        ),
        ("/orders/v0/orders", {"MarketplaceIds": FR, "NextToken": "forged"}),
        (
            "/orders/2026-01-01/orders",
            {"createdAfter": iso_ago(days=1), "includedData": "EVERYTHING"},
        ),
        ("/orders/2026-01-01/orders", {"marketplaceIds": FR}),
    ]
    for path, params in cases:
        response = await client.get(path, params=params, headers=headers(token))
        assert response.status_code == 400, (path, params, response.text)
        assert response.json()["errors"][0]["code"] == "InvalidInput"


async def test_bench_seller_has_10000_orders_and_paginates_cheaply(make_client, contract) -> None:
    # 100 pages at 0.0167/s take ~1 real second at this scale; the schema check of
    # every page is left to the other tests (it would dominate the run time).
    client = await make_client(SandboxConfig(time_scale=5000), contract=False)
    anchor = (await client.get("/_sandbox/config")).json()["anchor"]
    tokens = await connect(client, DE_SELLER)
    token = tokens["access_token"]
    # Cheap in CPU, this process's (the double answers in it): a busy machine stretches the
    # wall clock, not what the paging costs.
    started = time.process_time()
    # CreatedBefore is inclusive, in whole seconds: the last second before the anchor, since
    # at this scale the anchor's own second holds orders placed after it.
    before_anchor = datetime.fromisoformat(anchor) - timedelta(seconds=1)
    params = {
        "MarketplaceIds": DE,
        "CreatedAfter": "2020-01-01T00:00:00Z",
        "CreatedBefore": before_anchor.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    count, seen = 0, set()
    while True:
        response = await spapi_get(client, "/orders/v0/orders", token, params)
        if (
            response.status_code == 403
        ):  # the backfill outlives the access token (as on Amazon): refresh
            refreshed = await lwa(
                client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
            )
            token = refreshed.json()["access_token"]
            continue
        assert response.status_code == 200, response.text
        if not seen:
            contract.check("GET", "/orders/v0/orders", 200, response.json())
        payload = response.json()["payload"]
        count += len(payload["Orders"])
        seen.update(o["AmazonOrderId"] for o in payload["Orders"][:1])
        if "NextToken" not in payload:
            break
        params = {"MarketplaceIds": DE, "NextToken": payload["NextToken"]}
    assert count == 10_000 and len(seen) == 100
    assert time.process_time() - started < 20
