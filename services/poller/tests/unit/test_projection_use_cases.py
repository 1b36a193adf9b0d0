"""The poller's projection decisions on in-memory ports: no server, milliseconds per test.

Which tenant an address is, which mail the MX takes (archived, disabled), which event
wins, when a tenant joins the poll schedule. The fakes are held to the PostgreSQL adapters
by ``test_projection_contract.py``; the flows over NATS, SMTP and PostgreSQL stay in
``test_address_ownership.py`` and ``test_mx.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from keybuzz_poller.inbound.projection import AddressOfAnotherTenant, apply_archived, apply_synced
from keybuzz_poller.polling.connected import poll_at_once
from keybuzz_shared.events import (
    InboundAddressInfo,
    InboundAddressReceiving,
    TenantArchived,
    TenantSynced,
)
from poller_fakes import POLL_INTERVAL, FakePoller, fake_poller

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DOMAIN = "inbound.keybuzz.test"


def address_of(tenant_id: str, country: str = "fr") -> str:
    return f"amazon.{tenant_id}.{country}.tok{country}@{DOMAIN}"


def synced(
    tenant_id: str,
    *addresses: str,
    at: datetime = T0,
    status: str = "ACTIVE",
    address_status: str = "ACTIVE",
) -> TenantSynced:
    return TenantSynced(
        tenant_id=tenant_id,
        name="Shop",
        plan="PRO",
        status=status,
        occurred_at=at,
        inbound_addresses=[
            InboundAddressInfo(marketplace="AMAZON", country="fr", email=a, status=address_status)
            for a in addresses
        ],
    )


async def tenant_of(fake: FakePoller, address: str) -> str | None:
    found = await fake.projection.find_recipient(address)
    return found.tenant_id if found else None


async def test_a_tenant_synced_gives_the_tenant_its_addresses_and_a_first_poll() -> None:
    fake = fake_poller()
    await apply_synced(fake.inbound, synced("t1", address_of("t1").upper(), address_of("t1", "de")))
    assert await tenant_of(fake, address_of("t1")) == "t1"
    found = await fake.projection.find_recipient(address_of("t1", "de"))
    assert found is not None and (found.country, found.marketplace) == ("FR", "AMAZON")
    status = await fake.schedule.poll_status("t1")
    assert status is not None and status.next_poll_at is not None
    now = fake.schedule.clock()
    assert now <= status.next_poll_at <= now + timedelta(seconds=POLL_INTERVAL)


async def test_an_address_named_for_another_tenant_is_refused_and_nothing_applied() -> None:
    fake = fake_poller()
    with pytest.raises(AddressOfAnotherTenant, match="made for another tenant") as refused:
        await apply_synced(fake.inbound, synced("t2", address_of("t2"), address_of("t1")))
    assert address_of("t1") not in str(refused.value)  # its token lets mail in
    assert (fake.tables.tenants, fake.tables.addresses, fake.tables.schedule) == ({}, {}, {})


async def test_an_address_another_tenant_holds_is_refused_and_everything_rolled_back() -> None:
    fake = fake_poller()
    shared = f"shop@{DOMAIN}"  # names no tenant: only the projection knows whose it is
    await apply_synced(fake.inbound, synced("t1", shared))
    await apply_synced(fake.inbound, synced("t2", address_of("t2"), at=T0))
    before = (dict(fake.tables.tenants), dict(fake.tables.addresses))
    later = T0 + timedelta(minutes=1)
    with pytest.raises(AddressOfAnotherTenant, match="belong to another tenant") as refused:
        await apply_synced(fake.inbound, synced("t2", address_of("t2", "de"), shared, at=later))
    assert shared not in str(refused.value)
    assert (fake.tables.tenants, fake.tables.addresses) == before  # not even t2's own change
    assert fake.tables.tenants["t2"].as_of == T0
    assert await tenant_of(fake, shared) == "t1"
    assert await tenant_of(fake, address_of("t2", "de")) is None


async def test_an_older_tenant_synced_is_ignored() -> None:
    fake = fake_poller()
    await apply_synced(fake.inbound, synced("t1", address_of("t1"), at=T0))
    await apply_synced(
        fake.inbound, synced("t1", address_of("t1", "de"), at=T0 - timedelta(seconds=1))
    )
    await apply_synced(fake.inbound, synced("t1", address_of("t1", "es"), at=T0))  # as old
    assert await tenant_of(fake, address_of("t1")) == "t1"
    assert await tenant_of(fake, address_of("t1", "de")) is None
    assert await tenant_of(fake, address_of("t1", "es")) is None


async def test_an_archived_tenants_mail_is_refused_until_a_newer_event_unarchives_it() -> None:
    fake = fake_poller()
    await apply_synced(fake.inbound, synced("t1", address_of("t1"), at=T0))
    await apply_archived(fake.inbound, TenantArchived(tenant_id="t1", occurred_at=T0 + _s(1)))
    assert await tenant_of(fake, address_of("t1")) is None
    # tenant-sync's view from before the archiving does not bring it back.
    await apply_synced(fake.inbound, synced("t1", address_of("t1"), at=T0 + _s(0.5)))
    assert await tenant_of(fake, address_of("t1")) is None
    await apply_synced(fake.inbound, synced("t1", address_of("t1"), at=T0 + _s(2)))
    assert await tenant_of(fake, address_of("t1")) == "t1"
    # An archived tenant.synced refuses it as well; an older tenant.archived changes nothing.
    await apply_synced(
        fake.inbound, synced("t1", address_of("t1"), at=T0 + _s(3), status="ARCHIVED")
    )
    assert await tenant_of(fake, address_of("t1")) is None
    await apply_synced(fake.inbound, synced("t1", address_of("t1"), at=T0 + _s(4)))
    await apply_archived(fake.inbound, TenantArchived(tenant_id="t1", occurred_at=T0 + _s(3.5)))
    assert await tenant_of(fake, address_of("t1")) == "t1"


async def test_a_disabled_address_is_kept_but_refused_and_alone_schedules_no_poll() -> None:
    fake = fake_poller()
    await apply_synced(fake.inbound, synced("t1", address_of("t1"), address_status="DISABLED"))
    assert address_of("t1") in fake.tables.addresses  # kept: still t1's, never another's
    assert await tenant_of(fake, address_of("t1")) is None
    assert fake.tables.schedule == {}
    await apply_synced(fake.inbound, synced("t1", at=T0 + _s(1)))  # no address at all
    assert fake.tables.schedule == {}
    await apply_synced(fake.inbound, synced("t1", address_of("t1"), at=T0 + _s(2)))
    assert await tenant_of(fake, address_of("t1")) == "t1"
    assert list(fake.tables.schedule) == ["t1"]


async def test_a_connected_tenant_is_due_now_and_the_scheduler_woken() -> None:
    fake = fake_poller()
    await apply_synced(fake.inbound, synced("t1", address_of("t1")))
    await poll_at_once(fake.polling, "t1")
    assert fake.wakes == [None]
    assert await fake.schedule.claim_due("instance", 5, 30, POLL_INTERVAL) == ["t1"]


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def receiving(fake: FakePoller) -> list[tuple[str, str]]:
    return [
        (e.tenant_id, e.email)
        for e in fake.units.published
        if isinstance(e, InboundAddressReceiving)
    ]


async def test_each_enabled_address_is_told_receiving_once_the_projection_holds_it() -> None:
    """``tenant.inbound_address.receiving`` leaves with the unit of work that wrote the
    address: published only once committed, when the MX takes its mail."""
    fake = fake_poller()
    disabled = address_of("t1", "de")
    await apply_synced(fake.inbound, synced("t1", address_of("t1")))
    await apply_synced(
        fake.inbound, synced("t2", address_of("t2"), address_status="DISABLED", at=T0)
    )
    assert receiving(fake) == [("t1", address_of("t1"))]
    assert await tenant_of(fake, address_of("t1")) == "t1"
    fake.units.published.clear()
    later = synced("t1", address_of("t1"), disabled, at=T0 + timedelta(seconds=1))
    later.inbound_addresses[1].status = "DISABLED"
    await apply_synced(fake.inbound, later)
    assert receiving(fake) == [("t1", address_of("t1"))]  # told again: tenant-sync keeps the first


async def test_no_address_is_told_receiving_for_an_archived_tenant_or_a_refused_event() -> None:
    fake = fake_poller()
    await apply_synced(fake.inbound, synced("t1", address_of("t1"), status="ARCHIVED"))
    await apply_synced(fake.inbound, synced("t2", address_of("t2")))
    assert receiving(fake) == [("t2", address_of("t2"))]  # its MX refuses the archived one's
    fake.units.published.clear()
    with pytest.raises(AddressOfAnotherTenant):
        await apply_synced(fake.inbound, synced("t3", address_of("t3"), address_of("t2"), at=T0))
    older = synced("t2", address_of("t2"), at=T0 - timedelta(seconds=1))
    await apply_synced(fake.inbound, older)  # older than what was applied: ignored
    assert receiving(fake) == []
