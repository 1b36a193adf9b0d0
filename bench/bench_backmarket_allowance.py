"""Issue 35 §4's bench: Back Market shops polled within their daily allowance (4,000
care-folder listings a shop and day) over a simulated day of the Back Market double's
clock, buyers writing at its hourly pattern: 429s (aim: none), each shop's listings that
day (aim: ≤ 4,000) and the p99 message → ticket delay against 1.2 × the best that
allowance permits for that pattern (``keybuzz_poller.shops.allowance.best_p99``,
docs/BENCHMARKS.md, "The best p99 a daily allowance permits"); and the poller process's
CPU per poll, with the shops one core keeps polled at the pace the plan sets.

What is real: the double (its own process; its care folders, limits and counters, its
clock); the Back Market connector's session, reached as the poller reaches it
(``ApiMessageSource``: the shop's credentials at the connector's ``credentials_path``, its
session kept, its list calls counted by the session, ``CountsAllowanceCalls``), on the
connector's own settings (``BackMarketSettings``: 4,000 listings a day, its poll interval,
its 60 s listing overlap and buyer hours, read as the poller reads them, ``shop_reading``)
but for ``first_poll`` (the warm-up); the poller's plan and pace (``DayPlan.interval``,
``within_allowance``), its poll (``poll_shop``) storing tickets in PostgreSQL with its call
counts (``poller_shop_calls``). What is the harness's own: Vault (a dict of the shops'
fields, ``ShopKeys``) and the scheduling loop, which plays the ``ShopScheduler`` one poll
at a time on the double's clock: the double's day runs on its own clock, advanced to each
poll's time (``_sandbox/backmarket/clock/advance``). Each poll's next one is the plan's
interval on from the day's count, as ``ShopScheduler.next_interval`` gives it; the
poller's clock (``ShopPorts.clock``) is the double's, so a message's delay is its ticket
message's ``received_at`` − its ``date_creation``, both on the double's clock (the poll's
real time counts at 1:1: the double runs at scale 1 between advances).

The first ``WARM_UP_HOURS`` (up to the double's next midnight) read the seeded backlog and
are not measured; the measured day is a whole UTC day of the double. CPU is
``time.process_time`` of this process across each measured poll and its planning (not the
clock's advance): the poller's side of a poll, PostgreSQL's and the double's not counted.

Run by hand: ``.venv/bin/python -m bench bench_backmarket_allowance``
(``BENCH_BM_SHOPS``, 2 shops of the double, the largest first: its four seeded ones, then
its extra small ones; ``BENCH_BM_MULTIPLIER``, 10 × the
double's buyer rates; ``BENCH_BM_HOURS``, 24 simulated hours measured; ``BENCH_BM_DEBUG``
set: each measured hour's messages, slowest and p90 delays, and the double's counters
printed).
"""

from __future__ import annotations

import dataclasses
import heapq
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
from keybuzz_connector_backmarket.settings import BackMarketSettings
from keybuzz_poller.bootstrap import shop_reading
from keybuzz_poller.polling.shops_store import PostgresShops
from keybuzz_poller.service import DEFINITION
from keybuzz_poller.shops.allowance import Allowance, best_p99, seconds_into_day
from keybuzz_poller.shops.api_source import ApiMessageSource
from keybuzz_poller.shops.calls import calls_per_poll, plan_of
from keybuzz_poller.shops.domain import Shop
from keybuzz_poller.shops.poll import poll_shop
from keybuzz_poller.shops.ports import MarketplaceUnavailable, ShopPorts
from keybuzz_poller.shops.store import PostgresShopCalls, PostgresShopStore
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.db import SHARED_MIGRATIONS, apply_migrations, create_pool
from keybuzz_shared.uow import store_unit_of_work, unit_of_work
from keybuzz_shared.vault import VaultClient

from bench.bench_shop_polling import double_and_postgres
from bench.harness import BenchContext, Figure

MARKETPLACE = "BACKMARKET"
SHOPS = int(os.environ.get("BENCH_BM_SHOPS", "2"))
MULTIPLIER = float(os.environ.get("BENCH_BM_MULTIPLIER", "10"))
HOURS_MEASURED = float(os.environ.get("BENCH_BM_HOURS", "24"))
WARM_UP_HOURS = 1.0


class DoubleClock:
    """The double's clock as the poller reads it: the wall clock plus what was advanced."""

    def __init__(self, admin: httpx.AsyncClient) -> None:
        self.admin = admin
        self.offset = 0.0

    async def sync(self) -> None:
        state = (await self.admin.get("/clock")).json()
        self.offset = float(state["epoch"]) - time.time()

    def now(self) -> float:
        return time.time() + self.offset

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    async def advance_to(self, at: float) -> None:
        ahead = at - self.now()
        if ahead > 0.001:
            answer = await self.admin.post("/clock/advance", json={"seconds": ahead})
            answer.raise_for_status()
            self.offset = float(answer.json()["epoch"]) - time.time()


class ShopKeys:
    """The shops' credentials as Vault hands them to the poller (``VaultClient.read``):
    the connector's fields at its ``credentials_path``."""

    def __init__(self, fields: dict[str, dict[str, str]]) -> None:
        self.fields = fields  # credentials path → the connector's credential fields

    async def read(self, path: str, cached: bool = False) -> dict[str, Any] | None:
        return self.fields.get(path)


async def run(ctx: BenchContext) -> list[Figure]:
    # The double's four seeded shops, then small ones of its own (4 buyer events a day).
    env = {"SANDBOX_TIME_SCALE": "1", "SANDBOX_BACKMARKET_EXTRA_SHOPS": str(max(0, SHOPS - 4))}
    with double_and_postgres(ctx, 0, "backmarket-allowance", env=env) as (sandbox_url, pg_url):
        return await _measure(ctx, sandbox_url, pg_url)


async def _measure(ctx: BenchContext, sandbox_url: str, pg_url: str) -> list[Figure]:
    del ctx
    from keybuzz_devstack import bootstrap

    database = await bootstrap.create_scratch_database(pg_url, "bm_allowance")
    pool = await create_pool(database)
    await apply_migrations(pool, "keybuzz_shared", SHARED_MIGRATIONS)
    assert DEFINITION.migrations is not None
    await apply_migrations(pool, DEFINITION.name, DEFINITION.migrations)
    admin = httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox/backmarket", timeout=120)
    # The connector's own settings (4,000 listings a day, its 60 s listing overlap, its
    # poll interval and buyer hours), its EU platform the double.
    api = BackMarketSettings(api_url=f"{sandbox_url}/backmarket").shop_api(MARKETPLACE)
    assert api is not None
    reading = dataclasses.replace(
        shop_reading({MARKETPLACE: api})[MARKETPLACE], first_poll=timedelta(hours=WARM_UP_HOURS)
    )
    keys = ShopKeys({})
    source = ApiMessageSource(cast(VaultClient, keys), {MARKETPLACE: api}, inside_allowed=True)
    try:
        activity = (await admin.get("/activity")).json()
        activity["multiplier"] = MULTIPLIER
        (await admin.put("/activity", json=activity)).raise_for_status()
        weights = tuple(float(w) for w in activity["hourlyWeights"])
        listed = sorted((await admin.get("/shops")).json(), key=lambda s: -s["buyerEventsPerDay"])
        chosen = {f"bm{s['number']}": s for s in listed[:SHOPS]}
        clock = DoubleClock(admin)
        await clock.sync()
        # The measured day is a whole UTC day of the double, after an hour of warm-up.
        midnight = (clock.now() // 86400 + 1) * 86400
        await clock.advance_to(midnight - WARM_UP_HOURS * 3600)
        connector = connector_for(MARKETPLACE)
        for tenant, spec in chosen.items():
            keys.fields[connector.credentials_path(tenant)] = {
                "token": spec["token"],
                "merchant_id": str(spec["merchantId"]),
                "country": spec["country"],
            }
        calls = PostgresShopCalls(pool)
        ports = ShopPorts(
            source=source,
            store=PostgresShopStore(pool),
            unit_of_work=store_unit_of_work(
                lambda: unit_of_work(pool, "bench", lambda: None), PostgresShopStore
            ),
            clock=clock,
            reading=lambda _: reading,
            replies_sent=lambda _: None,
            calls=calls,
        )
        shops = [Shop(tenant, MARKETPLACE) for tenant in chosen]
        for shop in shops:
            seller = str(chosen[shop.tenant_id]["merchantId"])
            await PostgresShops(pool).connect(shop, seller, clock())
        started = clock.now()
        measured_from = started + WARM_UP_HOURS * 3600
        ends = measured_from + HOURS_MEASURED * 3600
        due = [(started, shop.tenant_id) for shop in shops]
        polls = failures = measured_polls = 0
        cpu = 0.0
        real_start = time.perf_counter()
        while due and due[0][0] < ends:
            at, tenant = heapq.heappop(due)
            await clock.advance_to(at)
            shop = Shop(tenant, MARKETPLACE)
            cpu_from = time.process_time()
            try:
                await poll_shop(ports, shop)
            except MarketplaceUnavailable:
                failures += 1
            polls += 1
            day, into = seconds_into_day(clock())
            plan = await plan_of(ports, shop, day)
            assert plan is not None
            spent = await calls.calls_spent(shop, day)
            cost = calls_per_poll(ports, shop, day, spent)
            next_at = max(at, clock.now()) + plan.interval(into, spent, cost)
            heapq.heappush(due, (next_at, tenant))
            if at >= measured_from:
                measured_polls += 1
                cpu += time.process_time() - cpu_from
        real_seconds = time.perf_counter() - real_start
        delays = await pool.fetch(
            """
            SELECT extract(epoch FROM received_at - sent_at)::float8 AS delay,
                   extract(hour FROM sent_at AT TIME ZONE 'UTC')::int AS hour
            FROM poller_external_messages
            WHERE marketplace = $1 AND sender_type = 'BUYER' AND sent_at >= to_timestamp($2)
              AND sent_at < to_timestamp($3)
            """,
            MARKETPLACE,
            measured_from,
            ends,
        )
        counters = (await admin.get("/counters")).json()["counters"]
        if os.environ.get("BENCH_BM_DEBUG"):
            by_hour: dict[int, list[float]] = {}
            for r in delays:
                by_hour.setdefault(r["hour"], []).append(r["delay"])
            for h in sorted(by_hour):
                print(
                    h,
                    len(by_hour[h]),
                    round(max(by_hour[h]), 1),
                    round(sorted(by_hour[h])[int(0.9 * len(by_hour[h]))], 1),
                )
            print(counters)
    finally:
        await admin.aclose()
        await source.aclose()
        await pool.close()
    return _figures(
        reading.allowance,
        weights,
        [r["delay"] for r in delays],
        counters,
        (polls, failures, measured_polls),
        cpu,
        real_seconds,
    )


def _figures(
    allowance: Allowance | None,
    weights: tuple[float, ...],
    delays: list[float],
    counters: list[dict[str, Any]],
    polled: tuple[int, int, int],
    cpu: float,
    real_seconds: float,
) -> list[Figure]:
    assert allowance is not None
    polls, failures, measured_polls = polled
    per_day = allowance.calls_per_day
    best = best_p99(weights, per_day)
    ordered = sorted(delays)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else float("nan")
    lists = [c for c in counters if c["operation"] == "getCareFolderList"]
    refused = sum(c["refused"] for c in counters)
    most = max((c["answered"] for c in lists), default=0)
    note = (
        f"{SHOPS} shops, buyers ×{MULTIPLIER:g}, {HOURS_MEASURED:g} h of the double's clock "
        f"measured after {WARM_UP_HOURS:g} h; {polls} polls ({failures} failed) in "
        f"{real_seconds:.0f} s real; {len(delays)} buyer messages"
    )
    # One instance's polls a shop-day, and the poller process's CPU each: the shops one
    # core keeps polled at that pace (PostgreSQL's and the marketplace's CPU not counted).
    polls_a_day = measured_polls / max(1, SHOPS) * 24 / HOURS_MEASURED
    cpu_per_poll = cpu / max(1, measured_polls)
    shops_per_core = 86400 / (cpu_per_poll * polls_a_day) if cpu_per_poll and polls_a_day else 0
    return [
        {
            "name": "p99 message → ticket (double's clock)",
            "value": round(p99, 1),
            "unit": "s",
            "baseline": round(best, 1),  # the best the allowance permits; the aim: ≤ 1.2×
            "note": f"aim ≤ {1.2 * best:.1f} s; mean "
            f"{sum(delays) / max(1, len(delays)):.1f} s; {note}",
        },
        {"name": "429s answered by the double", "value": refused, "unit": "", "note": note},
        {
            "name": "most care-folder listings of a shop in a day of the double",
            "value": most,
            "unit": "calls",
            "baseline": per_day,
            "note": "the double's counters (answered), per shop and day",
        },
        {
            "name": "poller CPU per poll (poll_shop + its plan, this process)",
            "value": round(cpu_per_poll * 1000, 2),
            "unit": "ms",
            "note": f"{measured_polls} measured polls, {polls_a_day:.0f} a shop-day",
        },
        {
            "name": "shops one core polls at that pace",
            "value": round(shops_per_core),
            "unit": "shops",
            "note": f"10,000 shops: {10000 / shops_per_core:.1f} cores" if shops_per_core else "",
        },
    ]
