"""Shop connections stored in another spelling of their shop id than their connector's
canonical one are brought to it when oauth starts (``canonical_shops.py``), on real
PostgreSQL, OpenBao and NATS: the row, the key in Vault and ``connection.connected`` take
the canonical id; a connection whose canonical id is a shop another one holds is reported
(``keybuzz.oauth.shop-id-collisions``, the log) and both are kept, never merged nor
ended. The same for an identity stored in an earlier form than its connector's (a Mirakl
shop's catalogue code's, now its instance's): the row alone takes it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec
import pytest
from keybuzz_oauth.service import DEFINITION
from keybuzz_shared.connectors import registry
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.db import apply_migrations
from oauth_testkit import OauthKit, new_tenant, read_secret, root_vault
from test_oauth_shops import outbox, shop_row

_INSERT = """
INSERT INTO marketplace_connections (tenant_id, marketplace_type, status, seller_id,
    account_identity, vault_path, connected_by, connected_at)
VALUES ($1, $2, 'CONNECTED', $3, $4, $5, 'user-1', now() + make_interval(secs => $6))
"""

# The fields a shop's key is stored with, by connector (its ``credential_fields``).
SECRETS = {
    "BOULANGER": lambda shop_id: {"api_key": "k-boulanger", "shop_id": shop_id},
    "LEROY_MERLIN": lambda shop_id: {"api_key": "k-leroy", "shop_id": shop_id},
    "DECATHLON": lambda shop_id: {"api_key": "k-decathlon", "shop_id": shop_id},
    "DECATHLON_EU": lambda shop_id: {"api_key": "k-decathlon", "shop_id": shop_id},
    "CDISCOUNT": lambda shop_id: {
        "client_id": "c",
        "client_secret": "s-cdiscount",
        "seller_id": shop_id,
    },
}


async def _store(url: str, stack: Any, rows: list[tuple[str, str, str, str, int]]) -> None:
    """Connections as an earlier version stored them, each with its key in Vault."""
    db = await asyncpg.connect(url)
    try:
        for tenant, marketplace, shop_id, identity, after in rows:
            path = connector_for(marketplace).credentials_path(tenant)
            await db.execute(_INSERT, tenant, marketplace, shop_id, identity, path, after)
            root_vault(stack).secrets.kv.v2.create_or_update_secret(
                path=path.removeprefix("secret/"),
                secret=SECRETS[marketplace](shop_id),
                mount_point="secret",
            )
    finally:
        await db.close()


async def _migrated(make_database: Callable[[str], Awaitable[str]], name: str) -> str:
    """A database of the test's own, oauth's migrations applied (as an earlier version)."""
    url = await make_database(name)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        await apply_migrations(pool, DEFINITION.name, DEFINITION.migrations)
    finally:
        await pool.close()
    return url


async def _collisions(kit: OauthKit) -> list[dict[str, Any]]:
    nc = await kit.service.operator()
    answer = await nc.request("keybuzz.oauth.shop-id-collisions", b"{}", timeout=10)
    found: list[dict[str, Any]] = msgspec.json.decode(answer.data)
    return found


async def test_ids_in_another_spelling_are_made_canonical_and_collisions_reported_not_merged(
    make_database: Callable[[str], Awaitable[str]],
    make_kit: Callable[..., Awaitable[OauthKit]],
    stack: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    url = await _migrated(make_database, "oauth-spellings")
    owner, bypass, alone, first, second = (new_tenant() for _ in range(5))
    await _store(
        url,
        stack,
        [
            # One shop twice, the second typed with a leading zero (both CONNECTED).
            (owner, "BOULANGER", "43115", "mirakl:BOULANGER:43115", 0),
            (bypass, "BOULANGER", "043115", "mirakl:BOULANGER:043115", 60),
            # A shop held once, in a padded spelling.
            (alone, "CDISCOUNT", "0090000002", "octopia-seller-api:0090000002", 0),
            # One shop twice, neither spelling canonical: the older connection takes it.
            (first, "LEROY_MERLIN", "0777", "mirakl:LEROY_MERLIN:0777", 0),
            (second, "LEROY_MERLIN", "00777", "mirakl:LEROY_MERLIN:00777", 30),
        ],
    )

    kit = await make_kit(DATABASE_URL=url)

    async def row(tenant: str, marketplace: str) -> tuple[str, str, str]:
        found = await shop_row(kit, tenant, marketplace)
        return (found["status"], found["seller_id"], found["account_identity"])

    # Rewritten: the row, the key's shop id in Vault, and connection.connected said again.
    for tenant, marketplace, canonical, identity, field in (
        (alone, "CDISCOUNT", "90000002", "octopia-seller-api:90000002", "seller_id"),
        (first, "LEROY_MERLIN", "777", "mirakl@adeo-marketplace.mirakl.net:777", "shop_id"),
    ):
        assert await row(tenant, marketplace) == ("CONNECTED", canonical, identity)
        secret = read_secret(stack, connector_for(marketplace).credentials_path(tenant))
        assert secret is not None and secret[field] == canonical
        assert await outbox(kit, tenant) == ["connection.connected"]
        said = await kit.runtime.pool.fetchval(
            "SELECT convert_from(payload, 'UTF8')::jsonb ->> 'sellerId' FROM event_outbox "
            "WHERE partition_key = $1",
            tenant,
        )
        assert said == canonical
    # Kept as they were, both of each pair: nothing merged, nothing ended, nothing said (the
    # owner's identity in its instance's form: migrate_identities below).
    assert await row(owner, "BOULANGER") == (
        "CONNECTED",
        "43115",
        "mirakl@boulanger-prod.mirakl.net:43115",
    )
    assert await row(bypass, "BOULANGER") == ("CONNECTED", "043115", "mirakl:BOULANGER:043115")
    assert await row(second, "LEROY_MERLIN") == (
        "CONNECTED",
        "00777",
        "mirakl:LEROY_MERLIN:00777",
    )
    for tenant, marketplace in ((owner, "BOULANGER"), (bypass, "BOULANGER")):
        assert await outbox(kit, tenant) == []
        assert read_secret(stack, connector_for(marketplace).credentials_path(tenant))
    assert await outbox(kit, second) == []
    # Reported to an operator, and in the log.
    reported = {
        (c["tenantId"], c["marketplace"], c["shopId"], c["canonicalShopId"], c["heldByTenantId"])
        for c in await _collisions(kit)
    }
    assert {r for r in reported if r[0] in (bypass, second)} == {
        (bypass, "BOULANGER", "043115", "43115", owner),
        (second, "LEROY_MERLIN", "00777", "777", first),
    }
    logged = [r for r in caplog.records if r.getMessage().startswith("shop connected twice")]
    assert {getattr(r, "tenant_id", None) for r in logged} >= {bypass, second}
    assert all("k-boulanger" not in f"{r.getMessage()} {r.__dict__}" for r in caplog.records)

    # Once an operator has disconnected one of a pair, the collision is no longer reported.
    await kit.runtime.pool.execute(
        "UPDATE marketplace_connections SET status = 'DISCONNECTED' WHERE tenant_id = $1",
        bypass,
    )
    assert bypass not in {c["tenantId"] for c in await _collisions(kit)}


async def test_identities_of_an_earlier_form_take_their_instances_and_a_second_name_is_reported(
    make_database: Callable[[str], Awaitable[str]],
    make_kit: Callable[..., Awaitable[OauthKit]],
    stack: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Mirakl connections stored with their catalogue code's identity, as before: each
    takes its instance's (its row only: no event, its key untouched), once (a second start
    changes nothing); a shop another tenant connected under a second entry of its instance
    is reported as held (both kept, for an operator), never rewritten onto the same
    identity."""
    entries = [
        {
            "code": "DECATHLON",
            "name": "Decathlon",
            "responseHours": 24,
            "baseUrl": "https://marketplace-decathlon-eu.mirakl.net",
        },
        {
            "code": "DECATHLON_EU",
            "name": "Decathlon EU",
            "responseHours": 24,
            "baseUrl": "HTTPS://Marketplace-Decathlon-EU.mirakl.net.:443/",
        },
    ]
    catalogue = msgspec.json.encode(entries).decode()
    monkeypatch.setenv("MIRAKL_CATALOGUE", catalogue)
    registry.refresh()
    url = await _migrated(make_database, "oauth-identities")
    owner, second, alone = (new_tenant() for _ in range(3))
    await _store(
        url,
        stack,
        [
            (owner, "DECATHLON", "49116", "mirakl:DECATHLON:49116", 0),
            (second, "DECATHLON_EU", "49116", "mirakl:DECATHLON_EU:49116", 60),
            (alone, "BOULANGER", "2001", "mirakl:BOULANGER:2001", 0),
        ],
    )
    instance = "mirakl@marketplace-decathlon-eu.mirakl.net:49116"
    expected = {
        (owner, "DECATHLON"): ("CONNECTED", "49116", instance),
        (second, "DECATHLON_EU"): ("CONNECTED", "49116", "mirakl:DECATHLON_EU:49116"),
        (alone, "BOULANGER"): ("CONNECTED", "2001", "mirakl@boulanger-prod.mirakl.net:2001"),
    }
    try:
        for start in range(2):  # the second start finds nothing to do
            kit = await make_kit(DATABASE_URL=url, MIRAKL_CATALOGUE=catalogue)
            for (tenant, marketplace), stored in expected.items():
                found = await shop_row(kit, tenant, marketplace)
                assert (found["status"], found["seller_id"], found["account_identity"]) == (
                    stored
                ), (start, marketplace)
                assert await outbox(kit, tenant) == []
                secret = read_secret(stack, connector_for(marketplace).credentials_path(tenant))
                assert secret is not None and secret["shop_id"] == stored[1]
            reported = {
                (c["tenantId"], c["marketplace"], c["heldByTenantId"])
                for c in await _collisions(kit)
            }
            assert {r for r in reported if r[0] in (owner, second, alone)} == {
                (second, "DECATHLON_EU", owner)
            }
    finally:
        monkeypatch.delenv("MIRAKL_CATALOGUE")
        registry.refresh()
