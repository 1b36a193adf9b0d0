"""In-memory ports of orders for the unit tier (no server). Held to the PostgreSQL adapters
by ``test_notification_store_contract.py``: the same scenarios run on both."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import msgspec
from keybuzz_devstack.fakes import InMemoryUnitOfWork
from keybuzz_orders.domain import ItemRow, OrderRow, supersedes
from keybuzz_orders.ports import NotificationStore, OrdersPorts

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


@dataclass
class FakeOrders:
    notifications: InMemoryNotificationStore
    units: InMemoryUnitOfWork[NotificationStore]
    ports: OrdersPorts


def fake_orders() -> FakeOrders:
    store = InMemoryNotificationStore()
    units: InMemoryUnitOfWork[NotificationStore] = InMemoryUnitOfWork(store)
    return FakeOrders(store, units, OrdersPorts(notification_units=units, clock=lambda: NOW))
