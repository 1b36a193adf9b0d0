"""A poller process killed (SIGKILL) in the middle of a folder: taken over, nothing lost or twice.

The poller runs as its own process (``python -m keybuzz_poller``), as in
production. Each batch of 200 mails is made slow by a trigger in the real
database (a statement of ``poller_ticket_messages`` sleeps), so the kill lands
while some batches have committed and the next one is being stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import smtplib
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from keybuzz_devstack import infra
from keybuzz_devstack.testing import (
    Infra,
    MailServer,
    RunningService,
    eventually,
    service_migrations,
)
from keybuzz_poller.inbound.addresses import INBOUND_HEADER, folder_for
from keybuzz_poller.polling.scheduler import Scheduler
from keybuzz_poller.service import DEFINITION
from mailkit import new_tenant, process_env, received_events, synced

StartService = Callable[..., Awaitable[RunningService]]

MAILS = 1000  # five batches of 200 (see _slow_batches)
INTERVAL = 2  # seconds; leases are capped at it
UNCAPPED_LEASE = 30  # POLL_LEASE_SECONDS's default: a lease left uncapped would last so long


def _relay(address: str, n: int) -> bytes:
    order = f"402-{n:07d}-{n * 7 % 10**7:07d}"
    return (
        f"{INBOUND_HEADER}: {address}\r\n"
        f"From: Buyer - Amazon Marketplace <b{n}@marketplace.amazon.fr>\r\n"
        f"Subject: Question (Commande : {order})\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@crash.keybuzz.test>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Où est ma commande {order} ?\r\n"
    ).encode()


def _deliver(dovecot: MailServer, tenant_id: str, address: str) -> None:
    """Blocking: MAILS mails into the tenant's folder over one LMTP session."""
    rcpt = f"{dovecot.user}+{folder_for(tenant_id)}"
    with smtplib.LMTP(dovecot.host, dovecot.lmtp_port, timeout=30) as lmtp:
        for n in range(MAILS):
            lmtp.sendmail("bounces@amazonses.com", [rcpt], _relay(address, n))


async def _slow_batches(helper: RunningService) -> None:
    """Every batch stays 1.5 s in its transaction: a kill finds one open, and the folder
    (five batches) outlasts a second instance's start on a busy machine."""
    await helper.runtime.pool.execute(
        """
        CREATE FUNCTION slow_batch() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN PERFORM pg_sleep(1.5); RETURN NULL; END $$;
        CREATE TRIGGER slow_batch BEFORE INSERT ON poller_ticket_messages
            FOR EACH STATEMENT EXECUTE FUNCTION slow_batch();
        """
    )


async def _fast_batches(helper: RunningService) -> None:
    """After the kill the slowness has served (a batch open at the kill, the second
    instance started): the batches left are stored at their own pace."""
    await helper.runtime.pool.execute("DROP TRIGGER slow_batch ON poller_ticket_messages")


@asynccontextmanager
async def poller_process(
    stack: Infra, database: str, dovecot: MailServer, log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python -m keybuzz_poller`` in a process group of its own, until it answers /health."""
    port = infra.free_port()
    env = process_env(
        stack,
        database,
        dovecot,
        POLLER_PORT=str(port),
        MX_PORT=str(infra.free_port()),
        POLL_INTERVAL_SECONDS=str(INTERVAL),
        LOG_LEVEL="WARNING",
    )
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "keybuzz_poller",
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    try:
        await eventually(lambda: _answers(port, process, log))
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):  # whatever is left of the group
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


async def _answers(port: int, process: asyncio.subprocess.Process, log: Path) -> bool:
    if process.returncode is not None:
        raise AssertionError((await asyncio.to_thread(log.read_text))[-3000:])
    return await asyncio.to_thread(infra.http_ok, f"http://127.0.0.1:{port}/health")


async def kill(process: asyncio.subprocess.Process) -> None:
    """SIGKILL to the poller process alone (as ``kill -9`` or the OOM killer); its
    mail-parsing workers must leave by themselves, not linger as orphans."""
    process.kill()
    await process.wait()

    async def group_gone() -> bool:
        try:
            os.killpg(process.pid, 0)  # anyone left in the process group?
        except ProcessLookupError:
            return True
        return False

    await eventually(group_gone)


async def _stored(helper: RunningService, tenant_id: str) -> int:
    count: int = await helper.runtime.pool.fetchval(
        "SELECT count(*) FROM poller_ticket_messages WHERE tenant_id = $1", tenant_id
    )
    return count


async def _killed_mid_folder(
    helper: RunningService, tenant_id: str, process: asyncio.subprocess.Process
) -> int:
    """SIGKILL once a batch has committed and the next one is being stored (its transaction
    open, its mails already in poller_external_messages); the count at the kill."""

    async def next_batch_open() -> bool:
        count = await _stored(helper, tenant_id)
        assert count < MAILS, "the folder was read completely before the kill"
        storing: int = await helper.runtime.pool.fetchval(
            """
            SELECT count(*) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
              AND state = 'active' AND query LIKE '%INSERT INTO poller_ticket_messages%'
            """
        )
        return count > 0 and storing > 0

    await eventually(next_batch_open)
    await kill(process)
    return await _stored(helper, tenant_id)


async def _exactly_once(helper: RunningService, tenant_id: str) -> None:
    """One ticket message per mail, one message.received per stored message, on JetStream."""
    rows = await helper.runtime.pool.fetch(
        """
        SELECT e.external_id, m.id AS message_id
        FROM poller_external_messages e
        JOIN poller_ticket_messages m ON m.external_message_id = e.id
        WHERE e.tenant_id = $1
        """,
        tenant_id,
    )
    assert len(rows) == MAILS
    assert len({r["external_id"] for r in rows}) == MAILS
    events = await received_events(helper, tenant_id)
    per_message = Counter(e["ticketMessageId"] for e in events)
    assert sorted(per_message) == sorted(r["message_id"] for r in rows)
    assert set(per_message.values()) == {1}
    per_external = Counter(e["externalMessageId"] for e in events)
    assert len(per_external) == MAILS and set(per_external.values()) == {1}


async def _prepared(
    start_service: StartService,
    make_database: Callable[..., Awaitable[str]],
    dovecot: MailServer,
) -> tuple[str, RunningService, str]:
    """A database with one tenant and MAILS mails in its folder; an in-process helper
    instance (no scheduled polls) to publish tenant.synced and read the results."""
    database = await make_database("poller", service_migrations(DEFINITION))
    helper = await start_service(
        DEFINITION, DATABASE_URL=database, POLL_ENABLED="false", **dovecot.settings
    )
    await _slow_batches(helper)
    tenant_id, address = new_tenant()
    await asyncio.to_thread(_deliver, dovecot, tenant_id, address)
    await synced(helper, tenant_id, address)
    await helper.runtime.pool.execute("UPDATE poller_poll_status SET next_poll_at = now()")
    return database, helper, tenant_id


async def test_a_killed_instance_is_taken_over_within_an_interval_and_nothing_is_twice(
    start_service: StartService,
    make_database: Callable[..., Awaitable[str]],
    stack: Infra,
    dovecot: MailServer,
    tmp_path: Path,
) -> None:
    database, helper, tenant_id = await _prepared(start_service, make_database, dovecot)
    log = tmp_path / "poller.log"
    async with poller_process(stack, database, dovecot, log) as process:
        await eventually(lambda: _stored(helper, tenant_id))
        # A second instance starts while the first holds the tenant's lease.
        second = await start_service(
            DEFINITION,
            DATABASE_URL=database,
            POLL_INTERVAL_SECONDS=str(INTERVAL),
            **dovecot.settings,
        )
        lease = await helper.runtime.pool.fetchrow(
            "SELECT lease_owner, lease_expires_at - now() AS left FROM poller_poll_status"
            " WHERE tenant_id = $1",
            tenant_id,
        )
        assert lease["lease_owner"] and f":{process.pid}:" in lease["lease_owner"]  # about to die
        # Capped at the interval, renewals included: the tenant is free an interval after a kill.
        assert lease["left"] <= timedelta(seconds=INTERVAL)
        at_kill = await _killed_mid_folder(helper, tenant_id, process)
    assert 0 < at_kill < MAILS
    # The times the database recorded, not the test's wall clock: a loaded machine stalls
    # the test between the kill and its probes, not the instances' claims.
    killed_at = await helper.runtime.pool.fetchval("SELECT now()")
    await _fast_batches(helper)

    async def taken_over() -> Any:
        row = await helper.runtime.pool.fetchrow(
            "SELECT lease_owner, last_success_at, claimed_at FROM poller_poll_status"
            " WHERE tenant_id = $1",
            tenant_id,
        )
        # The killed instance never finished a poll: a success is the second instance's.
        second_owns = row["lease_owner"] == second.runtime.component(Scheduler).owner
        return row if second_owns or row["last_success_at"] else None

    claimed = (await eventually(taken_over))["claimed_at"]
    # The dead lease ran out, the scheduler's next tick (~1 s) claimed it: well within the
    # 30 s a lease not capped at the interval would have held the tenant.
    assert claimed - killed_at < timedelta(seconds=UNCAPPED_LEASE / 2)
    await eventually(lambda: _count_is(helper, tenant_id, MAILS))
    await _exactly_once(helper, tenant_id)

    # The killed instance restarted: its polls of the tenant add nothing.
    await second.stop()
    async with poller_process(stack, database, dovecot, log):
        due_at = await helper.runtime.pool.fetchval(
            "UPDATE poller_poll_status SET next_poll_at = now() RETURNING now()"
        )

        async def polled_again() -> bool:
            return bool(
                await helper.runtime.pool.fetchval(
                    "SELECT last_success_at > $2 FROM poller_poll_status WHERE tenant_id = $1",
                    tenant_id,
                    due_at,
                )
            )

        await eventually(polled_again)
    await _exactly_once(helper, tenant_id)


async def _count_is(helper: RunningService, tenant_id: str, count: int) -> bool:
    return await _stored(helper, tenant_id) == count
