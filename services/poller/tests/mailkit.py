"""Helpers of the poller's mail tests: tenants through JetStream, mail over SMTP."""

from __future__ import annotations

import asyncio
import json
import os
import smtplib
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import asyncpg
from keybuzz_devstack import bootstrap
from keybuzz_devstack.testing import Infra, MailServer, RunningService, eventually
from keybuzz_poller.inbound.addresses import folder_for
from keybuzz_poller.inbound.store import PostgresProjection
from keybuzz_poller.reading.mailbox import ImapAccount, NewMail
from keybuzz_poller.service import DEFINITION
from keybuzz_shared.auth import issue_token
from keybuzz_shared.db import apply_migrations, create_pool
from keybuzz_shared.events import (
    Event,
    InboundAddressInfo,
    TenantArchived,
    TenantSynced,
    encode_event,
    event_headers,
)
from nats.js.api import DeliverPolicy

DOMAIN = "inbound.keybuzz.test"
# The test poller's MX_MAX_MESSAGE_BYTES (conftest.py): small enough to test the 552 cheaply.
MAX_MESSAGE_BYTES = 64 * 1024
ORDER = "171-2345678-1234567"


def new_tenant() -> tuple[str, str]:
    """A fresh tenant id and its FR inbound address."""
    tenant_id = f"t{uuid.uuid4().hex[:10]}"
    return tenant_id, f"amazon.{tenant_id}.fr.{uuid.uuid4().hex[:16]}@{DOMAIN}"


async def publish(poller: RunningService, event: Event) -> None:
    js = (await poller.operator()).jetstream()  # as the event's producer would
    await js.publish(event.type, encode_event(event), headers=event_headers(event))


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


async def archived(poller: RunningService, tenant_id: str, at: datetime | None = None) -> None:
    event = TenantArchived(tenant_id=tenant_id, occurred_at=at or datetime.now(UTC))
    await publish(poller, event)

    async def applied() -> bool:
        return bool(
            await poller.runtime.pool.fetchval(
                "SELECT archived FROM poller_tenants WHERE tenant_id = $1", tenant_id
            )
        )

    await eventually(applied)


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


def headers(poller: RunningService, tenant_id: str) -> dict[str, str]:
    """A user of ``tenant_id`` only, as the product app would sign it."""
    token = issue_token(poller.runtime.settings.jwt_secret, "agent-1", tenants=[tenant_id])
    return {"Authorization": f"Bearer {token}", "X-Tenant-Id": tenant_id}


async def poll_now(poller: RunningService, tenant_id: str) -> dict[str, Any]:
    async with poller.client() as http:
        response = await http.post("/api/v1/poller/poll", headers=headers(poller, tenant_id))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def get_json(poller: RunningService, tenant_id: str, path: str, **params: Any) -> Any:
    async with poller.client() as http:
        response = await http.get(path, headers=headers(poller, tenant_id), params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def outbox_drained(poller: RunningService) -> None:
    """Every event the poller committed has been acknowledged by JetStream."""

    async def drained() -> bool:
        pending = await poller.runtime.pool.fetchval(
            "SELECT count(*) FROM event_outbox WHERE published_at IS NULL"
        )
        return pending == 0

    await eventually(drained)


async def received_events(poller: RunningService, tenant_id: str) -> list[dict[str, Any]]:
    """Every ``message.received`` of the tenant stored in the MESSAGES stream."""
    return await tenant_events(poller, "message.received", tenant_id)


async def tenant_events(
    poller: RunningService, subject: str, tenant_id: str
) -> list[dict[str, Any]]:
    """Every event of ``subject`` for the tenant in the MESSAGES stream."""
    await outbox_drained(poller)
    sub = (
        await (await poller.operator())
        .jetstream()
        .subscribe(subject, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
    )
    found: list[dict[str, Any]] = []
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except TimeoutError:
                return found
            body = json.loads(msg.data)
            if body.get("tenantId") == tenant_id:
                found.append(body)
    finally:
        await sub.unsubscribe()


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


async def migrated_pool(make_database: Callable[[str], Awaitable[str]]) -> asyncpg.Pool:
    """A database of its own with the poller's tables: the adapters' side of a contract test."""
    pool = await create_pool(await make_database("contract"))
    assert DEFINITION.migrations is not None
    await apply_migrations(pool, DEFINITION.name, DEFINITION.migrations)
    return pool


def process_env(stack: Infra, database: str, dovecot: MailServer, **more: str) -> dict[str, str]:
    """The environment of ``python -m keybuzz_poller`` as a process, on the test stack."""
    return {
        **os.environ,
        "NATS_URL": stack.nats_url,
        "DATABASE_URL": database,
        "PRODUCT_DATABASE_URL": database,
        "VAULT_ADDR": stack.vault_addr,
        "VAULT_TOKEN": bootstrap.service_token_id("poller"),
        **dovecot.settings,
        **more,
    }


async def run_once(env: dict[str, str]) -> bytes:
    """``python -m keybuzz_poller --once``: what it printed, once it exited 0."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "keybuzz_poller",
        "--once",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()[-2000:]
    return out
