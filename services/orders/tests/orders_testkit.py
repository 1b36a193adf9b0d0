"""Shared pieces of the orders tests: oauth + orders on a NATS of their own, the sandbox.

Everything is real: OpenBao, PostgreSQL, NATS JetStream and the Amazon sandbox
over HTTP. A tenant is connected the way a seller does it, through the oauth
service and the sandbox's consent page, which writes its refresh token to Vault
and emits ``connection.connected``. The kit itself (``make_orders``, on a NATS of
its own) is ``keybuzz_devstack.orders_testing``, shared with the connectors' tests.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

# What the connectors' tests share with these (oauth and orders on a NATS of their own,
# the sandbox's seeded seller, events read back), under the names these tests use.
from keybuzz_devstack.oauth_testing import FR as FR
from keybuzz_devstack.oauth_testing import SELLER as SELLER
from keybuzz_devstack.oauth_testing import new_tenant as new_tenant
from keybuzz_devstack.orders_testing import OrdersKit as OrdersKit
from keybuzz_devstack.orders_testing import connect_directly as connect_directly
from keybuzz_devstack.orders_testing import find_events as find_events
from keybuzz_devstack.testing import eventually as eventually
from keybuzz_devstack.testing import loopback_timeout
from keybuzz_sandbox import SandboxConfig
from keybuzz_sandbox.testing import running_sandbox

# A module's own sandbox (in this process) for tests that wait on the sandbox's clock (a
# report's 90 Amazon seconds, Orders v0's paced calls): 1.5 s at this scale, 4.5 s at the
# session's (``SANDBOX_TIME_SCALE``). A 5-minute authorization code still lives 5 s, ample
# for a consent and its exchange.
FAST_TIME_SCALE = 60.0


def fast_sandbox() -> contextlib.AbstractAsyncContextManager[str]:
    """An Amazon sandbox of its own, its clocks sped up ``FAST_TIME_SCALE`` times; its URL."""
    return running_sandbox(SandboxConfig(time_scale=FAST_TIME_SCALE))


class Sandbox:
    """The sandbox's admin endpoints (faults, rate limits, revocations)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.AsyncClient(base_url=url, timeout=loopback_timeout())

    async def fail_next(self, count: int, status: int, operation: str = "searchOrders") -> None:
        faults = {"failNext": count, "failStatus": status, "operations": [operation]}
        response = await self.http.put("/_sandbox/faults", json=faults)
        assert response.status_code == 200, response.text

    async def faults_left(self) -> int:
        return int((await self.http.get("/_sandbox/faults")).json()["failNext"])

    async def set_faults(self, **faults: Any) -> None:
        response = await self.http.put("/_sandbox/faults", json=faults)
        assert response.status_code == 200, response.text

    async def clear(self) -> None:
        assert (await self.http.delete("/_sandbox/faults")).status_code == 204
        assert (await self.http.post("/_sandbox/ratelimits/reset")).status_code in (200, 201, 204)

    async def revoke_seller(self, seller: str = SELLER) -> None:
        response = await self.http.post("/_sandbox/revocations", json={"sellingPartnerId": seller})
        assert response.status_code == 200, response.text

    async def seller(self, seller: str = SELLER) -> dict[str, Any]:
        sellers = (await self.http.get("/_sandbox/sellers")).json()
        return next(s for s in sellers if s["sellingPartnerId"] == seller)


@pytest.fixture
async def sandbox(sandbox_url: str) -> AsyncIterator[Sandbox]:
    """Faults cleared and buckets refilled before and after: the sandbox serves the session."""
    admin = Sandbox(sandbox_url)
    await admin.clear()
    try:
        yield admin
    finally:
        await admin.clear()
        await admin.http.aclose()


@pytest.fixture
async def orders(make_orders: Callable[..., Awaitable[OrdersKit]]) -> OrdersKit:
    return await make_orders()


@pytest.fixture(scope="module")
async def module_orders(make_module_orders: Callable[..., Awaitable[OrdersKit]]) -> OrdersKit:
    """One orders service for a module whose tests leave its orders as they found them."""
    return await make_module_orders()


@pytest.fixture(scope="module")
async def backfilled(module_orders: OrdersKit, sandbox_url: str) -> tuple[OrdersKit, str, int]:
    """The seeded seller connected and backfilled once for the module's tests, read by them
    and never changed (the sandbox's orders are fixed; no sync runs within the module's
    minute): the service, the tenant and its orders' count."""
    sandbox = Sandbox(sandbox_url)
    try:
        await sandbox.clear()  # no fault or spent bucket left by an earlier module
    finally:
        await sandbox.http.aclose()
    tenant = new_tenant()
    await module_orders.connect(tenant)
    job = await module_orders.finished(tenant, (await module_orders.job_of(tenant))["jobId"])
    assert job["status"] == "COMPLETED"
    return module_orders, tenant, job["orders"]
