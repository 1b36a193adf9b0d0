"""A marketplace whose inbound addresses come with its connection
(``InboundAddresses.on_connection``): none when the tenant is created, its own in the
countries of the tenant's other addresses when ``connection.connected`` of it arrives,
once however often that event comes; Amazon's still with the tenant."""

from __future__ import annotations

from datetime import UTC, datetime

from keybuzz_shared.connectors import registry
from keybuzz_shared.connectors.seam import ConnectorDefaults, InboundAddresses, Limits
from keybuzz_shared.events import ConnectionConnected, TenantCreated, TenantSynced
from keybuzz_tenant_sync import connections, sync
from tenant_sync_fakes import fake_tenant_sync

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class OnConnection:
    on_connection = True
    setup = "Give it in Later Market's back office."

    def address(self, tenant_id: str, country: str, token: str, domain: str) -> str:
        return f"later.{tenant_id}.{country}.{token}@{domain}".lower()


class LaterMarket(ConnectorDefaults):
    marketplace = "LATER"
    display_name = "Later Market"
    limits = Limits(max_attachments=0, max_attachment_bytes=0, max_text_length=10, page_size=1)
    inbound_addresses: InboundAddresses | None = OnConnection()

    def credentials_path(self, tenant_id: str) -> str:
        return f"secret/keybuzz/tenants/{tenant_id}/later"


def connected(tenant_id: str, marketplace: str) -> ConnectionConnected:
    return ConnectionConnected(
        tenant_id=tenant_id,
        occurred_at=T0,
        connection_id="c1",
        seller_id="1234",
        marketplace_ids=[],
        region="eu",
        marketplace=marketplace,
    )


async def test_its_addresses_come_with_its_connection_in_the_tenants_countries() -> None:
    fake = fake_tenant_sync()
    with registry.registered(LaterMarket()):
        created = TenantCreated(
            tenant_id="t1",
            occurred_at=T0,
            name="Shop",
            plan="pro",
            status="active",
            create_inbound_address=True,
            country="FR",
            countries=["DE"],
        )
        await sync.apply_tenant_event(fake.ports, created)
        made = sorted((a.marketplace, a.country) for a in fake.store.addresses.values())
        assert made == [("AMAZON", "DE"), ("AMAZON", "FR")]
        for _ in range(2):  # a redelivery makes nothing more
            await connections.apply_change(fake.ports, connected("t1", "LATER"))
        later = sorted(
            (a.country, a.email.split(".")[0])
            for a in fake.store.addresses.values()
            if a.marketplace == "LATER"
        )
        assert later == [("DE", "later"), ("FR", "later")]
        last = [e for e in fake.units.published if isinstance(e, TenantSynced)][-1]
        assert {a.marketplace for a in last.inbound_addresses} == {"AMAZON", "LATER"}


async def test_amazons_connection_makes_no_address() -> None:
    fake = fake_tenant_sync()
    await sync.apply_tenant_event(
        fake.ports,
        TenantCreated(tenant_id="t1", occurred_at=T0, name="Shop", plan="pro", status="active"),
    )
    await connections.apply_change(fake.ports, connected("t1", "AMAZON"))
    assert fake.store.addresses == {}
