"""Faults on demand: deterministic failures, random failures, latency, malformed bodies."""

from __future__ import annotations

import time

import msgspec
import pytest
from keybuzz_double_amazon.env import LWA_OPERATION
from keybuzz_sandbox.config import config_from_env
from sandbox_helpers import CALLBACK, CONTRACT, FR, authorize, connect, headers, iso_ago, lwa

pytestmark = pytest.mark.asyncio  # explicit, whatever asyncio_mode the root config sets

ORDERS = "/orders/v0/orders"


def _query() -> dict[str, str]:
    return {"MarketplaceIds": FR, "CreatedAfter": iso_ago(days=2)}


async def _token(client) -> str:
    return (await connect(client))["access_token"]


async def test_fail_next_n_calls_of_one_operation(client) -> None:
    token = await _token(client)
    armed = await client.put(
        "/_sandbox/faults", json={"failNext": 2, "failStatus": 503, "operations": ["getOrders"]}
    )
    assert armed.status_code == 200
    other = await client.get("/sellers/v1/marketplaceParticipations", headers=headers(token))
    assert other.status_code == 200  # not a targeted operation
    first = await client.get(ORDERS, params=_query(), headers=headers(token))
    second = await client.get(ORDERS, params=_query(), headers=headers(token))
    third = await client.get(ORDERS, params=_query(), headers=headers(token))
    assert [first.status_code, second.status_code, third.status_code] == [503, 503, 200]
    assert first.json()["errors"][0]["code"] == "ServiceUnavailable"
    assert first.headers["x-amzn-RateLimit-Limit"] == "0.0167"
    assert (await client.get("/_sandbox/faults")).json()["failNext"] == 0


async def test_internal_failure_and_qualified_operation_names(client) -> None:
    token = await _token(client)
    await client.put(
        "/_sandbox/faults",
        json={"failNext": 1, "failStatus": 500, "operations": ["ordersV0.getOrders"]},
    )
    failed = await client.get(ORDERS, params=_query(), headers=headers(token))
    assert failed.status_code == 500 and failed.json()["errors"][0]["code"] == "InternalFailure"


async def test_fail_next_can_refuse_one_operation_for_good(client) -> None:
    """failStatus 403: Amazon refusing an operation to this application (a client's fallback)."""
    token = await _token(client)
    armed = await client.put(
        "/_sandbox/faults",
        json={"failNext": 1000, "failStatus": 403, "operations": ["ordersV0.getOrders"]},
    )
    assert armed.status_code == 200
    for _ in range(3):
        refused = await client.get(ORDERS, params=_query(), headers=headers(token))
        assert refused.status_code == 403
        assert refused.json()["errors"][0]["code"] == "Unauthorized"
    other = await client.get("/sellers/v1/marketplaceParticipations", headers=headers(token))
    assert other.status_code == 200
    # A random error can never be a refusal: only failNext refuses.
    bad = await client.put("/_sandbox/faults", json={"errorRate": 0.5, "errorStatuses": [403]})
    assert bad.status_code == 400


async def test_error_rate_fails_about_that_fraction(client) -> None:
    token = await _token(client)
    await client.put(
        "/_sandbox/faults", json={"errorRate": 0.5, "operations": ["getMarketplaceParticipations"]}
    )
    await client.post("/_sandbox/ratelimits/reset")
    codes = []
    for _ in range(14):  # burst 15
        codes.append(
            (
                await client.get("/sellers/v1/marketplaceParticipations", headers=headers(token))
            ).status_code
        )
    assert set(codes) <= {200, 500, 503} and 3 <= codes.count(200) <= 11
    assert (await client.delete("/_sandbox/faults")).status_code == 204
    assert (
        await client.get("/sellers/v1/marketplaceParticipations", headers=headers(token))
    ).status_code == 200


async def test_latency_is_added(client) -> None:
    token = await _token(client)
    await client.put("/_sandbox/faults", json={"latencyMs": 300})
    started = time.perf_counter()
    assert (await client.get(ORDERS, params=_query(), headers=headers(token))).status_code == 200
    assert time.perf_counter() - started >= 0.3


async def test_malformed_bodies(make_client) -> None:
    client = await make_client(contract=False)  # these bodies are meant to break the contract
    token = await _token(client)
    await client.put("/_sandbox/faults", json={"malformedNext": 1, "malformedKind": "invalid_json"})
    broken = await client.get(ORDERS, params=_query(), headers=headers(token))
    assert broken.status_code == 200
    with pytest.raises(msgspec.DecodeError):
        msgspec.json.decode(broken.content)
    await client.put("/_sandbox/faults", json={"malformedNext": 1, "malformedKind": "schema"})
    wrong = await client.get(ORDERS, params=_query(), headers=headers(token))
    with pytest.raises(AssertionError, match="violates the model"):
        CONTRACT.check("GET", ORDERS, 200, wrong.json())
    healthy = await client.get(ORDERS, params=_query(), headers=headers(token))
    CONTRACT.check("GET", ORDERS, 200, healthy.json())


@pytest.mark.parametrize(
    ("status", "error", "consumes_code"),
    [
        (500, "server_error", True),  # failed after LWA redeemed the code
        (503, "temporarily_unavailable", False),
        (429, "too_many_requests", False),
    ],
)
async def test_lwa_token_fails_next_calls_with_lwa_errors(
    client, status: int, error: str, consumes_code: bool
) -> None:
    code = await authorize(client)
    await client.put(
        "/_sandbox/faults",
        json={"failNext": 2, "failStatus": status, "operations": [LWA_OPERATION]},
    )
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    failed = [await lwa(client, **form) for _ in range(2)]
    assert [r.status_code for r in failed] == [status, status]
    assert set(failed[0].json()) == {"error", "error_description"}
    assert failed[0].json()["error"] == error
    exchanged = await lwa(client, **form)
    if consumes_code:  # as on Amazon: the retry finds the code spent
        assert exchanged.status_code == 400 and exchanged.json()["error"] == "invalid_grant"
    else:  # rejected up front: the code is still good
        assert exchanged.status_code == 200
        assert exchanged.json()["refresh_token"].startswith("Atzr|")


async def test_lwa_faults_only_when_named(client) -> None:
    await client.put("/_sandbox/faults", json={"failNext": 1})  # every SP-API operation
    token = await _token(client)
    assert (await client.get(ORDERS, params=_query(), headers=headers(token))).status_code == 503
    await client.put("/_sandbox/faults", json={"failNext": 1, "operations": [LWA_OPERATION]})
    assert (await client.get(ORDERS, params=_query(), headers=headers(token))).status_code == 200
    assert (await client.get("/_sandbox/faults")).json()["failNext"] == 1
    await client.put("/_sandbox/faults", json={"malformedNext": 1, "operations": [LWA_OPERATION]})
    code = await authorize(client)
    broken = await lwa(client, grant_type="authorization_code", code=code, redirect_uri=CALLBACK)
    assert broken.status_code == 200
    with pytest.raises(msgspec.DecodeError):
        msgspec.json.decode(broken.content)


async def test_bad_fault_settings_are_refused(client) -> None:
    assert (await client.put("/_sandbox/faults", json={"errorRate": 2})).status_code == 400
    assert (await client.put("/_sandbox/faults", json={"failStatus": 418})).status_code == 400
    assert (await client.put("/_sandbox/faults", json={"bogus": 1})).status_code == 400


async def test_faults_from_environment(make_client) -> None:
    config = config_from_env(
        {
            "SANDBOX_FAULT_ERROR_RATE": "1",
            "SANDBOX_FAULT_ERROR_STATUSES": "503",
            "SANDBOX_FAULT_OPERATIONS": "getOrders",
            "SANDBOX_TIME_SCALE": "60",
        }
    )
    client = await make_client(config)
    token = await _token(client)
    assert (await client.get(ORDERS, params=_query(), headers=headers(token))).status_code == 503
    assert (
        await client.get("/sellers/v1/marketplaceParticipations", headers=headers(token))
    ).status_code == 200
