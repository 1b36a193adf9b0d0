"""Many sellers' orders through the orders service, by marketplace: ``N`` small sellers of a
double connected at once, their 90-day backfills, then an incremental sync round of them
all; ManoMano's (``SANDBOX_MANOMANO_EXTRA_SHOPS``, 16 orders over 120 days each) measured
against a same-run baseline of the same ``N`` Cdiscount shops
(``SANDBOX_CDISCOUNT_EXTRA_SHOPS``, 12 orders in 90 days each), one after the other.

Set-up: the sandbox in a process of its own hosting both sets of sellers, a PostgreSQL of
the bench's own. For each marketplace: a scratch database, the orders service as in
production (``python -m keybuzz_orders``, a process of its own, the sandbox's doubles in
its settings, ``ORDERS_SYNC_INTERVAL_SECONDS`` ``INTERVAL``), each seller's credentials in
Vault where its connector keeps them (not timed).

Measured, each marketplace in turn:

- **backfill**: ``connection.connected`` for all ``N`` at once (a tenant each, as oauth
  publishes it) → every backfill job finished (``order_backfill_jobs.finished_at``): time
  to all done, orders stored a second, jobs failed;
- **incremental round**: every seller's sync cursor made due at once (its worst case: a
  round claims all that are due and reads them one after another) → every cursor moved:
  the round's time, each seller's lag from due to read (p50/p99/max), the sellers a round
  at the default 900 s interval holds at that pace, cursors in error;
- both phases: the double's answers to the marketplace's calls by status (its access
  log: 200s, 429s, others), calls per seller (and per seller an hour at 900 s rounds)
  against the limit stated for the marketplace (``LIMITS``), and the orders service's CPU
  (``/proc``) with the machine's load.

``BENCH_ORDER_SYNC_SELLERS`` (2,000) / ``BENCH_ORDER_SYNC_MARKETPLACES`` (``CDISCOUNT,MANOMANO``:
the first is the baseline) / ``BENCH_ORDER_SYNC_TIMEOUT`` (1800 s a phase).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
from keybuzz_devstack import bootstrap, infra
from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN
from keybuzz_sandbox.doubles import service_env
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.events import ConnectionConnected, encode_event, event_headers
from keybuzz_shared.vault import VaultClient

from bench.backfill_rate import CallLimit
from bench.bench_shop_polling import _gathered, _quantiles, double_and_postgres
from bench.harness import BenchContext, Figure, cpu_seconds_by_process, cpu_spent_by_process

SELLERS = int(os.environ.get("BENCH_ORDER_SYNC_SELLERS", "2000"))
MARKETPLACES = os.environ.get("BENCH_ORDER_SYNC_MARKETPLACES", "CDISCOUNT,MANOMANO").split(",")
TIMEOUT = float(os.environ.get("BENCH_ORDER_SYNC_TIMEOUT", "1800"))
INTERVAL = 3600  # no round of its own during the measures: the bench makes them due
DEFAULT_INTERVAL = 900  # ORDERS_SYNC_INTERVAL_SECONDS' default
LABEL = "order-sync"


@dataclass(frozen=True)
class Marketplace:
    """A double's small sellers as the bench connects them: where the double lists them,
    which of them are the extra ones, what oauth keeps of one, its seller id, the prefix of
    its API's paths in the double's access log, and its limit per seller."""

    code: str
    extra_shops: str  # the double's setting
    listing: str  # under /_sandbox
    is_extra: Callable[[dict[str, Any]], bool]
    secret: Callable[[dict[str, Any]], dict[str, str]]
    seller_id: Callable[[dict[str, Any]], str]
    api: str  # the API's path prefix
    limit: CallLimit
    limit_source: str


MARKETPLACE_SPECS = {
    "CDISCOUNT": Marketplace(
        code="CDISCOUNT",
        extra_shops="SANDBOX_CDISCOUNT_EXTRA_SHOPS",
        listing="/cdiscount/shops",
        is_extra=lambda s: "Boutique" in s["name"],
        secret=lambda s: {
            "client_id": s["clientId"],
            "client_secret": s["clientSecret"],
            "seller_id": s["sellerId"],
        },
        seller_id=lambda s: str(s["sellerId"]),
        api="/octopia/seller/",
        limit=CallLimit(rate=5.0, burst=25, per_page=100),
        limit_source="the Octopia double's, docs/SANDBOX.md",
    ),
    "MANOMANO": Marketplace(
        code="MANOMANO",
        extra_shops="SANDBOX_MANOMANO_EXTRA_SHOPS",
        listing="/manomano/sellers",
        is_extra=lambda s: s["name"].startswith("Boutique"),
        secret=lambda s: {"api_key": s["apiKey"], "seller_contract_id": str(s["contract"])},
        seller_id=lambda s: str(s["contract"]),
        api="/manomano/orders/",
        limit=CallLimit(rate=2.0, burst=10, per_page=50),
        limit_source="assumed, docs/MANOMANO.md: none published",
    ),
}
ACCESS = re.compile(r'"GET (?P<path>/\S*) HTTP/[\d.]+" (?P<status>\d{3})')


async def run(ctx: BenchContext) -> list[Figure]:
    chosen = [MARKETPLACE_SPECS[code] for code in MARKETPLACES]
    env = {m.extra_shops: str(SELLERS) for m in chosen}
    with double_and_postgres(ctx, 0, LABEL, env=env) as (sandbox, pg):
        log = ctx.root / f"{LABEL}-sandbox.log"
        figures: list[Figure] = []
        baseline: dict[str, float] = {}
        for market in chosen:
            measured = await _measure(ctx, sandbox, pg, log, market)
            figures += _figures(market, measured, baseline)
            baseline = baseline or _headlines(measured)
        return figures


@dataclass
class Phase:
    seconds: float
    answers: Counter[str]  # the double's answers to the API by status
    cpu: dict[str, float]
    load: float  # the machine's 1-minute load average at the end
    lags: list[float]  # each seller's, from the phase's start to its part done
    failed: int
    orders: int

    @property
    def done(self) -> float:
        """Seconds from the phase's start to its last seller done (the database's clock:
        the wall time around it waits for the next 1-s look)."""
        return max(self.lags)


@dataclass
class Measured:
    sellers: int
    backfill: Phase
    sync: Phase


async def _measure(
    ctx: BenchContext, sandbox: str, pg: str, log: Path, market: Marketplace
) -> Measured:
    async with httpx.AsyncClient(base_url=f"{sandbox}/_sandbox", timeout=300) as admin:
        listed = [s for s in (await admin.get(market.listing)).json() if market.is_extra(s)]
    sellers = listed[:SELLERS]
    assert len(sellers) == SELLERS, f"{market.code}: the double hosts {len(sellers)}"
    tenants = [f"os{market.code[:3].lower()}{n:05d}{uuid.uuid4().hex[:6]}" for n in range(SELLERS)]
    database = await bootstrap.create_scratch_database(pg, f"ordersync{market.code.lower()}")
    await _write_keys(ctx, market, sellers, tenants)
    server = _start_orders(ctx, database, service_env(sandbox), market.code.lower())
    conn = await asyncpg.connect(database)
    try:
        backfill = await _phase(log, market, lambda: _backfill(ctx, conn, market, sellers, tenants))
        sync = await _phase(log, market, lambda: _round(conn, market))
    finally:
        await conn.close()
        server.stop()
    return Measured(len(sellers), backfill, sync)


async def _write_keys(
    ctx: BenchContext, market: Marketplace, sellers: list[dict[str, Any]], tenants: list[str]
) -> None:
    """oauth's first step: each seller's credentials in Vault."""
    vault = VaultClient(ctx.vault_addr, token=DEV_VAULT_ROOT_TOKEN)
    path = connector_for(market.code).credentials_path
    try:

        async def write(pair: tuple[dict[str, Any], str]) -> None:
            await vault.write(path(pair[1]), market.secret(pair[0]))

        await _gathered(list(zip(sellers, tenants, strict=True)), write, 16)
    finally:
        await vault.aclose()


def _start_orders(
    ctx: BenchContext, database: str, api: dict[str, str], label: str
) -> infra.RunningServer:
    port = infra.free_port()
    url = f"http://127.0.0.1:{port}"
    spec = infra.ServerSpec(
        name="orders",
        command=[sys.executable, "-m", "keybuzz_orders"],
        port=port,
        url=url,
        env={
            **api,
            "NATS_URL": ctx.nats_url,
            "DATABASE_URL": database,
            "VAULT_ADDR": ctx.vault_addr,
            "VAULT_TOKEN": DEV_VAULT_ROOT_TOKEN,
            "ORDERS_PORT": str(port),
            "ORDERS_SYNC_INTERVAL_SECONDS": str(INTERVAL),
            "LOG_LEVEL": "WARNING",
        },
        ready=lambda: infra.http_ok(f"{url}/ready"),
    )
    return infra.RunningServer(spec, ctx.root / f"{LABEL}-orders-{label}.log").start(timeout=120)


async def _phase(log: Path, market: Marketplace, action: Callable[[], Any]) -> Phase:
    offset = _log_end(log)
    before = cpu_seconds_by_process()
    start = time.perf_counter()
    lags, failed, orders = await action()
    seconds = time.perf_counter() - start
    await asyncio.sleep(1)  # the double's last lines written
    cpu = cpu_spent_by_process(before, cpu_seconds_by_process())
    return Phase(
        seconds, _answers(log, offset, market.api), cpu, os.getloadavg()[0], lags, failed, orders
    )


def _log_end(log: Path) -> int:
    return log.stat().st_size


def _answers(log: Path, offset: int, prefix: str) -> Counter[str]:
    with log.open("rb") as read:
        read.seek(offset)
        text = read.read().decode(errors="replace")
    return Counter(m["status"] for m in ACCESS.finditer(text) if m["path"].startswith(prefix))


async def _backfill(
    ctx: BenchContext,
    conn: asyncpg.Connection,
    market: Marketplace,
    sellers: list[dict[str, Any]],
    tenants: list[str],
) -> tuple[list[float], int, int]:
    """``connection.connected`` for every seller at once, then until every job finished:
    each job's seconds from the first event, the failed ones, the orders stored."""
    started = await conn.fetchval("SELECT now()")
    client = await nats.connect(ctx.nats_url)
    try:
        js = client.jetstream()
        for seller, tenant in zip(sellers, tenants, strict=True):
            event = ConnectionConnected(
                tenant_id=tenant,
                marketplace=market.code,
                connection_id=str(uuid.uuid4()),
                seller_id=market.seller_id(seller),
                marketplace_ids=[],
                region="eu",
            )
            await js.publish(event.type, encode_event(event), headers=event_headers(event))
    finally:
        await client.close()
    finished = "SELECT count(*) FROM order_backfill_jobs WHERE status <> 'RUNNING'"
    await _until(conn, finished, len(sellers))
    rows = await conn.fetch(
        "SELECT status, extract(epoch FROM finished_at - $1) AS lag FROM order_backfill_jobs",
        started,
    )
    orders = await conn.fetchval("SELECT count(*) FROM orders")
    failed = sum(1 for r in rows if r["status"] != "COMPLETED")
    return [float(r["lag"]) for r in rows], failed, int(orders)


async def _round(conn: asyncpg.Connection, market: Marketplace) -> tuple[list[float], int, int]:
    """Every cursor due at once, then until each was read (moved, or its error said): each
    seller's seconds from due to read, the cursors in error, the orders the round saw."""
    due = await conn.fetchval(
        "UPDATE order_sync_cursors SET last_run_at = NULL WHERE status = 'ACTIVE' RETURNING now()"
    )
    seen = await conn.fetchval("SELECT coalesce(sum(orders_seen), 0) FROM order_sync_cursors")
    read = "SELECT count(*) FROM order_sync_cursors WHERE updated_at >= $1"
    total = await conn.fetchval("SELECT count(*) FROM order_sync_cursors")
    await _until(conn, read, total, due)
    rows = await conn.fetch(
        "SELECT last_error, extract(epoch FROM updated_at - $1) AS lag FROM order_sync_cursors",
        due,
    )
    after = await conn.fetchval("SELECT coalesce(sum(orders_seen), 0) FROM order_sync_cursors")
    failed = sum(1 for r in rows if r["last_error"])
    return [float(r["lag"]) for r in rows], failed, int(after - seen)


async def _until(conn: asyncpg.Connection, query: str, count: int, *args: Any) -> None:
    deadline = time.monotonic() + TIMEOUT
    while await conn.fetchval(query, *args) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{query}: not {count} after {TIMEOUT:.0f} s")
        await asyncio.sleep(1)


def _headlines(m: Measured) -> dict[str, float]:
    return {
        "backfill": m.backfill.done,
        "rate": m.backfill.orders / m.backfill.done,
        "round": m.sync.done,
    }


def _figures(market: Marketplace, m: Measured, baseline: dict[str, float]) -> list[Figure]:
    b, s, name = m.backfill, m.sync, f"{market.code} × {m.sellers}"
    per_seller_hour = s.answers["200"] / m.sellers * 3600 / DEFAULT_INTERVAL
    allowed_hour = market.limit.rate * 3600
    figures: list[Figure] = [
        {
            "name": f"{name}: backfill, all done",
            "value": round(b.done, 1),
            "unit": "s",
            "note": _note(market, m, b),
        },
        {
            "name": f"{name}: backfill, orders stored",
            "value": round(b.orders / b.done, 1),
            "unit": "orders/s",
            "note": f"{b.orders} orders",
        },
        {
            "name": f"{name}: sync round, all sellers due at once",
            "value": round(s.done, 1),
            "unit": "s",
            "note": _note(market, m, s),
        },
        {
            "name": f"{name}: sellers a {DEFAULT_INTERVAL} s round holds at that pace",
            "value": int(m.sellers * DEFAULT_INTERVAL / s.done),
            "unit": "sellers",
            "note": "the round's time includes up to 5 s before the sync loop's next look",
        },
        {
            "name": f"{name}: calls per seller an hour at {DEFAULT_INTERVAL} s rounds",
            "value": round(per_seller_hour, 1),
            "unit": "calls",
            "note": f"the limit allows {allowed_hour:.0f} ({market.limit_source})",
        },
    ]
    if baseline:
        figures[0]["baseline"] = round(baseline["backfill"], 1)
        figures[1]["baseline"] = round(baseline["rate"], 1)
        figures[2]["baseline"] = round(baseline["round"], 1)
    return figures


def _note(market: Marketplace, m: Measured, p: Phase) -> str:
    p50, p99, top = _quantiles(p.lags)
    other = sum(n for status, n in p.answers.items() if status not in ("200", "429"))
    orders_cpu = p.cpu.get("keybuzz_orders", 0.0)
    return (
        f"lag p50/p99/max {p50:.1f}/{p99:.1f}/{top:.1f} s; {p.failed} failed; "
        f"{p.answers['200']} calls answered ({p.answers['200'] / m.sellers:.2f} a seller; "
        f"limit {market.limit.rate:g}/s, bursts of {market.limit.burst}, "
        f"{market.limit_source}), {p.answers['429']} × 429, {other} other errors; "
        f"orders service CPU {orders_cpu:.1f} s ({100 * orders_cpu / p.done:.0f} % of a "
        f"core, {1000 * orders_cpu / m.sellers:.1f} ms a seller), sandbox {p.cpu.get('keybuzz_sandbox', 0.0):.1f} s, postgres "
        f"{p.cpu.get('postgres', 0.0):.1f} s; load {p.load:.1f}"
    )
