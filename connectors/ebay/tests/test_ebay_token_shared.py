"""A seller's eBay user access token granted once for every process (OpenBao and the eBay
double over HTTP): the poller's and the orders service's sessions of one seller, each with
its own Vault client on its service's policy, take the token one of them was granted and
kept in Vault beside the seller's consent; a token expired in Vault, or kept for other
credentials, is granted again once, a token eBay refused is dropped there and granted
again once; a Vault that cannot be reached leaves the session granting its own; no token
reaches a log; a disconnected seller's token goes with its consent."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from keybuzz_connector_ebay.connector import CONNECTOR
from keybuzz_connector_ebay.consent import APP, tenant_path
from keybuzz_connector_ebay.settings import EbayApiSettings, EbaySettings
from keybuzz_devstack.bootstrap import service_token_id
from keybuzz_devstack.infra import free_port
from keybuzz_devstack.testing import Infra
from keybuzz_double_ebay import consent_fields, service_env
from keybuzz_orders.connector_source import ConnectorOrderSource
from keybuzz_shared.connectors.shop_sessions import ShopSessions, sharing_token, token_path
from keybuzz_shared.vault import VaultClient

SELLER = "2"


def api_of(sandbox_url: str) -> EbayApiSettings:
    env = service_env(sandbox_url)
    api = EbaySettings.from_environment(env).shop_api("EBAY")
    assert isinstance(api, EbayApiSettings)
    return api


async def grants(admin: httpx.AsyncClient) -> int:
    return int((await admin.get("/grants")).json()["refreshGrants"])


async def connected(vault: VaultClient, seller: dict[str, Any]) -> str:
    """A tenant whose eBay consent is ``seller``'s (its entry holding the app's secret)."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    await vault.write(
        tenant_path(tenant),
        consent_fields(seller)
        | {
            "marketplace_id": "EBAY_FR",
            "created_at": datetime.now(UTC).isoformat(),
        },
    )
    return tenant


class Processes:
    """The poller's and the orders service's view of the seller, each process its own
    Vault client (its service's token) and sessions."""

    def __init__(self, addr: str, http: httpx.AsyncClient, api: EbayApiSettings) -> None:
        self.vaults = [VaultClient(addr, token=service_token_id(s)) for s in ("poller", "orders")]
        self.poller = ShopSessions(self.vaults[0], {"EBAY": http}, {"EBAY": api})
        self.orders = ConnectorOrderSource(
            "EBAY", self.vaults[1], http, api, window_days=30, clock=lambda: datetime.now(UTC)
        )

    async def poll(self, tenant: str) -> None:
        session = await self.poller.open(CONNECTOR, tenant)
        await session.messages(since=datetime.now(UTC) - timedelta(minutes=5))

    async def order(self, tenant: str) -> None:
        await self.orders.orders_by_ids(tenant, ["12-10000-20000"])

    async def aclose(self) -> None:
        for vault in self.vaults:
            await vault.aclose()


async def test_every_process_takes_the_token_one_was_granted(
    sandbox_url: str,
    admin: httpx.AsyncClient,
    vault: VaultClient,
    stack: Infra,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    [seller] = [s for s in (await admin.get("/shops")).json() if s["number"] == SELLER]
    tenant = await connected(vault, seller)
    kept_at = token_path(CONNECTOR.credentials_path(tenant))
    async with httpx.AsyncClient(timeout=10) as http:
        first = Processes(stack.vault_addr, http, api_of(sandbox_url))
        before = await grants(admin)
        await first.poll(tenant)
        await first.order(tenant)
        await first.poll(tenant)
        assert await grants(admin) == before + 1  # one grant for both processes
        kept = await vault.read(kept_at)
        assert kept is not None and kept["expires_at"] > time.time() + 7000
        tokens = [kept["access_token"]]

        # eBay refuses the token (expired at eBay before its time): the first process to
        # call drops it and is granted another, the other takes that one.
        await admin.post(f"/shops/{SELLER}/expire-tokens")
        await first.poll(tenant)
        await first.order(tenant)
        assert await grants(admin) == before + 2
        kept = await vault.read(kept_at)
        assert kept is not None and kept["access_token"] not in tokens
        tokens.append(kept["access_token"])

        # Expired in Vault: processes started now grant one token between them.
        await vault.write(kept_at, kept | {"expires_at": time.time() - 1})
        second = Processes(stack.vault_addr, http, api_of(sandbox_url))
        await second.poll(tenant)
        await second.order(tenant)
        assert await grants(admin) == before + 3
        kept = await vault.read(kept_at)
        assert kept is not None and kept["access_token"] not in tokens
        tokens.append(kept["access_token"])

        # A token kept for other credentials (a consent given again) is never taken.
        await vault.write(kept_at, kept | {"granted_for": "another consent"})
        third = Processes(stack.vault_addr, http, api_of(sandbox_url))
        await third.poll(tenant)
        assert await grants(admin) == before + 4
        kept = await vault.read(kept_at)
        assert kept is not None and kept["access_token"] not in tokens
        tokens.append(kept["access_token"])
        for process in (first, second, third):
            await process.aclose()

    for secret in (*tokens, seller["refreshToken"], seller["clientSecret"]):
        assert secret not in caplog.text

    # The seller disconnected: its consent and its token go together.
    await APP.vault(vault, "default").delete(tenant)
    assert await vault.read(kept_at) is None and await vault.read(tenant_path(tenant)) is None


async def test_a_vault_out_of_reach_leaves_the_session_granting_its_own(
    sandbox_url: str, admin: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The shop's token kept in a Vault nothing answers at: the session is granted a
    token of its own, says why without it, and polls."""
    [seller] = [s for s in (await admin.get("/shops")).json() if s["number"] == SELLER]
    fields = consent_fields(seller)
    gone = VaultClient(f"http://127.0.0.1:{free_port()}", token="unused", timeout=1)
    async with httpx.AsyncClient(timeout=10) as http:
        session = CONNECTOR.shop_api.session(fields, http=http, settings=api_of(sandbox_url))  # type: ignore[union-attr]
        session = sharing_token(session, gone, CONNECTOR.credentials_path("t-gone"))
        before = await grants(admin)
        await session.messages(since=datetime.now(UTC) - timedelta(minutes=5))
    await gone.aclose()
    assert await grants(admin) == before + 1
    assert "the shared token store is unavailable" in caplog.text
    assert "the token is not shared" in caplog.text
    assert seller["refreshToken"] not in caplog.text
