"""Mirakl operators' shops polled into tickets and answered, on the real servers: the poller
against the sandbox's Mirakl double over HTTP, the shops' keys in OpenBao, NATS and
PostgreSQL. Shops are connected as oauth does it (the key in Vault, then
``connection.connected`` with the operator's code); the test polls and sends when it
chooses. One tenant's two operators show their tickets side by side, each under its own
marketplace."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import msgspec
import pytest
from keybuzz_connector_mirakl.catalogue import CATALOGUE
from keybuzz_devstack.shop_api_testing import agent_json as get_json
from keybuzz_devstack.shop_api_testing import as_agent, start_quiet_poller
from keybuzz_devstack.testing import MailServer, RunningService, eventually
from keybuzz_double_mirakl import service_env
from keybuzz_poller.polling.shops import ShopScheduler
from keybuzz_poller.ports import PollerPorts
from keybuzz_poller.replies.sender import send_due
from keybuzz_poller.service import DEFINITION
from keybuzz_poller.shops.domain import Shop
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.vault import VaultClient
from mirakl_connector_helpers import admin, operators, serve_double, unpaced

StartService = Callable[..., Awaitable[RunningService]]


@pytest.fixture
async def double() -> AsyncIterator[str]:
    async for url in serve_double():
        await admin(url, "PUT", "/limits", json={"enforced": False})
        yield url


@pytest.fixture
async def poller(start_service: StartService, dovecot: MailServer, double: str) -> RunningService:
    # A failing call still tried four times, a tenth of a second apart: what a test asserts
    # is the call failed (a figure not available), not the default waits' seconds.
    env = unpaced(service_env(double)) | {"MIRAKL_CALL_RETRY_WAIT_SECONDS": "0.1"}
    return await start_quiet_poller(start_service, DEFINITION, dovecot, env)


async def connect(
    poller: RunningService, vault: VaultClient, tenant_id: str, code: str, shop: dict[str, Any]
) -> Shop:
    """oauth's connect of one operator's shop for ``tenant_id``: the key in Vault, then
    connection.connected with the operator's code."""
    fields = {"api_key": shop["apiKey"], "shop_id": str(shop["shopId"])}
    await poller.shop_connected(vault, code, fields, str(shop["shopId"]), tenant_id)
    return Shop(tenant_id, code)


async def poll(poller: RunningService, shop: Shop) -> Any:
    return await poller.runtime.component(ShopScheduler).poll_now(shop.key)


def shop_path(code: str, shop: dict[str, Any]) -> str:
    return f"/operators/{code}/shops/{shop['shopId']}"


async def ticket_holding(poller: RunningService, shop: Shop, message_id: str) -> dict[str, Any]:
    page = await get_json(
        poller, shop.tenant_id, "/api/v1/tickets/", marketplace=shop.marketplace, limit=100
    )
    for listed in page["items"]:
        ticket = await get_json(poller, shop.tenant_id, f"/api/v1/tickets/{listed['id']}")
        if any(m["externalId"] == message_id for m in ticket["messages"]):
            return ticket  # type: ignore[no-any-return]
    raise AssertionError(f"no {shop.marketplace} ticket holds message {message_id}")


async def events_of(poller: RunningService, subject: str, tenant_id: str) -> list[dict[str, Any]]:
    rows = await poller.runtime.pool.fetch(
        "SELECT payload FROM event_outbox WHERE subject = $1", subject
    )
    events = [msgspec.json.decode(r["payload"]) for r in rows]
    return [e for e in events if e["tenantId"] == tenant_id]


async def test_two_operators_of_one_tenant_show_their_threads_side_by_side(
    poller: RunningService, vault: VaultClient, double: str
) -> None:
    listed, tenant = await operators(double), f"t{uuid.uuid4().hex[:10]}"
    specs = {code: listed[code]["shops"][0] for code in ("BOULANGER", "DECATHLON")}
    shops = {code: await connect(poller, vault, tenant, code, s) for code, s in specs.items()}
    for shop in shops.values():
        await poll(poller, shop)  # the shop's history
    opened = {
        code: await admin(
            double,
            "POST",
            f"{shop_path(code, spec)}/threads",
            json={
                "body": f"Où en est ma commande {code} ?",
                "topic": "Suivi de commande",
                "attachments": [{"name": "photo.jpg", "size": 2_000}],
            },
        )
        for code, spec in specs.items()
    }
    staff = await admin(
        double,
        "POST",
        f"{shop_path('BOULANGER', specs['BOULANGER'])}/threads/{opened['BOULANGER']['threadId']}/messages",
        json={
            "sender": "OPERATOR",
            "body": "Le vendeur va vous répondre.",
            "to": ["CUSTOMER", "SHOP"],
        },
    )
    for shop in shops.values():
        assert (await poll(poller, shop)).stored >= 1
        assert (await poll(poller, shop)).stored == 0  # each message once

    tickets = {
        code: await ticket_holding(poller, shops[code], opened[code]["messageId"]) for code in shops
    }
    for code, ticket in tickets.items():
        assert (ticket["marketplace"], ticket["orderId"]) == (code, opened[code]["orderId"])
        details = {d["name"]: d["value"] for d in ticket["threadDetails"]}
        assert details["topic"] == "Suivi de commande"
        [buyer] = [m for m in ticket["messages"] if m["externalId"] == opened[code]["messageId"]]
        assert buyer["senderType"] == "BUYER"
        assert [(a["filename"], a["size"]) for a in buyer["attachments"]] == [("photo.jpg", 2_000)]
    # Each operator's listing holds its own thread only.
    decathlon = await get_json(poller, tenant, "/api/v1/tickets/", marketplace="DECATHLON")
    assert tickets["BOULANGER"]["id"] not in {t["id"] for t in decathlon["items"]}
    by_id = {m["externalId"]: m for m in tickets["BOULANGER"]["messages"]}
    assert by_id[staff["messageId"]]["senderType"] == "MARKETPLACE_SUPPORT"
    received = await events_of(poller, "message.received", tenant)
    assert {e["marketplace"] for e in received} == {"BOULANGER", "DECATHLON"}


async def test_every_operator_of_the_catalogue_is_polled_into_its_own_tickets(
    poller: RunningService, vault: VaultClient, double: str
) -> None:
    """Each operator the packaged catalogue lists (added as data only: no code of its own)
    connects and polls as the first ones do: a shop of each on the double, for one tenant,
    a buyer's thread opened on each, a ticket under each operator's code."""
    listed, tenant = await operators(double), f"t{uuid.uuid4().hex[:10]}"
    codes = [o.code for o in CATALOGUE.packaged()]
    assert set(codes) <= set(listed)  # every one is seeded on the double
    specs = {code: listed[code]["shops"][0] for code in codes}
    shops = {code: await connect(poller, vault, tenant, code, s) for code, s in specs.items()}
    for shop in shops.values():
        await poll(poller, shop)  # the shop's history
    opened = {
        code: await admin(
            double, "POST", f"{shop_path(code, spec)}/threads", json={"body": f"Bonjour {code}"}
        )
        for code, spec in specs.items()
    }
    for shop in shops.values():
        assert (await poll(poller, shop)).stored >= 1, shop
    for code, shop in shops.items():
        ticket = await ticket_holding(poller, shop, opened[code]["messageId"])
        assert (ticket["marketplace"], ticket["orderId"]) == (code, opened[code]["orderId"])


async def test_the_operators_staff_show_by_name_in_the_tickets_messages_never_by_e_mail(
    poller: RunningService, vault: VaultClient, double: str
) -> None:
    spec, tenant = (await operators(double))["BOULANGER"]["shops"][0], f"t{uuid.uuid4().hex[:10]}"
    shop = await connect(poller, vault, tenant, "BOULANGER", spec)
    await poll(poller, shop)  # the shop's history
    opened = await admin(double, "POST", f"{shop_path('BOULANGER', spec)}/threads", json={})
    staff = {
        name: await admin(
            double,
            "POST",
            f"{shop_path('BOULANGER', spec)}/threads/{opened['threadId']}/messages",
            json={"sender": "OPERATOR", "senderName": name, "to": ["CUSTOMER", "SHOP"]},
        )
        for name in ("Julie\tM.", "julie.martin@boulanger.example")
    }
    assert (await poll(poller, shop)).stored == 3
    ticket = await ticket_holding(poller, shop, opened["messageId"])
    shown = {m["externalId"]: (m["senderType"], m["senderName"]) for m in ticket["messages"]}
    operator = connector_for("BOULANGER").display_name
    assert shown == {
        opened["messageId"]: ("BUYER", None),  # the buyer's name is the ticket's buyerName
        staff["Julie\tM."]["messageId"]: ("MARKETPLACE_SUPPORT", f"{operator} (Julie M.)"),
        staff["julie.martin@boulanger.example"]["messageId"]: ("MARKETPLACE_SUPPORT", operator),
    }
    kept = await poller.runtime.pool.fetchval(
        "SELECT count(*) FROM poller_external_messages"
        " WHERE position(convert_to('julie.martin@', 'UTF8') IN raw) > 0"
        " OR sender_name LIKE '%@%'"
    )
    assert kept == 0  # the address is kept nowhere


async def test_replies_to_the_customer_and_the_operator_land_once_and_are_told_sent(
    poller: RunningService, vault: VaultClient, double: str
) -> None:
    spec = (await operators(double))["LA_REDOUTE"]["shops"][0]
    shop = await connect(poller, vault, f"t{uuid.uuid4().hex[:10]}", "LA_REDOUTE", spec)
    await poll(poller, shop)
    new = await admin(double, "POST", f"{shop_path('LA_REDOUTE', spec)}/threads", json={})
    await poll(poller, shop)
    ticket = await ticket_holding(poller, shop, new["messageId"])
    texts = {
        "BUYER": f"Bonjour, votre colis part demain. {ticket['id'][-12:]}",
        "MARKETPLACE_SUPPORT": f"Bonjour, le client a reçu sa réponse. {ticket['id'][-12:]}",
        "ALL": f"Bonjour à tous. {ticket['id'][-12:]}",
    }
    queued = []
    for recipient, text in texts.items():
        body = {"text": text, "recipient": recipient}
        path = f"/api/v1/tickets/{ticket['id']}/replies"
        response = await as_agent(poller, "POST", path, shop.tenant_id, json=body)
        assert response.status_code == 202, response.text
        queued.append(response.json()["ticketMessageId"])
    replies = poller.runtime.component(PollerPorts).replies
    await send_due(replies)
    await send_due(replies)  # nothing left to send

    sent = (await admin(double, "GET", f"{shop_path('LA_REDOUTE', spec)}/sent"))["sent"]
    wanted = {
        "BUYER": ["CUSTOMER"],
        "MARKETPLACE_SUPPORT": ["OPERATOR"],
        "ALL": ["CUSTOMER", "OPERATOR"],
    }
    for recipient, text in texts.items():
        [landed] = [s for s in sent if s["body"] == text]
        assert (landed["operation"], landed["to"]) == ("M12", wanted[recipient])
    told = await events_of(poller, "message.sent", shop.tenant_id)
    assert sorted(e["ticketMessageId"] for e in told) == sorted(queued)


@pytest.fixture
async def polling(start_service: StartService, dovecot: MailServer, double: str) -> RunningService:
    """A poller polling on its own, every seeded operator's M11 every 2 s in its catalogue
    (the double allows one a Mirakl minute: a second here), frequencies enforced."""
    await admin(double, "PUT", "/limits", json={"enforced": True})
    catalogue = json.loads(service_env(double)["MIRAKL_CATALOGUE"])
    for entry in catalogue:
        entry["frequencies"] = {"M11": 2}
    return await start_service(
        DEFINITION,
        POLL_ENABLED="true",
        REPLY_SENDER_ENABLED="false",
        SHOP_POLL_DEADLINE_SECONDS="2",
        POLL_RETRY_BASE_SECONDS="1",
        POLL_RETRY_MAX_SECONDS="2",
        MIRAKL_CATALOGUE=json.dumps(catalogue),
        **dovecot.settings,
    )


async def stored_within(poller: RunningService, shop: Shop, message_id: str) -> None:
    """Once a poll stored the message (bounded by the test's limit: a busy machine
    stretches the polls, what is asserted is that it is stored)."""

    async def stored() -> bool | None:
        return await holds(poller, shop, message_id) or None

    await eventually(stored, within=None)


async def polls_after(poller: RunningService, shop: Shop, count: int) -> dict[str, Any]:
    """The shop's status once ``count`` more of its polls succeeded."""
    status = await status_of(poller, shop)
    for _ in range(count):
        since = status["lastSuccessAt"]

        async def succeeded(since: str | None = since) -> dict[str, Any] | None:
            now = await status_of(poller, shop)
            return now if now["lastSuccessAt"] not in (None, since) else None

        status = await eventually(succeeded, within=None)
    return status


async def status_of(poller: RunningService, shop: Shop) -> dict[str, Any]:
    listed = await get_json(poller, shop.tenant_id, "/api/v1/poller/shops")
    return next(s for s in listed if s["marketplace"] == shop.marketplace)  # type: ignore[no-any-return]


async def test_shops_are_polled_on_their_own_at_their_operators_frequency_never_throttled(
    polling: RunningService, vault: VaultClient, double: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A thread opened after the connection is stored by the poller on its own, and no
    call met a 429 (none waited, none failed, none inside a Retry-After)."""
    caplog.set_level(logging.INFO, logger="keybuzz_connector_mirakl")
    spec = (await operators(double))["DECATHLON"]["shops"][0]
    shop = await connect(polling, vault, f"t{uuid.uuid4().hex[:10]}", "DECATHLON", spec)
    new = await admin(double, "POST", f"{shop_path('DECATHLON', spec)}/threads", json={})
    await stored_within(polling, shop, new["messageId"])
    status = await polls_after(polling, shop, 3)  # a few more polls
    # Each of them on time or cut at its deadline by a busy machine: never throttled.
    assert status["consecutiveFailures"] == 0, status
    throttled = [r.getMessage() for r in caplog.records if "throttled" in r.getMessage()]
    assert throttled == []
    assert (await admin(double, "GET", "/retry-after-violations"))["count"] == 0


async def test_one_operator_down_while_the_other_polls_on_time(
    polling: RunningService, vault: VaultClient, double: str
) -> None:
    listed, tenant = await operators(double), f"t{uuid.uuid4().hex[:10]}"
    specs = {code: listed[code]["shops"][0] for code in ("BOULANGER", "LA_REDOUTE")}
    shops = {code: await connect(polling, vault, tenant, code, s) for code, s in specs.items()}
    for shop in shops.values():
        await eventually(lambda shop=shop: status_of(polling, shop), within=None)
    await admin(
        double,
        "PUT",
        "/faults",
        json={"errorRate": 1.0, "errorStatuses": [503], "operations": ["BOULANGER"]},
    )
    new = {
        code: await admin(double, "POST", f"{shop_path(code, spec)}/threads", json={})
        for code, spec in specs.items()
    }

    async def failing() -> dict[str, Any] | None:
        status = await status_of(polling, shops["BOULANGER"])
        return status if status["consecutiveFailures"] >= 1 else None

    down = await eventually(failing, within=None)
    assert down["connection"] == "CONNECTED", down  # down, not refused
    await stored_within(polling, shops["LA_REDOUTE"], new["LA_REDOUTE"]["messageId"])
    assert not await holds(polling, shops["BOULANGER"], new["BOULANGER"]["messageId"])
    await admin(double, "DELETE", "/faults")
    await stored_within(polling, shops["BOULANGER"], new["BOULANGER"]["messageId"])


async def holds(poller: RunningService, shop: Shop, message_id: str) -> bool:
    try:
        await ticket_holding(poller, shop, message_id)
    except AssertionError:
        return False
    return True


@pytest.mark.parametrize("attachment_id", ["../../account", "a/../../b", "..%2F..%2Fsecret"])
async def test_a_hostile_attachment_id_costs_that_attachment_only(
    poller: RunningService, vault: VaultClient, double: str, attachment_id: str
) -> None:
    """An id naming another path is refused as a link is, its message stored without it and
    flagged; the shop's next thread arrives and its polls do not fail."""
    listed, tenant = await operators(double), f"t{uuid.uuid4().hex[:10]}"
    spec = listed["BOULANGER"]["shops"][0]
    shop = await connect(poller, vault, tenant, "BOULANGER", spec)
    await poll(poller, shop)  # the shop's history
    hostile = await admin(
        double,
        "POST",
        f"{shop_path('BOULANGER', spec)}/threads",
        json={
            "body": "Voici la photo du colis abîmé.",
            "attachments": [{"name": "photo.jpg", "size": 500, "id": attachment_id}],
        },
    )
    healthy = await admin(
        double, "POST", f"{shop_path('BOULANGER', spec)}/threads", json={"body": "Et alors ?"}
    )
    assert (await poll(poller, shop)).stored >= 2
    kept = await ticket_holding(poller, shop, hostile["messageId"])
    [message] = [m for m in kept["messages"] if m["externalId"] == hostile["messageId"]]
    [attachment] = message["attachments"]
    assert attachment["filename"] == "photo.jpg" and not attachment["size"]
    assert "refused" in attachment["skipped"]
    await ticket_holding(poller, shop, healthy["messageId"])
    [status] = await get_json(poller, tenant, "/api/v1/poller/shops")
    assert status["consecutiveFailures"] == 0 and status["lastError"] is None


async def test_a_thread_in_spanish_is_a_spanish_ticket_about_what_the_buyer_asks(
    poller: RunningService, vault: VaultClient, double: str
) -> None:
    spec = (await operators(double))["DECATHLON"]["shops"][0]
    shop = await connect(poller, vault, f"t{uuid.uuid4().hex[:10]}", "DECATHLON", spec)
    await poll(poller, shop)
    body = "Hola, las zapatillas me quedan pequeñas. ¿Cómo hago la devolución del pedido?"
    # A topic the rules do not read: the buyer's words decide, as they do the language.
    new = await admin(
        double,
        "POST",
        f"{shop_path('DECATHLON', spec)}/threads",
        json={"body": body, "topic": "Otro"},
    )
    await poll(poller, shop)
    ticket = await ticket_holding(poller, shop, new["messageId"])
    assert (ticket["language"], ticket["languageSource"]) == ("es", "detected")
    assert (ticket["topic"], ticket["topicSource"]) == ("RETURN_OR_REFUND", "detected")
    # A topic of the operator's list the rules read is the marketplace's word.
    damaged = await admin(
        double,
        "POST",
        f"{shop_path('DECATHLON', spec)}/threads",
        json={
            "body": "Hola, les escribo por el pedido que recibí ayer.",
            "topic": "Producto dañado",
        },
    )
    await poll(poller, shop)
    other = await ticket_holding(poller, shop, damaged["messageId"])
    assert (other["topic"], other["topicSource"]) == ("DAMAGED_OR_WRONG_ITEM", "marketplace")
    page = await get_json(poller, shop.tenant_id, "/api/v1/tickets/", language="es")
    assert {ticket["id"], other["id"]} <= {t["id"] for t in page["items"]}
