"""The development console driven in a real headless Chromium, against real services.

Debian's ``chromium`` (``make install`` installs it) driven by Playwright for
Python, pointed at that executable: no browser download. The four services run
in-process on the test fixtures (their own NATS, fresh databases, the session's
OpenBao, Dovecot and Amazon sandbox), the console on a free port. The browser
talks to the console, the sandbox's consent page and the oauth callback only,
as a seller's browser does. With ``KEYBUZZ_TEST_SCREENSHOTS=1``, a screenshot of each step
goes to ``.artifacts/console/NN-step.png`` (git-ignored).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import hvac
import pytest
import uvicorn
from keybuzz_devstack import bootstrap, infra
from keybuzz_devstack.console.app import create_app
from keybuzz_devstack.console.settings import CHANNEL_PAGES, channel_page, load_console_settings
from keybuzz_devstack.system_packages import chromium_binary
from keybuzz_devstack.testing import (
    NOWHERE,
    Infra,
    MailServer,
    RunningService,
    ThrowawayConnector,
    eventually,
)
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_orders.service import DEFINITION as ORDERS
from keybuzz_poller.service import DEFINITION as POLLER
from keybuzz_sandbox.conformance import ConsentDriver, driver_for
from keybuzz_sandbox.doubles import doubles
from keybuzz_shared.auth import issue_token
from keybuzz_shared.connectors.registry import registered
from keybuzz_shared.settings import DEV_JWT_SECRET
from keybuzz_tenant_sync.service import DEFINITION as TENANT_SYNC

# playwright imported where it is used: every test worker imports every test module
# (~0.15 s of CPU each), one runs these.
if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

CHROMIUM = chromium_binary()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed (`make install` installs it: "
    "python -m keybuzz_devstack install-system-packages)",
)

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / ".artifacts" / "console"
SELLER = "A12BCIS2R7HD4D"  # the sandbox's seeded FR seller: 94 orders over 90 days
CALLBACK_PATH = "/api/v1/marketplaces/amazon/oauth/callback"
EBAY_CALLBACK_PATH = "/api/v1/marketplaces/ebay/oauth/callback"
# Generous: two cores shared by several test runs (a step usually takes well under 5 s).
STEP_MS = 60_000

StartService = Callable[..., Awaitable[RunningService]]


@dataclass
class Console:
    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.server.should_exit = True
        await asyncio.wait_for(self.task, 30)


@contextlib.asynccontextmanager
async def running_console(environ: dict[str, str]) -> AsyncIterator[Console]:
    """The console app under uvicorn in this event loop, as ``python -m`` would run it."""
    settings = load_console_settings(environ)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=settings.http_port, log_config=None
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the console exited during start-up")
        await asyncio.sleep(0.05)
    console = Console(f"http://127.0.0.1:{settings.http_port}", server, task)
    try:
        yield console
    finally:
        await console.stop()


@pytest.fixture(scope="module")
async def chromium() -> AsyncIterator[Browser]:
    """One Chromium for the module's tests: Playwright's and Chromium's start took ~6 s of
    each test on a loaded machine."""
    from playwright.async_api import async_playwright

    assert CHROMIUM is not None
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def browser(chromium: Browser) -> AsyncIterator[Browser]:
    """The module's Chromium; the test's pages (each in a browser context of its own,
    ``new_page``) closed at its end, as a browser of the test's own would be."""
    yield chromium
    for context in chromium.contexts:
        await context.close()


async def screenshot(page: Page, name: str) -> None:
    """The step's screenshot, when asked for (``KEYBUZZ_TEST_SCREENSHOTS=1``): nothing is
    asserted on it, and a full page's PNG costs a loaded machine a second or more."""
    if os.environ.get("KEYBUZZ_TEST_SCREENSHOTS") != "1":
        return
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def seed_product(make_database: Callable[[str], Awaitable[str]], tenant: str) -> str:
    """Seed 004's tenants plus one of this test's own (a fresh mail folder, no history)."""
    product = await make_database("product")
    await bootstrap.seed_product_database(product)
    conn = await asyncpg.connect(product)
    try:
        await conn.execute(
            "INSERT INTO tenants (id, name, plan, status, country)"
            " VALUES ($1, 'Console Demo Shop', 'pro', 'active', 'FR')",
            tenant,
        )
    finally:
        await conn.close()
    return product


async def register_sandbox_app(stack: Infra, sandbox: str, source: str, redirect: str) -> None:
    """The app credentials oauth reads (its own source) and the redirect the sandbox accepts."""
    app = {**bootstrap.SANDBOX_APP, "redirect_uri": redirect}
    vault = hvac.Client(url=stack.vault_addr, token=infra.DEV_VAULT_ROOT_TOKEN)
    await asyncio.to_thread(
        vault.secrets.kv.v2.create_or_update_secret,
        path=f"keybuzz/amazon_spapi/app/{source}",
        secret=app,
        mount_point="secret",
    )
    async with httpx.AsyncClient(base_url=sandbox, timeout=10) as http:
        assert (
            await http.post("/_sandbox/redirect-uris", json={"uri": redirect})
        ).status_code == 201
        assert (await http.delete("/_sandbox/faults")).status_code == 204
        # Other tests share the seeded seller's token buckets: start with them full.
        assert (await http.post("/_sandbox/ratelimits/reset")).status_code in (200, 201, 204)


@needs_chromium
@pytest.mark.timeout(300)
async def test_a_seller_connects_amazon_and_sees_orders_and_tickets_in_the_console(
    stack: Infra,
    private_nats: infra.RunningServer,
    sandbox_url: str,
    dovecot: MailServer,
    start_service: StartService,
    make_database: Callable[[str], Awaitable[str]],
    browser: Browser,
) -> None:
    tenant = f"demo-{uuid.uuid4().hex[:8]}"
    product = await seed_product(make_database, tenant)
    backend = await make_database("console")
    console_port, mx_port, source = infra.free_port(), infra.free_port(), f"console-{tenant}"
    common = {
        "NATS_URL": private_nats.spec.url,  # no other test's connection.connected
        "DATABASE_URL": backend,
        "PRODUCT_DATABASE_URL": product,
        "LWA_ENDPOINT": f"{sandbox_url}/auth/o2/token",
        "SPAPI_ENDPOINT": sandbox_url,
        "SELLER_CENTRAL_URL": sandbox_url,
        "AMAZON_APP_SOURCE": source,
    }
    console_url = f"http://127.0.0.1:{console_port}"
    oauth = await start_service(OAUTH, FRONTEND_URL=console_url + CHANNEL_PAGES, **common)
    await register_sandbox_app(stack, sandbox_url, source, oauth.url + CALLBACK_PATH)
    services = {
        "oauth": oauth,
        "tenant-sync": await start_service(TENANT_SYNC, **common),
        "orders": await start_service(ORDERS, **common),
        "poller": await start_service(
            POLLER, MX_PORT=str(mx_port), POLL_INTERVAL_SECONDS="2", **dovecot.settings, **common
        ),
    }
    environ = {
        "CONSOLE_PORT": str(console_port),
        "DATABASE_URL": backend,
        "PRODUCT_DATABASE_URL": product,
        "CONSOLE_SANDBOX_URL": sandbox_url,
        "MX_PORT": str(mx_port),
        **{f"CONSOLE_{n.replace('-', '_').upper()}_URL": s.url for n, s in services.items()},
    }
    async with running_console(environ) as console:
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await walk_through(page, console.url, sandbox_url, tenant)
        await page.close()


async def walk_through(page: Page, console: str, sandbox: str, tenant: str) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=STEP_MS)
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    page.on("console", lambda m: print("browser console:", m.type, m.text))  # shown on failure
    # 1. The console lists the product's tenants.
    await page.goto(console)
    await expect(page.get_by_role("heading", name="KeyBuzz console")).to_be_visible()
    await expect(page.locator("#tenant option[value='ecomlg-001']")).to_have_count(1)
    await screenshot(page, "01-tenants")

    # 2. Pick ours: not synced, not connected; sync it → an inbound address.
    await page.get_by_role("combobox", name="Tenant").select_option(tenant)
    await expect(page.locator("#amazon-status")).to_have_text("NOT_CONNECTED")
    await expect(page.locator("#tenant-details")).to_contain_text("not synced yet")
    await page.get_by_role("button", name="Sync tenant and create its inbound address").click()
    address = re.compile(rf"amazon\.{tenant}\.fr\.\S+@inbound\.keybuzz\.test")
    await expect(page.locator("#tenant-details")).to_contain_text(address)
    await screenshot(page, "02-tenant-synced")

    # 3. Connect Amazon → Seller Central's consent page (the sandbox).
    await page.get_by_role("button", name="Connect Amazon").click()
    await page.wait_for_url(f"{sandbox}/apps/authorize/consent?**", timeout=STEP_MS)
    await expect(page.get_by_role("heading", name=re.compile("^Authorize"))).to_be_visible()
    await page.get_by_label("Selling account").select_option(SELLER)
    await screenshot(page, "03-consent")

    # 4. Authorize → the oauth callback → back on the console: CONNECTED.
    await page.get_by_role("button", name="Authorize").click()
    await page.wait_for_url(f"{console}{channel_page('amazon')}?status=connected", timeout=STEP_MS)
    await expect(page.locator("#outcome")).to_contain_text("Amazon connected")
    await expect(page.locator("#amazon-status")).to_have_text("CONNECTED")
    await expect(page.locator("#amazon-details")).to_contain_text(SELLER)
    await screenshot(page, "04-connected")

    # 5. The backfill started by connection.connected runs to the end; orders appear.
    await expect(page.locator("#backfill-status")).to_have_text("COMPLETED")
    await expect(page.locator("#backfill-details")).to_contain_text(
        re.compile(r"9[4-9] \(9[4-9] new")
    )
    await expect(page.locator("#backfill-progress")).to_have_js_property("value", 1)
    await expect(page.locator("#orders tbody tr")).to_have_count(25)
    await expect(page.locator("#orders-summary")).to_contain_text("25+ orders")
    await screenshot(page, "05-backfill-and-orders")
    first_order = (await page.locator("#orders tbody tr button").first.inner_text()).strip()
    await page.locator("#orders tbody tr button").first.click()
    await expect(page.locator("#order-detail h3")).to_have_text(f"Order {first_order}")
    await expect(page.locator("#order-detail li").first).to_contain_text("×")
    await screenshot(page, "06-order-detail")

    # 6. A buyer writes (relayed by the sandbox to the inbound address) → a ticket.
    await expect(page.locator("#tickets-summary")).to_contain_text("No tickets yet")
    await page.get_by_role("button", name="Ask the sandbox to send a buyer message").click()
    # The hint lasts until the next refresh, which may already show the ticket (pushed in 0.1 s).
    await expect(page.locator("#tickets-summary")).to_contain_text(
        re.compile(r"relayed 1 buyer message|^1 ticket")
    )
    await page.get_by_role("button", name="Poll the mailbox now").click()
    await expect(page.locator("#tickets li")).to_have_count(1)
    await expect(page.locator("#tickets li")).to_contain_text("1 message,")
    await page.locator("#tickets li button").click()
    message = page.locator("#ticket-detail article.message.inbound")
    await expect(message).to_have_count(1)
    await expect(message).to_contain_text("received")
    # It came through the MX: the console shows how long it took to become a ticket.
    await expect(message.locator(".lag")).to_contain_text(
        re.compile(r"arrived \d+(\.\d+)? s after the MX accepted it")
    )
    await expect(page.locator("#ticket-detail")).to_contain_text(re.compile(r"\d{3}-\d{7}-\d{7}"))
    # What it is about and in which language (the site's, for a relayed mail).
    await expect(page.locator("#tickets li .badge.topic")).to_have_count(1)
    await expect(page.locator("#tickets li .badge.language")).to_have_text(
        re.compile(r"^[a-z]{2,3}$")
    )
    await expect(page.locator("#ticket-detail dl")).to_contain_text(
        re.compile(r"Topic.+\((the marketplace's|read from the buyer's words)\)")
    )
    await expect(page.locator("#ticket-detail dl")).to_contain_text(
        re.compile(r"Language[a-z]{2,3} \(the marketplace's\)")
    )
    await screenshot(page, "07-ticket")

    # 7. The buyer waits for an answer: the deadline shows, and the queue sorts by it.
    await expect(page.locator("#tickets li .deadline")).to_contain_text(
        re.compile(r"AWAITING_REPLY · answer by ")
    )
    await expect(page.locator("#ticket-detail .response")).to_contain_text("AWAITING_REPLY")
    await expect(page.locator("#ticket-detail .mark")).to_contain_text("Amazon")
    await page.locator("#ticket-sort").select_option("respondBy")
    await expect(page.locator("#tickets-summary")).to_contain_text("soonest deadline first")
    await expect(page.locator("#tickets li")).to_have_count(1)
    await screenshot(page, "08-deadline")
    await page.get_by_role("button", name="No response needed").click()
    await expect(page.locator("#ticket-detail .response")).to_contain_text("NO_RESPONSE_NEEDED")
    await expect(page.locator("#tickets li")).to_have_count(0)  # no deadline left to sort by
    await page.locator("#ticket-sort").select_option("lastMessageAt")
    await expect(page.locator("#tickets li .deadline")).to_contain_text("NO_RESPONSE_NEEDED")
    await screenshot(page, "09-no-response-needed")

    # 8. Each ticket says its marketplace, and the list shows one marketplace's.
    await expect(page.locator("#tickets li .marketplace")).to_have_text("Amazon")
    await page.locator("#ticket-marketplace").select_option("FNAC")
    await expect(page.locator("#tickets-summary")).to_have_text("No tickets on Fnac.")
    await expect(page.locator("#tickets li")).to_have_count(0)
    await page.locator("#ticket-marketplace").select_option("AMAZON")
    await expect(page.locator("#tickets-summary")).to_contain_text("1 ticket on Amazon")
    await expect(page.locator("#tickets li")).to_have_count(1)
    await screenshot(page, "10-marketplace-filter")

    # 9. The list by topic and language (the tickets API's ?topic= and ?language=).
    topic = await page.locator("#tickets li .badge.topic").inner_text()
    language = await page.locator("#tickets li .badge.language").inner_text()
    other_topic = "invoice request" if topic != "invoice request" else "cancellation"
    await page.locator("#ticket-topic").select_option(label=other_topic)
    await expect(page.locator("#tickets-summary")).to_have_text(
        f"No tickets on Amazon, about {other_topic}."
    )
    await expect(page.locator("#tickets li")).to_have_count(0)
    await page.locator("#ticket-topic").select_option(label=topic)
    await expect(page.locator("#tickets li")).to_have_count(1)
    await expect(page.locator("#tickets-summary")).to_contain_text(
        f"1 ticket on Amazon, about {topic}"
    )
    other_language = "de" if language != "de" else "fr"
    await page.locator("#ticket-language").select_option(other_language)
    await expect(page.locator("#tickets-summary")).to_have_text(
        f"No tickets on Amazon, about {topic}, in {other_language}."
    )
    await expect(page.locator("#tickets li")).to_have_count(0)
    await page.locator("#ticket-language").select_option(language)
    await expect(page.locator("#tickets li")).to_have_count(1)
    await expect(page.locator("#tickets li .badge.language")).to_have_text(language)
    await page.locator("#ticket-marketplace").select_option("")
    await page.locator("#ticket-topic").select_option("")
    await expect(page.locator("#tickets-summary")).to_contain_text(f"1 ticket in {language}")
    await screenshot(page, "11-topic-and-language-filters")
    for panel in ("tenant", "amazon", "backfill", "orders", "tickets"):
        await expect(page.locator(f"#{panel}-error")).to_be_hidden()
    assert script_errors == []


@pytest.fixture
def throwaway() -> Iterator[ThrowawayConnector]:
    """A marketplace of no package, registered for the test: the console shows it too."""
    connector = ThrowawayConnector()
    with registered(connector):
        yield connector


@needs_chromium
@pytest.mark.timeout(180)
async def test_a_seller_connects_a_fnac_shop_with_its_key_in_the_console(
    throwaway: ThrowawayConnector,
    stack: Infra,
    sandbox_url: str,
    start_service: StartService,
    make_database: Callable[[str], Awaitable[str]],
    browser: Browser,
) -> None:
    """Only oauth runs: the console's buttons and forms are oauth's catalogue (a connector
    registered by the test included); the form posts the shop's credentials, Fnac (the
    double) checks them."""
    from playwright.async_api import expect

    tenant = f"demo-{uuid.uuid4().hex[:8]}"
    product = await seed_product(make_database, tenant)
    oauth = await start_service(OAUTH, FNAC_API_URL=f"{sandbox_url}/fnac/api.php/")
    async with httpx.AsyncClient(timeout=10) as http:
        shops = (await http.get(f"{sandbox_url}/_sandbox/fnac/shops")).json()
    fnac = next(s for s in shops if s["marketplace"] == "FNAC")
    async with oauth.client() as http:
        token = issue_token(DEV_JWT_SECRET, "u", tenants=[tenant])
        headers = {"Authorization": f"Bearer {token}", "X-Tenant-Id": tenant}
        catalogue = (await http.get("/api/v1/marketplaces", headers=headers)).json()["marketplaces"]
    port = infra.free_port()
    environ = {
        "CONSOLE_PORT": str(port),
        "PRODUCT_DATABASE_URL": product,
        "DATABASE_URL": await make_database("console"),
        "CONSOLE_OAUTH_URL": oauth.url,
        **{f"CONSOLE_{n}_URL": NOWHERE for n in ("ORDERS", "POLLER", "TENANT_SYNC")},
    }
    async with running_console(environ) as console:
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        expect.set_options(timeout=STEP_MS)
        script_errors: list[str] = []
        page.on("pageerror", lambda error: script_errors.append(str(error)))
        page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await page.goto(console.url)
        await page.get_by_role("combobox", name="Tenant").select_option(tenant)
        await expect(page.locator("#fnac-status")).to_have_text("NOT_CONNECTED")
        await expect(page.locator("#darty-status")).to_have_text("NOT_CONNECTED")

        # The buttons and forms are the catalogue's: one per marketplace, a credential
        # form's inputs the connector's declared fields (a secret one hidden).
        for entry in catalogue:
            name = f"Connect {entry['displayName']}"
            await expect(page.get_by_role("button", name=name, exact=True)).to_have_count(1)
        assert throwaway.display_name in [m["displayName"] for m in catalogue]
        other = page.locator(f"#{throwaway.marketplace.lower()}-form")
        for field in throwaway.credential_fields:
            typed = other.get_by_label(field.label, exact=True)
            await expect(typed).to_have_attribute("name", field.json_name)
        form = page.locator("#fnac-form")
        fields = next(m for m in catalogue if m["marketplace"] == "fnac")["fields"]
        await expect(form.locator("input")).to_have_count(len(fields))
        for field in fields:
            typed = form.get_by_label(field["label"], exact=True)
            await expect(typed).to_have_attribute("name", field["name"])
            await expect(typed).to_have_attribute("type", "password" if field["secret"] else "text")

        # A wrong key: Fnac refuses, the form says so, nothing is connected.
        await form.get_by_label("Partner ID").fill(fnac["partner_id"])
        await form.get_by_label("Shop ID").fill(fnac["shop_id"])
        await form.get_by_label("API key").fill("not-the-key")
        await form.get_by_role("button", name="Connect Fnac").click()
        await expect(page.locator("#fnac-error")).to_contain_text("422: Fnac refused these")
        await expect(page.locator("#fnac-status")).to_have_text("NOT_CONNECTED")
        # The page's refresh (it runs after every action, and every few seconds) leaves it said.
        await page.evaluate("refresh()")
        await expect(page.locator("#fnac-error")).to_contain_text("422: Fnac refused these")
        await screenshot(page, "20-fnac-refused")

        # The shop's key: CONNECTED, and the key is gone from the page.
        await form.get_by_label("API key").fill(fnac["key"])
        await form.get_by_role("button", name="Connect Fnac").click()
        await expect(page.locator("#outcome")).to_contain_text(f"FNAC shop {fnac['shop_id']}")
        await expect(page.locator("#fnac-status")).to_have_text("CONNECTED")
        await expect(page.locator("#fnac-details")).to_contain_text("verified")
        await expect(page.locator("#fnac-error")).to_be_hidden()
        await expect(form.get_by_label("API key")).to_have_value("")
        assert fnac["key"] not in await page.content()
        await screenshot(page, "21-fnac-connected")

        # Disconnect (after the confirmation dialog): the key leaves Vault.
        await page.locator("#fnac-disconnect").click()
        await expect(page.locator("#fnac-status")).to_have_text("DISCONNECTED")
        vault = hvac.Client(url=stack.vault_addr, token=infra.DEV_VAULT_ROOT_TOKEN)
        with pytest.raises(hvac.exceptions.InvalidPath):
            vault.secrets.kv.v2.read_secret_version(
                path=f"keybuzz/tenants/{tenant}/fnac_api", mount_point="secret"
            )
        await screenshot(page, "22-fnac-disconnected")
        assert script_errors == []
        await page.close()


@needs_chromium
async def test_the_console_shows_errors_instead_of_a_blank_page(
    make_database: Callable[[str], Awaitable[str]],
    browser: Browser,
) -> None:
    """Services down and a failed consent: every panel says what is wrong, in words."""
    from playwright.async_api import expect

    tenant = f"demo-{uuid.uuid4().hex[:8]}"
    product = await seed_product(make_database, tenant)
    port = infra.free_port()
    environ: dict[str, Any] = {
        "CONSOLE_PORT": str(port),
        "PRODUCT_DATABASE_URL": product,
        "DATABASE_URL": await make_database("console"),
        **{f"CONSOLE_{n}_URL": NOWHERE for n in ("OAUTH", "ORDERS", "POLLER", "TENANT_SYNC")},
    }
    async with running_console(environ) as console:
        page = await browser.new_page()
        expect.set_options(timeout=STEP_MS)
        await page.goto(f"{console.url}{channel_page('amazon')}?status=error&reason=access_denied")
        # oauth is down: no catalogue, so the marketplace is named by the landing's path.
        await expect(
            page.get_by_role("alert").filter(has_text="amazon connection failed")
        ).to_contain_text("the seller cancelled on amazon's consent page")
        await page.get_by_role("combobox", name="Tenant").select_option(tenant)
        await expect(page.locator("#connections-error")).to_contain_text(
            re.compile(r"502: oauth \(http://127\.0\.0\.1:9\) did not answer")
        )
        await expect(page.locator("#tickets-error")).to_contain_text("poller")
        await expect(page.locator("#connections button")).to_have_count(0)
        await screenshot(page, "90-services-down")
        await page.close()


async def test_the_proxy_mints_the_token_and_refuses_what_it_cannot_forward(
    make_database: Callable[[str], Awaitable[str]],
) -> None:
    """Without a browser: tenant header required, dot segments and unknown services refused."""
    port = infra.free_port()
    environ = {
        "CONSOLE_PORT": str(port),
        "PRODUCT_DATABASE_URL": f"{NOWHERE.replace('http', 'postgresql')}/keybuzz",
        "DATABASE_URL": await make_database("console"),
        "CONSOLE_OAUTH_URL": NOWHERE,
    }
    async with running_console(environ) as console, httpx.AsyncClient(base_url=console.url) as http:
        status = "/api/oauth/v1/marketplaces/amazon/status"
        assert (await http.get(status)).json()["message"].startswith("pick a tenant first")
        assert (await http.get(status, headers={"X-Tenant-Id": "bad id"})).status_code == 400
        down = await http.get(status, headers={"X-Tenant-Id": "kbz-001"})
        assert down.status_code == 502 and "oauth" in down.json()["message"]
        assert (await http.get("/api/billing/v1/x")).status_code == 404
        climb = await raw_get(port, "/api/oauth/v1/../../metrics")  # as curl --path-as-is
        assert climb.startswith(b"HTTP/1.1 400 ") and b"'..' segments" in climb
        tenants = await http.get("/api/console/tenants")  # the product database is down
        assert tenants.status_code == 503 and "product database" in tenants.json()["message"]
        local = await http.get(f"http://localhost:{port}/settings/channels/amazon?status=connected")
        assert local.status_code in (301, 302, 307, 308)
        assert local.headers["location"] == (
            f"http://127.0.0.1:{port}/settings/channels/amazon?status=connected"
        )


async def raw_get(port: int, path: str) -> bytes:
    """A request line sent byte for byte: HTTP clients resolve dot segments themselves."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Tenant-Id: kbz-001\r\n"
    writer.write(request.encode() + b"Connection: close\r\n\r\n")
    answer = await reader.read()
    writer.close()
    return answer


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_the_console_refuses_to_start_where_real_sellers_are(environment: str) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "keybuzz_devstack.console"],
        env={"KEYBUZZ_ENV": environment, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert f"refused when KEYBUZZ_ENV={environment}" in result.stderr


def test_the_dev_stack_runs_the_console_where_the_oauth_callback_lands() -> None:
    from keybuzz_devstack import stack

    parts, shared = stack.plan_parts({})
    [console] = [p for p in parts if p.name == "console"]
    assert shared["FRONTEND_URL"] == stack.CONSOLE_URL + CHANNEL_PAGES
    assert (
        console.listen == stack.CONSOLE_URL and console.ready_url == f"{stack.CONSOLE_URL}/health"
    )
    assert console.env["CONSOLE_PORT"] == str(stack.CONSOLE_PORT)
    assert console.env["CONSOLE_OAUTH_URL"] == f"http://127.0.0.1:{stack.SERVICES['oauth']}"
    assert shared["FNAC_API_URL"] == f"{stack.SANDBOX_URL}/fnac/api.php/"  # the Fnac double
    # It mints tokens for any tenant: not part of a production-like stack.
    parts, _ = stack.plan_parts({"KEYBUZZ_ENV": "staging"})
    assert "console" not in [p.name for p in parts]


async def register_ebay_app(stack: Infra, sandbox: str, source: str, callback: str) -> None:
    """eBay's app as oauth reads it (its own source), our callback registered with it at
    the double (its conformance driver's consent app)."""
    driver = driver_for("EBAY")
    assert isinstance(driver, ConsentDriver)
    async with httpx.AsyncClient(base_url=sandbox, timeout=10) as http:
        app = await driver.consent_app(http, callback)
    vault = hvac.Client(url=stack.vault_addr, token=infra.DEV_VAULT_ROOT_TOKEN)
    await asyncio.to_thread(
        vault.secrets.kv.v2.create_or_update_secret,
        path=f"{app.path.removeprefix('secret/')}/{source}",
        secret=dict(app.fields),
        mount_point="secret",
    )


@needs_chromium
@pytest.mark.timeout(240)
async def test_a_seller_connects_ebay_by_consent_in_the_console_and_a_buyer_is_answered(
    stack: Infra,
    private_nats: infra.RunningServer,
    sandbox_url: str,
    dovecot: MailServer,
    start_service: StartService,
    make_database: Callable[[str], Awaitable[str]],
    browser: Browser,
) -> None:
    """oauth and the poller on the eBay double: the seller connects eBay in Chromium through
    the double's consent page, a buyer's message becomes a ticket the console shows, and
    the agent's reply is on the conversation in the double."""
    from playwright.async_api import expect

    tenant = f"demo-{uuid.uuid4().hex[:8]}"
    product = await seed_product(make_database, tenant)
    backend = await make_database("console")
    console_port, source = infra.free_port(), f"console-{tenant}"
    console_url = f"http://127.0.0.1:{console_port}"
    common = {
        "NATS_URL": private_nats.spec.url,
        "DATABASE_URL": backend,
        "PRODUCT_DATABASE_URL": product,
        **doubles()["ebay"].service_env(sandbox_url),
        "EBAY_APP_SOURCE": source,
        # Also a poll's deadline: 5 s, so that a busy machine's first poll is not cut each time.
        "EBAY_POLL_INTERVAL_SECONDS": "5",
        "EBAY_FIRST_POLL_DAYS": "1",
    }
    oauth = await start_service(OAUTH, FRONTEND_URL=console_url + CHANNEL_PAGES, **common)
    await register_ebay_app(stack, sandbox_url, source, f"{oauth.url}{EBAY_CALLBACK_PATH}")
    poller = await start_service(
        POLLER, MX_PORT=str(infra.free_port()), **dovecot.settings, **common
    )
    environ = {
        "CONSOLE_PORT": str(console_port),
        "DATABASE_URL": backend,
        "PRODUCT_DATABASE_URL": product,
        "CONSOLE_OAUTH_URL": oauth.url,
        "CONSOLE_POLLER_URL": poller.url,
        **{f"CONSOLE_{n}_URL": NOWHERE for n in ("ORDERS", "TENANT_SYNC")},
    }
    async with running_console(environ) as console:
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        expect.set_options(timeout=STEP_MS)
        await page.goto(console.url)
        await page.get_by_role("combobox", name="Tenant").select_option(tenant)
        await expect(page.locator("#ebay-status")).to_have_text("NOT_CONNECTED")
        await page.get_by_role("button", name="Connect eBay", exact=True).click()
        await page.wait_for_url(f"{sandbox_url}/ebay/oauth2/authorize?**", timeout=STEP_MS)
        await screenshot(page, "30-ebay-consent")
        await page.get_by_role("link", name="Se connecter : vendeur_2").click()
        await page.wait_for_url(
            f"{console.url}{channel_page('ebay')}?status=connected", timeout=STEP_MS
        )
        await expect(page.locator("#outcome")).to_contain_text("eBay connected")
        await expect(page.locator("#ebay-status")).to_have_text("CONNECTED")
        await expect(page.locator("#ebay-details")).to_contain_text("eBayUser2x")
        await screenshot(page, "31-ebay-connected")

        async with httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox/ebay", timeout=10) as http:
            written = await http.post("/shops/2/threads", json={"body": "Le colis est-il parti ?"})
            await page.locator("#ticket-marketplace").select_option("EBAY")
            await expect(page.locator("#tickets li")).to_have_count(1)
            await page.locator("#tickets li button").click()
            message = page.locator("#ticket-detail article.message.inbound")
            await expect(message).to_contain_text("Le colis est-il parti ?")
            await screenshot(page, "32-ebay-ticket")
            token = issue_token(DEV_JWT_SECRET, "agent-1", tenants=[tenant])
            headers = {"Authorization": f"Bearer {token}", "X-Tenant-Id": tenant}
            async with poller.client() as agent:
                listed = await agent.get(
                    "/api/v1/tickets/", params={"marketplace": "EBAY"}, headers=headers
                )
                [ticket] = listed.json()["items"]
                queued = await agent.post(
                    f"/api/v1/tickets/{ticket['id']}/replies",
                    headers=headers,
                    json={"text": "Parti ce matin.", "recipient": "BUYER"},
                )
            assert queued.status_code == 202, queued.text

            async def sent_to_ebay() -> list[Any] | None:
                sent = (await http.get("/shops/2/sent")).json()["sent"]
                return sent if {"body": "Parti ce matin."} in sent else None

            sent = await eventually(sent_to_ebay, within=None)
            assert sent.count({"body": "Parti ce matin."}) == 1
            assert written.status_code == 201
        await page.close()
