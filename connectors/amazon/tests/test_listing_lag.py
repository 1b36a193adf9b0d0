"""Listings trail the live data by about two minutes, as on Amazon: a sync must
take its next cursor from the response (CreatedBefore / LastUpdatedBefore),
never from its own clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from keybuzz_sandbox import SandboxConfig
from sandbox_helpers import FR, FR_SELLER, HeldClock, connect, headers, iso_ago

pytestmark = pytest.mark.asyncio  # explicit, whatever asyncio_mode the root config sets

ORDERS = "/orders/v0/orders"


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _sync(client, token: str, cursor: str) -> dict[str, Any]:
    response = await client.get(
        ORDERS, params={"MarketplaceIds": FR, "CreatedAfter": cursor}, headers=headers(token)
    )
    assert response.status_code == 200, response.text
    payload = response.json()["payload"]
    assert "NextToken" not in payload
    return payload


def _ids(payload: dict[str, Any]) -> set[str]:
    return {o["AmazonOrderId"] for o in payload["Orders"]}


async def test_a_local_clock_cursor_loses_an_order_the_amazon_cursor_gets(make_client) -> None:
    client = await make_client(SandboxConfig(time_scale=40))  # lag: 120 s -> 3 real s
    token = (await connect(client))["access_token"]
    # The sandbox's clock moves only when the test moves it: however slowly this machine
    # makes the calls, the orders are listed neither before the lag has passed nor after.
    clock = HeldClock(client)
    start = iso_ago(hours=1)
    local = _iso(clock.now)  # the seller's own clock, on time with Amazon's
    amazon = (await _sync(client, token, start))["CreatedBefore"]
    placed = await client.post(
        f"/_sandbox/sellers/{FR_SELLER}/advance", json={"seconds": 3 * 86400}
    )
    new = set(placed.json()["newOrderIds"])
    assert new
    clock.advance(1.2)  # the orders exist, but listings do not show them yet
    local_next = _iso(clock.now)
    assert not new & _ids(await _sync(client, token, local))
    second = await _sync(client, token, amazon)
    assert not new & _ids(second)
    local, amazon = local_next, second["CreatedBefore"]
    assert amazon < local  # Amazon's cursor stays behind the listing lag
    clock.advance(2.5)  # now they are listed
    assert not new & _ids(await _sync(client, token, local))  # lost for good
    assert new <= _ids(await _sync(client, token, amazon))


async def test_response_cursor_is_the_lag_before_the_request(make_client) -> None:
    client = await make_client(SandboxConfig(time_scale=1))
    token = (await connect(client))["access_token"]
    # The request's time held: the cursor is exactly the lag before it, however long a
    # busy machine takes over the calls.
    clock = HeldClock(client)
    lagged = _iso(clock.now - 120)  # the double's two minutes, at time scale 1
    payload = await _sync(client, token, iso_ago(days=2))
    assert payload["CreatedBefore"] == lagged
    search = await client.get(
        "/orders/2026-01-01/orders",
        params={"lastUpdatedAfter": iso_ago(days=2)},
        headers=headers(token),
    )
    assert search.json()["lastUpdatedBefore"] == lagged
