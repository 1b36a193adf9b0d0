"""Two redirect flows in one oauth service, each its own: after the callback the browser
lands on its marketplace's page under FRONTEND_URL, Amazon's on Amazon's and eBay's on
eBay's. Real parts: oauth on OpenBao, PostgreSQL and NATS, the sandbox's Amazon and its
eBay double over HTTP."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
from keybuzz_devstack.oauth_testing import FRONTEND_PAGES, OauthKit, root_vault
from keybuzz_sandbox.conformance import ConsentDriver, driver_for
from oauth_testkit import new_tenant

EBAY = "/api/v1/marketplaces/ebay/oauth"


def ebay_driver() -> ConsentDriver:
    driver = driver_for("EBAY")
    assert isinstance(driver, ConsentDriver)
    return driver


def ebay_settings(sandbox_url: str) -> dict[str, str]:
    """eBay's hosts on its double, and an app source of the test's own."""
    driver = driver_for("EBAY")
    assert driver is not None
    hosts = driver.service_settings(sandbox_url)
    return {**hosts, "EBAY_APP_SOURCE": f"test-{uuid.uuid4().hex[:8]}"}


async def register_ebay_app(kit: OauthKit, source: str) -> None:
    """The double's app with this service's eBay callback behind its RuName, in Vault
    under ``source``."""
    async with httpx.AsyncClient(base_url=kit.sandbox, timeout=10) as admin:
        app = await ebay_driver().consent_app(admin, f"{kit.service.url}{EBAY}/callback")
    await asyncio.to_thread(
        root_vault(kit.stack).secrets.kv.v2.create_or_update_secret,
        path=f"{app.path.removeprefix('secret/')}/{source}",
        secret=dict(app.fields),
        mount_point="secret",
    )


async def start_ebay(kit: OauthKit, tenant: str) -> httpx.Response:
    started = await kit.browser.post(
        f"{kit.service.url}{EBAY}/start", headers=kit.headers(tenant), json={}
    )
    assert started.status_code == 200, started.text
    return started


async def consent_on_ebay(kit: OauthKit, auth_url: str, user: str) -> httpx.Response:
    """The seller ``user`` consents on the double's page; the browser that started follows
    eBay's redirect to the callback."""
    async with httpx.AsyncClient(timeout=10) as page:
        back = await page.get(httpx.URL(auth_url).copy_merge_params({"user": user}))
    assert back.status_code in (302, 303, 307), back.text
    return await kit.browser.get(back.headers["location"])


async def test_each_flows_callback_lands_on_its_marketplaces_page(make_kit, sandbox_url):
    settings = ebay_settings(sandbox_url)
    kit = await make_kit(**settings)
    await register_ebay_app(kit, settings["EBAY_APP_SOURCE"])

    amazon = await kit.connect(new_tenant())
    assert amazon.status_code == 303, amazon.text
    assert amazon.headers["location"] == f"{FRONTEND_PAGES}/amazon?status=connected"

    started = await start_ebay(kit, new_tenant())
    ebay = await consent_on_ebay(kit, started.json()["authUrl"], "2")
    assert ebay.status_code == 303, ebay.text
    assert ebay.headers["location"] == f"{FRONTEND_PAGES}/ebay?status=connected"

    declined = await start_ebay(kit, new_tenant())
    async with httpx.AsyncClient(timeout=10) as page:
        back = await page.get(
            httpx.URL(declined.json()["authUrl"]).copy_merge_params({"decline": "1"})
        )
    refused = await kit.browser.get(back.headers["location"])
    location = urlsplit(refused.headers["location"])
    assert (location.path, parse_qs(location.query)["status"]) == (
        f"{urlsplit(FRONTEND_PAGES).path}/ebay",
        ["error"],
    )
