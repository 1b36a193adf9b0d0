"""What the conformance suite runs on: a sandbox of its own (its faults touch no other test),
oauth and the poller on the session's PostgreSQL and OpenBao and a NATS of their own,
started once per test worker and shared by every case it runs (each case connects a tenant
of its own and clears the faults it armed), all polling on their own with short deadlines. Everything is reached as a user, the seller,
the marketplace or an operator would: oauth's and the poller's HTTP APIs, their events on
JetStream, the poller's operator actions (a shop's poll asked for now, ``poll_now``), Vault's
contents, and the double's admin endpoints through its driver (``keybuzz_sandbox.conformance``)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import nats
import pytest
from keybuzz_devstack import infra
from keybuzz_devstack.consent_apps import register_consent_apps
from keybuzz_devstack.shop_api_testing import tenant_events
from keybuzz_devstack.testing import (
    SANDBOX_TIME_SCALE,
    Infra,
    MailServer,
    RunningService,
    nats_running,
    start_on_stack,
)
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_poller.service import DEFINITION as POLLER
from keybuzz_sandbox.conformance import (
    DRIVERS,
    ConsentDriver,
    DoubleShop,
    ShopDriver,
    driver_for,
)
from keybuzz_sandbox.state import PersistentState, StateStore
from keybuzz_shared.auth import issue_token
from keybuzz_shared.connectors.registry import connectors, families
from keybuzz_shared.connectors.seam import Connector, messages_by_api
from keybuzz_shared.settings import DEV_JWT_SECRET, DEV_VAULT_TOKEN, env_name
from keybuzz_shared.vault import VaultClient

from tests.stack_fixture import wait_for

CALL_DEADLINE = 2.0  # a call to a double is cut after this (each driver's service_settings)
INTERVAL = 2.0  # each driver's poll interval
# SHOP_POLL_DEADLINE_SECONDS: a poll as a whole, at most the shortest interval (POLLER.md)
POLL_DEADLINE = 2.0
REPLY_LEASE = 3.0
# An asked poll's answer: a running poll of the shop waited for (up to 10 s), then its own.
POLL_NOW_TIMEOUT = 15.0
UNHEARD_SHOP_SECONDS = 3.0  # connection.connected on its way to the poller
PUT_OFF_ASKS = 3  # asked again once the marketplace's pace allows, at most so often
# The poller's settings for every driver: polls on their own, short deadlines and back-off.
POLLER_SETTINGS = {
    "POLL_ENABLED": "true",
    "POLL_CONCURRENCY": "4",
    "SHOP_POLL_CONCURRENCY": "4",
    "SHOP_POLL_DEADLINE_SECONDS": str(POLL_DEADLINE),
    "SHOP_POLL_SLOW_SECONDS": "0.5",
    "SHOP_POLL_BACKOFF_CONCURRENCY": "1",
    # A failed poll retried soon: what a case asserts is the retry, not its delay.
    "POLL_RETRY_BASE_SECONDS": "0.5",
    "POLL_RETRY_MAX_SECONDS": "1",
    "REPLY_LEASE_SECONDS": str(REPLY_LEASE),
    "SMTP_RELAY_TIMEOUT_SECONDS": "1",
    "REPLY_RETRY_BASE_SECONDS": "0.5",
    "REPLY_RETRY_MAX_SECONDS": "1",
}


# A failing call is still tried again (what a case sees of it), its tries this far apart:
# the default waits (0.5 s doubling, up to 1 s of jitter) spend a 2 s poll deadline whole.
RETRY_WAIT = 0.1


def retry_waits() -> dict[str, str]:
    """Each shop-API connector's ``<PREFIX>_CALL_RETRY_WAIT_SECONDS``, at RETRY_WAIT."""
    kinds = {c.settings_type for c in shop_api_connectors()}
    return {
        env_name(kind, "call_retry_wait_seconds"): str(RETRY_WAIT)
        for kind in kinds
        if kind is not None and "call_retry_wait_seconds" in kind.__struct_fields__
    }


def shop_api_connectors() -> list[Connector]:
    """Every registered connector whose shops are polled over the marketplace's API. A
    package serving many marketplaces from data (one per catalogue entry) passes the suite
    through those of them its double's drivers name; a package none of whose marketplaces
    has a driver is listed whole, and fails for want of one."""
    polled = {c.marketplace: c for c in connectors() if messages_by_api(c)}
    listed: list[Connector] = []
    for family in families().values():
        members = [m for m in family if m in polled]
        driven = [m for m in members if driver_for(m) is not None]
        listed += [polled[m] for m in driven or members]
    return listed


def driver_of(connector: Connector) -> ShopDriver:
    driver = driver_for(connector.marketplace)
    if driver is None:
        pytest.fail(
            f"{connector.marketplace} is a registered shop-API connector with no driver of its "
            "double in keybuzz_sandbox.conformance (DRIVERS): a connector is done when it "
            "passes this suite (docs/ARCHITECTURE.md, 'The conformance suite')"
        )
    return driver


def family(driver: ShopDriver) -> list[str]:
    """The registered shop-API marketplaces whose shops the driver's API serves too."""
    registered = {c.marketplace for c in shop_api_connectors()}
    return sorted(
        m for m, d in DRIVERS.items() if d.api_family == driver.api_family and m in registered
    )


@dataclass
class Stack:
    """oauth and the poller; ``restart_poller`` ends the poller and starts another on its
    database, as a crash and a restart would leave it."""

    infra: Infra
    sandbox: str
    oauth: RunningService
    poller: RunningService
    starter: Callable[..., Awaitable[RunningService]]
    poller_env: dict[str, str]
    vault: VaultClient
    admin: httpx.AsyncClient  # the sandbox

    async def restart_poller(
        self, before_start: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        settings = self.poller.runtime.settings
        await self.poller.stop()
        if before_start is not None:
            await before_start()
        self.poller = await self.starter(
            POLLER,
            DATABASE_URL=settings.database_url,
            PRODUCT_DATABASE_URL=settings.product_database_url,
            **self.poller_env,
        )


def _sandbox_spec(port: int) -> infra.ServerSpec:
    spec = infra.sandbox_spec(port, SANDBOX_TIME_SCALE)
    env = dict(spec.env)
    for driver in DRIVERS.values():
        env |= driver.sandbox_settings()
    return dataclasses.replace(spec, env=env)


@contextlib.contextmanager
def sandbox_running(root: Path, ran_for: float = 0.0) -> Iterator[str]:
    """A sandbox with every double's settings for the suite, its URL; ``ran_for``: its
    timeline anchored that many seconds ago, as a sandbox that has run that long (a
    loaded machine's start, a long suite), its clocks as far apart then."""
    spec = _sandbox_spec(infra.free_port())
    if ran_for:
        state = root / f"sandbox-state-{spec.port}"
        StateStore(str(state)).save(PersistentState(anchor=float(int(time.time() - ran_for))))
        spec = dataclasses.replace(spec, env=spec.env | {"SANDBOX_STATE_DIR": str(state)})
    server = infra.RunningServer(spec, root / f"sandbox-{spec.port}.log").start(timeout=60)
    try:
        yield spec.url
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def stack_on(
    session: Infra,
    make_database: Callable[[str], Awaitable[str]],
    nats_users: dict[str, str],
    dovecot: MailServer,
    sandbox: str,
) -> AsyncIterator[Stack]:
    """oauth and the poller pointed at ``sandbox``, on a NATS of their own (a service's
    consumers are durable by its name: on the session's NATS they would take the events of
    the services another test starts while these run), stopped on leaving."""
    env: dict[str, str] = retry_waits()
    for driver in DRIVERS.values():
        env |= driver.service_settings(sandbox)
    started: list[RunningService] = []
    with nats_running(session.root, nats_users) as nats:
        stack = dataclasses.replace(session, nats_url=nats.spec.url)

        async def start(definition: Any, **overrides: str) -> RunningService:
            service = await start_on_stack(
                stack, make_database, nats_users, definition, **overrides
            )
            started.append(service)
            return service

        vault = VaultClient(stack.vault_addr, token=DEV_VAULT_TOKEN)
        admin = httpx.AsyncClient(base_url=sandbox, timeout=15)
        try:
            oauth = await start(OAUTH, **env)
            await register_consent_apps(admin, oauth.url, vault)
            poller_env = env | POLLER_SETTINGS | dovecot.settings
            poller = await start(POLLER, **poller_env)
            yield Stack(stack, sandbox, oauth, poller, start, poller_env, vault, admin)
        finally:
            await admin.aclose()
            await vault.aclose()
            for service in reversed(started):
                with contextlib.suppress(Exception):
                    await service.stop()


@pytest.fixture(scope="session")
def conformance_sandbox(infra_root: Path) -> Iterator[str]:
    with sandbox_running(infra_root) as url:
        yield url


StackOn = Callable[[str], contextlib.AbstractAsyncContextManager[Stack]]


@pytest.fixture(scope="session")
def stacks(
    stack: Infra,
    make_database: Callable[[str], Awaitable[str]],
    nats_users: dict[str, str],
    dovecot: MailServer,
) -> StackOn:
    """``stack_on`` a sandbox's URL, on the session's servers."""
    return functools.partial(stack_on, stack, make_database, nats_users, dovecot)


@pytest.fixture(scope="session")
async def conformance(stacks: StackOn, conformance_sandbox: str) -> AsyncIterator[Stack]:
    async with stacks(conformance_sandbox) as found:
        yield found


def headers(tenant: str) -> dict[str, str]:
    token = issue_token(DEV_JWT_SECRET, "agent-1", tenants=[tenant])
    return {"Authorization": f"Bearer {token}", "X-Tenant-Id": tenant}


def new_tenant() -> str:
    return f"conf-{uuid.uuid4().hex[:10]}"


def connect_body(connector: Connector, credentials: dict[str, str]) -> dict[str, str]:
    """The connection form the connector declares, filled with ``credentials`` (by name)."""
    return {f.json_name: credentials[f.name] for f in connector.credential_fields}


async def oauth_call(
    stack: Stack, method: str, marketplace: str, path: str, tenant: str, **kwargs: Any
) -> httpx.Response:
    async with stack.oauth.client() as http:
        return await http.request(
            method,
            f"/api/v1/marketplaces/{marketplace.lower()}/{path}",
            headers=headers(tenant),
            **kwargs,
        )


async def poller_get(
    stack: Stack, tenant: str, path: str, http: httpx.AsyncClient | None = None, **params: Any
) -> Any:
    """The poller's answer to ``GET path`` as an agent of the tenant, on ``http`` (its
    connections kept for the next calls) or a client of its own."""
    if http is None:
        async with stack.poller.client() as own:
            return await poller_get(stack, tenant, path, own, **params)
    response = await http.get(path, headers=headers(tenant), params=params)
    assert response.status_code == 200, response.text
    return response.json()


@dataclass
class Connected:
    tenant: str
    marketplace: str
    shop: DoubleShop


async def consented(
    stack: Stack, connector: Connector, shop: DoubleShop, tenant: str, *, decline: bool = False
) -> httpx.Response:
    """The tenant's seller goes through the marketplace's consent as the shop's seller, in
    one browser (oauth's cookie kept from the start to the callback): the callback's JSON
    answer."""
    driver = driver_for(connector.marketplace)
    assert isinstance(driver, ConsentDriver), f"{connector.marketplace}'s driver has no consent"
    base = f"/api/v1/marketplaces/{connector.marketplace.lower()}/oauth"
    async with stack.oauth.client() as browser:
        started = await browser.post(f"{base}/start", headers=headers(tenant), json={})
        assert started.status_code == 200, started.text
        back = await driver.consent(stack.admin, started.json()["authUrl"], shop, decline=decline)
        return await browser.get(back, headers={"Accept": "application/json"})


@contextlib.asynccontextmanager
async def connected(
    stack: Stack, connector: Connector, shop: DoubleShop
) -> AsyncIterator[Connected]:
    """The shop connected through oauth for a new tenant (its typed credentials, or its
    seller's consent), disconnected afterwards."""
    tenant = new_tenant()
    if connector.redirect_flow is not None:
        answer = await consented(stack, connector, shop, tenant)
        assert answer.status_code == 200 and answer.json()["status"] == "connected", answer.text
    else:
        body = connect_body(connector, dict(shop.credentials))
        answer = await oauth_call(
            stack, "POST", connector.marketplace, "connection", tenant, json=body
        )
        assert answer.status_code == 200, answer.text
    try:
        yield Connected(tenant, connector.marketplace, shop)
    finally:
        await oauth_call(stack, "DELETE", connector.marketplace, "connection", tenant)


async def shop_status(stack: Stack, shop: Connected) -> dict[str, Any] | None:
    found = await poller_get(stack, shop.tenant, "/api/v1/poller/shops")
    return next((s for s in found if s["marketplace"] == shop.marketplace), None)


async def being_polled(stack: Stack, shop: Connected) -> bool:
    """Whether the poller holds the shop's lease now (a poll of it running)."""
    status = await shop_status(stack, shop)
    return status is not None and bool(status["polling"])


async def poll_now(stack: Stack, shop: Connected) -> None:
    """Asks the poller to poll the shop now, as an operator would (``nats req
    keybuzz.poller.poll-shop``), where what a case asserts is what a poll does, not when the
    poller polls on its own. The answer is not read: the shop's status says what came of the
    poll. A shop the poller is polling already is not asked (the asked poll would follow it,
    and a marketplace's pace would make it wait); one the poller has not heard connected yet
    (404) is asked again a moment later, unless the poller has taken it meanwhile; one the
    marketplace's pace puts off (409) once its next call is allowed. A poll refused otherwise
    leaves the case waiting for the poller's own, as it would without asking."""
    if await being_polled(stack, shop):
        return
    operator = await stack.poller.operator()
    body = msgspec.json.encode({"tenantId": shop.tenant, "marketplace": shop.marketplace})
    loop = asyncio.get_running_loop()
    unheard_until = loop.time() + UNHEARD_SHOP_SECONDS
    put_offs = 0
    while True:
        try:
            reply = await operator.request("keybuzz.poller.poll-shop", body, POLL_NOW_TIMEOUT)
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
            return
        headers = reply.headers or {}
        code, why = headers.get("Nats-Service-Error-Code"), headers.get("Nats-Service-Error", "")
        put_off = re.search(r"allows its next call in ([0-9.]+) s", why) if code == "409" else None
        if put_off and put_offs < PUT_OFF_ASKS:
            put_offs += 1
            await asyncio.sleep(float(put_off[1]))
        elif code == "404" and loop.time() < unheard_until:
            await asyncio.sleep(0.05)
            if await being_polled(stack, shop):
                return
        else:
            return


async def status_after(
    stack: Stack,
    shop: Connected,
    field: str,
    since: str | None,
    within: float | None,
    asked: bool = False,
) -> Any:
    """The shop's status once its ``field`` (``lastSuccessAt``, ``lastErrorAt``) is set
    later than ``since`` (None: set at all); ``asked``: once a poll is asked for now
    (``poll_now``), else once the poller polls on its own."""

    if asked:
        await poll_now(stack, shop)
    seen: list[dict[str, Any] | None] = [None]

    async def probe() -> dict[str, Any] | None:
        status = seen[0] = await shop_status(stack, shop)
        at = None if status is None else status[field]
        return status if at is not None and (since is None or at > since) else None

    try:
        what = f"{shop.marketplace}'s {field} after {since}"
        return await wait_for(probe, within, what, every=0.1)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; its status: {seen[0]}") from None


async def polled_since(
    stack: Stack, shop: Connected, since: str | None, within: float | None, asked: bool = False
) -> Any:
    """The shop's status once a poll succeeded after ``since`` (``asked``: see status_after)."""
    return await status_after(stack, shop, "lastSuccessAt", since, within, asked)


async def failed_since(
    stack: Stack, shop: Connected, since: str | None, within: float | None, asked: bool = False
) -> Any:
    """The shop's status once a poll failed after ``since`` (``asked``: see status_after)."""
    return await status_after(stack, shop, "lastErrorAt", since, within, asked)


async def tickets(stack: Stack, shop: Connected) -> list[dict[str, Any]]:
    """The tenant's tickets of the shop's marketplace, each with its messages (every page:
    a marketplace threading by discussion has a ticket a message), read on one client."""
    listed: list[dict[str, Any]] = []
    cursor: dict[str, str] = {}
    async with stack.poller.client() as http:
        while True:
            page = await poller_get(
                stack,
                shop.tenant,
                "/api/v1/tickets/",
                http,
                marketplace=shop.marketplace,
                limit=100,
                **cursor,
            )
            listed += page["items"]
            if not page["nextCursor"]:
                break
            cursor = {"cursor": page["nextCursor"]}
        return list(
            await asyncio.gather(
                *(
                    poller_get(stack, shop.tenant, f"/api/v1/tickets/{t['id']}", http)
                    for t in listed
                )
            )
        )


async def holds(stack: Stack, shop: Connected, message_id: str) -> bool:
    """Whether a ticket of the shop holds the message, the latest active tickets looked in
    first (a marketplace threading by discussion has a ticket a message: reading them all
    at each probe would cost more than the poll waited for)."""
    cursor: dict[str, str] = {}
    async with stack.poller.client() as http:
        while True:
            page = await poller_get(
                stack, shop.tenant, "/api/v1/tickets/", http, marketplace=shop.marketplace, **cursor
            )
            for listed in page["items"]:
                ticket = await poller_get(
                    stack, shop.tenant, f"/api/v1/tickets/{listed['id']}", http
                )
                if any(m["externalId"] == message_id for m in ticket["messages"]):
                    return True
            if not page["nextCursor"]:
                return False
            cursor = {"cursor": page["nextCursor"]}


async def stored_ids(stack: Stack, shop: Connected) -> list[str]:
    """The external id of every message stored for the shop, as often as it is stored."""
    return [m["externalId"] for t in await tickets(stack, shop) for m in t["messages"]]


async def events(stack: Stack, subject: str, tenant: str) -> list[dict[str, Any]]:
    """Every ``subject`` event of ``tenant`` on JetStream, once the poller's outbox is sent."""
    return await tenant_events(stack.poller, subject, tenant)
