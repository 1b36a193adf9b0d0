"""What a batch of mail writes per ticket: a ticket the batch creates is written once, its
deadline in its INSERT (an UPDATE after it would write the ticket and every one of its
indexes again: docs/BENCHMARKS.md, bench_poller); a ticket it re-opens is recomputed from
what is stored. Either way the stored deadline is the one a full recompute gives."""

from __future__ import annotations

from datetime import UTC, datetime

from keybuzz_devstack.testing import RunningService
from keybuzz_poller.bootstrap import ports_of
from keybuzz_poller.polling.ports import PollWrites
from keybuzz_poller.reading.new_mail import read_batch
from keybuzz_poller.reading.relay_mail import RelayMail
from keybuzz_poller.tickets.from_mails import StoreCounts, store_mails
from keybuzz_poller.tickets.responses import refresh_deadlines
from keybuzz_poller.tickets.store import PostgresTickets
from keybuzz_shared.db import Executor
from keybuzz_shared.uow import StoreUnit
from mailkit import new_tenant, poll_now, relay_mail, send, synced

OTHER_ORDERS = ("402-1111111-2222222", "402-3333333-4444444", "402-5555555-6666666")


async def tickets_written(db: Executor) -> tuple[int, int]:
    """Rows of poller_tickets the connection inserted and updated (the statistics it has not
    yet reported: compare two reads in one transaction)."""
    row = await db.fetchrow(
        "SELECT n_tup_ins, n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'poller_tickets'"
    )
    assert row is not None
    return row["n_tup_ins"], row["n_tup_upd"]


async def test_a_batch_writes_each_ticket_it_creates_once_with_the_deadline_a_recompute_gives(
    poller: RunningService,
) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    await send(poller, relay_mail(address, "where is it?"), address)
    assert (await poll_now(poller, tenant))["stored"] == 1
    await send(poller, relay_mail(address, "still waiting"), address)  # re-opens that ticket
    for order in OTHER_ORDERS:  # three new tickets
        await send(
            poller, relay_mail(address, "hello", subject=f"Question (Order: {order})"), address
        )
    counts, written = StoreCounts(), []

    async def store_and_count(unit: StoreUnit[PollWrites], mails: list[RelayMail]) -> None:
        assert isinstance(unit.store.tickets, PostgresTickets)
        before = await tickets_written(unit.store.tickets.db)
        await store_mails(unit.store.tickets, unit, tenant, mails, counts, datetime.now(UTC))
        after = await tickets_written(unit.store.tickets.db)
        written.append((after[0] - before[0], after[1] - before[1]))

    await read_batch(ports_of(poller.runtime).polls.reading, tenant, store_and_count)

    assert counts.stored == 4
    # Three INSERTs; one UPDATE, the re-opened ticket's ON CONFLICT (its deadline, from its
    # first message, did not move). A deadline set after the INSERT would update all four.
    assert written == [(3, 1)]
    ticket_ids = sorted(set(counts.ticket_ids))
    async with poller.runtime.pool.acquire() as conn, conn.transaction():
        before = await tickets_written(conn)
        await refresh_deadlines(PostgresTickets(conn), ticket_ids)
        assert await tickets_written(conn) == before  # a full recompute changes nothing
    states = await poller.runtime.pool.fetch(
        "SELECT response_state, respond_by FROM poller_tickets WHERE id = ANY($1::text[])",
        ticket_ids,
    )
    assert len(states) == 4
    assert all(s["response_state"] == "AWAITING_REPLY" and s["respond_by"] for s in states)
