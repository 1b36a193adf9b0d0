"""For tests through the oauth service run in-process (``testing.start_service``) against
the Amazon sandbox: the service wired to it (``make_kit``), a browser connecting the
sandbox's seeded seller the way a seller does, Vault read and written as its root.

Shared by oauth's tests, the orders service's (``orders_testing``, which connects tenants
through oauth) and the connectors' folders that start either service. Unlike the rest of
the devstack it imports a service, oauth: its fixture starts it, and is written once here
rather than in each folder whose tests need it; and Amazon's token service as another
service builds it (``token_service``), asked by oauth's tests and Amazon's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import hvac
import pytest
from keybuzz_connector_amazon import LwaClient, TokenService, outbox_reauth_reporter
from keybuzz_oauth.app import CALLBACK_PATH
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_sandbox.testing import ConsentForm
from keybuzz_shared.auth import issue_token
from keybuzz_shared.connectors.settings import MarketplaceSettings
from keybuzz_shared.service import ServiceDefinition
from keybuzz_shared.settings import DEV_JWT_SECRET
from nats.js import JetStreamContext

from keybuzz_devstack import bootstrap, infra
from keybuzz_devstack.testing import Infra, RunningService

SELLER = "A12BCIS2R7HD4D"  # the sandbox's seeded FR seller
FR = "A13V1IB3VIYZZH"  # Amazon's marketplace id of France, that seller's
# FRONTEND_URL (the product's channel pages) and where Amazon's callback lands under it.
FRONTEND_PAGES = "http://frontend.test/settings"
FRONTEND = f"{FRONTEND_PAGES}/amazon"
API = "/api/v1/marketplaces/amazon"
# The sandbox's fixed app credentials, as the dev stack seeds them in Vault; each kit
# writes them again under an app source of its own, with its service's redirect URI.
SANDBOX_APP = bootstrap.SANDBOX_APP


def root_vault(stack: Infra) -> hvac.Client:
    return root_vault_at(stack.vault_addr)


def root_vault_at(addr: str) -> hvac.Client:
    return hvac.Client(url=addr, token=infra.DEV_VAULT_ROOT_TOKEN)


def tenant_path(tenant: str) -> str:
    return f"secret/keybuzz/tenants/{tenant}/amazon_spapi"


def new_tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@dataclass
class OauthKit:
    """One oauth service connected to the sandbox, and what a test needs around it.

    ``browser`` is the user's browser: it calls ``/oauth/start`` (as the
    frontend's fetch with ``credentials: "include"`` does) and follows Amazon's
    redirect, keeping the binding cookie in between like a real one.
    """

    stack: Any  # the tests' Infra, or the benchmarks' context of the same shape
    sandbox: str
    service: RunningService
    app_source: str
    log: list[str] = field(default_factory=list)
    browsers: list[httpx.AsyncClient] = field(default_factory=list)

    def new_browser(self) -> httpx.AsyncClient:
        """Another browser, with its own cookie jar (closed with the kit)."""
        browser = httpx.AsyncClient(timeout=15)
        self.browsers.append(browser)
        return browser

    @property
    def browser(self) -> httpx.AsyncClient:
        return self.browsers[0] if self.browsers else self.new_browser()

    async def aclose(self) -> None:
        for browser in self.browsers:
            await browser.aclose()

    @property
    def runtime(self) -> Any:
        return self.service.runtime

    async def operator_js(self) -> JetStreamContext:
        """JetStream as the operator: oauth's own NATS user reads no stream it does not consume."""
        return (await self.service.operator()).jetstream()

    def headers(
        self, tenant: str, user: str = "user-1", tenants: list[str] | None = None
    ) -> dict[str, str]:
        token = issue_token(DEV_JWT_SECRET, user, tenants=tenants or [tenant])
        return {"Authorization": f"Bearer {token}", "X-Tenant-Id": tenant}

    async def api(self, method: str, path: str, tenant: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers(tenant), **kwargs.pop("headers", {})}
        async with self.service.client() as http:
            return await http.request(method, f"{API}{path}", headers=headers, **kwargs)

    async def start(
        self,
        tenant: str,
        marketplace: str | None = None,
        *,
        browser: httpx.AsyncClient | None = None,
        takeover: bool = False,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"marketplace": marketplace} if marketplace else {}
        if takeover:
            body["takeover"] = True
        response = await (browser or self.browser).post(
            f"{self.service.url}{API}/oauth/start", headers=self.headers(tenant), json=body or None
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def consent(self, auth_url: str, action: str = "authorize", seller: str = SELLER) -> str:
        """Act as the seller on the consent page; returns where Amazon sends the browser."""
        async with httpx.AsyncClient(timeout=10) as browser:
            page = await browser.get(auth_url)
            assert page.status_code == 200, page.text
            form = ConsentForm.parse(page.text)
            form.fields.update({"selling_partner_id": seller, "action": action})
            answer = await browser.post(urljoin(auth_url, form.action), data=form.fields)
        assert answer.status_code == 302, answer.text
        return answer.headers["location"]

    async def follow(
        self, callback_url: str, *, browser: httpx.AsyncClient | None = None, **headers: str
    ) -> httpx.Response:
        """Amazon's redirect, followed by ``browser`` (by default the one that started)."""
        assert callback_url.startswith(self.service.url + CALLBACK_PATH), callback_url
        return await (browser or self.browser).get(callback_url, headers=headers)

    async def connect(
        self,
        tenant: str,
        marketplace: str | None = None,
        *,
        seller: str = SELLER,
        takeover: bool = False,
    ) -> httpx.Response:
        """The whole browser round trip; returns the callback's answer."""
        started = await self.start(tenant, marketplace, takeover=takeover)
        return await self.follow(await self.consent(started["authUrl"], seller=seller))

    async def status(self, tenant: str) -> dict[str, Any]:
        response = await self.api("GET", "/status", tenant)
        assert response.status_code == 200, response.text
        return response.json()

    async def row(self, tenant: str) -> Any:
        return await self.runtime.pool.fetchrow(
            "SELECT * FROM marketplace_connections WHERE tenant_id = $1", tenant
        )


async def write_app(vault_addr: str, source: str, redirect_uri: str) -> None:
    await asyncio.to_thread(
        root_vault_at(vault_addr).secrets.kv.v2.create_or_update_secret,
        path=f"keybuzz/amazon_spapi/app/{source}",
        secret={**SANDBOX_APP, "redirect_uri": redirect_uri},
        mount_point="secret",
    )


async def register_redirect(sandbox: str, uri: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(f"{sandbox}/_sandbox/redirect-uris", json={"uri": uri})
    assert response.status_code == 201, response.text


@contextlib.asynccontextmanager
async def kits_made(
    stack: Infra, sandbox_url: str, start_service: Callable[..., Awaitable[RunningService]]
) -> AsyncIterator[Callable[..., Awaitable[OauthKit]]]:
    """``make``: an oauth service started with ``start_service``, its app source in Vault
    naming its redirect URI (the random port it runs on), which the sandbox accepts."""
    kits: list[OauthKit] = []

    async def make(**overrides: str) -> OauthKit:
        source = overrides.pop("AMAZON_APP_SOURCE", f"test-{uuid.uuid4().hex[:8]}")
        vault_addr = overrides.get("VAULT_ADDR", stack.vault_addr)
        env = {
            "LWA_ENDPOINT": f"{sandbox_url}/auth/o2/token",
            "SELLER_CENTRAL_URL": sandbox_url,
            "FRONTEND_URL": FRONTEND_PAGES,
            "AMAZON_APP_SOURCE": source,
            **overrides,
        }
        service = await start_service(OAUTH, **env)
        redirect_uri = service.url + CALLBACK_PATH
        await write_app(vault_addr, source, redirect_uri)
        await register_redirect(sandbox_url, redirect_uri)
        kits.append(OauthKit(stack, sandbox_url, service, source))
        return kits[-1]

    try:
        yield make
    finally:
        for kit in kits:
            await kit.aclose()


@pytest.fixture
async def make_kit(
    stack: Infra, sandbox_url: str, start_service: Callable[..., Awaitable[RunningService]]
) -> AsyncIterator[Callable[..., Awaitable[OauthKit]]]:
    """``await make_kit(SOME_SETTING="x")``: an oauth service of the test's own
    (``kits_made``)."""
    async with kits_made(stack, sandbox_url, start_service) as make:
        yield make


@pytest.fixture(scope="module")
async def make_module_kit(
    stack: Infra,
    sandbox_url: str,
    start_module_service: Callable[..., Awaitable[RunningService]],
) -> AsyncIterator[Callable[..., Awaitable[OauthKit]]]:
    """``make_kit`` for an oauth service a module's tests share (``start_module_service``)."""
    async with kits_made(stack, sandbox_url, start_module_service) as make:
        yield make


def read_secret(stack: Any, path: str) -> dict[str, Any] | None:
    try:
        response = root_vault(stack).secrets.kv.v2.read_secret_version(
            path=path.removeprefix("secret/"), mount_point="secret", raise_on_deleted_version=True
        )
    except hvac.exceptions.InvalidPath:
        return None
    return dict(response["data"]["data"])


async def revoke_in_sandbox(sandbox: str, refresh_token: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            f"{sandbox}/_sandbox/revocations", json={"refreshToken": refresh_token}
        )
    assert response.status_code == 200, response.text


# Another service calling SP-API, with the orders service's Vault token and policy
# (read-only on tenant credentials): what orders and poller will run.
SPAPI_CALLER = ServiceDefinition(
    name="orders",
    description="stand-in SP-API caller (orders' Vault policy)",
    settings_type=MarketplaceSettings,
    migrations=None,
)


def frontend_result(response: httpx.Response) -> dict[str, str]:
    """The query the callback sent the browser back to the product with."""
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(FRONTEND + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


class LwaFaults:
    """Make the sandbox's LWA token endpoint fail the next calls (its ``failNext`` faults)."""

    def __init__(self, sandbox: str) -> None:
        self.url = f"{sandbox}/_sandbox/faults"
        self.http = httpx.AsyncClient(timeout=10)

    async def fail_next(self, count: int, status: int) -> None:
        faults = {"failNext": count, "failStatus": status, "operations": ["lwaToken"]}
        response = await self.http.put(self.url, json=faults)
        assert response.status_code == 200, response.text

    async def left(self) -> int:
        """How many of the armed failures LWA has not answered yet."""
        return int((await self.http.get(self.url)).json()["failNext"])

    async def clear(self) -> None:
        assert (await self.http.delete(self.url)).status_code == 204


@pytest.fixture
async def lwa_faults(sandbox_url: str) -> AsyncIterator[LwaFaults]:
    """Cleared afterwards, whatever the test did: the sandbox process serves the whole session."""
    faults = LwaFaults(sandbox_url)
    try:
        yield faults
    finally:
        await faults.clear()
        await faults.http.aclose()


@pytest.fixture
async def kit(make_kit: Callable[..., Awaitable[OauthKit]]) -> OauthKit:
    return await make_kit()


@contextlib.asynccontextmanager
async def fresh(module_kit: OauthKit) -> AsyncIterator[OauthKit]:
    """A module's oauth service as a test's own would be: no state, no connection, a browser
    with no cookie of another test's (tests connect the sandbox's same sellers and shops,
    and one held by a tenant is refused to another)."""
    await module_kit.runtime.pool.execute("TRUNCATE oauth_states, marketplace_connections CASCADE")
    kit = OauthKit(module_kit.stack, module_kit.sandbox, module_kit.service, module_kit.app_source)
    try:
        yield kit
    finally:
        await kit.aclose()


@pytest.fixture(scope="module")
async def module_kit(make_module_kit: Callable[..., Awaitable[OauthKit]]) -> OauthKit:
    """The oauth service a module's tests share (``shared_kit``): its start is most of a
    short test's time."""
    return await make_module_kit()


@pytest.fixture
async def shared_kit(module_kit: OauthKit) -> AsyncIterator[OauthKit]:
    """``module_kit``, ``fresh`` for the test: ``kit`` for a test that needs no setting of
    its own."""
    async with fresh(module_kit) as kit:
        yield kit


def token_service(
    runtime: Any, kit: OauthKit, http: httpx.AsyncClient | None = None
) -> TokenService:
    """The shared token service as another service would build it, on that service's runtime."""
    lwa = LwaClient(f"{kit.sandbox}/auth/o2/token", http=http)
    return TokenService(
        runtime.vault,
        lwa,
        app_source=kit.app_source,
        on_reauth_required=outbox_reauth_reporter(runtime),
    )


class LwaCounter:
    """Counts the token responses LWA really sent (an httpx response hook, no stand-in)."""

    def __init__(self) -> None:
        self.calls = 0
        self.client = httpx.AsyncClient(timeout=10, event_hooks={"response": [self._count]})

    async def _count(self, response: httpx.Response) -> None:
        if response.request.url.path.endswith("/auth/o2/token"):
            self.calls += 1
