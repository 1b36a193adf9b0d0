"""One contract, two adapters: the mail side's scenarios run on the unit tier's in-memory
fakes (``poller_fakes.py``) and on the real adapters: ``tickets/store.py``,
``replies/store.py`` and ``reading/store.py`` on PostgreSQL, ``reading/mailbox.py`` on
Dovecot. A fake that answers differently fails here.

The stores run on the wall clock (PostgreSQL's ``now()``): due and sent times are read
against it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import msgspec
import pytest
from keybuzz_devstack.testing import MailServer
from keybuzz_poller.inbound.addresses import ProjectedAddress, folder_for
from keybuzz_poller.inbound.ports import ProjectionStore
from keybuzz_poller.inbound.store import PostgresProjection
from keybuzz_poller.polling.ports import QuarantineStore
from keybuzz_poller.polling.store import PostgresQuarantine
from keybuzz_poller.reading.mailbox import ImapAccount
from keybuzz_poller.reading.ports import CursorStore, MailSource
from keybuzz_poller.reading.store import PostgresCursors
from keybuzz_poller.replies.ports import NewReply, ReplyStore
from keybuzz_poller.replies.store import PostgresReplies
from keybuzz_poller.shops.domain import Shop, ThreadState
from keybuzz_poller.shops.store import PostgresShopStore
from keybuzz_poller.tickets.alerts_store import PostgresAlerts
from keybuzz_poller.tickets.ports import (
    AlertStore,
    DeadlineRow,
    ExternalMessageRow,
    TicketMessageRow,
    TicketQuery,
    TicketRow,
    TicketStore,
)
from keybuzz_poller.tickets.store import PostgresTickets
from keybuzz_shared.connectors.seam import ThreadDetail, ThreadStanding
from mailkit import deliver_behind_the_mx, migrated_pool, relay_mail
from poller_fakes import (
    InMemoryAlerts,
    InMemoryCursors,
    InMemoryMailbox,
    InMemoryProjection,
    InMemoryQuarantine,
    InMemoryReplies,
    InMemoryThreadStates,
    InMemoryTickets,
    PollerTables,
    wall_clock,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DOMAIN = "inbound.keybuzz.test"


class ThreadStates(Protocol):
    """What a shop's listing writes on its tickets (``ShopStore.save_thread_states``)."""

    async def save_thread_states(self, shop: Shop, states: Sequence[ThreadState]) -> int: ...


@dataclass
class Stores:
    projection: ProjectionStore
    tickets: TicketStore
    replies: ReplyStore
    cursors: CursorStore
    alerts: AlertStore
    quarantine: QuarantineStore
    thread_states: ThreadStates


@pytest.fixture(params=["memory", "postgres"])
async def stores(
    request: pytest.FixtureRequest, make_database: Callable[[str], Awaitable[str]]
) -> AsyncIterator[Stores]:
    if request.param == "memory":
        tables = PollerTables()
        yield Stores(
            InMemoryProjection(tables),
            InMemoryTickets(tables),
            InMemoryReplies(tables, wall_clock),
            InMemoryCursors(tables),
            InMemoryAlerts(tables),
            InMemoryQuarantine(tables),
            InMemoryThreadStates(tables),
        )
        return
    pool = await migrated_pool(make_database)
    yield Stores(
        PostgresProjection(pool),
        PostgresTickets(pool),
        PostgresReplies(pool),
        PostgresCursors(pool),
        PostgresAlerts(pool),
        PostgresQuarantine(pool),
        PostgresShopStore(pool),
    )
    await pool.close()


def new_id() -> str:
    return str(uuid.uuid4())


def external(
    tenant_id: str = "t1",
    external_id: str | None = None,
    received_at: datetime = T0,
    accepted_at: datetime | None = None,
    inbound_address: str | None = None,
) -> ExternalMessageRow:
    return ExternalMessageRow(
        id=new_id(),
        tenant_id=tenant_id,
        marketplace="AMAZON",
        external_id=external_id or f"<{uuid.uuid4().hex}@amazonses.com>",
        order_id="171-1234567-1234567",
        buyer_email="b7q2x9w4k1@marketplace.amazon.fr",
        buyer_name=None,
        subject="Inquiry",
        body="Where is my parcel?",
        quoted="",
        attachments="[]",
        inbound_address=inbound_address,
        country="FR",
        sent_at=None,
        received_at=received_at,
        raw=b"raw",
        parse_error=None,
        accepted_at=accepted_at,
    )


def thread(tenant_id: str = "t1", key: str = "order:1", buyer_name: str | None = None) -> TicketRow:
    return TicketRow(
        id=new_id(),
        tenant_id=tenant_id,
        marketplace="AMAZON",
        thread_key=key,
        order_id="171-1234567-1234567",
        buyer_email="b7q2x9w4k1@marketplace.amazon.fr",
        buyer_name=buyer_name,
        subject="Inquiry",
        last_message_at=T0,
    )


async def a_ticket(
    stores: Stores, tenant_id: str = "t1", *mails: ExternalMessageRow
) -> tuple[str, list[str]]:
    """A ticket of the tenant with its buyer messages (one by default): (ticket id, message ids)."""
    mails = mails or (external(tenant_id),)
    await stores.tickets.insert_external_messages(mails)
    row = thread(tenant_id, f"k:{new_id()}")
    ticket_id = (await stores.tickets.upsert_tickets([row]))[(row.marketplace, row.thread_key)]
    messages = [
        TicketMessageRow(
            id=new_id(),
            ticket_id=ticket_id,
            tenant_id=tenant_id,
            external_message_id=m.id,
        )
        for m in mails
    ]
    await stores.tickets.insert_ticket_messages(messages)
    return ticket_id, [m.id for m in messages]


def new_reply(
    ticket_id: str,
    tenant_id: str = "t1",
    created_at: datetime | None = None,
    size: int = 10,
    automatic: bool = False,
) -> NewReply:
    ticket_message_id = new_id()
    return NewReply(
        ticket_message_id=ticket_message_id,
        external_message_id=new_id(),
        tenant_id=tenant_id,
        ticket_id=ticket_id,
        marketplace="AMAZON",
        message_id=f"<reply-{ticket_message_id}@{DOMAIN}>",
        order_id="171-1234567-1234567",
        envelope_sender=f"amazon.{tenant_id}.fr.tok+{ticket_message_id[-8:]}@{DOMAIN}",
        recipient="b7q2x9w4k1@marketplace.amazon.fr",
        subject="Re: Inquiry",
        text="Sent today.",
        attachments="[]",
        country="FR",
        created_at=created_at or datetime.now(UTC) - timedelta(seconds=1),
        mail=b"m" * size,
        automatic=automatic,
    )


# --- tickets ---------------------------------------------------------------------------


async def test_a_mail_is_stored_once_per_tenant_marketplace_and_id(stores: Stores) -> None:
    first, again, other_tenant = external(), external(), external("t2")
    again = ExternalMessageRow(**{**_fields(again), "external_id": first.external_id})
    other_tenant = ExternalMessageRow(**{**_fields(other_tenant), "external_id": first.external_id})
    twice = ExternalMessageRow(**{**_fields(external()), "external_id": "<twice@x>"})
    twice_again = ExternalMessageRow(**{**_fields(external()), "external_id": "<twice@x>"})
    new = await stores.tickets.insert_external_messages([first, other_tenant, twice, twice_again])
    assert new == {first.id, other_tenant.id, twice.id}  # the first occurrence wins
    assert await stores.tickets.insert_external_messages([again]) == set()
    assert await stores.tickets.insert_external_messages([]) == set()


def _fields(row: ExternalMessageRow | TicketRow) -> dict[str, object]:
    return {name: getattr(row, name) for name in row.__struct_fields__}


async def test_a_thread_keeps_its_ticket_per_tenant(stores: Stores) -> None:
    first, theirs = thread(key="order:1"), thread("t2", key="order:1")
    assert await stores.tickets.upsert_tickets([first]) == {("AMAZON", "order:1"): first.id}
    assert await stores.tickets.upsert_tickets([theirs]) == {("AMAZON", "order:1"): theirs.id}
    again = await stores.tickets.upsert_tickets([thread(key="order:1", buyer_name="Jean")])
    assert again == {("AMAZON", "order:1"): first.id}
    assert await stores.tickets.upsert_tickets([]) == {}


async def test_a_created_ticket_opens_with_its_rows_deadline_a_reopened_one_keeps_its_own(
    stores: Stores,
) -> None:
    due = T0 + timedelta(hours=24)
    opening = {"response_state": "AWAITING_REPLY", "respond_by": due}
    first = TicketRow(**{**_fields(thread(key="order:1")), **opening})
    assert await stores.tickets.upsert_tickets([first]) == {("AMAZON", "order:1"): first.id}
    ticket = await stores.tickets.get_ticket("t1", first.id)
    assert ticket is not None
    assert (ticket.response_state, ticket.respond_by) == ("AWAITING_REPLY", due)
    later = {"response_state": "AWAITING_REPLY", "respond_by": due + timedelta(hours=5)}
    again = TicketRow(**{**_fields(thread(key="order:1")), **later})
    assert await stores.tickets.upsert_tickets([again]) == {("AMAZON", "order:1"): first.id}
    ticket = await stores.tickets.get_ticket("t1", first.id)
    assert ticket is not None
    assert (ticket.response_state, ticket.respond_by) == ("AWAITING_REPLY", due)


def _topics(
    topic: str | None, topic_source: str, language: str, language_source: str
) -> dict[str, object]:
    confidence = 0.9 if language_source == "detected" else None
    return {
        "topic": topic,
        "topic_source": topic_source,
        "language": language,
        "language_source": language_source,
        "language_confidence": confidence,
    }


async def test_a_reopened_ticket_takes_a_rows_topics_as_a_later_message_would(
    stores: Stores,
) -> None:
    async def upserted(**topics: object) -> tuple[object, ...]:
        row = TicketRow(**{**_fields(thread(key="order:9")), **topics})
        [ticket_id] = (await stores.tickets.upsert_tickets([row])).values()
        ticket = await stores.tickets.get_ticket("t1", ticket_id)
        assert ticket is not None
        return (ticket.topic, ticket.topic_source, ticket.language, ticket.language_source)

    assert await upserted(**_topics("PRODUCT_QUESTION", "detected", "und", "detected")) == (
        "PRODUCT_QUESTION",
        "detected",
        "und",
        "detected",
    )
    # A detected topic follows the conversation; an "und" language takes the next one.
    assert await upserted(**_topics("RETURN_OR_REFUND", "detected", "de", "detected")) == (
        "RETURN_OR_REFUND",
        "detected",
        "de",
        "detected",
    )
    # OTHER changes nothing, nor does a known language another detected one.
    assert await upserted(**_topics("OTHER", "detected", "en", "detected")) == (
        "RETURN_OR_REFUND",
        "detected",
        "de",
        "detected",
    )
    # A row without topics (no buyer's message) changes nothing.
    assert await upserted() == ("RETURN_OR_REFUND", "detected", "de", "detected")
    # The marketplace's word wins, and holds against a detected one.
    assert await upserted(**_topics("CANCELLATION", "marketplace", "fr", "marketplace")) == (
        "CANCELLATION",
        "marketplace",
        "fr",
        "marketplace",
    )
    assert await upserted(**_topics("INVOICE_REQUEST", "detected", "und", "detected")) == (
        "CANCELLATION",
        "marketplace",
        "fr",
        "marketplace",
    )
    listed = await stores.tickets.list_tickets(
        TicketQuery(tenant_id="t1", topic="CANCELLATION", language="fr")
    )
    assert [t.topic for t in listed] == ["CANCELLATION"]
    assert await stores.tickets.list_tickets(TicketQuery(tenant_id="t1", topic="OTHER")) == []


async def test_deadline_facts_give_each_message_in_order_with_its_delivery(stores: Stores) -> None:
    accepted = T0 - timedelta(minutes=5)
    ticket_id, (m1, m2) = await a_ticket(
        stores, "t1", external(accepted_at=accepted), external(received_at=T0 + timedelta(hours=1))
    )
    reply = new_reply(ticket_id, created_at=T0 + timedelta(hours=2), automatic=True)
    await stores.replies.insert_reply(reply)
    facts = await stores.tickets.deadline_facts([ticket_id, "no-such-ticket"])
    assert [(f.id, f.direction, f.awaits_reply, f.reply_status, f.automatic) for f in facts] == [
        (m1, "INBOUND", True, None, False),
        (m2, "INBOUND", True, None, False),
        (reply.ticket_message_id, "OUTBOUND", False, "QUEUED", True),
    ]
    assert [f.accepted_at for f in facts] == [accepted, None, None]
    assert {
        (f.ticket_id, f.marketplace, f.override_hours, f.no_response_needed_at) for f in facts
    } == {(ticket_id, "AMAZON", None, None)}
    await stores.replies.mark_sent(reply.ticket_message_id)
    last = (await stores.tickets.deadline_facts([ticket_id]))[-1]
    assert last.reply_status == "SENT" and last.sent_at is not None


async def test_stored_deadlines_say_which_tickets_await_the_seller(stores: Stores) -> None:
    waiting, _ = await a_ticket(stores)
    answered, _ = await a_ticket(stores)
    _, _ = await a_ticket(stores, "t2")
    await stores.tickets.save_deadlines(
        [
            DeadlineRow(ticket_id=waiting, response_state="AWAITING_REPLY", respond_by=T0),
            DeadlineRow(ticket_id=answered, response_state="ANSWERED", respond_by=None),
        ]
    )
    assert await stores.tickets.awaiting_ticket_ids("t1", "AMAZON") == [waiting]
    assert await stores.tickets.awaiting_ticket_ids("t1", "FNAC") == []


async def test_the_no_response_needed_mark_is_the_tenants_own(stores: Stores) -> None:
    ticket_id, _ = await a_ticket(stores)
    assert not await stores.tickets.mark_no_response_needed("t2", ticket_id, "agent", T0)
    assert await stores.tickets.mark_no_response_needed("t1", ticket_id, "agent", T0)
    (fact,) = await stores.tickets.deadline_facts([ticket_id])
    assert fact.no_response_needed_at == T0


async def test_a_response_window_is_per_tenant_and_marketplace(stores: Stores) -> None:
    await stores.tickets.save_response_window("t1", "FNAC", 48)
    await stores.tickets.save_response_window("t1", "CDISCOUNT", 12)
    await stores.tickets.save_response_window("t1", "FNAC", 72)
    await stores.tickets.save_response_window("t2", "FNAC", 6)
    assert await stores.tickets.response_windows("t1") == {"CDISCOUNT": 12, "FNAC": 72}
    assert list(await stores.tickets.response_windows("t1")) == ["CDISCOUNT", "FNAC"]
    assert await stores.tickets.response_windows("t3") == {}


async def test_report_facts_are_the_tickets_with_a_buyer_message_since(stores: Stores) -> None:
    old, _ = await a_ticket(stores, "t1", external(received_at=T0 - timedelta(days=40)))
    recent, _ = await a_ticket(
        stores, "t1", external(received_at=T0 - timedelta(days=40)), external(received_at=T0)
    )
    await a_ticket(stores, "t2", external(received_at=T0))
    facts = await stores.tickets.report_facts("t1", "AMAZON", T0 - timedelta(days=30))
    assert {f.ticket_id for f in facts} == {recent} and len(facts) == 2
    assert old not in {f.ticket_id for f in facts}
    assert await stores.tickets.report_facts("t1", "FNAC", T0 - timedelta(days=30)) == []


async def listed(stores: Stores, **query: object) -> list[str]:
    found = await stores.tickets.list_tickets(TicketQuery(tenant_id="t1", now=T0, **query))  # type: ignore[arg-type]
    return [t.id for t in found]


async def test_the_ticket_list_filters_sorts_and_pages_by_keyset(stores: Stores) -> None:
    ids = []
    for n, hours in enumerate((5, -1, None, 30)):  # deadlines from T0; None: answered
        row = thread(key=f"order:{n}")
        row = TicketRow(**{**_fields(row), "last_message_at": T0 + timedelta(minutes=n)})
        ticket_id = (await stores.tickets.upsert_tickets([row]))[("AMAZON", row.thread_key)]
        respond_by = None if hours is None else T0 + timedelta(hours=hours)
        state = "ANSWERED" if hours is None else "AWAITING_REPLY"
        await stores.tickets.save_deadlines(
            [DeadlineRow(ticket_id=ticket_id, response_state=state, respond_by=respond_by)]
        )
        ids.append(ticket_id)
    await a_ticket(stores, "t2")
    assert await listed(stores, limit=50) == ids[::-1]
    newest = T0 + timedelta(minutes=3)
    assert await listed(stores, limit=50, after_at=newest, after_id=ids[3]) == ids[2::-1]
    assert await listed(stores, limit=50, by_deadline=True) == [ids[1], ids[0], ids[3]]
    assert await listed(stores, limit=1, by_deadline=True) == [ids[1], ids[0]]  # limit + 1
    first = (
        await stores.tickets.list_tickets(
            TicketQuery(tenant_id="t1", now=T0, limit=1, by_deadline=True)
        )
    )[0]
    after = await listed(
        stores, limit=50, by_deadline=True, after_at=first.respond_by, after_id=first.id
    )
    assert after == [ids[0], ids[3]]
    assert await listed(stores, limit=50, response_state="AWAITING_REPLY", overdue=True) == [ids[1]]
    assert await listed(stores, limit=50, response_state="AWAITING_REPLY", overdue=False) == [
        ids[3],
        ids[0],
    ]
    assert await listed(stores, limit=50, response_state="ANSWERED") == [ids[2]]
    assert await listed(stores, limit=50, status="CLOSED") == []
    assert await listed(stores, limit=50, order_id="none") == []
    assert await listed(stores, limit=50, since=T0 + timedelta(minutes=2)) == [ids[3], ids[2]]
    assert await listed(stores, limit=50, order_id="171-1234567-1234567") == ids[::-1]


async def test_a_ticket_reads_with_its_messages_and_replies_delivery(stores: Stores) -> None:
    accepted = T0 - timedelta(seconds=3)
    first = ExternalMessageRow(**{**_fields(external(accepted_at=accepted)), "country": None})
    ticket_id, (m1, m2) = await a_ticket(stores, "t1", first, external())
    reply = new_reply(ticket_id)
    await stores.replies.insert_reply(reply)
    assert await stores.tickets.get_ticket("t2", ticket_id) is None
    found = await stores.tickets.get_ticket("t1", ticket_id)
    assert found is not None
    assert (found.id, found.country, found.status, found.response_state) == (
        ticket_id,
        "FR",  # the first buyer mail with a country
        "OPEN",
        "NO_RESPONSE_NEEDED",
    )
    messages = await stores.tickets.ticket_messages(ticket_id)
    assert [(m.id, m.direction, m.accepted_at) for m in messages] == [
        (m1, "INBOUND", accepted),
        (m2, "INBOUND", None),
        (reply.ticket_message_id, "OUTBOUND", None),
    ]
    assert (messages[2].body, messages[2].external_id, messages[2].sent_at) == (
        reply.text,
        reply.message_id,
        None,
    )
    assert (messages[0].subject, messages[0].parse_error, messages[0].attachments) == (
        "Inquiry",
        None,
        "[]",
    )
    sent_at = await stores.replies.mark_sent(reply.ticket_message_id)
    assert (await stores.tickets.ticket_messages(ticket_id))[2].sent_at == sent_at
    (delivery,) = (await stores.replies.deliveries("t1", ticket_id)).items()
    assert delivery[0] == reply.ticket_message_id
    assert (delivery[1].status, delivery[1].sent_at) == ("SENT", sent_at)
    assert await stores.replies.deliveries("t2", ticket_id) == {}


# --- replies ---------------------------------------------------------------------------


async def test_the_reply_sender_address_is_the_tenants_own(stores: Stores) -> None:
    assert await stores.replies.reply_from_address("t1") is None
    await stores.replies.save_reply_from_address("t1", "a@shop.example")
    await stores.replies.save_reply_from_address("t1", "b@shop.example")
    assert await stores.replies.reply_from_address("t1") == "b@shop.example"
    assert await stores.replies.reply_from_address("t2") is None


async def test_a_reply_context_is_the_buyers_latest_mail_on_the_tenants_ticket(
    stores: Stores,
) -> None:
    inbound = f"amazon.t1.fr.tokfr@{DOMAIN}"
    ticket_id, _ = await a_ticket(
        stores, "t1", external(external_id="<first@x>"), external(inbound_address=inbound)
    )
    assert await stores.replies.reply_context("t2", ticket_id) is None
    assert await stores.replies.reply_context("t1", "no-such-ticket") is None
    context = await stores.replies.reply_context("t1", ticket_id)
    assert context is not None
    assert (context.ticket_id, context.inbound_address, context.country) == (
        ticket_id,
        inbound,
        "FR",
    )
    assert context.buyer_message_id is not None and context.buyer_message_id != "<first@x>"


async def test_a_reply_context_without_message_id_or_address_falls_back(stores: Stores) -> None:
    await stores.projection.apply_tenant_state("t1", False, T0)
    enabled = [f"amazon.t1.fr.tok{c}@{DOMAIN}" for c in "ba"]
    await stores.projection.replace_addresses(
        "t1",
        [ProjectedAddress(e, "AMAZON", "FR", True) for e in enabled]
        + [ProjectedAddress(f"amazon.t1.fr.aaa@{DOMAIN}", "AMAZON", "FR", False)],
    )
    ticket_id, _ = await a_ticket(stores, "t1", external(external_id="sha256:abc"))
    context = await stores.replies.reply_context("t1", ticket_id)
    assert context is not None
    assert (context.buyer_message_id, context.inbound_address) == (None, min(enabled))


async def test_a_threads_standing_is_read_with_its_ticket_and_its_reply_context(
    stores: Stores,
) -> None:
    """The details and claim flag a shop's listing keeps on a ticket: what a connector's
    ``ReplyGate`` reads in the reply context before a reply is queued."""
    row = thread("t1", "order:standing")
    [ticket_id] = (await stores.tickets.upsert_tickets([row])).values()
    details = (
        ThreadDetail("status", "Statut", "Litige ouvert"),
        ThreadDetail("topic", "Sujet", "Colis"),
    )
    state = ThreadState(thread_key="order:standing", details=details, claim=True)
    shop = Shop("t1", "AMAZON")
    assert await stores.thread_states.save_thread_states(shop, [state]) == 1
    assert await stores.thread_states.save_thread_states(shop, [state]) == 0  # unchanged
    assert await stores.thread_states.save_thread_states(Shop("t2", "AMAZON"), [state]) == 0
    context = await stores.replies.reply_context("t1", ticket_id)
    assert context is not None
    assert context.standing == ThreadStanding(details=details, claim=True)
    found = await stores.tickets.get_ticket("t1", ticket_id)
    [listed] = await stores.tickets.list_tickets(TicketQuery(tenant_id="t1"))
    for ticket in (found, listed):
        assert ticket is not None and ticket.claim
        assert msgspec.json.decode(ticket.thread_details, type=tuple[ThreadDetail, ...]) == details
    cleared = ThreadState(thread_key="order:standing")
    assert await stores.thread_states.save_thread_states(shop, [cleared]) == 1
    context = await stores.replies.reply_context("t1", ticket_id)
    assert context is not None and context.standing == ThreadStanding()


async def test_nothing_queued_is_nothing_due(stores: Stores) -> None:
    """The sender sleeps its idle round when no reply is queued, not 50 ms (due now)."""
    assert await stores.replies.next_due_in() is None
    ticket_id, _ = await a_ticket(stores)
    reply = new_reply(ticket_id)
    await stores.replies.insert_reply(reply)
    assert await stores.replies.next_due_in() is not None
    await stores.replies.mark_sent(reply.ticket_message_id)
    assert await stores.replies.next_due_in() is None


async def test_due_replies_are_claimed_within_the_bytes_and_leased(stores: Stores) -> None:
    ticket_id, _ = await a_ticket(stores)
    now = datetime.now(UTC)
    replies = [
        new_reply(ticket_id, created_at=now - timedelta(seconds=30 - n), size=100) for n in range(3)
    ]
    for reply in replies:
        await stores.replies.insert_reply(reply)
    assert await stores.replies.next_due_in() == 0
    two = await stores.replies.claim_due(16, max_bytes=250, lease_seconds=60)
    assert [c.ticket_message_id for c in two] == [r.ticket_message_id for r in replies[:2]]
    assert {(c.attempts, c.mail, c.ticket_id) for c in two} == {(1, b"m" * 100, ticket_id)}
    one = await stores.replies.claim_due(16, max_bytes=1, lease_seconds=60)  # the first anyway
    assert [c.ticket_message_id for c in one] == [replies[2].ticket_message_id]
    assert await stores.replies.claim_due(16, max_bytes=10**9, lease_seconds=60) == []
    due_in = await stores.replies.next_due_in()
    assert due_in is not None and 55 < due_in <= 60


async def test_a_reply_leaves_queued_once(stores: Stores) -> None:
    ticket_id, _ = await a_ticket(stores)
    sent, failed, later = (new_reply(ticket_id) for _ in range(3))
    for reply in (sent, failed, later):
        await stores.replies.insert_reply(reply)
    sent_at = await stores.replies.mark_sent(sent.ticket_message_id)
    assert sent_at is not None and abs((sent_at - datetime.now(UTC)).total_seconds()) < 5
    assert await stores.replies.mark_sent(sent.ticket_message_id) is None
    assert not await stores.replies.mark_failed(sent.ticket_message_id, "550 no", "550")
    assert await stores.replies.mark_failed(failed.ticket_message_id, "550 no", "550")
    assert await stores.replies.mark_sent(failed.ticket_message_id) is None
    await stores.replies.retry_later(later.ticket_message_id, "421 busy", 300)
    await stores.replies.retry_later(sent.ticket_message_id, "421 busy", 0)  # no longer queued
    due_in = await stores.replies.next_due_in()
    assert due_in is not None and 290 < due_in <= 300
    assert await stores.replies.claim_due(16, 10**9, 60) == []


async def test_a_bounce_marks_a_queued_or_sent_reply_once(stores: Stores) -> None:
    ticket_id, _ = await a_ticket(stores)
    sent, failed = new_reply(ticket_id), new_reply(ticket_id)
    for reply in (sent, failed):
        await stores.replies.insert_reply(reply)
    await stores.replies.mark_sent(sent.ticket_message_id)
    await stores.replies.mark_failed(failed.ticket_message_id, "550", "550")
    (bounce,) = [external()]
    await stores.tickets.insert_external_messages([bounce])
    bounced = await stores.replies.mark_bounced(
        sent.ticket_message_id, "too big", "5.3.4", bounce.id
    )
    assert bounced is not None
    assert (bounced.ticket_id, bounced.message_id) == (ticket_id, sent.message_id)
    assert (
        await stores.replies.mark_bounced(sent.ticket_message_id, "again", None, bounce.id) is None
    )
    assert await stores.replies.mark_bounced(failed.ticket_message_id, "x", None, bounce.id) is None
    (fact,) = [
        f
        for f in await stores.tickets.deadline_facts([ticket_id])
        if f.id == sent.ticket_message_id
    ]
    assert fact.reply_status == "BOUNCED"


async def test_named_replies_are_the_tenants_in_the_order_named(stores: Stores) -> None:
    ticket_id, _ = await a_ticket(stores)
    other_ticket, _ = await a_ticket(stores, "t2")
    a, b, theirs = new_reply(ticket_id), new_reply(ticket_id), new_reply(other_ticket, "t2")
    for reply in (a, b, theirs):
        await stores.replies.insert_reply(reply)
    named = await stores.replies.named_replies(
        "t1", [b.message_id, "<unknown@x>", theirs.message_id, a.message_id]
    )
    assert [(n.ticket_message_id, n.envelope_sender) for n in named] == [
        (b.ticket_message_id, b.envelope_sender),
        (a.ticket_message_id, a.envelope_sender),
    ]
    assert await stores.replies.named_replies("t1", []) == []


# --- response alerts -------------------------------------------------------------------


async def awaiting(stores: Stores, tenant_id: str, respond_by: datetime | None) -> str:
    ticket_id, _ = await a_ticket(stores, tenant_id)
    state = "AWAITING_REPLY" if respond_by else "ANSWERED"
    await stores.tickets.save_deadlines(
        [DeadlineRow(ticket_id=ticket_id, response_state=state, respond_by=respond_by)]
    )
    return ticket_id


async def test_alerts_come_once_each_when_their_time_has_come(stores: Stores) -> None:
    now = T0
    await stores.alerts.save_lead_seconds("t2", 600)
    due = await awaiting(stores, "t1", now + timedelta(hours=1, minutes=59))  # within 2 h
    not_yet = await awaiting(stores, "t1", now + timedelta(hours=2, minutes=1))
    overdue = await awaiting(stores, "t1", now - timedelta(hours=1))
    long_overdue = await awaiting(stores, "t1", now - timedelta(hours=25))  # past the look-back
    short_lead = await awaiting(stores, "t2", now + timedelta(minutes=30))  # its lead: 10 min
    await awaiting(stores, "t1", None)
    claimed = await stores.alerts.claim_alerts(now, 10)
    assert [(a.ticket_id, a.kind, a.lead_seconds) for a in claimed] == [
        (overdue, "OVERDUE", 7200),
        (due, "DUE", 7200),
    ]
    assert claimed[1].tenant_id == "t1" and claimed[1].marketplace == "AMAZON"
    assert await stores.alerts.claim_alerts(now, 10) == []
    later = await stores.alerts.claim_alerts(now + timedelta(hours=2), 1)  # soonest first
    assert [(a.ticket_id, a.kind) for a in later] == [(short_lead, "OVERDUE")]
    rest = await stores.alerts.claim_alerts(now + timedelta(hours=2), 10)
    assert {(a.ticket_id, a.kind) for a in rest} == {(due, "OVERDUE"), (not_yet, "DUE")}
    assert long_overdue not in {a.ticket_id for a in [*claimed, *later, *rest]}


async def test_a_new_deadline_alerts_again(stores: Stores) -> None:
    ticket_id = await awaiting(stores, "t1", T0 - timedelta(minutes=1))
    assert len(await stores.alerts.claim_alerts(T0, 10)) == 1
    await stores.tickets.save_deadlines(
        [DeadlineRow(ticket_id=ticket_id, response_state="AWAITING_REPLY", respond_by=T0)]
    )
    (again,) = await stores.alerts.claim_alerts(T0, 10)
    assert (again.kind, again.respond_by) == ("OVERDUE", T0)


async def test_tickets_are_counted_by_state_and_time_to_deadline(stores: Stores) -> None:
    for hours in (-1, 0.5, 1.5, 5, 7, 30):
        await awaiting(stores, "t1", T0 + timedelta(hours=hours))
    await awaiting(stores, "t1", None)
    await a_ticket(stores, "t2")  # no deadline computed: NO_RESPONSE_NEEDED
    assert await stores.alerts.deadline_counts(T0) == {
        "OVERDUE": 1,
        "within_1h": 1,
        "within_2h": 1,
        "within_6h": 1,
        "later": 2,
        "ANSWERED": 1,
        "NO_RESPONSE_NEEDED": 1,
    }


async def test_a_lead_time_is_the_tenants_own(stores: Stores) -> None:
    assert await stores.alerts.lead_seconds("t1") == 7200
    await stores.alerts.save_lead_seconds("t1", 60)
    await stores.alerts.save_lead_seconds("t1", 900)
    assert (await stores.alerts.lead_seconds("t1"), await stores.alerts.lead_seconds("t2")) == (
        900,
        7200,
    )


# --- quarantine ------------------------------------------------------------------------


async def test_the_quarantine_keeps_folders_of_unknown_tenants_from_their_first_sighting(
    stores: Stores,
) -> None:
    await stores.projection.apply_tenant_state("known", False, T0)
    await stores.projection.apply_tenant_state("archived", True, T0)
    unknown = await stores.quarantine.unknown_tenants(["known", "archived", "x1", "x2"])
    assert unknown == {"x1", "x2"}
    assert await stores.quarantine.unknown_tenants([]) == set()
    await stores.quarantine.record_quarantine({"tenant-x1": 1, "tenant-x2": 4})
    (x1, x2) = await stores.quarantine.quarantined()
    await stores.quarantine.record_quarantine({"tenant-x2": 5})
    assert [(q.folder, q.messages, q.since) for q in await stores.quarantine.quarantined()] == [
        ("tenant-x2", 5, x2.since)
    ]
    assert x1.folder == "tenant-x1" and abs(x1.since - datetime.now(UTC)) < timedelta(seconds=5)
    await stores.quarantine.record_quarantine({})
    assert await stores.quarantine.quarantined() == []


# --- reading ---------------------------------------------------------------------------


async def test_a_cursor_is_the_tenants_last_one(stores: Stores) -> None:
    from keybuzz_poller.reading.ports import Cursor

    assert await stores.cursors.get_cursor("t1") is None
    await stores.cursors.save_cursor("t1", folder_for("t1"), Cursor(7, 3))
    await stores.cursors.save_cursor("t1", folder_for("t1"), Cursor(8, 1))
    assert await stores.cursors.get_cursor("t1") == Cursor(8, 1)
    assert await stores.cursors.get_cursor("t2") is None


@pytest.fixture(params=["memory", "dovecot"])
async def mailbox(
    request: pytest.FixtureRequest, dovecot: MailServer
) -> AsyncIterator[tuple[MailSource, Callable[[str, bytes], Awaitable[None]]]]:
    """A mailbox and how a mail reaches a tenant's folder in it."""
    if request.param == "memory":
        fake = InMemoryMailbox()

        async def into_fake(tenant_id: str, raw: bytes) -> None:
            fake.deliver(folder_for(tenant_id), raw)

        yield fake, into_fake
        return
    account = ImapAccount(dovecot.host, dovecot.imap_port, dovecot.user, dovecot.password)

    async def over_lmtp(tenant_id: str, raw: bytes) -> None:
        from email import message_from_bytes, policy

        await deliver_behind_the_mx(
            dovecot, tenant_id, message_from_bytes(raw, policy=policy.default)
        )  # type: ignore[arg-type]

    yield account, over_lmtp
    await account.close()


async def test_a_folder_is_read_after_its_cursor_in_batches(
    mailbox: tuple[MailSource, Callable[[str, bytes], Awaitable[None]]],
) -> None:
    source, deliver = mailbox
    tenant_id = f"t{uuid.uuid4().hex[:12]}"
    folder = folder_for(tenant_id)
    nothing = await source.fetch_new(folder, None, 2)
    assert (nothing.mails, nothing.cursor, nothing.more) == ([], None, False)
    for text in ("one", "two", "three"):
        await deliver(tenant_id, relay_mail(f"amazon.{tenant_id}.fr.tok@{DOMAIN}", text).as_bytes())
    first = await source.fetch_new(folder, None, 2)
    assert [m.uid for m in first.mails] == [1, 2] and first.more and not first.reread
    assert first.cursor is not None and first.cursor.last_uid == 2
    assert b"one" in first.mails[0].raw
    rest = await source.fetch_new(folder, first.cursor, 2)
    assert [m.uid for m in rest.mails] == [3] and not rest.more
    assert rest.cursor == type(first.cursor)(first.cursor.uid_validity, 3)
    again = await source.fetch_new(folder, rest.cursor, 2)
    assert (again.mails, again.cursor, again.more) == ([], rest.cursor, False)
    stale = type(first.cursor)(first.cursor.uid_validity + 1, 3)  # another generation's
    reread = await source.fetch_new(folder, stale, 10)
    assert reread.reread and [m.uid for m in reread.mails] == [1, 2, 3]
    assert (await source.tenant_folders())[folder] == 3
