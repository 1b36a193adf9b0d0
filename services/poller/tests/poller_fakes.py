"""In-memory fakes of the poller's ports (``inbound/``, ``polling/``, ``reading/``,
``tickets/``, ``replies/ports.py``), for the unit tier. ``test_projection_contract.py`` and
``test_poller_mail_contract.py`` run the same scenarios on these and on the real adapters
(PostgreSQL, Dovecot, the sandbox's relay), so a fake that drifts from them fails there.

The fakes share one set of tables (:class:`PollerTables`), as the adapters share the
database: a tenant is pollable by what the projection holds of it, a reply's context is
read from the tickets (with the thread's standing a shop's listing saved there), a reply's
delivery moves its ticket's deadline.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Generic, Protocol, TypeVar

import msgspec
from keybuzz_devstack.fakes import InMemoryUnitOfWork
from keybuzz_poller.inbound.addresses import (
    ProjectedAddress,
    Recipient,
    split_bounce_tag,
    with_bounce_tag,
)
from keybuzz_poller.inbound.bounce_auth import NamedReply
from keybuzz_poller.inbound.ports import InboundPorts, ProjectionWrites
from keybuzz_poller.polling.domain import PollClaim, PollFailure, PollStatus, QuarantinedFolder
from keybuzz_poller.polling.ports import PollingPorts, PollPorts, PollWrites
from keybuzz_poller.polling.store import CLAIM_ROUNDS, PARK_WINDOW
from keybuzz_poller.reading.ports import Cursor, FetchedMail, NewMail, ReadingPorts
from keybuzz_poller.reading.relay_mail import ParseBudget, RelayMail, parse
from keybuzz_poller.replies.memory import ReplyMemory
from keybuzz_poller.replies.ports import (
    BouncedReply,
    ClaimedReply,
    Delivery,
    NewReply,
    Outcome,
    RepliesPorts,
    ReplyConfig,
    ReplyContext,
    ReplyWrites,
)
from keybuzz_poller.shops.api_replies import send_through_api
from keybuzz_poller.shops.domain import INCIDENT_MESSAGE_PREFIX, Shop, ThreadState
from keybuzz_poller.tickets import topics
from keybuzz_poller.tickets.alerts_store import DEFAULT_LEAD_SECONDS, OVERDUE_LOOKBACK
from keybuzz_poller.tickets.ports import (
    AlertStore,
    DeadlineFact,
    DeadlineRow,
    DueAlert,
    ExternalMessageRow,
    StoredAttachment,
    StoredMessage,
    StoredTicket,
    TicketMessageRow,
    TicketQuery,
    TicketRow,
    TicketsPorts,
    TicketStore,
)
from keybuzz_shared.connectors.seam import ThreadDetail, ThreadStanding
from keybuzz_shared.events import Event
from keybuzz_shared.ticket_topics import later
from keybuzz_shared.uow import StoreUnit

W = TypeVar("W")

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


class ManualClock:
    """A clock the test moves: leases expire and back-offs end without waiting."""

    def __init__(self, at: datetime | None = None) -> None:
        self.at = at or datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@dataclass
class _Tenant:
    archived: bool
    as_of: datetime


@dataclass
class _Address:
    tenant_id: str
    marketplace: str
    country: str
    enabled: bool


@dataclass
class _Schedule:
    next_poll_at: datetime
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    claimed_at: datetime | None = None
    pushed_at: datetime | None = None
    last_pushed_at: datetime | None = None
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    consecutive_failures: int = 0
    messages_fetched: int = 0


@dataclass
class PollerTables:
    """``poller_tenants``, ``poller_inbound_addresses``, ``poller_poll_status``."""

    tenants: dict[str, _Tenant] = field(default_factory=dict)
    addresses: dict[str, _Address] = field(default_factory=dict)
    schedule: dict[str, _Schedule] = field(default_factory=dict)
    notified: list[str] = field(default_factory=list)  # the NOTIFYs of mark_delivered
    mail: MailTables = field(default_factory=lambda: MailTables())
    quarantine: dict[str, QuarantinedFolder] = field(default_factory=dict)

    def pollable(self, tenant_id: str) -> bool:
        tenant = self.tenants.get(tenant_id)
        return (
            tenant is not None
            and not tenant.archived
            and any(a.enabled for a in self.addresses.values() if a.tenant_id == tenant_id)
        )


@dataclass
class _Ticket:
    row: TicketRow
    created_at: datetime = field(default_factory=wall_clock)
    status: str = "OPEN"
    response_state: str = "NO_RESPONSE_NEEDED"
    respond_by: datetime | None = None
    no_response_needed_at: datetime | None = None
    no_response_needed_by: str | None = None
    incident_status: str | None = None
    # Its marketplace thread's state as a shop's listing last gave it (``save_thread_states``).
    thread_details: tuple[ThreadDetail, ...] = ()
    claim: bool = False


@dataclass
class _Message:
    id: str
    ticket_id: str
    tenant_id: str
    external_message_id: str
    direction: str
    awaits_reply: bool  # its body and time: its external message's (migration 021)


@dataclass
class _Reply:
    new: NewReply
    next_attempt_at: datetime
    status: str = "QUEUED"
    attempts: int = 0
    sent_at: datetime | None = None
    last_error: str | None = None
    reason: str | None = None
    status_code: str | None = None
    unconfirmed: bool = False


@dataclass
class MailTables:
    """``poller_mail_cursors``, ``poller_external_messages``, ``poller_tickets``,
    ``poller_ticket_messages``, ``poller_replies``, the reply settings and response windows."""

    cursors: dict[str, Cursor] = field(default_factory=dict)
    externals: dict[str, ExternalMessageRow] = field(default_factory=dict)
    tickets: dict[str, _Ticket] = field(default_factory=dict)
    messages: list[_Message] = field(default_factory=list)  # in ``seq`` order
    replies: dict[str, _Reply] = field(default_factory=dict)
    reply_from: dict[str, str] = field(default_factory=dict)
    windows: dict[tuple[str, str], int] = field(default_factory=dict)
    alerts: set[tuple[str, datetime, str]] = field(default_factory=set)  # ticket, deadline, kind
    lead_seconds: dict[str, int] = field(default_factory=dict)


class InMemoryProjection:
    """``ports.ProjectionStore`` in dicts, with the rules of ``inbound/store.py``'s SQL."""

    def __init__(self, tables: PollerTables) -> None:
        self.tables = tables

    async def apply_tenant_state(self, tenant_id: str, archived: bool, as_of: datetime) -> bool:
        current = self.tables.tenants.get(tenant_id)
        if current is not None and not current.as_of < as_of:
            return False
        self.tables.tenants[tenant_id] = _Tenant(archived, as_of)
        return True

    async def replace_addresses(
        self, tenant_id: str, addresses: Sequence[ProjectedAddress]
    ) -> list[str]:
        if tenant_id not in self.tables.tenants:  # the foreign key: state first, then addresses
            raise LookupError(f"tenant {tenant_id} has no state in the projection")
        emails = [a.email for a in addresses]
        rows = self.tables.addresses
        for email in [e for e, a in rows.items() if a.tenant_id == tenant_id and e not in emails]:
            del rows[email]
        taken = []
        for a in addresses:
            current = rows.get(a.email)
            if current is not None and current.tenant_id != tenant_id:
                taken.append(a.email)
            else:
                rows[a.email] = _Address(tenant_id, a.marketplace, a.country, a.enabled)
        return taken

    async def find_recipient(self, email: str) -> Recipient | None:
        plain, tag = split_bounce_tag(email)
        found = self.tables.addresses.get(plain)
        if found is None or not found.enabled:
            return None
        tenant = self.tables.tenants.get(found.tenant_id)
        if tenant is None or tenant.archived:
            return None
        return Recipient(
            address=with_bounce_tag(plain, tag.reply_id, tag.signature) if tag else plain,
            tenant_id=found.tenant_id,
            marketplace=found.marketplace,
            country=found.country,
        )


class InMemoryPollSchedule:
    """``ports.PollSchedule`` in dicts, with the rules of ``polling/store.py``'s SQL; its
    ``now()`` is ``clock`` (the wall clock, or a :class:`ManualClock`)."""

    def __init__(self, tables: PollerTables, clock: Clock = wall_clock) -> None:
        self.tables = tables
        self.clock = clock

    def _free(self, row: _Schedule, now: datetime) -> bool:
        return row.lease_expires_at is None or row.lease_expires_at < now

    def _lease(self, row: _Schedule, owner: str, lease_seconds: float, now: datetime) -> None:
        row.lease_owner = owner
        row.lease_expires_at = now + timedelta(seconds=lease_seconds)
        row.claimed_at = now

    async def ensure_scheduled(self, tenant_id: str, interval: float) -> None:
        if tenant_id not in self.tables.schedule:
            first = self.clock() + timedelta(seconds=random.random() * interval)
            self.tables.schedule[tenant_id] = _Schedule(next_poll_at=first)

    async def poll_soon(self, tenant_id: str) -> None:
        now = self.clock()
        row = self.tables.schedule.setdefault(tenant_id, _Schedule(next_poll_at=now))
        row.next_poll_at = now

    async def mark_delivered(self, tenant_id: str) -> None:
        now = self.clock()
        row = self.tables.schedule.setdefault(tenant_id, _Schedule(next_poll_at=now))
        row.next_poll_at = min(row.next_poll_at, now)
        row.pushed_at = row.pushed_at or now
        row.last_pushed_at = now
        self.tables.notified.append(tenant_id)

    async def claim_due(
        self,
        owner: str,
        limit: int,
        lease_seconds: float,
        interval: float,
        in_backoff: bool | None = None,
        polling: Collection[str] = (),
    ) -> list[str]:
        claimed: list[str] = []
        for _ in range(CLAIM_ROUNDS):
            leased, parked = self._claim_round(
                owner, limit - len(claimed), lease_seconds, interval, in_backoff, polling
            )
            claimed += leased
            if len(claimed) == limit or not parked:
                break
        return claimed

    def _claim_round(
        self,
        owner: str,
        free: int,
        lease_seconds: float,
        interval: float,
        in_backoff: bool | None,
        polling: Collection[str],
    ) -> tuple[list[str], list[str]]:
        now = self.clock()
        rows = self.tables.schedule
        due = [
            t
            for t, r in rows.items()
            if r.next_poll_at <= now
            and self._free(r, now)
            and t not in polling
            and (in_backoff is None or (r.consecutive_failures > 0) == in_backoff)
        ]
        window = sorted(due, key=lambda t: rows[t].next_poll_at)[: free + PARK_WINDOW]
        leased = [t for t in window if self.tables.pollable(t)][:free]
        parked = [t for t in window if not self.tables.pollable(t)]
        for tenant_id in leased:
            self._lease(rows[tenant_id], owner, lease_seconds, now)
        for tenant_id in parked:
            rows[tenant_id].next_poll_at = now + timedelta(seconds=interval)
        return leased, parked

    async def claim_tenant(
        self, tenant_id: str, owner: str, lease_seconds: float
    ) -> PollClaim | None:
        now = self.clock()
        row = self.tables.schedule.get(tenant_id)
        if row is None or not self.tables.pollable(tenant_id) or not self._free(row, now):
            return None
        self._lease(row, owner, lease_seconds, now)
        return PollClaim(in_backoff=row.consecutive_failures > 0)

    async def is_pollable(self, tenant_id: str) -> bool:
        return self.tables.pollable(tenant_id)

    async def renew_leases(
        self, owner: str, tenant_ids: Sequence[str], lease_seconds: float
    ) -> None:
        now = self.clock()
        for tenant_id in tenant_ids:
            row = self.tables.schedule.get(tenant_id)
            if row is not None and row.lease_owner == owner:
                row.lease_expires_at = now + timedelta(seconds=lease_seconds)

    async def poll_succeeded(
        self, tenant_id: str, owner: str, fetched: int, interval: float
    ) -> None:
        now = self.clock()
        row = self.tables.schedule.get(tenant_id)
        if row is None or row.lease_owner != owner:
            return
        pushed = (
            row.last_pushed_at is not None
            and row.claimed_at is not None
            and row.last_pushed_at > row.claimed_at
        )
        later = row.next_poll_at + timedelta(seconds=interval)
        if pushed:
            row.next_poll_at = now
        elif later > now:
            row.next_poll_at = later
        else:
            row.next_poll_at = now + timedelta(seconds=random.random() * interval)
        row.pushed_at = row.last_pushed_at if pushed else None
        row.lease_owner = row.lease_expires_at = None
        row.last_poll_at = row.last_success_at = now
        row.consecutive_failures = 0
        row.messages_fetched += fetched

    async def poll_skipped(self, tenant_id: str, owner: str, interval: float) -> None:
        row = self.tables.schedule.get(tenant_id)
        if row is None or row.lease_owner != owner:
            return
        row.next_poll_at = self.clock() + timedelta(seconds=interval)
        row.lease_owner = row.lease_expires_at = None

    async def poll_failed(self, tenant_id: str, owner: str, failure: PollFailure) -> None:
        now = self.clock()
        row = self.tables.schedule.get(tenant_id)
        if row is None or row.lease_owner != owner:
            return
        row.next_poll_at = now + timedelta(seconds=failure.delay(row.consecutive_failures))
        row.lease_owner = row.lease_expires_at = None
        row.last_poll_at = row.last_error_at = now
        row.last_error = failure.error
        row.consecutive_failures += 1

    async def release_leases(self, owner: str) -> None:
        for row in self.tables.schedule.values():
            if row.lease_owner == owner:
                row.lease_owner = row.lease_expires_at = None

    async def poll_status(self, tenant_id: str) -> PollStatus | None:
        row = self.tables.schedule.get(tenant_id)
        if row is None:
            return None
        now = self.clock()
        polling = row.lease_owner is not None and (
            row.lease_expires_at is not None and row.lease_expires_at > now
        )
        lag = (now - row.last_success_at).total_seconds() if row.last_success_at else None
        return PollStatus(
            tenant_id=tenant_id,
            scheduled=True,
            polling=polling,
            next_poll_at=row.next_poll_at,
            last_poll_at=row.last_poll_at,
            last_success_at=row.last_success_at,
            last_error=row.last_error,
            last_error_at=row.last_error_at,
            consecutive_failures=row.consecutive_failures,
            messages_fetched=row.messages_fetched,
            lag_seconds=lag,
        )


class InMemoryQuarantine:
    """``polling/ports.QuarantineStore`` in a dict; unknown: not in the projection."""

    def __init__(self, tables: PollerTables, clock: Clock = wall_clock) -> None:
        self.tables = tables
        self.clock = clock

    async def unknown_tenants(self, tenant_ids: Sequence[str]) -> set[str]:
        return set(tenant_ids) - set(self.tables.tenants)

    async def record_quarantine(self, folders: dict[str, int]) -> None:
        before, now = self.tables.quarantine, self.clock()
        self.tables.quarantine = {
            folder: QuarantinedFolder(
                folder=folder,
                messages=messages,
                since=before[folder].since if folder in before else now,
            )
            for folder, messages in folders.items()
        }

    async def quarantined(self) -> list[QuarantinedFolder]:
        return [self.tables.quarantine[f] for f in sorted(self.tables.quarantine)]


class InMemoryUnits(Generic[W]):
    """Units of work whose writes are ``writes`` (stores over the shared tables), kept only
    when the block returns (``InMemoryUnitOfWork`` over the tables); their events are
    "published" (``published``) only then."""

    def __init__(self, tables: PollerTables, writes: W) -> None:
        self.units = InMemoryUnitOfWork(tables)
        self.writes = writes

    @property
    def published(self) -> list[Event]:
        return self.units.published

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[StoreUnit[W]]:
        async with self.units() as unit:
            yield StoreUnit(self.writes, unit.events, unit.pending)


@dataclass
class FakePoller:
    """The ports wired to fakes, with the fakes at hand for the test's assertions."""

    tables: PollerTables
    projection: InMemoryProjection
    schedule: InMemoryPollSchedule
    quarantine: InMemoryQuarantine
    units: InMemoryUnits[ProjectionWrites]
    inbound: InboundPorts
    polling: PollingPorts
    wakes: list[None]


POLL_INTERVAL = 60.0


def fake_poller(clock: Clock | None = None) -> FakePoller:
    tables = PollerTables()
    projection = InMemoryProjection(tables)
    clock = clock or ManualClock()
    schedule = InMemoryPollSchedule(tables, clock)
    quarantine = InMemoryQuarantine(tables, clock)
    units = InMemoryUnits(tables, ProjectionWrites(projection, schedule))
    wakes: list[None] = []
    return FakePoller(
        tables=tables,
        projection=projection,
        schedule=schedule,
        quarantine=quarantine,
        units=units,
        inbound=InboundPorts(
            projection=projection, unit_of_work=units, poll_interval=POLL_INTERVAL
        ),
        polling=PollingPorts(
            schedule=schedule, quarantine=quarantine, wake=lambda: wakes.append(None)
        ),
        wakes=wakes,
    )


# --- reading, tickets, replies --------------------------------------------------------


class InMemoryCursors:
    """``reading/ports.CursorStore`` in a dict."""

    def __init__(self, tables: PollerTables) -> None:
        self.tables = tables

    async def get_cursor(self, tenant_id: str) -> Cursor | None:
        return self.tables.mail.cursors.get(tenant_id)

    async def save_cursor(self, tenant_id: str, folder: str, cursor: Cursor) -> None:
        self.tables.mail.cursors[tenant_id] = cursor


class InMemoryMailbox:
    """``reading/ports.MailSource``: folders of raw mails, UIDs from 1, as Dovecot numbers them."""

    def __init__(self, uid_validity: int = 1) -> None:
        self.uid_validity = uid_validity
        self.folders: dict[str, dict[int, bytes]] = {}

    def deliver(self, folder: str, raw: bytes) -> int:
        mails = self.folders.setdefault(folder, {})
        uid = max(mails, default=0) + 1
        mails[uid] = raw
        return uid

    def recreate(self, folder: str) -> None:
        """The folder deleted and made again: a new UIDVALIDITY, UIDs from 1."""
        self.folders[folder] = {}
        self.uid_validity += 1

    async def fetch_new(self, folder: str, cursor: Cursor | None, limit: int = 200) -> NewMail:
        mails = self.folders.get(folder)
        if mails is None:
            return NewMail(mails=[], cursor=cursor)
        reread = cursor is not None and cursor.uid_validity != self.uid_validity
        after = 0 if cursor is None or reread else cursor.last_uid
        uid_next = max(mails, default=0) + 1
        last = max(after, min(after + limit, uid_next - 1))
        fetched = [FetchedMail(uid, mails[uid]) for uid in sorted(mails) if after < uid <= last]
        return NewMail(fetched, Cursor(self.uid_validity, last), reread, more=last < uid_next - 1)

    async def tenant_folders(self, prefix: str = "tenant-") -> dict[str, int]:
        return {f: len(m) for f, m in self.folders.items() if f.startswith(prefix)}


async def parse_inline(raws: list[bytes]) -> list[RelayMail]:
    """``reading/ports.Parse`` in the event loop (the workers' budget, no time limit)."""
    return [parse(raw, ParseBudget()) for raw in raws]


class InMemoryTickets:
    """``tickets/ports.TicketStore`` in dicts, with the rules of ``tickets/store.py``'s SQL."""

    def __init__(self, tables: PollerTables) -> None:
        self.tables = tables

    @property
    def mail(self) -> MailTables:
        return self.tables.mail

    async def insert_external_messages(self, rows: Sequence[ExternalMessageRow]) -> set[str]:
        taken = {(e.tenant_id, e.marketplace, e.external_id) for e in self.mail.externals.values()}
        new = set()
        for row in rows:
            key = (row.tenant_id, row.marketplace, row.external_id)
            if key not in taken:
                taken.add(key)
                self.mail.externals[row.id] = row
                new.add(row.id)
        return new

    async def upsert_tickets(self, tickets: Sequence[TicketRow]) -> dict[tuple[str, str], str]:
        by_thread = {
            (t.row.tenant_id, t.row.marketplace, t.row.thread_key): t
            for t in self.mail.tickets.values()
        }
        ids = {}
        for row in tickets:
            found = by_thread.get((row.tenant_id, row.marketplace, row.thread_key))
            if found is None:
                self.mail.tickets[row.id] = _Ticket(
                    row, response_state=row.response_state, respond_by=row.respond_by
                )
                ids[(row.marketplace, row.thread_key)] = row.id
                continue
            found.status = "OPEN"
            current, new = topics.stored(found.row), topics.stored(row)
            found.row = topics.with_topics(
                msgspec.structs.replace(
                    found.row,
                    message_count=found.row.message_count + row.message_count,
                    last_message_at=max(found.row.last_message_at, row.last_message_at),
                    buyer_name=found.row.buyer_name or row.buyer_name,
                ),
                new if current is None or new is None else later(current, new),
            )
            ids[(row.marketplace, row.thread_key)] = found.row.id
        return ids

    async def insert_ticket_messages(self, messages: Sequence[TicketMessageRow]) -> None:
        self.mail.messages.extend(
            _Message(
                m.id,
                m.ticket_id,
                m.tenant_id,
                m.external_message_id,
                "INBOUND",
                m.awaits_reply,
            )
            for m in messages
        )

    def _stored(self, ticket: _Ticket, country: str | None = None) -> StoredTicket:
        row = ticket.row
        return StoredTicket(
            id=row.id,
            marketplace=row.marketplace,
            order_id=row.order_id,
            buyer_email=row.buyer_email,
            buyer_name=row.buyer_name,
            subject=row.subject,
            status=ticket.status,
            message_count=row.message_count,
            created_at=ticket.created_at,
            last_message_at=row.last_message_at,
            response_state=ticket.response_state,
            respond_by=ticket.respond_by,
            no_response_needed_at=ticket.no_response_needed_at,
            no_response_needed_by=ticket.no_response_needed_by,
            country=country,
            language=row.language,
            language_source=row.language_source,
            language_confidence=row.language_confidence,
            topic=row.topic,
            topic_source=row.topic_source,
            thread_details=msgspec.json.encode(ticket.thread_details).decode(),
            claim=ticket.claim,
        )

    def _listed(self, ticket: _Ticket, query: TicketQuery) -> bool:
        row, respond_by = ticket.row, ticket.respond_by
        if query.by_deadline:
            key: tuple[datetime | None, str] = (respond_by, row.id)
            after = query.after_at is None or (
                respond_by is not None
                and (respond_by, row.id) > (query.after_at, query.after_id or "")
            )
        else:
            key = (row.last_message_at, row.id)
            after = query.after_at is None or key < (query.after_at, query.after_id or "")
        overdue = None if respond_by is None or query.now is None else respond_by <= query.now
        return (
            row.tenant_id == query.tenant_id
            and query.status in (None, ticket.status)
            and query.order_id in (None, row.order_id)
            and query.marketplace in (None, row.marketplace)
            and (query.since is None or row.last_message_at >= query.since)
            and after
            and query.response_state in (None, ticket.response_state)
            and (query.overdue is None or overdue is query.overdue)
            and (not query.by_deadline or respond_by is not None)
            and query.language in (None, row.language)
            and query.topic in (None, row.topic)
        )

    async def list_tickets(self, query: TicketQuery) -> list[StoredTicket]:
        listed = [t for t in self.mail.tickets.values() if self._listed(t, query)]
        if query.by_deadline:
            listed.sort(key=lambda t: (t.respond_by, t.row.id))
        else:
            listed.sort(key=lambda t: (t.row.last_message_at, t.row.id), reverse=True)
        return [self._stored(t) for t in listed[: query.limit + 1]]

    async def get_ticket(self, tenant_id: str, ticket_id: str) -> StoredTicket | None:
        ticket = self._ticket_of(tenant_id, ticket_id)
        if ticket is None:
            return None
        countries = [
            self.mail.externals[m.external_message_id].country
            for m in self.mail.messages
            if m.ticket_id == ticket_id and m.direction == "INBOUND"
        ]
        return self._stored(ticket, next((c for c in countries if c is not None), None))

    async def message_attachment(
        self, tenant_id: str, ticket_id: str, message_id: str, position: int
    ) -> StoredAttachment | None:
        return None  # mail: attachments are listed, never stored

    async def ticket_messages(self, ticket_id: str) -> list[StoredMessage]:
        found = []
        for m in (m for m in self.mail.messages if m.ticket_id == ticket_id):
            e = self.mail.externals[m.external_message_id]
            found.append(
                StoredMessage(
                    id=m.id,
                    direction=m.direction,
                    body=e.body,
                    received_at=e.received_at,
                    external_message_id=e.id,
                    external_id=e.external_id,
                    subject=e.subject,
                    quoted=e.quoted,
                    sent_at=e.sent_at,
                    parse_error=e.parse_error,
                    attachments=e.attachments,
                    accepted_at=e.accepted_at,
                    # Mail has no sender type of its own: the buyer's, or an agent's reply.
                    sender_type="BUYER" if m.direction == "INBOUND" else "SELLER",
                )
            )
        return found

    def _facts(self, ticket_ids: Sequence[str]) -> list[DeadlineFact]:
        facts = []
        for ticket_id in sorted(set(ticket_ids) & set(self.mail.tickets)):
            ticket = self.mail.tickets[ticket_id]
            window = self.mail.windows.get((ticket.row.tenant_id, ticket.row.marketplace))
            for m in (m for m in self.mail.messages if m.ticket_id == ticket_id):
                reply = self.mail.replies.get(m.id)
                facts.append(
                    DeadlineFact(
                        ticket_id=ticket_id,
                        marketplace=ticket.row.marketplace,
                        no_response_needed_at=ticket.no_response_needed_at,
                        override_hours=window,
                        id=m.id,
                        direction=m.direction,
                        received_at=self.mail.externals[m.external_message_id].received_at,
                        awaits_reply=m.awaits_reply,
                        accepted_at=self.mail.externals[m.external_message_id].accepted_at,
                        reply_status=reply.status if reply else None,
                        sent_at=reply.sent_at if reply else None,
                        automatic=reply.new.automatic if reply else False,
                        sender_type=None,  # mail: stored without one
                        written_at=self.mail.externals[m.external_message_id].sent_at,
                    )
                )
        return facts

    async def deadline_facts(self, ticket_ids: Sequence[str]) -> list[DeadlineFact]:
        return self._facts(ticket_ids)

    async def report_facts(
        self, tenant_id: str, marketplace: str, since: datetime, topic: str | None = None
    ) -> list[DeadlineFact]:
        recent = {
            m.ticket_id
            for m in self.mail.messages
            if m.tenant_id == tenant_id
            and self.mail.tickets[m.ticket_id].row.marketplace == marketplace
            and topic in (None, self.mail.tickets[m.ticket_id].row.topic)
            and m.awaits_reply
            and self.mail.externals[m.external_message_id].received_at >= since
        }
        return self._facts(list(recent))

    async def save_deadlines(self, deadlines: Sequence[DeadlineRow]) -> None:
        for d in deadlines:
            ticket = self.mail.tickets.get(d.ticket_id)
            if ticket is not None:
                ticket.response_state, ticket.respond_by = d.response_state, d.respond_by

    def _ticket_of(self, tenant_id: str, ticket_id: str) -> _Ticket | None:
        ticket = self.mail.tickets.get(ticket_id)
        return ticket if ticket is not None and ticket.row.tenant_id == tenant_id else None

    async def mark_no_response_needed(
        self, tenant_id: str, ticket_id: str, by: str, at: datetime
    ) -> bool:
        ticket = self._ticket_of(tenant_id, ticket_id)
        if ticket is None:
            return False
        ticket.no_response_needed_at, ticket.no_response_needed_by = at, by
        return True

    async def response_windows(self, tenant_id: str) -> dict[str, int]:
        return {m: h for (t, m), h in sorted(self.mail.windows.items()) if t == tenant_id}

    async def save_response_window(self, tenant_id: str, marketplace: str, hours: int) -> None:
        self.mail.windows[(tenant_id, marketplace)] = hours

    async def awaiting_ticket_ids(self, tenant_id: str, marketplace: str) -> list[str]:
        return [
            t.row.id
            for t in self.mail.tickets.values()
            if (t.row.tenant_id, t.row.marketplace, t.response_state)
            == (tenant_id, marketplace, "AWAITING_REPLY")
        ]


class InMemoryAlerts:
    """``tickets/ports.AlertStore`` over the tickets' table, with the rules of
    ``tickets/alerts_store.py``'s SQL."""

    def __init__(self, tables: PollerTables) -> None:
        self.tables = tables

    @property
    def mail(self) -> MailTables:
        return self.tables.mail

    def _due(self, ticket: _Ticket, kind: str, lead: int, now: datetime) -> bool:
        respond_by = ticket.respond_by
        if ticket.response_state != "AWAITING_REPLY" or respond_by is None:
            return False
        if (ticket.row.id, respond_by, kind) in self.mail.alerts:
            return False
        if kind == "OVERDUE":
            return now - OVERDUE_LOOKBACK < respond_by <= now
        return respond_by > now and respond_by - timedelta(seconds=lead) <= now

    async def claim_alerts(self, now: datetime, limit: int) -> list[DueAlert]:
        due = []
        for ticket in self.mail.tickets.values():
            lead = self.mail.lead_seconds.get(ticket.row.tenant_id, DEFAULT_LEAD_SECONDS)
            for kind in ("DUE", "OVERDUE"):
                if self._due(ticket, kind, lead, now):
                    assert ticket.respond_by is not None
                    due.append(
                        DueAlert(
                            ticket_id=ticket.row.id,
                            tenant_id=ticket.row.tenant_id,
                            marketplace=ticket.row.marketplace,
                            respond_by=ticket.respond_by,
                            kind=kind,
                            lead_seconds=lead,
                        )
                    )
        claimed = sorted(due, key=lambda a: a.respond_by)[:limit]
        self.mail.alerts.update((a.ticket_id, a.respond_by, a.kind) for a in claimed)
        return claimed

    async def deadline_counts(self, now: datetime) -> dict[str, int]:
        counts: dict[str, int] = {}
        for ticket in self.mail.tickets.values():
            bucket = ticket.response_state
            if bucket == "AWAITING_REPLY":
                at = ticket.respond_by
                bucket = next(
                    (n for n, hours in BUCKET_HOURS if at and at - now <= timedelta(hours=hours)),
                    "later",
                )
            counts[bucket] = counts.get(bucket, 0) + 1
        return counts

    async def lead_seconds(self, tenant_id: str) -> int:
        return self.mail.lead_seconds.get(tenant_id, DEFAULT_LEAD_SECONDS)

    async def save_lead_seconds(self, tenant_id: str, seconds: int) -> None:
        self.mail.lead_seconds[tenant_id] = seconds


BUCKET_HOURS = (("OVERDUE", 0), ("within_1h", 1), ("within_2h", 2), ("within_6h", 6))


class InMemoryThreadStates:
    """The thread states a shop's listing writes on its tickets (``shops/store.py``'s
    ``save_thread_states``) on these tickets: the latest listing wins, an unchanged state
    is no write."""

    def __init__(self, tables: PollerTables) -> None:
        self.tables = tables

    async def save_thread_states(self, shop: Shop, states: Sequence[ThreadState]) -> int:
        by_thread = {
            (t.row.tenant_id, t.row.marketplace, t.row.thread_key): t
            for t in self.tables.mail.tickets.values()
        }
        return thread_states_saved(by_thread, shop, states)


class HoldsThreadState(Protocol):
    thread_details: tuple[ThreadDetail, ...]
    claim: bool


def thread_states_saved(
    tickets: Mapping[tuple[str, str, str], HoldsThreadState],
    shop: Shop,
    states: Sequence[ThreadState],
) -> int:
    """``states`` written on the tickets of their threads (keyed tenant, marketplace,
    thread), as the real store's UPDATE: the number of tickets whose state changed."""
    written = 0
    for state in states:
        ticket = tickets.get((shop.tenant_id, shop.marketplace, state.thread_key))
        if ticket is None or (ticket.thread_details, ticket.claim) == (
            state.details,
            state.claim,
        ):
            continue
        ticket.thread_details, ticket.claim = state.details, state.claim
        written += 1
    return written


class InMemoryReplies:
    """``replies/ports.ReplyStore`` in dicts, with the rules of ``replies/store.py``'s SQL;
    its ``now()`` is ``clock``."""

    def __init__(self, tables: PollerTables, clock: Clock = wall_clock) -> None:
        self.tables = tables
        self.clock = clock

    @property
    def mail(self) -> MailTables:
        return self.tables.mail

    async def reply_from_address(self, tenant_id: str) -> str | None:
        return self.mail.reply_from.get(tenant_id)

    async def save_reply_from_address(self, tenant_id: str, address: str) -> None:
        self.mail.reply_from[tenant_id] = address

    async def reply_context(self, tenant_id: str, ticket_id: str) -> ReplyContext | None:
        ticket = self.mail.tickets.get(ticket_id)
        if ticket is None or ticket.row.tenant_id != tenant_id:
            return None
        inbound = [
            m
            for m in self.mail.messages
            if m.ticket_id == ticket_id
            and m.direction == "INBOUND"
            and not self.mail.externals[m.external_message_id].external_id.startswith(
                INCIDENT_MESSAGE_PREFIX
            )
        ]
        last = self.mail.externals[inbound[-1].external_message_id] if inbound else None
        external_id = last.external_id if last else None
        enabled = sorted(
            email
            for email, a in self.tables.addresses.items()
            if a.tenant_id == tenant_id and a.marketplace == ticket.row.marketplace and a.enabled
        )
        return ReplyContext(
            ticket_id=ticket_id,
            marketplace=ticket.row.marketplace,
            order_id=ticket.row.order_id,
            buyer_email=ticket.row.buyer_email,
            subject=ticket.row.subject,
            buyer_message_id=None
            if external_id is None or external_id.startswith("sha256:")
            else external_id,
            inbound_address=(last.inbound_address if last else None) or next(iter(enabled), None),
            country=last.country if last else None,
            thread_key=ticket.row.thread_key,
            buyer_subject=last.subject if last else None,
            incident_status=ticket.incident_status,
            standing=ThreadStanding(details=ticket.thread_details, claim=ticket.claim),
        )

    async def ticket_marketplace(self, tenant_id: str, ticket_id: str) -> str | None:
        ticket = self.mail.tickets.get(ticket_id)
        return ticket.row.marketplace if ticket and ticket.row.tenant_id == tenant_id else None

    async def insert_reply(self, reply: NewReply) -> None:
        self.mail.externals[reply.external_message_id] = reply.external_row()
        self.mail.messages.append(
            _Message(
                reply.ticket_message_id,
                reply.ticket_id,
                reply.tenant_id,
                reply.external_message_id,
                "OUTBOUND",
                False,
            )
        )
        self.mail.replies[reply.ticket_message_id] = _Reply(reply, reply.created_at)
        ticket = self.mail.tickets[reply.ticket_id]
        ticket.row = msgspec.structs.replace(
            ticket.row,
            message_count=ticket.row.message_count + 1,
            last_message_at=max(ticket.row.last_message_at, reply.created_at),
        )

    async def claim_due(
        self, limit: int, max_bytes: int, lease_seconds: float
    ) -> list[ClaimedReply]:
        now = self.clock()
        due = sorted(
            (
                r
                for r in self.mail.replies.values()
                if r.status == "QUEUED" and r.next_attempt_at <= now
            ),
            key=lambda r: (r.next_attempt_at, r.new.ticket_message_id),
        )[:limit]
        claimed, running = [], 0
        for n, reply in enumerate(due):
            running += len(reply.new.mail)
            if n and running > max_bytes:
                break
            reply.attempts += 1
            reply.next_attempt_at = now + timedelta(seconds=lease_seconds)
            unconfirmed, reply.unconfirmed = reply.unconfirmed, True
            new = reply.new
            claimed.append(
                ClaimedReply(
                    ticket_message_id=new.ticket_message_id,
                    tenant_id=new.tenant_id,
                    ticket_id=new.ticket_id,
                    message_id=new.message_id,
                    order_id=new.order_id,
                    envelope_sender=new.envelope_sender,
                    recipient=new.recipient,
                    attempts=reply.attempts,
                    mail=new.mail,
                    marketplace=new.marketplace,
                    created_at=new.created_at,
                    unconfirmed=unconfirmed,
                )
            )
        return claimed

    async def next_due_in(self) -> float | None:
        queued = [r.next_attempt_at for r in self.mail.replies.values() if r.status == "QUEUED"]
        if not queued:
            return None
        return max(0.0, (min(queued) - self.clock()).total_seconds())

    def _queued(self, ticket_message_id: str) -> _Reply | None:
        reply = self.mail.replies.get(ticket_message_id)
        return reply if reply is not None and reply.status == "QUEUED" else None

    async def mark_sent(self, ticket_message_id: str) -> datetime | None:
        reply = self._queued(ticket_message_id)
        if reply is None:
            return None
        reply.status, reply.sent_at, reply.last_error = "SENT", self.clock(), None
        external = self.mail.externals[reply.new.external_message_id]
        self.mail.externals[external.id] = msgspec.structs.replace(external, sent_at=reply.sent_at)
        return reply.sent_at

    async def mark_failed(
        self, ticket_message_id: str, reason: str, code: str | None, in_doubt: bool = False
    ) -> bool:
        reply = self._queued(ticket_message_id)
        if reply is None:
            return False
        reply.status, reply.reason, reply.status_code = "FAILED", reason, code
        reply.unconfirmed = in_doubt
        return True

    async def retry_later(
        self, ticket_message_id: str, error: str, delay: float, unconfirmed: bool = False
    ) -> None:
        reply = self._queued(ticket_message_id)
        if reply is not None:
            reply.last_error, reply.unconfirmed = error, unconfirmed
            reply.next_attempt_at = self.clock() + timedelta(seconds=delay)

    async def mark_bounced(
        self,
        ticket_message_id: str,
        reason: str,
        status_code: str | None,
        bounce_external_message_id: str,
    ) -> BouncedReply | None:
        reply = self.mail.replies.get(ticket_message_id)
        if reply is None or reply.status not in ("QUEUED", "SENT"):
            return None
        reply.status, reply.reason, reply.status_code = "BOUNCED", reason, status_code
        new = reply.new
        return BouncedReply(
            ticket_message_id=new.ticket_message_id,
            ticket_id=new.ticket_id,
            message_id=new.message_id,
            order_id=new.order_id,
        )

    async def deliveries(self, tenant_id: str, ticket_id: str) -> dict[str, Delivery]:
        return {
            r.new.ticket_message_id: Delivery(
                status=r.status, reason=r.reason, status_code=r.status_code, sent_at=r.sent_at
            )
            for r in self.mail.replies.values()
            if (r.new.tenant_id, r.new.ticket_id) == (tenant_id, ticket_id)
        }

    async def named_replies(self, tenant_id: str, message_ids: Sequence[str]) -> list[NamedReply]:
        order = list(message_ids)
        named = [
            r.new
            for r in self.mail.replies.values()
            if r.new.tenant_id == tenant_id and r.new.message_id in order
        ]
        return [
            NamedReply(ticket_message_id=n.ticket_message_id, envelope_sender=n.envelope_sender)
            for n in sorted(named, key=lambda n: order.index(n.message_id))
        ]


class RecordingRelay:
    """``replies/ports.Relay``: answers each attempt with the next of ``outcomes`` (the
    last one again once they run out), and keeps what it was given."""

    def __init__(self, *outcomes: Outcome) -> None:
        self.outcomes = list(outcomes) or [Outcome("sent", "250 OK")]
        self.sent: list[ClaimedReply] = []

    async def send(self, reply: ClaimedReply) -> Outcome:
        self.sent.append(reply)
        return self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]


SIGNING_KEY = b"k" * 32
REPLY_CONFIG = ReplyConfig(
    inbound_domain="inbound.keybuzz.test",
    bounce_signing_keys=(SIGNING_KEY,),
    send_batch_bytes=16 * 1024 * 1024,
    lease_seconds=120.0,
    max_attempts=3,
    retry_base_seconds=5.0,
    retry_max_seconds=900.0,
    relay_timeout_seconds=1.0,
)


@dataclass
class FakeMail:
    """The mail side's ports wired to fakes, over the same tables as ``poller``'s."""

    poller: FakePoller
    mailbox: InMemoryMailbox
    cursors: InMemoryCursors
    tickets: InMemoryTickets
    replies: InMemoryReplies
    relay: RecordingRelay
    poll_units: InMemoryUnits[PollWrites]
    reply_units: InMemoryUnits[ReplyWrites]
    ticket_units: InMemoryUnits[TicketStore]
    alerts: InMemoryAlerts
    alert_units: InMemoryUnits[AlertStore]
    polls: PollPorts
    replies_ports: RepliesPorts
    tickets_ports: TicketsPorts
    wakes: list[None]

    @property
    def published(self) -> list[Event]:
        units = (self.poll_units, self.reply_units, self.ticket_units, self.alert_units)
        return [event for u in units for event in u.published]


def fake_mail(fake: FakePoller, clock: Clock, relay: RecordingRelay | None = None) -> FakeMail:
    tables = fake.tables
    mailbox, cursors = InMemoryMailbox(), InMemoryCursors(tables)
    tickets, replies = InMemoryTickets(tables), InMemoryReplies(tables, clock)
    poll_units = InMemoryUnits(tables, PollWrites(cursors, tickets, replies))
    reply_units = InMemoryUnits(tables, ReplyWrites(replies=replies, tickets=tickets))
    ticket_units: InMemoryUnits[TicketStore] = InMemoryUnits(tables, tickets)
    alerts = InMemoryAlerts(tables)
    alert_units: InMemoryUnits[AlertStore] = InMemoryUnits(tables, alerts)
    relay = relay or RecordingRelay()
    wakes: list[None] = []
    return FakeMail(
        poller=fake,
        mailbox=mailbox,
        cursors=cursors,
        tickets=tickets,
        replies=replies,
        relay=relay,
        poll_units=poll_units,
        reply_units=reply_units,
        ticket_units=ticket_units,
        alerts=alerts,
        alert_units=alert_units,
        polls=PollPorts(
            reading=ReadingPorts(mailbox, parse_inline, cursors, poll_units),
            bounce_keys=(SIGNING_KEY,),
            service="poller",
            clock=clock,
        ),
        replies_ports=RepliesPorts(
            replies=replies,
            unit_of_work=reply_units,
            relay=relay,
            config=REPLY_CONFIG,
            memory=ReplyMemory(10**8, 10**7),
            service="poller",
            wake_sender=lambda: wakes.append(None),
            clock=clock,
            send_through_api=send_through_api,  # the real one, on the fake channels
        ),
        tickets_ports=TicketsPorts(
            tickets=tickets,
            unit_of_work=ticket_units,
            alerts=alerts,
            alert_unit_of_work=alert_units,
        ),
        wakes=wakes,
    )
