"""Helpers of the poller's mail tests: tenants through JetStream, mail over SMTP."""

from __future__ import annotations

import asyncio
import smtplib
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import asyncpg
import pytest

# What the poller's tests share with the connectors' (keybuzz_devstack.shop_api_testing),
# under the names these tests use.
from keybuzz_devstack import shop_api_testing
from keybuzz_devstack.shop_api_testing import agent_headers as headers
from keybuzz_devstack.shop_api_testing import agent_json as get_json
from keybuzz_devstack.shop_api_testing import outbox_drained as outbox_drained
from keybuzz_devstack.shop_api_testing import publish as publish
from keybuzz_devstack.shop_api_testing import tenant_events as tenant_events
from keybuzz_devstack.testing import MailServer, RunningService, eventually, service_migrations
from keybuzz_poller.inbound.addresses import folder_for
from keybuzz_poller.inbound.store import PostgresProjection
from keybuzz_poller.reading.mailbox import ImapAccount, NewMail
from keybuzz_poller.service import DEFINITION
from keybuzz_shared.db import create_pool
from keybuzz_shared.events import (
    InboundAddressInfo,
    TenantSynced,
)

archived = shop_api_testing.tenant_archived
process_env = shop_api_testing.poller_process_env
run_once = shop_api_testing.run_poller_once

DOMAIN = "inbound.keybuzz.test"
# The test poller's MX_MAX_MESSAGE_BYTES (conftest.py): small enough to test the 552 cheaply.
MAX_MESSAGE_BYTES = 64 * 1024
ORDER = "171-2345678-1234567"


def mail_poller_settings(dovecot: MailServer) -> dict[str, str]:
    """The test poller's settings: no scheduled polls (its tests read or poll when they
    choose; poll-now still works), the session's Dovecot."""
    limits = {"MX_MAX_MESSAGE_BYTES": str(MAX_MESSAGE_BYTES), "POLL_ENABLED": "false"}
    return limits | dict(dovecot.settings)


@pytest.fixture(scope="module")
async def module_poller(
    start_module_service: Callable[..., Awaitable[RunningService]], dovecot: MailServer
) -> RunningService:
    """conftest.py's ``poller``, shared by a module's tests (``poller = module_poller``)
    where each works with tenants of its own and reads only theirs: a poller's start (its
    database migrated, its consumers, its MX) is most of a short test's time."""
    return await start_module_service(DEFINITION, **mail_poller_settings(dovecot))


def new_tenant() -> tuple[str, str]:
    """A fresh tenant id and its FR inbound address."""
    tenant_id = f"t{uuid.uuid4().hex[:10]}"
    return tenant_id, f"amazon.{tenant_id}.fr.{uuid.uuid4().hex[:16]}@{DOMAIN}"


def synced_event(
    tenant_id: str,
    *addresses: str,
    status: str = "ACTIVE",
    address_status: str = "ACTIVE",
    at: datetime | None = None,
) -> TenantSynced:
    """tenant-sync's tenant.synced: the tenant and its FR inbound addresses."""
    return TenantSynced(
        tenant_id=tenant_id,
        name="Shop",
        plan="PRO",
        status=status,
        occurred_at=at or datetime.now(UTC),
        inbound_addresses=[
            InboundAddressInfo(marketplace="AMAZON", country="FR", email=a, status=address_status)
            for a in addresses
        ],
    )


async def synced(
    poller: RunningService,
    tenant_id: str,
    *addresses: str,
    status: str = "ACTIVE",
    address_status: str = "PENDING",
    at: datetime | None = None,
) -> None:
    """tenant-sync's tenant.synced, then wait until the poller's projection has it."""
    event = synced_event(tenant_id, *addresses, status=status, address_status=address_status, at=at)
    await publish(poller, event)

    async def applied() -> bool:
        row = await poller.runtime.pool.fetchrow(
            "SELECT as_of FROM poller_tenants WHERE tenant_id = $1", tenant_id
        )
        return row is not None and row["as_of"] >= event.occurred_at - timedelta(microseconds=1)

    await eventually(applied)


async def synced_and_ignored(
    poller: RunningService, tenant_id: str, address: str, at: datetime
) -> None:
    """A tenant.synced that the poller must ignore (older than what it applied): wait for its ack."""
    await publish(poller, synced_event(tenant_id, address, at=at))

    async def consumed() -> bool:
        info = await poller.runtime.js.consumer_info("TENANTS", "poller-inbound-addresses")
        return info.num_ack_pending == 0 and info.num_pending == 0

    await eventually(consumed)


def relay_mail(
    to: str, text: str = "Where is my parcel?", subject: str | None = None
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Jean - Amazon Marketplace <b7q2x9w4k1@marketplace.amazon.fr>"
    message["To"] = to
    message["Subject"] = subject or f"Inquiry from Amazon customer Jean (Order: {ORDER})"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@eu-west-1.amazonses.com>"
    message.set_content(
        f"------------- Begin message -------------\n\n{text}\n\n"
        f"------------- End message -------------\n\nOrder ID: {ORDER}\n"
    )
    return message


async def send(poller: RunningService, message: EmailMessage | bytes, to: str) -> Any:
    """SMTP to the poller's MX, as Amazon's relay does; raises aiosmtplib errors on refusal."""
    port = poller.runtime.settings.mx_port
    raw = message if isinstance(message, bytes) else message.as_bytes()
    try:
        return await aiosmtplib.send(
            raw,
            sender="bounces@amazonses.com",
            recipients=[to],
            hostname="127.0.0.1",
            port=port,
            start_tls=False,
            use_tls=False,
            timeout=30,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:  # one recipient: its own refusal
        raise exc.recipients[0] from None


async def folder(account: ImapAccount, tenant_id: str) -> NewMail:
    """Everything in the tenant's folder, read straight from Dovecot."""
    return await account.fetch_new(folder_for(tenant_id), None, limit=1000)


async def recipient_known(poller: RunningService, address: str) -> bool:
    return await PostgresProjection(poller.runtime.pool).find_recipient(address) is not None


async def poll_now(poller: RunningService, tenant_id: str) -> dict[str, Any]:
    async with poller.client() as http:
        response = await http.post("/api/v1/poller/poll", headers=headers(poller, tenant_id))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def received_events(poller: RunningService, tenant_id: str) -> list[dict[str, Any]]:
    """Every ``message.received`` of the tenant stored in the MESSAGES stream."""
    return await tenant_events(poller, "message.received", tenant_id)


async def deliver_behind_the_mx(dovecot: MailServer, tenant_id: str, message: EmailMessage) -> None:
    """Straight into the tenant's folder over LMTP: no MX, so no due mark and no wake-up."""
    await asyncio.to_thread(_deliver_over_lmtp, dovecot, tenant_id, message.as_bytes())


def _deliver_over_lmtp(dovecot: MailServer, tenant_id: str, mail: bytes) -> None:
    with smtplib.LMTP(dovecot.host, dovecot.lmtp_port, timeout=30) as lmtp:
        lmtp.sendmail(
            "bounces@amazonses.com", f"{dovecot.user}+{folder_for(tenant_id)}@localhost", mail
        )


async def new_tenant_with_a_ticket(poller: RunningService) -> tuple[str, str, str]:
    """(tenant, its inbound address, its one ticket): a relay mail from a buyer alias the
    sandbox never wrote from, so the sandbox's relay refuses replies to it (550)."""
    tenant_id, address = new_tenant()
    await synced(poller, tenant_id, address)
    await send(poller, relay_mail(address), address)
    await poll_now(poller, tenant_id)
    ticket_id = (await get_json(poller, tenant_id, "/api/v1/tickets"))["items"][0]["id"]
    return tenant_id, address, ticket_id


async def migrated_pool(make_database: Callable[..., Awaitable[str]]) -> asyncpg.Pool:
    """A database of its own with the poller's tables: the adapters' side of a contract test."""
    pool = await create_pool(await make_database("contract", service_migrations(DEFINITION)))
    return pool
