"""Connecting a Back Market shop over HTTP through oauth's generic connection endpoints,
on real OpenBao, PostgreSQL and NATS, its token checked against the sandbox's Back Market
double: answers, Vault, rows, events and logs asserted; the firewall's 403 at the check is
an outage (503, retry later), never a refused token."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from keybuzz_devstack.shop_api_testing import connection_row
from keybuzz_devstack.shop_api_testing import marketplaces_api as call
from keybuzz_devstack.testing import RunningService, find_event
from keybuzz_double_backmarket import service_env
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_shared.vault import VaultClient

StartService = Callable[..., Awaitable[RunningService]]
BERLIN, MADRID = 2, 3


def path_of(tenant: str) -> str:
    return f"secret/keybuzz/tenants/{tenant}/backmarket_api"


def new_tenant() -> str:
    return f"bm-{uuid.uuid4().hex[:10]}"


def form(shop: dict[str, Any], **changed: str) -> dict[str, str]:
    typed = {
        "token": shop["token"],
        "merchantId": str(shop["merchantId"]),
        "country": shop["country"],
    }
    return typed | changed


@pytest.fixture
async def oauth(start_service: StartService, sandbox_url: str) -> RunningService:
    return await start_service(OAUTH, **service_env(sandbox_url))


@pytest.fixture
async def shops(admin: httpx.AsyncClient) -> dict[int, dict[str, Any]]:
    return {s["number"]: s for s in (await admin.get("/shops")).json()}


async def row_of(oauth: RunningService, tenant: str) -> Any:
    return await connection_row(oauth, tenant, "BACKMARKET")


async def test_a_back_market_shop_connects_its_token_in_vault_only(
    oauth: RunningService,
    vault: VaultClient,
    shops: dict[int, dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    shop, tenant = shops[BERLIN], new_tenant()
    token = shop["token"]
    answer = await call(oauth, "POST", "backmarket/connection", tenant, json=form(shop))
    assert answer.status_code == 200, answer.text
    connected = answer.json()
    assert (connected["status"], connected["marketplaceType"], connected["shopId"]) == (
        "CONNECTED",
        "BACKMARKET",
        str(shop["merchantId"]),
    )
    stored = await vault.read(path_of(tenant)) or {}
    assert {k: stored.get(k) for k in ("token", "merchant_id", "country")} == {
        "token": token,
        "merchant_id": str(shop["merchantId"]),
        "country": "de-de",
    }
    event = await find_event((await oauth.operator()).jetstream(), "connection.connected", tenant)
    assert event["marketplace"] == "BACKMARKET"
    status = await call(oauth, "GET", "backmarket/status", tenant)
    assert status.json()["status"] == "CONNECTED", status.text
    row = await row_of(oauth, tenant)
    assert token not in repr(dict(row)) and token not in str(event)
    assert token not in answer.text + status.text
    assert all(token not in f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    gone = await call(oauth, "DELETE", "backmarket/connection", tenant)
    assert gone.status_code == 200, gone.text
    assert await vault.read(path_of(tenant)) is None


async def test_a_refused_token_or_another_sellers_id_is_refused_and_nothing_stored(
    oauth: RunningService, vault: VaultClient, shops: dict[int, dict[str, Any]]
) -> None:
    shop, tenant = shops[MADRID], new_tenant()
    wrong = shop["token"][::-1] + "x"
    for typed in (form(shop, token=wrong), form(shop, merchantId=str(shops[BERLIN]["merchantId"]))):
        answer = await call(oauth, "POST", "backmarket/connection", tenant, json=typed)
        assert answer.status_code == 422, answer.text
        assert "Back Market refused these credentials" in answer.json()["message"]
        assert wrong not in answer.text and shop["token"] not in answer.text
    assert await vault.read(path_of(tenant)) is None
    assert await row_of(oauth, tenant) is None


@pytest.mark.parametrize("kind", ["html", "json"])
async def test_the_firewalls_403_at_the_check_is_an_outage_not_a_refused_token(
    oauth: RunningService,
    vault: VaultClient,
    admin: httpx.AsyncClient,
    shops: dict[int, dict[str, Any]],
    kind: str,
) -> None:
    faults = {"wafNext": 10, "wafKind": kind, "operations": ["getCareFolderList"]}
    assert (await admin.put("/faults", json=faults)).status_code == 200
    tenant = new_tenant()
    answer = await call(oauth, "POST", "backmarket/connection", tenant, json=form(shops[MADRID]))
    assert answer.status_code == 503, answer.text
    assert "Retry-After" in answer.headers
    assert await vault.read(path_of(tenant)) is None


async def test_the_catalogue_offers_back_market_with_its_form_and_limits(
    oauth: RunningService,
) -> None:
    answer = await call(oauth, "GET", "", new_tenant())
    assert answer.status_code == 200, answer.text
    entry = next(m for m in answer.json()["marketplaces"] if m["marketplace"] == "backmarket")
    assert (entry["displayName"], entry["connectionKind"]) == ("Back Market", "credentials")
    assert [(f["name"], f["secret"]) for f in entry["fields"]] == [
        ("token", True),
        ("merchantId", False),
        ("country", False),
    ]
    assert entry["limits"]["attachments"]["maxCount"] == 10
    assert entry["limits"]["attachments"]["maxTotalBytes"] == 30 * 2**20
