"""All SQL of the inbound side (asyncpg): the projection of tenants and their inbound
addresses, as ``ports.ProjectionStore``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from keybuzz_shared.db import Executor

from keybuzz_poller.inbound.addresses import (
    ProjectedAddress,
    Recipient,
    split_bounce_tag,
    with_bounce_tag,
)


class PostgresProjection:
    """``ports.ProjectionStore`` on PostgreSQL: on the pool, or on a unit of work's connection."""

    def __init__(self, db: Executor) -> None:
        self.db = db

    async def apply_tenant_state(self, tenant_id: str, archived: bool, as_of: datetime) -> bool:
        """Record the tenant's state unless a newer event was applied; True when applied."""
        applied = await self.db.fetchval(
            """
            INSERT INTO poller_tenants (tenant_id, archived, as_of) VALUES ($1, $2, $3)
            ON CONFLICT (tenant_id) DO UPDATE
                SET archived = EXCLUDED.archived, as_of = EXCLUDED.as_of, updated_at = now()
                WHERE poller_tenants.as_of < EXCLUDED.as_of
            RETURNING true
            """,
            tenant_id,
            archived,
            as_of,
        )
        return bool(applied)

    async def replace_addresses(
        self, tenant_id: str, addresses: Sequence[ProjectedAddress]
    ) -> list[str]:
        """The tenant's full set of addresses.

        An address already another tenant's is left as it is (an address belongs to the
        tenant it was created for): those are returned, and the caller rolls back.
        """
        emails = [a.email for a in addresses]
        await self.db.execute(
            "DELETE FROM poller_inbound_addresses "
            "WHERE tenant_id = $1 AND NOT email = ANY($2::text[])",
            tenant_id,
            emails,
        )
        # The WHERE makes the upsert skip (and a concurrent claim wait for, then skip) a row
        # of another tenant: it is not RETURNed.
        written = await self.db.fetch(
            """
            INSERT INTO poller_inbound_addresses (email, tenant_id, marketplace, country, enabled)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[])
            ON CONFLICT (email) DO UPDATE
                SET marketplace = EXCLUDED.marketplace, country = EXCLUDED.country,
                    enabled = EXCLUDED.enabled, updated_at = now()
                WHERE poller_inbound_addresses.tenant_id = EXCLUDED.tenant_id
            RETURNING email
            """,
            emails,
            [tenant_id] * len(addresses),
            [a.marketplace for a in addresses],
            [a.country for a in addresses],
            [a.enabled for a in addresses],
        )
        kept = {r["email"] for r in written}
        return [e for e in emails if e not in kept]

    async def find_recipient(self, email: str) -> Recipient | None:
        """An enabled address of a tenant that is not archived, also with a reply's bounce
        tag (a reply's envelope sender): then ``address`` is the tagged one, which the MX
        stamps into the mail for the bounce's check (``inbound/bounce_auth.py``)."""
        plain, tag = split_bounce_tag(email)
        row = await self.db.fetchrow(
            """
            SELECT a.email, a.tenant_id, a.marketplace, a.country
            FROM poller_inbound_addresses a JOIN poller_tenants t USING (tenant_id)
            WHERE a.email = $1 AND a.enabled AND NOT t.archived
            """,
            plain,
        )
        if row is None:
            return None
        address = row["email"]
        return Recipient(
            address=with_bounce_tag(address, tag.reply_id, tag.signature) if tag else address,
            tenant_id=row["tenant_id"],
            marketplace=row["marketplace"],
            country=row["country"],
        )
