"""Event subscribers of the orders service.

- ``connection.connected`` starts the tenant's backfill (BACKFILL_DAYS); a redelivered
  event returns the job it already started.
- ``connection.disconnected`` / ``connection.reauth_required`` cancel the tenant's jobs.
- ``message.received`` with an ``orderId`` we do not have: fetch that order, so the
  agent sees it next to the ticket (``order_context``). One event at a time (a
  tenant's in order, tenants side by side): Amazon is asked before the unit of work
  that stores the order opens, which a batch handler's transaction would not allow.
"""

from __future__ import annotations

import logging
from typing import Any

from keybuzz_shared.amazon import CredentialsMissing
from keybuzz_shared.events import (
    ConnectionConnected,
    ConnectionDisconnected,
    ConnectionReauthRequired,
    MessageReceived,
)
from keybuzz_shared.ids import AMAZON
from keybuzz_shared.messaging import Delivery, EventSubscription
from keybuzz_shared.service import Runtime

from keybuzz_orders.backfill.backfill import Backfills
from keybuzz_orders.order_context import OrderContext
from keybuzz_orders.sync import OrderSync

log = logging.getLogger(__name__)


def register(runtime: Runtime[Any]) -> None:
    async def on_connected(event: ConnectionConnected, delivery: Delivery) -> None:
        if event.marketplace != AMAZON:
            return
        backfills = runtime.component(Backfills)
        try:
            await backfills.start(
                event.tenant_id,
                runtime.settings.backfill_days,
                trigger=ConnectionConnected.SUBJECT,
                source_event_id=event.event_id,
            )
        except CredentialsMissing as exc:
            # Disconnected again before we got here: nothing to import, nothing to retry.
            log.warning("no backfill: %s", exc, extra={"tenant_id": event.tenant_id})

    async def on_disconnected(event: ConnectionDisconnected, delivery: Delivery) -> None:
        if event.marketplace == AMAZON:
            reason = f"{event.type or 'connection.disconnected'}: {event.reason or 'no reason'}"
            await runtime.component(Backfills).stop_tenant(event.tenant_id, reason)
            await runtime.component(OrderSync).stop(event.tenant_id, reason)

    async def on_message(event: MessageReceived, delivery: Delivery) -> None:
        if event.marketplace == AMAZON and event.order_id:
            await runtime.component(OrderContext).complete(event.tenant_id, [event.order_id])

    EventSubscription(
        runtime, event_type=ConnectionConnected, handler=on_connected, purpose="backfill"
    )
    EventSubscription(
        runtime,
        event_type=ConnectionDisconnected,
        handler=on_disconnected,
        purpose="stop-backfill-disconnected",
    )
    EventSubscription(
        runtime,
        event_type=ConnectionReauthRequired,
        handler=on_disconnected,  # type: ignore[arg-type]  # a subclass: same handling
        purpose="stop-backfill-reauth",
    )
    EventSubscription(
        runtime,
        event_type=MessageReceived,
        handler=on_message,
        purpose="order-context",
        batch_size=64,
    )
