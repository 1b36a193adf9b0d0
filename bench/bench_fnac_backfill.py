"""A Fnac backfill's listing rate: the "KeyBuzz Bench Fnac" shop (50,000 orders in 90 days)
read by orders' ``ConnectorOrderSource`` (CreatedAt date windows, 100 orders a page, each
order mapped to our row), against a same-run baseline of raw ``orders_query`` round trips
(``FnacClient``, pages of 100, no mapping) on the same double, each with a full bucket.

The double throttles each shop at 2 requests/s, bursts of 20 (docs/SANDBOX.md): the
ceiling is 200 orders/s once the burst is spent; the target is ≥ 0.8 of it. Storing in
PostgreSQL is left out (its rate is the backfill benches'). ``BENCH_FNAC_PAGES`` pages
each (default 100).

Run by hand: ``.venv/bin/python -m bench bench_fnac_backfill``.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from keybuzz_orders.connector_source import ConnectorOrderSource
from keybuzz_orders.order_source import OrderWindow
from keybuzz_sandbox.testing import running_sandbox
from keybuzz_shared.connectors.fnac.client import FnacClient, FnacCredentials
from keybuzz_shared.connectors.fnac.models import DateRange, OrdersQuery

from bench.harness import BenchContext, Figure

PAGES = int(os.environ.get("BENCH_FNAC_PAGES", "100"))
CEILING = 200.0  # orders/s: 2 requests/s × 100 orders
BENCH_SHOP = "KeyBuzz Bench Fnac"


class _ShopKey:
    """The shop's key as Vault would give it (this bench runs no Vault)."""

    def __init__(self, shop: dict[str, Any]) -> None:
        self.secret = {k: shop[k] for k in ("partner_id", "shop_id", "key")}

    async def read(self, path: str) -> dict[str, Any]:
        return self.secret


async def _raw(http: httpx.AsyncClient, base: str, shop: dict[str, Any]) -> tuple[int, float]:
    client = FnacClient(
        http, base, FnacCredentials(shop["partner_id"], shop["shop_id"], shop["key"])
    )
    start, orders = time.perf_counter(), 0
    since = datetime.now(UTC) - timedelta(days=90)
    for page in range(1, PAGES + 1):
        found = await client.orders_query(
            OrdersQuery(
                page=page,
                results_count=100,
                date=DateRange(type="CreatedAt", min=since),
                sort="ASC",
            )
        )
        orders += len(found.orders)
    return orders, time.perf_counter() - start


async def _source(http: httpx.AsyncClient, base: str, shop: dict[str, Any]) -> tuple[int, float]:
    source = ConnectorOrderSource(
        "FNAC", _ShopKey(shop), http, base, window_days=15,  # type: ignore[arg-type]
        clock=lambda: datetime.now(UTC),
    )  # fmt: skip
    window = OrderWindow("", created_after=datetime.now(UTC) - timedelta(days=90))
    start, orders = time.perf_counter(), 0
    for _ in range(PAGES):
        page = await source.orders_in_window("t-bench", window)
        orders += len(page.orders)
        if page.next_token is None:
            break
        window = OrderWindow("", created_after=window.created_after, page_token=page.next_token)
    return orders, time.perf_counter() - start


async def run(ctx: BenchContext) -> list[Figure]:
    async with running_sandbox() as url, httpx.AsyncClient(timeout=60) as http:
        shops = (await http.get(f"{url}/_sandbox/fnac/shops")).json()
        shop = next(s for s in shops if s["name"] == BENCH_SHOP)
        base = f"{url}/fnac/api.php/"
        await http.post(f"{url}/_sandbox/fnac/ratelimits/reset")
        raw_orders, raw_s = await _raw(http, base, shop)
        await http.post(f"{url}/_sandbox/fnac/ratelimits/reset")
        src_orders, src_s = await _source(http, base, shop)
    raw_rate, src_rate = raw_orders / raw_s, src_orders / src_s
    # What the limit allows for this many pages: the burst at once, then 2 a second.
    allowed = PAGES * 100 / max((PAGES - 20) / 2, 1e-9)
    return [
        {"name": "orders_query round trips (baseline)", "value": round(raw_rate, 1),
         "unit": "orders/s", "note": f"{raw_orders} orders, {PAGES} pages, {raw_s:.1f} s"},
        {"name": "ConnectorOrderSource backfill listing", "value": round(src_rate, 1),
         "unit": "orders/s", "baseline": round(raw_rate, 1),
         "note": f"{src_orders} orders in {src_s:.1f} s; {src_rate / allowed:.2f}× the limit's "
                 f"{allowed:.0f}/s for {PAGES} pages (burst 20, then 2/s; {CEILING:.0f}/s sustained)"},
    ]  # fmt: skip
