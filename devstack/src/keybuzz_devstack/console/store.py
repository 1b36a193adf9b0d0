"""What the console reads straight from PostgreSQL, read-only (plain SQL, asyncpg).

Only the product's ``tenants`` table (database ``keybuzz``): the console stands in
for the product app, which owns it, and no service lists tenants over HTTP.
Everything else comes from the services' HTTP APIs.
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


def _reason(exc: BaseException) -> str:
    """The error's class and message, never the DSN (it may carry a password)."""
    return type(exc).__name__
