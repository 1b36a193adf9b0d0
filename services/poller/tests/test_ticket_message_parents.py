"""A ticket message never outlives its ticket or its external message, without foreign
keys to say so (migration 020): the writers store a message only with its ticket locked by
their transaction (``tickets/store.py``), and the shop purge takes the messages a poll
committed on a ticket while the purge waited to delete it (``polling/shops_store.py``).

Each race is played out on two connections: the writer's transaction left open, the purge
started and seen waiting on its lock in ``pg_stat_activity``, then the writer committed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import pytest
from keybuzz_devstack.testing import eventually
from keybuzz_poller.polling.shops_store import PostgresShops
from keybuzz_poller.shops.domain import Shop
from keybuzz_poller.tickets import store
from keybuzz_poller.tickets.ports import ExternalMessageRow, TicketRow
from keybuzz_poller.tickets.received import ticket_message
from keybuzz_shared.db import Executor
from mailkit import migrated_pool

MARKETPLACE = "FNAC"
THREAD = "thread-1"


@pytest.fixture
async def pool(make_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[asyncpg.Pool]:
    pool = await migrated_pool(make_database)
    yield pool
    await pool.close()


def mail(tenant_id: str, text: str) -> ExternalMessageRow:
    now = datetime.now(UTC)
    return ExternalMessageRow(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        marketplace=MARKETPLACE,
        external_id=str(uuid.uuid4()),
        order_id=None,
        buyer_email=None,
        buyer_name="Buyer",
        subject="Where is my order?",
        body=text,
        quoted="",
        attachments="[]",
        inbound_address=None,
        country=None,
        sent_at=now,
        received_at=now,
        raw=text.encode(),
        parse_error=None,
        accepted_at=None,
    )


def thread_of(external: ExternalMessageRow) -> TicketRow:
    return TicketRow(
        id=str(uuid.uuid4()),
        tenant_id=external.tenant_id,
        marketplace=MARKETPLACE,
        thread_key=THREAD,
        order_id=None,
        buyer_email=None,
        buyer_name=external.buyer_name,
        subject=external.subject,
        last_message_at=external.received_at,
    )


async def store_message(db: Executor, external: ExternalMessageRow) -> str:
    """As ``store_mails`` stores a mail: its row, its thread's ticket upserted, the message."""
    assert await store.insert_external_messages(db, [external])
    ticket_ids = await store.upsert_tickets(db, [thread_of(external)])
    ticket_id = ticket_ids[(MARKETPLACE, THREAD)]
    await store.insert_ticket_messages(db, [ticket_message(external, ticket_id)])
    return ticket_id


async def purge(pool: asyncpg.Pool, tenant_id: str) -> int:
    async with pool.acquire() as conn, conn.transaction():
        return await PostgresShops(conn).forget_received(Shop(tenant_id, MARKETPLACE))


async def waiting_on_a_lock(pool: asyncpg.Pool, task: asyncio.Task[int]) -> None:
    """Until a backend other than ``pool``'s own waits on a lock (the purge's), or ``task``
    ends (up to the test's limit: 500 polls 10 ms apart were a 5 s window)."""

    async def waiting_or_done() -> bool:
        return task.done() or bool(
            await pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )

    await eventually(waiting_or_done, within=None)


async def orphans(pool: asyncpg.Pool) -> int:
    found: int = await pool.fetchval(
        """
        SELECT count(*) FROM poller_ticket_messages m
        WHERE NOT EXISTS (SELECT 1 FROM poller_tickets t WHERE t.id = m.ticket_id)
           OR NOT EXISTS (SELECT 1 FROM poller_external_messages e
                          WHERE e.id = m.external_message_id)
        """
    )
    return found


async def test_a_purge_takes_the_messages_a_poll_added_to_a_ticket_while_it_waited(
    pool: asyncpg.Pool,
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    async with pool.acquire() as conn, conn.transaction():
        ticket_id = await store_message(conn, mail(tenant, "first"))

    async with pool.acquire() as poll:
        writing = poll.transaction()
        await writing.start()
        late = mail(tenant, "second")
        assert await store_message(poll, late) == ticket_id  # re-opened: locked until commit
        purging = asyncio.create_task(purge(pool, tenant))
        await waiting_on_a_lock(pool, purging)
        assert not purging.done()
        await writing.commit()
        assert await purging == 1

    assert await orphans(pool) == 0
    left = await pool.fetchval(
        "SELECT count(*) FROM poller_ticket_messages WHERE tenant_id = $1", tenant
    )
    assert left == 0, "the message committed while the purge waited outlived its ticket"
    assert not await pool.fetchval(
        "SELECT count(*) FROM poller_external_messages WHERE id = $1", late.id
    )


async def test_a_message_for_a_ticket_a_purge_deleted_meanwhile_is_not_stored(
    pool: asyncpg.Pool,
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    async with pool.acquire() as conn, conn.transaction():
        ticket_id = await store_message(conn, mail(tenant, "first"))

    async with pool.acquire() as purger, pool.acquire() as shop_poll:
        purging = purger.transaction()
        await purging.start()
        assert await PostgresShops(purger).forget_received(Shop(tenant, MARKETPLACE)) == 1

        async def add_to_the_ticket() -> int:
            async with shop_poll.transaction():
                external = mail(tenant, "a reply on the thread")
                assert await store.insert_external_messages(shop_poll, [external])
                await store.add_ticket_messages(shop_poll, [ticket_message(external, ticket_id)])
            return 1

        adding = asyncio.create_task(add_to_the_ticket())
        await waiting_on_a_lock(pool, adding)
        assert not adding.done()
        await purging.commit()
        with pytest.raises(store.TicketGone):
            await adding

    assert await orphans(pool) == 0
    assert not await pool.fetchval(
        "SELECT count(*) FROM poller_external_messages WHERE tenant_id = $1", tenant
    )


async def test_a_message_for_a_ticket_never_stored_is_refused(pool: asyncpg.Pool) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    with pytest.raises(store.TicketGone):
        async with pool.acquire() as conn, conn.transaction():
            external = mail(tenant, "hello")
            assert await store.insert_external_messages(conn, [external])
            await store.add_ticket_messages(conn, [ticket_message(external, str(uuid.uuid4()))])
    assert await orphans(pool) == 0
    assert not await pool.fetchval(
        "SELECT count(*) FROM poller_external_messages WHERE tenant_id = $1", tenant
    )
