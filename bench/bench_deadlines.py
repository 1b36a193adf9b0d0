"""Response deadlines at scale: the agent's queue of a big tenant, and the alert scan.

1. Agent queue. One tenant with ``QUEUE_TICKETS`` (100,000) open tickets, seeded with
   set-based SQL into the poller's own tables (60 % awaiting a reply with a deadline
   spread over the next 24 h, 10 % overdue by up to 2 days, 25 % answered, 5 % "no
   response needed"), next to 100,000 tickets of 50 other tenants; the alerts of the
   deadlines already past recorded as given (the alert loop runs meanwhile, as it does
   in production). The poller runs in this process (as the other poller benches run
   it); the load comes from bench_http's client in a process of its own, at a constant
   200 requests/s (latency from each request's due instant):
   ``GET /api/v1/tickets?sort=respondBy&limit=50`` (first page), the same 40 pages deep
   (``nextCursor``), and ``?sort=respondBy&responseState=OVERDUE&limit=50``.
   Baselines of the same run: the same service's ``/health`` at the same rate just
   before, and the list statement itself (``store.list_tickets`` on the pool, one
   after another: p50/p99), with its EXPLAIN ANALYZE printed on stderr.
2. Alert scan. ``ALERT_TENANTS`` (20,000) tenants, each with a ticket whose
   ``ticket.response_due`` time (deadline − 2 h, the default lead) and one whose
   ``ticket.response_overdue`` time (the deadline) fall in the next ``ALERT_WINDOW``
   seconds (uniformly), plus three with later deadlines and one long overdue (its alerts
   given). A poller with the default ``RESPONSE_ALERT_INTERVAL_SECONDS`` (15) runs its
   alert loop; every alert event on JetStream is read back, and its lag is the stream's
   timestamp of the event minus the alert's time. Baseline: one claim round of the scan
   (``alerts_store.claim_alerts``, rolled back) and the metric's count, timed over the
   same rows just before.

``BENCH_DEADLINES_SECONDS`` (10): the load per endpoint; ``BENCH_DEADLINES_WINDOW`` (60);
``BENCH_DEADLINES_ONLY``: ``queue`` or ``alerts``, that part alone.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import msgspec
import nats
from keybuzz_devstack.testing import RunningService
from keybuzz_poller.tickets import alerts_store, store
from keybuzz_poller.tickets.ports import TicketQuery
from keybuzz_poller.tickets.queries import ticket_query
from keybuzz_shared.auth import issue_token
from keybuzz_shared.settings import DEV_JWT_SECRET
from nats.js.api import ConsumerConfig, DeliverPolicy

from bench import bench_http
from bench.bench_poller import _poller
from bench.harness import BenchContext, Figure

TENANT = "ecomlg-001"
QUEUE_TICKETS = 100_000
OTHER_TENANTS, OTHER_TICKETS = 50, 2_000
RATE = 200
SECONDS = float(os.environ.get("BENCH_DEADLINES_SECONDS", "10"))
DEEP_PAGES = 40
SQL_SAMPLES = 400
TARGET_P99_MS = 25.0

ALERT_TENANTS = 20_000
ALERT_WINDOW = float(os.environ.get("BENCH_DEADLINES_WINDOW", "60"))
ALERT_START = 15.0  # seconds from the seed to the first alert's time
ALERT_INTERVAL = 15.0  # RESPONSE_ALERT_INTERVAL_SECONDS' default
TARGET_LAG = 30.0
LEAD = timedelta(seconds=alerts_store.DEFAULT_LEAD_SECONDS)


async def run(ctx: BenchContext) -> list[Figure]:
    only = os.environ.get("BENCH_DEADLINES_ONLY", "")  # "queue" or "alerts": that part alone
    queue = await _agent_queue(ctx) if only != "alerts" else []
    return queue + (await _alert_scan(ctx) if only != "queue" else [])


# --- 1. the agent's queue ---------------------------------------------------------------


async def _agent_queue(ctx: BenchContext) -> list[Figure]:
    database = await ctx.make_database("bench_deadlines_queue")
    # BENCH_DEADLINES_QUEUE_ALERT_INTERVAL: the alert loop's interval meanwhile (an hour:
    # the queue without the alert rounds beside it).
    interval = os.environ.get("BENCH_DEADLINES_QUEUE_ALERT_INTERVAL", str(ALERT_INTERVAL))
    poller = await _poller(ctx, database, {}, poll=False, RESPONSE_ALERT_INTERVAL_SECONDS=interval)
    try:
        seeded = await _seed_queue(poller.runtime.pool)
        print(f"  seeded {QUEUE_TICKETS} tickets in {seeded:.1f} s", file=sys.stderr, flush=True)
        endpoints = await _queue_endpoints(poller)
        sql = await _statement_alone(poller.runtime.pool)
        round_ms = await _alert_round_sql(poller.runtime.pool)
        health = await bench_http._load(bench_http._health_of(endpoints[0][1]), RATE)
        figures = []
        for label, endpoint in endpoints:
            print(f"  {label} at {RATE}/s …", file=sys.stderr, flush=True)
            summary = await bench_http._load(endpoint, RATE)
            figures.append(_queue_figure(label, summary, health, sql[label], round_ms))
        return figures
    finally:
        await poller.stop()


async def _seed_queue(pool: asyncpg.Pool) -> float:
    start = time.perf_counter()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(_SEED_TICKETS, TENANT, QUEUE_TICKETS, "q")
        for n in range(OTHER_TENANTS):
            await conn.execute(_SEED_TICKETS, f"other-{n:03d}", OTHER_TICKETS, "o")
        # The alerts whose time has passed were given before: the loop finds only news.
        await conn.execute(_GIVEN_ALERTS, LEAD)
    async with pool.acquire() as conn:
        await conn.execute("VACUUM ANALYZE poller_tickets")
        await conn.execute("VACUUM ANALYZE poller_response_alerts")
    return time.perf_counter() - start


# A tenant's tickets: 60 % awaiting a reply (deadline in the next 24 h), 10 % overdue (by
# up to 2 days), 25 % answered, 5 % no response needed; the last message a day before.
_SEED_TICKETS = """
INSERT INTO poller_tickets (id, tenant_id, marketplace, thread_key, order_id, buyer_email,
                            buyer_name, subject, status, message_count, created_at,
                            last_message_at, response_state, respond_by)
SELECT $3 || '-' || $1 || '-' || n, $1, 'AMAZON', 'thread-' || n, '405-' || n,
       'buyer' || n || '@marketplace.amazon.fr', 'Buyer ' || n, 'Question about order ' || n,
       'OPEN', 1 + n % 4, last_at - interval '1 hour', last_at,
       CASE WHEN share < 0.70 THEN 'AWAITING_REPLY'
            WHEN share < 0.95 THEN 'ANSWERED' ELSE 'NO_RESPONSE_NEEDED' END,
       CASE WHEN share < 0.60 THEN now() + random() * interval '24 hours'
            WHEN share < 0.70 THEN now() - random() * interval '48 hours' END
FROM (SELECT n, random() AS share, now() - random() * interval '3 days' AS last_at
      FROM generate_series(1, $2) AS n) AS s
"""

_GIVEN_ALERTS = """
INSERT INTO poller_response_alerts (ticket_id, respond_by, kind, tenant_id)
SELECT id, respond_by, k.kind, tenant_id
FROM poller_tickets CROSS JOIN (VALUES ('DUE'), ('OVERDUE')) AS k (kind)
WHERE response_state = 'AWAITING_REPLY'
  AND respond_by - CASE k.kind WHEN 'DUE' THEN $1::interval ELSE interval '0' END <= now()
"""


async def _queue_endpoints(poller: RunningService) -> list[tuple[str, bench_http.Endpoint]]:
    token = issue_token(DEV_JWT_SECRET, "bench-agent", tenants=[TENANT])
    headers = {"Authorization": f"Bearer {token}", "X-Tenant-Id": TENANT}
    base = f"{poller.url}/api/v1/tickets?sort=respondBy&limit=50"
    cursor = None
    async with httpx.AsyncClient(headers=headers, timeout=30) as http:
        for _ in range(DEEP_PAGES):
            page = (await http.get(base + (f"&cursor={cursor}" if cursor else ""))).json()
            assert len(page["items"]) == 50, page
            cursor = page["nextCursor"]
        overdue = (await http.get(base + "&responseState=OVERDUE")).json()
        assert [t["responseState"] for t in overdue["items"]] == ["OVERDUE"] * 50, overdue
    return [
        (label, bench_http.Endpoint(label, url, headers))
        for label, url in (
            ("first page", base),
            (f"page {DEEP_PAGES + 1}", f"{base}&cursor={cursor}"),
            ("OVERDUE first page", f"{base}&responseState=OVERDUE"),
        )
    ]


async def _statement_alone(pool: asyncpg.Pool) -> dict[str, dict[str, float]]:
    """The list statement alone on the pool, one call after another: p50/p99 ms, per page."""
    now = datetime.now(UTC)
    first = ticket_query(TENANT, None, None, None, None, 50, sort="respondBy", now=now)
    rows = await store.list_tickets(pool, first)
    for _ in range(DEEP_PAGES - 1):
        last = rows[49]
        rows = await store.list_tickets(pool, _after(first, last.respond_by, last.id))
    deep = _after(first, rows[49].respond_by, rows[49].id)
    overdue = ticket_query(
        TENANT, None, None, None, None, 50, sort="respondBy", response_state="OVERDUE", now=now
    )
    queries = {"first page": first, f"page {DEEP_PAGES + 1}": deep, "OVERDUE first page": overdue}
    times: dict[str, dict[str, float]] = {}
    for label, query in queries.items():
        samples = []
        for _ in range(SQL_SAMPLES):
            start = time.perf_counter()
            await store.list_tickets(pool, query)
            samples.append(1000 * (time.perf_counter() - start))
        samples.sort()
        times[label] = {"p50": samples[len(samples) // 2], "p99": samples[int(len(samples) * 0.99)]}
    await _explain(pool, first)
    return times


def _after(query: TicketQuery, at: datetime, ticket_id: str) -> TicketQuery:
    return msgspec.structs.replace(query, after_at=at, after_id=ticket_id)


async def _explain(pool: asyncpg.Pool, query: TicketQuery) -> None:
    """The plan of the deadline order (tenant, respond_by, id), first page (stderr)."""
    plan = await pool.fetch(
        """
        EXPLAIN (ANALYZE, BUFFERS)
        SELECT id, respond_by FROM poller_tickets
        WHERE tenant_id = $1 AND respond_by IS NOT NULL ORDER BY respond_by, id LIMIT 51
        """,
        query.tenant_id,
    )
    print("\n".join(r[0] for r in plan), file=sys.stderr, flush=True)


async def _alert_round_sql(pool: asyncpg.Pool) -> tuple[float, float]:
    """What the alert loop (every 15 s, same database) asks of PostgreSQL in a round with
    nothing new: the claim (rolled back), and the metric's count over every ticket, ms."""
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        start = time.perf_counter()
        await alerts_store.claim_alerts(conn, datetime.now(UTC), 500)
        claim = 1000 * (time.perf_counter() - start)
        start = time.perf_counter()
        await alerts_store.deadline_counts(conn, datetime.now(UTC))
        counts = 1000 * (time.perf_counter() - start)
        await tx.rollback()
    return claim, counts


def _queue_figure(
    label: str,
    s: dict[str, float],
    health: dict[str, float],
    sql: dict[str, float],
    round_ms: tuple[float, float],
) -> Figure:
    return {
        "name": f"tickets?sort=respondBy {label}, {QUEUE_TICKETS:,} open @ {RATE}/s p99",
        "value": s["p99_ms"],
        "unit": "ms",
        "baseline": health["p99_ms"],
        "note": (
            f"target ≤ {TARGET_P99_MS:.0f} ms; {int(s['requests'])} requests in {SECONDS:.0f} s "
            f"({s['requests'] / SECONDS:.0f}/s), {int(s['errors'])} errors, p50 "
            f"{s['p50_ms']:.1f} ms, max {s['max_ms']:.0f} ms; baselines: /health at {RATE}/s "
            f"just before (p99; p50 {health['p50_ms']:.1f} ms), the SQL statement alone "
            f"p50 {sql['p50']:.2f} ms, p99 {sql['p99']:.2f} ms; an alert round's SQL "
            f"(meanwhile every {ALERT_INTERVAL:.0f} s): claim {round_ms[0]:.0f} ms, "
            f"metric's count {round_ms[1]:.0f} ms"
        ),
    }


# --- 2. the alert scan ------------------------------------------------------------------


async def _alert_scan(ctx: BenchContext) -> list[Figure]:
    database = await ctx.make_database("bench_deadlines_alerts")
    interval = {"RESPONSE_ALERT_INTERVAL_SECONDS": str(ALERT_INTERVAL)}
    poller = await _poller(ctx, database, {}, poll=False, **interval)
    nc = await nats.connect(ctx.nats_url)
    received: list[tuple[str, datetime, datetime]] = []  # subject, alert time, published
    try:

        async def on_alert(msg: Any) -> None:
            _on_alert(msg, received)

        sub = await nc.jetstream().subscribe(
            "ticket.*",
            ordered_consumer=True,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW),
            cb=on_alert,
        )
        t0 = datetime.now(UTC) + timedelta(seconds=ALERT_START)
        seeded = await _seed_alerts(poller.runtime.pool, t0)
        print(f"  seeded {ALERT_TENANTS} tenants in {seeded:.1f} s", file=sys.stderr, flush=True)
        expected = 2 * ALERT_TENANTS
        deadline = time.monotonic() + ALERT_START + ALERT_WINDOW + 2 * ALERT_INTERVAL + 30
        while len(received) < expected and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(1)
        await sub.unsubscribe()
    finally:
        await nc.close()
        await poller.stop()
    baseline = await _scan_alone(database, t0)
    return [_alert_figure(received, expected, baseline)]


def _on_alert(msg: Any, received: list[tuple[str, datetime, datetime]]) -> None:
    body = json.loads(msg.data)
    respond_by = datetime.fromisoformat(body["respondBy"])
    due = respond_by - timedelta(seconds=body["leadSeconds"]) if "leadSeconds" in body else None
    received.append((msg.subject, due or respond_by, msg.metadata.timestamp))


async def _seed_alerts(pool: asyncpg.Pool, t0: datetime) -> float:
    start = time.perf_counter()
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(_SEED_ALERT_TICKETS, ALERT_TENANTS, t0, ALERT_WINDOW, LEAD)
        await conn.execute(_GIVEN_ALERTS_BEFORE, t0, LEAD)
    async with pool.acquire() as conn:
        await conn.execute("VACUUM ANALYZE poller_tickets")
        await conn.execute("VACUUM ANALYZE poller_response_alerts")
    return time.perf_counter() - start


# Per tenant: kind 0 alerts response_due in the window, kind 1 response_overdue in the
# window (its due alert given already), kinds 2-4 later deadlines, kind 5 long overdue.
_SEED_ALERT_TICKETS = """
INSERT INTO poller_tickets (id, tenant_id, marketplace, thread_key, subject, status,
                            message_count, last_message_at, response_state, respond_by)
SELECT 'a-' || n || '-' || k, 'tenant-' || n, 'AMAZON', 'thread-' || k, 'Question', 'OPEN',
       1, now(), 'AWAITING_REPLY',
       CASE k WHEN 0 THEN $2::timestamptz + random() * make_interval(secs => $3) + $4::interval
              WHEN 1 THEN $2::timestamptz + random() * make_interval(secs => $3)
              WHEN 5 THEN now() - interval '30 hours'
              ELSE now() + interval '3 hours' + random() * interval '20 hours' END
FROM generate_series(1, $1) AS n CROSS JOIN generate_series(0, 5) AS k
"""

_GIVEN_ALERTS_BEFORE = """
INSERT INTO poller_response_alerts (ticket_id, respond_by, kind, tenant_id)
SELECT id, respond_by, k.kind, tenant_id
FROM poller_tickets CROSS JOIN (VALUES ('DUE'), ('OVERDUE')) AS k (kind)
WHERE respond_by - CASE k.kind WHEN 'DUE' THEN $2::interval ELSE interval '0' END
      < $1::timestamptz
"""


async def _scan_alone(database: str, t0: datetime) -> float:
    """Baseline, the poller stopped: one claim round of a full batch and the metric's count
    over the same rows, the run's alerts made not given again (rolled back): median ms."""
    conn = await asyncpg.connect(database)
    samples = []
    try:
        for _ in range(5):
            tx = conn.transaction()
            await tx.start()
            await conn.execute("DELETE FROM poller_response_alerts WHERE emitted_at >= $1", t0)
            start = time.perf_counter()
            rows = await alerts_store.claim_alerts(conn, datetime.now(UTC), 500)
            await alerts_store.deadline_counts(conn, datetime.now(UTC))
            samples.append(1000 * (time.perf_counter() - start))
            await tx.rollback()
            assert len(rows) == 500, len(rows)
    finally:
        await conn.close()
    return statistics.median(samples)


def _alert_figure(
    received: list[tuple[str, datetime, datetime]], expected: int, scan_ms: float
) -> Figure:
    lags = sorted((published - due).total_seconds() for _, due, published in received)
    late = sum(1 for lag in lags if lag > TARGET_LAG)
    overdue = sum(1 for subject, _, _ in received if subject == "ticket.response_overdue")
    return {
        "name": f"alert lag, {ALERT_TENANTS:,} tenants, interval {ALERT_INTERVAL:.0f} s, max",
        "value": lags[-1] if lags else float("nan"),
        "unit": "s",
        "baseline": scan_ms / 1000,
        "note": (
            f"target every alert ≤ {TARGET_LAG:.0f} s: {late} over; {len(received)} of "
            f"{expected} alerts ({overdue} overdue) in a {ALERT_WINDOW:.0f} s window; lag "
            f"(JetStream timestamp − alert time) p50 {lags[len(lags) // 2]:.1f} s, p99 "
            f"{lags[int(len(lags) * 0.99)]:.1f} s, min {lags[0]:.1f} s; baseline: one claim "
            f"round (500 alerts, rolled back) + the metric's count over the same rows, s"
        )
        if lags
        else "no alert received",
    }
