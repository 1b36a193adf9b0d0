"""Polling's claim decisions on the in-memory schedule with a clock the test moves: leases,
their expiry, back-off, parking, poll-now, a delivery during a poll. No server; the fake is
held to ``polling/store.py``'s SQL by ``test_projection_contract.py``, and the scheduler's
loop over PostgreSQL and IMAP stays in ``test_polling.py`` and ``test_push.py``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from keybuzz_poller.inbound.addresses import ProjectedAddress
from keybuzz_poller.polling.domain import PollFailure, retry_delays
from keybuzz_shared.backoff import backoff_delay
from poller_fakes import FakePoller, ManualClock, fake_poller

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
LEASE = 30.0
INTERVAL = 300.0


async def pollable(fake: FakePoller, tenant_id: str, due: bool = True) -> None:
    email = f"amazon.{tenant_id}.fr.tok@inbound.keybuzz.test"
    await fake.projection.apply_tenant_state(tenant_id, False, T0)
    await fake.projection.replace_addresses(
        tenant_id, [ProjectedAddress(email, "AMAZON", "FR", True)]
    )
    await fake.schedule.ensure_scheduled(tenant_id, INTERVAL)
    if due:
        await fake.schedule.poll_soon(tenant_id)


def clocked() -> tuple[FakePoller, ManualClock]:
    clock = ManualClock(T0)
    return fake_poller(clock), clock


async def test_a_claim_takes_the_oldest_due_first_and_never_a_leased_one() -> None:
    fake, clock = clocked()
    for tenant_id in ("t1", "t2", "t3"):
        await pollable(fake, tenant_id)
        clock.advance(1)
    clock.advance(1)
    schedule = fake.schedule
    assert await schedule.claim_due("a", 2, LEASE, INTERVAL) == ["t1", "t2"]
    assert await schedule.claim_due("b", 2, LEASE, INTERVAL) == ["t3"]
    assert await schedule.claim_due("c", 2, LEASE, INTERVAL) == []


async def test_a_dead_instances_lease_expires_and_another_takes_the_tenant() -> None:
    fake, clock = clocked()
    await pollable(fake, "t1")
    schedule = fake.schedule
    assert await schedule.claim_due("dead", 1, LEASE, INTERVAL) == ["t1"]
    clock.advance(LEASE)
    assert await schedule.claim_due("b", 1, LEASE, INTERVAL) == []  # at its end: still held
    clock.advance(0.001)
    assert await schedule.claim_due("b", 1, LEASE, INTERVAL) == ["t1"]
    await schedule.poll_succeeded("t1", "dead", 5, INTERVAL)  # the stale holder: ignored
    status = await schedule.poll_status("t1")
    assert status is not None and status.polling and status.messages_fetched == 0


async def test_failures_back_off_by_the_shared_rule_up_to_the_cap() -> None:
    fake, clock = clocked()
    await pollable(fake, "t1")
    schedule = fake.schedule
    waits = []
    for _ in range(6):
        assert await schedule.claim_due("a", 1, LEASE, INTERVAL) == ["t1"]
        failed_at = clock()
        await schedule.poll_failed("t1", "a", PollFailure("IMAP down", retry_delays(2.0, 10.0)))
        status = await schedule.poll_status("t1")
        assert status is not None and status.next_poll_at is not None
        waits.append((status.next_poll_at - failed_at).total_seconds())
        clock.advance(waits[-1] - 0.001)
        assert await schedule.claim_due("a", 1, LEASE, INTERVAL) == []  # not before
        clock.advance(0.001)
    assert waits == [2, 4, 8, 10, 10, 10]
    assert waits == [backoff_delay(n, base=2, cap=10) for n in range(1, 7)]


async def test_a_due_tenant_that_cannot_be_polled_is_parked_an_interval_on() -> None:
    fake, clock = clocked()
    await pollable(fake, "archived")
    await fake.projection.apply_tenant_state("archived", True, T0 + timedelta(seconds=1))
    clock.advance(1)
    await pollable(fake, "ok")
    clock.advance(1)
    assert await fake.schedule.claim_due("a", 5, LEASE, INTERVAL) == ["ok"]
    status = await fake.schedule.poll_status("archived")
    assert status is not None and status.next_poll_at == clock() + timedelta(seconds=INTERVAL)
    clock.advance(INTERVAL - 1)
    assert "archived" not in await fake.schedule.claim_due("b", 5, LEASE, INTERVAL)
    # Pollable again: polled once due, as a new tenant's first poll is.
    await fake.projection.apply_tenant_state("archived", False, T0 + timedelta(seconds=2))
    clock.advance(1)
    assert await fake.schedule.claim_due("b", 5, LEASE, INTERVAL) == ["archived"]


async def test_a_claim_parks_more_than_its_window_and_still_fills_its_slot() -> None:
    fake, clock = clocked()
    for n in range(12):  # more than one claim's window (free slots + 8)
        await pollable(fake, f"gone{n:02}")
        await fake.projection.apply_tenant_state(f"gone{n:02}", True, T0 + timedelta(seconds=1))
        clock.advance(0.01)
    await pollable(fake, "ok")
    clock.advance(1)
    assert await fake.schedule.claim_due("a", 1, LEASE, INTERVAL) == ["ok"]


async def test_poll_now_takes_a_tenant_not_due_but_not_a_leased_or_unpollable_one() -> None:
    fake, _ = clocked()
    await pollable(fake, "t1", due=False)
    schedule = fake.schedule
    assert await schedule.claim_tenant("t1", "a", LEASE)
    assert not await schedule.claim_tenant("t1", "b", LEASE)
    assert not await schedule.claim_tenant("nobody", "b", LEASE)
    await schedule.release_leases("a")  # on shutdown: free at once, due or not
    assert await schedule.claim_tenant("t1", "b", LEASE)


async def test_a_delivery_during_a_poll_makes_the_tenant_due_again_when_it_ends() -> None:
    fake, clock = clocked()
    await pollable(fake, "t1")
    schedule = fake.schedule
    assert await schedule.claim_due("a", 1, LEASE, INTERVAL) == ["t1"]
    clock.advance(1)
    await schedule.mark_delivered("t1")
    clock.advance(1)
    await schedule.poll_succeeded("t1", "a", 1, INTERVAL)
    assert await schedule.claim_due("b", 1, LEASE, INTERVAL) == ["t1"]
    clock.advance(1)
    await schedule.poll_succeeded("t1", "b", 1, INTERVAL)  # nothing delivered meanwhile
    assert await schedule.claim_due("c", 1, LEASE, INTERVAL) == []
    assert fake.tables.notified == ["t1"]
