"""What orders' use cases on ports need: the notifications' store and units of work on it,
the backfill jobs' store, the sellers' marketplaces, a clock.

``bootstrap.py`` assembles the PostgreSQL adapters (``notifications/notification_store.py``);
the unit tests give in-memory fakes, held to the adapters by a shared contract test
(``tests/test_notification_store_contract.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from keybuzz_shared.uow import StoreUnit

from keybuzz_orders.backfill.jobs import JobView
from keybuzz_orders.domain import OrderRow


class NotificationStore(Protocol):
    """What applying an ORDER_CHANGE notification reads and writes."""

    async def tenant_of_seller(self, seller_id: str, marketplace: str) -> str | None:
        """The tenant subscribed for this seller; None once it disconnected."""
        ...

    async def claim_notification(
        self, notification_id: str, tenant_id: str, order_id: str, change_time: datetime
    ) -> bool:
        """False: this notification id was handled before (a duplicate)."""
        ...

    async def apply_summary(self, tenant_id: str, marketplace: str, row: OrderRow) -> bool:
        """True when the order was written: new, or this change supersedes the one held
        (``domain.supersedes``)."""
        ...

    async def note_applied(self, notification_id: str) -> None: ...

    async def want_details(self, tenant_id: str, marketplace: str, order_id: str) -> None:
        """Ask ``getOrder`` for what the summary lacks (one fetch per order however many
        changes)."""
        ...


NotificationUnit = StoreUnit[NotificationStore]


class JobStore(Protocol):
    """What starting a backfill job reads and writes of ``order_backfill_jobs``."""

    async def job_for_event(self, event_id: str) -> JobView | None: ...

    async def running_job(self, tenant_id: str) -> JobView | None: ...

    async def insert_job(
        self,
        *,
        tenant_id: str,
        marketplace: str,
        marketplace_id: str,
        trigger: str,
        days: int,
        created_after: str,
        owner: str,
        lease_seconds: float,
        source_event_id: str | None,
    ) -> JobView | None:
        """The new job, or None when the tenant has a running job or the event started one."""
        ...


class Marketplaces(Protocol):
    """A connected seller's marketplace (its credentials)."""

    async def marketplace_id(self, tenant_id: str) -> str:
        """``CredentialsMissing`` when the tenant has none (not connected, or gone)."""
        ...


@dataclass(frozen=True)
class BackfillPorts:
    jobs: JobStore
    marketplaces: Marketplaces
    clock: Callable[[], datetime]
    lease_seconds: float


@dataclass(frozen=True)
class OrdersPorts:
    """Everything a use case on ports touches; made once per process (``bootstrap.py``)."""

    notification_units: Callable[[], AbstractAsyncContextManager[NotificationUnit]]
    backfill: BackfillPorts
    clock: Callable[[], datetime]
