"""message.received → the order the buyer writes about is there; operator backfill over NATS."""

from __future__ import annotations

import msgspec
import nats
from keybuzz_shared.events import MessageReceived
from orders_testkit import OrdersKit, Sandbox, eventually, new_tenant


async def _publish(nats_url: str, *events: MessageReceived) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for event in events:
            await js.publish(
                event.SUBJECT, msgspec.json.encode(event), headers={"Nats-Msg-Id": event.event_id}
            )
    finally:
        await nc.close()


async def _backfilled(orders: OrdersKit) -> str:
    """A connected tenant whose first backfill is over."""
    tenant = new_tenant()
    await orders.connect(tenant)
    await orders.finished(tenant, (await orders.job_of(tenant))["jobId"])
    return tenant


def _message(tenant: str, order_id: str | None) -> MessageReceived:
    return MessageReceived(
        tenant_id=tenant,
        external_message_id=f"<{new_tenant()}@marketplace.amazon.fr>",
        ticket_id=new_tenant(),
        ticket_message_id=new_tenant(),
        order_id=order_id,
    )


async def test_an_unknown_order_of_a_buyer_message_is_fetched(
    orders: OrdersKit, sandbox: Sandbox
) -> None:
    tenant = await _backfilled(orders)
    pool = orders.pool
    shipped = await pool.fetchrow(
        "SELECT external_order_id, total_amount, tracking_code FROM orders"
        " WHERE tenant_id = $1 AND order_status = 'SHIPPED' LIMIT 1",
        tenant,
    )
    order_id = shipped["external_order_id"]
    # As if the buyer wrote about an order the backfill has not seen (e.g. a new one).
    await pool.execute(
        "DELETE FROM orders WHERE tenant_id = $1 AND external_order_id = $2", tenant, order_id
    )

    foreign = "402-0000000-0000000"  # not this seller's order: Amazon answers 404
    await _publish(
        orders.nats_url,
        _message(tenant, foreign),
        _message(tenant, None),
        _message(tenant, order_id),
    )

    async def fetched() -> object:
        return await pool.fetchrow(
            "SELECT * FROM orders WHERE tenant_id = $1 AND external_order_id = $2",
            tenant,
            order_id,
        )

    row = await eventually(fetched)
    assert row["total_amount"] == shipped["total_amount"]
    assert row["tracking_code"] == shipped["tracking_code"]
    items = await pool.fetchval("SELECT count(*) FROM order_items WHERE order_id = $1", row["id"])
    assert items >= 1
    response = await orders.api("GET", f"/{order_id}", tenant)
    assert response.status_code == 200 and response.json()["items"]
    # The foreign order is skipped, not an error that blocks the consumer.
    assert not await pool.fetchval(
        "SELECT count(*) FROM orders WHERE external_order_id = $1", foreign
    )


async def test_amazon_is_asked_before_the_transaction_that_stores_the_order(
    orders: OrdersKit, sandbox: Sandbox
) -> None:
    """While getOrder takes its time, no connection waits in an open transaction."""
    tenant = await _backfilled(orders)
    pool = orders.pool
    order_id = await pool.fetchval(
        "DELETE FROM orders WHERE id = (SELECT id FROM orders WHERE tenant_id = $1 LIMIT 1)"
        " RETURNING external_order_id",
        tenant,
    )
    await sandbox.set_faults(latencyMs=2500, operations=["getOrder"])

    await _publish(orders.nats_url, _message(tenant, order_id))

    longest = 0.0  # seconds a connection of this database sat idle in a transaction

    async def fetched() -> object:
        nonlocal longest
        waiting = await pool.fetchval(
            "SELECT coalesce(max(extract(epoch FROM now() - xact_start)), 0)::float"
            " FROM pg_stat_activity WHERE datname = current_database()"
            " AND state = 'idle in transaction'"
        )
        longest = max(longest, waiting)
        return await pool.fetchval(
            "SELECT id FROM orders WHERE tenant_id = $1 AND external_order_id = $2",
            tenant,
            order_id,
        )

    await eventually(fetched)
    assert longest < 1.0, f"a transaction stayed open {longest:.1f} s during getOrder"


async def test_an_order_known_only_from_a_report_is_completed(
    orders: OrdersKit, sandbox: Sandbox
) -> None:
    """A report row lacks buyer, address and packages: a buyer message fetches the order."""
    tenant = await _backfilled(orders)
    pool = orders.pool
    full = await pool.fetchrow(
        "SELECT * FROM orders WHERE tenant_id = $1 AND order_status = 'SHIPPED'"
        " AND customer_name IS NOT NULL AND tracking_code IS NOT NULL LIMIT 1",
        tenant,
    )
    api_items = await pool.fetchval(
        "SELECT count(*) FROM order_items WHERE order_id = $1", full["id"]
    )
    # The row as an order report leaves it (store.upsert_orders, partial): no buyer, no
    # packages, the flat file's partial address, a stand-in item without Amazon's id.
    await pool.execute(
        "UPDATE orders SET source = 'REPORT', customer_name = NULL, customer_email = NULL,"
        " carrier = NULL, tracking_code = NULL, ship_by = NULL, shipped_at = NULL,"
        " shipping_address = jsonb_build_object('countryCode', 'FR') WHERE id = $1",
        full["id"],
    )
    await pool.execute("DELETE FROM order_items WHERE order_id = $1", full["id"])
    await pool.execute(
        "INSERT INTO order_items (order_id, external_item_id, sku, quantity)"
        " VALUES ($1, 'report:0', 'REPORT-SKU', 1)",
        full["id"],
    )

    await _publish(orders.nats_url, _message(tenant, full["external_order_id"]))

    async def completed() -> object:
        return await pool.fetchrow(
            "SELECT * FROM orders WHERE id = $1 AND source = 'API'", full["id"]
        )

    row = await eventually(completed)
    assert row["customer_name"] == full["customer_name"]
    assert row["customer_email"] == full["customer_email"]
    assert row["tracking_code"] == full["tracking_code"] and row["carrier"] == full["carrier"]
    assert row["shipping_address"] == full["shipping_address"]
    items = await pool.fetch(
        "SELECT external_item_id FROM order_items WHERE order_id = $1", full["id"]
    )
    assert len(items) == api_items
    assert not [i for i in items if i["external_item_id"].startswith("report:")]


async def test_operators_start_a_backfill_over_nats(orders: OrdersKit, sandbox: Sandbox) -> None:
    tenant = new_tenant()
    await orders.connect(tenant)
    first = await orders.finished(tenant, (await orders.job_of(tenant))["jobId"])
    nc = await nats.connect(orders.nats_url)
    try:
        reply = await nc.request(
            "keybuzz.orders.backfill", msgspec.json.encode({"tenantId": tenant, "days": 90}), 10
        )
        job = msgspec.json.decode(reply.data)
        assert job["trigger"] == "nats" and job["jobId"] != first["jobId"], job
        refused = await nc.request(
            "keybuzz.orders.backfill", msgspec.json.encode({"tenantId": new_tenant()}), 10
        )
        assert refused.headers and refused.headers.get("Nats-Service-Error-Code") == "409"
        bad = await nc.request("keybuzz.orders.backfill", b'{"tenantId": 1}', 10)
        assert bad.headers and bad.headers.get("Nats-Service-Error-Code") == "400"
    finally:
        await nc.close()
    done = await orders.finished(tenant, job["jobId"])
    assert done["status"] == "COMPLETED" and done["created"] == 0
