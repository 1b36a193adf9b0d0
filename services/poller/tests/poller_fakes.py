"""In-memory fakes of the poller's ports (``inbound/ports.py``, ``polling/ports.py``), for
the unit tier. ``test_projection_contract.py`` runs the same scenarios on these and on the
PostgreSQL adapters, so a fake that drifts from the SQL fails there.

The projection and the schedule share one set of tables (:class:`PollerTables`), as they
share the database: a tenant is pollable by what the projection holds of it.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from keybuzz_devstack.fakes import InMemoryUnitOfWork
from keybuzz_poller.inbound.addresses import (
    ProjectedAddress,
    Recipient,
    split_bounce_tag,
    with_bounce_tag,
)
from keybuzz_poller.inbound.ports import InboundPorts, InboundUnit, ProjectionWrites
from keybuzz_poller.polling.domain import PollStatus
from keybuzz_poller.polling.ports import PollingPorts
from keybuzz_poller.polling.store import CLAIM_ROUNDS, PARK_WINDOW
from keybuzz_shared.backoff import backoff_delay
from keybuzz_shared.uow import StoreUnit

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

    def pollable(self, tenant_id: str) -> bool:
        tenant = self.tenants.get(tenant_id)
        return (
            tenant is not None
            and not tenant.archived
            and any(a.enabled for a in self.addresses.values() if a.tenant_id == tenant_id)
        )


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
        self, owner: str, limit: int, lease_seconds: float, interval: float
    ) -> list[str]:
        claimed: list[str] = []
        for _ in range(CLAIM_ROUNDS):
            leased, parked = self._claim_round(owner, limit - len(claimed), lease_seconds, interval)
            claimed += leased
            if len(claimed) == limit or not parked:
                break
        return claimed

    def _claim_round(
        self, owner: str, free: int, lease_seconds: float, interval: float
    ) -> tuple[list[str], list[str]]:
        now = self.clock()
        rows = self.tables.schedule
        due = [t for t, r in rows.items() if r.next_poll_at <= now and self._free(r, now)]
        window = sorted(due, key=lambda t: rows[t].next_poll_at)[: free + PARK_WINDOW]
        leased = [t for t in window if self.tables.pollable(t)][:free]
        parked = [t for t in window if not self.tables.pollable(t)]
        for tenant_id in leased:
            self._lease(rows[tenant_id], owner, lease_seconds, now)
        for tenant_id in parked:
            rows[tenant_id].next_poll_at = now + timedelta(seconds=interval)
        return leased, parked

    async def claim_tenant(self, tenant_id: str, owner: str, lease_seconds: float) -> bool:
        now = self.clock()
        row = self.tables.schedule.get(tenant_id)
        if row is None or not self.tables.pollable(tenant_id) or not self._free(row, now):
            return False
        self._lease(row, owner, lease_seconds, now)
        return True

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

    async def poll_failed(
        self, tenant_id: str, owner: str, error: str, retry_base: float, retry_cap: float
    ) -> None:
        now = self.clock()
        row = self.tables.schedule.get(tenant_id)
        if row is None or row.lease_owner != owner:
            return
        delay = backoff_delay(row.consecutive_failures + 1, base=retry_base, cap=retry_cap)
        row.next_poll_at = now + timedelta(seconds=delay)
        row.lease_owner = row.lease_expires_at = None
        row.last_poll_at = row.last_error_at = now
        row.last_error = error
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


class InMemoryProjectionUnits:
    """The inbound units of work: the projection and the schedule written together, kept
    only when the block returns (``InMemoryUnitOfWork`` over the shared tables)."""

    def __init__(self, tables: PollerTables, writes: ProjectionWrites) -> None:
        self.units = InMemoryUnitOfWork(tables)
        self.writes = writes

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[InboundUnit]:
        async with self.units() as unit:
            yield StoreUnit(self.writes, unit.events)


@dataclass
class FakePoller:
    """The ports wired to fakes, with the fakes at hand for the test's assertions."""

    tables: PollerTables
    projection: InMemoryProjection
    schedule: InMemoryPollSchedule
    units: InMemoryProjectionUnits
    inbound: InboundPorts
    polling: PollingPorts
    wakes: list[None]


POLL_INTERVAL = 60.0


def fake_poller(clock: Clock | None = None) -> FakePoller:
    tables = PollerTables()
    projection = InMemoryProjection(tables)
    schedule = InMemoryPollSchedule(tables, clock or ManualClock())
    units = InMemoryProjectionUnits(tables, ProjectionWrites(projection, schedule))
    wakes: list[None] = []
    return FakePoller(
        tables=tables,
        projection=projection,
        schedule=schedule,
        units=units,
        inbound=InboundPorts(
            projection=projection, unit_of_work=units, poll_interval=POLL_INTERVAL
        ),
        polling=PollingPorts(schedule=schedule, wake=lambda: wakes.append(None)),
        wakes=wakes,
    )
