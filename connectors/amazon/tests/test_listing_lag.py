"""Listings trail the live data by about two minutes, as on Amazon: a sync must
take its next cursor from the response (CreatedBefore / LastUpdatedBefore),
never from its own clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from keybuzz_sandbox import SandboxConfig
from sandbox_helpers import FR, FR_SELLER, connect, headers, iso_ago

pytestmark = pytest.mark.asyncio  # explicit, whatever asyncio_mode the root config sets

ORDERS = "/orders/v0/orders"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    start = iso_ago(hours=1)
    local = _now()
    amazon = (await _sync(client, token, start))["CreatedBefore"]
    placed = await client.post(
        f"/_sandbox/sellers/{FR_SELLER}/advance", json={"seconds": 3 * 86400}
    )
    new = set(placed.json()["newOrderIds"])
    assert new
    await asyncio.sleep(1.2)  # the orders exist, but listings do not show them yet
    local_next = _now()
    assert not new & _ids(await _sync(client, token, local))
    second = await _sync(client, token, amazon)
    assert not new & _ids(second)
    local, amazon = local_next, second["CreatedBefore"]
    assert amazon < local  # Amazon's cursor stays behind the listing lag
    await asyncio.sleep(2.5)  # now they are listed
    assert not new & _ids(await _sync(client, token, local))  # lost for good
    assert new <= _ids(await _sync(client, token, amazon))


async def test_response_cursor_is_the_lag_before_the_request(make_client) -> None:
    client = await make_client(SandboxConfig(time_scale=1))
    token = (await connect(client))["access_token"]
    payload = await _sync(client, token, iso_ago(days=2))
    assert iso_ago(seconds=125) <= payload["CreatedBefore"] <= iso_ago(seconds=119)
    search = await client.get(
        "/orders/2026-01-01/orders",
        params={"lastUpdatedAfter": iso_ago(days=2)},
        headers=headers(token),
    )
    assert iso_ago(seconds=125) <= search.json()["lastUpdatedBefore"] <= iso_ago(seconds=119)
