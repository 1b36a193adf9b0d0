"""One contract, two adapters: every scenario runs on the in-memory fakes of marketplace
shops the unit tier uses (``poller_shop_fakes.py``: ``InMemoryShopStore``,
``InMemoryShops``) and on the PostgreSQL adapters (``shops/store.py``'s
``PostgresShopStore``, ``polling/shops_store.py``'s ``PostgresShops``), so a fake that
answers differently from the SQL fails here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec
import pytest
from keybuzz_connector_fnac.session import NOTICE_SUBJECT
from keybuzz_devstack.testing import service_migrations
from keybuzz_poller.polling.shops_store import PostgresShops
from keybuzz_poller.replies.ports import NewReply
from keybuzz_poller.replies.store import PostgresReplies
from keybuzz_poller.service import DEFINITION
from keybuzz_poller.shops.connection_ports import (
    CONNECTED,
    DISCONNECTED,
    REAUTH_REQUIRED,
    ShopConnections,
)
from keybuzz_poller.shops.domain import (
    SELLER,
    OwnReply,
    PageThreads,
    Shop,
    ShopCursor,
    ThreadState,
    thread_key,
)
from keybuzz_poller.shops.ports import ShopStore
from keybuzz_poller.shops.store import PostgresShopStore
from keybuzz_poller.tickets.ports import Attachment, ExternalMessageRow
from keybuzz_poller.tickets.received import external_row, ticket_message
from keybuzz_shared.connectors.seam import InboxIncident, InboxMessage, ThreadDetail
from keybuzz_shared.db import create_pool
from poller_shop_fakes import T0, InMemoryShops, InMemoryShopStore, ShopReply, ShopTables
from poller_shop_fakes import shop_message as message
from test_poller_mail_contract import new_reply

SHOP = Shop("t1", "FNAC")
DARTY = Shop("t1", "DARTY")
OTHER = Shop("t2", "FNAC")
MINUTE = timedelta(minutes=1)
AT = message("m0").created_at  # the messages' minute 0


# Our reply on a ticket: (ticket id, text, queued at, state) -> its ticket message id. The
# state: QUEUED, IN_DOUBT (QUEUED, an attempt may have sent it), SENT, FAILED.
QueueReply = Callable[[str, str, datetime, str], Awaitable[str]]


@dataclass
class Adapters:
    store: ShopStore
    shops: ShopConnections
    reply: QueueReply
    reply_status: Callable[[str], Awaitable[str]]


@pytest.fixture(params=["memory", "postgres"])
async def adapters(
    request: pytest.FixtureRequest, make_database: Callable[..., Awaitable[str]]
) -> AsyncIterator[Adapters]:
    if request.param == "memory":
        store = InMemoryShopStore(ShopTables())

        async def reply(ticket_id: str, text: str, at: datetime, state: str) -> str:
            status = "QUEUED" if state == "IN_DOUBT" else state
            added = ShopReply(ticket_id, text, at, status, unconfirmed=state == "IN_DOUBT")
            return store.tables.add_reply(added).id

        async def status(ticket_message_id: str) -> str:
            return store.tables.replies[ticket_message_id].status

        yield Adapters(store, InMemoryShops(lambda: store), reply, status)
        return
    pool = await create_pool(await make_database("shops", service_migrations(DEFINITION)))
    replies = PostgresReplies(pool)

    async def queued(ticket_id: str, text: str, at: datetime, state: str) -> str:
        new = api_reply(ticket_id, text, at)
        await replies.insert_reply(new)
        if state == "SENT":
            assert await replies.mark_sent(new.ticket_message_id) is not None
        elif state == "IN_DOUBT":
            await replies.retry_later(new.ticket_message_id, "answer lost", 0, unconfirmed=True)
        elif state == "FAILED":
            assert await replies.mark_failed(new.ticket_message_id, "ERR_202", "ERR_202")
        return new.ticket_message_id

    async def row_status(ticket_message_id: str) -> str:
        return str(
            await pool.fetchval(
                "SELECT status FROM poller_replies WHERE ticket_message_id = $1",
                ticket_message_id,
            )
        )

    yield Adapters(PostgresShopStore(pool), PostgresShops(pool), queued, row_status)
    await pool.close()


def api_reply(ticket_id: str, text: str, at: datetime) -> NewReply:
    """A reply through Fnac's API on the ticket, queued at ``at``."""
    return msgspec.structs.replace(
        new_reply(ticket_id, SHOP.tenant_id, created_at=at),
        marketplace=SHOP.marketplace,
        order_id="ORD1",
        envelope_sender="",
        recipient="BUYER",
        text=text,
    )


def incident(status: str = "OPENED", updated: int = 0, minutes: int = 0) -> InboxIncident:
    return InboxIncident(
        incident_id="INC1",
        order_id="ORD1",
        status=status,
        types=("8",),
        waiting_for_seller=True,
        opened_by="client",
        message="Une réclamation a été ouverte",
        created_at=AT + minutes * MINUTE,
        updated_at=AT + updated * MINUTE,
    )


async def connected(adapters: Adapters, *shops: Shop) -> None:
    for shop in shops or (SHOP,):
        assert await adapters.shops.connect(shop, f"seller-{shop.key}", T0)


def row(
    shop: Shop,
    found: InboxMessage,
    mark: bool = False,
    at: datetime = T0,
    attachments: Sequence[Attachment] = (),
) -> ExternalMessageRow:
    return external_row(
        found,
        tenant_id=shop.tenant_id,
        marketplace=shop.marketplace,
        received_at=at,
        attachments=attachments,
        mark_read=mark,
    )


async def stored(
    adapters: Adapters, shop: Shop, found: InboxMessage, mark: bool = False
) -> ExternalMessageRow:
    added = row(shop, found, mark)
    assert await adapters.store.add_message(added, [])
    return added


async def connection_of(adapters: Adapters, tenant_id: str) -> list[tuple[str, str, str]]:
    return [
        (s.marketplace, s.seller_id, s.connection) for s in await adapters.shops.statuses(tenant_id)
    ]


# --- connection state --------------------------------------------------------------------


async def test_a_connection_state_applies_only_when_newer(adapters: Adapters) -> None:
    shops = adapters.shops
    assert await shops.connect(SHOP, "s1", T0)
    assert not await shops.connect(SHOP, "s1", T0)  # redelivered: as old
    assert await shops.disconnect(SHOP, DISCONNECTED, T0) is None
    assert await shops.disconnect(SHOP, REAUTH_REQUIRED, T0 + MINUTE) == "s1"
    assert await connection_of(adapters, "t1") == [("FNAC", "s1", REAUTH_REQUIRED)]
    assert not await shops.connect(SHOP, "s2", T0 + MINUTE / 2)  # older than the refusal
    assert await shops.connect(SHOP, "s2", T0 + 2 * MINUTE)  # connected again
    assert await shops.disconnect(DARTY, DISCONNECTED, T0) is None  # never connected
    assert await connection_of(adapters, "t1") == [("FNAC", "s2", CONNECTED)]


async def test_statuses_are_the_tenants_shops_by_marketplace(adapters: Adapters) -> None:
    await connected(adapters, SHOP, DARTY, OTHER)
    assert await adapters.shops.disconnect(DARTY, DISCONNECTED, T0 + MINUTE)
    assert await connection_of(adapters, "t1") == [
        ("DARTY", f"seller-{DARTY.key}", DISCONNECTED),
        ("FNAC", f"seller-{SHOP.key}", CONNECTED),
    ]
    assert await connection_of(adapters, "nobody") == []


async def test_polled_shops_are_a_marketplaces_connected_shops(adapters: Adapters) -> None:
    shops = adapters.shops
    assert await shops.polled_shops("FNAC") == 0
    await connected(adapters, SHOP, DARTY, OTHER)
    assert (await shops.polled_shops("FNAC"), await shops.polled_shops("DARTY")) == (2, 1)
    assert await shops.disconnect(OTHER, REAUTH_REQUIRED, T0 + MINUTE)
    assert await shops.disconnect(DARTY, DISCONNECTED, T0 + MINUTE)
    assert (await shops.polled_shops("FNAC"), await shops.polled_shops("DARTY")) == (1, 0)
    assert await shops.connect(OTHER, "s2", T0 + 2 * MINUTE)
    assert await shops.polled_shops("FNAC") == 2


# --- cursors -----------------------------------------------------------------------------


async def test_a_cursor_is_saved_per_shop_and_only_for_a_shop_that_exists(
    adapters: Adapters,
) -> None:
    store = adapters.store
    assert (await store.started(SHOP)).cursor == ShopCursor()
    await store.save_cursor(SHOP, ShopCursor(messages_since=T0))  # no shop yet: nothing
    assert (await store.started(SHOP)).cursor == ShopCursor()
    await connected(adapters, SHOP, DARTY)
    moved = ShopCursor(messages_since=T0, incidents_since=T0 + MINUTE)
    await store.save_cursor(SHOP, moved)
    assert (await store.started(SHOP)).cursor == moved
    assert (await store.started(DARTY)).cursor == ShopCursor()


async def test_a_cursor_advances_never_backwards_and_leaves_the_listing_not_given(
    adapters: Adapters,
) -> None:
    store = adapters.store
    await connected(adapters, SHOP)
    await store.save_cursor(SHOP, ShopCursor(messages_since=T0 + MINUTE))
    await store.advance_cursor(SHOP, ShopCursor(messages_since=T0))  # an older page
    assert (await store.started(SHOP)).cursor == ShopCursor(messages_since=T0 + MINUTE)
    await store.advance_cursor(SHOP, ShopCursor(incidents_since=T0))
    assert (await store.started(SHOP)).cursor == ShopCursor(
        messages_since=T0 + MINUTE, incidents_since=T0
    )
    await store.save_cursor(SHOP, ShopCursor(incidents_since=T0))  # a takeover's reset
    await store.advance_cursor(SHOP, ShopCursor(incidents_since=T0 + MINUTE))
    assert (await store.started(SHOP)).cursor == ShopCursor(incidents_since=T0 + MINUTE)


# --- messages ----------------------------------------------------------------------------


async def test_a_message_is_stored_once_per_shop_by_its_marketplace_id(
    adapters: Adapters,
) -> None:
    await connected(adapters, SHOP, DARTY)
    store = adapters.store
    assert await store.add_message(row(SHOP, message("m1")), [])
    assert not await store.add_message(row(SHOP, message("m1", 5), mark=True), [])
    assert await store.known_messages(SHOP, ["m1", "m2"]) == {"m1"}
    assert await store.known_messages(DARTY, ["m1"]) == set()  # another shop's id space
    assert await store.add_message(row(DARTY, message("m1")), [])
    files = [
        Attachment(filename="a.pdf", content_type="application/pdf", size=3, content=b"abc"),
        Attachment(filename="b.mp4", content_type="video/mp4", size=None, skipped="too large"),
    ]
    assert await store.add_message(row(SHOP, message("m2"), attachments=files), files)


async def test_a_thread_has_one_ticket_reopened_and_its_messages_join_it(
    adapters: Adapters,
) -> None:
    await connected(adapters, SHOP, OTHER)
    store = adapters.store
    first = message("m1")
    key = thread_key(first)
    assert await store.ticket_of(SHOP, key) is None
    ticket = await store.open_ticket(key, row(SHOP, first))
    assert await store.open_ticket(key, row(SHOP, message("m2", 1), at=T0 + MINUTE)) == ticket
    assert await store.ticket_of(SHOP, key) == ticket
    assert await store.ticket_of(OTHER, key) is None  # another tenant's order of that id
    assert await store.ticket_of(SHOP, thread_key(message("m3", order="ORD2"))) is None
    await store.thread_message(ticket_message(await stored(adapters, SHOP, first), ticket))
    seller = await stored(adapters, SHOP, message("s1", 2, sender=SELLER))
    await store.thread_message(
        ticket_message(seller, ticket, direction="OUTBOUND", awaits_reply=False)
    )


async def test_an_incident_is_near_its_notice_and_saved_when_new_or_changed(
    adapters: Adapters,
) -> None:
    await connected(adapters)
    store = adapters.store
    notice = message("n1", 2, subject=f"{NOTICE_SUBJECT.capitalize()} : colis")
    ticket = await store.open_ticket(thread_key(notice), row(SHOP, notice))
    assert not await store.has_notice(ticket, AT, NOTICE_SUBJECT)
    await store.thread_message(ticket_message(await stored(adapters, SHOP, notice), ticket))
    assert await store.has_notice(ticket, AT, NOTICE_SUBJECT)  # 2 minutes apart: its notice
    assert not await store.has_notice(ticket, AT, "Votre colis")  # another subject
    assert not await store.has_notice(ticket, AT + 10 * MINUTE, NOTICE_SUBJECT)
    assert await near(store, SHOP, ("ORD1", AT)) is None
    assert await store.save_incident(SHOP, incident(), ticket)
    assert not await store.save_incident(SHOP, incident(), ticket)  # seen as it is
    assert await store.save_incident(SHOP, incident("CLOSED", updated=60), ticket)
    assert await near(store, SHOP, ("ORD1", AT + 4 * MINUTE)) == AT
    assert await near(store, SHOP, ("ORD1", AT + 6 * MINUTE)) is None
    assert await near(store, SHOP, ("ORD2", AT)) is None
    assert await near(store, OTHER, ("ORD1", AT)) is None


async def near(store: ShopStore, shop: Shop, asked: tuple[str, datetime]) -> datetime | None:
    """The incident ``page_threads`` finds near one (order id, time) of a page."""
    return (await store.page_threads(shop, [], [asked], [])).incidents_near[0]


async def test_a_page_is_stored_threaded_and_looked_up_at_once(adapters: Adapters) -> None:
    """The page's writes and reads as one at a time gives them, in the page's order."""
    await connected(adapters)
    store = adapters.store
    first, again, other = message("p1"), message("p1", 1), message("p2", 2, order="ORD2")
    files = [Attachment(filename="a.pdf", content_type="application/pdf", size=3, content=b"abc")]
    rows = [row(SHOP, first, attachments=files), row(SHOP, again), row(SHOP, other)]
    added = await store.add_messages(rows, {rows[0].id: files})
    assert added == {rows[0].id, rows[2].id}  # the first of an id wins, as listed
    assert await store.add_messages(rows, {}) == set()  # the page read again
    keys = [thread_key(first), thread_key(other)]
    assert await store.page_threads(SHOP, keys, [], keys) == PageThreads(
        tickets={}, incidents_near=[], own_replies={}
    )
    opened = await store.open_tickets({keys[0]: [(rows[0], None)], keys[1]: [(rows[2], None)]})
    assert (await store.page_threads(SHOP, [*keys, "order:ORD3"], [], [])).tickets == opened
    assert (await store.page_threads(OTHER, keys, [], keys)).tickets == {}
    assert len(set(opened.values())) == 2
    await store.thread_messages(
        [ticket_message(rows[0], opened[keys[0]]), ticket_message(rows[2], opened[keys[1]])]
    )
    assert await store.save_incident(SHOP, incident(), opened[keys[0]])
    reply = await adapters.reply(opened[keys[1]], "Parti.", T0, "SENT")
    await adapters.reply(opened[keys[0]], "Unanswered thread's.", T0, "SENT")
    opening = [("ORD1", AT + 6 * MINUTE), ("ORD1", AT + MINUTE), ("ORD2", AT)]
    # Read at once: the tickets, the incidents near in the order asked, and the own
    # replies of the answered thread's ticket only.
    read = await store.page_threads(SHOP, [*keys, "order:ORD3"], opening, [keys[1], "order:ORD3"])
    assert read.tickets == opened
    assert read.incidents_near == [None, AT, None]
    own = read.own_replies
    assert [(t, [r.ticket_message_id for r in found]) for t, found in own.items()] == [
        (opened[keys[1]], [reply])
    ]


async def test_marks_wait_oldest_first_until_done(adapters: Adapters) -> None:
    await connected(adapters, SHOP, DARTY)
    for name, minutes, mark in (("m3", 3, True), ("m1", 1, True), ("m2", 2, False)):
        await stored(adapters, SHOP, message(name, minutes), mark)
    await stored(adapters, DARTY, message("d1"), True)
    store = adapters.store
    assert await store.pending_marks(SHOP, 10) == ["m1", "m3"]
    assert await store.pending_marks(SHOP, 1) == ["m1"]
    await store.marks_done(SHOP, ["m1", "d1"])  # d1 is Darty's: untouched here
    assert await store.pending_marks(SHOP, 10) == ["m3"]
    assert await store.pending_marks(DARTY, 10) == ["d1"]


# --- our replies read back ---------------------------------------------------------------


async def test_our_replies_the_marketplace_may_list_back_are_matched_once(
    adapters: Adapters,
) -> None:
    await connected(adapters)
    store = adapters.store
    first = message("m1")
    ticket = await store.open_ticket(thread_key(first), row(SHOP, first))
    other = await store.open_ticket("order:ORD2", row(SHOP, message("m2", order="ORD2")))
    in_doubt = await adapters.reply(ticket, "Parti ce matin.", T0 + MINUTE, "IN_DOUBT")
    sent = await adapters.reply(ticket, "Parti hier.", T0, "SENT")
    await adapters.reply(ticket, "Pas encore parti.", T0, "QUEUED")  # never tried: not out
    await adapters.reply(ticket, "Refusé.", T0, "FAILED")
    await adapters.reply(other, "Autre commande.", T0, "SENT")
    own = (await own_replies(store, [thread_key(first)]))[ticket]
    assert [(r.ticket_message_id, r.text, r.queued_at) for r in own] == [
        (sent, "Parti hier.", T0),
        (in_doubt, "Parti ce matin.", T0 + MINUTE),
    ]
    assert all(isinstance(r, OwnReply) and r.order_id == "ORD1" for r in own)
    assert own[0].message_id.startswith(f"<reply-{sent}@")

    confirmed = await store.match_reply(in_doubt, "fnac-2")
    assert confirmed is not None and confirmed.confirmed
    assert await adapters.reply_status(in_doubt) == "SENT"
    assert await store.match_reply(in_doubt, "fnac-3") is None  # matched once
    already = await store.match_reply(sent, "fnac-1")
    assert already is not None and not already.confirmed
    assert ticket not in await own_replies(store, [thread_key(first), "order:ORD2"])
    assert [r.text for r in (await own_replies(store, ["order:ORD2"]))[other]] == [
        "Autre commande."
    ]


async def own_replies(store: ShopStore, answered: list[str]) -> dict[str, list[OwnReply]]:
    """The own replies ``page_threads`` reads for a page's ``answered`` threads."""
    return (await store.page_threads(SHOP, answered, [], answered)).own_replies


async def test_a_threads_state_is_written_to_its_ticket_only_when_it_changes(
    adapters: Adapters,
) -> None:
    store, first = adapters.store, message("m1")
    topic = (ThreadDetail("topic", "Typologie", "Produit non reçu"),)
    state = ThreadState(thread_key=thread_key(first), details=topic, claim=True)
    assert await store.save_thread_states(SHOP, [state]) == 0  # no ticket: left alone
    await store.open_ticket(thread_key(first), row(SHOP, first))
    assert await store.save_thread_states(SHOP, [state]) == 1
    assert await store.save_thread_states(SHOP, [state]) == 0  # unchanged: not written
    assert await store.save_thread_states(OTHER, [state]) == 0  # another tenant's thread
    assert await store.save_thread_states(SHOP, [msgspec.structs.replace(state, claim=False)]) == 1
    assert await store.save_thread_states(SHOP, [msgspec.structs.replace(state, details=())]) == 1
    # A stored page's states with its cursor (one statement): the same writes, the cursor
    # moved past the page and never backwards.
    await connected(adapters)
    await store.save_cursor(SHOP, ShopCursor(messages_since=T0 + MINUTE))
    assert await store.save_page_states(SHOP, [state], ShopCursor(messages_since=T0)) == 1
    assert (await store.started(SHOP)).cursor == ShopCursor(messages_since=T0 + MINUTE)
    later = ShopCursor(messages_since=T0 + 2 * MINUTE)
    assert await store.save_page_states(SHOP, [state], later) == 0  # unchanged: not written
    assert await store.save_page_states(SHOP, [], later) == 0
    assert (await store.started(SHOP)).cursor == later
