"""What the console reads straight from PostgreSQL, read-only (plain SQL, asyncpg).

- the product's ``tenants`` table (database ``keybuzz``): the console stands in
  for the product app, which owns it; no service lists tenants over HTTP;
- the id of a tenant's latest backfill job (orders' ``order_backfill_jobs``):
  orders serves a job's progress by id but has no "latest job" endpoint, and
  the backfill started by ``connection.connected`` is known to nobody else.
  Only the id is read here; the progress itself comes from orders' HTTP API.
"""

from __future__ import annotations

import asyncpg
import msgspec


class DatabaseUnavailable(Exception):
    """PostgreSQL did not answer (or the table is not there yet): say which, retry later."""


class ProductTenant(msgspec.Struct, kw_only=True, rename="camel"):
    id: str
    name: str
    plan: str
    status: str
    country: str | None


async def product_tenants(pool: asyncpg.Pool) -> list[ProductTenant]:
    try:
        rows = await pool.fetch("SELECT id, name, plan, status, country FROM tenants ORDER BY id")
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise DatabaseUnavailable(f"the product database did not answer: {_reason(exc)}") from exc
    return [ProductTenant(**dict(row)) for row in rows]


async def latest_backfill_job(pool: asyncpg.Pool, tenant_id: str) -> str | None:
    try:
        job_id: str | None = await pool.fetchval(
            "SELECT id::text FROM order_backfill_jobs WHERE tenant_id = $1"
            " ORDER BY started_at DESC LIMIT 1",
            tenant_id,
        )
    except asyncpg.UndefinedTableError:
        return None  # orders has not migrated this database yet: no job either
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise DatabaseUnavailable(f"the orders database did not answer: {_reason(exc)}") from exc
    return job_id


def _reason(exc: BaseException) -> str:
    """The error's class and message, never the DSN (it may carry a password)."""
    return type(exc).__name__
