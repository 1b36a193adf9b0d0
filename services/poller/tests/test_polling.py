"""Scheduling: every tenant polled per interval, leases shared by instances, poll-now, --once."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from keybuzz_devstack.testing import (
    Infra,
    MailServer,
    RunningService,
    eventually,
    service_migrations,
    start_service_on_module_nats,
)
from keybuzz_poller.polling.domain import PollFailure, retry_delays
from keybuzz_poller.polling.scheduler import Scheduler
from keybuzz_poller.polling.shops_store import SHOPS
from keybuzz_poller.polling.store import PostgresPollSchedule
from keybuzz_poller.service import DEFINITION
from keybuzz_shared.events import ConnectionConnected
from mailkit import (
    archived,
    deliver_behind_the_mx,
    get_json,
    new_tenant,
    process_env,
    publish,
    relay_mail,
    run_once,
    send,
    synced,
)

StartService = Callable[..., Awaitable[RunningService]]

# Services on the module's NATS: its tests count tenants and claims over a poller's whole
# schedule, which another module's tenant.synced or connection.connected would join.
start_service = start_service_on_module_nats


async def stored(poller: RunningService, tenant_id: str) -> int:
    count: int = await poller.runtime.pool.fetchval(
        "SELECT count(*) FROM poller_ticket_messages WHERE tenant_id = $1", tenant_id
    )
    return count


async def test_two_instances_never_poll_a_tenant_at_once_and_take_over(
    start_service: StartService,
    make_database: Callable[..., Awaitable[str]],
    dovecot: MailServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="keybuzz_poller.polling")
    database = await make_database("poller", service_migrations(DEFINITION))
    # A lease lasts the interval at most, renewed by its poll every quarter of it: a lease
    # of 1 s lapsed behind a loaded machine's stalls (load ~20) while its poll ran, and the
    # other instance rightly took the tenant. 3 s is more than such a stall.
    interval = 3
    settings = {"DATABASE_URL": database, "POLL_INTERVAL_SECONDS": str(interval)}
    first = await start_service(DEFINITION, **settings, **dovecot.settings)
    second = await start_service(DEFINITION, **settings, **dovecot.settings)
    tenants = [new_tenant() for _ in range(6)]
    for tenant, address in tenants:
        await synced(first, tenant, address)
        await send(first, relay_mail(address), address)
    for tenant, _ in tenants:
        await eventually(lambda t=tenant: stored(first, t))  # type: ignore[misc]

    def polls() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.getMessage() == "tenant polled"]

    async def both_polled_every_tenant_twice() -> bool:
        done = polls()
        per_tenant = [sum(vars(r)["tenant_id"] == t for r in done) for t, _ in tenants]
        return len({vars(r)["instance"] for r in done}) == 2 and min(per_tenant) >= 2

    # Rounds of both instances, waited for rather than slept through: two polls of each
    # tenant at least, both instances among their pollers.
    await eventually(both_polled_every_tenant_twice)
    done = polls()
    for tenant, _ in tenants:
        spans = sorted(
            (vars(r)["started_at"], vars(r)["started_at"] + vars(r)["seconds"])
            for r in done
            if vars(r)["tenant_id"] == tenant
        )
        assert all(
            end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:], strict=False)
        )
    assert all([await stored(first, t) == 1 for t, _ in tenants])

    # The first instance stops; the second polls every tenant from then on.
    await first.stop()
    for _, address in tenants:
        await send(second, relay_mail(address, "after the stop"), address)
    for tenant, _ in tenants:
        await eventually(lambda t=tenant: _count_is(second, t, 2))


async def lease_owner(poller: RunningService, tenant_id: str) -> str | None:
    owner: str | None = await poller.runtime.pool.fetchval(
        "SELECT lease_owner FROM poller_poll_status WHERE tenant_id = $1", tenant_id
    )
    return owner


async def _count_is(poller: RunningService, tenant: str, count: int) -> bool:
    return await stored(poller, tenant) == count


async def test_a_freed_slot_takes_the_next_due_tenant_at_once_not_at_the_next_tick(
    start_service: StartService,
    make_database: Callable[..., Awaitable[str]],
    dovecot: MailServer,
) -> None:
    # Its own database: no other test's due tenant can take the single slot. An interval of
    # a day: no tenant falls due during the test unless the test makes it so.
    poller = await start_service(
        DEFINITION,
        DATABASE_URL=await make_database("poller", service_migrations(DEFINITION)),
        POLL_CONCURRENCY="1",
        POLL_INTERVAL_SECONDS="86400",
        **dovecot.settings,
    )
    scheduler = poller.runtime.component(Scheduler)
    # The tick (a second at most) would claim the next tenant anyway, only later: put off
    # past the test, so that a poll's end is the only thing that can start the next poll.
    scheduler.tick = 86400
    scheduler.wake.set()  # the loop's wait begun on the second's tick ends: the next is a day
    tenants = [new_tenant() for _ in range(8)]
    for tenant, address in tenants:
        await synced(poller, tenant, address)
        # Behind the MX: its delivery would make the tenant due and wake the loop itself.
        await deliver_behind_the_mx(dovecot, tenant, relay_mail(address))
    await poller.runtime.pool.execute("UPDATE poller_poll_status SET next_poll_at = now()")
    scheduler.wake.set()  # one wake-up: the loop claims one tenant, the single slot's fill
    # Each poll's end claims the next due tenant: all eight polled, one at a time.
    for tenant, _ in tenants:
        await eventually(lambda t=tenant: stored(poller, t))  # type: ignore[misc]


async def test_a_dead_instances_lease_expires_and_the_tenant_is_taken_over(
    start_service: StartService, dovecot: MailServer
) -> None:
    poller = await start_service(
        DEFINITION, POLL_INTERVAL_SECONDS="1", POLL_LEASE_SECONDS="1", **dovecot.settings
    )
    tenant, address = new_tenant()
    other, other_address = new_tenant()
    for t, a in ((tenant, address), (other, other_address)):
        await synced(poller, t, a)
    # Another instance leased the tenant, then died without releasing it.
    await poller.runtime.pool.execute(
        """
        UPDATE poller_poll_status SET lease_owner = 'dead-instance',
            lease_expires_at = now() + interval '1 hour', next_poll_at = now()
        WHERE tenant_id = $1
        """,
        tenant,
    )
    await send(poller, relay_mail(address), address)
    await send(poller, relay_mail(other_address), other_address)
    # A claim after both mails arrived took the other tenant, due as well: not this one.
    await eventually(lambda: stored(poller, other))
    assert await stored(poller, tenant) == 0  # still leased: not polled
    assert await lease_owner(poller, tenant) == "dead-instance"
    # The dead instance's lease runs out (in a second, by PostgreSQL's clock).
    await poller.runtime.pool.execute(
        "UPDATE poller_poll_status SET lease_expires_at = now() + interval '1 second'"
        " WHERE tenant_id = $1",
        tenant,
    )
    await eventually(lambda: stored(poller, tenant))


async def test_connection_connected_polls_at_once_and_archived_tenants_are_not_polled(
    start_service: StartService, dovecot: MailServer
) -> None:
    # An interval of a day: only connection.connected makes a poll happen during the test.
    poller = await start_service(DEFINITION, POLL_INTERVAL_SECONDS="86400", **dovecot.settings)
    tenant, address = new_tenant()
    gone, gone_address = new_tenant()
    for t, a in ((tenant, address), (gone, gone_address)):
        await synced(poller, t, a)
        # Behind the MX: its delivery would make the tenant due at once (push on delivery).
        await deliver_behind_the_mx(dovecot, t, relay_mail(a))
    await archived(poller, gone)

    for t in (gone, tenant):
        await publish(
            poller,
            ConnectionConnected(
                tenant_id=t,
                connection_id="c1",
                seller_id="A12BCIS2R7HD4D",
                marketplace_ids=["A13V1IB3VIYZZH"],
                region="eu",
            ),
        )
    await eventually(lambda: stored(poller, tenant))
    status = await poller.runtime.pool.fetchrow(
        "SELECT next_poll_at, last_success_at FROM poller_poll_status WHERE tenant_id = $1", gone
    )
    # Due, met by a claim, not polled: parked an interval on (a day here), not left due.
    assert status["last_success_at"] is None
    assert (status["next_poll_at"] - datetime.now(UTC)).total_seconds() > 86400 - 60
    assert await stored(poller, gone) == 0


async def test_poll_now_over_nats_and_http_status(poller: RunningService) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    await send(poller, relay_mail(address), address)

    reply = await (await poller.operator()).request(
        "keybuzz.poller.poll", json.dumps({"tenantId": tenant}).encode(), timeout=10
    )
    assert json.loads(reply.data) == {
        "tenantId": tenant,
        "fetched": 1,
        "stored": 1,
        "duplicates": 0,
        "unparsed": 0,
    }
    unknown = await (await poller.operator()).request(
        "keybuzz.poller.poll", json.dumps({"tenantId": "nobody"}).encode(), timeout=10
    )
    assert unknown.headers and unknown.headers.get("Nats-Service-Error-Code") == "404"

    status = await get_json(poller, tenant, "/api/v1/poller/status")
    assert status["scheduled"] and status["messagesFetched"] == 1
    assert status["lastSuccessAt"] and status["lastError"] is None
    assert status["lastPollAt"] == status["lastSuccessAt"] and status["nextPollAt"]
    assert 0 <= status["lagSeconds"] < 10


async def test_once_polls_every_due_tenant_and_exits(
    start_service: StartService,
    make_database: Callable[..., Awaitable[str]],
    stack: Infra,
    dovecot: MailServer,
) -> None:
    database = await make_database("poller", service_migrations(DEFINITION))
    poller = await start_service(
        DEFINITION, DATABASE_URL=database, POLL_ENABLED="false", **dovecot.settings
    )
    tenants = [new_tenant() for _ in range(2)]
    for tenant, address in tenants:
        await synced(poller, tenant, address)
        await send(poller, relay_mail(address), address)
    await poller.runtime.pool.execute("UPDATE poller_poll_status SET next_poll_at = now()")

    out = await run_once(process_env(stack, database, dovecot))
    assert b"polled 2 tenants, stored 2 messages" in out
    assert [await stored(poller, t) for t, _ in tenants] == [1, 1]
    pending = await poller.runtime.pool.fetchval(
        "SELECT count(*) FROM event_outbox WHERE published_at IS NULL"
    )
    assert pending == 0  # its message.received were published before it exited


async def test_a_leased_tenant_is_not_claimed_by_another_instance(poller: RunningService) -> None:
    pool = poller.runtime.pool
    tenants = [new_tenant() for _ in range(4)]
    for tenant, address in tenants:
        await synced(poller, tenant, address)
    ids = [t for t, _ in tenants]
    await pool.execute(
        "UPDATE poller_poll_status SET next_poll_at = now() WHERE tenant_id = ANY($1)", ids
    )
    # Two instances claim at the same moment: each tenant goes to exactly one.
    first, second = await asyncio.gather(
        PostgresPollSchedule(pool).claim_due("instance-a", 10, 30, 300),
        PostgresPollSchedule(pool).claim_due("instance-b", 10, 30, 300),
    )
    assert sorted(first + second) == sorted(ids) and not set(first) & set(second)
    # Still leased: nobody else gets them, due or not, nor by poll-now's claim.
    assert await PostgresPollSchedule(pool).claim_due("instance-c", 10, 30, 300) == []
    assert not await PostgresPollSchedule(pool).claim_tenant(ids[0], "instance-c", 30)
    # Expired (the holder died): free again.
    await pool.execute("UPDATE poller_poll_status SET lease_expires_at = now() - interval '1s'")
    assert sorted(await PostgresPollSchedule(pool).claim_due("instance-c", 10, 30, 300)) == sorted(
        ids
    )


async def test_a_claim_parks_due_tenants_it_cannot_poll_and_takes_the_oldest_due_behind_them(
    poller: RunningService,
) -> None:
    """Archived tenants stay in poller_poll_status: left due, every claim walked past all
    of them. A claim parks them an interval on and still fills its slots, oldest due first."""
    pool = poller.runtime.pool
    tenants = [new_tenant() for _ in range(16)]
    for tenant, address in tenants:
        await synced(poller, tenant, address)
    ids = [t for t, _ in tenants]
    # More archived tenants due first than a claim looks at beyond its slots (8).
    gone, (oldest, second, third, _not_due) = ids[:12], ids[12:]
    for tenant in gone:
        await archived(poller, tenant)
    await pool.execute(
        """
        UPDATE poller_poll_status s SET next_poll_at = now() - make_interval(secs => o.age)
        FROM unnest($1::text[], $2::int[]) AS o(tenant_id, age) WHERE s.tenant_id = o.tenant_id
        """,
        ids,
        [500] * 12 + [400, 300, 200, -100],  # the archived due first; the last not due yet
    )
    # One slot: the archived tenants are parked, the oldest pollable one is claimed.
    assert await PostgresPollSchedule(pool).claim_due("instance-a", 1, 30, 300) == [oldest]
    assert sorted(await PostgresPollSchedule(pool).claim_due("instance-a", 5, 30, 300)) == sorted(
        [second, third]
    )
    parked = await pool.fetch(
        "SELECT extract(epoch FROM next_poll_at - now()) AS due_in FROM poller_poll_status "
        "WHERE tenant_id = ANY($1)",
        gone,
    )
    assert all(290 < r["due_in"] <= 300 for r in parked) and len(parked) == 12
    assert (
        await PostgresPollSchedule(pool).claim_due("instance-a", 5, 30, 300) == []
    )  # the rest: not due


async def test_new_tenants_are_spread_over_the_interval(
    start_service: StartService, make_database: Callable[..., Awaitable[str]]
) -> None:
    poller = await start_service(
        DEFINITION,
        DATABASE_URL=await make_database("poller", service_migrations(DEFINITION)),
        POLL_ENABLED="false",
    )
    before = datetime.now(UTC)
    tenants = [new_tenant() for _ in range(12)]
    for tenant, address in tenants:
        await synced(poller, tenant, address)
    rows = await poller.runtime.pool.fetch(
        "SELECT next_poll_at FROM poller_poll_status WHERE tenant_id = ANY($1)",
        [t for t, _ in tenants],
    )
    offsets = sorted((r["next_poll_at"] - before).total_seconds() for r in rows)
    interval = poller.runtime.settings.poll_interval_seconds  # the default, 300 s
    assert len(offsets) == 12 and 0 <= offsets[0] and offsets[-1] <= interval + 5
    # Twelve random points of the interval: all in one 10-second slice has odds below 1e-9.
    assert offsets[-1] - offsets[0] > 10


async def test_a_failing_tenant_backs_off_exponentially_up_to_the_cap(
    poller: RunningService,
) -> None:
    pool = poller.runtime.pool
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    delays = []
    for _ in range(5):
        assert await PostgresPollSchedule(pool).claim_tenant(tenant, "instance-a", 30)
        await PostgresPollSchedule(pool).poll_failed(
            tenant, "instance-a", PollFailure("IMAP down", retry_delays(2.0, 10.0))
        )
        row = await pool.fetchrow(
            """
            SELECT extract(epoch FROM next_poll_at - last_error_at)::float8 AS delay,
                   consecutive_failures, lease_owner
            FROM poller_poll_status WHERE tenant_id = $1
            """,
            tenant,
        )
        assert row["lease_owner"] is None  # released: another instance may retry it
        delays.append(round(row["delay"], 1))
    assert delays == [2.0, 4.0, 8.0, 10.0, 10.0]
    assert row["consecutive_failures"] == 5
    await PostgresPollSchedule(pool).poll_succeeded(
        tenant, "instance-a", 0, 60
    )  # no lease held: ignored
    assert (
        await pool.fetchval(
            "SELECT consecutive_failures FROM poller_poll_status WHERE tenant_id = $1", tenant
        )
        == 5
    )


async def connected_shop(poller: RunningService, due_since: float) -> tuple[str, str]:
    """A synced tenant's connected shop, due ``due_since`` seconds ago: its tenant and key."""
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    key = f"mirakl:{tenant}"
    await poller.runtime.pool.execute(
        """
        INSERT INTO poller_shops (poll_key, tenant_id, marketplace, seller_id, connection,
                                  connection_as_of, next_poll_at)
        VALUES ($1, $2, 'mirakl', '2001', 'CONNECTED', now(),
                now() - make_interval(secs => $3))
        """,
        key,
        tenant,
        due_since,
    )
    return tenant, key


async def test_a_shops_next_poll_counts_from_the_end_of_its_last_poll_a_mailboxs_from_its_place(
    poller: RunningService,
) -> None:
    """A shop's marketplace counts one listing per interval from the calls it saw: a poll
    claimed late must not bring the next one closer than an interval after it (Mirakl's
    M11 would answer 429). A mailbox keeps its place in the interval instead."""
    pool = poller.runtime.pool
    tenant, key = await connected_shop(poller, due_since=20)
    await pool.execute(
        "UPDATE poller_poll_status SET next_poll_at = now() - interval '20 seconds'"
        " WHERE tenant_id = $1",
        tenant,
    )
    shops, folders = PostgresPollSchedule(pool, SHOPS), PostgresPollSchedule(pool)
    assert await shops.claim_tenant(key, "instance-a", 30)
    assert await folders.claim_tenant(tenant, "instance-a", 30)
    await shops.poll_succeeded(key, "instance-a", 0, 60)
    await folders.poll_succeeded(tenant, "instance-a", 0, 60)
    shop_next = await pool.fetchval(
        "SELECT extract(epoch FROM next_poll_at - last_success_at)::float8"
        " FROM poller_shops WHERE poll_key = $1",
        key,
    )
    folder_next = await pool.fetchval(
        "SELECT extract(epoch FROM next_poll_at - last_success_at)::float8"
        " FROM poller_poll_status WHERE tenant_id = $1",
        tenant,
    )
    assert shop_next == pytest.approx(60, abs=0.01)  # an interval after the poll ended
    assert folder_next == pytest.approx(40, abs=1.0)  # its place: due 20 s ago, + 60 s


async def test_a_shop_poll_that_never_ended_counts_as_ended_by_its_lease_or_its_release(
    poller: RunningService,
) -> None:
    """A shop's pace counts from its last poll's end (``last_poll_at``, docs/POLLER.md,
    "Pacing"): a poll whose instance died made its calls by its lease's expiry at the
    latest, and one running when its instance stopped, by the stop; the instance taking the
    shop over reads so, and waits for the marketplace's frequency from then."""
    pool = poller.runtime.pool
    _, key = await connected_shop(poller, due_since=0)
    shops = PostgresPollSchedule(pool, SHOPS)
    assert await shops.seconds_since_poll(key) is None  # never polled: no pace yet
    # Bounds by the time the test saw pass, not by a fixed figure that load would eat.
    loop = asyncio.get_running_loop()
    claimed = loop.time()
    assert await shops.claim_tenant(key, "instance-a", 0.5)  # and instance-a dies
    await asyncio.sleep(1.0)
    assert key in await shops.claim_due("instance-b", 10, 30, 60)
    since = await shops.seconds_since_poll(key)
    # instance-a's lease ended 0.5 s after its claim: not its claim, not now.
    assert since is not None and 0.3 <= since <= loop.time() - claimed - 0.5 + 0.01
    await asyncio.sleep(1.0)
    released = loop.time()
    await shops.release_leases("instance-b")  # instance-b stops while polling it
    since = await shops.seconds_since_poll(key)
    assert since is not None and since <= loop.time() - released + 0.01
