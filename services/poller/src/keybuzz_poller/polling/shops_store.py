"""All SQL of marketplace shops' polling (asyncpg): their schedule (``PostgresPollSchedule``
on ``poller_shops``) and their connection state (``shops/connection_ports.py``'s ``ShopConnections``)."""

from __future__ import annotations

from datetime import datetime

from keybuzz_shared.db import Executor

from keybuzz_poller.polling.store import PollTable, PostgresPollSchedule
from keybuzz_poller.shops.connection_ports import CONNECTED, ShopStatus
from keybuzz_poller.shops.domain import Shop

# A shop is polled while connected and its tenant not archived (a tenant the projection
# has not heard of yet is polled: its connection says it exists). Paced: a marketplace
# counts a shop's listings per interval from the calls it saw (an operator's frequency), so
# a poll claimed sooner after its time than the last one would land inside it (a 429).
SHOPS = PollTable(
    "poller_shops",
    "poll_key",
    f"""s.connection = '{CONNECTED}' AND NOT EXISTS (
        SELECT 1 FROM poller_tenants t WHERE t.tenant_id = s.tenant_id AND t.archived)""",
    paced=True,
)


# What a shop's polls brought a tenant, children before parents (the foreign keys).
_SHOP_TICKETS = "SELECT id FROM poller_tickets WHERE tenant_id = $1 AND marketplace = $2"
_SHOP_MESSAGES = "SELECT id FROM poller_external_messages WHERE tenant_id = $1 AND marketplace = $2"
_FORGET_RECEIVED = (
    f"DELETE FROM poller_response_alerts WHERE ticket_id IN ({_SHOP_TICKETS})",
    "DELETE FROM poller_incidents WHERE tenant_id = $1 AND marketplace = $2",
    f"DELETE FROM poller_replies WHERE ticket_id IN ({_SHOP_TICKETS})",
    f"DELETE FROM poller_ticket_messages WHERE ticket_id IN ({_SHOP_TICKETS})",
    f"DELETE FROM poller_message_attachments WHERE external_message_id IN ({_SHOP_MESSAGES})",
    "DELETE FROM poller_external_messages WHERE tenant_id = $1 AND marketplace = $2",
)
_FORGET_TICKETS = """
WITH gone AS (DELETE FROM poller_tickets WHERE tenant_id = $1 AND marketplace = $2 RETURNING id)
SELECT coalesce(array_agg(id), '{}') FROM gone
"""
# No foreign key holds a ticket message to its ticket (migration 020). A poll that re-opened
# one of the tickets committed its new messages (and their mails) while the DELETE above
# waited for it, after the statements before it had looked: they go too, in a statement
# of its own, which sees them.
_FORGET_LATE_MESSAGES = """
WITH late AS (
    DELETE FROM poller_ticket_messages WHERE ticket_id = ANY($1::text[])
    RETURNING external_message_id
),
files AS (
    DELETE FROM poller_message_attachments
    WHERE external_message_id IN (SELECT external_message_id FROM late)
)
DELETE FROM poller_external_messages WHERE id IN (SELECT external_message_id FROM late)
"""


class PostgresShopSchedule(PostgresPollSchedule):
    """The shops' schedule: rows come from ``connect``, never from a poll."""

    def __init__(self, db: Executor) -> None:
        super().__init__(db, SHOPS)

    async def ensure_scheduled(self, tenant_id: str, interval: float) -> None:
        """A shop is scheduled when it connects."""

    async def poll_soon(self, tenant_id: str) -> None:
        await self.db.execute(
            "UPDATE poller_shops SET next_poll_at = now() WHERE poll_key = $1", tenant_id
        )

    async def mark_delivered(self, tenant_id: str) -> None:
        """Nothing is delivered to a shop: the same as ``poll_soon``."""
        await self.poll_soon(tenant_id)

    async def is_pollable(self, tenant_id: str) -> bool:
        return bool(
            await self.db.fetchval(
                f"SELECT true FROM poller_shops s WHERE s.poll_key = $1 AND {SHOPS.pollable}",
                tenant_id,
            )
        )


class PostgresShops:
    """``shops/connection_ports.py``'s ``ShopConnections`` on PostgreSQL."""

    def __init__(self, db: Executor) -> None:
        self.db = db

    async def connect(self, shop: Shop, seller_id: str, as_of: datetime) -> bool:
        applied = await self.db.fetchval(
            """
            INSERT INTO poller_shops (poll_key, tenant_id, marketplace, seller_id, connection,
                                      connection_as_of, next_poll_at)
            VALUES ($1, $2, $3, $4, 'CONNECTED', $5, now())
            ON CONFLICT (poll_key) DO UPDATE SET
                seller_id = EXCLUDED.seller_id, connection = 'CONNECTED',
                connection_as_of = EXCLUDED.connection_as_of, next_poll_at = now(),
                consecutive_failures = 0
            WHERE poller_shops.connection_as_of < EXCLUDED.connection_as_of
            RETURNING true
            """,
            shop.key,
            shop.tenant_id,
            shop.marketplace,
            seller_id,
            as_of,
        )
        return bool(applied)

    async def disconnect(self, shop: Shop, connection: str, as_of: datetime) -> str | None:
        seller_id: str | None = await self.db.fetchval(
            """
            UPDATE poller_shops SET connection = $2, connection_as_of = $3
            WHERE poll_key = $1 AND connection_as_of < $3
            RETURNING seller_id
            """,
            shop.key,
            connection,
            as_of,
        )
        return seller_id

    async def forget_received(self, shop: Shop) -> int:
        tenant, marketplace = shop.tenant_id, shop.marketplace
        for statement in _FORGET_RECEIVED:
            await self.db.execute(statement, tenant, marketplace)
        deleted: list[str] = await self.db.fetchval(_FORGET_TICKETS, tenant, marketplace)
        await self.db.execute(_FORGET_LATE_MESSAGES, deleted)
        await self.db.execute(
            "UPDATE poller_shops SET messages_since = NULL, incidents_since = NULL"
            " WHERE poll_key = $1",
            shop.key,
        )
        return len(deleted)

    async def polled_shops(self, marketplace: str) -> int:
        polled: int = await self.db.fetchval(
            f"SELECT count(*) FROM poller_shops s WHERE s.marketplace = $1 AND {SHOPS.pollable}",
            marketplace,
        )
        return polled

    async def statuses(self, tenant_id: str) -> list[ShopStatus]:
        rows = await self.db.fetch(
            """
            SELECT marketplace, seller_id, connection,
                   lease_owner IS NOT NULL AND lease_expires_at > now() AS polling,
                   next_poll_at, last_poll_at, last_success_at, last_error, last_error_at,
                   consecutive_failures, messages_fetched, coalesce(c.calls, 0) AS calls_today
            FROM poller_shops s
            LEFT JOIN poller_shop_calls c
                   ON c.poll_key = s.poll_key AND c.day = (now() AT TIME ZONE 'UTC')::date
            WHERE tenant_id = $1 ORDER BY marketplace
            """,
            tenant_id,
        )
        return [ShopStatus(**dict(r)) for r in rows]
