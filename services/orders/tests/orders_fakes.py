"""In-memory ports of orders for the unit tier (no server). Held to the PostgreSQL adapters
by ``test_notification_store_contract.py``: the same scenarios run on both."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import msgspec
from keybuzz_devstack.fakes import InMemoryUnitOfWork
from keybuzz_orders.backfill.jobs import JobCounts, JobView
from keybuzz_orders.domain import ItemRow, OrderRow, supersedes
from keybuzz_orders.ports import BackfillPorts, NotificationStore, OrdersPorts
from keybuzz_shared.amazon import CredentialsMissing
from keybuzz_shared.vault import tenant_credentials_path

S = TypeVar("S", bound=msgspec.Struct)
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@dataclass
class HeldOrder:
    """What the summary upsert keeps of an order (the columns a notification writes)."""

    row: OrderRow
    items: dict[str, ItemRow] = field(default_factory=dict)


class InMemoryNotificationStore:
    def __init__(self) -> None:
        self.sellers: dict[tuple[str, str], str] = {}  # (seller, marketplace) -> active tenant
        self.notifications: dict[str, str] = {}  # id -> STALE | APPLIED
        self.orders: dict[tuple[str, str, str], HeldOrder] = {}
        self.wanted: set[tuple[str, str, str]] = set()

    def subscribe(self, tenant_id: str, seller_id: str, marketplace: str) -> None:
        self.sellers[(seller_id, marketplace)] = tenant_id

    async def tenant_of_seller(self, seller_id: str, marketplace: str) -> str | None:
        return self.sellers.get((seller_id, marketplace))

    async def claim_notification(
        self, notification_id: str, tenant_id: str, order_id: str, change_time: datetime
    ) -> bool:
        if notification_id in self.notifications:
            return False
        self.notifications[notification_id] = "STALE"
        return True

    async def apply_summary(self, tenant_id: str, marketplace: str, row: OrderRow) -> bool:
        key = (tenant_id, marketplace, row.external_order_id)
        held = self.orders.get(key)
        if held is None:
            self.orders[key] = held = HeldOrder(row)
        else:
            old = held.row
            if not supersedes(
                row.amazon_updated_at, row.order_status, old.amazon_updated_at, old.order_status
            ):
                return False
            same_status = old.order_status is row.order_status
            held.row = _replace(
                old,
                amazon_updated_at=row.amazon_updated_at,
                order_status=row.order_status,
                amazon_status=row.amazon_status,
                fulfillment_channel=row.fulfillment_channel or old.fulfillment_channel,
                delivery_status=old.delivery_status if same_status else row.delivery_status,
                ship_by=row.ship_by or old.ship_by,
            )
        for item in row.items:
            known = held.items.get(item.external_item_id)
            held.items[item.external_item_id] = _replace(
                known or item, quantity=item.quantity, sku=item.sku or (known and known.sku)
            )
        return True

    async def note_applied(self, notification_id: str) -> None:
        self.notifications[notification_id] = "APPLIED"

    async def want_details(self, tenant_id: str, marketplace: str, order_id: str) -> None:
        self.wanted.add((tenant_id, marketplace, order_id))


def _replace(struct: S, **changes: object) -> S:
    return msgspec.structs.replace(struct, **changes)


class InMemoryJobStore:
    """Jobs by id, with the table's two rules: one RUNNING job per tenant, one job per event."""

    def __init__(self) -> None:
        self.jobs: dict[str, JobView] = {}
        self.events: dict[str, str] = {}  # source event id -> job id

    async def job_for_event(self, event_id: str) -> JobView | None:
        job_id = self.events.get(event_id)
        return None if job_id is None else self.jobs[job_id]

    async def running_job(self, tenant_id: str) -> JobView | None:
        return next(
            (j for j in self.jobs.values() if j.tenant_id == tenant_id and j.status == "RUNNING"),
            None,
        )

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
        if await self.running_job(tenant_id) or (source_event_id in self.events):
            return None
        job = JobView(
            job_id=f"job-{len(self.jobs) + 1}", tenant_id=tenant_id, status="RUNNING",
            trigger=trigger, days=days, created_after=created_after, created_before=None,
            newest_order_at=None, last_error=None, reason=None, started_at=NOW, updated_at=NOW,
            finished_at=None, strategy=None, strategy_reason=None, phase=None,
            report_windows=None, counts=JobCounts(),
        )  # fmt: skip
        self.jobs[job.job_id] = job
        if source_event_id:
            self.events[source_event_id] = job.job_id
        return job

    def end(self, job_id: str, status: str) -> None:
        self.jobs[job_id] = _replace(self.jobs[job_id], status=status)


class InMemoryMarketplaces:
    def __init__(self) -> None:
        self.connected: dict[str, str] = {}  # tenant -> marketplace id

    async def marketplace_id(self, tenant_id: str) -> str:
        if tenant_id not in self.connected:
            raise CredentialsMissing(tenant_id, tenant_credentials_path(tenant_id))
        return self.connected[tenant_id]


@dataclass
class FakeOrders:
    notifications: InMemoryNotificationStore
    units: InMemoryUnitOfWork[NotificationStore]
    jobs: InMemoryJobStore
    marketplaces: InMemoryMarketplaces
    ports: OrdersPorts


def fake_orders() -> FakeOrders:
    store = InMemoryNotificationStore()
    units: InMemoryUnitOfWork[NotificationStore] = InMemoryUnitOfWork(store)
    jobs, marketplaces = InMemoryJobStore(), InMemoryMarketplaces()
    backfill = BackfillPorts(jobs, marketplaces, clock=lambda: NOW, lease_seconds=120.0)
    ports = OrdersPorts(notification_units=units, backfill=backfill, clock=lambda: NOW)
    return FakeOrders(store, units, jobs, marketplaces, ports)
