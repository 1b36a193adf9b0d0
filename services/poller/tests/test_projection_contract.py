"""One contract, two adapters: every scenario runs on the in-memory fakes the unit tier
uses (``poller_fakes.py``) and on the PostgreSQL adapters (``inbound/store.py``,
``polling/store.py``), so a fake that answers differently from the SQL fails here.

Both run on the wall clock here (PostgreSQL's ``now()``): a lease expires by waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from keybuzz_poller.inbound.addresses import ProjectedAddress, with_bounce_tag
from keybuzz_poller.inbound.ports import ProjectionStore
from keybuzz_poller.inbound.store import PostgresProjection
from keybuzz_poller.polling.domain import PollClaim, PollFailure, PollStatus, retry_delays
from keybuzz_poller.polling.ports import PollSchedule
from keybuzz_poller.polling.store import PostgresPollSchedule
from keybuzz_shared.backoff import backoff_delay
from mailkit import migrated_pool
from poller_fakes import InMemoryPollSchedule, InMemoryProjection, PollerTables, wall_clock

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DOMAIN = "inbound.keybuzz.test"
LEASE = 30.0
INTERVAL = 300.0


@dataclass
class Stores:
    projection: ProjectionStore
    schedule: PollSchedule


@pytest.fixture(params=["memory", "postgres"])
async def stores(
    request: pytest.FixtureRequest, make_database: Callable[[str], Awaitable[str]]
) -> AsyncIterator[Stores]:
    if request.param == "memory":
        tables = PollerTables()
        yield Stores(InMemoryProjection(tables), InMemoryPollSchedule(tables, wall_clock))
        return
    pool = await migrated_pool(make_database)
    yield Stores(PostgresProjection(pool), PostgresPollSchedule(pool))
    await pool.close()


def address(tenant_id: str, country: str = "FR", enabled: bool = True) -> ProjectedAddress:
    email = f"amazon.{tenant_id}.{country.lower()}.tok{country.lower()}@{DOMAIN}"
    return ProjectedAddress(email, "AMAZON", country, enabled)


async def known(stores: Stores, tenant_id: str, *addresses: ProjectedAddress) -> None:
    """The tenant in the projection with its addresses (one enabled FR address by default)."""
    await stores.projection.apply_tenant_state(tenant_id, False, T0)
    await stores.projection.replace_addresses(tenant_id, addresses or [address(tenant_id)])


async def due_now(stores: Stores, tenant_id: str) -> None:
    await known(stores, tenant_id)
    await stores.schedule.poll_soon(tenant_id)


async def status(stores: Stores, tenant_id: str) -> PollStatus:
    found = await stores.schedule.poll_status(tenant_id)
    assert found is not None
    return found


# --- the projection --------------------------------------------------------------------


async def test_a_tenant_state_applies_only_when_newer(stores: Stores) -> None:
    projection = stores.projection
    assert await projection.apply_tenant_state("t1", False, T0)
    await projection.replace_addresses("t1", [address("t1")])
    assert not await projection.apply_tenant_state("t1", True, T0)  # redelivered: as old
    assert not await projection.apply_tenant_state("t1", True, T0 - timedelta(seconds=1))
    assert await projection.find_recipient(address("t1").email) is not None
    assert await projection.apply_tenant_state("t1", True, T0 + timedelta(seconds=1))
    assert await projection.find_recipient(address("t1").email) is None  # archived
    assert await projection.apply_tenant_state("t1", False, T0 + timedelta(seconds=2))
    assert await projection.find_recipient(address("t1").email) is not None


async def test_addresses_are_replaced_and_another_tenants_are_returned_untouched(
    stores: Stores,
) -> None:
    projection = stores.projection
    await known(stores, "t1", address("t1", "FR"), address("t1", "DE"))
    await projection.apply_tenant_state("t2", False, T0)
    theirs = address("t1", "DE")._replace(country="ES")  # t1's address, said to be t2's
    taken = await projection.replace_addresses("t2", [address("t2"), theirs])
    assert taken == [theirs.email]
    de = await projection.find_recipient(theirs.email)
    assert de is not None and (de.tenant_id, de.country) == ("t1", "DE")
    t2 = await projection.find_recipient(address("t2").email)
    assert t2 is not None and t2.tenant_id == "t2"
    # The full set: an address left out is gone.
    assert await projection.replace_addresses("t1", [address("t1", "FR")]) == []
    assert await projection.find_recipient(address("t1", "DE").email) is None
    assert await projection.find_recipient(address("t1", "FR").email) is not None


async def test_a_recipient_is_an_enabled_address_of_a_known_tenant_not_archived(
    stores: Stores,
) -> None:
    projection = stores.projection
    await known(stores, "t1", address("t1", "FR"), address("t1", "DE", enabled=False))
    fr = address("t1", "FR").email
    found = await projection.find_recipient(f"<{fr.upper()}>")
    assert found is not None
    assert (found.address, found.tenant_id, found.marketplace, found.country) == (
        fr,
        "t1",
        "AMAZON",
        "FR",
    )
    assert found.folder == "tenant-t1"
    tagged = with_bounce_tag(fr, "0" * 32, "a" * 16)
    bounce = await projection.find_recipient(tagged.upper())
    assert bounce is not None and (bounce.address, bounce.tenant_id) == (tagged, "t1")
    assert await projection.find_recipient(address("t1", "DE").email) is None  # disabled
    assert await projection.find_recipient(f"nobody@{DOMAIN}") is None


# --- the schedule ----------------------------------------------------------------------


async def test_a_first_poll_falls_within_the_interval_and_is_set_once(stores: Stores) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    await stores.schedule.ensure_scheduled("t1", INTERVAL)
    first = (await status(stores, "t1")).next_poll_at
    assert first is not None and before <= first <= before + timedelta(seconds=INTERVAL + 2)
    await stores.schedule.ensure_scheduled("t1", INTERVAL)
    assert (await status(stores, "t1")).next_poll_at == first
    assert await stores.schedule.poll_status("t2") is None


async def test_due_tenants_are_claimed_once_across_claimers(stores: Stores) -> None:
    tenants = ["t1", "t2", "t3"]
    for tenant_id in tenants:
        await due_now(stores, tenant_id)
    schedule = stores.schedule
    first = await schedule.claim_due("a", 2, LEASE, INTERVAL)
    second = await schedule.claim_due("b", 10, LEASE, INTERVAL)
    assert len(first) == 2 and sorted(first + second) == tenants
    assert await schedule.claim_due("c", 10, LEASE, INTERVAL) == []
    assert not await schedule.claim_tenant("t1", "c", LEASE)  # leased: not even poll-now
    assert (await status(stores, "t1")).polling


async def test_an_expired_lease_is_claimable_again_and_a_renewed_one_is_not(
    stores: Stores,
) -> None:
    await due_now(stores, "t1")
    await due_now(stores, "t2")
    schedule = stores.schedule
    assert sorted(await schedule.claim_due("a", 2, 0.3, INTERVAL)) == ["t1", "t2"]
    await asyncio.sleep(0.15)
    await schedule.renew_leases("a", ["t2"], LEASE)
    await schedule.renew_leases("b", ["t1"], LEASE)  # not b's lease: nothing renewed
    await asyncio.sleep(0.25)
    assert not (await status(stores, "t1")).polling
    assert await schedule.claim_due("b", 10, LEASE, INTERVAL) == ["t1"]
    assert not await schedule.claim_tenant("t2", "b", LEASE)


async def test_an_owner_never_claims_again_what_it_is_still_polling(stores: Stores) -> None:
    # Both leases lapsed under polls still running (a loop too starved to renew them):
    # their owner leaves the one it names, another instance takes it over.
    await due_now(stores, "t1")
    await due_now(stores, "t2")
    schedule = stores.schedule
    assert sorted(await schedule.claim_due("a", 2, 0.01, INTERVAL)) == ["t1", "t2"]
    await asyncio.sleep(0.05)
    assert await schedule.claim_due("a", 10, LEASE, INTERVAL, polling=["t1"]) == ["t2"]
    assert await schedule.claim_due("b", 10, LEASE, INTERVAL) == ["t1"]


async def test_failures_back_off_as_the_shared_rule_capped_and_a_success_resets(
    stores: Stores,
) -> None:
    await known(stores, "t1")
    await stores.schedule.ensure_scheduled("t1", INTERVAL)
    schedule = stores.schedule
    for failures in range(1, 6):
        assert await schedule.claim_tenant("t1", "a", LEASE)
        await schedule.poll_failed("t1", "a", PollFailure("IMAP down", retry_delays(2.0, 10.0)))
        await schedule.poll_failed(
            "t1", "other", PollFailure("not its lease", retry_delays(2.0, 10.0))
        )  # ignored
        now = await status(stores, "t1")
        assert now.next_poll_at is not None and now.last_error_at is not None
        waited = (now.next_poll_at - now.last_error_at).total_seconds()
        assert waited == backoff_delay(failures, base=2.0, cap=10.0)  # 2, 4, 8, 10, 10
        assert (now.consecutive_failures, now.last_error, now.polling) == (
            failures,
            "IMAP down",
            False,
        )
    assert await schedule.claim_tenant("t1", "a", LEASE)
    before = (await status(stores, "t1")).next_poll_at
    await schedule.poll_succeeded("t1", "a", 3, INTERVAL)
    after = await status(stores, "t1")
    assert before is not None and after.next_poll_at == before + timedelta(seconds=INTERVAL)
    assert (after.consecutive_failures, after.messages_fetched, after.polling) == (0, 3, False)
    assert after.last_success_at is not None and after.lag_seconds is not None


async def test_due_tenants_that_cannot_be_polled_are_parked_an_interval_on(
    stores: Stores,
) -> None:
    await due_now(stores, "archived")
    await stores.projection.apply_tenant_state("archived", True, T0 + timedelta(seconds=1))
    await due_now(stores, "disabled")
    await stores.projection.replace_addresses("disabled", [address("disabled", enabled=False)])
    await stores.schedule.poll_soon("unknown")
    await due_now(stores, "ok")
    schedule = stores.schedule
    assert await schedule.claim_due("a", 5, LEASE, INTERVAL) == ["ok"]
    for parked in ("archived", "disabled", "unknown"):
        assert not await schedule.is_pollable(parked)
        assert not await schedule.claim_tenant(parked, "a", LEASE)
        due_at = (await status(stores, parked)).next_poll_at
        assert due_at is not None
        due_in = (due_at - datetime.now(UTC)).total_seconds()
        assert INTERVAL - 5 < due_in <= INTERVAL
    assert await schedule.is_pollable("ok")


async def test_a_poll_asked_for_says_whether_the_tenant_is_in_backoff(stores: Stores) -> None:
    schedule = stores.schedule
    await due_now(stores, "failing")
    assert await schedule.claim_tenant("failing", "a", LEASE) == PollClaim(in_backoff=False)
    await schedule.poll_failed("failing", "a", PollFailure("down", retry_delays(60, 60)))
    assert await schedule.claim_tenant("failing", "a", LEASE) == PollClaim(in_backoff=True)


async def test_tenants_in_backoff_are_claimed_apart_from_the_others(stores: Stores) -> None:
    schedule = stores.schedule
    for tenant_id in ("failing", "ok"):
        await due_now(stores, tenant_id)
    assert await schedule.claim_tenant("failing", "a", LEASE)
    await schedule.poll_failed(
        "failing", "a", PollFailure("down", retry_delays(0.01, 0.01))
    )  # due again at once
    await asyncio.sleep(0.05)
    assert await schedule.claim_due("a", 5, LEASE, INTERVAL, in_backoff=True) == ["failing"]
    assert await schedule.claim_due("a", 5, LEASE, INTERVAL, in_backoff=True) == []
    assert await schedule.claim_due("a", 5, LEASE, INTERVAL, in_backoff=False) == ["ok"]


async def test_poll_now_and_a_delivery_make_a_tenant_due(stores: Stores) -> None:
    await due_now(stores, "t1")
    schedule = stores.schedule
    assert await schedule.claim_due("a", 1, LEASE, INTERVAL) == ["t1"]
    await schedule.poll_succeeded("t1", "a", 0, 3600)
    assert await schedule.claim_due("a", 1, LEASE, INTERVAL) == []  # an hour on
    await schedule.poll_soon("t1")
    assert await schedule.claim_due("a", 1, LEASE, INTERVAL) == ["t1"]
    # A delivery while the poll runs: due again when it ends, the delivery still pending.
    await schedule.mark_delivered("t1")
    await schedule.poll_succeeded("t1", "a", 1, 3600)
    assert await schedule.claim_due("b", 1, LEASE, INTERVAL) == ["t1"]
    # Released on the way out: claimable at once by poll-now, due or not.
    await schedule.poll_succeeded("t1", "b", 0, 3600)
    assert await schedule.claim_tenant("t1", "c", LEASE)
    await schedule.release_leases("c")
    assert not (await status(stores, "t1")).polling
    assert await schedule.claim_tenant("t1", "d", LEASE)
