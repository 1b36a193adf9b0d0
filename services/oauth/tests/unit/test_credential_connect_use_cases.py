"""Connecting a Fnac or Darty shop, on in-memory ports: the check with the marketplace
before anything is stored, one tenant per shop, the key in Vault only, rotation,
status and disconnect. The fakes are held to the real adapters by the contract tests;
the flow over HTTP with the Fnac double is in ``test_oauth_shops.py``."""

from __future__ import annotations

from typing import Any

import pytest
from keybuzz_oauth import credential_connect, flow, status_and_disconnect
from keybuzz_oauth.connections import Connection, Status
from keybuzz_oauth.errors import (
    CredentialsUnavailable,
    InvalidMarketplace,
    MarketplaceError,
    MarketplaceUnavailable,
    NotConnected,
    ShopAlreadyConnected,
    ShopCredentialsRefused,
)
from keybuzz_shared.events import ConnectionConnected, ConnectionDisconnected
from keybuzz_shared.tenancy import Principal, TenantContext
from oauth_fakes import FakeOauth, InMemoryOauthStore, ShopKey, fake_oauth

PARTNER = "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D"
SHOP = "A1B2C3D4-E5F6-4A7B-8C9D-0E1F2A3B4C5D"
OTHER_SHOP = "66666666-7777-4888-8999-AAAAAAAAAAAA"
KEY = "k3y-Of-The-Shop-7f3c9e"
NEW_KEY = "rotated-K3y-2b8d41"


def tenant(tenant_id: str, user: str = "user-1") -> TenantContext:
    return TenantContext(
        principal=Principal(user_id=user, tenants=(tenant_id,)), tenant_id=tenant_id
    )


def shop_fake() -> FakeOauth:
    fake = fake_oauth()
    for shop, key in ((SHOP, KEY), (OTHER_SHOP, KEY)):
        fake.shops.open_shop(PARTNER, shop, key)
    return fake


async def connect(
    fake: FakeOauth,
    tenant_id: str,
    marketplace: str = "fnac",
    shop: str = SHOP,
    key: str = KEY,
    partner: str = PARTNER,
) -> Connection:
    typed = ShopKey(partner_id=partner, shop_id=shop, key=key)
    return await credential_connect.connect(fake.ports, tenant(tenant_id), marketplace, typed)


def everything_but_vault(fake: FakeOauth) -> str:
    """What rows, events and the errors' messages could leak the key into."""
    return repr((fake.store.connections, fake.units.published))


# --- connect -----------------------------------------------------------------------------


async def test_a_verified_shop_is_connected_with_its_key_in_vault_only() -> None:
    fake = shop_fake()
    connection = await connect(fake, "t1", "fnac", shop=SHOP.lower())
    assert fake.shops.checked == [SHOP]  # asked before anything is stored
    assert (connection.marketplace_type, connection.status, connection.seller_id) == (
        "FNAC",
        Status.CONNECTED,
        SHOP,
    )
    assert connection.vault_path == "secret/keybuzz/tenants/t1/fnac_api"
    stored = fake.vault.shops[("t1", "FNAC")]
    assert stored.fields == {"partner_id": PARTNER, "shop_id": SHOP, "key": KEY}
    assert stored.created_at == fake.clock().isoformat()
    [event] = fake.units.published
    assert isinstance(event, ConnectionConnected)
    assert (event.tenant_id, event.marketplace, event.seller_id, event.connection_id) == (
        "t1",
        "FNAC",
        SHOP,
        connection.id,
    )
    assert event.marketplace_ids == []
    assert KEY not in everything_but_vault(fake) and KEY not in repr(stored)
    assert fake.store.rows == {} and fake.vault.tenants == {}  # Amazon's untouched


async def test_a_darty_shop_is_a_connection_of_its_own() -> None:
    fake = shop_fake()
    await connect(fake, "t1", "fnac")
    darty = await connect(fake, "t1", "darty", shop=OTHER_SHOP)
    assert darty.marketplace_type == "DARTY"
    assert darty.vault_path == "secret/keybuzz/tenants/t1/darty_api"
    assert set(fake.vault.shops) == {("t1", "FNAC"), ("t1", "DARTY")}
    assert [e.marketplace for e in fake.units.published] == ["FNAC", "DARTY"]  # type: ignore[attr-defined]
    assert fake.store.locks[-2:] == [f"account:memory-api:{OTHER_SHOP}", "tenant:DARTY:t1"]


@pytest.mark.parametrize(
    "wrong",
    [
        {"key": "not-the-key"},
        {"shop": "99999999-9999-4999-8999-999999999999"},
        {"partner": "00000000-0000-4000-8000-000000000000"},
    ],
)
async def test_credentials_the_marketplace_refuses_store_nothing(wrong: dict[str, Any]) -> None:
    fake = shop_fake()
    with pytest.raises(ShopCredentialsRefused) as refused:
        await connect(fake, "t1", **wrong)
    assert "Fnac refused these credentials" in refused.value.message
    assert "not-the-key" not in str(refused.value)
    assert fake.vault.shops == {} and fake.units.published == []
    assert fake.store.rows_of("FNAC") == {} and fake.store.locks == []


async def test_a_marketplace_that_does_not_answer_stores_nothing_and_says_when_to_retry() -> None:
    fake = shop_fake()
    fake.shops.down, fake.shops.retry_after = True, 12.0
    with pytest.raises(MarketplaceUnavailable) as unavailable:
        await connect(fake, "t1")
    assert unavailable.value.retry_after == 12.0
    assert "retry" in unavailable.value.message and KEY not in str(unavailable.value)
    fake.shops.down, fake.shops.unreadable = False, True
    with pytest.raises(MarketplaceError):
        await connect(fake, "t1")
    assert fake.vault.shops == {} and fake.units.published == [] and fake.store.locks == []


async def test_a_shop_connected_to_another_tenant_is_refused_there() -> None:
    fake = shop_fake()
    await connect(fake, "t-first")
    with pytest.raises(ShopAlreadyConnected) as taken:
        await connect(fake, "t-second", shop=SHOP.lower())  # the same shop, spelt otherwise
    assert "t-first" not in taken.value.message  # the other tenant is not named
    assert ("t-second", "FNAC") not in fake.vault.shops
    assert "t-second" not in fake.store.rows_of("FNAC")
    assert fake.store.rows_of("FNAC")["t-first"].status is Status.CONNECTED
    assert [e.tenant_id for e in fake.units.published] == ["t-first"]


async def test_only_the_keys_holder_learns_that_a_shop_is_taken() -> None:
    fake = shop_fake()
    await connect(fake, "t-first")
    with pytest.raises(ShopCredentialsRefused):
        await connect(fake, "t-second", key="guessed")


async def test_the_database_refusing_a_second_tenant_leaves_vault_untouched() -> None:
    """The unique index stands behind the check: a store that misses the holder still
    refuses the row, and nothing reaches Vault."""

    class Blind(InMemoryOauthStore):
        async def tenants_holding_seller(self, *args: Any, **kwargs: Any) -> list[str]:
            return []

    fake = shop_fake()
    blind = Blind(fake.clock)
    fake.units.store = blind
    await connect(fake, "t-first")
    with pytest.raises(ShopAlreadyConnected):
        await connect(fake, "t-second")
    assert set(fake.vault.shops) == {("t-first", "FNAC")}
    assert [e.tenant_id for e in fake.units.published] == ["t-first"]


async def test_posting_again_rotates_the_key_of_the_same_connection() -> None:
    fake = shop_fake()
    first = await connect(fake, "t1")
    fake.shops.open_shop(PARTNER, SHOP, NEW_KEY)  # the seller asked Fnac for a new key
    fake.clock.advance(60)
    rotated = await connect(fake, "t1", key=NEW_KEY)
    assert rotated.id == first.id and rotated.status is Status.CONNECTED
    assert rotated.connected_at is not None and first.connected_at is not None
    assert rotated.connected_at > first.connected_at
    assert fake.vault.shops[("t1", "FNAC")].fields["key"] == NEW_KEY
    assert [type(e).__name__ for e in fake.units.published] == ["ConnectionConnected"] * 2
    assert NEW_KEY not in everything_but_vault(fake)


async def test_another_shop_replaces_the_tenants_shop_and_frees_the_first() -> None:
    fake = shop_fake()
    await connect(fake, "t1")
    replaced = await connect(fake, "t1", shop=OTHER_SHOP)
    assert replaced.seller_id == OTHER_SHOP
    assert fake.vault.shops[("t1", "FNAC")].shop_id == OTHER_SHOP
    assert (await connect(fake, "t2")).seller_id == SHOP  # no longer held by t1


async def test_a_vault_that_fails_the_write_leaves_nothing_connected() -> None:
    fake = shop_fake()
    fake.vault.failing = {"store"}
    with pytest.raises(CredentialsUnavailable) as unavailable:
        await connect(fake, "t1")
    assert "nothing was connected" in unavailable.value.message
    assert fake.store.rows_of("FNAC") == {} and fake.units.published == []


async def test_an_unknown_shop_marketplace_is_refused_before_anything() -> None:
    fake = shop_fake()
    with pytest.raises(InvalidMarketplace):
        await connect(fake, "t1", "amazon")
    assert fake.shops.checked == []


# --- status ------------------------------------------------------------------------------


async def test_status_checks_the_key_a_connected_shop_has_in_vault() -> None:
    fake = shop_fake()
    never = await status_and_disconnect.status(fake.ports, "t1", "fnac")
    assert never.status is Status.NOT_CONNECTED
    await connect(fake, "t1")
    report = await status_and_disconnect.status(fake.ports, "t1", "fnac")
    assert (report.status, report.seller_id, report.credentials_verified) == (
        Status.CONNECTED,
        SHOP,
        True,
    )
    assert (await status_and_disconnect.status(fake.ports, "t1", "darty")).status is (
        Status.NOT_CONNECTED
    )
    fake.vault.failing = {"check"}
    unknown = await status_and_disconnect.status(fake.ports, "t1", "fnac")
    assert (unknown.status, unknown.credentials_verified) == (Status.CONNECTED, None)
    assert "could not verify" in (unknown.last_error or "")
    fake.vault.failing = set()
    del fake.vault.shops[("t1", "FNAC")]
    missing = await status_and_disconnect.status(fake.ports, "t1", "fnac")
    assert (missing.status, missing.credentials_verified) == (Status.ERROR, False)
    assert fake.store.rows_of("FNAC")["t1"].status is Status.CONNECTED  # a read writes nothing


# --- disconnect --------------------------------------------------------------------------


async def test_disconnect_deletes_the_key_and_says_disconnected_once() -> None:
    fake = shop_fake()
    await connect(fake, "t1")
    await connect(fake, "t1", "darty", shop=OTHER_SHOP)
    report = await status_and_disconnect.disconnect(fake.ports, tenant("t1", "user-9"), "fnac")
    assert report.status is Status.DISCONNECTED and ("t1", "FNAC") not in fake.vault.shops
    assert ("t1", "DARTY") in fake.vault.shops  # the other marketplace stays
    again = await status_and_disconnect.disconnect(fake.ports, tenant("t1"), "fnac")
    assert again.status is Status.DISCONNECTED
    [event] = [e for e in fake.units.published if isinstance(e, ConnectionDisconnected)]
    assert (event.marketplace, event.seller_id, event.reason) == (
        "FNAC",
        SHOP,
        "disconnected by user user-9",
    )
    assert (await connect(fake, "t2")).status is Status.CONNECTED  # the shop is free again


async def test_disconnect_without_a_connection_or_with_vault_failing() -> None:
    fake = shop_fake()
    with pytest.raises(NotConnected):
        await status_and_disconnect.disconnect(fake.ports, tenant("t1"), "fnac")
    await connect(fake, "t1")
    fake.vault.failing = {"delete"}
    with pytest.raises(CredentialsUnavailable):
        await status_and_disconnect.disconnect(fake.ports, tenant("t1"), "fnac")
    assert fake.store.rows_of("FNAC")["t1"].status is Status.CONNECTED
    assert ("t1", "FNAC") in fake.vault.shops
    assert [type(e).__name__ for e in fake.units.published] == ["ConnectionConnected"]


# --- reauthorization ---------------------------------------------------------------------


async def test_a_refused_key_marks_that_marketplace_only() -> None:
    fake = shop_fake()
    await connect(fake, "t1")
    await connect(fake, "t1", "darty", shop=OTHER_SHOP)
    assert await flow.reauth_required(fake.ports, "t1", SHOP, None, fake.clock(), "FNAC")
    fnac = fake.store.rows_of("FNAC")["t1"]
    assert (fnac.status, fnac.last_error) == (Status.REAUTH_REQUIRED, "Fnac refused the shop's key")
    assert fake.store.rows_of("DARTY")["t1"].status is Status.CONNECTED
    # Still linked: another tenant cannot take the shop meanwhile.
    with pytest.raises(ShopAlreadyConnected):
        await connect(fake, "t2")
    assert await connect(fake, "t1")  # the seller's new key connects it again


@pytest.mark.parametrize(("held", "sent"), [("fnac", "darty"), ("darty", "fnac")])
@pytest.mark.parametrize("holder", ["t1", "t2"])
async def test_a_shop_held_under_one_marketplace_is_refused_under_the_other(
    held: str, sent: str, holder: str
) -> None:
    fake = shop_fake()
    await connect(fake, "t1", held)
    with pytest.raises(ShopAlreadyConnected) as refused:
        await connect(fake, holder, sent, shop=SHOP.lower())
    assert ("another KeyBuzz account" in refused.value.message) == (holder != "t1")
    assert (holder, sent.upper()) not in fake.vault.shops
    assert fake.store.rows_of(sent.upper()) == {}
    assert [e.marketplace for e in fake.units.published] == [held.upper()]


async def test_a_connection_ended_as_a_duplicate_is_said_once_and_its_key_deleted() -> None:
    fake = shop_fake()
    await connect(fake, "t1", "fnac")
    await connect(fake, "t2", "darty", shop=OTHER_SHOP)
    row = fake.store.rows_of("DARTY")["t2"]  # as migration 004 leaves a later duplicate
    row.status, row.ended_as_duplicate, row.last_error = Status.ERROR, True, "refused: taken"
    assert await credential_connect.end_duplicates(fake.ports) == 1
    assert await credential_connect.end_duplicates(fake.ports) == 0
    assert ("t2", "DARTY") not in fake.vault.shops and ("t1", "FNAC") in fake.vault.shops
    [event] = [e for e in fake.units.published if isinstance(e, ConnectionDisconnected)]
    assert (event.tenant_id, event.marketplace, event.received_in_error) == ("t2", "DARTY", True)
    assert event.reason == "refused: taken" and row.vault_path is None
