"""One contract, two adapters: every scenario runs on the in-memory fakes the unit tier
uses (``tenant_sync_fakes.py``) and on the PostgreSQL adapters (``store.py``), so a fake
that answers differently from the SQL fails here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from keybuzz_devstack import bootstrap
from keybuzz_devstack.testing import service_migrations
from keybuzz_shared.db import create_pool
from keybuzz_tenant_sync.domain import (
    ARCHIVED,
    ConnectionChange,
    CredentialsRefused,
    MarketplaceTenant,
    NewAddress,
)
from keybuzz_tenant_sync.errors import ProductDatabaseUnavailable
from keybuzz_tenant_sync.ports import ProductTenants, TenantStore
from keybuzz_tenant_sync.service import DEFINITION
from keybuzz_tenant_sync.store import PostgresProductTenants, PostgresTenantStore
from tenant_sync_fakes import InMemoryProductTenants, InMemoryTenantStore

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "postgres"])
async def store(
    request: pytest.FixtureRequest, make_database: Callable[..., Awaitable[str]]
) -> AsyncIterator[TenantStore]:
    if request.param == "memory":
        yield InMemoryTenantStore()
        return
    pool = await create_pool(await make_database("contract", service_migrations(DEFINITION)))
    yield PostgresTenantStore(pool)
    await pool.close()


@pytest.fixture(params=["memory", "postgres"])
async def product(
    request: pytest.FixtureRequest, make_database: Callable[[str], Awaitable[str]]
) -> AsyncIterator[tuple[ProductTenants, Callable[[], Awaitable[None]]]]:
    """The seeded product tenants, and a way to take the product database down."""
    url = await make_database("product")
    await bootstrap.seed_product_database(url)
    pool = await create_pool(url)
    if request.param == "memory":
        fake = InMemoryProductTenants(await PostgresProductTenants(pool).read())
        await pool.close()

        async def fake_down() -> None:
            fake.down = True

        yield fake, fake_down
        return

    yield PostgresProductTenants(pool), pool.close
    await pool.close()


def tenant(tenant_id: str, as_of: datetime | None, **fields: Any) -> MarketplaceTenant:
    values = {"name": "Shop", "plan": "PRO", "status": "ACTIVE", **fields}
    return MarketplaceTenant(id=tenant_id, as_of=as_of, **values)


def address(country: str, token: str) -> NewAddress:
    return NewAddress(country, token, f"amazon.t1.{country.lower()}.{token}@inbound.test")


async def test_a_sync_writes_what_differs_and_says_created_or_updated(store: TenantStore) -> None:
    assert await store.upsert_tenants([tenant("t1", T0), tenant("t2", T0)]) == {
        "t1": True,
        "t2": True,
    }
    later = T0 + timedelta(hours=1)
    written = await store.upsert_tenants([tenant("t1", later), tenant("t2", later, plan="FREE")])
    assert written == {"t2": False}  # t1 unchanged: skipped
    assert await store.get_tenant("t2") == tenant("t2", later, plan="FREE")
    assert await store.get_tenant("t1") == tenant("t1", T0)
    assert await store.get_tenant("nobody") is None


async def test_an_event_writes_unless_a_newer_one_was_applied(store: TenantStore) -> None:
    await store.upsert_tenants([tenant("t1", T0, name="New")], from_event=True)
    older = tenant("t1", T0 - timedelta(minutes=1), name="Old")
    assert await store.upsert_tenants([older], from_event=True) == {}
    same_again = tenant("t1", T0, name="New")
    assert await store.upsert_tenants([same_again], from_event=True) == {"t1": False}
    assert await store.get_tenant("t1") == same_again
    # A sync older than the last event still writes its values, the time stays the newest.
    await store.upsert_tenants([tenant("t1", T0 - timedelta(days=1), name="Synced")])
    assert await store.get_tenant("t1") == tenant("t1", T0, name="Synced")


async def test_addresses_keep_their_token_and_follow_the_archive_state(store: TenantStore) -> None:
    await store.upsert_tenants([tenant("t1", T0)])
    await store.ensure_addresses("t1", "AMAZON", [address("FR", "a" * 16)])
    await store.ensure_addresses("t1", "AMAZON", [address("FR", "b" * 16), address("DE", "c" * 16)])
    await store.ensure_addresses("t1", "AMAZON", [])
    found = (await store.addresses_by_tenant(["t1", "t2"]))["t1"]
    assert [(a.country, a.email, a.status) for a in found] == [
        ("DE", address("DE", "c" * 16).email, "PENDING"),
        ("FR", address("FR", "a" * 16).email, "PENDING"),
    ]
    fr = address("FR", "a" * 16).email
    assert await store.activate_address("t1", fr.upper(), T0)
    assert not await store.activate_address("t1", fr, T0)  # the first mail only
    assert not await store.activate_address("t2", fr, T0)  # another tenant's address

    await store.upsert_tenants([tenant("t1", T0, status=ARCHIVED)])
    await store.apply_archive_state(["t1"])
    statuses = {a.country: a.status for a in (await store.addresses_by_tenant(["t1"]))["t1"]}
    assert statuses == {"DE": "DISABLED", "FR": "DISABLED"}

    await store.upsert_tenants([tenant("t1", T0, status="ACTIVE")])
    await store.apply_archive_state(["t1"])
    statuses = {a.country: a.status for a in (await store.addresses_by_tenant(["t1"]))["t1"]}
    assert statuses == {"DE": "PENDING", "FR": "ACTIVE"}  # FR has had a buyer mail


async def test_a_disabled_address_records_its_first_mail_and_stays_disabled(
    store: TenantStore,
) -> None:
    await store.upsert_tenants([tenant("t1", T0, status=ARCHIVED)])
    await store.ensure_addresses("t1", "AMAZON", [address("FR", "a" * 16)])
    await store.apply_archive_state(["t1"])
    assert await store.activate_address("t1", address("FR", "a" * 16).email, T0)
    [fr] = (await store.addresses_by_tenant(["t1"]))["t1"]
    assert fr.status == "DISABLED"


async def test_an_address_is_receiving_once_told_once_and_never_while_disabled(
    store: TenantStore,
) -> None:
    await store.upsert_tenants([tenant("t1", T0)])
    await store.ensure_addresses("t1", "AMAZON", [address("FR", "a" * 16)])
    fr = address("FR", "a" * 16).email

    async def receiving() -> bool:
        [found] = (await store.addresses_by_tenant(["t1"]))["t1"]
        return found.receiving

    assert not await receiving()  # made: not ready until the poller's MX takes it
    assert not await store.mark_receiving("t2", fr, T0)  # another tenant's address
    assert await store.mark_receiving("t1", fr.upper(), T0)
    assert await receiving()
    assert not await store.mark_receiving("t1", fr, T0)  # told again: the first kept

    await store.upsert_tenants([tenant("t1", T0, status=ARCHIVED)])
    await store.apply_archive_state(["t1"])
    assert not await receiving()
    assert not await store.mark_receiving("t1", fr, T0)  # disabled: the MX refuses it
    await store.upsert_tenants([tenant("t1", T0, status="ACTIVE")])
    await store.apply_archive_state(["t1"])
    assert not await receiving()  # un-archived: it waits for the poller again
    assert await store.mark_receiving("t1", fr, T0)
    assert await receiving()


def change(status: str, at: datetime, **fields: Any) -> ConnectionChange:
    values: dict[str, Any] = {"connection_id": None, "seller_id": None, **fields}
    return ConnectionChange(tenant_id="t1", marketplace="AMAZON", status=status, as_of=at, **values)


async def test_the_connection_projection_keeps_the_newest_change(store: TenantStore) -> None:
    connected = change(
        "CONNECTED", T0, connection_id="c1", seller_id="S1", marketplace_ids=["M1"], region="eu"
    )
    assert await store.apply_connection_change(connected)
    assert not await store.apply_connection_change(connected)  # redelivered
    assert not await store.apply_connection_change(change("DISCONNECTED", T0 - timedelta(1)))
    assert await store.apply_connection_change(
        change("DISCONNECTED", T0 + timedelta(hours=1), reason="seller")
    )
    [row] = await store.marketplace_connections("t1")
    # A disconnection keeps what it does not say: the connection, seller, marketplaces.
    assert (row.status, row.connection_id, row.seller_id, row.marketplace_ids, row.region) == (
        "DISCONNECTED",
        "c1",
        "S1",
        ["M1"],
        "eu",
    )
    assert (row.connected_at, row.reason, row.as_of) == (T0, "seller", T0 + timedelta(hours=1))
    assert await store.marketplace_connections("t2") == []


async def test_only_the_newest_refusal_is_kept_and_a_refusal_alone_shows_nothing(
    store: TenantStore,
) -> None:
    def refused(at: datetime, reason: str) -> CredentialsRefused:
        return CredentialsRefused(
            tenant_id="t1", marketplace="AMAZON", seller_id="S1", reason=reason, at=at
        )

    assert await store.record_refusal(refused(T0, "invalid_grant"))
    assert not await store.record_refusal(refused(T0 - timedelta(1), "older"))
    assert await store.marketplace_connections("t1") == []
    await store.apply_connection_change(change("CONNECTED", T0 - timedelta(1), seller_id="S1"))
    [row] = await store.marketplace_connections("t1")
    assert (row.refused_at, row.refused_reason, row.needs_reauthorization()) == (
        T0,
        "invalid_grant",
        True,
    )


async def test_product_tenants_one_or_all_and_an_outage_is_said(
    product: tuple[ProductTenants, Callable[[], Awaitable[None]]],
) -> None:
    source, take_down = product
    everyone = await source.read()
    assert len(everyone) >= 2 and [t.id for t in everyone] == sorted(t.id for t in everyone)
    first = everyone[0]
    assert await source.read(first.id) == [first]
    assert await source.read("nobody") == []
    await take_down()
    with pytest.raises(ProductDatabaseUnavailable):
        await source.read()
