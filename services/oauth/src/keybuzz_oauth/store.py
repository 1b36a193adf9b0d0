"""All SQL of the oauth service (tables: marketplace_connections, oauth_states):
``PostgresOauthStore``, the adapter of ``ports.OauthStore``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg
from keybuzz_shared.db import Executor

from keybuzz_oauth.connections import (
    Connected,
    Connection,
    ShopConnected,
    ShopIdCollision,
    Status,
    StoredShop,
)
from keybuzz_oauth.ports import ShopTaken
from keybuzz_oauth.states import ConsumedState, NewStateRow

_CONNECTION_COLUMNS = (
    "id::text, tenant_id, marketplace_type, status, seller_id, marketplace_ids, region, "
    "vault_path, connected_at, last_error"
)

_INSERT_STATE = """
INSERT INTO oauth_states (state_hash, tenant_id, user_id, marketplace_type, marketplace_code,
                          redirect_uri, browser_hash, takeover, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9))
RETURNING expires_at
"""

# Atomic: of two concurrent callbacks with the same state, only one gets the row.
_CONSUME_STATE = """
UPDATE oauth_states SET used_at = now()
WHERE state_hash = $1 AND used_at IS NULL AND expires_at > now()
RETURNING tenant_id, user_id, marketplace_type, marketplace_code, redirect_uri,
          browser_hash, takeover
"""

_HAS_LIVE_STATE = """
SELECT EXISTS (
    SELECT 1 FROM oauth_states
    WHERE tenant_id = $1 AND marketplace_type = $2 AND used_at IS NULL AND expires_at > now()
)
"""

_TENANTS_HOLDING_SELLER = """
SELECT tenant_id FROM marketplace_connections
WHERE marketplace_type = $1 AND seller_id = $2 AND tenant_id <> $3
  AND status IN ('CONNECTED', 'REAUTH_REQUIRED')
ORDER BY tenant_id
"""

# Every connection holding the account (its identity), whatever its marketplace value.
_ACCOUNT_HOLDERS = """
SELECT tenant_id, marketplace_type FROM marketplace_connections
WHERE account_identity = $1 AND status IN ('CONNECTED', 'REAUTH_REQUIRED')
ORDER BY tenant_id, marketplace_type
"""

_GET_CONNECTION = f"""
SELECT {_CONNECTION_COLUMNS} FROM marketplace_connections
WHERE tenant_id = $1 AND marketplace_type = $2
"""

# A new consent never downgrades a working connection (adding a marketplace).
_MARK_PENDING = """
INSERT INTO marketplace_connections (tenant_id, marketplace_type, status)
VALUES ($1, $2, 'PENDING')
ON CONFLICT (tenant_id, marketplace_type) DO UPDATE
SET status = 'PENDING', updated_at = now()
WHERE marketplace_connections.status <> 'CONNECTED'
"""

# A failed callback: a pending connection becomes ERROR; a working one keeps working.
_RECORD_FAILURE = """
UPDATE marketplace_connections
SET last_error = $3, updated_at = now(),
    status = CASE WHEN status = 'PENDING' THEN 'ERROR' ELSE status END
WHERE tenant_id = $1 AND marketplace_type = $2
"""

# Same seller again (another site of the region): keep the sites (marketplace ids)
# already connected; another seller, or a connection that had ended, starts afresh. A
# shop (its id the seller id) has no marketplace ids and no region.
_UPSERT_CONNECTED = f"""
INSERT INTO marketplace_connections AS mc (tenant_id, marketplace_type, status, seller_id,
    marketplace_ids, region, vault_path, connected_by, account_identity, connected_at)
VALUES ($1, $2, 'CONNECTED', $3, $4::text[], $5, $6, $7, $8, now())
ON CONFLICT (tenant_id, marketplace_type) DO UPDATE SET
    status = 'CONNECTED',
    marketplace_ids = CASE
        WHEN mc.status IN ('CONNECTED', 'REAUTH_REQUIRED')
             AND mc.seller_id = EXCLUDED.seller_id AND mc.region = EXCLUDED.region
        THEN ARRAY(SELECT DISTINCT m FROM unnest(mc.marketplace_ids || EXCLUDED.marketplace_ids)
                   AS m ORDER BY m)
        ELSE EXCLUDED.marketplace_ids
    END,
    seller_id = EXCLUDED.seller_id,
    region = EXCLUDED.region,
    vault_path = EXCLUDED.vault_path,
    connected_by = EXCLUDED.connected_by,
    account_identity = EXCLUDED.account_identity,
    ended_as_duplicate = false,
    connected_at = now(),
    disconnected_at = NULL,
    last_error = NULL,
    updated_at = now()
RETURNING {_CONNECTION_COLUMNS}
"""

_MARK_DISCONNECTED = f"""
UPDATE marketplace_connections
SET status = 'DISCONNECTED', vault_path = NULL, disconnected_at = now(), last_error = NULL,
    updated_at = now()
WHERE tenant_id = $1 AND marketplace_type = $2 AND status <> 'DISCONNECTED'
RETURNING {_CONNECTION_COLUMNS}
"""

# Only a connection made before the marketplace refused its token: a newer consent wins.
_MARK_REAUTH_REQUIRED = """
UPDATE marketplace_connections SET status = 'REAUTH_REQUIRED', last_error = $4, updated_at = now()
WHERE tenant_id = $1 AND marketplace_type = $2 AND status = 'CONNECTED'
  AND ($3::text IS NULL OR seller_id = $3) AND connected_at <= $5
RETURNING id
"""


# Connections migration 004 ended because another held their shop first, not yet said.
_ENDED_AS_DUPLICATE = f"""
SELECT {_CONNECTION_COLUMNS} FROM marketplace_connections WHERE ended_as_duplicate ORDER BY id
"""

_FINISH_DUPLICATE = f"""
UPDATE marketplace_connections SET ended_as_duplicate = false, vault_path = NULL, updated_at = now()
WHERE tenant_id = $1 AND marketplace_type = $2 AND ended_as_duplicate
RETURNING {_CONNECTION_COLUMNS}
"""


def _connection(row: asyncpg.Record | None) -> Connection | None:
    if row is None:
        return None
    return Connection(**{**dict(row), "status": Status(row["status"])})


def _written(row: asyncpg.Record | None) -> Connection:
    connection = _connection(row)
    assert connection is not None  # an upsert returns its row
    return connection


# Shop connections as stored, for bringing their ids to the canonical form.
_LIVE_SHOPS = """
SELECT id::text, tenant_id, marketplace_type, seller_id, account_identity
  FROM marketplace_connections
 WHERE seller_id IS NOT NULL AND status IN ('CONNECTED', 'REAUTH_REQUIRED')
   AND marketplace_type = ANY($1::text[])
 ORDER BY connected_at NULLS LAST, created_at, id
"""

# Another live connection holding the account, or the marketplace's shop id (migrations 003
# and 004's indexes): the oldest first.
_HOLDER = """
SELECT id::text, tenant_id, marketplace_type FROM marketplace_connections
 WHERE id <> $1::uuid AND status IN ('CONNECTED', 'REAUTH_REQUIRED')
   AND (account_identity = $2 OR (marketplace_type = $3 AND seller_id = $4))
 ORDER BY connected_at NULLS LAST, created_at, id
 LIMIT 1
"""

_REWRITE_SHOP_ID = """
UPDATE marketplace_connections SET seller_id = $3, account_identity = $4, updated_at = now()
 WHERE id = $1::uuid AND seller_id = $2 AND status IN ('CONNECTED', 'REAUTH_REQUIRED')
RETURNING id
"""

_RECORD_COLLISION = """
INSERT INTO shop_id_collisions (connection_id, seller_id, canonical_id, held_by)
VALUES ($1::uuid, $2, $3, $4::uuid)
ON CONFLICT (connection_id) DO UPDATE SET
    seller_id = EXCLUDED.seller_id, canonical_id = EXCLUDED.canonical_id,
    held_by = EXCLUDED.held_by
"""

# Collisions still standing: both connections live, the first still in its old spelling.
_COLLISIONS = """
SELECT c.connection_id::text AS connection_id, m.tenant_id, m.marketplace_type AS marketplace,
       c.seller_id AS shop_id, c.canonical_id AS canonical_shop_id, c.held_by::text AS held_by,
       h.tenant_id AS held_by_tenant_id, h.marketplace_type AS held_by_marketplace, c.found_at
  FROM shop_id_collisions c
  JOIN marketplace_connections m ON m.id = c.connection_id
  JOIN marketplace_connections h ON h.id = c.held_by
 WHERE m.status IN ('CONNECTED', 'REAUTH_REQUIRED') AND m.seller_id = c.seller_id
   AND h.status IN ('CONNECTED', 'REAUTH_REQUIRED')
 ORDER BY c.found_at, c.connection_id
"""


class PostgresOauthStore:
    """``ports.OauthStore`` on the pool (reads, one-statement writes) or a transaction."""

    def __init__(self, db: Executor) -> None:
        self.db = db

    # --- states ------------------------------------------------------------------------

    async def insert_state(self, state: NewStateRow, ttl: float) -> datetime:
        expires_at: datetime = await self.db.fetchval(
            _INSERT_STATE,
            state.digest,
            state.tenant_id,
            state.user_id,
            state.marketplace_type,
            state.marketplace_code,
            state.redirect_uri,
            state.browser_hash,
            state.takeover,
            ttl,
        )
        return expires_at

    async def purge_old_states(self) -> None:
        await self.db.execute(
            "DELETE FROM oauth_states WHERE expires_at < now() - interval '1 day'"
        )

    async def consume_state(self, digest: str) -> ConsumedState | None:
        row = await self.db.fetchrow(_CONSUME_STATE, digest)
        return ConsumedState(**dict(row)) if row else None

    async def state_usage(self, digest: str) -> tuple[bool, datetime | None]:
        row = await self.db.fetchrow(
            "SELECT used_at FROM oauth_states WHERE state_hash = $1", digest
        )
        return (row is not None, row["used_at"] if row else None)

    async def has_live_state(self, tenant_id: str, marketplace: str) -> bool:
        return bool(await self.db.fetchval(_HAS_LIVE_STATE, tenant_id, marketplace))

    # --- serialisation -----------------------------------------------------------------

    async def lock_seller(self, seller_id: str, marketplace: str) -> None:
        """Transaction-scoped: one change at a time links this seller (shop) to a tenant.

        Always taken before any tenant lock (and tenants in sorted order), so two
        callbacks taking over from each other cannot deadlock.
        """
        await self._advisory_lock(f"oauth:seller:{marketplace}:{seller_id}")

    async def lock_account(self, identity: str) -> None:
        """Transaction-scoped: one change at a time links this account (a shop, whatever
        marketplace value it is sent under) to a connection. Taken before any tenant lock."""
        await self._advisory_lock(f"oauth:account:{identity}")

    async def lock_tenants(self, tenant_ids: Sequence[str], marketplace: str) -> None:
        """Transaction-scoped: held across a tenant's Vault change and its row update.

        A disconnect and a callback of one tenant therefore never interleave, so a
        refresh token can never stay in Vault behind a DISCONNECTED row.
        """
        for tenant_id in sorted(set(tenant_ids)):
            await self._advisory_lock(f"oauth:tenant:{marketplace}:{tenant_id}")

    async def _advisory_lock(self, key: str) -> None:
        await self.db.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)

    # --- connections -------------------------------------------------------------------

    async def tenants_holding_seller(
        self, seller_id: str, except_tenant: str, marketplace: str
    ) -> list[str]:
        rows = await self.db.fetch(_TENANTS_HOLDING_SELLER, marketplace, seller_id, except_tenant)
        return [row["tenant_id"] for row in rows]

    async def account_holders(self, identity: str) -> list[tuple[str, str]]:
        rows = await self.db.fetch(_ACCOUNT_HOLDERS, identity)
        return [(row["tenant_id"], row["marketplace_type"]) for row in rows]

    async def get_connection(self, tenant_id: str, marketplace: str) -> Connection | None:
        return _connection(await self.db.fetchrow(_GET_CONNECTION, tenant_id, marketplace))

    async def mark_pending(self, tenant_id: str, marketplace: str) -> None:
        await self.db.execute(_MARK_PENDING, tenant_id, marketplace)

    async def record_failure(self, tenant_id: str, error: str, marketplace: str) -> None:
        await self.db.execute(_RECORD_FAILURE, tenant_id, marketplace, error)

    async def upsert_connected(self, connected: Connected) -> Connection:
        row = await self.db.fetchrow(
            _UPSERT_CONNECTED,
            connected.tenant_id,
            connected.marketplace,
            connected.seller_id,
            [connected.marketplace_id],
            connected.region,
            connected.vault_path,
            connected.user_id,
            None,
        )
        return _written(row)

    async def upsert_shop_connected(self, connected: ShopConnected) -> Connection:
        try:
            row = await self.db.fetchrow(
                _UPSERT_CONNECTED,
                connected.tenant_id,
                connected.marketplace,
                connected.shop_id,
                [],
                None,
                connected.vault_path,
                connected.user_id,
                connected.identity,
            )
        except asyncpg.UniqueViolationError as exc:  # migrations 003's and 004's indexes
            raise ShopTaken(f"{connected.marketplace} shop {connected.shop_id}") from exc
        return _written(row)

    async def mark_disconnected(self, tenant_id: str, marketplace: str) -> Connection | None:
        return _connection(await self.db.fetchrow(_MARK_DISCONNECTED, tenant_id, marketplace))

    async def ended_as_duplicates(self) -> list[Connection]:
        return [_written(row) for row in await self.db.fetch(_ENDED_AS_DUPLICATE)]

    async def finish_duplicate(self, tenant_id: str, marketplace: str) -> Connection | None:
        return _connection(await self.db.fetchrow(_FINISH_DUPLICATE, tenant_id, marketplace))

    # --- shop ids in their canonical form -------------------------------------------------

    async def live_shops(self, marketplaces: Sequence[str]) -> list[StoredShop]:
        rows = await self.db.fetch(_LIVE_SHOPS, list(marketplaces))
        return [
            StoredShop(
                row["id"],
                row["tenant_id"],
                row["marketplace_type"],
                row["seller_id"],
                row["account_identity"],
            )
            for row in rows
        ]

    async def holder_of(
        self, shop: StoredShop, seller_id: str, identity: str | None
    ) -> tuple[str, str, str] | None:
        row = await self.db.fetchrow(
            _HOLDER, shop.connection_id, identity, shop.marketplace, seller_id
        )
        return None if row is None else (row["id"], row["tenant_id"], row["marketplace_type"])

    async def rewrite_shop_id(self, shop: StoredShop, seller_id: str, identity: str | None) -> bool:
        row = await self.db.fetchrow(
            _REWRITE_SHOP_ID, shop.connection_id, shop.seller_id, seller_id, identity
        )
        return row is not None

    async def record_collision(self, shop: StoredShop, canonical_id: str, held_by: str) -> None:
        await self.db.execute(
            _RECORD_COLLISION, shop.connection_id, shop.seller_id, canonical_id, held_by
        )

    async def shop_id_collisions(self) -> list[ShopIdCollision]:
        return [ShopIdCollision(**dict(row)) for row in await self.db.fetch(_COLLISIONS)]

    async def mark_reauth_required(
        self,
        tenant_id: str,
        seller_id: str | None,
        reason: str,
        seen_at: datetime,
        marketplace: str,
    ) -> bool:
        row = await self.db.fetchrow(
            _MARK_REAUTH_REQUIRED, tenant_id, marketplace, seller_id, reason, seen_at
        )
        return row is not None
