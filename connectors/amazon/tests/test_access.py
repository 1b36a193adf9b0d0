"""x-amz-access-token checks, rate limits and the SP-API error bodies."""

from __future__ import annotations

import asyncio

import pytest
from keybuzz_sandbox import SandboxConfig
from sandbox_helpers import FR, HeldClock, connect, headers, iso_ago

pytestmark = pytest.mark.asyncio  # explicit, whatever asyncio_mode the root config sets

ORDERS = "/orders/v0/orders"


def _query() -> dict[str, str]:
    return {"MarketplaceIds": FR, "CreatedAfter": iso_ago(days=1)}


async def test_missing_and_invalid_tokens_get_403_unauthorized(client) -> None:
    missing = await client.get(ORDERS, params=_query())
    assert missing.status_code == 403
    assert missing.json() == {
        "errors": [
            {
                "code": "Unauthorized",
                "message": "Access to requested resource is denied.",
                "details": "",
            }
        ]
    }
    forged = await client.get(ORDERS, params=_query(), headers=headers("Atza|not-a-real-token"))
    assert forged.status_code == 403 and forged.json()["errors"][0]["details"] == (
        "The access token you provided is revoked, malformed or invalid."
    )
    refresh_token = (await connect(client))["refresh_token"]
    refresh_as_access = await client.get(ORDERS, params=_query(), headers=headers(refresh_token))
    assert refresh_as_access.status_code == 403


async def test_expired_access_token_gets_expired_403(make_client) -> None:
    client = await make_client(SandboxConfig(time_scale=60))  # 3600 s -> 60 real s
    clock = HeldClock(client)
    token = (await connect(client))["access_token"]
    clock.advance(59)
    assert (await client.get(ORDERS, params=_query(), headers=headers(token))).status_code == 200
    clock.advance(2)
    expired = await client.get(ORDERS, params=_query(), headers=headers(token))
    assert expired.status_code == 403
    error = expired.json()["errors"][0]
    assert (
        error["code"] == "Unauthorized"
        and error["details"] == "The access token you provided has expired."
    )


async def test_rate_limit_header_and_429_after_documented_burst(make_client) -> None:
    client = await make_client(SandboxConfig(time_scale=1))
    token = (await connect(client))["access_token"]
    responses = []
    for _ in range(21):  # getOrders: rate 0.0167/s, burst 20 (from the model)
        responses.append(await client.get(ORDERS, params=_query(), headers=headers(token)))
    assert [r.status_code for r in responses] == [200] * 20 + [429]
    assert all(r.headers["x-amzn-RateLimit-Limit"] == "0.0167" for r in responses[:20])
    throttled = responses[-1]
    # As on Amazon: no rate header on a 429, and a body without "details".
    assert "x-amzn-RateLimit-Limit" not in throttled.headers
    assert throttled.json() == {
        "errors": [
            {
                "code": "QuotaExceeded",
                "message": "You exceeded your quota for the requested resource.",
            }
        ]
    }
    # Buckets are per operation: getOrder still has its own burst of 30.
    order = await client.get(f"{ORDERS}/171-0000000-0000000", headers=headers(token))
    assert order.status_code == 404 and order.headers["x-amzn-RateLimit-Limit"] == "0.5"


async def test_buckets_are_per_seller(make_client) -> None:
    client = await make_client(SandboxConfig(time_scale=1))
    fr, de = (
        (await connect(client))["access_token"],
        (await connect(client, "A3DESELLERBENCH"))["access_token"],
    )
    for _ in range(20):
        await client.get(ORDERS, params=_query(), headers=headers(fr))
    assert (await client.get(ORDERS, params=_query(), headers=headers(fr))).status_code == 429
    assert (await client.get(ORDERS, params=_query(), headers=headers(de))).status_code == 200


async def test_time_scale_refills_buckets(make_client) -> None:
    # getOrders refills a token a real second (one a minute at time scale 1): a burst spent
    # by requests under a second apart, as a loaded machine still sends them (at ten tokens a
    # second, one sending fewer than ten requests a second never met the limit).
    client = await make_client(SandboxConfig(time_scale=60))
    token = (await connect(client))["access_token"]
    sent = 0
    while (await client.get(ORDERS, params=_query(), headers=headers(token))).status_code != 429:
        sent += 1
        assert sent < 100, "the burst is never spent"
    await asyncio.sleep(1.5)
    assert (await client.get(ORDERS, params=_query(), headers=headers(token))).status_code == 200
    reset = await client.post("/_sandbox/ratelimits/reset")
    assert reset.status_code == 204


async def test_unknown_path_gets_spapi_404_body(client) -> None:
    for method, path in (
        ("GET", "/orders/v0/nothing"),
        ("GET", "/catalog/2022-04-01/items"),
        ("DELETE", ORDERS),
    ):
        response = await client.request(method, path)
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "NotFound"


async def test_no_sigv4_needed(client) -> None:
    token = (await connect(client))["access_token"]
    response = await client.get(ORDERS, params=_query(), headers={"x-amz-access-token": token})
    assert response.status_code == 200 and "x-amzn-RequestId" in response.headers


async def test_rate_limit_header_is_best_effort_and_written_as_amazon_does(client) -> None:
    token = (await connect(client))["access_token"]
    orders = await client.get(ORDERS, params=_query(), headers=headers(token))
    order_id = orders.json()["payload"]["Orders"][0]["AmazonOrderId"]
    items = await client.get(f"{ORDERS}/{order_id}/orderItems", headers=headers(token))
    assert items.status_code == 200 and "x-amzn-RateLimit-Limit" not in items.headers
    report = await client.get("/reports/2021-06-30/reports/1", headers=headers(token))
    assert report.headers["x-amzn-RateLimit-Limit"] == "2.0"  # the model's "2", as Amazon writes it


async def test_denied_calls_name_the_error_type(client) -> None:
    denied = await client.get(ORDERS, params=_query())
    assert denied.status_code == 403
    assert denied.headers["x-amzn-ErrorType"] == "AccessDeniedException"
