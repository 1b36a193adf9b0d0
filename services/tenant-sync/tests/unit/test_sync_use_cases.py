"""tenant-sync's decisions on in-memory ports: no server, milliseconds per test.

The fakes are held to the PostgreSQL adapters by ``test_tenant_sync_store_contract.py``; the flows
over NATS and PostgreSQL stay in the other test files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from keybuzz_shared.events import (
    ConnectionConnected,
    ConnectionReauthRequired,
    TenantArchived,
    TenantCreated,
    TenantSynced,
)
from keybuzz_tenant_sync import connections, sync
from keybuzz_tenant_sync.domain import ProductTenant, UnknownValue
from keybuzz_tenant_sync.errors import ProductDatabaseUnavailable, TenantNotFound
from tenant_sync_fakes import INBOUND_DOMAIN, fake_tenant_sync

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def product(tenant_id: str, **fields: object) -> ProductTenant:
    values: dict[str, object] = {
        "name": "Shop",
        "plan": "pro",
        "status": "active",
        "country": "FR",
        "updated_at": T0,
        **fields,
    }
    return ProductTenant(id=tenant_id, **values)  # type: ignore[arg-type]


def created(tenant_id: str, at: datetime, **fields: object) -> TenantCreated:
    values: dict[str, object] = {"name": "Shop", "plan": "pro", "status": "active", **fields}
    return TenantCreated(tenant_id=tenant_id, occurred_at=at, **values)  # type: ignore[arg-type]


def synced(fake: object) -> list[TenantSynced]:
    return [e for e in fake.units.published if isinstance(e, TenantSynced)]  # type: ignore[attr-defined]


async def test_a_sync_copies_the_product_tenant_then_skips_it_until_it_changes() -> None:
    fake = fake_tenant_sync([product("t1")])
    first = await sync.sync_tenant(fake.ports, "t1")
    again = await sync.sync_tenant(fake.ports, "t1")
    fake.product.rows["t1"] = product("t1", plan="enterprise")
    changed = await sync.sync_tenant(fake.ports, "t1")
    assert [first.outcome, again.outcome, changed.outcome] == ["created", "skipped", "updated"]
    assert fake.store.tenants["t1"].plan == "ENTERPRISE"
    # Every sync says tenant.synced, a skipped one too (the product asked for it).
    assert [e.plan for e in synced(fake)] == ["PRO", "PRO", "ENTERPRISE"]


async def test_a_sync_of_an_unknown_tenant_is_refused_and_writes_nothing() -> None:
    fake = fake_tenant_sync([product("t1")])
    with pytest.raises(TenantNotFound):
        await sync.sync_tenant(fake.ports, "t2")
    assert fake.store.tenants == {} and fake.units.published == []


async def test_an_address_asked_for_is_made_in_the_product_country_unless_another_is_named() -> (
    None
):
    fake = fake_tenant_sync([product("t1", country="de")])
    result = await sync.sync_tenant(fake.ports, "t1", create_inbound_address=True)
    assert result.requested_address is not None
    assert result.requested_address.startswith("amazon.t1.de.")
    assert result.requested_address.endswith("@" + INBOUND_DOMAIN)
    spain = await sync.sync_tenant(fake.ports, "t1", create_inbound_address=True, country="es")
    assert spain.requested_address is not None and ".es." in spain.requested_address
    assert [a.country for a in spain.addresses] == ["DE", "ES"]
    # Asked again, the address is the same one (its token is kept).
    again = await sync.sync_tenant(fake.ports, "t1", create_inbound_address=True)
    assert again.requested_address == result.requested_address


async def test_a_stale_event_changes_nothing_but_still_gets_the_addresses_it_asked_for() -> None:
    fake = fake_tenant_sync()
    await sync.apply_tenant_event(fake.ports, created("t1", T0, name="Newer"))
    stale = created("t1", T0 - timedelta(minutes=5), name="Older", create_inbound_address=True)
    await sync.apply_tenant_event(fake.ports, stale)
    assert fake.store.tenants["t1"].name == "Newer"
    assert [a.country for a in fake.store.addresses.values()] == ["FR"]
    # The stale event's tenant.synced carries the current state, and says what caused it.
    last = synced(fake)[-1]
    assert (last.name, last.event_id) == ("Newer", f"{stale.event_id}:synced")


async def test_a_stale_event_without_addresses_says_nothing() -> None:
    fake = fake_tenant_sync()
    await sync.apply_tenant_event(fake.ports, created("t1", T0))
    await sync.apply_tenant_event(fake.ports, created("t1", T0 - timedelta(1), name="Old"))
    assert len(synced(fake)) == 1


async def test_an_archive_disables_the_addresses_and_an_older_one_is_ignored() -> None:
    fake = fake_tenant_sync()
    await sync.apply_tenant_event(fake.ports, created("t1", T0, create_inbound_address=True))
    older = TenantArchived(tenant_id="t1", occurred_at=T0 - timedelta(seconds=1))
    await sync.archive_tenant(fake.ports, older)
    assert fake.store.tenants["t1"].status == "ACTIVE"
    await sync.archive_tenant(fake.ports, TenantArchived(tenant_id="t1", occurred_at=T0))
    assert fake.store.tenants["t1"].status == "ARCHIVED"
    assert {a.status for a in fake.store.addresses.values()} == {"DISABLED"}
    assert synced(fake)[-1].status == "ARCHIVED"


async def test_an_archive_before_the_creation_takes_the_rest_from_the_product() -> None:
    fake = fake_tenant_sync([product("t1", name="From product")])
    await sync.archive_tenant(fake.ports, TenantArchived(tenant_id="t1", occurred_at=T0))
    assert fake.store.tenants["t1"].name == "From product"
    assert fake.store.tenants["t1"].status == "ARCHIVED"
    await sync.archive_tenant(fake.ports, TenantArchived(tenant_id="ghost", occurred_at=T0))
    assert "ghost" not in fake.store.tenants


async def test_sync_all_reports_what_cannot_be_mapped_and_copies_the_rest() -> None:
    fake = fake_tenant_sync([product("t1"), product("t2", plan="platinum"), product("t3")])
    await sync.sync_tenant(fake.ports, "t3")
    result = await sync.sync_all(fake.ports)
    assert (result.total, result.created, result.skipped) == (3, ["t1"], ["t3"])
    assert [(e.tenant_id, "platinum" in e.error) for e in result.errors] == [("t2", True)]
    assert "t2" not in fake.store.tenants


async def test_a_failure_inside_the_unit_of_work_keeps_no_row_and_no_event() -> None:
    fake = fake_tenant_sync([product("t1")])

    async def refuse(*_: object) -> None:
        raise RuntimeError("disk full")

    fake.store.apply_archive_state = refuse  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await sync.sync_tenant(fake.ports, "t1", create_inbound_address=True)
    assert fake.store.tenants == {} and fake.store.addresses == {}
    assert fake.units.published == [] and fake.units.commits == 0


async def test_an_unknown_plan_in_an_event_is_refused_before_anything_is_written() -> None:
    fake = fake_tenant_sync()
    with pytest.raises(UnknownValue):
        await sync.apply_tenant_event(fake.ports, created("t1", T0, plan="platinum"))
    assert fake.store.tenants == {} and fake.units.published == []


async def test_a_product_outage_is_an_outage_not_an_unknown_tenant() -> None:
    fake = fake_tenant_sync([product("t1")])
    fake.product.down = True
    with pytest.raises(ProductDatabaseUnavailable):
        await sync.sync_tenant(fake.ports, "t1")
    with pytest.raises(ProductDatabaseUnavailable):
        await sync.archive_tenant(fake.ports, TenantArchived(tenant_id="t1", occurred_at=T0))


async def test_the_status_shows_a_refusal_after_the_connection_as_reauth_required() -> None:
    fake = fake_tenant_sync([product("t1")])
    await sync.sync_tenant(fake.ports, "t1")
    connected = ConnectionConnected(
        tenant_id="t1",
        occurred_at=T0,
        connection_id="c1",
        seller_id="S1",
        marketplace_ids=["A13V1IB3VIYZZH"],
        region="eu",
    )
    await connections.apply_change(fake.ports, connected)
    status = await sync.tenant_status(fake.ports, "t1")
    assert status.in_sync and [c.status for c in status.connections] == ["CONNECTED"]
    refusal = ConnectionReauthRequired(
        tenant_id="t1", occurred_at=T0 + timedelta(hours=1), seller_id="S1", reason="invalid_grant"
    )
    await connections.record_refusal(fake.ports, refusal)
    [shown] = (await sync.tenant_status(fake.ports, "t1")).connections
    assert (shown.status, shown.reason) == ("REAUTH_REQUIRED", "invalid_grant")
