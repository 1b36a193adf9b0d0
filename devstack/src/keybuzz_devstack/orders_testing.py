"""For tests through the orders service run in-process (``testing.start_service``), its
tenants connected through oauth (``oauth_testing``) or straight in Vault: oauth and orders
on a NATS of their own (``make_orders``), the events they published read back, a tenant
connected to an Amazon sandbox without oauth (``connect_directly``).

Shared by the orders service's tests and the connectors' folders whose tests go through
orders (Fnac's orders, Amazon's SP-API client). Like ``oauth_testing``, it imports the
service its fixture starts.

The orders tests run on a NATS server of their own (module scope): on the session's
shared NATS, the first ``orders-backfill`` consumer would receive every
``connection.connected`` the oauth tests published before, and start backfills for their
tenants against the one seeded seller's rate limits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import msgspec
import nats
import pytest
from keybuzz_orders.service import DEFINITION as ORDERS
from keybuzz_sandbox.testing import ConsentForm
from keybuzz_shared.auth import issue_token
from keybuzz_shared.settings import DEV_JWT_SECRET
from nats.js.api import ConsumerConfig, DeliverPolicy

from keybuzz_devstack import infra
from keybuzz_devstack.oauth_testing import (
    FR,
    SANDBOX_APP,
    SELLER,
    OauthKit,
    fresh,
    new_tenant,
    root_vault,
    tenant_path,
)
from keybuzz_devstack.testing import Infra, RunningService, eventually

API = "/api/v1/orders"
# The redirect URI the sandbox accepts without registering it (its defaults), as the dev
# stack's app credentials name it.
REDIRECT = SANDBOX_APP["redirect_uri"]


@pytest.fixture(scope="module")
def orders_nats(infra_root: Path) -> Iterator[str]:
    port = infra.free_port()
    spec = infra.nats_spec(infra_root / f"nats-orders-{port}", port)
    server = infra.RunningServer(spec, infra_root / f"nats-orders-{port}.log").start(timeout=60)
    infra.provision_streams(server.spec.url)  # the services only wait for their streams
    yield server.spec.url
    server.stop()


@dataclass
class OrdersKit:
    oauth: OauthKit
    service: RunningService
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


@contextlib.asynccontextmanager
async def orders_made(
    orders_nats: str,
    sandbox_url: str,
    start_service: Callable[..., Awaitable[RunningService]],
    oauth_for: Callable[[], Awaitable[OauthKit]],
) -> AsyncIterator[Callable[..., Awaitable[OrdersKit]]]:
    """``make``: orders on ``orders_nats``, started with ``start_service``, calling the
    sandbox as Amazon, and the oauth ``oauth_for`` gives (on the same NATS)."""

    async def make(**overrides: str) -> OrdersKit:
        oauth = await oauth_for()
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


@pytest.fixture(scope="module")
async def module_oauth(
    orders_nats: str, make_module_kit: Callable[..., Awaitable[OauthKit]]
) -> OauthKit:
    """The oauth service of a module's orders tests (``orders_oauth``), one start for the
    module. It consumes ``connection.reauth_required`` on the module's NATS: a test's
    tenants are connected through it, never through an oauth of the test's own."""
    return await make_module_kit(NATS_URL=orders_nats)


@pytest.fixture
async def orders_oauth(module_oauth: OauthKit) -> AsyncIterator[OauthKit]:
    """The module's oauth, ``fresh`` for a test to connect tenants of its own through
    (every test connects the sandbox's one seller, refused if another tenant held it)."""
    async with fresh(module_oauth) as kit:
        yield kit


@pytest.fixture
async def make_orders(
    orders_nats: str,
    sandbox_url: str,
    start_service: Callable[..., Awaitable[RunningService]],
    orders_oauth: OauthKit,
) -> AsyncIterator[Callable[..., Awaitable[OrdersKit]]]:
    """``await make_orders(SOME_SETTING="x")``: orders of the test's own (``orders_made``),
    with the module's oauth (``orders_oauth``)."""

    async def module_oauth() -> OauthKit:
        return orders_oauth

    async with orders_made(orders_nats, sandbox_url, start_service, module_oauth) as make:
        yield make


@pytest.fixture(scope="module")
async def make_module_orders(
    orders_nats: str,
    sandbox_url: str,
    start_module_service: Callable[..., Awaitable[RunningService]],
    make_module_kit: Callable[..., Awaitable[OauthKit]],
) -> AsyncIterator[Callable[..., Awaitable[OrdersKit]]]:
    """``make_orders`` for oauth and orders a module's tests share, each test with tenants
    of its own."""

    async def module_kit() -> OauthKit:
        return await make_module_kit(NATS_URL=orders_nats)

    async with orders_made(orders_nats, sandbox_url, start_module_service, module_kit) as make:
        yield make


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


async def connect_directly(stack: Infra, sandbox: str, app_source: str) -> str:
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
