"""What orders' use cases on ports need: the stores and units of work on them (whose
``emit`` is the publisher: events go to the outbox with the unit's rows), the order source
(a marketplace's orders API), the sellers' marketplaces, a clock.

``bootstrap.py`` assembles the PostgreSQL adapters (``store.py``, ``backfill/store.py``,
``notifications/notification_store.py``) and the connectors' (their ``order_feed``, and
``connector_source.py`` on a ``shop_api``); the unit
tests give in-memory fakes, held to the adapters by shared contract tests
(``tests/test_*_contract.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from keybuzz_shared.app_budgets import RoundPace
from keybuzz_shared.connectors.orders import BuyerMessaging as BuyerMessaging
from keybuzz_shared.connectors.orders import ChangeSubscription as ChangeSubscription
from keybuzz_shared.connectors.orders import Marketplaces as Marketplaces
from keybuzz_shared.connectors.orders import OrderChangeNotifications as OrderChangeNotifications
from keybuzz_shared.connectors.seam import AppCallBudget
from keybuzz_shared.events import Event
from keybuzz_shared.uow import StoreUnit

from keybuzz_orders.backfill.jobs import JobCounts, JobView, PageProgress, ReportState
from keybuzz_orders.domain import OrderRow
from keybuzz_orders.order_source import OrderListing, OrderReports, OrderSource
from keybuzz_orders.settings import OrdersSettings

Clock = Callable[[], datetime]


class Publisher(Protocol):
    """Events to publish: a unit of work's ``emit``, written to the outbox with its rows
    and published once it commits (none if the block raises)."""

    def emit(self, event: Event) -> None: ...


# --- the orders' store --------------------------------------------------------------------


@dataclass(frozen=True)
class SyncCursor:
    """A tenant's incremental sync: the source's cursor, complete up to ``updated_before``."""

    tenant_id: str
    marketplace: str
    marketplace_id: str
    updated_before: datetime


class OrderStore(Protocol):
    """The orders, and the incremental sync's cursors."""

    async def upsert_orders(
        self, tenant_id: str, marketplace: str, rows: Sequence[OrderRow], *, partial: bool = False
    ) -> JobCounts:
        """What storing ``rows`` did (orders, created/updated/unchanged, cancelled, items).
        An order changes only when something changed and the snapshot is not older;
        ``partial`` rows (no buyer, no packages) never erase a full read's data."""
        ...

    async def known_order_ids(
        self, tenant_id: str, marketplace: str, order_ids: Collection[str]
    ) -> set[str]:
        """Those held with a full read (a partial row lacks the buyer and the packages)."""
        ...

    async def start_sync(
        self, tenant_id: str, marketplace: str, marketplace_id: str, cursor: datetime
    ) -> None:
        """A completed backfill hands over: the next round is one interval away."""
        ...

    async def claim_due_syncs(
        self,
        interval_seconds: float,
        tenant_id: str | None = None,
        *,
        paces: Mapping[str, RoundPace] | None = None,
    ) -> list[SyncCursor]:
        """Active cursors whose last round is older than the interval (a marketplace's own
        pace in ``paces``, when it has one there, after what the shop's last round spent:
        ``RoundPace.after``), or ``tenant_id``'s at once, claimed for a round; never a
        tenant whose backfill runs."""
        ...

    async def note_round_calls(self, tenant_id: str, marketplace: str, calls: int) -> None:
        """The calls the shop's round made, counted as sent: its next round follows them."""
        ...

    async def syncing_shops(self, marketplace: str) -> int:
        """The marketplace's active sync cursors: the shops whose order syncs share its
        application call budget."""
        ...

    async def advance_sync(self, cursor: SyncCursor, to: datetime, seen: int) -> bool:
        """False when another round moved it first."""
        ...

    async def note_sync_error(
        self, tenant_id: str, marketplace: str, error: str, *, stop: bool
    ) -> None: ...

    async def stop_sync(self, tenant_id: str, reason: str, marketplace: str | None = None) -> None:
        """The tenant's cursors (of ``marketplace`` only, when given) stop."""
        ...

    async def marketplace_of(self, tenant_id: str, order_id: str) -> str | None:
        """The marketplace id of the tenant's order; None: no such order (or none known)."""
        ...

    async def purge_received(self, tenant_id: str, marketplace: str) -> int:
        """Deletes the tenant's orders of ``marketplace`` (their lines and pending detail
        fetches too); returns how many orders."""
        ...


OrderUnit = StoreUnit[OrderStore]
OrderUnits = Callable[[], AbstractAsyncContextManager[OrderUnit]]


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


@dataclass(frozen=True)
class HeldSubscription:
    """A seller's ORDER_CHANGE subscription as ``order_subscriptions`` holds it."""

    status: str  # ACTIVE | DELETED
    region: str
    subscription_id: str | None


class SubscriptionStore(Protocol):
    """Which tenant a notification's seller is (``order_subscriptions``)."""

    async def save_subscription(
        self,
        tenant_id: str,
        marketplace: str,
        seller_id: str,
        region: str,
        subscription_id: str,
        destination_id: str,
    ) -> None: ...

    async def subscription(self, tenant_id: str, marketplace: str) -> HeldSubscription | None: ...

    async def end_subscription(self, tenant_id: str, marketplace: str) -> None:
        """DELETED: the seller's notifications still queued are dropped when they come."""
        ...


@dataclass(frozen=True)
class SubscriptionPorts:
    store: SubscriptionStore
    notifications: OrderChangeNotifications


@dataclass(frozen=True)
class DetailFetch:
    """An order whose details (``getOrder``) are wanted since ``wanted_at``."""

    tenant_id: str
    marketplace: str
    order_id: str
    wanted_at: datetime


class DetailStore(OrderStore, Protocol):
    """The orders, and the fetches of their details a notification asked for."""

    async def want_details(self, tenant_id: str, marketplace: str, order_id: str) -> None: ...

    async def claim_detail_fetches(self, limit: int, lease_seconds: float) -> list[DetailFetch]:
        """Due fetches (oldest wish first), leased: another instance takes them once the
        lease lapses."""
        ...

    async def detail_fetched(self, fetch: DetailFetch) -> None:
        """Done, unless it was wanted again meanwhile (then it is fetched again)."""
        ...

    async def pending_detail_fetches(self) -> int: ...


@dataclass(frozen=True)
class DetailPorts:
    fetches: DetailStore  # outside a unit: one statement each
    units: Callable[[], AbstractAsyncContextManager[StoreUnit[DetailStore]]]
    source: OrderSource


class JobStore(Protocol):
    """``order_backfill_jobs``: starting a job, and running it under a lease. The steps
    that return a job return None when it is not ``owner``'s to run (cancelled, or taken
    over once the lease lapsed): the caller's unit of work is rolled back."""

    async def job_for_event(self, event_id: str) -> JobView | None: ...

    async def running_job(self, tenant_id: str, marketplace: str) -> JobView | None: ...

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

    async def get_job(self, job_id: str) -> JobView | None: ...

    async def checkpoint_job(
        self,
        job_id: str,
        owner: str,
        p: PageProgress,
        lease_seconds: float,
        strategy: tuple[str, str] | None = None,
    ) -> JobView | None:
        """One page's counts and token; a page without a next token completes the job."""
        ...

    async def advance_job(
        self, job_id: str, owner: str, p: PageProgress, state: ReportState, lease_seconds: float
    ) -> JobView | None:
        """A step of a REPORT job: never completes it (its tail does)."""
        ...

    async def restart_window(self, job_id: str, owner: str) -> None: ...

    async def switch_to_orders_v0(self, job_id: str, owner: str, reason: str) -> None: ...

    async def note_error(self, job_id: str, owner: str, error: str, waits: int) -> None: ...

    async def end_job(
        self, job_id: str, status: str, reason: str, owner: str | None
    ) -> JobView | None:
        """FAILED/CANCELLED with the reason; ``owner`` None: whoever runs it."""
        ...

    async def claim_orphans(self, owner: str, lease_seconds: float) -> list[str]:
        """Running jobs nobody holds (released, or their lease lapsed), now ``owner``'s."""
        ...

    async def renew_leases(self, owner: str, lease_seconds: float) -> None: ...

    async def release_jobs(self, owner: str) -> None: ...

    async def running_jobs_of(self, tenant_id: str) -> list[str]: ...


class BackfillStore(OrderStore, JobStore, Protocol):
    """A backfill step's unit of work: its orders and its job's checkpoint commit together."""


BackfillUnit = StoreUnit[BackfillStore]


@dataclass(frozen=True)
class BackfillPorts:
    jobs: JobStore  # outside a unit: one statement each
    marketplaces: Marketplaces
    clock: Clock
    lease_seconds: float
    units: Callable[[], AbstractAsyncContextManager[BackfillUnit]]
    source: OrderListing
    fallback: OrderListing  # when the source's listing is refused to us
    reports: OrderReports
    settings: OrdersSettings
    # The shop APIs' order sources by marketplace (order_source.source_for).
    sources: Mapping[str, OrderListing] = field(default_factory=dict)


def no_budgets() -> dict[str, AppCallBudget]:
    return {}


@dataclass(frozen=True)
class SyncPorts:
    orders: OrderStore  # outside a unit: one statement each
    units: OrderUnits
    source: OrderListing
    page_size: int
    interval_seconds: float
    sources: Mapping[str, OrderListing] = field(default_factory=dict)
    # Each marketplace whose order API limits the application's calls a day, every shop's
    # together (its connector's ``order_calls``), as served now.
    budgets: Callable[[], Mapping[str, AppCallBudget]] = no_budgets


@dataclass(frozen=True)
class OrdersPorts:
    """Everything a use case on ports touches; made once per process (``bootstrap.py``)."""

    notification_units: Callable[[], AbstractAsyncContextManager[NotificationUnit]]
    backfill: BackfillPorts
    sync: SyncPorts
    orders: OrderStore
    order_units: OrderUnits
    source: OrderSource
    details: DetailPorts
    clock: Clock
    sources: Mapping[str, OrderSource] = field(default_factory=dict)
