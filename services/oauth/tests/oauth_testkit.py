"""Shared pieces of the oauth tests: a service wired to the sandbox, a browser, events.

Everything is real: OpenBao, PostgreSQL, NATS and the Amazon sandbox over HTTP.
Each test gets its own app source in Vault (so the redirect URI can name the
random port the service runs on) and its own tenant ids.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import hvac
import pytest
import uvicorn
from keybuzz_connector_amazon import (
    LwaClient,
    TokenService,
    outbox_reauth_reporter,
)
from keybuzz_devstack import infra
from keybuzz_devstack.testing import find_event as find_event  # the oauth tests take it here
from keybuzz_oauth.app import CALLBACK_PATH
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_sandbox.testing import ConsentForm
from keybuzz_shared.auth import issue_token
from keybuzz_shared.connectors.settings import MarketplaceSettings
from keybuzz_shared.service import ServiceDefinition
from keybuzz_shared.settings import DEV_JWT_SECRET
from nats.js import JetStreamContext

SELLER = "A12BCIS2R7HD4D"  # the sandbox's seeded FR seller
OTHER_SELLER = "A3DESELLERBENCH"  # the sandbox's benchmark seller (DE)
FR = "A13V1IB3VIYZZH"
FRONTEND = "http://frontend.test/settings/amazon"
API = "/api/v1/marketplaces/amazon"
SANDBOX_APP = {
    "client_id": "amzn1.application-oa2-client.keybuzz-sandbox",
    "client_secret": "keybuzz-sandbox-secret",
    "application_id": "amzn1.sp.solution.keybuzz-sandbox",
    "region": "eu",
    "draft": "true",
}

# Another service calling SP-API, with the orders service's Vault token and policy
# (read-only on tenant credentials): what orders and poller will run.
SPAPI_CALLER = ServiceDefinition(
    name="orders",
    description="stand-in SP-API caller (orders' Vault policy)",
    settings_type=MarketplaceSettings,
    migrations=None,
)


def root_vault(stack: Any) -> hvac.Client:
    return root_vault_at(stack.vault_addr)


def root_vault_at(addr: str) -> hvac.Client:
    return hvac.Client(url=addr, token=infra.DEV_VAULT_ROOT_TOKEN)


def read_secret(stack: Any, path: str) -> dict[str, Any] | None:
    try:
        response = root_vault(stack).secrets.kv.v2.read_secret_version(
            path=path.removeprefix("secret/"), mount_point="secret", raise_on_deleted_version=True
        )
    except hvac.exceptions.InvalidPath:
        return None
    return dict(response["data"]["data"])


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

    stack: Any
    sandbox: str
    service: Any
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


async def database_dump(pool: Any) -> str:
    """Every row of every table of the service's database, as text: what a dump would show."""
    tables = await pool.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    )
    parts = []
    for table in tables:
        rows = await pool.fetch(f'SELECT * FROM "{table["table_name"]}"')
        parts.extend(
            repr(
                {
                    k: bytes(v).decode(errors="replace") if isinstance(v, bytes) else v
                    for k, v in dict(row).items()
                }
            )
            for row in rows
        )
    assert any("marketplace_connections" == t["table_name"] for t in tables)
    return "\n".join(parts)


def frontend_result(response: httpx.Response) -> dict[str, str]:
    """The query the callback sent the browser back to the product with."""
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(FRONTEND + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def callback_query(callback_url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(callback_url).query).items()}


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


async def revoke_in_sandbox(sandbox: str, refresh_token: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            f"{sandbox}/_sandbox/revocations", json={"refreshToken": refresh_token}
        )
    assert response.status_code == 200, response.text


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
async def make_kit(
    stack: Any, sandbox_url: str, start_service: Callable[..., Awaitable[Any]]
) -> AsyncIterator[Callable[..., Awaitable[OauthKit]]]:
    kits: list[OauthKit] = []

    async def make(**overrides: str) -> OauthKit:
        source = overrides.pop("AMAZON_APP_SOURCE", f"test-{uuid.uuid4().hex[:8]}")
        vault_addr = overrides.get("VAULT_ADDR", stack.vault_addr)
        env = {
            "LWA_ENDPOINT": f"{sandbox_url}/auth/o2/token",
            "SELLER_CENTRAL_URL": sandbox_url,
            "FRONTEND_URL": FRONTEND,
            "AMAZON_APP_SOURCE": source,
            **overrides,
        }
        service = await start_service(OAUTH, **env)
        redirect_uri = service.url + CALLBACK_PATH
        await write_app(vault_addr, source, redirect_uri)
        await register_redirect(sandbox_url, redirect_uri)
        kits.append(OauthKit(stack, sandbox_url, service, source))
        return kits[-1]

    yield make
    for kit in kits:
        await kit.aclose()


@pytest.fixture
async def kit(make_kit: Callable[..., Awaitable[OauthKit]]) -> OauthKit:
    return await make_kit()


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


@dataclass
class Hold:
    """Requests matching ``method`` and ``path_part`` reach Vault; their answers wait."""

    method: str
    path_part: str
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)


class VaultGate:
    """A pass-through HTTP proxy in front of the real OpenBao that can hold chosen answers.

    Holding the answer (not the request) models a service paused right after
    Vault applied its change: the way to make a race happen in a fixed order.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        # Bound now: connections wait in the backlog until the server serves them.
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.holds: list[Hold] = []
        self.http = httpx.AsyncClient(timeout=30)
        config = uvicorn.Config(
            self._app,
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            log_config=None,  # uvicorn's own logging setup is process-wide
            access_log=False,
            interface="asgi3",
        )
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    def hold(self, method: str, path_part: str) -> Hold:
        rule = Hold(method, path_part)
        self.holds.append(rule)
        return rule

    async def start(self) -> VaultGate:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.socket]))
        return self

    async def stop(self) -> None:
        for rule in self.holds:
            rule.released.set()
        self.server.should_exit = True
        if self.task is not None:
            await asyncio.wait_for(self.task, 10)
        await self.http.aclose()

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"] + (
            f"?{scope['query_string'].decode()}" if scope["query_string"] else ""
        )
        headers = {
            k.decode(): v.decode()
            for k, v in scope["headers"]
            if k.lower() not in (b"host", b"content-length", b"connection")
        }
        answer = await self.http.request(
            scope["method"], self.upstream + path, headers=headers, content=body
        )
        for rule in self.holds:
            if scope["method"] == rule.method and rule.path_part in scope["path"]:
                rule.arrived.set()
                await rule.released.wait()
        content_type = answer.headers.get("content-type", "application/json").encode()
        await send(
            {
                "type": "http.response.start",
                "status": answer.status_code,
                "headers": [(b"content-type", content_type)],
            }
        )
        await send({"type": "http.response.body", "body": answer.content})


@pytest.fixture
async def vault_gate(stack: Any) -> AsyncIterator[VaultGate]:
    gate = await VaultGate(stack.vault_addr).start()
    try:
        yield gate
    finally:
        await gate.stop()
