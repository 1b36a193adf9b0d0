"""The order a buyer writes about, fetched so that the agent sees it next to the ticket.

An order the tenant has no API row for (none, or one read from a report: no buyer,
no packages) is asked of Amazon (``getOrder``) first, outside any transaction: no
database connection waits on Amazon. Then one unit of work stores what came back.
The upsert is idempotent and never replaces a newer snapshot, so an event handled
twice, or an order stored meanwhile by a backfill, changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from keybuzz_shared.amazon import AmazonAuthError, SpApiClient, SpApiError
from keybuzz_shared.errors import is_outage
from keybuzz_shared.ids import AMAZON, is_amazon_order_id
from keybuzz_shared.service import Runtime

from keybuzz_orders import store
from keybuzz_orders.domain import OrderRow, order_row

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrderContext:
    runtime: Runtime[Any]
    spapi: SpApiClient

    async def complete(self, tenant_id: str, order_ids: Collection[str]) -> list[str]:
        """Fetch and store the tenant's orders among ``order_ids`` we lack; their ids.

        Raises what ``is_outage`` calls an outage (Amazon, LWA, Vault, the database
        down): the caller keeps the event and tries again later.
        """
        wanted = sorted({o for o in order_ids if is_amazon_order_id(o)})
        if not wanted:
            return []
        known = await store.known_order_ids(self.runtime.pool, tenant_id, AMAZON, wanted)
        rows = [row for o in wanted if o not in known and (row := await self._fetch(tenant_id, o))]
        if rows:
            async with self.runtime.unit_of_work() as uow:
                await store.upsert_orders(uow.conn, tenant_id, AMAZON, rows)
            log.info(
                "orders of buyer messages fetched",
                extra={"tenant_id": tenant_id, "orders": [r.external_order_id for r in rows]},
            )
        return [r.external_order_id for r in rows]

    async def _fetch(self, tenant_id: str, order_id: str) -> OrderRow | None:
        try:
            return order_row(await self.spapi.get_order(tenant_id, order_id))
        except (AmazonAuthError, SpApiError) as exc:
            if is_outage(exc):
                raise
            # Not this seller's order, or no usable credentials: the ticket stays
            # without its order; retrying would not change Amazon's answer.
            log.warning(
                "order of a buyer message not fetched: %s",
                exc,
                extra={"tenant_id": tenant_id, "order_id": order_id},
            )
            return None
