"""Polling a marketplace shop, decided on in-memory ports: which message becomes or joins
which ticket, once; the incident and its notice; the cursor and the marks after the commit.
The fakes are held to the PostgreSQL adapters by ``test_marketplace_contract.py``; the flow
over Fnac's double, OpenBao, NATS and PostgreSQL is ``test_fnac_polling.py``'s."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from keybuzz_poller.shops.connection_ports import CONNECTED, DISCONNECTED, REAUTH_REQUIRED
from keybuzz_poller.shops.connections import key_refused, shop_connected, shop_disconnected
from keybuzz_poller.shops.domain import (
    CURSOR_OVERLAP,
    MARKETPLACE_SUPPORT,
    OFFER,
    ORDER,
    SELLER,
    SYSTEM,
    PageThreads,
    Shop,
    shop_of,
    thread_key,
)
from keybuzz_poller.shops.poll import poll_shop
from keybuzz_poller.shops.ports import (
    AttachmentUnavailable,
    MarketplaceUnavailable,
    ShopKeyRefused,
    ShopReading,
)
from keybuzz_shared.connectors.seam import InboxFile, InboxIncident, InboxMessage
from keybuzz_shared.events import (
    ConnectionConnected,
    ConnectionDisconnected,
    ConnectionReauthRequired,
    MessageReceived,
    MessageSent,
)
from poller_shop_fakes import T0, FakeShops, ShopReply, fake_shops
from poller_shop_fakes import shop_message as message

SHOP = Shop("t1", "FNAC")


def incident(
    incident_id: str = "INC1", order: str = "ORD1", minutes: int = 0, status: str = "OPENED"
) -> InboxIncident:
    at = T0 - timedelta(hours=1) + timedelta(minutes=minutes)
    return InboxIncident(
        incident_id=incident_id,
        order_id=order,
        status=status,
        types=("8",),
        waiting_for_seller=True,
        opened_by="client",
        message="Une réclamation a été ouverte sur cette commande",
        created_at=at,
        updated_at=at if status == "OPENED" else at + timedelta(days=1),
    )


async def connected(fake: FakeShops) -> None:
    event = ConnectionConnected(
        tenant_id=SHOP.tenant_id,
        marketplace=SHOP.marketplace,
        connection_id="c1",
        seller_id="shop-1",
        marketplace_ids=[],
        region="eu",
        occurred_at=T0 - timedelta(days=1),
    )
    await shop_connected(fake.connections, event)


def tickets(fake: FakeShops) -> dict[str, object]:
    return {key: t for (_, _, key), t in fake.store.tables.tickets.items()}


def received(fake: FakeShops) -> list[MessageReceived]:
    return [e for e in fake.unit_of_work.published if isinstance(e, MessageReceived)]


async def polled(fake: FakeShops, *messages: InboxMessage) -> None:
    fake.marketplace.messages_listed.extend(messages)
    await poll_shop(fake.ports, SHOP)


async def test_each_message_is_stored_once_and_threaded_by_its_order_or_offer() -> None:
    fake = fake_shops()
    await connected(fake)
    first = [message("m1", 1), message("m2", 2), message("m3", 3, order="OF9", kind=OFFER)]
    await polled(fake, *first)
    await poll_shop(fake.ports, SHOP)  # the overlap lists them again: nothing new
    assert sorted(tickets(fake)) == ["offer:OF9", "order:ORD1"]
    order = fake.store.tables.tickets[("t1", "FNAC", "order:ORD1")]
    assert order.message_count == 2 and order.buyer_name == "Jane D."
    assert [e.order_id for e in received(fake)] == ["ORD1", "ORD1", None]
    assert all(e.marketplace == "FNAC" for e in received(fake))
    assert len(fake.store.tables.messages) == 3


async def test_a_message_without_order_or_offer_is_a_thread_of_its_own() -> None:
    loose = message("m1", order="", kind=ORDER)
    assert thread_key(loose) == "message:m1"


async def test_the_sellers_message_completes_a_thread_but_never_opens_one() -> None:
    fake = fake_shops()
    await connected(fake)
    await polled(fake, message("s0", 0, sender=SELLER, order="ORD0"))
    assert tickets(fake) == {}  # stored, shown nowhere
    await polled(fake, message("m1", 1), message("s1", 2, sender=SELLER))
    order = fake.store.tables.tickets[("t1", "FNAC", "order:ORD1")]
    directions = [m.direction for m in fake.store.tables.ticket_messages]
    assert (order.message_count, directions) == (2, ["INBOUND", "OUTBOUND"])
    assert len(received(fake)) == 1  # the seller's own words are no new message
    assert not fake.store.tables.ticket_messages[1].awaits_reply


def our_reply(fake: FakeShops, text: str, minutes: int, status: str = "SENT") -> ShopReply:
    """Our reply on ORD1's ticket queued ``minutes`` past T0 - 1 h; IN_DOUBT: QUEUED and
    unconfirmed."""
    ticket = fake.store.tables.tickets[("t1", "FNAC", "order:ORD1")]
    at = message("x", minutes).created_at
    reply = ShopReply(ticket.id, text, at, "QUEUED" if status == "IN_DOUBT" else status)
    reply.unconfirmed = status == "IN_DOUBT"
    return fake.store.tables.add_reply(reply)


def sent_events(fake: FakeShops) -> list[MessageSent]:
    return [e for e in fake.unit_of_work.published if isinstance(e, MessageSent)]


async def test_our_reply_read_back_as_the_sellers_message_is_shown_once() -> None:
    fake = fake_shops()
    await connected(fake)
    await polled(fake, message("m1", 1))
    reply = our_reply(fake, "Parti ce matin.\nMerci de votre patience.", 2)
    echo = message("s1", 3, sender=SELLER, body="Parti ce matin. Merci de votre  patience.")
    fake.marketplace.messages_listed.append(echo)
    done = await poll_shop(fake.ports, SHOP)
    assert (done.stored, done.own_replies) == (1, 1)
    ticket = fake.store.tables.tickets[("t1", "FNAC", "order:ORD1")]
    assert [m.direction for m in fake.store.tables.ticket_messages] == ["INBOUND"]
    assert ticket.message_count == 1 and ticket.status == "OPEN"
    assert ("t1", "FNAC", "s1") in fake.store.tables.messages  # stored: read once
    reply = fake.store.tables.replies[reply.id]
    assert (reply.status, reply.marketplace_message_id) == ("SENT", "s1")
    assert sent_events(fake) == []  # the sender announced it when it sent it
    await poll_shop(fake.ports, SHOP)  # the overlap lists it again: nothing new
    assert len(fake.store.tables.ticket_messages) == 1


async def test_a_sellers_message_that_is_none_of_our_replies_joins_the_thread() -> None:
    fake = fake_shops()
    await connected(fake)
    await polled(fake, message("m1", 1), message("m2", 1, order="ORD2"))
    our_reply(fake, "Parti ce matin.", 10)
    our_reply(fake, "Refusé par Fnac.", 10, status="FAILED")
    our_reply(fake, "Pas encore tenté.", 10, status="QUEUED")
    await polled(
        fake,
        message("s1", 11, sender=SELLER, body="Écrit chez Fnac."),  # the back office
        message("s2", 7, sender=SELLER, body="Parti ce matin."),  # before it was queued
        message("s3", 11, sender=SELLER, body="Parti ce matin.", order="ORD2"),  # elsewhere
        message("s4", 11, sender=SELLER, body="Refusé par Fnac."),  # FAILED: never went
        message("s5", 11, sender=SELLER, body="Pas encore tenté."),  # never tried
    )
    outbound = [m for m in fake.store.tables.ticket_messages if m.direction == "OUTBOUND"]
    assert len(outbound) == 5
    assert all(r.marketplace_message_id is None for r in fake.store.tables.replies.values())
    # Dated within the clocks' skew before it was queued: ours.
    await polled(fake, message("s6", 9, sender=SELLER, body="Parti ce matin."))
    assert len(fake.store.tables.ticket_messages) == 7
    assert [r.marketplace_message_id for r in fake.store.tables.replies.values()][0] == "s6"


async def test_the_same_text_replied_twice_is_matched_once_each_oldest_first() -> None:
    fake = fake_shops()
    await connected(fake)
    await polled(fake, message("m1", 1))
    first, second = our_reply(fake, "Merci !", 2), our_reply(fake, "Merci !", 5)
    await polled(fake, message("s1", 3, sender=SELLER, body="Merci !"))
    matched = {r.id: r.marketplace_message_id for r in fake.store.tables.replies.values()}
    assert (matched[first.id], matched[second.id]) == ("s1", None)
    await polled(fake, message("s2", 6, sender=SELLER, body="Merci !"))
    await polled(fake, message("s3", 7, sender=SELLER, body="Merci !"))  # typed at Fnac
    assert fake.store.tables.replies[second.id].marketplace_message_id == "s2"
    assert [m.direction for m in fake.store.tables.ticket_messages] == ["INBOUND", "OUTBOUND"]


async def test_a_reply_in_doubt_read_back_is_sent_and_announced_once() -> None:
    fake = fake_shops()
    await connected(fake)
    await polled(fake, message("m1", 1))
    reply = our_reply(fake, "Remboursé.", 2, status="IN_DOUBT")
    await polled(fake, message("s1", 2, sender=SELLER, body="Remboursé."))
    found = fake.store.tables.replies[reply.id]
    assert (found.status, found.marketplace_message_id) == ("SENT", "s1")
    [sent] = sent_events(fake)
    assert (sent.tenant_id, sent.marketplace, sent.ticket_id, sent.order_id) == (
        "t1",
        "FNAC",
        reply.ticket_id,
        "ORD1",
    )
    assert (sent.ticket_message_id, sent.message_id) == (reply.id, reply.message_id)
    assert sent.sent_at == found.sent_at
    await poll_shop(fake.ports, SHOP)
    assert len(sent_events(fake)) == 1
    assert len(fake.store.tables.ticket_messages) == 1


async def test_a_reply_failed_in_doubt_found_by_the_poll_is_sent_shown_once_and_counted() -> None:
    fake = fake_shops()
    await connected(fake)
    await polled(fake, message("m1", 1))
    reply = our_reply(fake, "Annulé.", 2, status="IN_DOUBT")
    fake.store.tables.replies[reply.id].status = "FAILED"  # gave up, every answer lost
    await polled(fake, message("s1", 3, sender=SELLER, body="Annulé."))
    assert [m.direction for m in fake.store.tables.ticket_messages] == ["INBOUND"]
    found = fake.store.tables.replies[reply.id]
    assert (found.status, found.marketplace_message_id) == ("SENT", "s1")
    assert len(sent_events(fake)) == 1 and sum(fake.replies_sent) == 1


async def test_a_reply_that_left_the_candidates_meanwhile_is_not_matched() -> None:
    fake = fake_shops()
    await connected(fake)
    await polled(fake, message("m1", 1))
    reply = our_reply(fake, "Annulé.", 2, status="IN_DOUBT")
    read = fake.store.page_threads
    listed = fake.store._own_replies(reply.ticket_id)
    left = fake.store.tables.replies[reply.id]
    left.status, left.unconfirmed = "FAILED", False  # the marketplace refused it since

    async def stale(*asked: Any) -> PageThreads:
        found = await read(*asked)
        return msgspec.structs.replace(found, own_replies={reply.ticket_id: listed})

    fake.store.page_threads = stale  # type: ignore[method-assign]
    await polled(fake, message("s1", 3, sender=SELLER, body="Annulé."))
    assert [m.direction for m in fake.store.tables.ticket_messages] == ["INBOUND", "OUTBOUND"]
    assert fake.store.tables.replies[reply.id].status == "FAILED" and sent_events(fake) == []


async def test_system_messages_join_a_thread_without_waiting_for_an_answer() -> None:
    fake = fake_shops()
    await connected(fake)
    await polled(fake, message("y0", 0, sender=SYSTEM, order="ORD0"), message("m1", 1))
    await polled(fake, message("y1", 2, sender=SYSTEM))
    assert sorted(tickets(fake)) == ["order:ORD1"]
    assert [m.awaits_reply for m in fake.store.tables.ticket_messages] == [True, False]


async def test_customer_service_opens_a_ticket_and_its_sender_type_is_kept() -> None:
    fake = fake_shops()
    await connected(fake)
    await polled(fake, message("c1", 1, sender=MARKETPLACE_SUPPORT))
    stored = fake.store.tables.messages[("t1", "FNAC", "c1")]
    assert stored.row.sender_type == MARKETPLACE_SUPPORT
    assert fake.store.tables.ticket_messages[0].awaits_reply
    assert tickets(fake)["order:ORD1"].buyer_name is None  # type: ignore[attr-defined]


async def test_an_incident_opens_its_orders_ticket_and_its_notice_is_shown_once() -> None:
    fake = fake_shops()
    await connected(fake)
    fake.marketplace.incidents_listed.append(incident(minutes=5))
    notice = message("n1", 5, subject="Nouvelle réclamation", order="ORD1")
    await polled(fake, notice)
    ticket = fake.store.tables.tickets[("t1", "FNAC", "order:ORD1")]
    assert (ticket.message_count, ticket.incident_status, ticket.incident_types) == (
        1,
        "OPENED",
        ["8"],
    )
    assert ("t1", "FNAC", "n1") in fake.store.tables.messages  # stored, not shown twice
    assert len(received(fake)) == 1
    # Closed later: the flag follows, no new message.
    fake.marketplace.incidents_listed[:] = [incident(minutes=5, status="CLOSED")]
    await poll_shop(fake.ports, SHOP)
    assert (ticket.message_count, ticket.incident_status) == (1, "CLOSED")


async def test_an_incident_read_after_its_notice_only_flags_the_ticket() -> None:
    fake = fake_shops()
    await connected(fake)
    await polled(fake, message("n1", 5, subject="Nouvelle réclamation"))
    fake.marketplace.incidents_listed.append(incident(minutes=6))
    await poll_shop(fake.ports, SHOP)
    ticket = fake.store.tables.tickets[("t1", "FNAC", "order:ORD1")]
    assert (ticket.message_count, ticket.incident_status) == (1, "OPENED")
    assert len(received(fake)) == 1


async def test_an_incident_flags_the_ticket_its_order_already_has() -> None:
    fake = fake_shops()
    await connected(fake)
    await polled(fake, message("m1", 1))
    fake.marketplace.incidents_listed.append(incident(minutes=30))
    await poll_shop(fake.ports, SHOP)
    ticket = fake.store.tables.tickets[("t1", "FNAC", "order:ORD1")]
    # Its own message joins the ticket (no notice was there), the flag is set.
    assert (ticket.message_count, ticket.incident_status) == (2, "OPENED")


async def test_a_buyer_message_titled_like_a_notice_but_at_another_time_is_shown() -> None:
    fake = fake_shops()
    await connected(fake)
    fake.marketplace.incidents_listed.append(incident(minutes=0))
    await polled(fake, message("n1", 40, subject="Nouvelle réclamation"))
    assert fake.store.tables.tickets[("t1", "FNAC", "order:ORD1")].message_count == 2


async def test_the_cursor_moves_only_with_the_commit_of_its_page() -> None:
    fake = fake_shops()
    await connected(fake)
    fake.marketplace.messages_listed.extend([message("m1", 1), message("m2", 2), message("m3", 3)])
    fake.marketplace.fail["page"] = MarketplaceUnavailable("Fnac answered 503")
    fake.marketplace.page_size = 2
    # The first page fails before any is stored: nothing stored, the cursor stays.
    with pytest.raises(MarketplaceUnavailable):
        await poll_shop(fake.ports, SHOP)
    assert (await fake.store.started(SHOP)).cursor.messages_since is None
    await poll_shop(fake.ports, SHOP)
    cursor = (await fake.store.started(SHOP)).cursor
    assert cursor.messages_since == message("m3", 3).created_at
    await poll_shop(fake.ports, SHOP)
    assert fake.marketplace.listed_since[-1] == cursor.messages_since - CURSOR_OVERLAP
    assert len(received(fake)) == 3


async def test_a_poll_finding_nothing_new_commits_nothing_and_marks_nothing() -> None:
    fake = fake_shops()
    await connected(fake)
    await polled(fake, message("m1", 1), message("m2", 2))
    commits, marked = fake.unit_of_work.commits, list(fake.marketplace.marked)
    cursor = (await fake.store.started(SHOP)).cursor
    # Read again within the cursor's overlap (no incident: each one read again is compared
    # with the stored one in a unit of its own).
    await poll_shop(fake.ports, SHOP)
    assert fake.unit_of_work.commits == commits
    assert fake.marketplace.marked == marked and (await fake.store.started(SHOP)).cursor == cursor
    # Known messages past the cursor (here, a cursor set back) still move it.
    earlier = message("m1", 1).created_at - timedelta(hours=1)
    await fake.store.save_cursor(SHOP, msgspec.structs.replace(cursor, messages_since=earlier))
    await poll_shop(fake.ports, SHOP)
    assert fake.unit_of_work.commits == commits + 1
    assert (await fake.store.started(SHOP)).cursor == cursor


async def test_a_poll_opens_the_shop_once_before_reading_and_stops_if_it_cannot() -> None:
    fake = fake_shops()
    await connected(fake)
    await polled(fake, message("m1", 1))
    assert fake.marketplace.opened == [SHOP]
    fake.marketplace.messages_listed.append(message("m2", 2))
    fake.marketplace.fail["open"] = ShopKeyRefused("the shop's key is refused")
    with pytest.raises(ShopKeyRefused):
        await poll_shop(fake.ports, SHOP)
    assert fake.marketplace.opened == [SHOP]
    assert "m2" not in str(tickets(fake))


async def test_a_failing_store_rolls_the_page_and_its_cursor_back() -> None:
    fake = fake_shops()
    await connected(fake)
    fake.marketplace.messages_listed.extend([message("m1", 1), message("m2", 2)])

    async def broken(*args: object) -> str:
        raise RuntimeError("database gone")

    real = fake.store.thread_message
    fake.store.thread_message = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await poll_shop(fake.ports, SHOP)
    fake.store.thread_message = real  # type: ignore[method-assign]
    assert fake.store.tables.messages == {}
    assert (await fake.store.started(SHOP)).cursor.messages_since is None
    assert fake.marketplace.marked == []  # nothing marked read that is not stored
    await poll_shop(fake.ports, SHOP)
    assert len(fake.store.tables.messages) == 2


async def test_messages_are_marked_read_after_their_commit_and_a_failed_mark_is_retried() -> None:
    fake = fake_shops()
    await connected(fake)
    fake.marketplace.fail["mark_read"] = MarketplaceUnavailable("Fnac answered 503")
    fake.marketplace.page_size = 10
    seller = message("s1", 3, sender=SELLER)
    read = message("r1", 4, unread=False)
    await polled(fake, message("m1", 1), message("c1", 2, sender=MARKETPLACE_SUPPORT), seller, read)
    assert fake.marketplace.marked == []  # the mark failed: stored, still pending
    assert len(fake.store.tables.messages) == 4
    await poll_shop(fake.ports, SHOP)
    # Only the unread messages of the buyer and of customer service, once each.
    assert fake.marketplace.marked == ["m1", "c1"]
    await poll_shop(fake.ports, SHOP)
    assert fake.marketplace.marked == ["m1", "c1"]


async def test_with_marking_off_nothing_is_marked_read() -> None:
    fake = fake_shops(mark_as_read=False)
    await connected(fake)
    await polled(fake, message("m1", 1))
    assert fake.marketplace.marked == [] and await fake.store.pending_marks(SHOP, 10) == []


async def test_a_shop_is_read_with_its_own_marketplaces_settings_not_anothers() -> None:
    fake = fake_shops()
    own = ShopReading(mark_as_read=False, first_poll=timedelta(days=2), max_attachment_bytes=10)
    other = ShopReading(mark_as_read=True, first_poll=timedelta(days=30), max_attachment_bytes=99)
    fake.ports = replace(fake.ports, reading={"FNAC": own, "ANOTHER": other}.__getitem__)
    await connected(fake)
    fake.marketplace.files = {"https://f/b": b"x" * 11}
    await polled(
        fake,
        message(
            "m1", 1, files=[InboxFile(name="b.jpg", url="https://f/b", content_type="image/jpeg")]
        ),
    )
    assert fake.marketplace.listed_since == [T0 - timedelta(days=2)]  # its first poll's reach
    assert fake.marketplace.marked == [] and await fake.store.pending_marks(SHOP, 10) == []
    [stored] = fake.store.tables.messages.values()
    assert [a.skipped for a in stored.attachments] == ["larger than 10 bytes"]


async def test_linked_files_are_downloaded_up_to_the_cap() -> None:
    fake = fake_shops(max_attachment_bytes=10)
    await connected(fake)
    fake.marketplace.files = {"https://f/a": b"small", "https://f/b": b"x" * 11}
    files = [
        InboxFile(name="a.pdf", url="https://f/a", content_type="application/pdf"),
        InboxFile(name="b.jpg", url="https://f/b", content_type="image/jpeg"),
    ]
    await polled(fake, message("m1", 1, files=files))
    stored = fake.store.tables.messages[("t1", "FNAC", "m1")].attachments
    assert [(a.filename, a.size, a.content, a.skipped) for a in stored] == [
        ("a.pdf", 5, b"small", None),
        ("b.jpg", None, None, "larger than 10 bytes"),
    ]


async def test_a_file_not_served_or_failing_is_named_and_its_message_stored() -> None:
    fake = fake_shops()
    await connected(fake)
    fake.marketplace.files = {
        "https://f/gone": AttachmentUnavailable("gone.pdf: HTTP 404"),
        "https://f/down": MarketplaceUnavailable("FNAC file server answered 503"),
    }
    files = [
        InboxFile(name="gone.pdf", url="https://f/gone", content_type="application/pdf"),
        InboxFile(name="d", url="https://f/down", content_type=""),
    ]
    await polled(fake, message("m1", 1, files=files))
    stored = fake.store.tables.messages[("t1", "FNAC", "m1")].attachments
    assert [a.skipped for a in stored] == [
        "not served: gone.pdf: HTTP 404",
        "download failed: FNAC file server answered 503",
    ]
    assert len(received(fake)) == 1 and (await fake.store.started(SHOP)).cursor.messages_since


async def test_the_first_poll_reads_back_thirty_days() -> None:
    fake = fake_shops()
    await connected(fake)
    await polled(fake)
    assert fake.marketplace.listed_since == [T0 - timedelta(days=30)]


# --- the shop's connection -------------------------------------------------------------


async def test_connected_then_disconnected_then_a_stale_event_changes_nothing() -> None:
    fake = fake_shops()
    await connected(fake)
    assert fake.woken == [True]
    shops = fake.connections.connections
    assert [s.connection for s in await shops.statuses("t1")] == [CONNECTED]
    at = T0 - timedelta(hours=1)
    gone = ConnectionDisconnected(tenant_id="t1", marketplace="FNAC", occurred_at=at)
    await shop_disconnected(fake.connections, gone)
    assert [s.connection for s in await shops.statuses("t1")] == [DISCONNECTED]
    stale = ConnectionConnected(
        tenant_id="t1",
        marketplace="FNAC",
        connection_id="c1",
        seller_id="shop-1",
        marketplace_ids=[],
        region="eu",
        occurred_at=at - timedelta(minutes=1),
    )
    await shop_connected(fake.connections, stale)
    assert [s.connection for s in await shops.statuses("t1")] == [DISCONNECTED]


async def test_a_refused_key_requires_reauthorization_and_says_so_once() -> None:
    fake = fake_shops(clock=lambda: T0)
    await connected(fake)
    await key_refused(fake.connections, SHOP, "Fnac refused the shop's key")
    await key_refused(fake.connections, SHOP, "Fnac refused the shop's key")
    statuses = await fake.connections.connections.statuses("t1")
    assert [s.connection for s in statuses] == [REAUTH_REQUIRED]
    events = fake.connection_units.published
    assert len(events) == 1 and isinstance(events[0], ConnectionReauthRequired)
    assert (events[0].marketplace, events[0].seller_id) == ("FNAC", "shop-1")


def test_a_shop_key_names_its_marketplace_and_tenant() -> None:
    assert shop_of(SHOP.key) == SHOP
    with pytest.raises(ValueError):
        shop_of("no-marketplace")


@pytest.mark.parametrize("received_in_error", [False, True])
async def test_a_connection_received_in_error_takes_its_tickets_away(
    received_in_error: bool,
) -> None:
    fake = fake_shops()
    await connected(fake)
    await polled(fake, message("m1", 1), message("m2", 2, order="ORD2"))
    assert len(tickets(fake)) == 2
    gone = ConnectionDisconnected(
        tenant_id="t1",
        marketplace="FNAC",
        occurred_at=T0 - timedelta(hours=1),
        received_in_error=received_in_error,
    )
    await shop_disconnected(fake.connections, gone)
    [status] = await fake.connections.connections.statuses("t1")
    assert status.connection == DISCONNECTED
    # A seller's own disconnect keeps its history; a takeover's tickets go, messages too.
    assert len(tickets(fake)) == (0 if received_in_error else 2)
    assert len(fake.store.tables.messages) == (0 if received_in_error else 2)


async def test_each_page_recomputes_the_deadlines_of_the_tickets_it_touched_once() -> None:
    fake = fake_shops()
    await connected(fake)
    fake.marketplace.incidents_listed.append(incident(minutes=5, order="ORD2"))
    # Pages of two: ORD1 twice and ORD3, then ORD2 and ORD3.
    await polled(
        fake,
        message("m1", 1),
        message("m2", 2),
        message("m3", 3, order="ORD3"),
        message("m4", 4, order="ORD2"),
        message("m5", 6, order="ORD3"),
    )
    await poll_shop(fake.ports, SHOP)  # the incidents' overlap read again, no message page
    ids = {key: t.id for (_, _, key), t in fake.store.tables.tickets.items()}
    assert fake.store.tables.deadline_refreshes == [
        [ids["order:ORD2"]],  # the incidents' page
        [ids["order:ORD1"]],
        sorted([ids["order:ORD3"], ids["order:ORD2"]]),
        [ids["order:ORD3"]],
        [ids["order:ORD2"]],  # the incident read again
    ]


async def test_a_buyers_message_gives_its_ticket_the_marketplaces_topics_else_its_words() -> None:
    fake = fake_shops()
    await connected(fake)
    await polled(
        fake,
        message(
            "m1",
            1,
            body="Hallo, das Display ist gebrochen.",
            language="de",
            ticket_subject="DAMAGED_OR_WRONG_ITEM",
        ),
        message("m2", 2, order="ORD2", body="Bonjour, pouvez-vous m'envoyer la facture ?"),
        message("m3", 3, order="ORD3", sender=MARKETPLACE_SUPPORT, body="Merci de patienter."),
    )
    given = fake.store.tables.tickets[("t1", "FNAC", "order:ORD1")].topics
    assert given is not None
    assert (given.language, given.language_source) == ("de", "marketplace")
    assert (given.subject, given.subject_source) == ("DAMAGED_OR_WRONG_ITEM", "marketplace")
    read = fake.store.tables.tickets[("t1", "FNAC", "order:ORD2")].topics
    assert read is not None
    assert (read.language, read.subject, read.subject_source) == (
        "fr",
        "INVOICE_REQUEST",
        "detected",
    )
    # The marketplace staff's words are not the buyer's: no topics read from them.
    assert fake.store.tables.tickets[("t1", "FNAC", "order:ORD3")].topics is None
    told = {e.order_id: (e.language, e.topic, e.topic_source) for e in received(fake)}
    assert told["ORD1"] == ("de", "DAMAGED_OR_WRONG_ITEM", "marketplace")
    assert told["ORD2"] == ("fr", "INVOICE_REQUEST", "detected")
    assert told["ORD3"] == (None, None, None)
