"""Push on delivery: a mail the MX stored makes its tenant due now and wakes the pollers.

The interval here is an hour: only the MX's mark (PostgreSQL) and its NOTIFY can make the
poll happen within the test; the periodic sweep is tested apart, as the safety net.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from keybuzz_devstack.testing import (
    MailServer,
    RunningService,
    eventually,
    service_migrations,
    start_service_on_module_nats,
)
from keybuzz_poller.polling.store import PostgresPollSchedule
from keybuzz_poller.polling.wakeups import APPLICATION_NAME, DueListener
from keybuzz_poller.service import DEFINITION
from mailkit import deliver_behind_the_mx, new_tenant, poll_now, relay_mail, send, synced

StartService = Callable[..., Awaitable[RunningService]]

# Services on the module's NATS: a poller polling on its own counts every mail it stores in
# one histogram, an earlier test's tenants' too, were their events handed to it.
start_service = start_service_on_module_nats

HOUR = "3600"
HISTOGRAM_COUNT = "keybuzz_poller_mail_to_ticket_seconds_count"
# This test database's listeners only: other tests' pollers share the PostgreSQL server.
LISTENERS = (
    "SELECT {what} FROM pg_stat_activity"
    " WHERE application_name = $1 AND datname = current_database()"
)


async def ticket_messages(poller: RunningService, tenant_id: str) -> int:
    count: int = await poller.runtime.pool.fetchval(
        "SELECT count(*) FROM poller_ticket_messages WHERE tenant_id = $1", tenant_id
    )
    return count


async def not_due_for_an_hour(poller: RunningService, tenant_id: str) -> None:
    """A new tenant's first poll falls anywhere in the interval: move it out of the test."""
    await poller.runtime.pool.execute(
        """
        INSERT INTO poller_poll_status (tenant_id, next_poll_at)
        VALUES ($1, now() + interval '1 hour')
        ON CONFLICT (tenant_id) DO UPDATE SET next_poll_at = now() + interval '1 hour'
        """,
        tenant_id,
    )


async def histogram_count(poller: RunningService) -> float:
    return await poller.metric(HISTOGRAM_COUNT + "{")


async def test_a_delivered_mail_becomes_a_ticket_at_once_with_an_hour_interval(
    start_service: StartService, dovecot: MailServer
) -> None:
    poller = await start_service(DEFINITION, POLL_INTERVAL_SECONDS=HOUR, **dovecot.settings)
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    await not_due_for_an_hour(poller, tenant)
    before = await histogram_count(poller)

    for sent in range(1, 4):
        started = asyncio.get_running_loop().time()
        await send(poller, relay_mail(address, text=f"mail {sent}"), address)
        await eventually(lambda n=sent: _at_least(poller, tenant, n))  # type: ignore[misc]
        # At once, not on the hour: a minute tells them apart however busy the machine.
        assert asyncio.get_running_loop().time() - started < 60

    # One observation per mail, from the MX's acceptance to the ticket's commit.
    assert await eventually(lambda: _count_is(poller, before + 3))
    status = await poller.runtime.pool.fetchrow(
        "SELECT pushed_at, next_poll_at > now() AS scheduled FROM poller_poll_status"
        " WHERE tenant_id = $1",
        tenant,
    )
    assert status["pushed_at"] is None and status["scheduled"]  # served; back on the hour


async def _at_least(poller: RunningService, tenant: str, count: int) -> bool:
    return await ticket_messages(poller, tenant) >= count


async def _count_is(poller: RunningService, count: float) -> bool:
    return await histogram_count(poller) == count


async def mx_only_instance(
    start_service: StartService, settings: dict[str, str]
) -> tuple[RunningService, str, str]:
    """An instance that never polls (its MX only), and a tenant it knows, not due for an hour."""
    mx_only = await start_service(DEFINITION, POLL_ENABLED="false", **settings)
    tenant, address = new_tenant()
    await synced(mx_only, tenant, address)
    await not_due_for_an_hour(mx_only, tenant)
    return mx_only, tenant, address


async def test_the_mx_of_one_instance_wakes_the_instance_that_polls(
    start_service: StartService,
    make_database: Callable[..., Awaitable[str]],
    dovecot: MailServer,
) -> None:
    common = {
        "DATABASE_URL": await make_database("poller", service_migrations(DEFINITION)),
        "POLL_INTERVAL_SECONDS": HOUR,
    }
    mx_only, tenant, address = await mx_only_instance(start_service, common | dovecot.settings)
    polling = await start_service(DEFINITION, **common, **dovecot.settings)

    await send(mx_only, relay_mail(address), address)
    await eventually(lambda: ticket_messages(polling, tenant))


async def test_a_delivery_during_a_poll_makes_the_tenant_due_again_at_once(
    poller: RunningService,
) -> None:
    """The poll under way may have read the folder before the mail was stored."""
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    await not_due_for_an_hour(poller, tenant)
    pool = poller.runtime.pool
    assert await PostgresPollSchedule(pool).claim_tenant(tenant, "another-instance", 30)

    await send(poller, relay_mail(address), address)  # the lease is held elsewhere
    await PostgresPollSchedule(pool).poll_succeeded(tenant, "another-instance", 0, 3600)
    due = await pool.fetchval(
        "SELECT next_poll_at <= now() FROM poller_poll_status WHERE tenant_id = $1", tenant
    )
    assert due


async def test_a_lost_wake_up_is_caught_by_the_sweep(
    start_service: StartService, dovecot: MailServer
) -> None:
    """A mail stored without the MX's mark (it died after Dovecot answered): the sweep reads it."""
    poller = await start_service(DEFINITION, POLL_INTERVAL_SECONDS="2", **dovecot.settings)
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    await eventually(lambda: _polled_once(poller, tenant))

    await deliver_behind_the_mx(dovecot, tenant, relay_mail(address))
    await eventually(lambda: ticket_messages(poller, tenant))
    pushed = await poller.runtime.pool.fetchval(
        "SELECT last_pushed_at FROM poller_poll_status WHERE tenant_id = $1", tenant
    )
    assert pushed is None  # no wake-up was ever sent


async def test_a_wake_up_nobody_heard_is_caught_by_the_next_instance_that_polls(
    start_service: StartService,
    make_database: Callable[..., Awaitable[str]],
    dovecot: MailServer,
) -> None:
    """The NOTIFY went out while no instance listened: the due mark stays in PostgreSQL."""
    common = {
        "DATABASE_URL": await make_database("poller", service_migrations(DEFINITION)),
        "POLL_INTERVAL_SECONDS": HOUR,
    }
    mx_only, tenant, address = await mx_only_instance(start_service, common | dovecot.settings)
    await send(mx_only, relay_mail(address), address)  # nobody listens: the wake-up is lost
    # The MX answered 250 after its mark: the tenant is due in PostgreSQL, nothing polled it.
    assert await _holds(
        mx_only, "SELECT next_poll_at <= now() FROM poller_poll_status WHERE tenant_id = $1", tenant
    )
    assert await ticket_messages(mx_only, tenant) == 0

    polling = await start_service(DEFINITION, **common, **dovecot.settings)  # after the wake-up
    await eventually(lambda: ticket_messages(polling, tenant))


async def _polled_once(poller: RunningService, tenant: str) -> bool:
    return await _holds(
        poller,
        "SELECT last_success_at IS NOT NULL FROM poller_poll_status WHERE tenant_id = $1",
        tenant,
    )


async def _holds(poller: RunningService, query: str, *args: object) -> bool:
    return bool(await poller.runtime.pool.fetchval(query, *args))


async def test_a_mark_wakes_every_listener_and_a_lost_connection_is_reopened(
    poller: RunningService,
) -> None:
    pool = poller.runtime.pool
    wake = asyncio.Event()
    listener = DueListener(poller.runtime.settings.database_url, wake)
    listener.start()
    try:
        await eventually(_is_set(wake))  # woken once listening: what was missed
        wake.clear()
        await PostgresPollSchedule(pool).mark_delivered("t-anyone")
        await eventually(_is_set(wake))

        # PostgreSQL drops the listening connection.
        await pool.execute(LISTENERS.format(what="pg_terminate_backend(pid)"), APPLICATION_NAME)
        await asyncio.sleep(0.5)
        wake.clear()
        await eventually(lambda: _listening(poller))
        await PostgresPollSchedule(pool).mark_delivered("t-anyone")
        await eventually(_is_set(wake))
    finally:
        await listener.aclose()


def _is_set(event: asyncio.Event) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return event.is_set()

    return probe


async def _listening(poller: RunningService) -> bool:
    return await _holds(poller, LISTENERS.format(what="count(*)"), APPLICATION_NAME)


async def test_every_mail_of_a_poll_is_one_observation_of_mail_to_ticket(
    poller: RunningService,
) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    before = await histogram_count(poller)
    for text in ("first", "second"):
        await send(poller, relay_mail(address, text=text), address)

    assert (await poll_now(poller, tenant))["stored"] == 2  # both in one poll
    assert await histogram_count(poller) == before + 2
    await send(poller, relay_mail(address, text="third"), address)
    assert (await poll_now(poller, tenant))["stored"] == 1
    assert await histogram_count(poller) == before + 3
