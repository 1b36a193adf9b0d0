"""Orders HTTP reads with 1,000,000 orders in the table (issue 12, point 5).

The orders service runs in its own process (``python -m keybuzz_orders``) on the
benchmark's stack; its migrations create the tables, then 1,000,000 orders
(20 tenants: one with 400,000, nineteen with ~31,600) and ~2,000,000 items are
generated inside PostgreSQL (``generate_series``, one statement each: no rows
cross the network) and analysed. Each read runs at a constant 200 requests/s from
a load process of its own (bench_http's client, no coordinated omission) for
``BENCH_HTTP_SECONDS``; each figure's baseline is the service's ``/health`` at the
same rate just before. Target: p99 ≤ 25 ms. All reads are for the largest tenant.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
from keybuzz_shared.auth import issue_token
from keybuzz_shared.settings import DEV_JWT_SECRET

from bench.bench_http import Endpoint, _figure, _health_of, _load, _start_service
from bench.harness import BenchContext, Figure

RATE = 200
BIG = "bench-t00"  # 400,000 orders
TENANTS = 20
ORDERS = 1_000_000
API = "/api/v1/orders"

# Orders: tenant 0 gets 40 %, the others share the rest; dates over two years;
# statuses with realistic weights; names from a small list (some accented).
GENERATE_ORDERS = """
INSERT INTO orders (tenant_id, marketplace, marketplace_id, external_order_id, order_ref,
    customer_name, customer_email, order_date, marketplace_updated_at, currency, total_amount,
    order_status, marketplace_status, fulfillment_channel, delivery_status, source)
SELECT t.tenant, 'AMAZON', 'A13V1IB3VIYZZH', t.order_id, '#' || right(replace(t.order_id, '-', ''), 6),
       t.first || ' ' || t.last, lower(t.first) || '.' || lower(t.last) || g || '@example.test',
       t.placed, t.placed + interval '2 days', 'EUR', round((5 + (g % 9973) / 37.0)::numeric, 2),
       t.status::order_status, 'SHIPPED', 'MERCHANT', 'SHIPPED', 'API'
FROM generate_series(1, $1) AS g,
LATERAL (SELECT
    CASE WHEN g % 5 < 2 THEN 'bench-t00'
         ELSE 'bench-t' || lpad((1 + g % 19)::text, 2, '0') END AS tenant,
    lpad((100 + g % 900)::text, 3, '0') || '-' || lpad((g % 9999991)::text, 7, '0') || '-'
        || lpad(g::text, 7, '0') AS order_id,
    (ARRAY['Camille','Léa','Hugo','Zoé','Jürgen','Anaïs','Lucas','Chloé','Noah','Inès'])[1 + g % 10] AS first,
    (ARRAY['Martin','Bernard','Dubois','Thomas','Robert','Müller','Petit','Durand','Leroy','Moreau',
           'Simon','Laurent','Lefèbvre','Michel','Garcia','David','Bertrand','Roux','Vincent','Fournier'])
        [1 + (g / 10) % 20] || CASE WHEN g % 7 = 0 THEN '-' || (g % 1000)::text ELSE '' END AS last,
    now() - make_interval(secs => (g * 63.07)::numeric % (730 * 86400)) AS placed,
    CASE WHEN g % 50 = 0 THEN 'CANCELLED' WHEN g % 20 = 0 THEN 'CONFIRMED'
         WHEN g % 10 = 0 THEN 'PENDING' WHEN g % 3 = 0 THEN 'DELIVERED' ELSE 'SHIPPED' END AS status
) AS t
"""
GENERATE_ITEMS = """
INSERT INTO order_items (order_id, external_item_id, sku, asin, title, quantity, unit_price, currency)
SELECT o.id, o.external_order_id || '-' || n, 'SKU-' || lpad(((h + n * 7919) % 20000)::text, 5, '0'),
       'B0' || lpad(((h + n * 7919) % 20000)::text, 8, '0'), 'Produit n° ' || ((h + n * 7919) % 20000),
       1 + (h + n) % 3, round((3 + ((h + n) % 5000) / 41.0)::numeric, 2), 'EUR'
FROM orders o, LATERAL (SELECT hashtext(o.external_order_id)::bigint & 2147483647 AS h) AS x,
     LATERAL generate_series(1, 1 + (x.h % 3)) AS n
"""

GENERATE_NAME_WORDS = """
INSERT INTO order_name_words
SELECT e.* FROM orders o,
     name_search_entries(o.tenant_id, o.customer_name, o.order_date, o.id) AS e
WHERE o.customer_name IS NOT NULL
"""

# Indexes that back no constraint (the unique keys stay: the generator relies on them).
SECONDARY_INDEXES = """
SELECT i.indexname, i.indexdef FROM pg_indexes i
WHERE i.schemaname = 'public' AND i.tablename IN ('orders', 'order_items')
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
"""


async def run(ctx: BenchContext) -> list[Figure]:
    service = await _start_service(ctx, "orders", "ORDERS_PORT")
    try:
        loaded = await _load_orders(service.database_url)
        endpoints = await _endpoints(service.url, service.database_url)
        figures: list[Figure] = [loaded]
        for endpoint in endpoints:
            print(f"  {endpoint.label} at {RATE}/s …", file=sys.stderr, flush=True)
            health = await _load(_health_of(endpoint), RATE)
            figures.append(_figure(endpoint, RATE, await _load(endpoint, RATE), health))
        return figures
    finally:
        await asyncio.to_thread(service.server.stop)


async def _load_orders(database_url: str) -> Figure:
    conn = await asyncpg.connect(database_url)
    try:
        start = time.perf_counter()
        # Secondary indexes are built once after the load, from the migrations' own
        # definitions: maintaining two trigram indexes row by row takes many minutes.
        indexes = await conn.fetch(SECONDARY_INDEXES)
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        # The name-word rows (migration 006) in one statement after the load, not by
        # the trigger row by row; the same function makes them.
        await conn.execute("ALTER TABLE orders DISABLE TRIGGER USER")
        await conn.execute(GENERATE_ORDERS, ORDERS)
        await conn.execute(GENERATE_ITEMS)
        await conn.execute(GENERATE_NAME_WORDS)
        await conn.execute("ALTER TABLE orders ENABLE TRIGGER USER")
        for index in indexes:
            await conn.execute(index["indexdef"])
        # VACUUM too: a table just loaded has no hint bits or visibility map yet, and the
        # first reads (and autovacuum) would rewrite it while the load is measured.
        for table in ("orders", "order_items", "order_name_words"):
            await conn.execute(f"VACUUM ANALYZE {table}")
        seconds = time.perf_counter() - start
        orders = await conn.fetchval("SELECT count(*) FROM orders")
        items = await conn.fetchval("SELECT count(*) FROM order_items")
    finally:
        await conn.close()
    return {
        "name": "generate 1,000,000 orders in PostgreSQL",
        "value": seconds,
        "unit": "s",
        "note": f"{orders} orders, {items} items, {TENANTS} tenants (INSERT … SELECT "
        "generate_series, the migrations' secondary indexes built after, then VACUUM ANALYZE)",
    }


async def _endpoints(base: str, database_url: str) -> list[Endpoint]:
    token = issue_token(DEV_JWT_SECRET, "bench-agent", tenants=[BIG])
    headers = {"Authorization": f"Bearer {token}", "X-Tenant-Id": BIG}
    conn = await asyncpg.connect(database_url)
    try:
        sample = await conn.fetchrow(
            "SELECT o.external_order_id, o.customer_name, o.order_date,"
            " (SELECT sku FROM order_items i WHERE i.order_id = o.id LIMIT 1) AS sku"
            " FROM orders o WHERE tenant_id = $1 ORDER BY order_date DESC OFFSET 150000 LIMIT 1",
            BIG,
        )
    finally:
        await conn.close()
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        page = (await http.get(API, params={"limit": 50})).json()
        for _ in range(20):  # a cursor 1,000 orders deep
            page = (await http.get(API, params={"limit": 50, "cursor": page["nextCursor"]})).json()
        deep_cursor = page["nextCursor"]
    day = sample["order_date"]
    reads: dict[str, dict[str, Any]] = {
        "list, newest first": {"limit": 50},
        "list, keyset page 1,000 orders deep": {"limit": 50, "cursor": deep_cursor},
        "list, status=CANCELLED": {"status": "CANCELLED", "limit": 50},
        "list, status=PENDING&status=CONFIRMED": {"status": ["PENDING", "CONFIRMED"]},
        "list, from/to (one week)": {
            "from": (day.replace(hour=0, minute=0, second=0)).isoformat(),
            "to": (day.replace(hour=0, minute=0, second=0) + timedelta(days=7)).isoformat(),
        },
        "list, q=order id": {"q": sample["external_order_id"]},
        "list, q=customer name (rare)": {"q": sample["customer_name"]},
        "list, q=customer name (common)": {"q": "Müller"},
        "list, q=SKU": {"q": sample["sku"]},
    }
    endpoints = [
        Endpoint(
            f"orders GET {API}?{label}", f"{base}{API}?{urlencode(params, doseq=True)}", headers
        )
        for label, params in reads.items()
    ]
    endpoints.append(
        Endpoint(
            f"orders GET {API}/{{orderId}}", f"{base}{API}/{sample['external_order_id']}", headers
        )
    )
    async with httpx.AsyncClient(headers=headers, timeout=30) as http:
        for endpoint in endpoints:  # each read answers, and finds something
            answer = await http.get(endpoint.url)
            answer.raise_for_status()
            body = answer.json()
            if "orders" in body and not body["orders"]:
                raise RuntimeError(f"{endpoint.label}: empty")
    return endpoints
