"""Operator metrics of backfills and syncs on GET /metrics (issue 12: job metrics)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from orders_testkit import OrdersKit, Sandbox, new_tenant
from prometheus_client.parser import text_string_to_metric_families


async def _scrape(orders: OrdersKit) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with orders.service.client() as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted({"service": "orders", **labels}.items()))), 0.0)


async def test_backfill_and_sync_metrics_are_on_metrics(
    make_orders: Callable[..., Awaitable[OrdersKit]], sandbox: Sandbox
) -> None:
    orders = await make_orders(BACKFILL_PAGE_SIZE="50")
    before = await _scrape(orders)
    await sandbox.fail_next(1, 429, "searchOrders")  # one rate-limit wait to count
    tenant = new_tenant()
    await orders.connect(tenant)
    job = await orders.finished(tenant, (await orders.job_of(tenant))["jobId"])
    assert job["status"] == "COMPLETED", job

    after = await _scrape(orders)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("keybuzz_orders_backfill_jobs_total", outcome="completed", strategy="SEARCH") == 1
    assert grew("keybuzz_orders_backfill_pages_total", source="search") >= job["pages"]
    assert grew("keybuzz_orders_backfill_orders_total", result="created") >= job["created"]
    assert grew("keybuzz_orders_spapi_rate_limit_waits_total") >= 1
    assert _value(after, "keybuzz_orders_backfill_jobs_running") == 0
    # The sync's lag for this tenant: Amazon's cursor is the backfill's createdBefore.
    lag = _value(after, "keybuzz_orders_sync_lag_seconds", tenant_id=tenant)
    assert 0 < lag < 3600
    assert _value(after, "keybuzz_orders_sync_cursor_timestamp_seconds", tenant_id=tenant) > 0
