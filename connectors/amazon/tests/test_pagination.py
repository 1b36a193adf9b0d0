"""Page tokens as in the models: searchOrders wants the first request's parameters
again, tokens expire, and tokens look like Amazon's (base64 with + / =)."""

from __future__ import annotations

import time

import pytest
from sandbox_helpers import FR, all_orders_v0, connect, headers, iso_ago

pytestmark = pytest.mark.asyncio  # explicit, whatever asyncio_mode the root config sets

SEARCH = "/orders/2026-01-01/orders"


async def _first_page(client, token: str, params: dict[str, str]) -> str:
    response = await client.get(SEARCH, params=params, headers=headers(token))
    assert response.status_code == 200, response.text
    return response.json()["pagination"]["nextToken"]


async def test_search_orders_token_needs_the_same_parameters_again(client) -> None:
    token = (await connect(client))["access_token"]
    first = {"createdAfter": iso_ago(days=60), "maxResultsPerPage": "5", "includedData": "BUYER"}
    next_token = await _first_page(client, token, first)
    bare = await client.get(SEARCH, params={"paginationToken": next_token}, headers=headers(token))
    assert bare.status_code == 400 and bare.json()["errors"][0]["code"] == "InvalidInput"
    other_window = {**first, "createdAfter": iso_ago(days=59), "paginationToken": next_token}
    changed = await client.get(SEARCH, params=other_window, headers=headers(token))
    assert changed.status_code == 400
    # maxResultsPerPage and includedData may change between pages.
    allowed = {
        "createdAfter": first["createdAfter"],
        "maxResultsPerPage": "7",
        "includedData": "FULFILLMENT",
        "paginationToken": next_token,
    }
    second = await client.get(SEARCH, params=allowed, headers=headers(token))
    assert second.status_code == 200, second.text
    orders = second.json()["orders"]
    assert len(orders) == 7 and all("fulfillment" in o and "buyer" not in o for o in orders)


async def test_search_orders_tokens_expire_after_24_hours(client) -> None:
    token = (await connect(client))["access_token"]
    first = {"createdAfter": iso_ago(days=60), "maxResultsPerPage": "5"}
    next_token = await _first_page(client, token, first)
    # Jump the sandbox's clock a (scaled) day ahead rather than wait for it.
    clock = client.app.state.sandbox.clock
    clock._now = lambda: time.time() + clock.real_duration(24 * 3600 + 60)
    token = (await connect(client))["access_token"]  # the access token expired too
    expired = await client.get(
        SEARCH, params={**first, "paginationToken": next_token}, headers=headers(token)
    )
    assert expired.status_code == 400 and "expired" in expired.json()["errors"][0]["message"]


async def test_next_tokens_must_be_url_encoded_as_on_amazon(client) -> None:
    token = (await connect(client))["access_token"]
    query = {"MarketplaceIds": FR, "CreatedAfter": iso_ago(days=60), "MaxResultsPerPage": "5"}
    first = await client.get("/orders/v0/orders", params=query, headers=headers(token))
    next_token = first.json()["payload"]["NextToken"]
    assert {"+", "/", "="} <= set(next_token)
    encoded = await client.get(
        "/orders/v0/orders",
        params={"MarketplaceIds": FR, "NextToken": next_token},
        headers=headers(token),
    )
    assert encoded.status_code == 200
    # A client pasting the token raw: '+' arrives as a space, and Amazon says 400.
    raw = await client.get(
        f"/orders/v0/orders?MarketplaceIds={FR}&NextToken={next_token}", headers=headers(token)
    )
    assert raw.status_code == 400 and raw.json()["errors"][0]["code"] == "InvalidInput"


async def test_get_orders_by_ids_needs_no_date_and_seller_order_id_excludes_filters(
    client,
) -> None:
    token = (await connect(client))["access_token"]
    known = [
        o["AmazonOrderId"]
        for o in await all_orders_v0(client, token, CreatedAfter=iso_ago(days=30))
    ]
    by_ids = await client.get(
        "/orders/v0/orders",
        params={"MarketplaceIds": FR, "AmazonOrderIds": ",".join(known[:3])},
        headers=headers(token),
    )
    assert by_ids.status_code == 200, by_ids.text
    assert [o["AmazonOrderId"] for o in by_ids.json()["payload"]["Orders"]] == known[:3]
    clash = await client.get(
        "/orders/v0/orders",
        params={
            "MarketplaceIds": FR,
            "CreatedAfter": iso_ago(days=30),
            "SellerOrderId": known[0],
            "OrderStatuses": "Shipped",
        },
        headers=headers(token),
    )
    assert clash.status_code == 400 and clash.json()["errors"][0]["code"] == "InvalidInput"
