"""An inbound address is announced only when it receives (docs/SECURITY.md, "The inbound
address announced before the MX accepts it"): tenant-sync and the poller on real NATS and
PostgreSQL, the poller's MX on a real port. tenant-sync makes the address, the poller's
projection takes it from ``tenant.synced`` and tells ``tenant.inbound_address.receiving``
once its MX accepts it; tenant-sync shows it ``receiving`` only then, and a mail sent the
moment it does is taken (250)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import asyncpg
import msgspec
import nats
import pytest
from keybuzz_devstack import bootstrap
from keybuzz_devstack.testing import (
    MailServer,
    RunningService,
    eventually,
    purge_tenant_events,
)
from keybuzz_poller.service import DEFINITION as POLLER
from keybuzz_shared.events import InboundAddressReceiving, encode_event
from keybuzz_shared.settings import DEV_INTERNAL_API_KEY
from keybuzz_tenant_sync.service import DEFINITION as TENANT_SYNC

pytestmark = pytest.mark.timeout(180)
INTERNAL = {"X-Internal-Key": DEV_INTERNAL_API_KEY}
RECEIVING_CONSUMER = "tenant-sync-address-receiving"


@pytest.fixture
async def tenant_sync(
    start_service: Callable[..., Awaitable[RunningService]],
    make_database: Callable[[str], Awaitable[str]],
    stack: Any,
) -> RunningService:
    await purge_tenant_events(stack.nats_url)
    product = await make_database("product")
    await bootstrap.seed_product_database(product)
    service = await start_service(TENANT_SYNC, PRODUCT_DATABASE_URL=product)
    service.product_url = product  # type: ignore[attr-defined]
    return service


async def new_tenant(tenant_sync: RunningService) -> str:
    """A product tenant, copied by tenant-sync with a FR inbound address; its address."""
    tenant = f"rcv-{uuid.uuid4().hex[:8]}"
    product = await asyncpg.connect(tenant_sync.product_url)  # type: ignore[attr-defined]
    try:
        await product.execute(
            "INSERT INTO tenants (id, name, plan, status, country) "
            "VALUES ($1, 'Brico', 'pro', 'active', 'FR')",
            tenant,
        )
    finally:
        await product.close()
    async with tenant_sync.client(headers=INTERNAL) as http:
        answer = await http.post(
            "/api/v1/tenants/sync",
            json={"tenantId": tenant, "createInboundAddress": True, "country": "FR"},
        )
    assert answer.status_code == 200, answer.text
    # Made, not ready: the poller has not even been told yet (the event leaves on commit).
    assert [a["receiving"] for a in answer.json()["inboundAddresses"]] == [False]
    return tenant


async def address_of(tenant_sync: RunningService, tenant: str) -> dict[str, Any]:
    async with tenant_sync.client(headers=INTERNAL) as http:
        status = await http.get(f"/api/v1/tenants/status/{tenant}")
    assert status.status_code == 200, status.text
    [address] = status.json()["inboundAddresses"]
    return dict(address)


async def send(poller: RunningService, to: str) -> int:
    """A buyer's mail to the poller's MX: the code of the MX's answer to its recipient
    (when 250, the mail is sent whole and taken, 250 too)."""
    mail = EmailMessage()
    mail["From"] = "Jean - Amazon Marketplace <b7q2x9w4k1@marketplace.amazon.fr>"
    mail["To"] = to
    mail["Subject"] = "Où est mon colis ? (Commande : 403-1027206-4659269)"
    mail.set_content("Bonjour, où est mon colis ?")
    smtp = aiosmtplib.SMTP(
        hostname="127.0.0.1", port=poller.runtime.settings.mx_port, start_tls=False
    )
    async with smtp:
        await smtp.mail("bounces@amazonses.com")
        try:
            answer = await smtp.rcpt(to)
        except aiosmtplib.SMTPRecipientRefused as refused:
            return refused.code
        assert (await smtp.data(mail.as_bytes())).code == 250
    return answer.code


async def told(stack: Any, event: InboundAddressReceiving) -> None:
    """Publishes the poller's event as a redelivery would; returns once tenant-sync's
    consumer has acknowledged it."""
    nc = await nats.connect(stack.nats_url)
    try:
        js = nc.jetstream()
        sent = await js.publish(event.SUBJECT, encode_event(event))

        async def acknowledged() -> bool:
            info = await js.consumer_info("TENANTS", RECEIVING_CONSUMER)
            return info.ack_floor.stream_seq >= sent.seq

        await eventually(acknowledged)
    finally:
        await nc.close()


async def test_an_address_is_shown_ready_only_once_the_mx_takes_its_mail(
    tenant_sync: RunningService,
    start_service: Callable[..., Awaitable[RunningService]],
    dovecot: MailServer,
) -> None:
    tenant = await new_tenant(tenant_sync)
    # No poller yet: tenant-sync never calls the address ready on its own.
    assert (await address_of(tenant_sync, tenant))["receiving"] is False

    poller = await start_service(POLLER, POLL_ENABLED="false", **dovecot.settings)

    async def ready() -> dict[str, Any] | None:  # read as a console would, time and again
        address = await address_of(tenant_sync, tenant)
        return address if address["receiving"] else None

    address = await eventually(ready)
    # The moment it is shown ready, the MX takes its mail (before: 550 5.1.1).
    assert await send(poller, address["email"]) == 250


async def test_receiving_is_told_once_and_an_archived_tenants_address_stays_disabled(
    tenant_sync: RunningService,
    start_service: Callable[..., Awaitable[RunningService]],
    dovecot: MailServer,
    stack: Any,
) -> None:
    poller = await start_service(POLLER, POLL_ENABLED="false", **dovecot.settings)
    tenant = await new_tenant(tenant_sync)

    async def receiving_at() -> datetime | None:
        at: datetime | None = await tenant_sync.runtime.pool.fetchval(
            "SELECT receiving_at FROM inbound_addresses WHERE tenant_id = $1", tenant
        )
        return at

    first = await eventually(receiving_at)
    address = await address_of(tenant_sync, tenant)
    again = InboundAddressReceiving(
        tenant_id=tenant, email=address["email"], marketplace="AMAZON", country="FR"
    )
    await told(stack, again)  # redelivered, or told again by a later tenant.synced
    assert await receiving_at() == first

    async with tenant_sync.client(headers=INTERNAL) as http:  # archived in the product
        product = await asyncpg.connect(tenant_sync.product_url)  # type: ignore[attr-defined]
        try:
            await product.execute("UPDATE tenants SET status = 'archived' WHERE id = $1", tenant)
        finally:
            await product.close()
        answer = await http.post("/api/v1/tenants/sync", json={"tenantId": tenant})
        assert answer.status_code == 200, answer.text
    disabled = await address_of(tenant_sync, tenant)
    assert (disabled["status"], disabled["receiving"]) == ("DISABLED", False)
    # The poller's word about an address tenant-sync disabled does not make it ready.
    await told(stack, msgspec.structs.replace(again, event_id=str(uuid.uuid4())))
    still = await address_of(tenant_sync, tenant)
    assert (still["status"], still["receiving"]) == ("DISABLED", False)
    assert await receiving_at() is None

    async def refused() -> bool:  # the MX too, once the poller has the tenant.synced
        return await send(poller, address["email"]) == 550

    await eventually(refused)
