"""Backfill jobs end to end: oauth connects a tenant through the sandbox, orders imports."""

from __future__ import annotations

from orders_testkit import OrdersKit, Sandbox, find_events, new_tenant


async def test_connect_backfills_the_seeded_seller_without_errors(
    orders: OrdersKit, sandbox: Sandbox
) -> None:
    tenant = new_tenant()
    await orders.connect(tenant)  # oauth emits connection.connected; orders starts a job

    started = await orders.job_of(tenant)
    assert started["trigger"] == "connection.connected"
    assert started["days"] == 90
    job = await orders.finished(tenant, started["jobId"])

    assert job["status"] == "COMPLETED", job
    assert job["orders"] >= 94  # 94 at start-up; the sped-up sandbox may have added one
    assert job["cancelled"] == 6
    assert job["errors"] == 0  # seed 003 counted the 6 cancelled orders as errors
    assert job["created"] == job["orders"]
    assert job["progress"] == 1.0
    assert job["createdBefore"] is not None  # Amazon's cursor, kept for the next sync

    pool = orders.pool
    rows = await pool.fetchval("SELECT count(*) FROM orders WHERE tenant_id = $1", tenant)
    assert rows == job["orders"]
    cancelled = await pool.fetch(
        "SELECT o.total_amount, i.quantity, i.unit_price FROM orders o"
        " JOIN order_items i ON i.order_id = o.id"
        " WHERE o.tenant_id = $1 AND o.order_status = 'CANCELLED'",
        tenant,
    )
    assert cancelled and all(r["quantity"] == 0 for r in cancelled)
    assert all(r["total_amount"] is None for r in cancelled)  # Amazon gives none: NULL
    shipped = await pool.fetchrow(
        "SELECT * FROM orders WHERE tenant_id = $1 AND order_status = 'SHIPPED' LIMIT 1", tenant
    )
    assert shipped["carrier"] and shipped["tracking_code"]
    assert shipped["currency"] == "EUR" and shipped["total_amount"] > 0
    assert shipped["order_ref"] == "#" + shipped["external_order_id"][-6:]
    assert shipped["customer_name"]  # direct-to-consumer-shipping role, merchant order

    [event] = await find_events(
        orders.nats_url, "order.backfill.completed", tenant, stream="ORDERS"
    )
    assert event["jobId"] == job["jobId"]
    assert event["counts"]["fetched"] == job["orders"]
    assert event["counts"]["cancelled"] == 6
    assert event["counts"]["errors"] == 0


async def test_http_backfill_is_one_job_per_tenant_and_a_rerun_changes_nothing(
    orders: OrdersKit, sandbox: Sandbox
) -> None:
    tenant = new_tenant()
    await orders.connect(tenant)
    first = await orders.finished(tenant, (await orders.job_of(tenant))["jobId"])
    assert first["status"] == "COMPLETED"
    before = await orders.pool.fetch(
        "SELECT id, updated_at FROM orders WHERE tenant_id = $1 ORDER BY id", tenant
    )

    # Slow pages keep the job running while the second request comes (a rerun is quick).
    await sandbox.set_faults(latencyMs=1500, operations=["searchOrders"])
    response = await orders.api("POST", "/backfill", tenant, json={"days": 90})
    assert response.status_code == 202, response.text
    job_id = response.json()["jobId"]
    assert response.json()["trigger"] == "http"
    again = await orders.api("POST", "/backfill", tenant, json={"days": 30})
    await sandbox.clear()
    assert again.status_code == 202
    assert again.json()["jobId"] == job_id  # the running one, not a second job
    assert again.json()["alreadyRunning"] is True

    rerun = await orders.finished(tenant, job_id)
    assert rerun["status"] == "COMPLETED"
    assert rerun["created"] == 0 and rerun["updated"] == 0
    assert rerun["unchanged"] == rerun["orders"] >= first["orders"] - 1
    after = await orders.pool.fetch(
        "SELECT id, updated_at FROM orders WHERE tenant_id = $1 ORDER BY id", tenant
    )
    assert after == before  # no row rewritten

    # The tenant's jobs, newest first: what a page shows after a connection.
    listed = await orders.api("GET", "/backfill?limit=5", tenant)
    assert listed.status_code == 200, listed.text
    assert [j["jobId"] for j in listed.json()["jobs"]] == [job_id, first["jobId"]]
    other = await orders.api("GET", "/backfill", new_tenant())
    assert other.status_code == 200 and other.json()["jobs"] == []
    assert (await orders.api("GET", "/backfill?limit=0", tenant)).status_code == 400


async def test_backfill_refuses_bad_input_and_unconnected_tenants(orders: OrdersKit) -> None:
    tenant = new_tenant()
    for body in ({"days": 0}, {"days": 731}, {"days": "ten"}, {"dayz": 3}, [1]):
        response = await orders.api("POST", "/backfill", tenant, json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]
    # Seed 002: missing Vault credentials were only found when the backfill ran.
    response = await orders.api("POST", "/backfill", tenant, json={"days": 5})
    assert response.status_code == 409, response.text
    assert f"secret/keybuzz/tenants/{tenant}/amazon_spapi" in response.json()["message"]
    assert (await orders.api("GET", "/backfill/not-a-uuid", tenant)).status_code == 400
    missing = await orders.api("GET", "/backfill/00000000-0000-0000-0000-000000000000", tenant)
    assert missing.status_code == 404
