"""Two redirect flows in one oauth service, each its own: after the callback the browser
lands on its marketplace's page under FRONTEND_URL, Amazon's on Amazon's and eBay's on
eBay's; each consent page is sent the flow's own redirect_uri. Real parts: oauth on OpenBao, PostgreSQL and NATS, the sandbox's Amazon and its
eBay double over HTTP."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
from keybuzz_devstack.oauth_testing import FRONTEND_PAGES, OauthKit, root_vault
from keybuzz_sandbox.conformance import ConsentApp, ConsentDriver, driver_for
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


async def register_ebay_app(kit: OauthKit, source: str) -> ConsentApp:
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
    return app


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


def cookie_attributes(response: httpx.Response) -> list[str]:
    [cookie] = response.headers.get_list("set-cookie")
    return [a.strip().lower() for a in cookie.split(";")]


async def test_each_flow_sends_its_own_redirect_uri_to_its_consent_page(make_kit, sandbox_url):
    """OAUTH_REDIRECT_URI is Amazon's callback: eBay's start keeps its own (the RuName to
    eBay's page, the cookie on eBay's callback) and its consent connects."""
    amazon_callback = "https://platform-api.keybuzz.test/api/v1/marketplaces/amazon/oauth/callback"
    settings = ebay_settings(sandbox_url)
    kit = await make_kit(OAUTH_REDIRECT_URI=amazon_callback, **settings)
    app = await register_ebay_app(kit, settings["EBAY_APP_SOURCE"])

    amazon = await kit.new_browser().post(
        f"{kit.service.url}/api/v1/marketplaces/amazon/oauth/start",
        headers=kit.headers(new_tenant()),
    )
    assert amazon.status_code == 200, amazon.text
    sent = parse_qs(urlsplit(amazon.json()["authUrl"]).query)
    assert sent["redirect_uri"] == [amazon_callback]
    assert "path=/api/v1/marketplaces/amazon/oauth" in cookie_attributes(amazon)

    ebay = await start_ebay(kit, new_tenant())
    sent = parse_qs(urlsplit(ebay.json()["authUrl"]).query)
    assert sent["redirect_uri"] == [app.fields["ru_name"]]
    attributes = cookie_attributes(ebay)
    assert f"path={EBAY}" in attributes and "secure" not in attributes  # its http callback
    back = await consent_on_ebay(kit, ebay.json()["authUrl"], "3")
    assert back.headers["location"] == f"{FRONTEND_PAGES}/ebay?status=connected"
