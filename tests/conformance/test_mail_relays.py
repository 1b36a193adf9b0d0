"""The conformance suite's mail-relay side: every registered connector with a mail relay
(read from ``registry.connectors()``, no list of names) against its double, through the
poller's MX, Dovecot and reply sender, as shop-API connectors pass theirs. For each: a
buyer's mail through the relay is one ticket of the relay's marketplace, on its order's
thread, however often it is read; an agent's reply reaches the buyer's thread once; a
reply the relay refuses comes back as a bounce that marks it BOUNCED; a reply through the
sandbox's reply front (the dev stack's outbound relay) reaches the double, found by the
reply domains it declares; and mail for a relay no connector has is refused at the MX. The
double is driven through its relay driver (``keybuzz_sandbox.relay_conformance``); a relay
connector with none fails the suite."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import aiosmtplib
import httpx
import pytest
from keybuzz_devstack.shop_api_testing import agent_headers, agent_json, publish
from keybuzz_devstack.testing import MailServer, RunningService, eventually
from keybuzz_poller.service import DEFINITION as POLLER
from keybuzz_sandbox import doubles
from keybuzz_sandbox.config import SmtpLogin
from keybuzz_sandbox.relay_conformance import RelayDriver, relay_driver_for
from keybuzz_shared.connectors.registry import connector_for, connectors
from keybuzz_shared.events import InboundAddressInfo, TenantSynced

pytestmark = pytest.mark.timeout(120)

RELAYS = [c.marketplace for c in connectors() if c.mail_relay is not None]
DOMAIN = "inbound.keybuzz.test"


@dataclass
class Relay:
    marketplace: str
    driver: RelayDriver
    poller: RunningService
    sandbox: httpx.AsyncClient


def test_every_relay_connector_has_a_driver() -> None:
    missing = [m for m in RELAYS if relay_driver_for(m) is None]
    assert missing == [], (
        f"{missing}: registered connectors with a mail relay and no relay driver of their "
        "double (keybuzz_sandbox.relay_conformance): a connector is done when it passes"
    )


@pytest.fixture(scope="module")
async def sandbox(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=30) as http:
        yield http


@pytest.fixture(scope="module", params=RELAYS)
async def relay(
    request: pytest.FixtureRequest,
    start_module_service: Callable[..., Awaitable[RunningService]],
    dovecot: MailServer,
    sandbox_url: str,
    sandbox: httpx.AsyncClient,
) -> AsyncIterator[Relay]:
    """A poller whose replies go to this relay's double, its bounces back to the poller;
    stopped before the next relay's starts (they would share the events of one NATS)."""
    marketplace: str = request.param
    driver = relay_driver_for(marketplace)
    if driver is None:
        pytest.fail(f"{marketplace} has a mail relay and its double no relay driver")
    poller = await start_module_service(
        POLLER,
        POLL_ENABLED="false",
        SMTP_RELAY_HOST="127.0.0.1",
        SMTP_RELAY_PORT=str(await driver.reply_port(sandbox)),
        REPLY_RETRY_BASE_SECONDS="0.3",
        REPLY_RETRY_MAX_SECONDS="1",
        **dovecot.settings,
        **doubles.service_env(sandbox_url),
    )
    await driver.bounce_to(sandbox, "127.0.0.1", poller.runtime.settings.mx_port)
    yield Relay(marketplace, driver, poller, sandbox)
    await poller.stop()


async def tenant(relay: Relay) -> tuple[str, str]:
    """A tenant with an inbound address of the relay's marketplace, as tenant-sync says."""
    tenant_id = f"rc{uuid.uuid4().hex[:10]}"
    addresses = connector_for(relay.marketplace).inbound_addresses
    assert addresses is not None, f"{relay.marketplace} has a relay and no inbound addresses"
    token = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(16))
    address = addresses.address(tenant_id, "fr", token, DOMAIN)
    info = InboundAddressInfo(
        marketplace=relay.marketplace, country="FR", email=address, status="ACTIVE"
    )
    event = TenantSynced(
        tenant_id=tenant_id,
        name="Shop",
        plan="PRO",
        status="ACTIVE",
        occurred_at=datetime.now(UTC),
        inbound_addresses=[info],
    )
    await publish(relay.poller, event)

    async def applied() -> bool:
        row = await relay.poller.runtime.pool.fetchrow(
            "SELECT as_of FROM poller_tenants WHERE tenant_id = $1", tenant_id
        )
        return row is not None and row["as_of"] >= event.occurred_at - timedelta(microseconds=1)

    await eventually(applied)
    return tenant_id, address


async def poll(relay: Relay, tenant_id: str) -> dict[str, Any]:
    async with relay.poller.client() as http:
        answer = await http.post(
            "/api/v1/poller/poll", headers=agent_headers(relay.poller, tenant_id)
        )
    assert answer.status_code == 200, answer.text
    polled: dict[str, Any] = answer.json()
    return polled


async def a_buyers_ticket(relay: Relay) -> tuple[str, dict[str, Any], str]:
    """(tenant, its one ticket, the buyer's alias) after one buyer's mail."""
    tenant_id, address = await tenant(relay)
    sent = await relay.driver.send(relay.sandbox, address, relay.poller.runtime.settings.mx_port)
    assert (await poll(relay, tenant_id))["stored"] == 1
    listed = (await agent_json(relay.poller, tenant_id, "/api/v1/tickets"))["items"]
    [ticket] = [
        await agent_json(relay.poller, tenant_id, f"/api/v1/tickets/{t['id']}") for t in listed
    ]
    assert ticket["orderId"] == sent.order_id and ticket["marketplace"] == relay.marketplace
    assert ticket["buyerEmail"] == sent.alias
    return tenant_id, ticket, sent.alias


async def test_a_buyers_mail_is_one_ticket_of_the_relays_marketplace(relay: Relay) -> None:
    tenant_id, ticket, _ = await a_buyers_ticket(relay)
    assert [m["senderType"] for m in ticket["messages"]] == ["BUYER"]
    assert ticket["respondBy"] is not None
    assert (await poll(relay, tenant_id))["stored"] == 0  # read again: nothing more


async def reply(relay: Relay, tenant_id: str, ticket_id: str, sender: str, text: str) -> None:
    headers = agent_headers(relay.poller, tenant_id)
    async with relay.poller.client() as http:
        settings = {"replyFromAddress": sender}
        answer = await http.put("/api/v1/poller/settings", json=settings, headers=headers)
        assert answer.status_code == 200, answer.text
        answer = await http.post(
            f"/api/v1/tickets/{ticket_id}/replies", json={"text": text}, headers=headers
        )
    assert answer.status_code == 202, answer.text


async def delivered(relay: Relay, tenant_id: str, ticket_id: str, status: str) -> None:
    async def reached() -> bool:
        await poll(relay, tenant_id)  # a bounce is read from the tenant's folder
        shown = await agent_json(relay.poller, tenant_id, f"/api/v1/tickets/{ticket_id}")
        out = [m for m in shown["messages"] if m["direction"] == "OUTBOUND"]
        return bool(out) and out[-1]["deliveryStatus"] == status

    await eventually(reached)


async def test_a_reply_reaches_the_buyers_thread_once(relay: Relay) -> None:
    tenant_id, ticket, alias = await a_buyers_ticket(relay)
    text = f"Bonjour, votre colis part demain ({uuid.uuid4().hex[:6]})."
    sender = await relay.driver.reply_sender(relay.sandbox)
    await reply(relay, tenant_id, ticket["id"], sender, text)
    await delivered(relay, tenant_id, ticket["id"], "SENT")
    assert (await relay.driver.replies(relay.sandbox, alias)).count(text) == 1


async def test_a_reply_the_relay_refuses_bounces_and_is_marked(relay: Relay) -> None:
    tenant_id, ticket, alias = await a_buyers_ticket(relay)
    sender = await relay.driver.refusing(relay.sandbox, alias)
    text = f"Bonjour ({uuid.uuid4().hex[:6]})."
    await reply(relay, tenant_id, ticket["id"], sender, text)
    await delivered(relay, tenant_id, ticket["id"], "BOUNCED")
    assert text not in await relay.driver.replies(relay.sandbox, alias)


async def test_the_sandboxs_reply_front_hands_the_relays_replies_to_its_double(
    relay: Relay, reply_front_login: SmtpLogin
) -> None:
    """As the dev stack sends every reply: through the sandbox's reply front, logged in as
    the poller, which finds the relay's double by the reply domains the double declares."""
    tenant_id, address = await tenant(relay)
    sent = await relay.driver.send(relay.sandbox, address, relay.poller.runtime.settings.mx_port)
    front = (await relay.sandbox.get("/_sandbox/reply-front")).json()["port"]
    text = f"Bonjour, votre colis part demain ({uuid.uuid4().hex[:6]})."
    message = EmailMessage()
    message["From"] = await relay.driver.reply_sender(relay.sandbox)
    message["To"] = sent.alias
    message["Subject"] = "Re: votre commande"
    message["Message-ID"] = make_msgid(domain=DOMAIN)
    message["In-Reply-To"] = sent.message_id
    message.set_content(text)
    await aiosmtplib.send(
        message,
        sender=address,
        recipients=[sent.alias],
        hostname="127.0.0.1",
        port=int(front),
        username=reply_front_login.username,
        password=reply_front_login.password,
        timeout=30,
    )
    assert (await relay.driver.replies(relay.sandbox, sent.alias)).count(text) == 1


async def test_mail_for_a_relay_no_connector_has_is_refused_at_the_mx(relay: Relay) -> None:
    _, address = await tenant(relay)
    unknown = "nowhere." + address.split(".", 1)[1]
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await aiosmtplib.send(
            b"From: a@b.example\r\nSubject: x\r\n\r\nx\r\n",
            sender="a@b.example",
            recipients=[unknown],
            hostname="127.0.0.1",
            port=relay.poller.runtime.settings.mx_port,
            timeout=30,
        )
