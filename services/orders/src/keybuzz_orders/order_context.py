"""The order a buyer writes about, fetched so that the agent sees it next to the ticket.

An order the tenant has no API row for (none, or one read from a report: no buyer,
no packages) is asked of the marketplace's order source first, outside any transaction:
no database connection waits on the marketplace. Then one unit of work stores what came
back.
The upsert is idempotent and never replaces a newer snapshot, so an event handled
twice, or an order stored meanwhile by a backfill, changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from keybuzz_shared.connectors.names import UNLABELLED_EVENT_MARKETPLACE
from keybuzz_shared.connectors.registry import UnknownMarketplace, connector_for
from prometheus_client import Counter

from keybuzz_orders.order_source import NoSource, OrderSource, source_for
from keybuzz_orders.ports import OrderStore, OrderUnits

log = logging.getLogger(__name__)

MESSAGE_ORDERS = Counter(
    "keybuzz_orders_message_orders",
    "Orders named by buyer messages and missing here, by outcome: fetched, not_found (the "
    "marketplace has no such order for the shop: final), not_connected (no usable key: "
    "the shop's next connection backfills it).",
    ["service", "marketplace", "outcome"],
)
FETCHED, NOT_FOUND, NOT_CONNECTED = "fetched", "not_found", "not_connected"


def count(marketplace: str, outcome: str, orders: int = 1) -> None:
    if orders:
        MESSAGE_ORDERS.labels("orders", marketplace, outcome).inc(orders)


@dataclass(frozen=True)
class OrderContext:
    orders: OrderStore
    units: OrderUnits
    source: OrderSource
    sources: Mapping[str, OrderSource] = field(default_factory=dict)  # the shop APIs'

    async def complete(
        self,
        tenant_id: str,
        order_ids: Collection[str],
        marketplace: str = UNLABELLED_EVENT_MARKETPLACE,
    ) -> list[str]:
        """Fetch and store the tenant's orders among ``order_ids`` we lack; their ids.

        Raises what ``is_outage`` calls an outage (the source, Vault, the database
        down): the caller keeps the event and tries again later.
        """
        source = source_for(self.source, self.sources, marketplace)
        try:
            ids = connector_for(marketplace).order_ids
        except UnknownMarketplace:
            raise NoSource(f"no order source for marketplace {marketplace!r}") from None
        # The order feed is asked only for ids of its format; a shop API finds its own.
        checked = ids if source is self.source else None
        wanted = sorted({o for o in order_ids if o and (checked is None or checked.is_order_id(o))})
        if not wanted:
            return []
        known = await self.orders.known_order_ids(tenant_id, marketplace, wanted)
        missing = [o for o in wanted if o not in known]
        if not missing:
            return []
        fetched = await source.orders_by_ids(tenant_id, missing)
        for order_id, reason in fetched.refused.items():
            # Not this seller's order, or no usable credentials: the ticket stays
            # without its order; retrying would not change the source's answer.
            log.warning(
                "order of a buyer message not fetched: %s",
                reason,
                extra={"tenant_id": tenant_id, "order_id": order_id},
            )
        count(marketplace, NOT_FOUND, len(fetched.refused))
        rows = fetched.orders
        if rows:
            async with self.units() as unit:
                await unit.store.upsert_orders(tenant_id, marketplace, rows)
            log.info(
                "orders of buyer messages fetched",
                extra={"tenant_id": tenant_id, "orders": [r.external_order_id for r in rows]},
            )
        count(marketplace, FETCHED, len(rows))
        return [r.external_order_id for r in rows]
