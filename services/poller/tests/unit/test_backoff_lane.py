"""The scheduler's loop with back-off slots (the shops'), on the in-memory schedule: keys in
back-off are looked for once a tick, not after every poll that ends, and are still polled
(no server: a ``LeasedPolls`` whose polls end at once)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import msgspec
import pytest
from keybuzz_poller.inbound.addresses import ProjectedAddress
from keybuzz_poller.polling.domain import PollDeadlineExceeded, PollResult, PollTimings
from keybuzz_poller.polling.scheduler import LeasedPolls, poll_all_due
from keybuzz_poller.polling.shops import ShopScheduler
from keybuzz_poller.runtime import PollerRuntime
from keybuzz_poller.settings import PollerSettings
from keybuzz_shared.settings import load_settings
from poller_fakes import FakePoller, InMemoryPollSchedule, ManualClock, fake_poller
from poller_shop_fakes import fake_shops

TICK = 5.0
HEALTHY = 60
TIMINGS = PollTimings(
    interval=60,
    lease=30,
    tick=TICK,
    retry_base=5,
    retry_cap=60,
    deadline=5,
    slow_after=1,
    backoff_slots=1,
)


class Counted(InMemoryPollSchedule):
    """The fake schedule, counting the claims of each lane."""

    def __init__(self, fake: FakePoller) -> None:
        super().__init__(fake.tables, fake.schedule.clock)
        self.claims: dict[bool | None, int] = {None: 0, False: 0, True: 0}

    async def claim_due(self, *args: Any, **kwargs: Any) -> list[str]:
        lane = args[4] if len(args) > 4 else kwargs.get("in_backoff")  # owner, limit, lease, …
        self.claims[lane] += 1
        return await super().claim_due(*args, **kwargs)


class Instant(LeasedPolls):
    """Polls that end at once, one at a time: every end wakes the loop to claim again."""

    polled: list[str]
    all_polled: asyncio.Event

    async def poll_one(self, tenant_id: str) -> PollResult:
        self.polled.append(tenant_id)
        if len(self.polled) == HEALTHY + 1:
            self.all_polled.set()
        return PollResult(tenant_id=tenant_id, fetched=0, stored=0, duplicates=0, unparsed=0)


async def due(fake: FakePoller, key: str, failures: int = 0) -> None:
    await fake.projection.apply_tenant_state(key, False, fake.schedule.clock())
    address = ProjectedAddress(f"amazon.{key}.fr.tok@inbound.keybuzz.test", "AMAZON", "FR", True)
    await fake.projection.replace_addresses(key, [address])
    await fake.schedule.poll_soon(key)
    fake.tables.schedule[key].consecutive_failures = failures


async def test_keys_in_backoff_are_looked_for_once_a_tick_and_still_polled() -> None:
    fake = fake_poller(ManualClock(datetime(2026, 11, 24, 2, 0, tzinfo=UTC)))
    for n in range(HEALTHY):
        await due(fake, f"healthy{n:02d}")
    await due(fake, "failing", failures=2)
    schedule = Counted(fake)
    runtime = SimpleNamespace(
        settings=SimpleNamespace(poll_concurrency=1, poll_enabled=True), stopping=False
    )
    polls = Instant(cast(PollerRuntime, runtime), schedule, TIMINGS)
    polls.polled, polls.all_polled = [], asyncio.Event()
    polls.start()
    try:  # within one tick: no second back-off claim is due
        await asyncio.wait_for(polls.all_polled.wait(), TICK / 2)
    finally:
        await polls.stop()
    assert "failing" in polls.polled
    assert schedule.claims[False] >= HEALTHY  # a claim after each poll's end
    assert schedule.claims[True] == 1


class StuckWhileFailing(LeasedPolls):
    """Polls of keys named ``failing…`` hang (a shop in back-off, its API silent); the
    others end at once."""

    polled: list[str]
    healthy_polled: asyncio.Event
    release: asyncio.Event

    async def poll_one(self, tenant_id: str) -> PollResult:
        self.polled.append(tenant_id)
        if tenant_id.startswith("failing"):
            await self.release.wait()
        else:
            self.healthy_polled.set()
        return PollResult(tenant_id=tenant_id, fetched=0, stored=0, duplicates=0, unparsed=0)


async def test_shops_in_backoff_never_take_the_slots_meant_for_healthy_ones() -> None:
    """One slot of POLL_CONCURRENCY, one back-off slot, three shops in back-off hanging:
    the healthy shop is polled at once all the same."""
    fake = fake_poller(ManualClock(datetime(2026, 11, 24, 2, 0, tzinfo=UTC)))
    for n in range(3):
        await due(fake, f"failing{n}", failures=2)
    await due(fake, "healthy")
    timings = msgspec.structs.replace(TIMINGS, slow_after=60.0, deadline=60.0)
    runtime = SimpleNamespace(
        settings=SimpleNamespace(poll_concurrency=1, poll_enabled=True), stopping=False
    )
    polls = StuckWhileFailing(cast(PollerRuntime, runtime), Counted(fake), timings)
    polls.polled, polls.healthy_polled, polls.release = [], asyncio.Event(), asyncio.Event()
    polls.start()
    try:
        await asyncio.wait_for(polls.healthy_polled.wait(), TICK / 2)
        assert sum(k.startswith("failing") for k in polls.polled) == 1  # its one slot
    finally:
        polls.release.set()
        await polls.stop()


class Slow(LeasedPolls):
    """Every poll takes half as long again as the deadline; ``both`` set once each of the
    two shops' first polls ended (recorded)."""

    ended: set[str]
    both: asyncio.Event

    async def poll_one(self, tenant_id: str) -> PollResult:
        assert self.timings.deadline is not None
        await asyncio.sleep(self.timings.deadline * 1.5)
        return PollResult(tenant_id=tenant_id, fetched=0, stored=0, duplicates=0, unparsed=0)

    async def poll_leased(self, tenant_id: str, reraise: bool = False) -> PollResult | None:
        try:
            return await super().poll_leased(tenant_id, reraise)
        finally:
            self.ended.add(tenant_id)
            if self.ended >= {"failing", "healthy"}:
                self.both.set()


async def test_a_poll_in_backoff_runs_past_the_deadline_that_cuts_a_healthy_one() -> None:
    """A shop cut at its deadline at every poll would never get its first page in: in
    back-off (its own slots) its poll is given longer, and ends."""
    fake = fake_poller(ManualClock(datetime(2026, 11, 24, 2, 0, tzinfo=UTC)))
    await due(fake, "failing", failures=2)
    await due(fake, "healthy")
    timings = msgspec.structs.replace(TIMINGS, deadline=0.2, slow_after=60.0, tick=0.05)
    runtime = SimpleNamespace(
        settings=SimpleNamespace(poll_concurrency=1, poll_enabled=True), stopping=False
    )
    polls = Slow(cast(PollerRuntime, runtime), fake.schedule, timings)
    polls.ended, polls.both = set(), asyncio.Event()
    polls.start()
    try:
        await asyncio.wait_for(polls.both.wait(), 30)
    finally:
        await polls.stop()
    rows = fake.tables.schedule
    assert "cut at its deadline (0.2 s)" in rows["healthy"].last_error
    assert rows["failing"].consecutive_failures == 0 and rows["failing"].last_error is None


async def test_a_poll_asked_for_a_shop_in_backoff_is_given_its_longer_deadline() -> None:
    """Asked for (a seller, an operator, the tests), a failing shop's poll is given the
    back-off's deadline too: asked again and again, it would otherwise be cut at the same
    point every time, as a scheduled one would."""
    fake = fake_poller(ManualClock(datetime(2026, 11, 24, 2, 0, tzinfo=UTC)))
    await due(fake, "failing", failures=2)
    await due(fake, "healthy")
    timings = msgspec.structs.replace(TIMINGS, deadline=0.2, slow_after=60.0)
    runtime = SimpleNamespace(
        settings=SimpleNamespace(poll_concurrency=1, poll_enabled=True), stopping=False
    )
    polls = Slow(cast(PollerRuntime, runtime), fake.schedule, timings)
    polls.ended, polls.both = set(), asyncio.Event()
    assert (await polls.poll_now("failing")).tenant_id == "failing"
    with pytest.raises(PollDeadlineExceeded, match=r"cut at its deadline \(0.2 s\)"):
        await polls.poll_now("healthy")
    assert fake.tables.schedule["failing"].consecutive_failures == 0


class Limits:
    """A schedule with nothing due, the limit of each claim recorded."""

    def __init__(self) -> None:
        self.limits: list[int] = []

    async def claim_due(self, owner: str, limit: int, *rest: Any) -> list[str]:
        self.limits.append(limit)
        return []


async def test_shops_and_folders_are_claimed_up_to_slots_of_their_own() -> None:
    """Shops' polls wait on HTTP: their slots (SHOP_POLL_CONCURRENCY, 64 unless set) are not
    the folders' and IMAP connections' (POLL_CONCURRENCY)."""
    assert load_settings(PollerSettings, {}).shop_poll_concurrency == 64
    given = {"POLL_CONCURRENCY": "5", "SHOP_POLL_CONCURRENCY": "3"}
    settings = load_settings(PollerSettings, given)
    runtime = cast(PollerRuntime, SimpleNamespace(settings=settings, stopping=False))
    shops, folders = Limits(), Limits()
    shop_polls = ShopScheduler(runtime, cast(Any, shops), fake_shops().ports, cast(Any, None))
    await poll_all_due(shop_polls)
    await poll_all_due(LeasedPolls(runtime, cast(Any, folders)))
    assert (shops.limits, folders.limits) == ([3], [5])


class Held(LeasedPolls):
    """Polls that run until ``release`` is set."""

    polled: list[str]
    begun: asyncio.Event
    release: asyncio.Event

    async def poll_one(self, tenant_id: str) -> PollResult:
        self.polled.append(tenant_id)
        self.begun.set()
        await self.release.wait()
        return PollResult(tenant_id=tenant_id, fetched=0, stored=0, duplicates=0, unparsed=0)


class Told(Counted):
    """The counted schedule, telling each claim made."""

    def __init__(self, fake: FakePoller) -> None:
        super().__init__(fake)
        self.claimed = asyncio.Event()

    async def claim_due(self, *args: Any, **kwargs: Any) -> list[str]:
        try:
            return await super().claim_due(*args, **kwargs)
        finally:
            self.claimed.set()


async def test_a_poll_whose_lease_lapsed_while_it_runs_is_not_started_again() -> None:
    """A loop too starved to renew a lease lets it lapse under a running poll: neither the
    instance's next claim nor a poll-now of the key starts a second poll beside it (which
    would spend the shop's calls twice); poll-now polls once the first has ended."""
    clock = ManualClock(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))
    fake = fake_poller(clock)
    await due(fake, "shop")
    schedule = Told(fake)
    runtime = SimpleNamespace(
        settings=SimpleNamespace(poll_concurrency=2, poll_enabled=True), stopping=False
    )
    polls = Held(cast(PollerRuntime, runtime), schedule, TIMINGS)
    polls.polled, polls.begun, polls.release = [], asyncio.Event(), asyncio.Event()
    polls.start()
    try:
        await asyncio.wait_for(polls.begun.wait(), 10)
        clock.advance(TIMINGS.lease + 1)  # lapsed, the poll still running
        schedule.claimed.clear()
        polls.wake.set()
        await asyncio.wait_for(schedule.claimed.wait(), 10)  # a slot free: it claims again
        now = asyncio.create_task(polls.poll_now("shop"))
        await asyncio.sleep(0.3)  # poll-now asks again every 0.1 s while the poll runs
        assert polls.polled == ["shop"]
        polls.release.set()
        await asyncio.wait_for(now, 10)
        assert polls.polled == ["shop", "shop"]
    finally:
        polls.release.set()
        await polls.stop()
