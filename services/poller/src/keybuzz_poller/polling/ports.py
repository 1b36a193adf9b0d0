"""What polling's use cases use, as ports: the schedule shared by every instance (due
tenants, leases, back-off), a way to wake this instance's scheduler, and for a poll the
reading of the tenant's folder into a unit of work that writes the cursor, the tickets and
the replies a bounce marks (:class:`PollWrites`).

The PostgreSQL adapter is ``polling/store.py``'s ``PostgresPollSchedule``; the unit tier's
in-memory fake is held to it by ``tests/test_projection_contract.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from keybuzz_poller.polling.domain import PollClaim, PollFailure, PollStatus, QuarantinedFolder
from keybuzz_poller.reading.ports import CursorStore, ReadingPorts
from keybuzz_poller.replies.ports import ReplyStore
from keybuzz_poller.tickets.ports import Clock, TicketStore, system_clock


class PollSchedule(Protocol):
    """``poller_poll_status``: when each tenant is due, who holds its lease, how it went.

    A tenant is pollable when the projection knows it, not archived, with an enabled
    address. Leases are held by ``owner`` (an instance) until they expire.
    """

    async def ensure_scheduled(self, tenant_id: str, interval: float) -> None:
        """A new tenant's first poll at a random point of ``interval``; a known one unchanged."""
        ...

    async def poll_soon(self, tenant_id: str) -> None:
        """Due now (``connection.connected``)."""
        ...

    async def mark_delivered(self, tenant_id: str) -> None:
        """The MX stored a mail for the tenant: due now (a poll that claimed it before is
        due again when it ends), and every polling instance woken."""
        ...

    async def claim_due(
        self,
        owner: str,
        limit: int,
        lease_seconds: float,
        interval: float,
        in_backoff: bool | None = None,
        polling: Collection[str] = (),
    ) -> list[str]:
        """Leases up to ``limit`` due pollable tenants whose lease is free or expired, oldest
        due first; a due tenant that is not pollable is parked ``interval`` on.
        ``in_backoff`` True: only tenants whose last poll failed; False: only the others.
        ``polling``: the tenants ``owner`` is polling, never leased again (a lease lapses
        while a starved event loop cannot renew it: a second poll would spend its calls
        twice, and its end would stand for the first's)."""
        ...

    async def claim_tenant(
        self, tenant_id: str, owner: str, lease_seconds: float
    ) -> PollClaim | None:
        """Leases one tenant now, due or not (poll-now); None if leased or not pollable."""
        ...

    async def is_pollable(self, tenant_id: str) -> bool: ...

    async def renew_leases(
        self, owner: str, tenant_ids: Sequence[str], lease_seconds: float
    ) -> None: ...

    async def poll_succeeded(
        self, tenant_id: str, owner: str, fetched: int, interval: float
    ) -> None:
        """Releases ``owner``'s lease and schedules the next poll an interval on (due at once
        when a mail was delivered during the poll); nothing if ``owner`` lost the lease."""
        ...

    async def poll_skipped(self, tenant_id: str, owner: str, interval: float) -> None:
        """Releases ``owner``'s lease, due again an interval from now, no poll recorded
        (its marketplace is not served now, or its pace allows no call yet); nothing if
        ``owner`` lost the lease."""
        ...

    async def seconds_since_poll(self, tenant_id: str) -> float | None:
        """Seconds since the tenant's last poll ended, by the database's clock (every
        instance's); None when it was never polled."""
        ...

    async def poll_failed(self, tenant_id: str, owner: str, failure: PollFailure) -> None:
        """Releases ``owner``'s lease; due again after ``failure``'s delay for the tenant's
        consecutive failures (``PollFailure.delay``)."""
        ...

    async def release_leases(self, owner: str) -> None: ...

    async def poll_status(self, tenant_id: str) -> PollStatus | None:
        """None when the tenant has no schedule row."""
        ...


class QuarantineStore(Protocol):
    """``poller_quarantine``: folders holding mail of tenants the projection does not know."""

    async def unknown_tenants(self, tenant_ids: Sequence[str]) -> set[str]:
        """Those of ``tenant_ids`` the projection has never heard of."""
        ...

    async def record_quarantine(self, folders: dict[str, int]) -> None:
        """The folders now quarantined and their mail count; the others are dropped (a
        folder's first sighting kept while it stays)."""
        ...

    async def quarantined(self) -> list[QuarantinedFolder]:
        """By folder name."""
        ...


@dataclass(frozen=True)
class PollingPorts:
    """What polling's use cases touch; made once per process (``bootstrap.py``)."""

    schedule: PollSchedule
    quarantine: QuarantineStore
    wake: Callable[[], None]  # this instance's scheduler claims at once (if it runs)


@dataclass(frozen=True)
class PollWrites:
    """What one poll's unit of work writes: the cursor, the tickets, the replies bounced."""

    cursors: CursorStore
    tickets: TicketStore
    replies: ReplyStore


@dataclass(frozen=True)
class PollPorts:
    """What a poll of one tenant touches; made once per process (``bootstrap.py``)."""

    reading: ReadingPorts[PollWrites]
    bounce_keys: tuple[bytes, ...]  # the bounce signing secrets (all authenticate)
    service: str  # the label of the poll's metrics
    clock: Clock = field(default=system_clock)  # when a mail is stored
