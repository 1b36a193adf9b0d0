"""One contract, two adapters: every scenario runs on the in-memory fakes the unit tier
uses (``oauth_fakes.py``) and on the real adapters (``store.py`` on PostgreSQL,
``adapters.VaultCredentials`` and the redirect flow's ``AccountVault`` on OpenBao with
oauth's own token), so a fake that answers differently fails here."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import hvac
import pytest
from keybuzz_connector_amazon import (
    AppCredentialsMissing,
    CredentialsMissing,
    TenantCredentials,
)
from keybuzz_connector_amazon.names import AMAZON
from keybuzz_devstack.bootstrap import service_token_id
from keybuzz_devstack.infra import DEV_VAULT_ROOT_TOKEN
from keybuzz_devstack.testing import service_migrations
from keybuzz_oauth.adapters import VaultCredentials
from keybuzz_oauth.connections import Connected, ShopConnected, ShopCredentials, Status
from keybuzz_oauth.ports import CredentialsVault, OauthStore, ShopTaken
from keybuzz_oauth.service import DEFINITION
from keybuzz_oauth.states import NewStateRow, digest
from keybuzz_oauth.store import PostgresOauthStore
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.connectors.seam import AccountVault
from keybuzz_shared.connectors.shop_sessions import token_path
from keybuzz_shared.db import create_pool
from keybuzz_shared.vault import VaultClient, VaultError
from oauth_fakes import APP, FakeClock, InMemoryCredentialsVault, InMemoryOauthStore, fnac_shop

FR, DE = "A13V1IB3VIYZZH", "A1PA6795UKMFR9"
DAY = 24 * 3600.0


@pytest.fixture(params=["memory", "postgres"])
async def store(
    request: pytest.FixtureRequest, make_database: Callable[..., Awaitable[str]]
) -> AsyncIterator[OauthStore]:
    if request.param == "memory":
        yield InMemoryOauthStore(FakeClock(datetime.now(UTC)))  # PostgreSQL's now(), too
        return
    pool = await create_pool(await make_database("contract", service_migrations(DEFINITION)))
    yield PostgresOauthStore(pool)
    await pool.close()


def state_row(tenant_id: str = "t1", **fields: object) -> NewStateRow:
    value = uuid.uuid4().hex
    values: dict[str, object] = {
        "digest": digest(value),
        "tenant_id": tenant_id,
        "user_id": "user-1",
        "marketplace_type": AMAZON,
        "marketplace_code": "FR",
        "redirect_uri": "https://oauth.test/callback",
        "browser_hash": digest("nonce"),
        "takeover": False,
        **fields,
    }
    return NewStateRow(**values)  # type: ignore[arg-type]


def connected(tenant_id: str, seller_id: str, marketplace_id: str = FR) -> Connected:
    return Connected(
        tenant_id=tenant_id,
        marketplace=AMAZON,
        user_id="user-1",
        seller_id=seller_id,
        marketplace_id=marketplace_id,
        region="eu",
        vault_path=f"secret/keybuzz/tenants/{tenant_id}/amazon_spapi",
    )


async def test_a_state_is_consumed_once_and_says_what_it_was_bound_to(store: OauthStore) -> None:
    row = state_row(takeover=True)
    expires_at = await store.insert_state(row, 600)
    assert abs(expires_at - (datetime.now(UTC) + timedelta(seconds=600))) < timedelta(seconds=30)
    assert await store.has_live_state("t1", AMAZON) and not await store.has_live_state("t2", AMAZON)
    bound = await store.consume_state(row.digest)
    assert bound is not None
    assert (bound.tenant_id, bound.user_id, bound.marketplace_type, bound.marketplace_code) == (
        "t1",
        "user-1",
        AMAZON,
        "FR",
    )
    assert (bound.redirect_uri, bound.browser_hash, bound.takeover) == (
        row.redirect_uri,
        row.browser_hash,
        True,
    )
    assert await store.consume_state(row.digest) is None
    found, used_at = await store.state_usage(row.digest)
    assert found and used_at is not None
    assert not await store.has_live_state("t1", AMAZON)
    assert await store.state_usage(digest("forged")) == (False, None)


async def test_an_expired_state_is_not_consumed_and_old_ones_are_purged(store: OauthStore) -> None:
    expired, ancient = state_row(), state_row()
    await store.insert_state(expired, -60)
    await store.insert_state(ancient, -2 * DAY)
    assert await store.consume_state(expired.digest) is None
    assert await store.state_usage(expired.digest) == (True, None)
    assert not await store.has_live_state("t1", AMAZON)
    await store.purge_old_states()
    assert await store.state_usage(expired.digest) == (True, None)  # kept: a day to say why
    assert await store.state_usage(ancient.digest) == (False, None)


async def test_pending_failure_and_connected_follow_each_other(store: OauthStore) -> None:
    assert await store.get_connection("t1", AMAZON) is None
    await store.mark_pending("t1", AMAZON)
    pending = await store.get_connection("t1", AMAZON)
    assert pending is not None and pending.status is Status.PENDING
    assert (pending.seller_id, pending.marketplace_ids, pending.last_error) == (None, [], None)
    await store.record_failure("t1", "refused", AMAZON)
    failed = await store.get_connection("t1", AMAZON)
    assert failed is not None and (failed.status, failed.last_error) == (Status.ERROR, "refused")
    await store.record_failure("t-unknown", "nobody", AMAZON)
    assert await store.get_connection("t-unknown", AMAZON) is None

    await store.lock_seller("S1", AMAZON)
    await store.lock_tenants(["t1", "t0", "t1"], AMAZON)
    connection = await store.upsert_connected(connected("t1", "S1"))
    assert connection.id == failed.id and connection.status is Status.CONNECTED
    assert (connection.seller_id, connection.marketplace_ids, connection.region) == (
        "S1",
        [FR],
        "eu",
    )
    assert connection.vault_path == connected("t1", "S1").vault_path
    assert connection.last_error is None and connection.connected_at is not None
    assert await store.get_connection("t1", AMAZON) == connection

    await store.mark_pending("t1", AMAZON)  # adding a marketplace never downgrades
    await store.record_failure("t1", "the second consent failed", AMAZON)
    still = await store.get_connection("t1", AMAZON)
    assert still is not None
    assert (still.status, still.last_error) == (Status.CONNECTED, "the second consent failed")


async def test_the_same_seller_adds_marketplaces_another_starts_afresh(store: OauthStore) -> None:
    await store.upsert_connected(connected("t1", "S1", DE))
    both = await store.upsert_connected(connected("t1", "S1", FR))
    assert both.marketplace_ids == [FR, DE]  # sorted
    assert (await store.upsert_connected(connected("t1", "S1", DE))).marketplace_ids == [FR, DE]
    other = await store.upsert_connected(connected("t1", "S2", DE))
    assert (other.seller_id, other.marketplace_ids) == ("S2", [DE])
    await store.mark_disconnected("t1", AMAZON)
    again = await store.upsert_connected(connected("t1", "S2", FR))
    assert again.marketplace_ids == [FR]  # an ended connection starts afresh


async def test_the_tenants_holding_a_seller_are_the_linked_ones(store: OauthStore) -> None:
    for tenant_id in ("t-b", "t-a", "t-c", "t-d"):
        await store.upsert_connected(connected(tenant_id, "S1"))
    await store.upsert_connected(connected("t-e", "S2"))
    assert await store.mark_reauth_required(
        "t-c", "S1", "revoked", datetime.now(UTC) + timedelta(1), AMAZON
    )
    await store.mark_disconnected("t-d", AMAZON)
    assert await store.tenants_holding_seller("S1", "t-a", AMAZON) == ["t-b", "t-c"]
    assert await store.tenants_holding_seller("S3", "t-a", AMAZON) == []


async def test_a_disconnection_happens_once_and_keeps_the_seller(store: OauthStore) -> None:
    assert await store.mark_disconnected("t1", AMAZON) is None
    await store.upsert_connected(connected("t1", "S1"))
    await store.record_failure("t1", "a later consent failed", AMAZON)
    ended = await store.mark_disconnected("t1", AMAZON)
    assert ended is not None and ended.status is Status.DISCONNECTED
    assert (ended.seller_id, ended.vault_path, ended.last_error) == ("S1", None, None)
    assert await store.mark_disconnected("t1", AMAZON) is None
    await store.mark_pending("t1", AMAZON)
    restarted = await store.get_connection("t1", AMAZON)
    assert restarted is not None and restarted.status is Status.PENDING


async def test_reauth_marks_a_connection_made_before_the_refusal(store: OauthStore) -> None:
    await store.upsert_connected(connected("t1", "S1"))
    past, future = datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1)
    assert not await store.mark_reauth_required("t1", "S1", "stale", past, AMAZON)
    assert not await store.mark_reauth_required("t1", "S2", "another seller", future, AMAZON)
    assert await store.mark_reauth_required("t1", None, "revoked", future, AMAZON)
    marked = await store.get_connection("t1", AMAZON)
    assert marked is not None and (marked.status, marked.last_error) == (
        Status.REAUTH_REQUIRED,
        "revoked",
    )
    assert not await store.mark_reauth_required("t1", "S1", "again", future, AMAZON)
    assert not await store.mark_reauth_required("t2", None, "unknown", future, AMAZON)


def shop(tenant_id: str, shop_id: str, marketplace: str = "FNAC") -> ShopConnected:
    return ShopConnected(
        tenant_id=tenant_id,
        marketplace=marketplace,
        user_id="user-1",
        shop_id=shop_id,
        vault_path=f"secret/keybuzz/tenants/{tenant_id}/{marketplace.lower()}_api",
        identity=f"one-api:{shop_id}",  # one API serves both marketplace values
    )


async def test_a_shop_is_a_connection_of_its_marketplace(store: OauthStore) -> None:
    connection = await store.upsert_shop_connected(shop("t1", "SHOP-1"))
    assert (connection.marketplace_type, connection.status, connection.seller_id) == (
        "FNAC",
        Status.CONNECTED,
        "SHOP-1",
    )
    assert (connection.marketplace_ids, connection.region, connection.last_error) == (
        [],
        None,
        None,
    )
    assert connection.vault_path == "secret/keybuzz/tenants/t1/fnac_api"
    assert await store.get_connection("t1", "FNAC") == connection
    assert await store.get_connection("t1", AMAZON) is None  # Amazon's is another row
    assert await store.get_connection("t1", "DARTY") is None
    darty = await store.upsert_shop_connected(shop("t1", "SHOP-2", "DARTY"))
    assert darty.id != connection.id
    rotated = await store.upsert_shop_connected(shop("t1", "SHOP-1"))
    assert rotated.id == connection.id and rotated.connected_at is not None
    await store.lock_account("one-api:SHOP-1")
    await store.lock_tenants(["t1"], "FNAC")


async def test_a_shop_is_linked_to_one_tenant_at_most(store: OauthStore) -> None:
    await store.upsert_shop_connected(shop("t1", "SHOP-1"))
    assert await store.tenants_holding_seller("SHOP-1", "t2", "FNAC") == ["t1"]
    assert await store.tenants_holding_seller("SHOP-1", "t2", AMAZON) == []  # not an Amazon seller
    with pytest.raises(ShopTaken):
        await store.upsert_shop_connected(shop("t2", "SHOP-1"))
    assert await store.get_connection("t2", "FNAC") is None
    # REAUTH_REQUIRED still holds the shop; DISCONNECTED frees it.
    future = datetime.now(UTC) + timedelta(hours=1)
    assert await store.mark_reauth_required("t1", "SHOP-1", "key refused", future, "FNAC")
    assert not await store.mark_reauth_required("t1", None, "again", future, "DARTY")
    with pytest.raises(ShopTaken):
        await store.upsert_shop_connected(shop("t2", "SHOP-1"))
    ended = await store.mark_disconnected("t1", "FNAC")
    assert ended is not None and (ended.status, ended.vault_path) == (Status.DISCONNECTED, None)
    assert await store.mark_disconnected("t1", "FNAC") is None
    assert (await store.upsert_shop_connected(shop("t2", "SHOP-1"))).tenant_id == "t2"
    # Amazon sellers are not concerned.
    await store.upsert_connected(connected("t4", "SHOP-1"))
    await store.upsert_connected(connected("t5", "SHOP-1"))


async def test_an_account_is_held_once_whatever_its_marketplace_value(store: OauthStore) -> None:
    await store.upsert_shop_connected(shop("t1", "SHOP-1"))
    assert await store.account_holders("one-api:SHOP-1") == [("t1", "FNAC")]
    for tenant in ("t2", "t1"):  # another tenant, or the same one polled twice
        with pytest.raises(ShopTaken):
            await store.upsert_shop_connected(shop(tenant, "SHOP-1", "DARTY"))
        assert await store.get_connection(tenant, "DARTY") is None
    assert await store.account_holders("one-api:SHOP-1") == [("t1", "FNAC")]
    assert await store.mark_disconnected("t1", "FNAC") is not None
    assert await store.account_holders("one-api:SHOP-1") == []
    moved = await store.upsert_shop_connected(shop("t2", "SHOP-1", "DARTY"))
    assert (moved.tenant_id, moved.marketplace_type) == ("t2", "DARTY")
    assert await store.account_holders("one-api:SHOP-1") == [("t2", "DARTY")]
    assert await store.ended_as_duplicates() == []


async def test_shop_ids_are_rewritten_where_free_and_collisions_recorded(
    store: OauthStore,
) -> None:
    held = await store.upsert_shop_connected(shop("t1", "SHOP-1"))
    await store.upsert_shop_connected(shop("t2", "shop-1", "DARTY"))  # an older spelling
    await store.upsert_shop_connected(shop("t3", "shop-3"))
    live = {s.tenant_id: s for s in await store.live_shops(["FNAC", "DARTY"])}
    assert set(live) == {"t1", "t2", "t3"}
    assert await store.live_shops(["CDISCOUNT"]) == []
    assert (live["t2"].seller_id, live["t2"].identity) == ("shop-1", "one-api:shop-1")
    # Free: rewritten once (a second writer, still reading the old spelling, changes nothing).
    assert await store.holder_of(live["t3"], "SHOP-3", "one-api:SHOP-3") is None
    assert await store.rewrite_shop_id(live["t3"], "SHOP-3", "one-api:SHOP-3")
    assert not await store.rewrite_shop_id(live["t3"], "SHOP-3", "one-api:SHOP-3")
    assert (await store.get_connection("t3", "FNAC")).seller_id == "SHOP-3"  # type: ignore[union-attr]
    assert await store.account_holders("one-api:SHOP-3") == [("t3", "FNAC")]
    # Held by another connection (its identity): recorded, both kept.
    holder = await store.holder_of(live["t2"], "SHOP-1", "one-api:SHOP-1")
    assert holder == (held.id, "t1", "FNAC")
    await store.record_collision(live["t2"], "SHOP-1", held.id)
    await store.record_collision(live["t2"], "SHOP-1", held.id)  # again at the next start
    [collision] = await store.shop_id_collisions()
    assert (
        collision.tenant_id,
        collision.marketplace,
        collision.shop_id,
        collision.canonical_shop_id,
        collision.held_by_tenant_id,
        collision.held_by_marketplace,
    ) == ("t2", "DARTY", "shop-1", "SHOP-1", "t1", "FNAC")
    assert (await store.get_connection("t2", "DARTY")).status is Status.CONNECTED  # type: ignore[union-attr]
    # Settled once either is disconnected.
    assert await store.mark_disconnected("t1", "FNAC") is not None
    assert await store.shop_id_collisions() == []


async def test_a_tenant_changing_its_shop_frees_the_first(store: OauthStore) -> None:
    await store.upsert_shop_connected(shop("t1", "SHOP-1"))
    moved = await store.upsert_shop_connected(shop("t1", "SHOP-2"))
    assert moved.seller_id == "SHOP-2"
    assert (await store.upsert_shop_connected(shop("t2", "SHOP-1"))).status is Status.CONNECTED


# --- Vault -------------------------------------------------------------------------------


@dataclass
class Vaults:
    configured: AccountVault  # its app source holds the LWA app's credentials
    unconfigured: AccountVault  # its app source holds nothing
    refusing: AccountVault  # Vault refuses every request
    shops: CredentialsVault  # the shops' keys, in configured's Vault
    refusing_shops: CredentialsVault  # in refusing's


@pytest.fixture(params=["memory", "openbao"])
async def vaults(request: pytest.FixtureRequest, vault_addr: str) -> AsyncIterator[Vaults]:
    if request.param == "memory":
        configured, refusing = InMemoryCredentialsVault(), InMemoryCredentialsVault()
        refusing.failing = {"app", "store", "check", "delete"}
        unconfigured = InMemoryCredentialsVault(app=None)
        yield Vaults(configured, unconfigured, refusing, configured, refusing)
        return
    source = f"contract-{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(
        hvac.Client(
            url=vault_addr, token=DEV_VAULT_ROOT_TOKEN
        ).secrets.kv.v2.create_or_update_secret,
        path=f"keybuzz/amazon_spapi/app/{source}",
        secret={
            "client_id": APP.client_id,
            "client_secret": APP.client_secret,
            "application_id": APP.application_id,
            "redirect_uri": APP.redirect_uri,
            "region": APP.region,
        },
        mount_point="secret",
    )
    oauth = VaultClient(vault_addr, token=service_token_id("oauth"))
    # tenant-sync's policy reads no Amazon credential and writes none.
    stranger = VaultClient(vault_addr, token=service_token_id("tenant-sync"))
    flow = connector_for(AMAZON).redirect_flow
    assert flow is not None
    yield Vaults(
        flow.vault(oauth, source),
        flow.vault(oauth, f"missing-{source}"),
        flow.vault(stranger, source),
        VaultCredentials(oauth),
        VaultCredentials(stranger),
    )
    for client in (oauth, stranger):
        await client.aclose()


def credentials(tenant_id: str, seller_id: str) -> TenantCredentials:
    return TenantCredentials(
        tenant_id=tenant_id,
        refresh_token=f"Atzr|{uuid.uuid4().hex}",
        seller_id=seller_id,
        marketplace_id=FR,
        region="eu",
        created_at="2026-11-02T09:00:00+00:00",
    )


async def test_the_app_credentials_or_a_typed_error(vaults: Vaults) -> None:
    app = await vaults.configured.app_credentials()
    assert (app.client_id, app.client_secret, app.application_id) == (
        APP.client_id,
        APP.client_secret,
        APP.application_id,
    )
    assert (app.redirect_uri, app.region, app.draft) == (APP.redirect_uri, "eu", False)
    with pytest.raises(AppCredentialsMissing):
        await vaults.unconfigured.app_credentials()


async def test_tenant_credentials_are_stored_replaced_checked_and_deleted(vaults: Vaults) -> None:
    vault, tenant_id = vaults.configured, f"contract-{uuid.uuid4().hex[:8]}"
    with pytest.raises(CredentialsMissing):
        await vault.check(tenant_id)
    first = credentials(tenant_id, "S1")
    assert await vault.store(first) == f"secret/keybuzz/tenants/{tenant_id}/amazon_spapi"
    assert await vault.check(tenant_id) == first
    replaced = credentials(tenant_id, "S2")
    await vault.store(replaced)
    assert await vault.check(tenant_id) == replaced  # at once, not after the check's max age
    await vault.delete(tenant_id)
    with pytest.raises(CredentialsMissing):
        await vault.check(tenant_id)
    await vault.delete(tenant_id)  # nothing there: not an error


async def test_a_vault_that_refuses_says_vault_error(vaults: Vaults) -> None:
    tenant_id = f"contract-{uuid.uuid4().hex[:8]}"
    with pytest.raises(VaultError):
        await vaults.refusing.store(credentials(tenant_id, "S1"))
    await vaults.configured.store(credentials(tenant_id, "S1"))
    with pytest.raises(VaultError):
        await vaults.refusing.check(tenant_id)
    with pytest.raises(VaultError):
        await vaults.refusing.delete(tenant_id)
    with pytest.raises(VaultError):
        await vaults.refusing.app_credentials()
    assert (await vaults.configured.check(tenant_id)).seller_id == "S1"  # nothing deleted
    await vaults.configured.delete(tenant_id)


def shop_credentials(tenant_id: str, marketplace: str, key: str) -> ShopCredentials:
    return fnac_shop(
        tenant_id=tenant_id,
        marketplace=marketplace,
        partner_id="0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D",
        shop_id="A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D",
        key=key,
        created_at="2026-11-02T09:00:00+00:00",
    )


async def test_shop_credentials_are_stored_replaced_read_and_deleted(vaults: Vaults) -> None:
    vault, tenant_id = vaults.shops, f"contract-{uuid.uuid4().hex[:8]}"
    assert await vault.read_shop(tenant_id, "FNAC") is None
    fnac, darty = (shop_credentials(tenant_id, m, f"key-{m}") for m in ("FNAC", "DARTY"))
    await vault.store_shop(fnac)
    await vault.store_shop(darty)
    assert await vault.read_shop(tenant_id, "FNAC") == fnac
    assert await vault.read_shop(tenant_id, "DARTY") == darty
    rotated = shop_credentials(tenant_id, "FNAC", "key-rotated")
    await vault.store_shop(rotated)
    assert await vault.read_shop(tenant_id, "FNAC") == rotated
    await vault.delete_shop(tenant_id, "FNAC")
    assert await vault.read_shop(tenant_id, "FNAC") is None
    assert await vault.read_shop(tenant_id, "DARTY") == darty
    await vault.delete_shop(tenant_id, "FNAC")  # nothing there: not an error
    with pytest.raises(CredentialsMissing):  # Amazon's secret is another one
        await vaults.configured.check(tenant_id)
    await vault.delete_shop(tenant_id, "DARTY")


async def test_a_shops_token_kept_beside_its_credentials_is_deleted_with_them(
    vault_addr: str,
) -> None:
    # A shop whose sessions share their token keep it beside its entry, for every process:
    # a disconnected shop leaves none in Vault.
    oauth = VaultClient(vault_addr, token=service_token_id("oauth"))
    vault, tenant_id = VaultCredentials(oauth), uuid.uuid4().hex
    await vault.store_shop(shop_credentials(tenant_id, "FNAC", "k"))
    kept_at = token_path(connector_for("FNAC").credentials_path(tenant_id))
    await oauth.write(kept_at, {"access_token": "a-shared-token", "expires_at": 0.0})
    await vault.delete_shop(tenant_id, "FNAC")
    assert await oauth.read(kept_at) is None
    await oauth.aclose()


async def test_a_vault_that_refuses_shop_credentials_says_vault_error(vaults: Vaults) -> None:
    tenant_id = f"contract-{uuid.uuid4().hex[:8]}"
    with pytest.raises(VaultError):
        await vaults.refusing_shops.store_shop(shop_credentials(tenant_id, "FNAC", "k"))
    await vaults.shops.store_shop(shop_credentials(tenant_id, "FNAC", "k"))
    with pytest.raises(VaultError):
        await vaults.refusing_shops.read_shop(tenant_id, "FNAC")
    with pytest.raises(VaultError):
        await vaults.refusing_shops.delete_shop(tenant_id, "FNAC")
    assert await vaults.shops.read_shop(tenant_id, "FNAC") is not None
    await vaults.shops.delete_shop(tenant_id, "FNAC")
