"""Shared pieces of the orders tests: oauth + orders on a NATS of their own, the sandbox.

Everything is real: OpenBao, PostgreSQL, NATS JetStream and the Amazon sandbox
over HTTP. A tenant is connected the way a seller does it, through the oauth
service and the sandbox's consent page (oauth_testkit), which writes its refresh
token to Vault and emits ``connection.connected``.

The orders tests run on a NATS server of their own (module scope): on the
session's shared NATS, the first ``orders-backfill`` consumer would receive every
``connection.connected`` the oauth tests published before, and start backfills
for their tenants against the one seeded seller's rate limits.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import msgspec
import nats
import pytest
from keybuzz_devstack import infra
from keybuzz_devstack.testing import eventually
from keybuzz_orders.service import DEFINITION as ORDERS
from keybuzz_shared.auth import issue_token
from keybuzz_shared.settings import DEV_JWT_SECRET
from nats.js.api import ConsumerConfig, DeliverPolicy

sys.path.insert(0, str(Path(__file__).parents[2] / "oauth" / "tests"))
from oauth_testkit import (  # noqa: E402 - after the path insert above
    SANDBOX_APP,
    ConsentForm,
    OauthKit,
    root_vault,
    tenant_path,
)

SELLER = "A12BCIS2R7HD4D"
FR = "A13V1IB3VIYZZH"
API = "/api/v1/orders"


@pytest.fixture(scope="module")
def orders_nats(infra_root: Path) -> Iterator[str]:
    port = infra.free_port()
    spec = infra.nats_spec(infra_root / f"nats-orders-{port}", port)
    server = infra.RunningServer(spec, infra_root / f"nats-orders-{port}.log").start(timeout=60)
    infra.provision_streams(server.spec.url)  # the services only wait for their streams
    yield server.spec.url
    server.stop()


class Sandbox:
    """The sandbox's admin endpoints (faults, rate limits, revocations)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.AsyncClient(base_url=url, timeout=10)

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


@dataclass
class OrdersKit:
    oauth: OauthKit
    service: Any
    nats_url: str
    env: dict[str, str]

    @property
    def runtime(self) -> Any:
        return self.service.runtime

    @property
    def pool(self) -> Any:
        return self.service.runtime.pool

    def headers(self, tenant: str) -> dict[str, str]:
        token = issue_token(DEV_JWT_SECRET, "agent-1", tenants=[tenant])
        return {"Authorization": f"Bearer {token}", "X-Tenant-Id": tenant}

    async def api(self, method: str, path: str, tenant: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers(tenant), **kwargs.pop("headers", {})}
        async with self.service.client() as http:
            return await http.request(method, f"{API}{path}", headers=headers, **kwargs)

    async def job(self, tenant: str, job_id: str) -> dict[str, Any]:
        response = await self.api("GET", f"/backfill/{job_id}", tenant)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def job_of(self, tenant: str, within: float = 20) -> dict[str, Any]:
        """The tenant's latest job, once one exists."""

        async def probe() -> str | None:
            return await self.pool.fetchval(  # type: ignore[no-any-return]
                "SELECT id::text FROM order_backfill_jobs WHERE tenant_id = $1"
                " ORDER BY started_at DESC LIMIT 1",
                tenant,
            )

        job_id = await eventually(probe, within)
        return await self.job(tenant, job_id)

    async def finished(self, tenant: str, job_id: str, within: float = 40) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            job = await self.job(tenant, job_id)
            return job if job["status"] != "RUNNING" else None

        return await eventually(probe, within)

    async def connect(self, tenant: str) -> None:
        answer = await self.oauth.connect(tenant)
        assert answer.status_code == 303, answer.text
        assert "status=connected" in answer.headers["location"], answer.headers["location"]


@pytest.fixture
async def make_orders(
    orders_nats: str,
    sandbox_url: str,
    start_service: Callable[..., Awaitable[Any]],
    make_kit: Callable[..., Awaitable[OauthKit]],
) -> AsyncIterator[Callable[..., Awaitable[OrdersKit]]]:
    async def make(**overrides: str) -> OrdersKit:
        oauth = await make_kit(NATS_URL=orders_nats)
        env = {
            "NATS_URL": orders_nats,
            "LWA_ENDPOINT": f"{sandbox_url}/auth/o2/token",
            "SPAPI_ENDPOINT": sandbox_url,
            "AMAZON_APP_SOURCE": oauth.app_source,
            "SPAPI_BACKOFF_SECONDS": "0.05",  # tests wait for retries, not for production pacing
            **overrides,
        }
        service = await start_service(ORDERS, **env)
        env["DATABASE_URL"] = str(service.runtime.settings.database_url)
        return OrdersKit(oauth, service, orders_nats, env)

    yield make


@pytest.fixture
async def orders(make_orders: Callable[..., Awaitable[OrdersKit]]) -> OrdersKit:
    return await make_orders()


def new_tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


async def find_events(
    nats_url: str, subject: str, tenant: str, *, stream: str, count: int = 1, within: float = 15
) -> list[dict[str, Any]]:
    """The events of ``subject`` about ``tenant`` on JetStream, once ``count`` are there."""
    nc = await nats.connect(nats_url)
    found: list[dict[str, Any]] = []
    try:
        sub = await nc.jetstream().pull_subscribe(
            subject, stream=stream, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline and len(found) < count:
            try:
                messages = await sub.fetch(256, timeout=0.5)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            for msg in messages:
                body = msgspec.json.decode(msg.data)
                if body.get("tenantId") == tenant:
                    found.append(body)
        await sub.unsubscribe()
    finally:
        await nc.close()
    assert len(found) >= count, f"{len(found)} {subject} events for {tenant} within {within}s"
    return found


REDIRECT = "http://127.0.0.1:8001/api/v1/marketplaces/amazon/oauth/callback"  # registered


async def refresh_token_of(sandbox: str) -> str:
    """The seller's consent and the code exchange, as oauth does them."""
    async with httpx.AsyncClient(base_url=sandbox, timeout=10) as http:
        params = {
            "application_id": SANDBOX_APP["application_id"],
            "state": "s",
            "redirect_uri": REDIRECT,
            "version": "beta",
        }
        page = await http.get("/apps/authorize/consent", params=params)
        form = ConsentForm.parse(page.text)
        form.fields.update({"selling_partner_id": SELLER, "action": "authorize"})
        answer = await http.post(
            urljoin(sandbox + "/apps/authorize/consent", form.action), data=form.fields
        )
        code = httpx.URL(answer.headers["location"]).params["spapi_oauth_code"]
        grant = await http.post(
            "/auth/o2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "client_id": SANDBOX_APP["client_id"],
                "client_secret": SANDBOX_APP["client_secret"],
            },
        )
        assert grant.status_code == 200, grant.text
        return str(grant.json()["refresh_token"])


async def connect_directly(stack: Any, sandbox: str, app_source: str) -> str:
    """A tenant connected to ``sandbox`` without oauth (no connection.connected)."""
    tenant = new_tenant()
    vault = root_vault(stack)
    secret = {
        "refresh_token": await refresh_token_of(sandbox),
        "seller_id": SELLER,
        "marketplace_id": FR,
        "region": "eu",
        "created_at": "2026-01-01T00:00:00Z",
    }
    for path, data in (
        (tenant_path(tenant), secret),
        (f"keybuzz/amazon_spapi/app/{app_source}", {**SANDBOX_APP, "redirect_uri": REDIRECT}),
    ):
        await asyncio.to_thread(
            vault.secrets.kv.v2.create_or_update_secret,
            path=path.removeprefix("secret/"),
            secret=data,
            mount_point="secret",
        )
    return tenant
