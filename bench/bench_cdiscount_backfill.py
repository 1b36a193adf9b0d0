"""A Cdiscount backfill's listing rate: the "KeyBuzz Bench Cdiscount" shop (50,000 orders
in 90 days) read whole by orders' ``ConnectorOrderSource`` (creation windows of 15 days,
100 orders a page, each order mapped to our row), against a same-run baseline of raw
``GET orders`` pages (``OctopiaClient.get_page``, one 90-day window, pages of 100 by
``Link``, no mapping) on the same double, each starting with a full bucket.

The Octopia double allows each seller 5 calls a second, bursts of 25 (docs/SANDBOX.md);
a 429 says ``Retry-After`` and the client obeys it. What the limit allows for a read of
``n`` calls: the burst at once, then 5 a second, so ``orders / ((n - 25) / 5)``;
sustained, 500 orders/s. The aim is ≥ 0.8 of it. Storing in PostgreSQL is left out (its
rate is the backfill benches'). The double runs in this process (its CPU time is in the
figures' notes). ``BENCH_CDISCOUNT_PAGES`` caps the pages each read takes (default: all).

Run by hand: ``.venv/bin/python -m bench bench_cdiscount_backfill`` (~4 minutes).
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from keybuzz_connector_cdiscount.connector import OctopiaClient, OctopiaCredentials
from keybuzz_connector_cdiscount.settings import CdiscountApiSettings, CdiscountSettings
from keybuzz_orders.connector_source import ConnectorOrderSource
from keybuzz_sandbox.testing import running_sandbox

from bench.backfill_rate import CallLimit, Statuses, listed, measured, note
from bench.harness import BenchContext, Figure

PAGES = int(os.environ.get("BENCH_CDISCOUNT_PAGES", "100000"))
LIMIT = CallLimit(rate=5.0, burst=25, per_page=100)
BENCH_SHOP = "KeyBuzz Bench Cdiscount"
DAYS = 90


def _fields(shop: dict[str, Any]) -> dict[str, str]:
    return {
        "client_id": shop["clientId"],
        "client_secret": shop["clientSecret"],
        "seller_id": shop["sellerId"],
    }


class _ShopKey:
    """The shop's credentials as Vault would give them (this bench runs no Vault)."""

    def __init__(self, shop: dict[str, Any]) -> None:
        self.secret = _fields(shop)

    async def read(self, path: str, cached: bool = False) -> dict[str, Any]:
        return self.secret


async def _raw(
    http: httpx.AsyncClient, ends: CdiscountApiSettings, shop: dict[str, Any], since: datetime
) -> int:
    client = OctopiaClient(OctopiaCredentials(**_fields(shop)), http, ends.api_url, ends.auth_url)
    query = {
        "createdAtMin": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sort": "createdAt:asc",
        "pageSize": str(LIMIT.per_page),
    }
    orders, cursor = 0, None
    for _ in range(PAGES):
        items, cursor = await client.get_page("/orders", query, cursor)
        orders += len(items)
        if cursor is None:
            break
    return orders


async def _source(
    http: httpx.AsyncClient, ends: CdiscountApiSettings, shop: dict[str, Any], since: datetime
) -> int:
    source = ConnectorOrderSource(
        "CDISCOUNT",
        _ShopKey(shop),  # type: ignore[arg-type]
        http,
        ends,
        window_days=15,
        clock=lambda: datetime.now(UTC),
    )
    return await listed(source, since, PAGES)


async def run(ctx: BenchContext) -> list[Figure]:
    statuses: Statuses = Counter()

    async def count(response: httpx.Response) -> None:
        kind = "token" if response.request.url.path.endswith("/token") else "api"
        statuses[kind, response.status_code] += 1

    async with (
        running_sandbox() as url,
        httpx.AsyncClient(timeout=60, event_hooks={"response": [count]}) as http,
    ):
        shops = (await http.get(f"{url}/_sandbox/cdiscount/shops")).json()
        shop = next(s for s in shops if s["name"] == BENCH_SHOP)
        given = CdiscountSettings(
            api_url=f"{url}/octopia/seller/v2/",
            cdiscount_auth_url=f"{url}/octopia/auth/realms/maas/protocol/openid-connect/token",
            # The backfill as a whole is measured: no call is cut short.
            call_deadline_seconds=3600.0,
        ).shop_api("CDISCOUNT")
        assert given is not None
        ends = given
        since = datetime.now(UTC) - timedelta(days=DAYS)
        reset = f"{url}/_sandbox/cdiscount/ratelimits/reset"
        await http.post(reset)
        raw = await measured(statuses, lambda: _raw(http, ends, shop, since))
        await http.post(reset)
        src = await measured(statuses, lambda: _source(http, ends, shop, since))
    return [
        {
            "name": "Octopia GET orders pages (baseline)",
            "value": round(raw.rate, 1),
            "unit": "orders/s",
            "note": note(raw, LIMIT, other="token"),
        },
        {
            "name": "ConnectorOrderSource Cdiscount backfill listing",
            "value": round(src.rate, 1),
            "unit": "orders/s",
            "baseline": round(raw.rate, 1),
            "note": note(src, LIMIT, other="token"),
        },
    ]
