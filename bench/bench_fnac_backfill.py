"""A Fnac backfill's listing rate: the "KeyBuzz Bench Fnac" shop (50,000 orders in 90 days)
read whole by orders' ``ConnectorOrderSource`` (CreatedAt date windows of 15 days, 100
orders a page, each order mapped to our row), against a same-run baseline of raw
``orders_query`` round trips (``FnacClient``, one 90-day window, pages of 100, no
mapping) on the same double, each starting with a full bucket.

The double throttles each shop at 2 requests/s, bursts of 20 (docs/SANDBOX.md); a 429
says ``Retry-After: 1`` and the client obeys it. What the limit allows for a read of
``n`` requests (the auth included): the burst at once, then 2 a second, so
``orders / ((n - 20) / 2)``; sustained, 200 orders/s. The aim is ≥ 0.8 of it. Storing in
PostgreSQL is left out (its rate is the backfill benches'). The double runs in this
process (its CPU time is in the figures' notes). ``BENCH_FNAC_PAGES`` caps the pages
each read takes (default: all of them).

Run by hand: ``.venv/bin/python -m bench bench_fnac_backfill`` (~9 minutes).
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
from keybuzz_connector_fnac.client import FnacClient, FnacCredentials, xml_instant
from keybuzz_connector_fnac.models import DateRange, OrdersQuery
from keybuzz_orders.connector_source import ConnectorOrderSource
from keybuzz_sandbox.testing import running_sandbox
from keybuzz_shared.connectors.settings import MarketplaceSettings

from bench.backfill_rate import CallLimit, Statuses, listed, measured, note
from bench.harness import BenchContext, Figure

PAGES = int(os.environ.get("BENCH_FNAC_PAGES", "100000"))
LIMIT = CallLimit(rate=2.0, burst=20, per_page=100)
BENCH_SHOP = "KeyBuzz Bench Fnac"
DAYS = 90


class _ShopKey:
    """The shop's key as Vault would give it (this bench runs no Vault)."""

    def __init__(self, shop: dict[str, Any]) -> None:
        self.secret = {k: shop[k] for k in ("partner_id", "shop_id", "key")}

    async def read(self, path: str, cached: bool = False) -> dict[str, Any]:
        return self.secret


async def _raw(http: httpx.AsyncClient, base: str, shop: dict[str, Any], since: datetime) -> int:
    client = FnacClient(
        http, base, FnacCredentials(shop["partner_id"], shop["shop_id"], shop["key"])
    )
    orders, page = 0, 1
    while page <= PAGES:
        query = OrdersQuery(
            page=page,
            results_count=LIMIT.per_page,
            date=DateRange(type="CreatedAt", min=xml_instant(since)),
            sort="ASC",
        )
        found = await client.listed(query)
        orders += len(found.items)
        if not found.paging.has_next:
            break
        page += 1
    return orders


async def _source(http: httpx.AsyncClient, base: str, shop: dict[str, Any], since: datetime) -> int:
    source = ConnectorOrderSource(
        "FNAC",
        _ShopKey(shop),
        http,
        msgspec.structs.replace(MarketplaceSettings().shop_api("FNAC"), api_url=base),
        window_days=15,  # type: ignore[arg-type]
        clock=lambda: datetime.now(UTC),
    )
    return await listed(source, since, PAGES)


async def run(ctx: BenchContext) -> list[Figure]:
    statuses: Statuses = Counter()

    async def count(response: httpx.Response) -> None:
        statuses["api", response.status_code] += 1

    async with (
        running_sandbox() as url,
        httpx.AsyncClient(timeout=60, event_hooks={"response": [count]}) as http,
    ):
        shops = (await http.get(f"{url}/_sandbox/fnac/shops")).json()
        shop = next(s for s in shops if s["name"] == BENCH_SHOP)
        base = f"{url}/fnac/api.php/"
        since = datetime.now(UTC) - timedelta(days=DAYS)
        warm = FnacClient(
            http, base, FnacCredentials(shop["partner_id"], shop["shop_id"], shop["key"])
        )
        await warm.listed(OrdersQuery(page=1, results_count=1))  # the shop's history made
        await http.post(f"{url}/_sandbox/fnac/ratelimits/reset")
        raw = await measured(statuses, lambda: _raw(http, base, shop, since))
        await http.post(f"{url}/_sandbox/fnac/ratelimits/reset")
        src = await measured(statuses, lambda: _source(http, base, shop, since))
    return [
        {
            "name": "orders_query round trips (baseline)",
            "value": round(raw.rate, 1),
            "unit": "orders/s",
            "note": note(raw, LIMIT),
        },
        {
            "name": "ConnectorOrderSource backfill listing",
            "value": round(src.rate, 1),
            "unit": "orders/s",
            "baseline": round(raw.rate, 1),
            "note": note(src, LIMIT),
        },
    ]
