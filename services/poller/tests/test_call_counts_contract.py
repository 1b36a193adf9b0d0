"""A shop's daily call counts: the unit tier's ``InMemoryCallCounts`` and
``shops/store.py``'s ``PostgresShopCalls`` give the same answers (each scenario on both);
on PostgreSQL, two reservations at once never both take the last call, and the buyers'
hours are counted from the shop's stored messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

import asyncpg
import msgspec
import pytest
from keybuzz_devstack.testing import service_migrations
from keybuzz_poller.polling.domain import PollFailure, retry_delays
from keybuzz_poller.polling.shops_store import PostgresShops, PostgresShopSchedule
from keybuzz_poller.service import DEFINITION
from keybuzz_poller.shops.domain import CallsAsked, DayCalls, Shop, ShopStart
from keybuzz_poller.shops.ports import CallCounts, ShopStore
from keybuzz_poller.shops.store import PostgresShopCalls, PostgresShopStore
from keybuzz_poller.tickets.received import external_row
from keybuzz_shared.db import create_pool
from poller_shop_fakes import InMemoryCallCounts, InMemoryShopStore, ShopTables
from poller_shop_fakes import shop_message as message

SHOP, OTHER = Shop("t1", "FNAC"), Shop("t2", "FNAC")
DAY = date(2026, 11, 24)


@pytest.fixture
async def pool(make_database: Callable[..., Awaitable[str]]) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(await make_database("calls", service_migrations(DEFINITION)))
    yield pool
    await pool.close()


@pytest.fixture(params=["memory", "postgres"])
async def counts(request: pytest.FixtureRequest, pool: asyncpg.Pool) -> CallCounts:
    return InMemoryCallCounts() if request.param == "memory" else PostgresShopCalls(pool)


async def test_calls_are_counted_up_to_the_limit_per_shop_and_day(counts: CallCounts) -> None:
    assert [await counts.reserve_call(SHOP, DAY, 3) for _ in range(4)] == [True] * 3 + [False]
    assert await counts.calls_spent(SHOP, DAY) == 3
    # A higher limit later in the day lets more through; a limit of 0 none.
    assert await counts.reserve_call(SHOP, DAY, 4)
    assert not await counts.reserve_call(SHOP, DAY + timedelta(days=1), 0)
    assert await counts.reserve_call(SHOP, DAY + timedelta(days=1), 1)
    assert await counts.reserve_call(OTHER, DAY, 1)
    assert await counts.calls_spent(SHOP, DAY) == 4
    assert await counts.calls_spent(OTHER, DAY) == 1
    assert await counts.calls_spent(OTHER, DAY - timedelta(days=1)) == 0


async def test_corrections_move_the_count_never_below_zero(counts: CallCounts) -> None:
    await counts.reserve_call(SHOP, DAY, 10)
    await counts.adjust_calls(SHOP, DAY, 2)  # one page that was three calls
    assert await counts.calls_spent(SHOP, DAY) == 3
    await counts.adjust_calls(SHOP, DAY, -5)
    assert await counts.calls_spent(SHOP, DAY) == 0
    await counts.adjust_calls(OTHER, DAY, 2)  # no row yet
    assert await counts.calls_spent(OTHER, DAY) == 2


async def test_concurrent_reservations_never_pass_the_limit(pool: asyncpg.Pool) -> None:
    counts = PostgresShopCalls(pool)
    taken = await asyncio.gather(*(counts.reserve_call(SHOP, DAY, 5) for _ in range(20)))
    assert sum(taken) == 5 and await counts.calls_spent(SHOP, DAY) == 5


async def test_buyer_hours_are_the_shops_buyer_messages_by_utc_hour(pool: asyncpg.Pool) -> None:
    store = PostgresShopStore(pool)
    now = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)
    for n, (hour, sender) in enumerate([(3, "BUYER"), (3, "BUYER"), (19, "BUYER"), (19, "SELLER")]):
        written = msgspec.structs.replace(
            message(f"m{n}"), created_at=now.replace(hour=hour), sender_type=sender
        )
        await store.add_message(
            external_row(
                written, tenant_id=SHOP.tenant_id, marketplace=SHOP.marketplace, received_at=now
            ),
            [],
        )
    old = msgspec.structs.replace(message("old"), created_at=now - timedelta(days=40))
    await store.add_message(
        external_row(old, tenant_id=SHOP.tenant_id, marketplace=SHOP.marketplace, received_at=now),
        [],
    )
    hours = await PostgresShopCalls(pool).buyer_hours(SHOP, now - timedelta(days=28))
    assert hours[3] == 2 and hours[19] == 1 and sum(hours) == 3
    assert sum(await PostgresShopCalls(pool).buyer_hours(OTHER, now - timedelta(days=28))) == 0


@pytest.fixture(params=["memory", "postgres"])
async def starts(
    request: pytest.FixtureRequest, pool: asyncpg.Pool
) -> tuple[ShopStore, CallCounts]:
    """A shop store whose start reserves calls, and the counts it reserves them in."""
    if request.param == "postgres":
        return PostgresShopStore(pool), PostgresShopCalls(pool)
    counts = InMemoryCallCounts()
    store = InMemoryShopStore(ShopTables())
    store.calls = counts
    return store, counts


async def test_a_starts_reservation_is_all_or_none_within_its_limit(
    starts: tuple[ShopStore, CallCounts],
) -> None:
    store, counts = starts
    assert (await store.started(SHOP, CallsAsked(DAY, 2, 3))).day_calls == 2
    refused = await store.started(SHOP, CallsAsked(DAY, 2, 3))  # 4 would pass the limit
    assert refused.day_calls is None and await counts.calls_spent(SHOP, DAY) == 2
    assert (await store.started(SHOP, CallsAsked(DAY, 1, 3))).day_calls == 3
    assert (await store.started(SHOP)).day_calls is None  # none asked: none reserved
    assert await counts.calls_spent(SHOP, DAY) == 3


async def test_a_polls_end_sets_its_days_count_right_lease_held_or_not(pool: asyncpg.Pool) -> None:
    """The statement that ends a poll counts what it carries (a budget's calls made, a
    reservation's given back), whether or not the poll still held its lease (here: no row
    of the shop's at all); a correction of another day (a poll across midnight) too."""
    schedule, counts = PostgresShopSchedule(pool), PostgresShopCalls(pool)
    await schedule.poll_succeeded(SHOP.key, "gone", 0, 60.0, [DayCalls(DAY, 3)])
    assert await counts.calls_spent(SHOP, DAY) == 3
    later = DAY + timedelta(days=1)
    given_back = [DayCalls(DAY, -2), DayCalls(later, 1)]
    await schedule.poll_failed(
        SHOP.key, "gone", PollFailure("HTTP 503", retry_delays(1.0, 60.0)), given_back
    )
    assert await counts.calls_spent(SHOP, DAY) == 1
    assert await counts.calls_spent(SHOP, later) == 1


async def test_a_claim_reserves_what_the_last_polls_end_asked_within_its_limit_on_its_day(
    pool: asyncpg.Pool,
) -> None:
    """The claim that leases a shop reserves the calls its last poll's end asked (its poll
    then starts with no statement of its own), all or none within their limit, on their
    day only; a shop never asked, or whose ask does not fit, is left to its start."""
    schedule, counts = PostgresShopSchedule(pool), PostgresShopCalls(pool)
    today: date = await pool.fetchval("SELECT (now() AT TIME ZONE 'UTC')::date")
    await PostgresShops(pool).connect(SHOP, "s1", datetime.now(UTC))

    async def claimed() -> ShopStart:
        assert await schedule.claim_due("me", 10, 60.0, 60.0) == [SHOP.key]
        start = schedule.claimed_start(SHOP.key)
        assert start is not None
        return start

    async def ended(reserve: CallsAsked) -> None:
        await schedule.poll_succeeded(SHOP.key, "me", 0, 0.0, reserve=reserve)

    assert (await claimed()).reserved is None  # never asked
    await ended(CallsAsked(today, 2, 3))
    start = await claimed()
    assert start.reserved == CallsAsked(today, 2, 3) and start.day_calls == 2
    assert await counts.calls_spent(SHOP, today) == 2
    await ended(CallsAsked(today, 2, 3))  # 4 would pass the limit: none reserved
    start = await claimed()
    assert start.reserved is None and start.day_calls is None
    assert await counts.calls_spent(SHOP, today) == 2
    yesterday = today - timedelta(days=1)
    await ended(CallsAsked(yesterday, 1, 10))  # asked before midnight: left to the start
    assert (await claimed()).reserved is None
    assert await counts.calls_spent(SHOP, yesterday) == 0
    assert await counts.calls_spent(SHOP, today) == 2
