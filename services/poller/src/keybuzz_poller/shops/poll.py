"""Polling one shop: its incidents, then its messages, into tickets; then marked read.

Each page the marketplace returns is stored in one unit of work with the cursor moved past
it, so the cursor only moves past what is stored, and a page read again (a crash before the
commit, the cursor's overlap) adds nothing: a message is stored once per shop by its
marketplace id. A page of messages is written as a page, set-based (``_take_messages``:
its statements do not grow with its size), each message's place decided first in turn, as
one at a time would decide it; one whose ids cannot be stored is left out of it. A page's
tickets get their deadlines recomputed once each, when the page's unit of work ends (its ``Intake``, ``tickets/intake.py``), not at each message: a thread of
thousands of messages costs what a short one does per message. Messages are marked read at the marketplace only after their commit; a
mark that fails stays pending and the next poll tries it again.

What joins which ticket (``domain.py``): a buyer's or customer service's message opens or
re-opens the ticket of its thread (an order's, an offer's or a discussion's) and publishes
``message.received``; the
seller's own messages and the marketplace's notifications only complete a thread that has
a ticket. A seller's message that is one of our replies read back (``is_own_reply``) is
recorded on the reply instead, and confirms SENT one still in doubt. An incident opens or
flags the ticket of its order; its notice message (under the subject its connector names,
``claim_subject``) is shown once, whichever of the two is read first. Every message a
page lists, stored before or not, gives its thread's ticket the thread's state (details,
claim flag): a connector lists a thread's newest message again when only its state
changed; a ticket is written only when its state differs. Where the marketplace keeps its
own clock on threads (its response rule's ``marketplace_clock``), the thread's clock is
taken so too, and a ticket whose clock changed gets its deadline recomputed in the same
unit of work.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime

import msgspec
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.connectors.seam import (
    InboxFile,
    InboxIncident,
    InboxMessage,
    ShopApi,
    shop_api_of,
)
from keybuzz_shared.events import MessageSent
from keybuzz_shared.spent_calls import counted
from keybuzz_shared.text import storable
from keybuzz_shared.ticket_topics import Topics, classify_each

from keybuzz_poller.shops.bounds import HARD_BOUND, Bound, spent_in_day
from keybuzz_poller.shops.calls import Reserved, calls_asked, reserved, within_allowance
from keybuzz_poller.shops.domain import (
    BUYER,
    MARKED_READ,
    OPENS_TICKET,
    SELLER,
    ListedPage,
    OwnReply,
    SeenPages,
    Shop,
    ShopCursor,
    ShopPoll,
    ShopStart,
    ThreadClock,
    incident_message,
    is_notice,
    is_own_reply,
    latest,
    read_from,
    storable_ids,
    thread_clocks,
    thread_key,
    thread_states,
)
from keybuzz_poller.shops.ports import (
    AttachmentRefused,
    AttachmentTooLarge,
    AttachmentUnavailable,
    MarketplaceUnavailable,
    ShopPorts,
    ShopReading,
    ShopUnit,
)
from keybuzz_poller.tickets import deadlines, topics
from keybuzz_poller.tickets.intake import intake_of
from keybuzz_poller.tickets.ports import Attachment, ExternalMessageRow
from keybuzz_poller.tickets.received import external_row, ticket_message

log = logging.getLogger(__name__)

OCTET_STREAM = "application/octet-stream"
MARK_BATCH = 100  # messages marked read per request


async def poll_shop(
    ports: ShopPorts, shop: Shop, start: ShopStart | None = None, *, settles: bool = True
) -> ShopPoll:
    """Everything new of the shop (the caller holds its lease), within the poll's bound of
    calls (``bounds.py``): its calls counted as they are made, said in the poll's ``calls``
    and, for a marketplace with an application call budget, in the shop's day; with a
    daily allowance, reserved at its start (``calls.py``). The day's count is set right by
    the poll (``settles``) or left to the statement that ends it (``ShopPorts.unsettled``),
    as is the record of the marks read it made (``ShopPorts.unrecorded_marks``)."""
    poll = ShopPoll()
    reading = ports.reading(shop.marketplace)
    held: Reserved | None = None
    with counted(HARD_BOUND * reading.max_calls) as spent:
        try:
            asked = None
            if start is None:  # else read by ``ready`` (its claim's, reserving its calls)
                asked = await calls_asked(ports, shop)
                start = await ports.store.started(shop, asked)
            held = reserved(asked, start)
            seen = ports.seen_pages.pop(shop.key, None)
            bound = Bound(spent, reading.max_calls)
            listed = await _poll(ports, shop, poll, bound, start, seen, held, settles)
            if listed is not None:  # what the poll's end leaves in the shop's row (its count)
                fetched = start.fetched + poll.fetched
                ports.seen_pages[shop.key] = msgspec.structs.replace(listed, fetched=fetched)
        finally:
            poll.calls, poll.stopped = spent.made, list(spent.stopped)
            await spent_in_day(ports, shop, reading, spent.made, held, settles)
    return poll


async def _poll(
    ports: ShopPorts,
    shop: Shop,
    poll: ShopPoll,
    bound: Bound,
    start: ShopStart,
    seen: SeenPages | None,
    held: Reserved | None,
    settles: bool,
) -> SeenPages | None:
    """The poll; the pages of messages and incidents it listed (their ``fetched`` left to
    the caller)."""
    reading = ports.reading(shop.marketplace)
    await ports.source.open(shop)  # its credentials, read once for the whole poll
    if reading.mark_as_read and start.marks_pending:
        await _mark_pending(ports, shop, poll)  # left by an earlier poll's failed mark
    # The last poll's pages, if this process made it and nothing else polled the shop since.
    seen = seen if seen is not None and seen.still(start) else None
    pages: list[ListedPage] = []
    incident_pages: list[tuple[InboxIncident, ...]] = []
    cursor = started = start.cursor
    now = ports.clock()
    since = read_from(cursor.incidents_since, now, reading.first_poll, reading.overlap)
    listed = ports.source.incidents(shop, since)
    async for incidents in bound.pages(within_allowance(ports, shop, listed, held)):
        poll.fetched += len(incidents)
        if not incidents:  # most polls: nothing to store, the cursor stays
            continue
        incident_pages.append(tuple(incidents))
        if (
            seen is not None
            and seen.incidents_repeated(len(incident_pages) - 1, incident_pages[-1])
            and not _moves(cursor.incidents_since, [i.updated_at for i in incidents])
        ):
            continue  # an open incident listed again as the last poll stored it: no statement
        async with ports.unit_of_work() as unit:
            touched = intake_of(unit, unit.store.tickets)
            for incident in incidents:
                touched.touch([await _take_incident(unit, shop, incident, now, poll)])
            past = _past(incidents=[i.updated_at for i in incidents])
            await unit.store.advance_cursor(shop, past)
            cursor = _ahead(cursor, past)
    cursor = await bound.cursor_kept(ports, shop, started, cursor, "incidents_since")
    since = read_from(cursor.messages_since, now, reading.first_poll, reading.overlap)
    clocked = _marketplace_clock(shop)
    started = cursor
    listed_messages = _Listing(ports.source.messages(shop, since))
    async for messages in bound.pages(within_allowance(ports, shop, listed_messages.each(), held)):
        poll.fetched += len(messages)
        if not messages:
            continue
        listed_ids = [m.message_id for m in messages]
        states = thread_states(messages)  # from every message listed, stored or not
        clocks = thread_clocks(messages) if clocked else []
        page = ListedPage(message_ids=tuple(listed_ids), states=tuple(states), clocks=tuple(clocks))
        pages.append(page)
        if seen is not None and seen.repeated(len(pages) - 1, page):
            # Most polls: the cursor's overlap listed again as the last poll left it, every
            # message stored and every thread's state written then: no statement.
            if not _moves(cursor.messages_since, [m.created_at for m in messages]):
                poll.duplicates += len(messages)
                continue
        known = await _known(ports, shop, messages, cursor, seen)
        fresh = [m for m in messages if m.message_id not in known]
        poll.duplicates += len(messages) - len(fresh)
        fresh = _storable(shop, fresh, poll)  # before its files are fetched for nothing
        if not fresh and not _moves(cursor.messages_since, [m.created_at for m in messages]):
            # The cursor's overlap read again, or threads whose state changed listed again:
            # nothing to store or mark, only the states that differ to write (with the
            # deadlines of the tickets whose clock changed, in one unit of work).
            if not clocks:
                poll.thread_states += await ports.store.save_thread_states(shop, states)
                continue
            async with ports.unit_of_work() as unit:
                poll.thread_states += await unit.store.save_thread_states(shop, states)
                intake_of(unit, unit.store.tickets).touch(
                    await _clocks_saved(unit, shop, clocks, poll)
                )
            continue
        # Downloaded before the transaction: no network wait while it holds locks.
        files = {m.message_id: await _attachments(ports, shop, m) for m in fresh}
        confirmed = poll.replies_confirmed
        marked = [m.message_id for m in fresh if _to_mark(reading, m)]
        async with ports.unit_of_work() as unit:
            touched = intake_of(unit, unit.store.tickets)
            touched.touch(
                await _take_messages(
                    unit, shop, fresh, files, set(marked), ports.clock(), poll, ports
                )
            )
            past = _past(messages=[m.created_at for m in messages])
            poll.thread_states += await unit.store.save_page_states(shop, states, past)
            touched.touch(await _clocks_saved(unit, shop, clocks, poll))
            cursor = _ahead(cursor, past)
        ports.replies_sent(poll.replies_confirmed - confirmed)
        await _mark_read(ports, shop, poll, marked, recorded=settles)
    cursor = await bound.cursor_kept(ports, shop, started, cursor, "messages_since")
    if not pages and not incident_pages:
        return None
    return SeenPages(
        cursor=cursor,
        fetched=0,
        pages=tuple(pages),
        incidents=tuple(incident_pages),
        whole=listed_messages.read_whole,
    )


class _Listing:
    """A listing's pages, and whether they were read to its end (not cut by the poll's
    bound, nor left for a later poll by the day's allowance)."""

    def __init__(self, pages: AsyncIterator[list[InboxMessage]]) -> None:
        self.pages = pages
        self.read_whole = False

    async def each(self) -> AsyncIterator[list[InboxMessage]]:
        async for page in self.pages:
            yield page
        self.read_whole = True


async def _known(
    ports: ShopPorts,
    shop: Shop,
    messages: list[InboxMessage],
    cursor: ShopCursor,
    seen: SeenPages | None,
) -> set[str]:
    """Those of a page's messages stored before. A page's messages are stored with the
    cursor moved past them, in one unit of work: where the shop's row is as this process's
    last poll left it, its listing read to its end (``SeenPages.whole``: everything stored
    before was at or before its cursor or listed by it), a message it listed is stored and
    one past the cursor it did not list is new. Only the others are asked (none for a page
    of new messages: a round trip fewer); with no such poll, all are. A message found stored
    all the same is not stored twice: the page's insert skips it (``add_messages``)."""
    if seen is None or not seen.whole:
        return await ports.store.known_messages(shop, [m.message_id for m in messages])
    listed, since = seen.listed(), cursor.messages_since
    # One whose ids cannot be stored was listed, not stored: left to ``_storable``.
    known = {m.message_id for m in messages if m.message_id in listed and storable_ids(m)}
    asked = [
        m.message_id
        for m in messages
        if m.message_id not in listed and (since is None or m.created_at <= since)
    ]
    if asked:
        known |= await ports.store.known_messages(shop, asked)
    return known


def _marketplace_clock(shop: Shop) -> bool:
    """Whether the shop's marketplace keeps its own clock on threads (its response rule)."""
    rule = deadlines.own_rule(shop.marketplace)
    return rule is not None and rule.marketplace_clock


async def _clocks_saved(
    unit: ShopUnit, shop: Shop, clocks: list[ThreadClock], poll: ShopPoll
) -> list[str]:
    """The threads' clocks on their tickets; the tickets whose clock changed."""
    changed = await unit.store.save_thread_clocks(shop, clocks) if clocks else []
    poll.thread_clocks += len(changed)
    return changed


def _past(
    messages: list[datetime] | None = None, incidents: list[datetime] | None = None
) -> ShopCursor:
    """Where a page takes its own listing's cursor, moved in the page's unit of work without
    reading it again (the other listing's left None, as it is: a takeover's reset of it is
    not written over)."""
    return ShopCursor(
        messages_since=max(messages) if messages else None,
        incidents_since=max(incidents) if incidents else None,
    )


def _ahead(cursor: ShopCursor, past: ShopCursor) -> ShopCursor:
    """``cursor``, as the poll's start read it, past the page (never backwards)."""
    return ShopCursor(
        messages_since=latest(cursor.messages_since, past.messages_since),
        incidents_since=latest(cursor.incidents_since, past.incidents_since),
    )


def _moves(current: datetime | None, times: list[datetime]) -> bool:
    """Whether a page whose items are at ``times`` takes the cursor past where it is (its
    own unit of work: a poll holds its shop's lease, so nothing else moves the cursor
    meanwhile)."""
    return latest(current, *times) != current


class _Placed(msgspec.Struct, frozen=True):
    """A stored message's place on its thread's ticket, decided before the page's writes."""

    thread_key: str
    external: ExternalMessageRow
    direction: str = "INBOUND"
    awaits_reply: bool = True
    read: Topics | None = None  # a buyer's message's topics
    opens: bool = False  # a buyer's or customer service's: its ``message.received``


async def _take_messages(
    unit: ShopUnit,
    shop: Shop,
    messages: list[InboxMessage],
    files: dict[str, list[Attachment]],
    marked: set[str],
    now: datetime,
    poll: ShopPoll,
    ports: ShopPorts,
) -> list[str]:
    """Stores a page's new messages and threads them, each in turn as ``_place`` decides,
    with as many statements whatever the page's size; the tickets whose thread changed.
    ``marked``: the ids of those to mark read once stored (``_to_mark``)."""
    store = unit.store
    externals = [
        external_row(
            m,
            tenant_id=shop.tenant_id,
            marketplace=shop.marketplace,
            received_at=now,
            attachments=files[m.message_id],
            mark_read=m.message_id in marked,
        )
        for m in messages
    ]
    added = await store.add_messages(
        externals, {e.id: files[m.message_id] for m, e in zip(messages, externals, strict=True)}
    )
    # Each with its thread's key as stored (``_stored_key``), computed once.
    stored = [
        (m, e, _stored_key(m)) for m, e in zip(messages, externals, strict=True) if e.id in added
    ]
    # Not added: stored by a concurrent poll since ``known_messages``, or listed twice.
    poll.duplicates += len(externals) - len(stored)
    poll.stored += len(stored)
    if not stored:
        return []
    found = await store.page_threads(
        shop,
        sorted({key for _, _, key in stored}),
        [(m.thread.id, m.created_at) for m, _, _ in stored if m.sender_type in OPENS_TICKET],
        sorted({key for m, _, key in stored if m.sender_type == SELLER}),
    )
    tickets, near, own = found.tickets, iter(found.incidents_near), found.own_replies
    reads = _topics_of([(m, e) for m, e, _ in stored if m.sender_type in OPENS_TICKET])
    threads: dict[str, list[tuple[ExternalMessageRow, Topics | None]]] = {}
    placed: list[_Placed] = []
    touched: list[str] = []
    for message, external, key in stored:
        if message.sender_type in OPENS_TICKET:
            incident_at = next(near)
            if incident_at is not None and is_notice(
                message, incident_at, _inbox(shop).claim_subject
            ):
                poll.notices += 1  # the incident put its own message in the ticket
                continue
            read = reads.get(external.id)
            threads.setdefault(key, []).append((external, read))
            placed.append(_Placed(key, external, read=read, opens=True))
            poll.tickets_opened_or_joined += 1
            continue
        ticket_id = tickets.get(key)
        if ticket_id is None and key not in threads:  # no ticket, nor one opened above
            poll.without_ticket += 1
            continue
        if (
            message.sender_type == SELLER
            and ticket_id is not None
            and await _own_reply(unit, shop, ticket_id, message, poll, own.get(ticket_id, []))
        ):
            poll.own_replies += 1  # stored for dedupe; the ticket shows the reply once
            touched.append(ticket_id)  # a reply in doubt confirmed SENT answers from now on
            continue
        direction = "OUTBOUND" if message.sender_type == SELLER else "INBOUND"
        placed.append(_Placed(key, external, direction=direction, awaits_reply=False))
    ids = {**tickets, **(await store.open_tickets(threads) if threads else {})}
    rows = [
        ticket_message(
            p.external, ids[p.thread_key], direction=p.direction, awaits_reply=p.awaits_reply
        )
        for p in placed
    ]
    await store.thread_messages(rows)
    intake = intake_of(unit, store.tickets)
    for p, row in zip(placed, rows, strict=True):
        if p.opens:
            intake.received(p.external, row, read=p.read)
    return touched + [row.ticket_id for row in rows]


def _stored_key(message: InboxMessage) -> str:
    """``message``'s thread key as the tickets table keeps it: two keys the database keeps
    as one (a NUL, a broken character) are one thread of the page, not two rows of one
    ticket in one upsert, which PostgreSQL refuses."""
    return storable(thread_key(message))


def _storable(shop: Shop, messages: list[InboxMessage], poll: ShopPoll) -> list[InboxMessage]:
    """The page's messages whose ids fit their indexes: one that does not would fail the
    page's every write (``storable_ids``), so it is left out, counted and logged."""
    kept = [m for m in messages if storable_ids(m)]
    if len(kept) < len(messages):
        poll.unstorable += len(messages) - len(kept)
        log.warning(
            "messages left out: their ids are too long to store",
            extra={
                "tenant_id": shop.tenant_id,
                "marketplace": shop.marketplace,
                "count": len(messages) - len(kept),
            },
        )
    return kept


def _topics_of(messages: list[tuple[InboxMessage, ExternalMessageRow]]) -> dict[str, Topics]:
    """The buyer's messages' topics by stored id, read together, the marketplace's word first
    (``InboxMessage.language``, ``ticket_subject``); none for its staff's (their words are
    not the buyer's)."""
    buyers = [(m, e) for m, e in messages if m.sender_type == BUYER]
    read = classify_each(
        [topics.to_classify(e, language=m.language, subject=m.ticket_subject) for m, e in buyers]
    )
    return {e.id: found for (_, e), found in zip(buyers, read, strict=True)}


async def _own_reply(
    unit: ShopUnit,
    shop: Shop,
    ticket_id: str,
    message: InboxMessage,
    poll: ShopPoll,
    replies: list[OwnReply],
) -> bool:
    """Whether the seller's message is one of our replies on the ticket, read back: then
    it is recorded on the reply, and a reply still in doubt (QUEUED, or FAILED after
    attempts whose answers were lost) is SENT with its ``message.sent`` (the sender,
    finding it SENT, neither sends nor announces it again). ``replies``: the ticket's own
    replies ``page_threads`` read for the page; one tried is taken out, matched here or
    found matched or failed meanwhile, as a read after it would leave it out."""
    longest = connector_for(shop.marketplace).limits.max_text_length
    for reply in list(replies):
        body, written_at = message.body, message.created_at
        if not is_own_reply(reply.text, reply.queued_at, body, written_at, longest):
            continue
        replies.remove(reply)
        matched = await unit.store.match_reply(reply.ticket_message_id, message.message_id)
        if matched is None:
            continue
        if matched.confirmed:
            poll.replies_confirmed += 1
            unit.emit(
                MessageSent(
                    tenant_id=shop.tenant_id,
                    marketplace=shop.marketplace,
                    ticket_id=ticket_id,
                    ticket_message_id=reply.ticket_message_id,
                    message_id=reply.message_id,
                    order_id=reply.order_id,
                    sent_at=matched.sent_at,
                )
            )
            log.info(
                "reply in doubt found on the marketplace's thread: sent",
                extra={"ticket_message_id": reply.ticket_message_id},
            )
        return True
    return False


async def _buyer_message(
    unit: ShopUnit, external: ExternalMessageRow, ticket_id: str, read: Topics | None
) -> None:
    message = ticket_message(external, ticket_id)
    await unit.store.thread_message(message)
    intake_of(unit, unit.store.tickets).received(external, message, read=read)


async def _take_incident(
    unit: ShopUnit, shop: Shop, incident: InboxIncident, now: datetime, poll: ShopPoll
) -> str:
    """A new incident: its ticket gets its message unless the notice is there already; a
    changed one: its ticket's flag follows. Its ticket's id."""
    store = unit.store
    inbox = _inbox(shop)
    message = incident_message(
        incident, inbox.claim_opener(incident.opened_by), inbox.claim_subject
    )
    key = thread_key(message)
    ticket_id = await store.ticket_of(shop, key)
    if ticket_id is None or not await store.has_notice(
        ticket_id, incident.created_at, inbox.claim_subject
    ):
        external = external_row(
            message, tenant_id=shop.tenant_id, marketplace=shop.marketplace, received_at=now
        )
        if await store.add_message(external, []):  # a new incident
            read = _topics_of([(message, external)]).get(external.id)
            ticket_id = await store.open_ticket(key, external, read)
            await _buyer_message(unit, external, ticket_id, read)
    if ticket_id is None:  # its message is stored but its ticket is not: cannot happen
        raise RuntimeError(f"incident {incident.incident_id} has no ticket")
    if await store.save_incident(shop, incident, ticket_id):
        poll.incidents += 1
    return ticket_id


def _inbox(shop: Shop) -> ShopApi:
    """The shop's connector: it knows how its marketplace notifies a claim."""
    return shop_api_of(connector_for(shop.marketplace))


async def _attachments(ports: ShopPorts, shop: Shop, message: InboxMessage) -> list[Attachment]:
    found: list[Attachment] = []
    max_bytes = ports.reading(shop.marketplace).max_attachment_bytes
    for link in message.files:
        try:
            content = await ports.source.download(shop, link, max_bytes)
        except AttachmentTooLarge:
            found.append(_file(link, skipped=f"larger than {max_bytes} bytes"))
        except AttachmentRefused as exc:
            found.append(_file(link, skipped=f"refused: {exc}"))
        except AttachmentUnavailable as exc:
            found.append(_file(link, skipped=f"not served: {exc}"))
        except MarketplaceUnavailable as exc:  # the message is stored all the same
            found.append(_file(link, skipped=f"download failed: {exc}"))
        else:
            found.append(_file(link, content=content))
    return found


def _file(link: InboxFile, content: bytes | None = None, skipped: str | None = None) -> Attachment:
    return Attachment(
        filename=link.name,
        content_type=link.content_type or OCTET_STREAM,
        size=None if content is None else len(content),
        content=content,
        skipped=skipped,
    )


async def _mark_pending(ports: ShopPorts, shop: Shop, poll: ShopPoll) -> None:
    """Marks read at the marketplace what an earlier poll stored and could not mark."""
    while pending := await ports.store.pending_marks(shop, MARK_BATCH):
        # Recorded at once: the next batch is read from what is still pending.
        if not await _marked(ports, shop, poll, pending) or len(pending) < MARK_BATCH:
            return


async def _mark_read(
    ports: ShopPorts, shop: Shop, poll: ShopPoll, message_ids: list[str], *, recorded: bool
) -> None:
    """Marks a page's stored messages read, known without asking the database which; their
    record left to the poll's end statement unless ``recorded`` here."""
    for at in range(0, len(message_ids), MARK_BATCH):
        batch = message_ids[at : at + MARK_BATCH]
        if not await _marked(ports, shop, poll, batch, recorded=recorded):
            return


def _to_mark(reading: ShopReading, message: InboxMessage) -> bool:
    """Whether a new message is marked read at the marketplace once stored."""
    return reading.mark_as_read and message.unread and message.sender_type in MARKED_READ


async def _marked(
    ports: ShopPorts, shop: Shop, poll: ShopPoll, message_ids: list[str], *, recorded: bool = True
) -> bool:
    """Marks read; a failure leaves them pending, for the next poll to try again. Their
    record (``marks_done``), a statement of its own, or carried by the poll's end
    (``ShopPorts.unrecorded_marks``): until it, they stay pending, and a poll after a lost
    end marks them again (a message marked read twice stays read)."""
    try:
        await ports.source.mark_read(shop, message_ids)
    except Exception as exc:  # the messages are stored: the next poll tries again
        log.warning(
            "marking messages read failed",
            extra={
                "tenant_id": shop.tenant_id,
                "marketplace": shop.marketplace,
                "error": type(exc).__name__,
            },
        )
        return False
    if recorded:
        await ports.store.marks_done(shop, message_ids)
    else:
        ports.unrecorded_marks.setdefault(shop.key, []).extend(message_ids)
    poll.marked_read += len(message_ids)
    return True
