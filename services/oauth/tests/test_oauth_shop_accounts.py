"""One shop, one connection, whatever marketplace value it is sent under: the oauth
service on real OpenBao, PostgreSQL and NATS, checking credentials with the sandbox's Fnac
double over HTTP.

The pairs are built from the registry: every two CREDENTIALS marketplaces whose shops are
served by one API (the same API settings) share one shop-id space, so a shop held under
one is refused under the other, to another tenant and to the same one (polled twice)."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from keybuzz_oauth.connections import shop_marketplaces
from keybuzz_oauth.service import DEFINITION
from keybuzz_oauth.settings import OauthSettings
from keybuzz_shared.db import apply_migrations
from oauth_testkit import OauthKit, new_tenant, read_secret, root_vault
from test_oauth_shops import (
    FNAC_API,
    body,
    outbox,
    sandbox_shops,
    shop_api,
    shop_path,
    shop_row,
)

# One settings for all: each OauthSettings() makes every connector's defaults (~3 ms), and
# the pairs below asked for two of them for each of ~600 pairs, at every worker's collection.
_SETTINGS = OauthSettings()
_API_URL = {
    marketplace: _SETTINGS.shop_api(marketplace).api_url for marketplace in shop_marketplaces()
}

SHARED_API_PAIRS = [
    (held, sent)
    for held in shop_marketplaces()
    for sent in shop_marketplaces()
    if held != sent and _API_URL[held] == _API_URL[sent]
]


PAIR_IDS = [f"{held}-to-{sent}" for held, sent in SHARED_API_PAIRS]


def test_some_marketplaces_share_an_api() -> None:
    assert SHARED_API_PAIRS  # else the tests below test nothing


async def a_shop_of(sandbox_url: str, marketplace: str) -> dict[str, Any]:
    return (await sandbox_shops(sandbox_url, marketplace))[0]


@pytest.mark.parametrize("spelling", [str.upper, str.lower], ids=["upper", "lower"])
@pytest.mark.parametrize(("held", "sent"), SHARED_API_PAIRS, ids=PAIR_IDS)
async def test_a_shop_held_by_one_tenant_is_refused_to_another_under_any_marketplace(
    shop_kit: OauthKit,
    sandbox_url: str,
    held: str,
    sent: str,
    spelling: Callable[[str], str],
) -> None:
    shop = await a_shop_of(sandbox_url, held)
    owner, intruder = new_tenant(), new_tenant()
    ok = await shop_api(shop_kit, "POST", f"{held.lower()}/connection", owner, json=body(shop))
    assert ok.status_code == 200, ok.text
    try:
        typed = body(shop, shopId=spelling(shop["shop_id"]), partnerId=spelling(shop["partner_id"]))
        taken = await shop_api(shop_kit, "POST", f"{sent.lower()}/connection", intruder, json=typed)
        assert taken.status_code == 409, taken.text
        assert "another KeyBuzz account" in taken.json()["message"] and owner not in taken.text
        assert shop["key"] not in taken.text
        assert read_secret(shop_kit.stack, shop_path(intruder, sent.lower())) is None
        assert await shop_row(shop_kit, intruder, sent) is None
        assert await outbox(shop_kit, intruder) == []  # no connection.connected
        status = await shop_api(shop_kit, "GET", f"{sent.lower()}/status", intruder)
        assert status.json()["status"] == "NOT_CONNECTED"
    finally:
        await shop_api(shop_kit, "DELETE", f"{held.lower()}/connection", owner)
    # Freed by its owner's disconnect, the shop may go elsewhere.
    moved = await shop_api(
        shop_kit, "POST", f"{sent.lower()}/connection", intruder, json=body(shop)
    )
    assert moved.status_code == 200, moved.text
    await shop_api(shop_kit, "DELETE", f"{sent.lower()}/connection", intruder)


@pytest.mark.parametrize(("held", "sent"), SHARED_API_PAIRS, ids=PAIR_IDS)
async def test_one_tenant_cannot_connect_its_shop_under_two_marketplaces(
    shop_kit: OauthKit, sandbox_url: str, held: str, sent: str
) -> None:
    shop, tenant = await a_shop_of(sandbox_url, held), new_tenant()
    ok = await shop_api(shop_kit, "POST", f"{held.lower()}/connection", tenant, json=body(shop))
    assert ok.status_code == 200, ok.text
    try:
        twice = await shop_api(
            shop_kit, "POST", f"{sent.lower()}/connection", tenant, json=body(shop)
        )
        assert twice.status_code == 409, twice.text
        assert "already connected to this KeyBuzz account" in twice.json()["message"]
        assert read_secret(shop_kit.stack, shop_path(tenant, sent.lower())) is None
        assert await shop_row(shop_kit, tenant, sent) is None
        assert await outbox(shop_kit, tenant) == ["connection.connected"]
    finally:
        await shop_api(shop_kit, "DELETE", f"{held.lower()}/connection", tenant)


# --- migration 004 on a database that holds one shop twice ------------------------------

_INSERT_CONNECTED = """
INSERT INTO marketplace_connections (tenant_id, marketplace_type, status, seller_id,
    vault_path, connected_by, connected_at)
VALUES ($1, $2, 'CONNECTED', $3, $4, 'user-1', now() + make_interval(secs => $5))
"""


async def _database_before_004(make_database: Callable[[str], Awaitable[str]], tmp: Path) -> str:
    """A database whose oauth schema stops at migration 003 (as deployed before 004)."""
    url = await make_database("oauth-003")
    before = tmp / "migrations"
    before.mkdir()
    for path in sorted(DEFINITION.migrations.glob("00[1-3]_*.sql")):
        shutil.copy(path, before / path.name)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        await apply_migrations(pool, DEFINITION.name, before)
    finally:
        await pool.close()
    return url


async def test_migration_004_ends_the_later_of_a_shop_held_twice_and_says_it(
    make_database: Callable[[str], Awaitable[str]],
    make_kit: Callable[..., Awaitable[OauthKit]],
    sandbox_url: str,
    stack: Any,
    tmp_path: Path,
) -> None:
    url = await _database_before_004(make_database, tmp_path)
    shop = await a_shop_of(sandbox_url, "FNAC")
    first, later, own = new_tenant(), new_tenant(), new_tenant()
    db = await asyncpg.connect(url)
    try:
        rows = [
            (first, "FNAC", shop["shop_id"].upper(), 0),
            (later, "DARTY", shop["shop_id"].lower(), 60),  # the takeover
            (own, "FNAC", "11111111-2222-4333-8444-555555555555", 0),
            (own, "DARTY", "11111111-2222-4333-8444-555555555555", 30),  # polled twice
        ]
        for tenant, marketplace, shop_id, after in rows:
            path = shop_path(tenant, marketplace.lower())
            await db.execute(_INSERT_CONNECTED, tenant, marketplace, shop_id, path, after)
            root_vault(stack).secrets.kv.v2.create_or_update_secret(
                path=path.removeprefix("secret/"),
                secret={"partner_id": "P", "shop_id": shop_id, "key": "k"},
                mount_point="secret",
            )
    finally:
        await db.close()

    kit = await make_kit(DATABASE_URL=url, FNAC_API_URL=sandbox_url + FNAC_API)

    async def row(tenant: str, marketplace: str) -> Any:
        return await shop_row(kit, tenant, marketplace)

    assert (await row(first, "FNAC"))["status"] == "CONNECTED"
    assert (await row(own, "FNAC"))["status"] == "CONNECTED"
    for tenant in (later, own):
        ended = await row(tenant, "DARTY")
        assert (ended["status"], ended["vault_path"], ended["ended_as_duplicate"]) == (
            "ERROR",
            None,
            False,
        )
        assert "another KeyBuzz connection" in ended["last_error"]
        assert read_secret(stack, shop_path(tenant, "darty")) is None
        [said] = await kit.runtime.pool.fetch(
            "SELECT subject, convert_from(payload, 'UTF8')::jsonb AS body FROM event_outbox "
            "WHERE partition_key = $1",
            tenant,
        )
        assert said["subject"] == "connection.disconnected"
        assert '"receivedInError": true' in said["body"] and '"DARTY"' in said["body"]
    assert read_secret(stack, shop_path(first, "fnac")) is not None
    assert await outbox(kit, first) == []
    # The database's own guarantee now spans marketplace values.
    with pytest.raises(asyncpg.UniqueViolationError):
        await kit.runtime.pool.execute(
            "UPDATE marketplace_connections SET status = 'CONNECTED' "
            "WHERE tenant_id = $1 AND marketplace_type = 'DARTY'",
            later,
        )
    # The seller is told why in the status.
    status = await shop_api(kit, "GET", "darty/status", later)
    assert status.json()["status"] == "ERROR", status.text
