"""asyncpg pools and numbered SQL migrations applied under an advisory lock."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import asyncpg

log = logging.getLogger(__name__)

# One lock for every component's migrations: services starting together apply
# them one after another instead of racing on CREATE TABLE.
MIGRATION_LOCK_KEY = 0x6B627A7A  # "kbzz"
SHARED_MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{3,})_([a-z0-9_]+)\.sql$")


# What store functions accept: a pool for one-off statements, or a connection
# inside the caller's transaction.
Executor: TypeAlias = asyncpg.Connection | asyncpg.Pool


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    server_settings: Mapping[str, str] | None = None,
) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        command_timeout=30,
        server_settings=dict(server_settings or {}),
        reset=_rollback_if_left_open,
    )
    assert pool is not None
    return pool


async def _rollback_if_left_open(connection: asyncpg.Connection) -> None:
    """On release, instead of asyncpg's reset query on every connection (advisory unlock,
    ``CLOSE ALL``, ``UNLISTEN *``, ``RESET ALL``: one more round trip and statement per
    release, many when one pushed mail is one short poll): a pool connection here keeps
    no session state (locks are transaction-scoped, LISTEN has a connection of its own,
    nothing SETs), so only a transaction left open is undone."""
    if connection.is_in_transaction():
        await connection.reset()


def read_migrations(directory: Path) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file name must look like 001_name.sql: {path}")
        migrations.append(Migration(int(match[1]), match[2], path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a number in {directory}")
    return migrations


MIGRATION_TIMEOUT_SECONDS = 3600.0


async def apply_migrations(pool: asyncpg.Pool, component: str, directory: Path) -> list[int]:
    """Apply the not-yet-applied migrations of ``component``; returns the versions applied."""
    migrations = read_migrations(directory)
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
            await conn.execute(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    component  text NOT NULL,
                    version    integer NOT NULL,
                    name       text NOT NULL,
                    checksum   text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (component, version)
                )
                """
            )
            return await _apply_pending(conn, component, migrations)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)


async def _apply_pending(
    conn: asyncpg.Connection, component: str, migrations: list[Migration]
) -> list[int]:
    rows = await conn.fetch(
        "SELECT version, checksum FROM schema_migrations WHERE component = $1", component
    )
    applied = {row["version"]: row["checksum"] for row in rows}
    done: list[int] = []
    for migration in migrations:
        if migration.version in applied:
            if applied[migration.version] != migration.checksum:
                raise MigrationError(
                    f"{component} migration {migration.version:03d}_{migration.name} was edited "
                    "after it was applied; add a new migration instead"
                )
            continue
        async with conn.transaction():
            # Not the pool's 30 s command timeout: a migration that fills a new table
            # from a large one (orders 006) takes as long as it takes, once.
            await conn.execute(migration.sql, timeout=MIGRATION_TIMEOUT_SECONDS)
            await conn.execute(
                "INSERT INTO schema_migrations (component, version, name, checksum) "
                "VALUES ($1, $2, $3, $4)",
                component,
                migration.version,
                migration.name,
                migration.checksum,
            )
        log.info("migration applied", extra={"component": component, "version": migration.version})
        done.append(migration.version)
    return done
