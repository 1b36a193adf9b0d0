"""Event subscribers of the orders service.

- ``connection.connected`` starts the tenant's backfill (BACKFILL_DAYS); a redelivered
  event returns the job it already started.
- ``connection.disconnected`` / ``connection.reauth_required`` cancel the tenant's jobs.
- ``message.received`` with an ``orderId`` we do not have: fetch that order, so the
  agent sees it next to the ticket. One batch, one unit of work (the frame's batch
  handler); a batch that fails is retried event by event.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from keybuzz_shared.amazon import AmazonAuthError, CredentialsMissing, SpApiClient, SpApiError
from keybuzz_shared.errors import is_outage
from keybuzz_shared.events import (
    ConnectionConnected,
    ConnectionDisconnected,
    ConnectionReauthRequired,
    MessageReceived,
)
from keybuzz_shared.ids import AMAZON
from keybuzz_shared.messaging import Delivered, Delivery, EventSubscription
from keybuzz_shared.service import Runtime
from keybuzz_shared.uow import UnitOfWork

from keybuzz_orders import metrics, store
from keybuzz_orders.backfill import Backfills
from keybuzz_orders.domain import is_order_id, order_row

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
            await store.stop_sync(runtime.pool, event.tenant_id, reason)
            metrics.sync_stopped(event.tenant_id)

    async def on_messages(uow: UnitOfWork, batch: Sequence[Delivered[MessageReceived]]) -> None:
        await fetch_unknown_orders(runtime.component(SpApiClient), uow, batch)

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
        batch_handler=on_messages,
        purpose="order-context",
        batch_size=64,
    )


async def fetch_unknown_orders(
    spapi: SpApiClient, uow: UnitOfWork, batch: Sequence[Delivered[MessageReceived]]
) -> None:
    wanted: dict[str, set[str]] = defaultdict(set)
    for item in batch:
        event = item.event
        if event.marketplace == AMAZON and event.order_id and is_order_id(event.order_id):
            wanted[event.tenant_id].add(event.order_id)
    for tenant_id, order_ids in wanted.items():
        known = await store.known_order_ids(uow.conn, tenant_id, AMAZON, sorted(order_ids))
        rows = []
        for order_id in sorted(order_ids - known):
            try:
                order = await spapi.get_order(tenant_id, order_id)
            except (AmazonAuthError, SpApiError) as exc:
                if is_outage(exc):
                    raise  # the frame keeps the batch and retries once Amazon is back
                # Not this seller's order, or no usable credentials: the ticket stays
                # without its order; retrying would not change Amazon's answer.
                log.warning(
                    "order of a buyer message not fetched: %s",
                    exc,
                    extra={"tenant_id": tenant_id, "order_id": order_id},
                )
                continue
            rows.append(order_row(order))
        if rows:
            await store.upsert_orders(uow.conn, tenant_id, AMAZON, rows)
            log.info(
                "orders of buyer messages fetched",
                extra={"tenant_id": tenant_id, "orders": [r.external_order_id for r in rows]},
            )
