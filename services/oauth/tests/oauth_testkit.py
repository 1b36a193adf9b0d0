"""Shared pieces of the oauth tests: a service wired to the sandbox, a browser, events.

Everything is real: OpenBao, PostgreSQL, NATS and the Amazon sandbox over HTTP.
Each test gets its own app source in Vault (so the redirect URI can name the
random port the service runs on) and its own tenant ids.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import hvac
import msgspec
import pytest
from keybuzz_devstack import infra
from keybuzz_oauth.app import CALLBACK_PATH
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_shared.amazon import AmazonSettings, LwaClient, TokenService, outbox_reauth_reporter
from keybuzz_shared.auth import issue_token
from keybuzz_shared.service import ServiceDefinition
from keybuzz_shared.settings import DEV_JWT_SECRET
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

SELLER = "A12BCIS2R7HD4D"  # the sandbox's seeded FR seller
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
    settings_type=AmazonSettings,
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
    """One oauth service connected to the sandbox, and what a test needs around it."""

    stack: Any
    sandbox: str
    service: Any
    app_source: str
    log: list[str] = field(default_factory=list)

    @property
    def runtime(self) -> Any:
        return self.service.runtime

    def headers(
        self, tenant: str, user: str = "user-1", tenants: list[str] | None = None
    ) -> dict[str, str]:
        token = issue_token(DEV_JWT_SECRET, user, tenants=tenants or [tenant])
        return {"Authorization": f"Bearer {token}", "X-Tenant-Id": tenant}

    async def api(self, method: str, path: str, tenant: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers(tenant), **kwargs.pop("headers", {})}
        async with self.service.client() as http:
            return await http.request(method, f"{API}{path}", headers=headers, **kwargs)

    async def start(self, tenant: str, marketplace: str | None = None) -> dict[str, Any]:
        body = {"marketplace": marketplace} if marketplace else None
        response = await self.api("POST", "/oauth/start", tenant, json=body)
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

    async def follow(self, callback_url: str, **headers: str) -> httpx.Response:
        assert callback_url.startswith(self.service.url + CALLBACK_PATH), callback_url
        async with httpx.AsyncClient(timeout=15) as browser:
            return await browser.get(callback_url, headers=headers)

    async def connect(self, tenant: str, marketplace: str | None = None) -> httpx.Response:
        """The whole browser round trip; returns the callback's answer."""
        started = await self.start(tenant, marketplace)
        return await self.follow(await self.consent(started["authUrl"]))

    async def status(self, tenant: str) -> dict[str, Any]:
        response = await self.api("GET", "/status", tenant)
        assert response.status_code == 200, response.text
        return response.json()

    async def row(self, tenant: str) -> Any:
        return await self.runtime.pool.fetchrow(
            "SELECT * FROM marketplace_connections WHERE tenant_id = $1", tenant
        )


class ConsentForm(HTMLParser):
    """The consent page's form, read the way a browser would."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    @classmethod
    def parse(cls, html: str) -> ConsentForm:
        form = cls()
        form.feed(html)
        assert form.action, "no form on the consent page"
        return form

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = values.get("action", "")
        elif tag == "input" and values.get("type") == "hidden":
            self.fields[values["name"]] = values.get("value", "")


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
) -> Callable[..., Awaitable[OauthKit]]:
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
        return OauthKit(stack, sandbox_url, service, source)

    return make


@pytest.fixture
async def kit(make_kit: Callable[..., Awaitable[OauthKit]]) -> OauthKit:
    return await make_kit()


def token_service(
    runtime: Any, kit: OauthKit, http: httpx.AsyncClient | None = None
) -> TokenService:
    """The shared token service as another service would build it, on that service's runtime."""
    lwa = LwaClient(f"{kit.sandbox}/auth/o2/token", http=http)
    return TokenService(
        runtime.vault, lwa, app_source=kit.app_source,
        on_reauth_required=outbox_reauth_reporter(runtime),
    )  # fmt: skip


class LwaCounter:
    """Counts the token responses LWA really sent (an httpx response hook, no stand-in)."""

    def __init__(self) -> None:
        self.calls = 0
        self.client = httpx.AsyncClient(timeout=10, event_hooks={"response": [self._count]})

    async def _count(self, response: httpx.Response) -> None:
        if response.request.url.path.endswith("/auth/o2/token"):
            self.calls += 1


async def find_event(
    js: JetStreamContext, subject: str, tenant: str, within: float = 10.0
) -> dict[str, Any]:
    """The event of ``subject`` about ``tenant`` on JetStream (all test runs share the stream)."""
    sub = await js.pull_subscribe(
        subject, stream="CONNECTIONS", config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    try:
        while loop.time() < deadline:
            try:
                messages = await sub.fetch(256, timeout=0.5)
            except TimeoutError:
                continue
            for msg in messages:
                body = msgspec.json.decode(msg.data)
                if body.get("tenantId") == tenant:
                    return body
    finally:
        await sub.unsubscribe()
    raise AssertionError(f"no {subject} event for {tenant} within {within}s")
