"""The one place orders' ports are assembled: the PostgreSQL adapters on the service's
units of work, and the clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from keybuzz_shared.service import Runtime
from keybuzz_shared.uow import store_unit_of_work

from keybuzz_orders.notifications.notification_store import PostgresNotificationStore
from keybuzz_orders.ports import OrdersPorts


def assemble(runtime: Runtime[Any]) -> OrdersPorts:
    """``on_startup``, before the components that take the ports."""
    ports = OrdersPorts(
        notification_units=store_unit_of_work(runtime.unit_of_work, PostgresNotificationStore),
        clock=lambda: datetime.now(UTC),
    )
    runtime.provide(ports)
    return ports


def ports_of(runtime: Runtime[Any]) -> OrdersPorts:
    return runtime.component(OrdersPorts)
