"""Connecting a Cdiscount shop over HTTP through oauth's generic connection endpoints, on
real OpenBao, PostgreSQL and NATS, its credentials checked against the sandbox's Octopia
double: what anyone could observe (answers, Vault, rows, events, logs) is asserted."""

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
from keybuzz_double_cdiscount import service_env
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_shared.vault import VaultClient

StartService = Callable[..., Awaitable[RunningService]]


def path_of(tenant: str) -> str:
    return f"secret/keybuzz/tenants/{tenant}/cdiscount_api"


def new_tenant() -> str:
    return f"cd-{uuid.uuid4().hex[:10]}"


def form(shop: dict[str, Any], **changed: str) -> dict[str, str]:
    typed = {
        "clientId": shop["clientId"],
        "clientSecret": shop["clientSecret"],
        "sellerId": shop["sellerId"],
    }
    return typed | changed


@pytest.fixture
async def oauth(start_service: StartService, sandbox_url: str) -> RunningService:
    return await start_service(OAUTH, **service_env(sandbox_url))


@pytest.fixture
async def shops(sandbox_url: str) -> dict[str, dict[str, Any]]:
    async with httpx.AsyncClient(timeout=30) as http:
        listed = (await http.get(f"{sandbox_url}/_sandbox/cdiscount/shops")).json()
    return {s["name"].split()[1]: s for s in listed}


async def row_of(oauth: RunningService, tenant: str) -> Any:
    return await connection_row(oauth, tenant, "CDISCOUNT")


async def everything_stored(oauth: RunningService) -> str:
    """Every row of every table of oauth's database, as text."""
    pool = oauth.runtime.pool
    tables = await pool.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    )
    rows = [await pool.fetch(f'SELECT * FROM "{t["table_name"]}"') for t in tables]
    return repr([dict(r) for found in rows for r in found])


async def test_a_cdiscount_shop_connects_its_secret_in_vault_only(
    oauth: RunningService,
    vault: VaultClient,
    shops: dict[str, dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    shop, tenant = shops["Maison"], new_tenant()
    secret = shop["clientSecret"]
    answer = await call(oauth, "POST", "cdiscount/connection", tenant, json=form(shop))
    assert answer.status_code == 200, answer.text
    connected = answer.json()
    assert (connected["status"], connected["marketplaceType"], connected["shopId"]) == (
        "CONNECTED",
        "CDISCOUNT",
        shop["sellerId"],
    )
    stored = await vault.read(path_of(tenant)) or {}
    assert {k: stored.get(k) for k in ("client_id", "client_secret", "seller_id")} == {
        "client_id": shop["clientId"],
        "client_secret": secret,
        "seller_id": shop["sellerId"],
    }
    row = await row_of(oauth, tenant)
    assert (row["status"], row["seller_id"]) == ("CONNECTED", shop["sellerId"])
    event = await find_event((await oauth.operator()).jetstream(), "connection.connected", tenant)
    assert (event["marketplace"], event["sellerId"]) == ("CDISCOUNT", shop["sellerId"])
    status = await call(oauth, "GET", "cdiscount/status", tenant)
    assert status.json()["status"] == "CONNECTED", status.text

    # The secret is nowhere else: not in a row, the event, an answer or a log line.
    assert secret not in await everything_stored(oauth)
    assert secret not in str(event) and secret not in answer.text + status.text
    assert all(secret not in f"{r.getMessage()} {r.__dict__}" for r in caplog.records)

    gone = await call(oauth, "DELETE", "cdiscount/connection", tenant)
    assert gone.status_code == 200, gone.text
    after = await call(oauth, "GET", "cdiscount/status", tenant)
    assert after.json()["status"] == "DISCONNECTED"
    assert await vault.read(path_of(tenant)) is None


async def test_a_wrong_secret_or_another_sellers_id_is_refused_and_nothing_stored(
    oauth: RunningService,
    vault: VaultClient,
    shops: dict[str, dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    shop, tenant = shops["Démo"], new_tenant()
    wrong = "Wr0ng" + shop["clientSecret"][::-1]
    for typed in (
        form(shop, clientSecret=wrong),
        form(shop, sellerId=shops["Maison"]["sellerId"]),  # a seller the client cannot reach
    ):
        answer = await call(oauth, "POST", "cdiscount/connection", tenant, json=typed)
        assert answer.status_code == 422, answer.text
        assert "Cdiscount refused these credentials" in answer.json()["message"]
        assert wrong not in answer.text and shop["clientSecret"] not in answer.text
    assert await vault.read(path_of(tenant)) is None
    assert await row_of(oauth, tenant) is None
    assert all(wrong not in f"{r.getMessage()} {r.__dict__}" for r in caplog.records)


async def test_a_seller_id_off_its_format_is_refused_before_any_call(
    oauth: RunningService, shops: dict[str, dict[str, Any]]
) -> None:
    tenant = new_tenant()
    typed = form(shops["Démo"], sellerId="seller-12")
    answer = await call(oauth, "POST", "cdiscount/connection", tenant, json=typed)
    assert answer.status_code == 400, answer.text
    assert "sellerId" in answer.text and "digits" in answer.text
    assert await row_of(oauth, tenant) is None


async def test_the_catalogue_offers_cdiscount_with_its_form_and_limits(
    oauth: RunningService,
) -> None:
    answer = await call(oauth, "GET", "", new_tenant())
    assert answer.status_code == 200, answer.text
    entry = next(m for m in answer.json()["marketplaces"] if m["marketplace"] == "cdiscount")
    assert (entry["displayName"], entry["connectionKind"]) == ("Cdiscount", "credentials")
    assert [(f["name"], f["secret"]) for f in entry["fields"]] == [
        ("clientId", False),
        ("clientSecret", True),
        ("sellerId", False),
    ]
    assert entry["limits"]["replyMaxLength"] == 5000
    assert entry["limits"]["attachments"]["maxCount"] == 3
    assert entry["limits"]["attachments"]["maxTotalBytes"] == 4 * 2**20
    assert "application/pdf" in entry["limits"]["attachments"]["formats"]
