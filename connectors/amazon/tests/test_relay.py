"""Buyer messages relayed by e-mail, received by a real SMTP server."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from keybuzz_devstack.infra import free_port
from keybuzz_double_amazon.env import AmazonDoubleSettings
from sandbox_helpers import FR_SELLER, connect, headers

pytestmark = pytest.mark.asyncio  # explicit, whatever asyncio_mode the root config sets

INBOUND = "amazon.tenant-1.fr.abc123@inbound.keybuzz.test"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, message))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


async def test_messages_are_relayed_by_smtp_in_amazon_style(client, smtp) -> None:
    inbox, port = smtp
    response = await client.post(
        "/_sandbox/messages",
        json={
            "sellingPartnerId": FR_SELLER,
            "to": INBOUND,
            "count": 3,
            "smtpHost": "127.0.0.1",
            "smtpPort": port,
        },
    )
    assert response.status_code == 200, response.text
    sent = response.json()["sent"]
    assert len(sent) == 3 and len(inbox.messages) == 3
    assert len({m["messageId"] for m in sent}) == 3
    token = (await connect(client))["access_token"]
    for info, (_, rcpt, message) in zip(sent, inbox.messages, strict=True):
        assert rcpt == [INBOUND] and message["To"] == INBOUND
        assert message["Message-ID"] == info["messageId"]
        assert re.fullmatch(r".+ <[a-z0-9]{16}@marketplace\.amazon\.fr>", message["From"])
        body = message.get_payload(decode=True).decode("utf-8")
        assert info["orderId"] in message["Subject"] and info["orderId"] in body
        assert "client Amazon" in message["Subject"] and "Début du message" in body
        # The relay address is the order's anonymised buyer e-mail, and the order exists.
        assert (
            await client.get(f"/orders/v0/orders/{info['orderId']}", headers=headers(token))
        ).status_code == 200


async def test_default_smtp_settings_and_explicit_orders(make_client, smtp) -> None:
    from keybuzz_sandbox import SandboxConfig

    inbox, port = smtp
    client = await make_client(
        SandboxConfig(doubles=(AmazonDoubleSettings(smtp_host="127.0.0.1", smtp_port=port),))
    )
    token = (await connect(client))["access_token"]
    orders = (
        await client.get(
            "/orders/v0/orders",
            headers=headers(token),
            params={"MarketplaceIds": "A13V1IB3VIYZZH", "CreatedAfter": "2020-01-01T00:00:00Z"},
        )
    ).json()["payload"]["Orders"]
    target = orders[0]["AmazonOrderId"]
    response = await client.post(
        "/_sandbox/messages",
        json={"sellingPartnerId": FR_SELLER, "to": INBOUND, "count": 2, "orderIds": [target]},
    )
    assert [m["orderId"] for m in response.json()["sent"]] == [target, target]
    await asyncio.sleep(0)
    assert len(inbox.messages) == 2


async def test_relay_errors(client) -> None:
    unknown = await client.post(
        "/_sandbox/messages", json={"sellingPartnerId": "NOPE", "to": INBOUND}
    )
    assert unknown.status_code == 404
    for count in (0, 501):
        too_many = {"sellingPartnerId": FR_SELLER, "to": INBOUND, "count": count}
        assert (await client.post("/_sandbox/messages", json=too_many)).status_code == 400
    unreachable = await client.post(
        "/_sandbox/messages",
        json={
            "sellingPartnerId": FR_SELLER,
            "to": INBOUND,
            "smtpHost": "127.0.0.1",
            "smtpPort": free_port(),
        },
    )
    assert unreachable.status_code == 502
