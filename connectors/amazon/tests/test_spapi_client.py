"""The SP-API client (keybuzz_connector_amazon.spapi) against a sandbox of its own, over HTTP.

The sandbox runs in-process at time scale 1800: an access token lives 2 seconds,
so an expired token is a matter of waiting, and buckets refill quickly.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from keybuzz_connector_amazon import (
    LwaClient,
    RateLimit,
    SearchOrdersQuery,
    SpApiAccessDenied,
    SpApiClient,
    SpApiNotFound,
    SpApiUnavailable,
    TokenService,
)
from keybuzz_connector_amazon.spapi import TokenBucket
from keybuzz_devstack import infra
from keybuzz_devstack.oauth_testing import FR
from keybuzz_devstack.orders_testing import connect_directly
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.sandbox import Sandbox
from keybuzz_sandbox.testing import running_sandbox
from keybuzz_shared.errors import DependencyUnavailable
from keybuzz_shared.vault import VaultClient

APP_SOURCE = "orders-spapi-tests"


@dataclass
class Seller:
    sandbox: str
    tenant: str
    vault: VaultClient
    state: Sandbox  # the in-process sandbox itself (its clock)


@pytest.fixture(scope="module")
async def seller(stack: Any) -> AsyncIterator[Seller]:
    seen: list[Sandbox] = []
    async with running_sandbox(SandboxConfig(time_scale=1800), seen=seen) as sandbox:
        tenant = await connect_directly(stack, sandbox, APP_SOURCE)
        vault = VaultClient(stack.vault_addr, token=infra.DEV_VAULT_ROOT_TOKEN)
        yield Seller(sandbox, tenant, vault, seen[0])


class LwaCounter:
    def __init__(self) -> None:
        self.calls = 0
        self.http = httpx.AsyncClient(timeout=10, event_hooks={"response": [self._count]})

    async def _count(self, response: httpx.Response) -> None:
        self.calls += 1


def client(
    seller: Seller, *, clock: Any = None, lwa: LwaCounter | None = None, **kwargs: Any
) -> SpApiClient:
    lwa_client = LwaClient(f"{seller.sandbox}/auth/o2/token", http=lwa.http if lwa else None)
    extra = {"clock": clock} if clock else {}
    tokens = TokenService(seller.vault, lwa_client, app_source=APP_SOURCE, **extra)
    return SpApiClient(tokens, endpoint=seller.sandbox, initial_backoff=0.05, **kwargs)


async def _faults(seller: Seller, **faults: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=seller.sandbox, timeout=10) as http:
        if faults:
            return await http.put("/_sandbox/faults", json=faults)
        return await http.get("/_sandbox/faults")


async def test_pagination_tokens_with_plus_slash_equals_go_through(seller: Seller) -> None:
    spapi = client(seller)
    query = SearchOrdersQuery(
        marketplace_ids=[FR], created_after="2020-01-01T00:00:00Z", max_results_per_page=7
    )
    first = await spapi.search_orders(seller.tenant, query)
    assert first.next_token and set("+/=") & set(first.next_token)
    seen = {o.order_id for o in first.decode_orders()[0]}
    token: str | None = first.next_token
    while token:
        page = await spapi.search_orders(
            seller.tenant, SearchOrdersQuery(**{**query.__dict__, "pagination_token": token})
        )
        orders, bad = page.decode_orders()
        assert not bad
        seen |= {o.order_id for o in orders}
        token = page.next_token
    assert len(seen) >= 94
    assert first.created_before is not None  # Amazon's cursor
    await spapi.aclose()


async def test_the_rate_amazon_announces_replaces_the_default(seller: Seller) -> None:
    spapi = client(seller, limits={"searchOrders": RateLimit(rate=7.0, burst=5)})
    query = SearchOrdersQuery(
        marketplace_ids=[FR], created_after="2026-01-01T00:00:00Z", max_results_per_page=1
    )
    await spapi.search_orders(seller.tenant, query)
    assert spapi.limiter.bucket(seller.tenant, "searchOrders").rate == pytest.approx(0.0056)
    await spapi.aclose()


async def test_the_bucket_waits_once_the_burst_is_spent() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(RateLimit(rate=0.5, burst=2), clock=lambda: now[0])
    assert [await bucket.take(sleep) for _ in range(3)] == [0.0, 0.0, 2.0]
    assert slept == [2.0]


async def test_an_expired_access_token_is_refreshed_once(seller: Seller) -> None:
    lwa = LwaCounter()
    # A clock that never moves: our cache would keep the token forever; Amazon will not.
    spapi = client(seller, clock=lambda: 0.0, lwa=lwa)
    order_id = (
        (
            await spapi.search_orders(
                seller.tenant,
                SearchOrdersQuery(
                    marketplace_ids=[FR],
                    created_after="2020-01-01T00:00:00Z",
                    max_results_per_page=1,
                ),
            )
        )
        .decode_orders()[0][0]
        .order_id
    )
    assert lwa.calls == 1
    await asyncio.sleep(2.5)  # the 2-second token has expired at the sandbox

    order = await spapi.get_order(seller.tenant, order_id)

    assert order.order_id == order_id
    assert lwa.calls == 2  # exactly one refresh
    await spapi.aclose()


async def test_outages_and_refusals_are_typed(seller: Seller) -> None:
    spapi = client(seller, attempts=3, clock=lambda: 0.0)  # the cached token stays ours
    await _faults(seller, failNext=5, failStatus=503, operations=["getOrder"])
    # Amazon's clock held: the token must not expire between attempts (an expired-token
    # answer comes before the faults, so it would not count down failNext).
    with seller.state.clock.held(), pytest.raises(SpApiUnavailable) as outage:
        await spapi.get_order(seller.tenant, "402-0000000-0000000")
    assert isinstance(outage.value, DependencyUnavailable)
    assert (await _faults(seller)).json()["failNext"] == 2  # exactly 3 attempts
    await _faults(seller, failNext=0)

    with pytest.raises(SpApiNotFound):
        await spapi.get_order(seller.tenant, "402-0000000-0000000")

    # A forged token: refused as invalid, not as expired, so no refresh and no retry.
    token = await spapi.tokens.access_token(seller.tenant)
    spapi.tokens._cache[seller.tenant] = replace(token, value="Atza|forged")
    with pytest.raises(SpApiAccessDenied) as denied:
        await spapi.get_order(seller.tenant, "402-0000000-0000000")
    assert "Atza|" not in str(denied.value)
    await spapi.aclose()


@pytest.mark.parametrize("kind", ["invalid_json", "schema"])
async def test_a_broken_answer_is_asked_again(seller: Seller, kind: str) -> None:
    spapi = client(seller)
    first = await spapi.search_orders(
        seller.tenant,
        SearchOrdersQuery(
            marketplace_ids=[FR],
            created_after="2020-01-01T00:00:00Z",
            max_results_per_page=1,
        ),
    )
    order_id = first.decode_orders()[0][0].order_id
    await _faults(seller, malformedNext=2, malformedKind=kind, operations=["getOrder"])

    order = await spapi.get_order(seller.tenant, order_id)

    assert order.order_id == order_id
    assert (await _faults(seller)).json()["malformedNext"] == 0
    await spapi.aclose()


async def test_an_answer_over_the_cap_is_refused_without_being_kept(seller: Seller) -> None:
    spapi = client(seller, attempts=2)
    query = SearchOrdersQuery(
        marketplace_ids=[FR], created_after="2020-01-01T00:00:00Z", max_results_per_page=20
    )
    page = await spapi.search_orders(seller.tenant, query)
    assert len(page.raw_orders) == 20
    spapi._max_bytes = 2_000  # a 20-order page is far larger

    with pytest.raises(SpApiUnavailable, match="larger than allowed"):
        await spapi.search_orders(seller.tenant, query)
    await spapi.aclose()


async def test_a_token_amazon_calls_expired_again_is_refreshed_once_not_more(
    seller: Seller,
) -> None:
    lwa = LwaCounter()
    spapi = client(seller, clock=lambda: 0.0, lwa=lwa)
    clock = seller.state.clock
    real = clock._now
    later = itertools.count()
    # Each reading of Amazon's clock 10 s after the last: every token it granted has
    # expired (it lives 2 s at this time scale) by the time a call shows it.
    clock._now = lambda: real() + 10 * next(later)
    try:
        with pytest.raises(SpApiAccessDenied, match="expired"):
            await spapi.get_order(seller.tenant, "402-0000000-0000000")
    finally:
        clock._now = real
    assert lwa.calls == 2  # the first token and one refresh, never one an attempt
    await spapi.aclose()
