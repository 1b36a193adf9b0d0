"""Marketplaces that appear and disappear while the services run (docs/ARCHITECTURE.md,
"Adding a marketplace"): a connector family whose values come from data
(``tests/marketplace_family.py``, its list in a JSON file this test edits) is read again by
the registry — when its reading is stale, when a value it does not know is asked, on
``refresh()`` — and each service asks at use: oauth connects a marketplace added after it
started, the poller polls and replies through it, orders backfills it. Removed, its
connections are kept and say so, its shops are not polled nor synced; added back, they
resume."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import httpx
import pytest
from keybuzz_connector_fnac.connector import FnacApiSettings
from keybuzz_devstack import infra
from keybuzz_devstack.testing import (
    Infra,
    MailServer,
    RunningService,
    eventually,
    find_event,
    start_service_on_module_nats,
)
from keybuzz_oauth.service import DEFINITION as OAUTH
from keybuzz_orders.backfill import backfill
from keybuzz_orders.service import DEFINITION as ORDERS
from keybuzz_orders.sync import OrderSync
from keybuzz_poller.polling.scheduler import PollSkipped
from keybuzz_poller.polling.shops import ShopScheduler
from keybuzz_poller.ports import PollerPorts
from keybuzz_poller.replies.sender import send_due
from keybuzz_poller.service import DEFINITION as POLLER
from keybuzz_shared.connectors import registry
from keybuzz_shared.connectors.registry import UnknownMarketplace
from keybuzz_shared.connectors.seam import Connector
from keybuzz_shared.events import ConnectionConnected, encode_event, event_headers
from keybuzz_shared.vault import VaultClient

from tests import marketplace_family
from tests.marketplace_family import Family, FamilySettings
from tests.test_adding_a_marketplace import call, new_tenant, operator_js, vault_secret

start_service = start_service_on_module_nats  # why: tests/test_services_start.py

StartService = Callable[..., Awaitable[RunningService]]


@pytest.fixture
def family(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Family]:
    """The test family installed, serving ALPHA (a member present at start-up)."""
    listed = Family(tmp_path / "family.json")
    listed.serve("ALPHA")
    monkeypatch.setenv(marketplace_family.FILE_ENV, str(listed.path))
    with registry.installed(marketplace_family.ENTRY_POINT):
        yield listed


# --- the registry -------------------------------------------------------------------------


def test_a_value_added_to_the_family_is_served_at_the_first_question_for_it(
    family: Family, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "UNKNOWN_REREAD_SECONDS", 0.3)
    assert registry.marketplaces()[-1] == "ALPHA"
    registry.refresh()
    family.serve("ALPHA", "BETA", "GAMMA")
    before = marketplace_family.readings
    with pytest.raises(UnknownMarketplace):
        registry.connector_for("GAMMA")  # asked within the interval of the last reading
    assert marketplace_family.readings == before
    time.sleep(0.3)
    gamma = registry.connector_for("GAMMA")
    assert gamma.settings_type is FamilySettings and gamma.display_name == "Gamma Market"
    assert marketplace_family.readings == before + 1
    # In the registry's order: the installed entry points by name, the family's last.
    assert registry.marketplaces()[-3:] == ("ALPHA", "BETA", "GAMMA")
    # Unknown values asked in a stream cost one reading an interval, not one each.
    time.sleep(0.3)
    for _ in range(50):
        with pytest.raises(UnknownMarketplace):
            registry.connector_for("NOT_SERVED")
    assert marketplace_family.readings == before + 2


def test_a_stale_reading_is_read_again_and_unchanged_entries_keep_their_objects(
    family: Family, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "REREAD_SECONDS", 0.3)
    registry.refresh()
    alpha = registry.connector_for("ALPHA")
    family.serve("BETA", "ALPHA")
    assert "BETA" not in registry.marketplaces()  # the reading is fresh
    time.sleep(0.3)
    assert registry.marketplaces()[-2:] == ("BETA", "ALPHA")
    assert registry.connector_for("ALPHA") is alpha
    family.serve("BETA")
    time.sleep(0.3)
    assert "ALPHA" not in registry.marketplaces() and registry.served("BETA")
    assert not registry.served("ALPHA")


def test_what_was_made_for_a_marketplace_is_made_again_when_its_entry_is_edited(
    family: Family,
) -> None:
    """An HTTP client or a reply sender made for ALPHA's entry is not kept once the entry
    changes (its name here; its base URL in a catalogue): the next use makes it again from
    the new connector, and the old one is handed over to be closed."""
    registry.refresh()
    made = registry.PerMarketplace(lambda c: (c.display_name, object()))
    first = made["ALPHA"]
    assert made["ALPHA"] is first  # kept while the entry is unchanged
    family.path.write_text(json.dumps([{"code": "ALPHA", "name": "Alpha Renamed"}]))
    registry.refresh()
    again = made["ALPHA"]
    assert again is not first and again[0] == "Alpha Renamed"
    assert made.replaced == [first] and made["ALPHA"] is again


def test_a_family_that_fails_keeps_its_last_good_list_logged_once(
    family: Family, caplog: pytest.LogCaptureFixture
) -> None:
    family.serve("ALPHA", "BETA")
    registry.refresh()
    family.garble()
    with caplog.at_level(logging.WARNING, logger=registry.__name__):
        registry.refresh()
        registry.refresh()
    assert registry.served("ALPHA") and registry.served("BETA")
    failed = [r for r in caplog.records if "zz-test-family" in r.getMessage()]
    assert len(failed) == 1 and "last good" in failed[0].getMessage()
    family.serve("ALPHA")
    registry.refresh()
    assert not registry.served("BETA")


def test_a_reading_with_a_conflict_keeps_the_last_good_one(
    family: Family, caplog: pytest.LogCaptureFixture
) -> None:
    fnac = registry.connector_for("FNAC")
    family.serve("ALPHA", "FNAC", "BETA")
    with caplog.at_level(logging.WARNING, logger=registry.__name__):
        registry.refresh()
        registry.refresh()
    assert registry.connector_for("FNAC") is fnac and fnac.settings_type is FnacApiSettings
    assert not registry.served("BETA")  # the whole reading is refused, not half of it
    said = [r for r in caplog.records if "'FNAC' has two connectors" in r.getMessage()]
    assert len(said) == 1  # once, not at each reading
    family.serve("ALPHA", "BETA")
    registry.refresh()
    assert registry.served("BETA")


def failing_family() -> list[Connector]:
    raise ValueError("the catalogue cannot be read")


def test_until_a_reading_succeeds_a_failing_one_raises() -> None:
    """At start-up there is no last good reading to keep: a service does not start with a
    registry it could not read, however often it asks."""
    fresh = registry._Registry()
    fresh.installed.append(
        EntryPoint(name="failing", value=f"{__name__}:failing_family", group=registry.GROUP)
    )
    for _ in range(2):
        with pytest.raises(ValueError, match="cannot be read"):
            fresh.read()
    assert fresh.served == {}


# --- oauth --------------------------------------------------------------------------------


async def fnac_double_shop(sandbox_url: str) -> dict[str, Any]:
    """A shop of the sandbox's Fnac double: what the family's members speak."""
    async with httpx.AsyncClient(timeout=10) as http:
        shops = (await http.get(f"{sandbox_url}/_sandbox/fnac/shops")).json()
    return dict(next(s for s in shops if s["name"] == "KeyBuzz Démo Fnac"))


def shop_form(shop: dict[str, Any]) -> dict[str, str]:
    return {"partnerId": shop["partner_id"], "shopId": shop["shop_id"], "key": shop["key"]}


async def test_oauth_connects_a_marketplace_added_after_it_started_and_keeps_it_when_removed(
    family: Family, start_service: StartService, stack: Infra, sandbox_url: str
) -> None:
    oauth = await start_service(OAUTH, FAMILY_API_URL=f"{sandbox_url}/fnac/api.php/")
    tenant, base = new_tenant(), "/api/v1/marketplaces/beta"
    unknown = await call(oauth, "POST", f"{base}/connection", tenant, json={})
    assert unknown.status_code == 404 and "'beta'" in unknown.json()["message"], unknown.text
    family.serve("ALPHA", "BETA")
    await asyncio.sleep(registry.UNKNOWN_REREAD_SECONDS)  # since that 404's reading
    # Asked for BETA, the registry reads the family again: its form refuses a bad body.
    refused = await call(oauth, "POST", f"{base}/connection", tenant, json={"shopId": "x"})
    assert refused.status_code == 400, refused.text
    catalogue = (await call(oauth, "GET", "/api/v1/marketplaces", tenant)).json()
    assert "beta" in [m["marketplace"] for m in catalogue["marketplaces"]]

    shop = await fnac_double_shop(sandbox_url)
    connected = await call(oauth, "POST", f"{base}/connection", tenant, json=shop_form(shop))
    assert connected.status_code == 200, connected.text
    assert connected.json()["marketplaceType"] == "BETA"
    assert connected.json()["shopId"] == shop["shop_id"].upper()
    event = await find_event(await operator_js(oauth), "connection.connected", tenant)
    assert event["marketplace"] == "BETA"
    key_path = registry.connector_for("BETA").credentials_path(tenant)
    assert (vault_secret(stack, key_path) or {}).get("key") == shop["key"]

    # Removed from the family: the connection is kept, says why, and is not disconnected.
    family.serve("ALPHA")
    registry.refresh()
    catalogue = (await call(oauth, "GET", "/api/v1/marketplaces", tenant)).json()
    assert "beta" not in [m["marketplace"] for m in catalogue["marketplaces"]]
    status = await call(oauth, "GET", f"{base}/status", tenant)
    assert status.status_code == 200, status.text
    assert status.json()["status"] == "CONNECTED"
    assert "not served" in status.json()["notServed"]
    kept = await call(oauth, "DELETE", f"{base}/connection", tenant)
    assert kept.status_code == 409 and "kept" in kept.json()["message"], kept.text
    assert (vault_secret(stack, key_path) or {}).get("key") == shop["key"]
    other = await call(oauth, "GET", f"{base}/status", new_tenant())
    assert other.status_code == 404, other.text  # no connection of it: nothing to say

    # Served again: as it was.
    family.serve("ALPHA", "BETA")
    registry.refresh()
    status = await call(oauth, "GET", f"{base}/status", tenant)
    assert status.json()["notServed"] is None and status.json()["credentialsVerified"] is True
    ended = await call(oauth, "DELETE", f"{base}/connection", tenant)
    assert ended.json()["status"] == "DISCONNECTED" and vault_secret(stack, key_path) is None


async def test_oauth_answers_404_naming_a_value_no_connector_serves(
    start_service: StartService,
) -> None:
    oauth = await start_service(OAUTH)
    tenant, base = new_tenant(), "/api/v1/marketplaces/not_served"
    for method, path in (("POST", "connection"), ("GET", "status"), ("DELETE", "connection")):
        answer = await call(oauth, method, f"{base}/{path}", tenant, json={})
        assert answer.status_code == 404, answer.text
        assert "'not_served'" in answer.json()["message"], answer.text


# --- the poller ---------------------------------------------------------------------------


async def buyer_writes(admin: httpx.AsyncClient, shop: dict[str, Any], text: str) -> str:
    """A buyer's new message on the double's shop: its order's id."""
    written = await admin.post(f"/shops/{shop['shop_id']}/messages", json={"description": text})
    assert written.status_code == 201, written.text
    return str(written.json()["orderId"])


async def reply(poller: RunningService, tenant: str, ticket_id: str, text: str) -> None:
    path = f"/api/v1/tickets/{ticket_id}/replies"
    queued = await call(poller, "POST", path, tenant, json={"text": text})
    assert queued.status_code == 202, queued.text


async def sent_on_double(admin: httpx.AsyncClient, shop: dict[str, Any], text: str) -> list[str]:
    sent = (await admin.get(f"/shops/{shop['shop_id']}/sent")).json()["sent"]
    return [s["description"] for s in sent if s["description"] == text]


async def test_the_poller_polls_and_replies_through_a_marketplace_added_after_it_started(
    family: Family,
    start_service: StartService,
    dovecot: MailServer,
    sandbox_url: str,
    stack: Infra,
) -> None:
    poller = await start_service(
        POLLER,
        POLL_ENABLED="false",  # polls when the test says
        REPLY_SENDER_ENABLED="false",
        REPLY_RETRY_BASE_SECONDS="0.2",
        REPLY_RETRY_MAX_SECONDS="0.2",
        FAMILY_API_URL=f"{sandbox_url}/fnac/api.php/",
        **dovecot.settings,
    )
    registry.refresh()  # a fresh reading: BETA comes in as a value asked, not a stale one
    family.serve("ALPHA", "BETA")
    await asyncio.sleep(registry.UNKNOWN_REREAD_SECONDS)
    shop = await fnac_double_shop(sandbox_url)
    vault = VaultClient(stack.vault_addr, token=infra.DEV_VAULT_ROOT_TOKEN)
    fields = {f: shop[f] for f in ("partner_id", "shop_id", "key")}
    scheduler = poller.runtime.component(ShopScheduler)
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox/fnac", timeout=10) as admin:
        tenant = await poller.shop_connected(vault, "BETA", fields, shop["shop_id"])
        order_id = await buyer_writes(admin, shop, f"Où est BETA {tenant}")
        assert (await scheduler.poll_now(f"BETA:{tenant}")).stored >= 1
        params = {"marketplace": "BETA", "orderId": order_id}
        [ticket] = (await call(poller, "GET", "/api/v1/tickets", tenant, params=params)).json()[
            "items"
        ]
        text = f"Réponse BETA {tenant}"
        replies = poller.runtime.component(PollerPorts).replies
        await reply(poller, tenant, ticket["id"], text)
        await send_due(replies)
        assert await sent_on_double(admin, shop, text) == [text]
        before = (await call(poller, "GET", "/api/v1/tickets", tenant)).json()["items"]
        waiting = f"En attente BETA {tenant}"
        await reply(poller, tenant, ticket["id"], waiting)  # queued, not sent yet

        # Removed: the shop stays connected, is not polled, does not fail, keeps its tickets;
        # a reply queued through its API is not sent (nor by mail), a new one refused.
        family.serve("ALPHA")
        registry.refresh()
        await send_due(replies)
        assert await sent_on_double(admin, shop, waiting) == []
        refused = await call(
            poller, "POST", f"/api/v1/tickets/{ticket['id']}/replies", tenant, json={"text": "x"}
        )
        assert refused.status_code == 409 and "not served" in refused.text, refused.text
        with pytest.raises(PollSkipped):
            await scheduler.poll_now(f"BETA:{tenant}")
        [status] = (await call(poller, "GET", "/api/v1/poller/shops", tenant)).json()
        assert (status["connection"], status["marketplaceServed"]) == ("CONNECTED", False)
        assert status["consecutiveFailures"] == 0 and status["lastError"] is None
        assert "not served" in status["notServed"]
        listed = (await call(poller, "GET", "/api/v1/tickets", tenant)).json()["items"]
        assert [t["id"] for t in listed] == [t["id"] for t in before]
        kept = await call(poller, "GET", f"/api/v1/tickets/{ticket['id']}", tenant)
        assert kept.status_code == 200 and kept.json()["marketplace"] == "BETA", kept.text

        # Served again: polled again.
        family.serve("ALPHA", "BETA")
        registry.refresh()
        await buyer_writes(admin, shop, f"Encore BETA {tenant}")
        assert (await scheduler.poll_now(f"BETA:{tenant}")).stored >= 1
        await asyncio.sleep(0.3)  # the waiting reply's retry is due
        await send_due(replies)
        assert await sent_on_double(admin, shop, waiting) == [waiting]
        [status] = (await call(poller, "GET", "/api/v1/poller/shops", tenant)).json()
        assert status["marketplaceServed"] is True and status["notServed"] is None
    await vault.aclose()


# --- orders -------------------------------------------------------------------------------


async def beta_connected_in_orders(
    family: Family, orders: RunningService, sandbox_url: str, stack: Infra
) -> str:
    """BETA added to the family, a new tenant's BETA shop (the Fnac double's) connected:
    its ``connection.connected`` starts orders' backfill. The tenant."""
    registry.refresh()  # a fresh reading: BETA comes in as a value asked, not a stale one
    family.serve("ALPHA", "BETA")
    await asyncio.sleep(registry.UNKNOWN_REREAD_SECONDS)
    tenant = new_tenant()
    await fnac_shop_connected_in_orders(orders, stack, "BETA", tenant, sandbox_url)
    return tenant


async def fnac_shop_connected_in_orders(
    orders: RunningService, stack: Infra, marketplace: str, tenant: str, sandbox_url: str
) -> dict[str, Any]:
    """The Fnac double's shop connected for ``tenant`` on ``marketplace`` (one speaking
    Fnac's API): its key in Vault, its ``connection.connected`` published (orders
    backfills it). The shop."""
    shop = await fnac_double_shop(sandbox_url)
    vault = VaultClient(stack.vault_addr, token=infra.DEV_VAULT_ROOT_TOKEN)
    fields = {f: shop[f] for f in ("partner_id", "shop_id", "key")}
    await vault.write(registry.connector_for(marketplace).credentials_path(tenant), fields)
    await vault.aclose()
    connected = ConnectionConnected(
        tenant_id=tenant,
        marketplace=marketplace,
        connection_id=str(uuid.uuid4()),
        seller_id=shop["shop_id"],
        marketplace_ids=[],
        region="eu",
    )
    js = await operator_js(orders)
    await js.publish(connected.type, encode_event(connected), headers=event_headers(connected))
    return shop


async def test_orders_backfills_a_marketplace_added_after_it_started_and_pauses_its_sync(
    family: Family, start_service: StartService, sandbox_url: str, stack: Infra
) -> None:
    orders = await start_service(
        ORDERS,
        FAMILY_API_URL=f"{sandbox_url}/fnac/api.php/",
        ORDERS_SYNC_INTERVAL_SECONDS="3600",  # rounds when the test says
    )
    tenant = await beta_connected_in_orders(family, orders, sandbox_url, stack)

    async def backfilled() -> Any:
        return await orders.runtime.pool.fetchrow(
            "SELECT status, marketplace FROM order_backfill_jobs"
            " WHERE tenant_id = $1 AND status <> 'RUNNING'",
            tenant,
        )

    job = await eventually(backfilled)
    assert (job["status"], job["marketplace"]) == ("COMPLETED", "BETA")
    rows = await orders.runtime.pool.fetch(
        "SELECT DISTINCT marketplace FROM orders WHERE tenant_id = $1", tenant
    )
    assert [r["marketplace"] for r in rows] == ["BETA"]
    sync = orders.runtime.component(OrderSync)
    assert (await sync.sync_now(tenant)).errors == 0

    # Removed: its sync is skipped, kept ACTIVE where it was; its orders stay.
    family.serve("ALPHA")
    registry.refresh()
    cursor = "SELECT status, last_updated_before, last_error FROM order_sync_cursors WHERE tenant_id = $1"
    kept = await orders.runtime.pool.fetchrow(cursor, tenant)
    skipped = await sync.sync_now(tenant)
    assert (skipped.errors, skipped.pages) == (0, 0)
    assert await orders.runtime.pool.fetchrow(cursor, tenant) == kept
    assert kept["status"] == "ACTIVE"
    listed = await call(orders, "GET", "/api/v1/orders", tenant)
    assert listed.status_code == 200 and listed.json()["orders"], listed.text

    # Served again: its rounds read again.
    family.serve("ALPHA", "BETA")
    registry.refresh()
    again = await sync.sync_now(tenant)
    assert (again.errors, again.pages) == (0, 1)


@pytest.fixture
async def slow_fnac_listing(sandbox_url: str) -> AsyncIterator[None]:
    """The Fnac double answers its order listing 150 ms late: a backfill of many date
    windows runs long enough to have its marketplace removed halfway."""
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox/fnac", timeout=10) as admin:
        await admin.post("/ratelimits/reset")
        faults = {"latencyMs": 150, "operations": ["orders_query"]}
        assert (await admin.put("/faults", json=faults)).status_code == 200
        yield
        await admin.delete("/faults")


async def test_an_orders_backfill_whose_marketplace_is_removed_pauses_and_resumes_there(
    family: Family,
    start_service: StartService,
    sandbox_url: str,
    stack: Infra,
    slow_fnac_listing: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(backfill, "SERVED_CHECK_SECONDS", 0.2)
    orders = await start_service(
        ORDERS,
        FAMILY_API_URL=f"{sandbox_url}/fnac/api.php/",
        BACKFILL_DAYS="24",
        CONNECTOR_BACKFILL_WINDOW_DAYS="2",  # 12 date windows: a page each
        ORDERS_SYNC_INTERVAL_SECONDS="3600",
    )
    tenant = await beta_connected_in_orders(family, orders, sandbox_url, stack)
    pool = orders.runtime.pool

    async def job_after(pages: int) -> Any:
        job = await pool.fetchrow(
            "SELECT id::text AS job_id, pages FROM order_backfill_jobs WHERE tenant_id = $1", tenant
        )
        return job if job is not None and job["pages"] >= pages else None

    started = await eventually(lambda: job_after(2))
    family.serve("ALPHA")
    registry.refresh()
    path = f"/api/v1/orders/backfill/{started['job_id']}"

    async def paused() -> Any:
        job = (await call(orders, "GET", path, tenant)).json()
        return job if job["notServed"] is not None else None

    job = await eventually(paused)
    await asyncio.sleep(0.6)  # the page in flight, and more if it went on
    stood = (await call(orders, "GET", path, tenant)).json()
    assert stood["status"] == "RUNNING" and stood["lastError"] is None, stood
    assert "not served" in job["notServed"] and stood["pages"] < 12, stood
    await asyncio.sleep(0.6)
    assert (await call(orders, "GET", path, tenant)).json()["pages"] == stood["pages"]
    stored = await pool.fetchval("SELECT count(*) FROM orders WHERE tenant_id = $1", tenant)

    family.serve("ALPHA", "BETA")
    registry.refresh()

    async def completed() -> Any:
        job = (await call(orders, "GET", path, tenant)).json()
        return job if job["status"] != "RUNNING" else None

    ended = await eventually(completed)
    assert (ended["status"], ended["notServed"], ended["lastError"]) == ("COMPLETED", None, None)
    # 12 windows (a 13th of the milliseconds between the job's start and its first page's
    # clock): from its checkpoint, none read twice; read again from its start, 2 more at least.
    assert ended["pages"] <= 13, ended
    assert await pool.fetchval("SELECT count(*) FROM orders WHERE tenant_id = $1", tenant) >= stored
