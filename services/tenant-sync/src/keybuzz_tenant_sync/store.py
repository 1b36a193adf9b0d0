"""All of tenant-sync's SQL: the product database (read only) and its own tables
(the marketplace tenants, their inbound addresses, the projection of connections).

Writes are set-based (``unnest`` arrays) so that syncing 10,000 tenants costs a
handful of round trips, and keyed on unique constraints so that every write is
idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg
from keybuzz_shared.db import Executor
from keybuzz_shared.events import InboundAddressInfo

from keybuzz_tenant_sync.domain import (
    ConnectionChange,
    CredentialsRefused,
    MarketplaceConnection,
    MarketplaceTenant,
    ProductTenant,
)
from keybuzz_tenant_sync.errors import ProductDatabaseUnavailable

# --- product database (keybuzz) --------------------------------------------------------


class PostgresProductTenants:
    """``ports.ProductTenants`` on the product database's ``tenants`` table."""

    def __init__(self, db: Executor) -> None:
        self.db = db

    async def read(self, tenant_id: str | None = None) -> list[ProductTenant]:
        """Every product tenant in one query, or the one asked for."""
        try:
            rows = await self.db.fetch(
                "SELECT id, name, plan, status, country, updated_at FROM tenants "
                "WHERE $1::text IS NULL OR id = $1 ORDER BY id",
                tenant_id,
            )
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise ProductDatabaseUnavailable(f"product database: {exc}") from exc
        return [ProductTenant(**dict(row)) for row in rows]


# --- tenant-sync's own tables (ports.TenantStore) -----------------------------------

_UPSERT_TENANTS = """
INSERT INTO tenants AS t (id, name, plan, status, last_event_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
ON CONFLICT (id) DO UPDATE SET
    name = excluded.name,
    plan = excluded.plan,
    status = excluded.status,
    last_event_at = GREATEST(t.last_event_at, excluded.last_event_at),
    updated_at = now()
WHERE {condition}
RETURNING id, (xmax = 0) AS created
"""
# A sync from the product database writes only what differs (unchanged = skipped).
_CHANGED = (
    "(t.name, t.plan, t.status) IS DISTINCT FROM (excluded.name, excluded.plan, excluded.status)"
)
# An event writes unless a newer one was applied; the same event again rewrites
# the same values, so redelivery is harmless.
_NOT_OLDER = "t.last_event_at IS NULL OR t.last_event_at <= excluded.last_event_at"


# --- inbound connections and addresses ----------------------------------------------

# The no-op DO UPDATE makes RETURNING give the connection's id whether it is new or not.
_ENSURE_ADDRESSES = """
WITH connection AS (
    INSERT INTO inbound_connections (tenant_id, marketplace) VALUES ($1, $2)
    ON CONFLICT (tenant_id, marketplace) DO UPDATE SET tenant_id = excluded.tenant_id
    RETURNING id
)
INSERT INTO inbound_addresses (connection_id, tenant_id, marketplace, country, token, email)
SELECT connection.id, $1, $2, a.country, a.token, a.email
FROM connection, unnest($3::text[], $4::text[], $5::text[]) AS a(country, token, email)
ON CONFLICT (tenant_id, marketplace, country) DO NOTHING
"""


# Archived tenants: connections DISABLED, addresses DISABLED. Otherwise ACTIVE
# connections, and addresses back to ACTIVE if a buyer mail ever came, else PENDING.
_APPLY_ARCHIVE_STATE = """
WITH state AS (
    SELECT id, status = 'ARCHIVED' AS archived FROM tenants WHERE id = ANY($1::text[])
), connections AS (
    UPDATE inbound_connections c
    SET status = CASE WHEN s.archived THEN 'DISABLED' ELSE 'ACTIVE' END, updated_at = now()
    FROM state s
    WHERE c.tenant_id = s.id AND c.status <> CASE WHEN s.archived THEN 'DISABLED' ELSE 'ACTIVE' END
)
UPDATE inbound_addresses a
SET status = next.status, updated_at = now(),
    -- a disabled address waits for the poller again once re-enabled
    receiving_at = CASE WHEN next.status = 'DISABLED' THEN NULL ELSE a.receiving_at END
FROM (
    SELECT a2.id, CASE WHEN s.archived THEN 'DISABLED'
                       WHEN a2.activated_at IS NOT NULL THEN 'ACTIVE'
                       ELSE 'PENDING' END AS status
    FROM inbound_addresses a2 JOIN state s ON s.id = a2.tenant_id
) AS next
WHERE a.id = next.id AND a.status <> next.status
"""


# --- marketplace connections (projection of oauth's connection.* events) -------------

_APPLY_CONNECTION_CHANGE = """
INSERT INTO tenant_sync_connections AS c (tenant_id, marketplace, status, connection_id,
    seller_id, marketplace_ids, region, connected_at, reason, as_of)
VALUES ($1, $2, $3, $4, $5, COALESCE($6::text[], '{}'), $7,
    CASE WHEN $3 = 'CONNECTED' THEN $9::timestamptz END, $8, $9)
ON CONFLICT (tenant_id, marketplace) DO UPDATE SET
    status = excluded.status,
    connection_id = COALESCE(excluded.connection_id, c.connection_id),
    seller_id = COALESCE(excluded.seller_id, c.seller_id),
    marketplace_ids = CASE WHEN $6::text[] IS NULL THEN c.marketplace_ids
                           ELSE excluded.marketplace_ids END,
    region = COALESCE(excluded.region, c.region),
    connected_at = COALESCE(excluded.connected_at, c.connected_at),
    reason = excluded.reason,
    as_of = excluded.as_of,
    updated_at = now()
WHERE c.as_of IS NULL OR c.as_of < excluded.as_of
RETURNING 1
"""


class PostgresTenantStore:
    """``ports.TenantStore`` on PostgreSQL: on the pool, or on a unit of work's connection."""

    def __init__(self, db: Executor) -> None:
        self.db = db

    async def upsert_tenants(
        self, tenants: Sequence[MarketplaceTenant], *, from_event: bool = False
    ) -> dict[str, bool]:
        """Insert or update; returns ``{id: created}`` for the rows written."""
        sql = _UPSERT_TENANTS.format(condition=_NOT_OLDER if from_event else _CHANGED)
        rows = await self.db.fetch(
            sql,
            [t.id for t in tenants],
            [t.name for t in tenants],
            [t.plan for t in tenants],
            [t.status for t in tenants],
            [t.as_of for t in tenants],
        )
        return {row["id"]: row["created"] for row in rows}

    async def get_tenant(self, tenant_id: str) -> MarketplaceTenant | None:
        row = await self.db.fetchrow(
            "SELECT id, name, plan, status, last_event_at AS as_of FROM tenants WHERE id = $1",
            tenant_id,
        )
        return MarketplaceTenant(**dict(row)) if row else None

    async def ensure_addresses(
        self,
        tenant_id: str,
        marketplace: str,
        candidates: Sequence[tuple[str, str, str]],
    ) -> None:
        """Create the missing addresses from ``(country, token, email)`` candidates.

        An existing address keeps its token: the candidate for its country is dropped.
        """
        if not candidates:
            return
        countries, tokens, emails = (list(column) for column in zip(*candidates, strict=True))
        await self.db.execute(_ENSURE_ADDRESSES, tenant_id, marketplace, countries, tokens, emails)

    async def apply_archive_state(self, tenant_ids: Sequence[str]) -> None:
        await self.db.execute(_APPLY_ARCHIVE_STATE, list(tenant_ids))

    async def addresses_by_tenant(
        self, tenant_ids: Sequence[str]
    ) -> dict[str, list[InboundAddressInfo]]:
        rows = await self.db.fetch(
            "SELECT tenant_id, marketplace, country, email, status, "
            "status <> 'DISABLED' AND receiving_at IS NOT NULL AS receiving FROM inbound_addresses "
            "WHERE tenant_id = ANY($1::text[]) ORDER BY tenant_id, marketplace, country",
            list(tenant_ids),
        )
        found: dict[str, list[InboundAddressInfo]] = {}
        for row in rows:
            info = InboundAddressInfo(
                marketplace=row["marketplace"],
                country=row["country"],
                email=row["email"],
                status=row["status"],
                receiving=row["receiving"],
            )
            found.setdefault(row["tenant_id"], []).append(info)
        return found

    async def activate_address(self, tenant_id: str, email: str, at: datetime) -> bool:
        """Record the first buyer mail; a DISABLED address stays so until un-archived."""
        result: str = await self.db.execute(
            "UPDATE inbound_addresses SET activated_at = COALESCE(activated_at, $3), "
            "status = CASE WHEN status = 'PENDING' THEN 'ACTIVE' ELSE status END, updated_at = now() "
            "WHERE tenant_id = $1 AND email = lower($2) AND activated_at IS NULL",
            tenant_id,
            email,
            at,
        )
        return result != "UPDATE 0"

    async def mark_receiving(self, tenant_id: str, email: str, at: datetime) -> bool:
        """The poller's MX accepts the address's mail; a DISABLED address stays as it is
        (its MX refuses it), and the first time is kept (redelivery changes nothing)."""
        result: str = await self.db.execute(
            "UPDATE inbound_addresses SET receiving_at = $3, updated_at = now() "
            "WHERE tenant_id = $1 AND email = lower($2) AND receiving_at IS NULL "
            "AND status <> 'DISABLED'",
            tenant_id,
            email,
            at,
        )
        return result != "UPDATE 0"

    async def apply_connection_change(self, change: ConnectionChange) -> bool:
        """False when a change at least as new was applied already (the row is locked by the
        upsert, so two consumers applying changes of one tenant at once cannot both win)."""
        written = await self.db.fetchval(
            _APPLY_CONNECTION_CHANGE,
            change.tenant_id,
            change.marketplace,
            change.status,
            change.connection_id,
            change.seller_id,
            change.marketplace_ids,
            change.region,
            change.reason,
            change.as_of,
        )
        return written is not None

    async def record_refusal(self, refused: CredentialsRefused) -> bool:
        """Keeps the newest refusal only; False when a refusal at least as new was recorded."""
        written = await self.db.fetchval(
            "INSERT INTO tenant_sync_connections AS c (tenant_id, marketplace, refused_at, "
            "refused_seller_id, refused_reason) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (tenant_id, marketplace) DO UPDATE SET refused_at = excluded.refused_at, "
            "refused_seller_id = excluded.refused_seller_id, "
            "refused_reason = excluded.refused_reason, updated_at = now() "
            "WHERE c.refused_at IS NULL OR c.refused_at < excluded.refused_at RETURNING 1",
            refused.tenant_id,
            refused.marketplace,
            refused.at,
            refused.seller_id,
            refused.reason,
        )
        return written is not None

    async def marketplace_connections(self, tenant_id: str) -> list[MarketplaceConnection]:
        """The tenant's connections whose life is known (a refusal alone says nothing)."""
        rows = await self.db.fetch(
            "SELECT marketplace, status, connection_id, seller_id, marketplace_ids, region, "
            "connected_at, reason, as_of, refused_at, refused_seller_id, refused_reason "
            "FROM tenant_sync_connections WHERE tenant_id = $1 AND status IS NOT NULL "
            "ORDER BY marketplace",
            tenant_id,
        )
        return [MarketplaceConnection(**dict(row)) for row in rows]
