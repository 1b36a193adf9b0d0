"""eBay's app secret kept once in Vault (OpenBao), each seller's consent naming the app it
was given to: a shop's session takes the secret from the app's entry, a rotation there is
picked up without rewriting any seller's entry, an entry holding an app secret of its
own works as it is, and no secret reaches a log or an error."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from keybuzz_connector_ebay.connector import CONNECTOR
from keybuzz_connector_ebay.consent import APP, app_refused, tenant_path
from keybuzz_connector_ebay.settings import EbaySettings
from keybuzz_double_ebay import RU_NAME, service_env
from keybuzz_shared.connectors import seam
from keybuzz_shared.connectors.shop_sessions import ShopSessions
from keybuzz_shared.vault import VaultClient

CALLBACK = "https://keybuzz.test/api/v1/marketplaces/ebay/oauth/callback"
STALE = "SBX-rotated-out-0f9e8d7c6b5a"  # an app secret eBay no longer takes


async def the_app(admin: httpx.AsyncClient) -> dict[str, str]:
    """The double's app, as an operator keeps it in Vault."""
    keys = (await admin.put(f"/apps/{RU_NAME}", json={"acceptUrl": CALLBACK})).json()
    return {
        "client_id": keys["clientId"],
        "client_secret": keys["clientSecret"],
        "ru_name": RU_NAME,
        "redirect_uri": CALLBACK,
    }


async def consented(vault: VaultClient, source: str, seller: dict[str, Any]) -> str:
    """The seller's consent stored as oauth stores it (the app of ``source``); its tenant."""
    flow = CONNECTOR.redirect_flow
    assert flow is not None
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    credentials = flow.credentials(
        tenant_id=tenant,
        refresh_token=seller["refreshToken"],
        account_id=seller["userId"],
        site=flow.site("FR"),
        created_at=datetime.now(UTC).isoformat(),
    )
    await flow.vault(vault, source).store(credentials)
    return tenant


async def polled(sessions: ShopSessions, tenant: str) -> seam.Page[seam.InboxMessage]:
    session = await sessions.open(CONNECTOR, tenant)
    return await session.messages(since=datetime.now(UTC) - timedelta(minutes=5))  # type: ignore[attr-defined, no-any-return]


async def test_a_rotated_app_secret_is_taken_without_rewriting_the_sellers_entries(
    sandbox_url: str, admin: httpx.AsyncClient, vault: VaultClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app, source = await the_app(admin), f"rotation-{uuid.uuid4().hex[:8]}"
    await vault.write(APP.path(source), app | {"client_secret": STALE})
    sellers = (await admin.get("/shops")).json()
    tenants = [await consented(vault, source, s) for s in sellers[:2]]
    entries = [await vault.read(tenant_path(t)) for t in tenants]
    for entry in entries:
        assert entry is not None and "client_secret" not in entry
        assert (entry["client_id"], entry["app_source"]) == (app["client_id"], source)
    env = service_env(sandbox_url)
    api = EbaySettings.from_environment(env).shop_api("EBAY")
    async with httpx.AsyncClient(timeout=10) as http:
        sessions = ShopSessions(vault, {"EBAY": http}, {"EBAY": api})
        # eBay refuses the stale secret: the shop is held, the seller's consent is not refused.
        with pytest.raises(seam.MarketplaceUnavailable) as held:
            await polled(sessions, tenants[0])
        assert not isinstance(held.value, seam.CredentialsRefused)

        await vault.write(APP.path(source), app)  # the operator rotates the app's secret
        for tenant in tenants:
            await polled(sessions, tenant)
    assert [await vault.read(tenant_path(t)) for t in tenants] == entries  # untouched
    shown = caplog.text + repr(held.value)
    for secret in (app["client_secret"], STALE, *(s["refreshToken"] for s in sellers[:2])):
        assert secret not in shown


async def test_a_consent_kept_with_the_apps_secret_still_works_and_another_apps_is_refused(
    sandbox_url: str, admin: httpx.AsyncClient, vault: VaultClient
) -> None:
    app, source = await the_app(admin), f"other-{uuid.uuid4().hex[:8]}"
    [seller] = [s for s in (await admin.get("/shops")).json() if s["number"] == "3"]
    earlier = f"t-{uuid.uuid4().hex[:12]}"
    await vault.write(
        tenant_path(earlier),
        {
            "user_id": seller["userId"],
            "refresh_token": seller["refreshToken"],
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "marketplace_id": "EBAY_FR",
            "created_at": datetime.now(UTC).isoformat(),
        },
    )
    await vault.write(APP.path(source), app)
    other = await consented(vault, source, seller)
    # The app kept under that source replaced by another: the consent cannot be refreshed.
    await vault.write(APP.path(source), app | {"client_id": "Another-App-PRD-1234"})
    env = service_env(sandbox_url)
    api = EbaySettings.from_environment(env).shop_api("EBAY")
    async with httpx.AsyncClient(timeout=10) as http:
        sessions = ShopSessions(vault, {"EBAY": http}, {"EBAY": api})
        await polled(sessions, earlier)
        with pytest.raises(seam.CredentialsRefused, match="connect eBay again") as refused:
            await sessions.open(CONNECTOR, other)
    assert app["client_secret"] not in str(refused.value)


async def test_an_app_entry_missing_is_kept_like_one_read_until_forgotten(
    vault: VaultClient,
) -> None:
    # A seller's entry holding its own secret with no default app kept: the missing app is
    # not asked of Vault at every poll; an app written since is taken once it is forgotten
    # (eBay refusing the app) or past its age, as a rotated secret is.
    path = APP.path(f"missing-{uuid.uuid4().hex[:8]}")
    assert await APP.kept(vault, path) == {}
    app = {"client_id": "Later-App-PRD-5678", "client_secret": STALE}
    await vault.write(path, app)
    assert await APP.kept(vault, path) == {}  # kept: Vault not asked again
    assert app_refused(httpx.Response(401), {"error": "invalid_client"}) is not None
    assert await APP.kept(vault, path) == app
