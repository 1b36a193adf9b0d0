"""SQL of the order change notifications: subscriptions, applied notifications, detail fetches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from keybuzz_orders.domain import LIFECYCLE, ItemRow, OrderRow
from keybuzz_orders.ports import DetailFetch, HeldSubscription
from keybuzz_orders.store import Conn, PostgresOrderStore

# --- subscriptions --------------------------------------------------------------------------


async def tenant_of_seller(conn: Conn, seller_id: str, marketplace: str) -> str | None:
    """The tenant subscribed for this seller; None once it disconnected."""
    value = await conn.fetchval(
        "SELECT tenant_id FROM order_subscriptions"
        " WHERE seller_id = $1 AND marketplace = $2 AND status = 'ACTIVE'",
        seller_id,
        marketplace,
    )
    return None if value is None else str(value)


# --- applying a notification ----------------------------------------------------------------


async def claim_notification(
    conn: Conn,
    notification_id: str,
    tenant_id: str,
    order_id: str,
    change_time: datetime,
) -> bool:
    """False: this notification was handled before (a duplicate). Blocks while another
    instance's transaction holds the same id, then sees its row: applied once."""
    inserted = await conn.fetchval(
        """
INSERT INTO order_notifications (notification_id, tenant_id, external_order_id, change_time,
                                 outcome)
VALUES ($1, $2, $3, $4, 'STALE')
ON CONFLICT (notification_id) DO NOTHING
RETURNING true
""",
        notification_id,
        tenant_id,
        order_id,
        change_time,
    )
    return bool(inserted)


async def note_applied(conn: Conn, notification_id: str) -> None:
    await conn.execute(
        "UPDATE order_notifications SET outcome = 'APPLIED' WHERE notification_id = $1",
        notification_id,
    )


# domain.supersedes in SQL: (change time, lifecycle step) against the row's.
_LIFECYCLE = ",".join(f"'{status.value}'" for status in LIFECYCLE)
_RANK = f"array_position(ARRAY[{_LIFECYCLE}]::order_status[], {{}})"

# The summary of a notification: a new order is stored as a partial row (source REPORT:
# getOrder completes it, message.received lookups do not take it as known); a known one
# gets its status, channel and ship-by. Only a change that supersedes the row's writes.
APPLY_SUMMARY = f"""
INSERT INTO orders (tenant_id, marketplace, source, external_order_id, order_ref,
                    marketplace_id, order_date, marketplace_updated_at, order_status, marketplace_status,
                    fulfillment_channel, delivery_status, ship_by)
VALUES ($1, $2, 'REPORT', $3, $4, $5, $6, $7, $8::order_status, $9, $10,
        $11::order_delivery_status, $12)
ON CONFLICT (tenant_id, marketplace, external_order_id) DO UPDATE SET
    marketplace_updated_at = EXCLUDED.marketplace_updated_at,
    order_status = EXCLUDED.order_status,
    marketplace_status = EXCLUDED.marketplace_status,
    fulfillment_channel = coalesce(EXCLUDED.fulfillment_channel, orders.fulfillment_channel),
    delivery_status = CASE WHEN orders.order_status = EXCLUDED.order_status
                           THEN orders.delivery_status ELSE EXCLUDED.delivery_status END,
    ship_by = coalesce(EXCLUDED.ship_by, orders.ship_by),
    updated_at = now()
WHERE (EXCLUDED.marketplace_updated_at, {_RANK.format("EXCLUDED.order_status")})
    > (orders.marketplace_updated_at, {_RANK.format("orders.order_status")})
RETURNING id
"""  # noqa: S608 - constants of this module, values are parameters

# Items as the summary knows them (id, SKU, quantity); getOrder adds ASIN, title, price.
APPLY_ITEMS = """
INSERT INTO order_items (order_id, external_item_id, sku, quantity)
SELECT $1, t.external_item_id, t.sku, t.quantity
FROM unnest($2::text[], $3::text[], $4::int[]) AS t(external_item_id, sku, quantity)
ON CONFLICT (order_id, external_item_id) DO UPDATE SET
    quantity = EXCLUDED.quantity, sku = coalesce(EXCLUDED.sku, order_items.sku),
    updated_at = now()
WHERE order_items.quantity IS DISTINCT FROM EXCLUDED.quantity
"""


async def apply_summary(conn: Conn, tenant_id: str, marketplace: str, row: OrderRow) -> bool:
    """True when the order was written (new, or this change is newer than what we hold)."""
    order_id = await conn.fetchval(
        APPLY_SUMMARY,
        tenant_id,
        marketplace,
        row.external_order_id,
        row.order_ref,
        row.marketplace_id,
        row.order_date,
        row.marketplace_updated_at,
        row.order_status.value,
        row.marketplace_status,
        row.fulfillment_channel,
        row.delivery_status.value if row.delivery_status else None,
        row.ship_by,
    )
    if order_id is None:
        return False
    await _apply_items(conn, order_id, row.items)
    return True


async def _apply_items(conn: Conn, order_id: object, items: Sequence[ItemRow]) -> None:
    await conn.execute(
        APPLY_ITEMS,
        order_id,
        [i.external_item_id for i in items],
        [i.sku for i in items],
        [i.quantity for i in items],
    )


async def forget_notifications(conn: Conn, older_than_days: int = 14) -> None:
    await conn.execute(
        "DELETE FROM order_notifications WHERE received_at < now() - make_interval(days => $1)",
        older_than_days,
    )


class PostgresNotificationStore:
    """``ports.NotificationStore`` on a connection (a unit of work's) or the pool."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def tenant_of_seller(self, seller_id: str, marketplace: str) -> str | None:
        return await tenant_of_seller(self.conn, seller_id, marketplace)

    async def claim_notification(
        self, notification_id: str, tenant_id: str, order_id: str, change_time: datetime
    ) -> bool:
        return await claim_notification(
            self.conn, notification_id, tenant_id, order_id, change_time
        )

    async def apply_summary(self, tenant_id: str, marketplace: str, row: OrderRow) -> bool:
        return await apply_summary(self.conn, tenant_id, marketplace, row)

    async def note_applied(self, notification_id: str) -> None:
        await note_applied(self.conn, notification_id)

    async def want_details(self, tenant_id: str, marketplace: str, order_id: str) -> None:
        await want_details(self.conn, tenant_id, marketplace, order_id)

    async def save_subscription(
        self,
        tenant_id: str,
        marketplace: str,
        seller_id: str,
        region: str,
        subscription_id: str,
        destination_id: str,
    ) -> None:
        await self.conn.execute(
            """
INSERT INTO order_subscriptions (tenant_id, marketplace, seller_id, region, subscription_id,
                                 destination_id)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (tenant_id, marketplace) DO UPDATE SET
    seller_id = EXCLUDED.seller_id, region = EXCLUDED.region,
    subscription_id = EXCLUDED.subscription_id, destination_id = EXCLUDED.destination_id,
    status = 'ACTIVE', updated_at = now()
""",
            tenant_id,
            marketplace,
            seller_id,
            region,
            subscription_id,
            destination_id,
        )

    async def subscription(self, tenant_id: str, marketplace: str) -> HeldSubscription | None:
        row = await self.conn.fetchrow(
            "SELECT status, region, subscription_id FROM order_subscriptions"
            " WHERE tenant_id = $1 AND marketplace = $2",
            tenant_id,
            marketplace,
        )
        return None if row is None else HeldSubscription(*row)

    async def end_subscription(self, tenant_id: str, marketplace: str) -> None:
        await self.conn.execute(
            "UPDATE order_subscriptions SET status = 'DELETED', subscription_id = NULL,"
            " updated_at = now() WHERE tenant_id = $1 AND marketplace = $2",
            tenant_id,
            marketplace,
        )


# --- detail fetches (getOrder) ----------------------------------------------------------------


async def want_details(conn: Conn, tenant_id: str, marketplace: str, order_id: str) -> None:
    await conn.execute(
        """
INSERT INTO order_detail_fetches (tenant_id, marketplace, external_order_id)
VALUES ($1, $2, $3)
ON CONFLICT (tenant_id, marketplace, external_order_id) DO UPDATE SET wanted_at = now()
""",
        tenant_id,
        marketplace,
        order_id,
    )


class PostgresDetailStore(PostgresOrderStore):
    """``ports.DetailStore`` on a connection (a unit of work's) or the pool."""

    async def want_details(self, tenant_id: str, marketplace: str, order_id: str) -> None:
        await want_details(self.conn, tenant_id, marketplace, order_id)

    async def claim_detail_fetches(self, limit: int, lease_seconds: float) -> list[DetailFetch]:
        rows = await self.conn.fetch(
            """
UPDATE order_detail_fetches f SET leased_until = now() + make_interval(secs => $2),
                                  attempts = f.attempts + 1
FROM (SELECT tenant_id, marketplace, external_order_id FROM order_detail_fetches
      WHERE leased_until IS NULL OR leased_until < now()
      ORDER BY wanted_at LIMIT $1 FOR UPDATE SKIP LOCKED) due
WHERE (f.tenant_id, f.marketplace, f.external_order_id)
    = (due.tenant_id, due.marketplace, due.external_order_id)
RETURNING f.tenant_id, f.marketplace, f.external_order_id, f.wanted_at
""",
            limit,
            lease_seconds,
        )
        return [DetailFetch(r[0], r[1], r[2], r[3]) for r in rows]

    async def detail_fetched(self, fetch: DetailFetch) -> None:
        await self.conn.execute(
            "DELETE FROM order_detail_fetches WHERE tenant_id = $1 AND marketplace = $2"
            " AND external_order_id = $3 AND wanted_at <= $4",
            fetch.tenant_id,
            fetch.marketplace,
            fetch.order_id,
            fetch.wanted_at,
        )

    async def pending_detail_fetches(self) -> int:
        return int(await self.conn.fetchval("SELECT count(*) FROM order_detail_fetches"))
