"""What a poll costs its shop's day's count, and what a process keeps of a shop, on the
in-memory fakes: a poll of a shop with a daily allowance reserves its calls in its start's
read and leaves what it did not spend to its end statement (``shops/calls.py``), so a poll
with nothing new runs no statement of the counts of its own, and a process killed before
its end never lets the day spend more; a budget's calls are left to the end statement too;
what a process keeps of a shop goes when it disconnects or another instance polls it."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import msgspec
from keybuzz_poller.polling.shops import ShopScheduler
from keybuzz_poller.runtime import PollerRuntime
from keybuzz_poller.settings import PollerSettings
from keybuzz_poller.shops.allowance import seconds_into_day
from keybuzz_poller.shops.bounds import settle
from keybuzz_poller.shops.calls import plan_of
from keybuzz_poller.shops.connections import shop_disconnected
from keybuzz_poller.shops.domain import DayCalls, Shop
from keybuzz_poller.shops.poll import poll_shop
from keybuzz_poller.shops.ports import ShopPorts
from keybuzz_shared.connectors.seam import AppCallBudget, InboxMessage
from keybuzz_shared.events import ConnectionDisconnected
from keybuzz_shared.settings import load_settings
from keybuzz_shared.spent_calls import spend
from poller_shop_fakes import Clock, FakeShops, InMemoryCallCounts, fake_shops, with_allowance
from poller_shop_fakes import shop_message as message

SHOP = Shop("t1", "FNAC")
DAY = date(2026, 11, 24)


class CountedCounts(InMemoryCallCounts):
    """The day's counts, with every statement a poll sends them on its own."""

    def __init__(self) -> None:
        super().__init__()
        self.statements: list[str] = []

    async def reserve_call(self, shop: Shop, day: date, limit: int) -> bool:
        self.statements.append("reserve_call")
        return await super().reserve_call(shop, day, limit)

    async def adjust_calls(self, shop: Shop, day: date, delta: int) -> None:
        self.statements.append("adjust_calls")
        await super().adjust_calls(shop, day, delta)

    async def calls_spent(self, shop: Shop, day: date) -> int:
        self.statements.append("calls_spent")
        return await super().calls_spent(shop, day)


class PagesListed:
    """The scripted marketplace, counting the pages of messages it lists (a call each)."""

    def __init__(self, fake: FakeShops) -> None:
        self.inner, self.calls = fake.marketplace, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def messages(self, shop: Shop, since: datetime) -> AsyncIterator[list[InboxMessage]]:
        async for page in self.inner.messages(shop, since):
            self.calls += 1
            yield page


class Requests(PagesListed):
    """A page of messages is a request, counted where requests pass (the requester's)."""

    async def messages(self, shop: Shop, since: datetime) -> AsyncIterator[list[InboxMessage]]:
        async for page in super().messages(shop, since):
            spend("messages_query")
            yield page


async def counted_allowance(calls_per_day: int, clock: Clock) -> tuple[FakeShops, CountedCounts]:
    counts = CountedCounts()
    fake, _ = await with_allowance(calls_per_day, clock, counts)
    return fake, counts


async def test_a_poll_with_nothing_new_counts_its_allowance_in_no_statement_of_its_own() -> None:
    clock = Clock(datetime(2026, 11, 24, 19, 0, tzinfo=UTC))
    fake, counts = await counted_allowance(4000, clock)
    fake.marketplace.messages_listed.append(message("m1"))
    for count in (1, 2):  # stores it: one page, one call; the overlap lists it again
        await poll_shop(fake.ports, SHOP, settles=False)
        assert counts.statements == []  # its calls reserved by the start's read
        # Two reserved (a call and the listing's end), one given back by the poll's end.
        assert counts.days[SHOP.key, DAY] == count + 1
        assert fake.ports.unsettled[SHOP.key] == [DayCalls(DAY, -1)]
        assert fake.ports.day_calls[SHOP.key] == (DAY, count)  # its next interval reads none
        await settle(fake.ports, SHOP, fake.ports.unsettled.pop(SHOP.key))  # the end's
        assert counts.days[SHOP.key, DAY] == count
        counts.statements.clear()


async def test_what_a_reservation_did_not_spend_is_given_back_by_the_polls_end() -> None:
    clock = Clock(datetime(2026, 11, 24, 19, 0, tzinfo=UTC))
    fake, counts = await counted_allowance(4000, clock)
    fake.ports.poll_costs[SHOP.key] = (DAY, 0, 3.0)  # its polls spent three calls lately
    await poll_shop(fake.ports, SHOP, settles=False)  # nothing listed: no call made
    assert counts.statements == [] and counts.days[SHOP.key, DAY] == 4  # reserved
    assert fake.ports.unsettled[SHOP.key] == [DayCalls(DAY, -4)]  # for the end statement
    assert fake.ports.day_calls[SHOP.key] == (DAY, 0)
    await settle(fake.ports, SHOP, fake.ports.unsettled.pop(SHOP.key))
    assert counts.days[SHOP.key, DAY] == 0


async def test_a_process_killed_before_its_polls_end_never_lets_the_day_spend_more() -> None:
    """Five processes in turn each poll a backlog and are killed before the poll's end
    statement (what it reserved and did not spend is never given back), then a sixth polls
    to the end of the day: the marketplace's calls never pass the day's count, nor the
    count the allowance."""
    clock = Clock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    fake, counts = await counted_allowance(30, clock)
    for n in range(100):  # fifty pages of two
        at = clock.at - timedelta(minutes=100 - n)
        listed = msgspec.structs.replace(message(f"m{n}"), created_at=at)
        fake.marketplace.messages_listed.append(listed)
    source = PagesListed(fake)
    for life in range(5):
        clock.at += timedelta(hours=1)
        process = dataclasses.replace(  # a new process: nothing of the last in memory
            fake.ports,
            source=source,  # type: ignore[arg-type]
            plans={},
            poll_costs={SHOP.key: (DAY, 0, 1.0 + life)},  # reserving more at each life
            last_poll_calls={},
            seen_pages={},
            day_calls={},
            unsettled={},
        )
        await poll_shop(process, SHOP, settles=False)  # killed: ``unsettled`` is lost
        assert source.calls <= counts.days[SHOP.key, DAY] <= 30
    clock.at = datetime(2026, 11, 24, 23, 59, tzinfo=UTC)
    last: ShopPorts = dataclasses.replace(fake.ports, source=source)  # type: ignore[arg-type]
    for _ in range(3):
        await poll_shop(last, SHOP)
    assert source.calls <= counts.days[SHOP.key, DAY] == 30


async def test_a_reservation_past_the_days_pace_is_not_made_and_calls_are_counted_one_by_one() -> (
    None
):
    clock = Clock(datetime(2026, 11, 24, 8, 0, tzinfo=UTC))
    fake, counts = await counted_allowance(30, clock)
    plan = await plan_of(fake.ports, SHOP, DAY)
    assert plan is not None
    allowed = plan.calls_allowed(seconds_into_day(clock.at)[1])
    counts.days[SHOP.key, DAY] = allowed - 1  # one call left at this pace
    fake.ports.poll_costs[SHOP.key] = (DAY, 0, 2.0)  # asks two: none reserved
    fake.marketplace.messages_listed.extend([message("m1"), message("m2", 1), message("m3", 2)])
    done = await poll_shop(fake.ports, SHOP, settles=False)
    assert done.stored == 2  # one page: the one call the pace left
    assert counts.days[SHOP.key, DAY] == allowed
    assert counts.statements[0] == "reserve_call" and fake.ports.unsettled[SHOP.key] == []


async def test_a_budgets_calls_are_left_to_the_polls_end_statement() -> None:
    clock = Clock(datetime(2026, 11, 24, 19, 0, tzinfo=UTC))
    fake = fake_shops(clock=clock)
    counts = CountedCounts()
    reading = fake.ports.reading("FNAC")
    budget = AppCallBudget(calls_per_day=100_000, calls_per_poll=2, poll_share=0.8)
    fake.ports = dataclasses.replace(
        fake.ports, calls=counts, reading=lambda _: dataclasses.replace(reading, app_calls=budget)
    )
    fake.marketplace.messages_listed.append(message("m1"))
    fake.ports = dataclasses.replace(fake.ports, source=Requests(fake))  # type: ignore[arg-type]
    done = await poll_shop(fake.ports, SHOP, settles=False)
    assert done.calls == 1 and counts.statements == []
    assert fake.ports.unsettled[SHOP.key] == [DayCalls(DAY, done.calls)]
    await poll_shop(fake.ports, SHOP)  # one that settles itself counts them now
    assert counts.statements == ["adjust_calls"]


async def polled(fake: FakeShops, shop: Shop) -> None:
    fake.marketplace.messages_listed.append(message(f"m-{shop.tenant_id}"))
    await poll_shop(fake.ports, shop)
    assert shop.key in fake.ports.seen_pages and shop.key in fake.ports.last_poll_calls


def kept(ports: ShopPorts, shop: Shop) -> list[str]:
    dicts = ("plans", "poll_costs", "last_poll_calls", "seen_pages", "day_calls")
    return [name for name in dicts if shop.key in getattr(ports, name)]


async def test_what_a_process_keeps_of_a_shop_goes_when_it_disconnects() -> None:
    at = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)
    fake = fake_shops(clock=lambda: at)
    other = Shop("t2", "FNAC")
    for shop in (SHOP, other):
        await fake.connections.connections.connect(shop, "1", at - timedelta(hours=1))
        await polled(fake, shop)
    gone = ConnectionDisconnected(tenant_id="t1", marketplace="FNAC", occurred_at=at)
    await shop_disconnected(fake.connections, gone)
    assert kept(fake.ports, SHOP) == []
    assert kept(fake.ports, other) == ["last_poll_calls", "seen_pages"]


class Schedule:
    """The shops' schedule as the scheduler's end hooks call it: the ends it recorded."""

    def __init__(self) -> None:
        self.ends: list[tuple[str, Sequence[DayCalls], Sequence[str]]] = []

    async def poll_succeeded(
        self,
        tenant_id: str,
        owner: str,
        fetched: int,
        interval: float,
        calls: Any = (),
        marked: Any = (),
        reserve: Any = None,
    ) -> None:
        self.ends.append((tenant_id, calls, marked))


async def test_what_a_process_keeps_of_a_shop_another_instance_polls_now_goes() -> None:
    clock = Clock(datetime(2026, 11, 24, 19, 0, tzinfo=UTC))
    fake = fake_shops(clock=clock)
    other = Shop("t2", "FNAC")
    for shop in (SHOP, other):
        await fake.connections.connections.connect(shop, "1", clock.at - timedelta(hours=1))
        await polled(fake, shop)
    runtime = cast(
        PollerRuntime,
        SimpleNamespace(settings=load_settings(PollerSettings, {}), stopping=False),
    )
    schedule = Schedule()
    scheduler = ShopScheduler(runtime, cast(Any, schedule), fake.ports, cast(Any, None))
    fake.ports.unsettled[SHOP.key] = [DayCalls(DAY, 2)]
    fake.ports.unrecorded_marks[SHOP.key] = ["m-t1"]
    # The poll's end carries its corrections and its marks read, once.
    await scheduler.succeeded(SHOP.key, 0, 60.0)
    assert schedule.ends == [(SHOP.key, [DayCalls(DAY, 2)], ["m-t1"])]
    assert SHOP.key not in fake.ports.unrecorded_marks
    await scheduler.succeeded(other.key, 0, 60.0)
    # Its next interval and a lease not past yet: kept.
    clock.at += timedelta(seconds=max(60 + scheduler.lease - 1, scheduler.interval))
    await scheduler.succeeded(other.key, 0, 60.0)
    assert kept(fake.ports, SHOP) == ["last_poll_calls", "seen_pages"]
    # Past them, not polled here: another instance holds it now (or nobody polls it); the
    # other shop was polled here meanwhile.
    clock.at += timedelta(seconds=scheduler.interval + 2)
    await scheduler.succeeded(other.key, 0, 60.0)
    assert kept(fake.ports, SHOP) == []
    assert kept(fake.ports, other) == ["last_poll_calls", "seen_pages"]
