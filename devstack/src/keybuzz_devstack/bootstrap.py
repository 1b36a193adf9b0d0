"""One-shot set-up of a fresh stack: databases, product tenants, Vault app credentials, policies.

Idempotent: ``make run`` runs it at every start.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Mapping
from pathlib import Path

import asyncpg
import hvac
from keybuzz_shared.db import apply_migrations, create_pool, read_migrations

from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
POLICIES = HERE / "vault_policies"
SQL = HERE / "sql"
DATABASES = ("keybuzz", "keybuzz_backend")
SERVICES = ("oauth", "poller", "orders", "tenant-sync")

# Fixed development credentials of the Amazon sandbox (docs/CONTRACTS.md, "Development stack").
SANDBOX_APP = {
    "client_id": "amzn1.application-oa2-client.keybuzz-sandbox",
    "client_secret": "keybuzz-sandbox-secret",
    "application_id": "amzn1.sp.solution.keybuzz-sandbox",
    "redirect_uri": "http://127.0.0.1:8001/api/v1/marketplaces/amazon/oauth/callback",
    "region": "eu",
    "draft": "true",
}


def service_token_id(service: str) -> str:
    """Development token ids are fixed so the supervisor can hand them out before Vault starts."""
    return f"keybuzz-dev-{service}"


async def create_databases(server_url: str) -> None:
    """``server_url``: postgresql://user@host:port (no database)."""
    conn = await asyncpg.connect(f"{server_url}/postgres")
    try:
        existing = {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
        for name in DATABASES:
            if name not in existing:
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def create_scratch_database(
    server_url: str, label: str, migrations: Mapping[str, Path] | None = None
) -> str:
    """A brand-new database with a unique name (tests, benchmarks); returns its URL. Empty,
    or with ``migrations`` (component → folder, applied in that order) applied: a copy of a
    template database the server keeps for that set of migrations (``_migrated_template``).

    Copied file by file (``STRATEGY file_copy``: two checkpoints, little to write on a test
    server, instead of every page of the copy written to the WAL): less of PostgreSQL's CPU
    a database (bench/bench_scratch_databases.py)."""
    name = f"{label}_{uuid.uuid4().hex[:10]}".lower().replace("-", "_")
    conn = await asyncpg.connect(f"{server_url}/postgres")
    try:
        template = (
            await _migrated_template(conn, server_url, migrations) if migrations else "template1"
        )
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY file_copy')
    finally:
        await conn.close()
    return f"{server_url}/{name}"


TEMPLATE_LOCK_KEY = 0x6B627A74  # "kbzt": one template made at a time, however many ask


async def _migrated_template(
    conn: asyncpg.Connection, server_url: str, migrations: Mapping[str, Path]
) -> str:
    """The template database with ``migrations`` applied, made the first time it is asked for
    (under an advisory lock: the askers of one server wait for the first). Named by a digest
    of the migrations, so that one edited or added makes a new template; connections to it
    refused, so that nothing keeps it from being copied (nor autovacuum visits it)."""
    digest = hashlib.sha256()
    for component, folder in migrations.items():
        for migration in read_migrations(folder):
            digest.update(f"{component}:{migration.version}:{migration.checksum}\n".encode())
    name = f"template_{digest.hexdigest()[:16]}"
    exists = "SELECT true FROM pg_database WHERE datname = $1"
    if await conn.fetchval(exists, name):
        return name
    await conn.execute("SELECT pg_advisory_lock($1)", TEMPLATE_LOCK_KEY)
    try:
        if await conn.fetchval(exists, name):
            return name
        building = f"{name}_building"
        await conn.execute(f'DROP DATABASE IF EXISTS "{building}"')  # a build that failed
        await conn.execute(f'CREATE DATABASE "{building}" STRATEGY file_copy')
        pool = await create_pool(f"{server_url}/{building}", max_size=2)
        try:
            for component, folder in migrations.items():
                await apply_migrations(pool, component, folder)
        finally:
            await pool.close()
        await conn.execute(
            f'ALTER DATABASE "{building}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false'
        )
        await conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
        return name
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", TEMPLATE_LOCK_KEY)


async def seed_product_database(product_url: str, with_tenants: bool = True) -> None:
    conn = await asyncpg.connect(product_url)
    try:
        await conn.execute((SQL / "product_tenants.sql").read_text())
        if with_tenants:
            await conn.execute((SQL / "product_tenants_seed.sql").read_text())
    finally:
        await conn.close()


def seed_vault(addr: str, root_token: str, app: dict[str, str] | None = None) -> None:
    """App credentials, one policy per service and a token per service bound to it."""
    client = hvac.Client(url=addr, token=root_token)
    client.secrets.kv.v2.create_or_update_secret(
        path="keybuzz/amazon_spapi/app", secret=app or SANDBOX_APP, mount_point="secret"
    )
    for service in SERVICES:
        client.sys.create_or_update_policy(
            name=f"keybuzz-{service}", policy=(POLICIES / f"{service}.hcl").read_text()
        )
        _ensure_token(client, service)


def _ensure_token(client: hvac.Client, service: str) -> None:
    token_id = service_token_id(service)
    try:
        client.auth.token.lookup(token_id)
        return
    except hvac.exceptions.Forbidden:
        pass
    except hvac.exceptions.InvalidRequest:
        pass
    client.auth.token.create(
        id=token_id,
        policies=[f"keybuzz-{service}"],
        no_parent=True,
        renewable=True,
        ttl="768h",
        display_name=f"keybuzz-{service}",
    )


def run_bootstrap(
    postgres_server: str | None,
    product_url: str | None,
    vault_addr: str | None,
    vault_root_token: str = DEV_VAULT_ROOT_TOKEN,
) -> None:
    """Set up what we started: databases and product tenants, then Vault."""
    if postgres_server:
        asyncio.run(create_databases(postgres_server))
    if product_url:
        asyncio.run(seed_product_database(product_url))
    if vault_addr:
        seed_vault(vault_addr, vault_root_token)


def server_url(database_url: str) -> str:
    """postgresql://u@h:p/db → postgresql://u@h:p"""
    return database_url.rsplit("/", 1)[0]
