"""Fnac/Darty orders end to end: connection.connected (FNAC/DARTY) → a backfill over the
connector seam on the sandbox's Fnac double, the UpdatedAt sync, the order of a buyer's
message, a 5xx outage waited out, a revoked key. Real PostgreSQL, NATS, OpenBao."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import msgspec
import nats
import pytest
from keybuzz_connector_fnac.session import LINE_STATES
from keybuzz_devstack.oauth_testing import new_tenant, root_vault
from keybuzz_devstack.orders_testing import OrdersKit, find_events
from keybuzz_devstack.testing import eventually
from keybuzz_orders.sync import OrderSync
from keybuzz_shared.events import ConnectionConnected, Event, MessageReceived
from nats.js.api import ConsumerConfig, DeliverPolicy
from prometheus_client import REGISTRY

DEMO_FNAC = "KeyBuzz Démo Fnac"
DEMO_DARTY = "KeyBuzz Démo Darty"


class FnacAdmin:
    def __init__(self, sandbox_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=sandbox_url, timeout=30)

    async def shop(self, name: str) -> dict[str, Any]:
        shops = (await self.http.get("/_sandbox/fnac/shops")).json()
        return dict(next(s for s in shops if s["name"] == name))

    async def faults(self, **faults: Any) -> None:
        answer = await self.http.put("/_sandbox/fnac/faults", json=faults)
        assert answer.status_code == 200, answer.text

    async def post(self, path: str, body: Any = None) -> dict[str, Any]:
        answer = await self.http.post(path, json=body)
        assert answer.status_code in (200, 201), answer.text
        return dict(answer.json())


@pytest.fixture
async def fnac(sandbox_url: str) -> AsyncIterator[FnacAdmin]:
    admin = FnacAdmin(sandbox_url)
    await admin.http.delete("/_sandbox/fnac/faults")
    await admin.http.post("/_sandbox/fnac/ratelimits/reset")
    yield admin
    await admin.http.delete("/_sandbox/fnac/faults")
    await admin.http.aclose()


@pytest.fixture(scope="module")
async def kit(
    make_module_orders: Callable[..., Awaitable[OrdersKit]], sandbox_url: str
) -> OrdersKit:
    """oauth and orders the module's tests share, each connecting tenants of its own."""
    # A failing call still tried four times, a tenth of a second apart: what a test asserts
    # is the job held and resumed, not the default waits' seconds.
    return await make_module_orders(
        FNAC_API_URL=f"{sandbox_url}/fnac/api.php/",
        ORDERS_SYNC_INTERVAL_SECONDS="3600",
        FNAC_CALL_RETRY_WAIT_SECONDS="0.1",
    )


async def _publish(nats_url: str, *events: Event) -> None:
    nc = await nats.connect(nats_url)
    try:
        for event in events:
            await nc.jetstream().publish(
                event.SUBJECT, msgspec.json.encode(event), headers={"Nats-Msg-Id": event.event_id}
            )
    finally:
        await nc.close()


async def _connect(kit: OrdersKit, stack: Any, shop: dict[str, Any], tenant: str) -> None:
    """As oauth does it: the shop's key in Vault, then connection.connected."""
    marketplace = shop["marketplace"]
    secret = {k: shop[k] for k in ("partner_id", "shop_id", "key")}
    await asyncio.to_thread(
        root_vault(stack).secrets.kv.v2.create_or_update_secret,
        path=f"keybuzz/tenants/{tenant}/{marketplace.lower()}_api",
        secret=secret,
        mount_point="secret",
    )
    await _publish(kit.nats_url, _connected(tenant, shop))


def _connected(tenant: str, shop: dict[str, Any]) -> ConnectionConnected:
    return ConnectionConnected(
        tenant_id=tenant,
        marketplace=shop["marketplace"],
        connection_id=str(uuid.uuid4()),
        seller_id=shop["shop_id"],
        marketplace_ids=[],
        region="eu",
    )


async def _jobs(kit: OrdersKit, tenant: str, count: int) -> list[dict[str, Any]]:
    async def probe() -> list[str] | None:
        ids = await kit.pool.fetch(
            "SELECT id::text FROM order_backfill_jobs WHERE tenant_id = $1 ORDER BY started_at",
            tenant,
        )
        return [r["id"] for r in ids] if len(ids) >= count else None

    return [await kit.finished(tenant, j, within=120) for j in await eventually(probe)]


async def test_a_connected_shop_is_backfilled_once_kept_fresh_and_served(
    kit: OrdersKit, fnac: FnacAdmin, stack: Any
) -> None:
    shop = await fnac.shop(DEMO_FNAC)
    tenant = new_tenant()
    await _connect(kit, stack, shop, tenant)
    [job] = await _jobs(kit, tenant, 1)
    assert job["status"] == "COMPLETED", job
    assert job["marketplace"] == "FNAC" and job["errors"] == 0
    rows = await kit.pool.fetch(
        "SELECT external_order_id, marketplace, marketplace_id, order_status::text AS status,"
        " marketplace_status FROM orders WHERE tenant_id = $1",
        tenant,
    )
    assert len(rows) == job["orders"] == job["created"] > 0
    assert len({r["external_order_id"] for r in rows}) == len(rows)
    assert {r["marketplace"] for r in rows} == {"FNAC"}
    assert {r["marketplace_id"] for r in rows} == {shop["shop_id"]}
    mapped = {
        "Received": "DELIVERED",
        "Shipped": "SHIPPED",
        "ToShip": "CONFIRMED",
        "Cancelled": "CANCELLED",
        "Refused": "CANCELLED",
        "Created": "PENDING",
        "Accepted": "PENDING",
        "Refunded": "RETURNED",
    }
    assert all(mapped[r["marketplace_status"]] == r["status"] for r in rows), rows
    items = await kit.pool.fetchval(
        "SELECT count(*) FROM order_items i JOIN orders o ON o.id = i.order_id"
        " WHERE o.tenant_id = $1",
        tenant,
    )
    assert items >= len(rows)

    # One order over HTTP: its lines with Fnac's own word for their state, as stored.
    shown = await kit.api("GET", f"/{rows[0]['external_order_id']}", tenant)
    assert shown.status_code == 200, shown.text
    lines = await kit.pool.fetch(
        "SELECT i.external_item_id, i.marketplace_state FROM order_items i"
        " JOIN orders o ON o.id = i.order_id WHERE o.tenant_id = $1 AND o.external_order_id = $2",
        tenant,
        rows[0]["external_order_id"],
    )
    assert {i["externalItemId"]: i["marketplaceState"] for i in shown.json()["items"]} == {
        r["external_item_id"]: r["marketplace_state"] for r in lines
    }
    assert {r["marketplace_state"] for r in lines} <= set(LINE_STATES)

    # Connected again: a new job reads the same orders and rewrites only what Fnac changed
    # meanwhile (the session double's clock runs on: an order may move along or be placed).
    changed_at = "SELECT external_order_id, marketplace_updated_at FROM orders WHERE tenant_id = $1"
    first_read = dict(await kit.pool.fetch(changed_at, tenant))
    await _publish(kit.nats_url, _connected(tenant, shop))
    _, again = await _jobs(kit, tenant, 2)
    assert again["status"] == "COMPLETED", again
    read_again = dict(await kit.pool.fetch(changed_at, tenant))
    moved = [o for o, at in first_read.items() if read_again[o] != at]
    assert again["created"] == len(read_again) - len(rows) and again["updated"] == len(moved)
    assert again["unchanged"] == again["orders"] - again["created"] - len(moved)

    # Listed with their marketplace.
    listed = await kit.api("GET", "", tenant, params={"limit": 5})
    assert listed.status_code == 200, listed.text
    assert {o["marketplace"] for o in listed.json()["orders"]} == {"FNAC"}

    # One order by its Fnac id, as the view beside a Fnac ticket asks for it.
    some = rows[0]["external_order_id"]
    one = await kit.api("GET", f"/{some}", tenant, params={"marketplace": "FNAC"})
    assert one.status_code == 200 and one.json()["externalOrderId"] == some, one.text
    elsewhere = await kit.api("GET", f"/{some}", tenant, params={"marketplace": "DARTY"})
    assert elsewhere.status_code == 404, elsewhere.text  # looked in Darty's orders only
    nowhere = await kit.api("GET", f"/{some}", tenant, params={"marketplace": "NOWHERE"})
    assert nowhere.status_code == 400 and "marketplace" in nowhere.json()["message"]

    # Searched by its Fnac id (``q``), as an agent pastes it from a ticket.
    searched = await kit.api("GET", "", tenant, params={"q": some})
    assert searched.status_code == 200, searched.text
    assert [o["externalOrderId"] for o in searched.json()["orders"]] == [some]

    # The UpdatedAt sync picks up what changed at Fnac.
    before = await kit.pool.fetchval("SELECT count(*) FROM orders WHERE tenant_id = $1", tenant)
    advanced = await fnac.post(
        f"/_sandbox/fnac/shops/{shop['shop_id']}/advance", {"seconds": 4 * 86400}
    )
    result = await kit.runtime.component(OrderSync).sync_now(tenant)
    assert result.errors == 0 and result.created + result.updated > 0, result
    after = await kit.pool.fetch(
        "SELECT external_order_id FROM orders WHERE tenant_id = $1", tenant
    )
    assert set(advanced["newOrderIds"]) <= {r["external_order_id"] for r in after}
    assert len(after) == before + len(advanced["newOrderIds"])


async def test_an_outage_holds_the_job_which_says_why_and_then_completes(
    kit: OrdersKit, fnac: FnacAdmin, stack: Any
) -> None:
    shop = await fnac.shop(DEMO_FNAC)
    # More failures than the client's four attempts: the job waits, says why, goes on.
    await fnac.faults(failNext=6, failStatus=503, operations=["orders_query"])
    tenant = new_tenant()
    await _connect(kit, stack, shop, tenant)

    async def held() -> dict[str, Any] | None:
        job_id = await kit.pool.fetchval(
            "SELECT id::text FROM order_backfill_jobs WHERE tenant_id = $1", tenant
        )
        job = await kit.job(tenant, job_id) if job_id else None
        return job if job and job["lastError"] else None

    waiting = await eventually(held)
    assert "FNAC unavailable" in waiting["lastError"] and "503" in waiting["lastError"]
    [job] = await _jobs(kit, tenant, 1)
    assert job["status"] == "COMPLETED" and job["orders"] > 0, job
    rows = await kit.pool.fetchval("SELECT count(*) FROM orders WHERE tenant_id = $1", tenant)
    assert rows == job["orders"]


async def test_a_revoked_key_fails_the_job_and_asks_for_reauthorization(
    kit: OrdersKit, fnac: FnacAdmin, stack: Any
) -> None:
    shop = await fnac.shop(DEMO_DARTY)
    tenant = new_tenant()
    await fnac.post(f"/_sandbox/fnac/shops/{shop['shop_id']}/rotate-key")  # old key refused
    await _connect(kit, stack, shop, tenant)
    [job] = await _jobs(kit, tenant, 1)
    assert job["status"] == "FAILED", job
    assert "DARTY refused the shop's key" in job["reason"]
    assert shop["key"] not in job["reason"]
    [reauth] = await find_events(
        kit.nats_url, "connection.reauth_required", tenant, stream="CONNECTIONS"
    )
    assert reauth["marketplace"] == "DARTY" and reauth["sellerId"] == shop["shop_id"]
    # Said once the job has ended: orders cancels a tenant's running jobs on that event.
    subjects = await kit.pool.fetch(
        "SELECT subject FROM event_outbox WHERE convert_from(payload, 'UTF8')::jsonb"
        " ->> 'tenantId' = $1 AND subject IN ('order.backfill.failed',"
        " 'connection.reauth_required') ORDER BY id",
        tenant,
    )
    assert [r["subject"] for r in subjects] == [
        "order.backfill.failed",
        "connection.reauth_required",
    ]


async def test_a_key_revoked_after_the_backfill_stops_the_sync_and_asks_for_reauthorization(
    kit: OrdersKit, fnac: FnacAdmin, stack: Any
) -> None:
    shop = await fnac.shop(DEMO_DARTY)
    tenant = new_tenant()
    await _connect(kit, stack, shop, tenant)
    [job] = await _jobs(kit, tenant, 1)
    assert job["status"] == "COMPLETED", job
    await fnac.post(f"/_sandbox/fnac/shops/{shop['shop_id']}/rotate-key")

    result = await kit.runtime.component(OrderSync).sync_now(tenant)
    assert result.errors == 1, result
    [reauth] = await find_events(
        kit.nats_url, "connection.reauth_required", tenant, stream="CONNECTIONS"
    )
    assert reauth["marketplace"] == "DARTY" and reauth["sellerId"] == shop["shop_id"]
    assert shop["key"] not in reauth["reason"]


async def test_a_tenant_s_amazon_and_fnac_backfills_run_side_by_side_and_list_apart(
    kit: OrdersKit, fnac: FnacAdmin, stack: Any
) -> None:
    shop = await fnac.shop(DEMO_FNAC)
    tenant = new_tenant()
    await fnac.faults(failNext=100000, failStatus=503, operations=["orders_query"])
    await _connect(kit, stack, shop, tenant)

    def job_of(marketplace: str, held: bool = False) -> Callable[[], Awaitable[str | None]]:
        async def probe() -> str | None:
            return await kit.pool.fetchval(  # type: ignore[no-any-return]
                "SELECT id::text FROM order_backfill_jobs WHERE tenant_id = $1"
                " AND marketplace = $2 AND (NOT $3 OR last_error IS NOT NULL)",
                tenant,
                marketplace,
                held,
            )

        return probe

    fnac_job = await eventually(job_of("FNAC", held=True))
    # The Fnac job is held by the outage; Amazon's starts and completes all the same.
    await kit.connect(tenant)
    amazon_job = await eventually(job_of("AMAZON"))
    amazon = await kit.finished(tenant, amazon_job, within=120)
    assert amazon["marketplace"] == "AMAZON" and amazon["status"] == "COMPLETED", amazon
    assert (await kit.job(tenant, fnac_job))["status"] == "RUNNING"

    # A start per marketplace: Fnac's is the running one, an unknown marketplace a 400.
    again = await kit.api("POST", "/backfill", tenant, json={"marketplace": "FNAC"})
    assert again.status_code == 202, again.text
    assert again.json()["alreadyRunning"] is True and again.json()["jobId"] == fnac_job
    unknown = await kit.api("POST", "/backfill", tenant, json={"marketplace": "NOT_SERVED"})
    assert unknown.status_code == 400, unknown.text
    no_shop = await kit.api("POST", "/backfill", tenant, json={"marketplace": "DARTY"})
    assert no_shop.status_code == 409, no_shop.text  # no Darty shop connected
    assert "DARTY" in no_shop.json()["message"]

    await fnac.http.delete("/_sandbox/fnac/faults")
    done = await kit.finished(tenant, fnac_job, within=120)
    assert done["status"] == "COMPLETED" and done["orders"] > 0, done

    async def listed(**params: Any) -> list[dict[str, Any]]:
        answer = await kit.api("GET", "", tenant, params={"limit": 100, **params})
        assert answer.status_code == 200, answer.text
        return list(answer.json()["orders"])

    everything = await listed()
    by_marketplace = {m: await listed(marketplace=m) for m in ("AMAZON", "FNAC", "DARTY")}
    assert {o["marketplace"] for o in by_marketplace["FNAC"]} == {"FNAC"}
    assert {o["marketplace"] for o in by_marketplace["AMAZON"]} == {"AMAZON"}
    amazon_order = await kit.api(
        "GET", f"/{by_marketplace['AMAZON'][0]['externalOrderId']}", tenant
    )
    assert amazon_order.status_code == 200, amazon_order.text
    assert {i["marketplaceState"] for i in amazon_order.json()["items"]} == {None}
    assert by_marketplace["DARTY"] == []
    for marketplace, orders in by_marketplace.items():  # newest first, like the whole list
        seen = [o["id"] for o in everything if o["marketplace"] == marketplace]
        assert [o["id"] for o in orders][: len(seen)] == seen
    status = by_marketplace["FNAC"][0]["orderStatus"]  # with the other filters
    both = await listed(marketplace="FNAC", status=status)
    assert both and {(o["marketplace"], o["orderStatus"]) for o in both} == {("FNAC", status)}
    refused = await kit.api("GET", "", tenant, params={"marketplace": "NOT_SERVED"})
    assert refused.status_code == 400, refused.text


# --- a buyer message's order that cannot be read --------------------------------------------


def _message_about(tenant: str, marketplace: str, order_id: str) -> MessageReceived:
    return MessageReceived(
        tenant_id=tenant,
        marketplace=marketplace,
        external_message_id=str(uuid.uuid4()),
        ticket_id=str(uuid.uuid4()),
        ticket_message_id=str(uuid.uuid4()),
        order_id=order_id,
    )


def _message_orders(marketplace: str, outcome: str) -> float:
    labels = {"service": "orders", "marketplace": marketplace, "outcome": outcome}
    return REGISTRY.get_sample_value("keybuzz_orders_message_orders_total", labels) or 0.0


async def _counted(marketplace: str, outcome: str, at_least: float) -> float:
    async def probe() -> float | None:
        value = _message_orders(marketplace, outcome)
        return value if value >= at_least else None

    return await eventually(probe)


async def _dead_letters(nats_url: str, tenant: str) -> list[dict[str, Any]]:
    """The message.received events of ``tenant`` orders parked on DEADLETTER."""
    nc = await nats.connect(nats_url)
    found = []
    try:
        sub = await nc.jetstream().pull_subscribe(
            "deadletter.orders.message.received",
            stream="DEADLETTER",
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        )
        while True:
            try:
                messages = await sub.fetch(256, timeout=1)
            except (TimeoutError, nats.errors.TimeoutError):
                break
            found += [
                b for m in messages if (b := msgspec.json.decode(m.data))["tenantId"] == tenant
            ]
        await sub.unsubscribe()
    finally:
        await nc.close()
    return found


async def test_a_buyer_s_order_is_fetched_one_the_shop_does_not_have_is_final(
    kit: OrdersKit, fnac: FnacAdmin, stack: Any
) -> None:
    shop = await fnac.shop(DEMO_FNAC)
    tenant = new_tenant()
    await _connect(kit, stack, shop, tenant)
    await _jobs(kit, tenant, 1)
    order_id = await kit.pool.fetchval(
        "SELECT external_order_id FROM orders WHERE tenant_id = $1 LIMIT 1", tenant
    )
    await kit.pool.execute(
        "DELETE FROM orders WHERE tenant_id = $1 AND external_order_id = $2", tenant, order_id
    )
    not_found = _message_orders("FNAC", "not_found")
    fetched = _message_orders("FNAC", "fetched")
    # Fnac down past the client's four attempts: the events are held, then handled.
    await fnac.faults(failNext=6, failStatus=503, operations=["orders_query"])
    # Off Fnac's order id format (Fnac refuses such a query, ERR_003), and well-formed
    # but unknown to the shop.
    unknown = ["NOT-A-FNAC-ORDER", "0000UNKNOWN00"]
    await _publish(kit.nats_url, *(_message_about(tenant, "FNAC", o) for o in unknown))
    await _publish(kit.nats_url, _message_about(tenant, "FNAC", order_id))

    assert await _counted("FNAC", "fetched", fetched + 1) == fetched + 1
    assert _message_orders("FNAC", "not_found") == not_found + 2
    assert (
        await kit.pool.fetchval(
            "SELECT marketplace FROM orders WHERE tenant_id = $1 AND external_order_id = $2",
            tenant,
            order_id,
        )
        == "FNAC"
    )
    assert (
        await kit.pool.fetchval(
            "SELECT count(*) FROM orders WHERE tenant_id = $1 AND external_order_id = ANY($2)",
            tenant,
            unknown,
        )
        == 0
    )
    assert await _dead_letters(kit.nats_url, tenant) == []


async def test_a_shop_without_a_usable_key_waits_for_its_connection(
    kit: OrdersKit, fnac: FnacAdmin, stack: Any
) -> None:
    shop = await fnac.shop(DEMO_DARTY)
    never_connected = new_tenant()
    revoked = new_tenant()
    # The key in Vault, then rotated at Darty: the stored one is refused.
    secret = {k: shop[k] for k in ("partner_id", "shop_id", "key")}
    await asyncio.to_thread(
        root_vault(stack).secrets.kv.v2.create_or_update_secret,
        path=f"keybuzz/tenants/{revoked}/darty_api",
        secret=secret,
        mount_point="secret",
    )
    await fnac.post(f"/_sandbox/fnac/shops/{shop['shop_id']}/rotate-key")
    waiting = _message_orders("DARTY", "not_connected")

    await _publish(
        kit.nats_url,
        _message_about(never_connected, "DARTY", "1234567890ABC"),
        _message_about(revoked, "DARTY", "1234567890ABC"),
    )

    assert await _counted("DARTY", "not_connected", waiting + 2) == waiting + 2
    [reauth] = await find_events(
        kit.nats_url, "connection.reauth_required", revoked, stream="CONNECTIONS"
    )
    assert reauth["sellerId"] == shop["shop_id"]
    for tenant in (never_connected, revoked):
        assert await _dead_letters(kit.nats_url, tenant) == []
        assert (
            await kit.pool.fetchval("SELECT count(*) FROM orders WHERE tenant_id = $1", tenant) == 0
        )
