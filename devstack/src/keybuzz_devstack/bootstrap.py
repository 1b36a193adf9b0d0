"""One-shot set-up of a fresh stack: databases, product tenants, Vault app credentials, policies.

Idempotent: ``make run`` runs it at every start.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path

import asyncpg
import hvac

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


async def create_scratch_database(server_url: str, label: str) -> str:
    """A brand-new empty database with a unique name (tests, benchmarks); returns its URL."""
    name = f"{label}_{uuid.uuid4().hex[:10]}".lower().replace("-", "_")
    conn = await asyncpg.connect(f"{server_url}/postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{server_url}/{name}"


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
