"""Replies on Fnac tickets, on the real servers: ``POST /api/v1/tickets/{id}/replies`` on a
ticket polled from the sandbox's Fnac double, sent with messages_update over HTTP on the
shop's key in OpenBao, outcomes in PostgreSQL and on NATS. The test drives the sender
(``REPLY_SENDER_ENABLED=false``) so it can kill it between Fnac's answer and the commit."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from keybuzz_devstack.shop_api_testing import agent_headers as headers
from keybuzz_devstack.shop_api_testing import tenant_events
from keybuzz_devstack.testing import MailServer, RunningService
from keybuzz_poller.bootstrap import ports_of
from keybuzz_poller.ports import PollerPorts
from keybuzz_poller.replies.ports import MarketplaceReplies, RepliesPorts
from keybuzz_poller.replies.sender import send_due
from keybuzz_poller.service import DEFINITION
from keybuzz_poller.shops.domain import Shop
from keybuzz_poller.tickets.alerts import alert_round
from keybuzz_shared.connectors.seam import Reply, ReplyOutcome
from keybuzz_shared.vault import VaultClient
from test_fnac_polling import (
    admin,
    buyer_writes,
    connect,
    demo_shop,
    opens_incident,
    poll,
    ticket_of,
)

__all__ = ["admin"]  # fixtures of test_fnac_polling.py used here
LEASE = 3.0


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
async def poller(
    start_module_service: Any, dovecot: MailServer, sandbox_url: str
) -> RunningService:
    """The module's tests' poller: each connects shops for tenants of its own and sends
    the replies it queued (every reply of the database due then: none of another test is)."""
    return await start_module_service(  # type: ignore[no-any-return]
        DEFINITION,
        POLL_ENABLED="false",
        REPLY_SENDER_ENABLED="false",
        REPLY_LEASE_SECONDS=str(LEASE),
        SMTP_RELAY_TIMEOUT_SECONDS="1",
        FNAC_API_URL=f"{sandbox_url}/fnac/api.php/",
        **dovecot.settings,
    )


def replies(poller: RunningService) -> RepliesPorts:
    return poller.runtime.component(PollerPorts).replies


async def fnac_ticket(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient, text: str
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """(the shop, its tenant, the ticket of the buyer's new message ``text``)."""
    spec = await demo_shop(admin)
    shop = await connect(poller, vault, spec)
    written = await buyer_writes(admin, spec, description=text)
    await poll(poller, shop)
    return spec, shop.tenant_id, await ticket_of(poller, shop, written["orderId"])


async def post_reply(poller: RunningService, tenant_id: str, ticket_id: str, body: Any) -> Any:
    async with poller.client() as http:
        return await http.post(
            f"/api/v1/tickets/{ticket_id}/replies", json=body, headers=headers(poller, tenant_id)
        )


async def on_double(admin: httpx.AsyncClient, spec: dict[str, Any], text: str) -> list[Any]:
    sent = (await admin.get(f"/shops/{spec['shop_id']}/sent")).json()["sent"]
    return [s for s in sent if s["description"] == text]


async def reply_row(poller: RunningService, ticket_message_id: str) -> Any:
    return await poller.runtime.pool.fetchrow(
        "SELECT status, reason, status_code, recipient, marketplace_message_id"
        " FROM poller_replies WHERE ticket_message_id = $1",
        ticket_message_id,
    )


async def reply_sent(
    poller: RunningService,
    admin: httpx.AsyncClient,
    spec: dict[str, Any],
    tenant_id: str,
    ticket_id: str,
    text: str,
) -> tuple[dict[str, Any], Any]:
    """Posts the reply ``text`` and sends it: (what the double received, the reply's row)."""
    response = await post_reply(poller, tenant_id, ticket_id, {"text": text})
    assert response.status_code == 202, response.text
    await send_due(replies(poller))
    [sent] = await on_double(admin, spec, text)
    return sent, await reply_row(poller, response.json()["ticketMessageId"])


async def replied(
    poller: RunningService,
    vault: VaultClient,
    admin: httpx.AsyncClient,
    question: str,
    answer: str,
) -> tuple[dict[str, Any], Shop, dict[str, Any], str, str]:
    """(the shop's spec, the shop, the ticket of the buyer's ``question``, the reply's
    text: ``answer`` and the ticket's id, the reply's ticket message id), queued."""
    spec, tenant_id, ticket = await fnac_ticket(poller, vault, admin, question)
    text = f"{answer} {ticket['id'][-12:]}"
    response = await post_reply(poller, tenant_id, ticket["id"], {"text": text})
    assert response.status_code == 202, response.text
    return spec, Shop(tenant_id, "FNAC"), ticket, text, response.json()["ticketMessageId"]


def outbound(ticket: dict[str, Any], text: str) -> list[dict[str, Any]]:
    """The ticket's outbound messages saying ``text`` (whitespace aside)."""
    said = " ".join(text.split())
    return [
        m
        for m in ticket["messages"]
        if m["direction"] == "OUTBOUND" and " ".join(m["body"].split()) == said
    ]


async def test_a_reply_reaches_the_buyers_fnac_thread_and_is_told_sent(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec, tenant_id, ticket = await fnac_ticket(poller, vault, admin, "Où est mon colis ?")
    text = f"Parti ce matin, ticket {ticket['id'][-12:]}."
    response = await post_reply(poller, tenant_id, ticket["id"], {"text": text})
    assert response.status_code == 202, response.text
    reply_id = response.json()["ticketMessageId"]
    assert await send_due(replies(poller)) >= 1
    [sent] = await on_double(admin, spec, text)
    assert (sent["action"], sent["messageTo"], sent["referer"]) == (
        "reply",
        "CLIENT",
        ticket["orderId"],
    )
    assert sent["subject"] in ("order_information", "other_question", "shipping_information")
    assert (await reply_row(poller, reply_id))["status"] == "SENT"
    [event] = await tenant_events(poller, "message.sent", tenant_id)
    assert (event["marketplace"], event["ticketMessageId"]) == ("FNAC", reply_id)

    with_file = {
        "text": "Voir la facture",
        "attachments": [
            {"filename": "f.pdf", "contentType": "application/pdf", "contentBase64": "JVBERg=="}
        ],
    }
    refused = await post_reply(poller, tenant_id, ticket["id"], with_file)
    assert refused.status_code == 400 and "take no attachments" in refused.text
    too_long = await post_reply(poller, tenant_id, ticket["id"], {"text": "x" * 2001})
    assert too_long.status_code == 400 and "2000 characters" in too_long.text


async def test_while_the_order_has_an_open_incident_the_reply_goes_to_customer_service(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec = await demo_shop(admin)
    shop = await connect(poller, vault, spec)
    written = await buyer_writes(admin, spec, description="Colis abîmé")
    await opens_incident(admin, spec, written["orderId"])
    await poll(poller, shop)
    ticket = await ticket_of(poller, shop, written["orderId"])
    assert ticket["incidentStatus"] == "OPENED"
    text = f"Nous remboursons la commande {written['orderId']}."
    sent, row = await reply_sent(poller, admin, spec, shop.tenant_id, ticket["id"], text)
    assert sent["messageTo"] == "CALLCENTER"
    assert (row["status"], row["recipient"]) == ("SENT", "MARKETPLACE_SUPPORT")


async def closes_incident(admin: httpx.AsyncClient, spec: dict[str, Any], order_id: str) -> None:
    response = await admin.post(
        f"/shops/{spec['shop_id']}/incidents/close", json={"orderId": order_id}
    )
    assert response.status_code == 200, response.text


async def test_an_incident_closed_after_it_was_opened_clears_the_flag_and_replies_go_to_the_buyer(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec = await demo_shop(admin)
    shop = await connect(poller, vault, spec)
    await poll(poller, shop)  # the shop's history: incidents opened days ago among them
    older = await poller.runtime.pool.fetchval(
        "SELECT order_id FROM poller_incidents WHERE tenant_id = $1 AND status = 'OPENED'"
        " AND created_at < now() - interval '1 day' ORDER BY created_at LIMIT 1",
        shop.tenant_id,
    )
    assert older is not None
    # A newer incident moves the shop's incident cursor to now, far past the older's opening.
    written = await buyer_writes(admin, spec, description="Colis jamais arrivé")
    await opens_incident(admin, spec, written["orderId"])
    await poll(poller, shop)
    assert (await ticket_of(poller, shop, older))["incidentStatus"] == "OPENED"

    await closes_incident(admin, spec, older)
    await buyer_writes(admin, spec, orderId=older, description="Merci, et maintenant ?")
    await poll(poller, shop)
    ticket = await ticket_of(poller, shop, older)
    assert ticket["incidentStatus"] == "CLOSED"
    text = f"Votre réclamation est close {ticket['id'][-12:]}."
    sent, row = await reply_sent(poller, admin, spec, shop.tenant_id, ticket["id"], text)
    assert sent["messageTo"] == "CLIENT"
    assert (row["status"], row["recipient"]) == ("SENT", "BUYER")


async def test_a_ticket_answered_and_written_to_again_is_alerted_for_its_new_deadline(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec, tenant_id, first = await fnac_ticket(poller, vault, admin, "Toujours pas livré")
    shop, order_id = Shop(tenant_id, "FNAC"), first["orderId"]
    tickets = ports_of(poller.runtime).tickets

    async def alerts_around(deadline: datetime) -> None:
        """The rounds a lead time before ``deadline`` and just after it."""
        await alert_round(tickets, lambda: deadline - timedelta(hours=1))
        await alert_round(tickets, lambda: deadline + timedelta(minutes=1))

    await alerts_around(at(first["respondBy"]))
    text = f"Il part aujourd'hui {first['id'][-12:]}."
    await reply_sent(poller, admin, spec, tenant_id, first["id"], text)
    answered = await ticket_of(poller, shop, order_id)
    assert (answered["responseState"], answered["respondBy"]) == ("ANSWERED", None)

    await asyncio.sleep(1.1)  # Fnac dates messages to the second: a later deadline
    await buyer_writes(admin, spec, orderId=order_id, description="Et alors ?")
    await poll(poller, shop)
    again = await ticket_of(poller, shop, order_id)
    assert again["id"] == first["id"] and again["responseState"] == "AWAITING_REPLY"
    assert at(again["respondBy"]) > at(first["respondBy"])
    await alerts_around(at(again["respondBy"]))

    deadlines = [first["respondBy"], again["respondBy"]]
    for subject in ("ticket.response_due", "ticket.response_overdue"):
        given = await tenant_events(poller, subject, tenant_id)  # the shop's history's too
        ours = [at(e["respondBy"]) for e in given if e["ticketId"] == first["id"]]
        assert ours == [at(d) for d in deadlines], subject


async def test_a_reply_fnac_refuses_fails_with_fnacs_reason(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec = await demo_shop(admin)
    shop = await connect(poller, vault, spec)
    written = await buyer_writes(admin, spec, description="Et ma commande ?")
    await poll(poller, shop)
    tenant_id, ticket = shop.tenant_id, await ticket_of(poller, shop, written["orderId"])
    # The message answered is one Fnac does not know.
    await poller.runtime.pool.execute(
        "UPDATE poller_external_messages SET external_id = $3"
        " WHERE tenant_id = $1 AND external_id = $2",
        tenant_id,
        written["messageId"],
        "00000000-0000-0000-0000-000000000000",
    )
    text = f"Réponse refusée {ticket['id'][-12:]}"
    response = await post_reply(poller, tenant_id, ticket["id"], {"text": text})
    reply_id = response.json()["ticketMessageId"]
    await send_due(replies(poller))
    row = await reply_row(poller, reply_id)
    assert (row["status"], row["status_code"]) == ("FAILED", "ERR_201")
    assert "ERR_201" in row["reason"] and spec["key"] not in row["reason"]
    assert await on_double(admin, spec, text) == []
    [failed] = await tenant_events(poller, "message.bounced", tenant_id)
    assert (failed["marketplace"], failed["status"]) == ("FNAC", "FAILED")


async def test_a_reply_refused_with_several_codes_records_each_code_clean(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec, shop, _, text, reply_id = await replied(
        poller, vault, admin, "Où en est ma commande ?", "Réponse refusée deux fois"
    )
    # Refused as a whole, each code with its text: "ERR_203: …; ERR_201: …; ERR_203: …".
    faults = {
        "operations": ["messages_update"],
        "refuseNext": 1,
        "refuseCodes": ["ERR_203", "ERR_201", "ERR_203"],
    }
    assert (await admin.put("/faults", json=faults)).status_code == 200
    await send_due(replies(poller))
    row = await reply_row(poller, reply_id)
    assert (row["status"], row["status_code"]) == ("FAILED", "ERR_203, ERR_201")
    assert "ERR_201" in row["reason"] and "ERR_203" in row["reason"]
    assert await on_double(admin, spec, text) == []
    [failed] = await tenant_events(poller, "message.bounced", shop.tenant_id)
    assert failed["status"] == "FAILED"


async def test_an_answer_lost_after_fnac_applied_the_reply_leaves_one_copy(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec, tenant_id, ticket = await fnac_ticket(poller, vault, admin, "Toujours rien")
    text = f"Réponse dont la réponse se perd {ticket['id'][-12:]}"
    response = await post_reply(poller, tenant_id, ticket["id"], {"text": text})
    faults = {"operations": ["messages_update"], "malformedNext": 1}
    assert (await admin.put("/faults", json=faults)).status_code == 200
    await send_due(replies(poller))
    assert len(await on_double(admin, spec, text)) == 1
    assert (await reply_row(poller, response.json()["ticketMessageId"]))["status"] == "SENT"


class DiesAfterSending:
    """The sender's process dies between Fnac's answer and the commit of the outcome."""

    def __init__(self, api: MarketplaceReplies) -> None:
        self.api = api
        self.limits = api.limits
        self.sent_messages = api.sent_messages
        self.reply_text = api.reply_text

    async def reply(self, tenant_id: str, reply: Reply) -> ReplyOutcome:
        await self.api.reply(tenant_id, reply)
        raise RuntimeError("killed")


async def test_a_sender_killed_between_fnacs_answer_and_the_commit_never_sends_twice(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec, tenant_id, ticket = await fnac_ticket(poller, vault, admin, "Des nouvelles ?")
    text = f"Envoyée une seule fois {ticket['id'][-12:]}"
    response = await post_reply(poller, tenant_id, ticket["id"], {"text": text})
    reply_id = response.json()["ticketMessageId"]
    ports = replies(poller)
    dying = dataclasses.replace(ports, apis={m: DiesAfterSending(a) for m, a in ports.apis.items()})
    with pytest.raises(RuntimeError, match="killed"):
        await send_due(dying)
    assert len(await on_double(admin, spec, text)) == 1
    assert (await reply_row(poller, reply_id))["status"] == "QUEUED"
    await asyncio.sleep(LEASE + 0.5)  # the dead sender's lease runs out
    assert await send_due(ports) >= 1
    assert (await reply_row(poller, reply_id))["status"] == "SENT"
    assert len(await on_double(admin, spec, text)) == 1  # read back, not sent again


async def test_a_reply_sent_then_polled_back_from_fnac_shows_once(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    asked = "Livré quand ?"
    spec, shop, ticket, text, reply_id = await replied(
        poller, vault, admin, asked, "Livraison demain.\nBonne journée, ticket"
    )
    tenant_id, order = shop.tenant_id, ticket["orderId"]
    await send_due(replies(poller))
    [sent] = await on_double(admin, spec, text)
    answered = await ticket_of(poller, shop, order)
    assert answered["responseState"] == "ANSWERED"
    await buyer_writes(admin, spec, orderId=order, fromType="SELLER", description="Vu chez Fnac")
    await poll(poller, shop)
    await poll(poller, shop)  # the overlap lists the reply again
    polled = await ticket_of(poller, shop, order)
    [mine] = outbound(polled, text)
    assert (mine["id"], mine["deliveryStatus"]) == (reply_id, "SENT")
    [back_office] = outbound(polled, "Vu chez Fnac")  # written at Fnac: still shown
    assert back_office["senderType"] == "SELLER"
    assert polled["messageCount"] == answered["messageCount"] + 1
    assert (polled["responseState"], polled["respondBy"]) == ("ANSWERED", None)
    assert (await reply_row(poller, reply_id))["marketplace_message_id"] == sent["messageId"]
    stored = await poller.runtime.pool.fetchval(
        "SELECT sender_type FROM poller_external_messages WHERE tenant_id = $1"
        " AND marketplace = 'FNAC' AND external_id = $2",
        tenant_id,
        sent["messageId"],
    )
    assert stored == "SELLER"  # read once: the next polls skip it
    assert len(await tenant_events(poller, "message.sent", tenant_id)) == 1


async def test_a_reply_in_doubt_found_by_the_poll_is_sent_and_announced_once(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec, shop, ticket, text, reply_id = await replied(
        poller, vault, admin, "Un retour ?", "Retour accepté"
    )
    tenant_id = shop.tenant_id
    ports = replies(poller)
    dying = dataclasses.replace(ports, apis={m: DiesAfterSending(a) for m, a in ports.apis.items()})
    with pytest.raises(RuntimeError, match="killed"):
        await send_due(dying)
    [sent] = await on_double(admin, spec, text)
    assert (await reply_row(poller, reply_id))["status"] == "QUEUED"  # in doubt
    await poll(poller, shop)
    row = await reply_row(poller, reply_id)
    assert (row["status"], row["marketplace_message_id"]) == ("SENT", sent["messageId"])
    [event] = await tenant_events(poller, "message.sent", tenant_id)
    assert (event["ticketMessageId"], event["marketplace"]) == (reply_id, "FNAC")
    polled = await ticket_of(poller, shop, ticket["orderId"])
    assert [m["id"] for m in outbound(polled, text)] == [reply_id]
    assert polled["responseState"] == "ANSWERED"
    await asyncio.sleep(LEASE + 0.5)  # the dead sender's lease runs out: nothing to send
    await send_due(ports)
    assert len(await on_double(admin, spec, text)) == 1
    assert len(await tenant_events(poller, "message.sent", tenant_id)) == 1
