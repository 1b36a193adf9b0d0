"""The harness of issue 35 §4's bench: Back Market shops polled within their daily
allowance (4,000 care-folder listings a shop and day) over a simulated day of the Back
Market double's clock, buyers writing at its hourly pattern: 429s (aim: none), each shop's
listings that day (aim: ≤ 4,000) and the p99 message → ticket delay against 1.2 × the best
that allowance permits for that pattern (``keybuzz_poller.shops.allowance.best_p99``,
docs/BENCHMARKS.md, "The best p99 a daily allowance permits").

What is real: the double (its own process; its care folders, limits and counters, its
clock), the poller's plan and pace (``DayPlan.interval``, ``within_allowance``), its poll
(``poll_shop``) storing tickets in PostgreSQL with its call counts (``poller_shop_calls``).
What is the harness's own, until the Back Market connector exists: the session on the
double (``CareFolders``: the folder list by ``last_message_date``, a folder's detail only
when its ``date_last_message`` moved, each list call counted), and the scheduling loop,
which plays the ``ShopScheduler`` on the double's clock: the double's day runs on its own
clock, advanced to each poll's time (``_sandbox/backmarket/clock/advance``), while the
running scheduler's times are PostgreSQL's wall clock. Each poll's next one is the plan's
interval on from the day's count, as ``ShopScheduler.next_interval`` gives it; the poller's
clock (``ShopPorts.clock``) is the double's, so a message's delay is its ticket message's
``received_at`` − its ``date_creation``, both on the double's clock (the poll's real time
counts at 1:1: the double runs at scale 1 between advances).

The plan's profile is the double's pattern (``buyer_hours`` in UTC, what the connector
will declare for its buyers), leaning on the shop's learned hours as the poller does. The
first ``WARM_UP_HOURS`` (up to the double's next midnight) read the seeded backlog and are
not measured; the measured day is a whole UTC day of the double.

Run by hand: ``.venv/bin/python -m bench bench_backmarket_allowance``
(``BENCH_BM_SHOPS``, 2 seeded shops, the largest first; ``BENCH_BM_MULTIPLIER``, 10 × the
double's buyer rates; ``BENCH_BM_HOURS``, 24 simulated hours measured;
``BENCH_BM_OVERLAP``, 60 s read again before the cursor; ``BENCH_BM_DEBUG`` set: each
measured hour's messages, slowest and p90 delays, and the double's counters printed).
"""

from __future__ import annotations

import heapq
import os
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from keybuzz_devstack.testing import ThrowawayConnector
from keybuzz_poller.polling.shops_store import PostgresShops
from keybuzz_poller.service import DEFINITION
from keybuzz_poller.shops.allowance import Allowance, best_p99, seconds_into_day
from keybuzz_poller.shops.calls import calls_per_poll, plan_of
from keybuzz_poller.shops.domain import FileLink, Shop, ShopIncident, ShopMessage
from keybuzz_poller.shops.poll import poll_shop
from keybuzz_poller.shops.ports import (
    AttachmentUnavailable,
    MarketplaceUnavailable,
    ShopPorts,
    ShopReading,
)
from keybuzz_poller.shops.store import PostgresShopCalls, PostgresShopStore
from keybuzz_shared.connectors.registry import registered
from keybuzz_shared.connectors.seam import ThreadKey
from keybuzz_shared.db import SHARED_MIGRATIONS, apply_migrations, create_pool
from keybuzz_shared.uow import store_unit_of_work, unit_of_work

from bench.bench_shop_polling import double_and_postgres
from bench.harness import BenchContext, Figure

MARKETPLACE = "BACKMARKET"
CALLS_PER_DAY = 4000  # the double's (Back Market's) day limit of the care-folder list
MIN_INTERVAL = 10.0  # never polled more often (520 a minute is Back Market's own limit)
SHOPS = int(os.environ.get("BENCH_BM_SHOPS", "2"))
MULTIPLIER = float(os.environ.get("BENCH_BM_MULTIPLIER", "10"))
HOURS_MEASURED = float(os.environ.get("BENCH_BM_HOURS", "24"))
WARM_UP_HOURS = 1.0
# The connector's listing_overlap_seconds: Back Market's filter is by the minute, and its
# list shows a message at once, so a poll reads again from one minute before its cursor.
OVERLAP_SECONDS = int(os.environ.get("BENCH_BM_OVERLAP", "60"))
USER_AGENT = "BM-KeyBuzz-Bench;tech@keybuzz.io"
SENDERS = {"Customer": "BUYER", "Merchant": "SELLER", "BackMarket": "MARKETPLACE_SUPPORT"}


class BackMarketShops(ThrowawayConnector):
    """The registry's entry for the harness's shops (their tickets' marketplace)."""

    marketplace = MARKETPLACE
    display_name = "Back Market (bench)"


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


class CareFolders:
    """The harness's session on the double (``ports.MarketplaceMessageSource``, and
    ``CountsCalls``): each shop's folders listed by ``last_message_date`` from ``since``, a
    folder's messages read only when its last message moved since it was last read."""

    def __init__(self, http: httpx.AsyncClient, shops: dict[str, dict[str, Any]]) -> None:
        self.http = http
        self.shops = shops  # tenant id → the double's shop (token, country)
        self.list_calls: dict[str, int] = {}
        self.detail_calls = 0
        self.read: dict[tuple[str, int], str] = {}  # (tenant, folder) → its date_last_message

    def allowance_calls(self, shop: Shop) -> int | None:
        return self.list_calls.get(shop.tenant_id, 0)

    def _headers(self, shop: Shop) -> dict[str, str]:
        double_shop = self.shops[shop.tenant_id]
        return {
            "Authorization": f"Basic {double_shop['token']}",
            "Accept-Language": double_shop["country"],
            "User-Agent": USER_AGENT,
        }

    async def _get(self, shop: Shop, path: str, **params: Any) -> httpx.Response:
        answer = await self.http.get(path, params=params, headers=self._headers(shop))
        if answer.status_code in (429, 403) or answer.status_code >= 500:
            raise MarketplaceUnavailable(f"Back Market double: HTTP {answer.status_code}")
        return answer

    async def open(self, shop: Shop) -> None:
        return None

    async def messages(self, shop: Shop, since: datetime) -> AsyncIterator[list[ShopMessage]]:
        page = 1
        while True:
            self.list_calls[shop.tenant_id] = self.list_calls.get(shop.tenant_id, 0) + 1
            listed = await self._get(
                shop, "/ws/sav", last_message_date=since.strftime("%Y-%m-%d-%H-%M"), page=page
            )
            if listed.status_code == 404:  # past the last page: none at all
                yield []
                return
            body = listed.json()
            found: list[ShopMessage] = []
            for folder in body["results"]:
                key = (shop.tenant_id, folder["id"])
                if self.read.get(key) == folder["date_last_message"]:
                    continue
                found += await self._folder(shop, folder["id"], since)
                self.read[key] = folder["date_last_message"]
            yield found
            if not body["next"]:
                return
            page += 1

    async def _folder(self, shop: Shop, folder_id: int, since: datetime) -> list[ShopMessage]:
        self.detail_calls += 1
        detail = (await self._get(shop, f"/ws/sav/{folder_id}")).json()
        return [
            ShopMessage(
                message_id=str(m["id"]),
                thread=ThreadKey("DISCUSSION", str(folder_id)),
                sender_type="SYSTEM" if m["is_informative"] else SENDERS[m["initiator"]],
                subject=f"Care folder {folder_id}",
                body=m["message"],
                created_at=created,
                unread=False,
            )
            for m in detail["messages"]
            if (created := datetime.fromisoformat(m["date_creation"])) >= since
        ]

    async def incidents(self, shop: Shop, since: datetime) -> AsyncIterator[list[ShopIncident]]:
        return
        yield  # claims come in the folders: no listing of their own

    async def mark_read(self, shop: Shop, message_ids: Sequence[str]) -> None:
        return None

    async def download(self, shop: Shop, link: FileLink, max_bytes: int) -> bytes:
        raise AttachmentUnavailable(f"{link.name}: not fetched by the bench")


async def run(ctx: BenchContext) -> list[Figure]:
    env = {"SANDBOX_TIME_SCALE": "1"}
    with (
        double_and_postgres(ctx, 0, "backmarket-allowance", env=env) as (sandbox_url, pg_url),
        registered(BackMarketShops()),
    ):
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
    api = httpx.AsyncClient(base_url=f"{sandbox_url}/backmarket", timeout=60)
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
        source = CareFolders(api, chosen)
        allowance = Allowance(
            calls_per_day=CALLS_PER_DAY, min_interval=MIN_INTERVAL, buyer_hours=weights, zone="UTC"
        )
        calls = PostgresShopCalls(pool)
        ports = ShopPorts(
            source=source,
            store=PostgresShopStore(pool),
            unit_of_work=store_unit_of_work(
                lambda: unit_of_work(pool, "bench", lambda: None), PostgresShopStore
            ),
            clock=clock,
            reading=lambda _: ShopReading(
                mark_as_read=False,
                first_poll=timedelta(hours=WARM_UP_HOURS),
                max_attachment_bytes=0,
                allowance=allowance,
                overlap=timedelta(seconds=OVERLAP_SECONDS),
            ),
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
        polls = failures = 0
        real_start = time.perf_counter()
        while due and due[0][0] < ends:
            at, tenant = heapq.heappop(due)
            await clock.advance_to(at)
            shop = Shop(tenant, MARKETPLACE)
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
        await api.aclose()
        await pool.close()
    return _figures(weights, [r["delay"] for r in delays], counters, polls, failures, real_seconds)


def _figures(
    weights: tuple[float, ...],
    delays: list[float],
    counters: list[dict[str, Any]],
    polls: int,
    failures: int,
    real_seconds: float,
) -> list[Figure]:
    best = best_p99(weights, CALLS_PER_DAY)
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
            "baseline": CALLS_PER_DAY,
            "note": "the double's counters (answered), per shop and day",
        },
    ]
