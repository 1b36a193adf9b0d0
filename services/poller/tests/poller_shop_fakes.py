"""In-memory fakes of the ports of marketplace shops (``shops/ports.py``,
``shops/connection_ports.py``, ``replies/ports.py``'s ``MarketplaceReplies``) and a scripted
marketplace, for the unit tier. ``test_marketplace_contract.py`` runs the same scenarios on
these and on the PostgreSQL adapters, ``test_api_replies_contract.py`` on the reply fake
and ``ShopReplies`` against the sandbox's double, so a fake that drifts fails there.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from keybuzz_connector_fnac.client import carried
from keybuzz_connector_fnac.connector import LIMITS as FNAC_LIMITS
from keybuzz_connector_fnac.session import LISTING_OVERLAP
from keybuzz_devstack.fakes import InMemoryUnitOfWork
from keybuzz_poller.shops.allowance import Allowance
from keybuzz_poller.shops.connection_ports import CONNECTED, ShopPollingPorts, ShopStatus
from keybuzz_poller.shops.domain import (
    BUYER,
    NOTICE_WINDOW,
    ORDER,
    CallsAsked,
    MatchedReply,
    OwnReply,
    PageThreads,
    Shop,
    ShopCursor,
    ShopStart,
    ThreadClock,
    ThreadState,
    latest,
)
from keybuzz_poller.shops.ports import AttachmentTooLarge, ShopPorts, ShopReading, forgetting
from keybuzz_poller.tickets.ports import (
    Attachment,
    DeadlineFact,
    DeadlineRow,
    ExternalMessageRow,
    TicketMessageRow,
)
from keybuzz_shared.connectors.seam import (
    CredentialsRefused,
    InboxFile,
    InboxIncident,
    InboxMessage,
    MarketplaceUnavailable,
    OutcomeUnknown,
    Recipient,
    Reply,
    ReplyOutcome,
    SenderType,
    ThreadDetail,
    ThreadKey,
    ThreadKind,
)
from keybuzz_shared.ticket_topics import Topics, later
from poller_fakes import thread_states_saved


@dataclass
class _Shop:
    seller_id: str
    connection: str
    as_of: datetime
    cursor: ShopCursor = field(default_factory=ShopCursor)


@dataclass
class _Message:
    row: ExternalMessageRow
    attachments: list[Attachment]
    mark_pending: bool


@dataclass
class _Ticket:
    id: str
    order_id: str | None
    buyer_name: str | None
    subject: str
    last_message_at: datetime
    status: str = "OPEN"
    message_count: int = 0
    incident_status: str | None = None
    incident_types: list[str] | None = None
    thread_details: tuple[ThreadDetail, ...] = ()
    claim: bool = False
    marketplace_clock: bool = False
    reply_needed_since: datetime | None = None
    topics: Topics | None = None


@dataclass
class _TicketMessage:
    id: str
    ticket_id: str
    external_message_id: str
    direction: str
    awaits_reply: bool


@dataclass
class ShopReply:
    """A ``poller_replies`` row of a reply through the marketplace's API, as far as polling
    reads it back."""

    ticket_id: str
    text: str
    created_at: datetime
    status: str = "QUEUED"
    unconfirmed: bool = False
    order_id: str | None = "ORD1"
    marketplace_message_id: str | None = None
    sent_at: datetime | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def message_id(self) -> str:
        return f"<reply-{self.id}@in.keybuzz.test>"


@dataclass
class ShopTables:
    shops: dict[str, _Shop] = field(default_factory=dict)
    messages: dict[tuple[str, str, str], _Message] = field(default_factory=dict)
    tickets: dict[tuple[str, str, str], _Ticket] = field(default_factory=dict)
    ticket_messages: list[_TicketMessage] = field(default_factory=list)
    incidents: dict[tuple[str, str, str], tuple[InboxIncident, str]] = field(default_factory=dict)
    replies: dict[str, ShopReply] = field(default_factory=dict)
    # Each refresh's ticket ids (the fake keeps no deadline: the real ones are tested on
    # PostgreSQL, test_long_threads.py and the response deadline tests).
    deadline_refreshes: list[list[str]] = field(default_factory=list)
    thread_state_writes: int = 0  # tickets written by save_thread_states

    def add_reply(self, reply: ShopReply) -> ShopReply:
        self.replies[reply.id] = reply
        return reply


class RecordedDeadlines:
    """``DeadlineStore`` recording each recompute's ticket ids (the rule has its own tests)."""

    def __init__(self, tables: ShopTables) -> None:
        self.tables = tables

    async def deadline_facts(self, ticket_ids: Sequence[str]) -> list[DeadlineFact]:
        self.tables.deadline_refreshes.append(list(ticket_ids))
        return []

    async def save_deadlines(self, deadlines: Sequence[DeadlineRow]) -> None:
        pass


class InMemoryShopStore:
    """``ShopStore`` on dicts."""

    def __init__(self, tables: ShopTables) -> None:
        self.tables = tables
        self.tickets = RecordedDeadlines(tables)
        # The day's call counts a start's reservation goes to (``CallCounts``' table).
        self.calls: InMemoryCallCounts | None = None

    async def started(self, shop: Shop, reserve: CallsAsked | None = None) -> ShopStart:
        pending = any(
            m.mark_pending
            for (tenant, marketplace, _), m in self._msgs.items()
            if (tenant, marketplace) == (shop.tenant_id, shop.marketplace)
        )
        day_calls = None
        if reserve is not None and reserve.calls > 0 and self.calls is not None:
            spent = self.calls.days.get((shop.key, reserve.day), 0)
            if spent + reserve.calls <= reserve.limit:
                day_calls = self.calls.days[shop.key, reserve.day] = spent + reserve.calls
        found = self.tables.shops.get(shop.key)
        cursor = found.cursor if found else ShopCursor()
        return ShopStart(cursor=cursor, marks_pending=pending, day_calls=day_calls)

    async def save_cursor(self, shop: Shop, cursor: ShopCursor) -> None:
        if (found := self.tables.shops.get(shop.key)) is not None:
            found.cursor = cursor

    async def advance_cursor(self, shop: Shop, past: ShopCursor) -> None:
        if (found := self.tables.shops.get(shop.key)) is not None:
            now = found.cursor
            found.cursor = ShopCursor(
                messages_since=latest(now.messages_since, past.messages_since),
                incidents_since=latest(now.incidents_since, past.incidents_since),
            )

    async def known_messages(self, shop: Shop, message_ids: Sequence[str]) -> set[str]:
        return {i for i in message_ids if (shop.tenant_id, shop.marketplace, i) in self._msgs}

    @property
    def _msgs(self) -> dict[tuple[str, str, str], _Message]:
        return self.tables.messages

    async def add_message(
        self, message: ExternalMessageRow, attachments: Sequence[Attachment]
    ) -> bool:
        key = (message.tenant_id, message.marketplace, message.external_id)
        if key in self._msgs:
            return False
        self._msgs[key] = _Message(message, list(attachments), message.mark_read_pending)
        return True

    async def add_messages(
        self,
        messages: Sequence[ExternalMessageRow],
        attachments: Mapping[str, Sequence[Attachment]],
    ) -> set[str]:
        return {m.id for m in messages if await self.add_message(m, attachments.get(m.id, ()))}

    async def open_tickets(
        self, threads: Mapping[str, Sequence[tuple[ExternalMessageRow, Topics | None]]]
    ) -> dict[str, str]:
        return {
            key: [await self.open_ticket(key, m, topics) for m, topics in opening][0]
            for key, opening in threads.items()
        }

    async def thread_messages(self, messages: Sequence[TicketMessageRow]) -> None:
        for message in messages:
            await self.thread_message(message)

    async def page_threads(
        self,
        shop: Shop,
        thread_keys: Sequence[str],
        opening: Sequence[tuple[str, datetime]],
        answered: Sequence[str],
    ) -> PageThreads:
        found = {k: await self.ticket_of(shop, k) for k in thread_keys}
        tickets = {k: ticket_id for k, ticket_id in found.items() if ticket_id is not None}
        own = {t: self._own_replies(t) for k in answered if (t := tickets.get(k)) is not None}
        return PageThreads(
            tickets=tickets,
            incidents_near=[self._incident_near(shop, order_id, at) for order_id, at in opening],
            own_replies={t: replies for t, replies in own.items() if replies},
        )

    async def ticket_of(self, shop: Shop, thread_key: str) -> str | None:
        found = self.tables.tickets.get((shop.tenant_id, shop.marketplace, thread_key))
        return found.id if found else None

    async def open_ticket(
        self, thread_key: str, message: ExternalMessageRow, topics: Topics | None = None
    ) -> str:
        key = (message.tenant_id, message.marketplace, thread_key)
        at, name = message.received_at, message.buyer_name
        found = self.tables.tickets.get(key)
        if found is None:
            found = _Ticket(str(uuid.uuid4()), message.order_id, name, message.subject, at)
            self.tables.tickets[key] = found
        found.status = "OPEN"
        found.buyer_name = found.buyer_name or name
        found.last_message_at = max(found.last_message_at, at)
        if topics is not None:
            found.topics = topics if found.topics is None else later(found.topics, topics)
        return found.id

    async def thread_message(self, message: TicketMessageRow) -> None:
        ticket = next(t for t in self.tables.tickets.values() if t.id == message.ticket_id)
        ticket.message_count += 1
        # Its time is its external message's, as the store's join reads it.
        external = next(
            m.row for m in self._msgs.values() if m.row.id == message.external_message_id
        )
        ticket.last_message_at = max(ticket.last_message_at, external.received_at)
        self.tables.ticket_messages.append(
            _TicketMessage(
                message.id,
                message.ticket_id,
                message.external_message_id,
                message.direction,
                message.awaits_reply,
            )
        )

    async def save_thread_states(self, shop: Shop, states: Sequence[ThreadState]) -> int:
        written = thread_states_saved(self.tables.tickets, shop, states)
        self.tables.thread_state_writes += written
        return written

    async def save_page_states(
        self, shop: Shop, states: Sequence[ThreadState], past: ShopCursor
    ) -> int:
        await self.advance_cursor(shop, past)
        return await self.save_thread_states(shop, states)

    async def save_thread_clocks(self, shop: Shop, clocks: Sequence[ThreadClock]) -> list[str]:
        written = []
        for clock in clocks:
            ticket = self.tables.tickets.get((shop.tenant_id, shop.marketplace, clock.thread_key))
            if ticket is None or (ticket.marketplace_clock, ticket.reply_needed_since) == (
                True,
                clock.reply_needed_since,
            ):
                continue
            ticket.marketplace_clock, ticket.reply_needed_since = True, clock.reply_needed_since
            written.append(ticket.id)
        return written

    def _own(self, reply: ShopReply) -> bool:
        return reply.marketplace_message_id is None and (
            reply.status == "SENT" or reply.status in ("QUEUED", "FAILED") and reply.unconfirmed
        )

    def _own_replies(self, ticket_id: str) -> list[OwnReply]:
        own = [r for r in self.tables.replies.values() if r.ticket_id == ticket_id and self._own(r)]
        return [
            OwnReply(
                ticket_message_id=r.id,
                message_id=r.message_id,
                order_id=r.order_id,
                text=r.text,
                queued_at=r.created_at,
            )
            for r in sorted(own, key=lambda r: (r.created_at, r.id))
        ]

    async def match_reply(
        self, ticket_message_id: str, marketplace_message_id: str
    ) -> MatchedReply | None:
        reply = self.tables.replies.get(ticket_message_id)
        if reply is None or not self._own(reply):
            return None
        confirmed = reply.status != "SENT"
        reply.status, reply.marketplace_message_id = "SENT", marketplace_message_id
        reply.sent_at = reply.sent_at or datetime.now(UTC)
        return MatchedReply(sent_at=reply.sent_at, confirmed=confirmed)

    def _incident_near(self, shop: Shop, order_id: str, at: datetime) -> datetime | None:
        near = [
            incident.created_at
            for (tenant, marketplace, _), (incident, _) in self.tables.incidents.items()
            if (tenant, marketplace) == (shop.tenant_id, shop.marketplace)
            and incident.order_id == order_id
            and abs(incident.created_at - at) <= NOTICE_WINDOW
        ]
        return min(near, key=lambda created: abs(created - at), default=None)

    async def has_notice(
        self, ticket_id: str, incident_created_at: datetime, claim_subject: str
    ) -> bool:
        by_id = {m.row.id: m.row for m in self._msgs.values()}
        return any(
            m.ticket_id == ticket_id
            and by_id[m.external_message_id]
            .subject.strip()
            .lower()
            .startswith(claim_subject.strip().lower())
            and abs(by_id[m.external_message_id].sent_at - incident_created_at) <= NOTICE_WINDOW
            for m in self.tables.ticket_messages
        )

    async def save_incident(self, shop: Shop, incident: InboxIncident, ticket_id: str) -> bool:
        key = (shop.tenant_id, shop.marketplace, incident.incident_id)
        before = self.tables.incidents.get(key)
        seen = (incident.status, incident.types, incident.waiting_for_seller, incident.updated_at)
        if before is not None:
            old = before[0]
            if (old.status, old.types, old.waiting_for_seller, old.updated_at) == seen:
                return False
            ticket_id = before[1]  # an incident keeps the ticket it first flagged
        self.tables.incidents[key] = (incident, ticket_id)
        ticket = next(t for t in self.tables.tickets.values() if t.id == ticket_id)
        ticket.incident_status, ticket.incident_types = incident.status, list(incident.types)
        return True

    async def pending_marks(self, shop: Shop, limit: int) -> list[str]:
        pending = sorted(
            (m.row.sent_at, external_id)
            for (tenant, marketplace, external_id), m in self._msgs.items()
            if (tenant, marketplace) == (shop.tenant_id, shop.marketplace) and m.mark_pending
        )
        return [external_id for _, external_id in pending[:limit]]

    async def marks_done(self, shop: Shop, message_ids: Sequence[str]) -> None:
        for message_id in message_ids:
            found = self._msgs.get((shop.tenant_id, shop.marketplace, message_id))
            if found is not None:
                found.mark_pending = False


class InMemoryShops:
    """``ShopConnections`` on dicts (the schedule's columns are the folders' fake's concern).
    It reads the tables through the store, whose unit of work may have replaced them."""

    def __init__(self, store: Callable[[], InMemoryShopStore]) -> None:
        self._store = store

    @property
    def tables(self) -> ShopTables:
        return self._store().tables

    async def connect(self, shop: Shop, seller_id: str, as_of: datetime) -> bool:
        found = self.tables.shops.get(shop.key)
        if found is not None and found.as_of >= as_of:
            return False
        if found is None:
            self.tables.shops[shop.key] = _Shop(seller_id, CONNECTED, as_of)
        else:
            found.seller_id, found.connection, found.as_of = seller_id, CONNECTED, as_of
        return True

    async def disconnect(self, shop: Shop, connection: str, as_of: datetime) -> str | None:
        found = self.tables.shops.get(shop.key)
        if found is None or found.as_of >= as_of:
            return None
        found.connection, found.as_of = connection, as_of
        return found.seller_id

    async def forget_received(self, shop: Shop) -> int:
        tables, mine = self.tables, (shop.tenant_id, shop.marketplace)
        tickets = {t.id for key, t in tables.tickets.items() if key[:2] == mine}
        tables.messages = {k: m for k, m in tables.messages.items() if k[:2] != mine}
        tables.tickets = {k: t for k, t in tables.tickets.items() if k[:2] != mine}
        tables.incidents = {k: i for k, i in tables.incidents.items() if k[:2] != mine}
        tables.ticket_messages = [m for m in tables.ticket_messages if m.ticket_id not in tickets]
        tables.replies = {k: r for k, r in tables.replies.items() if r.ticket_id not in tickets}
        if (found := tables.shops.get(shop.key)) is not None:
            found.cursor = ShopCursor()
        return len(tickets)

    async def polled_shops(self, marketplace: str) -> int:
        return sum(
            key.partition(":")[0] == marketplace and s.connection == CONNECTED
            for key, s in self.tables.shops.items()
        )

    async def statuses(self, tenant_id: str) -> list[ShopStatus]:
        return [
            ShopStatus(
                marketplace=key.partition(":")[0],
                seller_id=s.seller_id,
                connection=s.connection,
                polling=False,
                next_poll_at=None,
                last_poll_at=None,
                last_success_at=None,
                last_error=None,
                last_error_at=None,
                consecutive_failures=0,
                messages_fetched=0,
            )
            for key, s in sorted(self.tables.shops.items())
            if key.partition(":")[2] == tenant_id
        ]


class ScriptedMarketplace:
    """A marketplace's API as the test scripts it: a shop's messages and incidents, listed
    by time in pages; marks recorded; a failure raised at the call the test names."""

    def __init__(self, page_size: int = 2) -> None:
        self.page_size = page_size
        self.messages_listed: list[InboxMessage] = []
        self.incidents_listed: list[InboxIncident] = []
        self.files: dict[str, bytes | Exception] = {}  # url → content, or raised
        self.marked: list[str] = []
        self.listed_since: list[datetime] = []
        self.fail: dict[str, Exception] = {}  # call name → raised (once)
        self.opened: list[Shop] = []

    def _failing(self, call: str) -> None:
        if (exc := self.fail.pop(call, None)) is not None:
            raise exc

    async def open(self, shop: Shop) -> None:
        self._failing("open")
        self.opened.append(shop)

    async def messages(self, shop: Shop, since: datetime) -> AsyncIterator[list[InboxMessage]]:
        self.listed_since.append(since)
        self._failing("messages")
        listed = sorted(
            (m for m in self.messages_listed if m.created_at >= since), key=lambda m: m.created_at
        )
        for start in range(0, len(listed), self.page_size):
            self._failing("page")
            yield listed[start : start + self.page_size]

    async def incidents(self, shop: Shop, since: datetime) -> AsyncIterator[list[InboxIncident]]:
        self._failing("incidents")
        listed = sorted(
            (i for i in self.incidents_listed if i.updated_at >= since),
            key=lambda i: i.updated_at,
        )
        for start in range(0, len(listed), self.page_size):
            yield listed[start : start + self.page_size]

    async def mark_read(self, shop: Shop, message_ids: Sequence[str]) -> None:
        self._failing("mark_read")
        self.marked.extend(message_ids)

    async def download(self, shop: Shop, link: InboxFile, max_bytes: int) -> bytes:
        content = self.files[link.url]
        if isinstance(content, Exception):
            raise content
        if len(content) > max_bytes:
            raise AttachmentTooLarge(link.name)
        return content


@dataclass
class FakeShops:
    store: InMemoryShopStore
    marketplace: ScriptedMarketplace
    ports: ShopPorts
    unit_of_work: InMemoryUnitOfWork[InMemoryShopStore]
    connections: ShopPollingPorts
    connection_units: InMemoryUnitOfWork[InMemoryShops]
    woken: list[bool]
    replies_sent: list[int]  # what each page's unit of work made SENT, after its commit


T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def fake_shops(
    clock: Callable[[], datetime] = lambda: T0,
    mark_as_read: bool = True,
    max_attachment_bytes: int = 1000,
) -> FakeShops:
    tables = ShopTables()
    store = InMemoryShopStore(tables)
    marketplace = ScriptedMarketplace()
    unit_of_work = InMemoryUnitOfWork(store)
    woken: list[bool] = []
    replies_sent: list[int] = []
    shops = InMemoryShops(lambda: store)
    connection_units = InMemoryUnitOfWork(shops)
    ports = ShopPorts(
        source=marketplace,
        store=store,
        unit_of_work=unit_of_work,  # type: ignore[arg-type]
        clock=clock,
        reading=lambda _: ShopReading(
            mark_as_read=mark_as_read,
            first_poll=timedelta(days=30),
            max_attachment_bytes=max_attachment_bytes,
        ),
        replies_sent=replies_sent.append,
    )
    return FakeShops(
        store=store,
        marketplace=marketplace,
        ports=ports,
        unit_of_work=unit_of_work,
        connections=ShopPollingPorts(
            connections=shops,
            unit_of_work=connection_units,  # type: ignore[arg-type]
            wake=lambda: woken.append(True),
            clock=clock,
            forget_key=forgetting(lambda _: None, ports),  # no key cached, as bootstrap's
        ),
        connection_units=connection_units,
        woken=woken,
        replies_sent=replies_sent,
    )


def shop_message(
    message_id: str,
    minutes: int = 0,
    sender: SenderType = BUYER,
    order: str = "ORD1",
    subject: str = "Question",
    kind: ThreadKind = ORDER,
    body: str | None = None,
    **more: object,
) -> InboxMessage:
    """A message of the ORD1 thread (by default) from a buyer, ``minutes`` past T0 - 1 h."""
    return InboxMessage(
        message_id=message_id,
        thread=ThreadKey(kind, order),
        sender_type=sender,
        sender_name="Jane D." if sender == BUYER else None,
        subject=subject,
        body=f"body of {message_id}" if body is None else body,
        created_at=T0 - timedelta(hours=1) + timedelta(minutes=minutes),
        **{"unread": True, **more},  # type: ignore[arg-type]
    )


class InMemoryShopReplies:
    """``replies/ports.MarketplaceReplies`` in memory: each tenant's shop (its key, its
    threads, its open incidents), with the double's rules: a reply answers a message the
    shop has, goes to customer service only while the order has an open incident, and its
    answer can be lost after it was applied (``lose_next_answer``) or before
    (``drop_next``). ``test_api_replies_contract.py`` holds it to ``ShopReplies`` on the
    sandbox's double."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.limits = FNAC_LIMITS
        self.clock = clock
        self.keys: set[str] = set()  # tenants whose shop key is stored and accepted
        self.messages: dict[str, list[InboxMessage]] = {}
        self.open_incidents: set[tuple[str, str]] = set()  # (tenant, order id)
        self.down = False
        self.lose_next_answer = False
        self.drop_next = False
        self.sends = 0  # replies applied
        self.sent_files: list[tuple[str, str, bytes]] = []  # the applied replies' files
        # Whom a reply may go to on any thread (Fnac's: the buyer, its customer service, both).
        self.offered: tuple[Recipient, ...] = ("BUYER", "MARKETPLACE_SUPPORT", "ALL")
        # How its threads show a reply applied (a marketplace that rewrites it).
        self.shown: Callable[[str], str] = carried
        # How far behind ours the clock that dates a reply applied is (a marketplace's).
        self.dated_behind = timedelta(0)

    def buyer_writes(self, tenant_id: str, order_id: str, body: str = "Où est mon colis ?") -> str:
        self.keys.add(tenant_id)
        message = InboxMessage(
            message_id=str(uuid.uuid4()),
            thread=ThreadKey(kind="ORDER", id=order_id),
            sender_type="BUYER",
            sender_name="Jane D.",
            subject="order_information",
            body=body,
            created_at=self.clock(),
            unread=True,
        )
        self.messages.setdefault(tenant_id, []).append(message)
        return message.message_id

    def reply_text(self, text: str) -> str:
        return carried(text)

    def recipients(self, thread: ThreadKey) -> tuple[Recipient, ...]:
        return self.offered

    def _shop(self, tenant_id: str) -> list[InboxMessage]:
        if tenant_id not in self.keys:
            raise CredentialsRefused("Fnac refused the shop's credentials: ERR_001")
        if self.down:
            raise MarketplaceUnavailable("Fnac messages_update unavailable: HTTP 503")
        return self.messages.setdefault(tenant_id, [])

    async def reply(self, tenant_id: str, reply: Reply) -> ReplyOutcome:
        thread = self._shop(tenant_id)
        if not any(m.message_id == reply.in_reply_to for m in thread):
            return ReplyOutcome(status="FAILED", reason="Fnac refused the reply: ERR_201")
        if reply.recipient == "MARKETPLACE_SUPPORT" and (
            (tenant_id, reply.thread.id) not in self.open_incidents
        ):
            return ReplyOutcome(status="FAILED", reason="Fnac refused the reply: ERR_202")
        if self.drop_next:
            self.drop_next = False
            raise OutcomeUnknown("Fnac messages_update: the answer was lost (HTTP 502)")
        self.sends += 1
        self.sent_files += [(f.name, f.content_type, f.data) for f in reply.attachments]
        thread.append(
            InboxMessage(
                message_id=str(uuid.uuid4()),
                thread=reply.thread,
                sender_type="SELLER",
                sender_name="Ma boutique",
                subject=reply.subject or "order_information",
                body=self.shown(reply.body),  # what the client sends, as shown
                created_at=self.clock() - self.dated_behind,
                unread=False,
            )
        )
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise OutcomeUnknown("Fnac messages_update: the answer was lost (truncated)")
        return ReplyOutcome(status="SENT")

    async def sent_messages(
        self, tenant_id: str, thread: ThreadKey, since: datetime
    ) -> list[InboxMessage]:
        return [
            m
            for m in self._shop(tenant_id)
            if m.sender_type == "SELLER"
            and m.thread == thread
            and m.created_at >= since - LISTING_OVERLAP
        ]

    def sent_bodies(self, tenant_id: str) -> list[str]:
        return [m.body for m in self.messages.get(tenant_id, []) if m.sender_type == "SELLER"]


class InMemoryCallCounts:
    """``ports.CallCounts`` in memory: (shop key, UTC day) → calls, held to
    ``PostgresShopCalls`` by ``tests/test_call_counts_contract.py``."""

    def __init__(self) -> None:
        self.days: dict[tuple[str, date], int] = {}
        self.hours: dict[str, tuple[int, ...]] = {}  # shop key → its buyers' messages by hour

    async def reserve_call(self, shop: Shop, day: date, limit: int) -> bool:
        spent = self.days.get((shop.key, day), 0)
        if spent >= limit:
            return False
        self.days[shop.key, day] = spent + 1
        return True

    async def adjust_calls(self, shop: Shop, day: date, delta: int) -> None:
        self.days[shop.key, day] = max(0, self.days.get((shop.key, day), 0) + delta)

    async def calls_spent(self, shop: Shop, day: date) -> int:
        return self.days.get((shop.key, day), 0)

    async def marketplace_calls(self, marketplace: str, day: date) -> int:
        return sum(
            n for (key, d), n in self.days.items() if d == day and key.startswith(f"{marketplace}:")
        )

    async def buyer_hours(self, shop: Shop, since: datetime) -> tuple[int, ...]:
        return self.hours.get(shop.key, (0,) * 24)


class Clock:
    """A clock the test moves."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


async def with_allowance(
    calls_per_day: int, clock: Clock, counts: InMemoryCallCounts | None = None
) -> tuple[FakeShops, InMemoryCallCounts]:
    """The fakes with shop t1 of FNAC connected (its cursors kept) and an allowance for
    FNAC, its day's counts in ``counts`` (a poll's start reserves its calls there too)."""
    fake = fake_shops(clock=clock)
    await fake.connections.connections.connect(Shop("t1", "FNAC"), "1", clock.at)
    counts = counts or InMemoryCallCounts()
    fake.store.calls = counts
    reading = fake.ports.reading("FNAC")
    allowance = Allowance(calls_per_day=calls_per_day, min_interval=10)
    fake.ports = dataclasses.replace(
        fake.ports,
        calls=counts,
        reading=lambda _: dataclasses.replace(reading, allowance=allowance),
    )
    return fake, counts
