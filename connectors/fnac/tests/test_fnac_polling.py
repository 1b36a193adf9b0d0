"""Fnac shops polled into tickets, on the real servers: the poller against the sandbox's
Fnac double over HTTP, the shop's key in OpenBao, NATS and PostgreSQL. A shop is connected
as oauth does it: the key written to Vault, then ``connection.connected`` (FNAC)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import msgspec
import pytest
from keybuzz_devstack.shop_api_testing import agent_headers as headers
from keybuzz_devstack.shop_api_testing import agent_json as get_json
from keybuzz_devstack.shop_api_testing import poller_process_env as process_env
from keybuzz_devstack.shop_api_testing import publish
from keybuzz_devstack.shop_api_testing import run_poller_once as run_once
from keybuzz_devstack.shop_api_testing import tenant_archived as archived
from keybuzz_devstack.testing import Infra, MailServer, RunningService, eventually
from keybuzz_poller.polling.scheduler import TenantNotPollable
from keybuzz_poller.polling.shops import ShopScheduler
from keybuzz_poller.service import DEFINITION
from keybuzz_poller.shops.domain import Shop
from keybuzz_poller.shops.ports import ShopPollFailed
from keybuzz_shared.events import ConnectionDisconnected
from keybuzz_shared.vault import VaultClient

StartService = Callable[..., Awaitable[RunningService]]
CAP = 100_000  # FNAC_MAX_ATTACHMENT_BYTES here


def poller_settings(dovecot: MailServer, sandbox_url: str) -> dict[str, str]:
    return {
        "POLL_ENABLED": "false",  # polls when the test says
        "FNAC_API_URL": f"{sandbox_url}/fnac/api.php/",
        "FNAC_MAX_ATTACHMENT_BYTES": str(CAP),
        # A failing call still tried four times, a tenth of a second apart: what a test
        # asserts is the failed poll, not the default waits' seconds before it.
        "FNAC_CALL_RETRY_WAIT_SECONDS": "0.1",
        **dovecot.settings,
    }


@pytest.fixture(scope="module")
async def module_poller(
    start_module_service: StartService, dovecot: MailServer, sandbox_url: str
) -> RunningService:
    """The module's tests' poller: each connects shops for tenants of its own."""
    return await start_module_service(DEFINITION, **poller_settings(dovecot, sandbox_url))


@pytest.fixture
async def poller(
    request: pytest.FixtureRequest,
    module_poller: RunningService,
    start_service: StartService,
    dovecot: MailServer,
    sandbox_url: str,
) -> RunningService:
    """The module's poller, or one of the test's own where it is marked ``own_poller``
    (what it asserts spans every shop of the poller's database), on a NATS of its own: the
    module's poller, on the session's, would take its ``connection.connected`` (one durable
    consumer for both)."""
    if request.node.get_closest_marker("own_poller") is None:
        return module_poller
    nats = request.getfixturevalue("private_nats")
    settings = poller_settings(dovecot, sandbox_url) | {"NATS_URL": nats.spec.url}
    return await start_service(DEFINITION, **settings)


@pytest.fixture
async def admin(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/_sandbox/fnac", timeout=10) as http:
        yield http
        await http.delete("/faults")


async def demo_shop(admin: httpx.AsyncClient) -> dict[str, Any]:
    shops = (await admin.get("/shops")).json()
    return next(s for s in shops if s["name"] == "KeyBuzz Démo Fnac")


async def connect(
    poller: RunningService,
    vault: VaultClient,
    shop: dict[str, Any],
    key: str | None = None,
    marketplace: str = "FNAC",
) -> Shop:
    """oauth's connect: the key in Vault, then connection.connected; the shop is polled."""
    fields = {f: shop[f] for f in ("partner_id", "shop_id")} | {"key": key or shop["key"]}
    tenant_id = await poller.shop_connected(vault, marketplace, fields, shop["shop_id"])
    return Shop(tenant_id, marketplace)


async def polled_shop(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> tuple[dict[str, Any], Shop]:
    """The demo shop connected to a new tenant, its history polled: later polls read only
    what the test makes happen."""
    spec = await demo_shop(admin)
    shop = await connect(poller, vault, spec)
    await poll(poller, shop)
    return spec, shop


async def poll(poller: RunningService, shop: Shop) -> Any:
    return await poller.runtime.component(ShopScheduler).poll_now(shop.key)


async def status(poller: RunningService, shop: Shop) -> dict[str, Any]:
    [found] = await get_json(poller, shop.tenant_id, "/api/v1/poller/shops")
    return found  # type: ignore[no-any-return]


async def ticket_of(poller: RunningService, shop: Shop, order_id: str) -> dict[str, Any]:
    page = await get_json(
        poller, shop.tenant_id, "/api/v1/tickets/", marketplace="FNAC", orderId=order_id
    )
    [ticket] = page["items"]
    return await get_json(poller, shop.tenant_id, f"/api/v1/tickets/{ticket['id']}")  # type: ignore[no-any-return]


async def buyer_writes(
    admin: httpx.AsyncClient, shop: dict[str, Any], **body: Any
) -> dict[str, Any]:
    response = await admin.post(f"/shops/{shop['shop_id']}/messages", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def opens_incident(
    admin: httpx.AsyncClient, spec: dict[str, Any], order_id: str
) -> dict[str, Any]:
    """The buyer opens an incident on the order: its ids (incident, notice message)."""
    response = await admin.post(f"/shops/{spec['shop_id']}/incidents", json={"orderId": order_id})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def received_events(poller: RunningService, tenant_id: str) -> list[dict[str, Any]]:
    rows = await poller.runtime.pool.fetch(
        "SELECT payload FROM event_outbox WHERE subject = 'message.received'"
    )
    events = [msgspec.json.decode(r["payload"]) for r in rows]
    return [e for e in events if e["tenantId"] == tenant_id]


async def test_messages_become_tickets_once_marked_read_with_their_sender_and_marketplace(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec, shop = await polled_shop(poller, vault, admin)
    written = await buyer_writes(admin, spec, subject="Retard", description="Toujours rien reçu")
    support = await buyer_writes(
        admin, spec, orderId=written["orderId"], fromType="CALLCENTER", description="Service client"
    )
    result = await poll(poller, shop)
    again = await poll(poller, shop)
    assert result.stored >= 2 and again.stored == 0 and again.duplicates >= 2

    ticket = await ticket_of(poller, shop, written["orderId"])
    assert ticket["marketplace"] == "FNAC"
    by_id = {m["externalId"]: m for m in ticket["messages"]}
    assert by_id[written["messageId"]]["senderType"] == "BUYER"
    assert by_id[support["messageId"]]["senderType"] == "MARKETPLACE_SUPPORT"
    assert by_id[written["messageId"]]["body"] == "Toujours rien reçu"
    events = await received_events(poller, shop.tenant_id)
    assert {e["marketplace"] for e in events} == {"FNAC"}
    mine = [
        e
        for e in events
        if e["externalMessageId"] == by_id[written["messageId"]]["externalMessageId"]
    ]
    assert len(mine) == 1 and mine[0]["orderId"] == written["orderId"]
    # Marked read at Fnac after the commit: nothing left pending.
    pending = await poller.runtime.pool.fetchval(
        "SELECT count(*) FROM poller_external_messages WHERE tenant_id = $1 AND mark_read_pending",
        shop.tenant_id,
    )
    assert pending == 0
    # The list filters by marketplace.
    amazon = await get_json(poller, shop.tenant_id, "/api/v1/tickets/", marketplace="AMAZON")
    assert amazon["items"] == []


async def test_an_incident_flags_its_orders_ticket_and_its_notice_is_shown_once(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec = await demo_shop(admin)
    shop = await connect(poller, vault, spec)
    written = await buyer_writes(admin, spec, description="Colis abîmé")
    opened = await opens_incident(admin, spec, written["orderId"])
    await poll(poller, shop)
    ticket = await ticket_of(poller, shop, written["orderId"])
    assert ticket["incidentStatus"] == "OPENED" and ticket["incidentTypes"]
    notices = [m for m in ticket["messages"] if "réclamation" in m["subject"].lower()]
    assert len(notices) == 1
    stored = await poller.runtime.pool.fetchval(
        "SELECT count(*) FROM poller_external_messages WHERE tenant_id = $1 AND external_id = $2",
        shop.tenant_id,
        opened["messageId"],
    )
    assert stored == 1  # the notice itself is kept, not shown a second time


async def test_outages_garbled_answers_and_expired_tokens_lose_nothing(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec, shop = await polled_shop(poller, vault, admin)
    written = await buyer_writes(admin, spec, description="Pendant la panne")
    faults = {"failNext": 20, "failStatus": 503, "operations": ["messages_query"]}
    assert (await admin.put("/faults", json=faults)).status_code == 200
    with pytest.raises(ShopPollFailed):
        await poll(poller, shop)
    failed = await status(poller, shop)
    assert failed["consecutiveFailures"] == 1 and "unavailable" in failed["lastError"]
    assert spec["key"] not in failed["lastError"]
    await admin.delete("/faults")
    malformed = {
        "malformedNext": 20,
        "malformedKind": "truncated",
        "operations": ["messages_query"],
    }
    assert (await admin.put("/faults", json=malformed)).status_code == 200
    with pytest.raises(ShopPollFailed):
        await poll(poller, shop)
    assert (await status(poller, shop))["consecutiveFailures"] == 2
    await admin.delete("/faults")
    assert (await admin.post(f"/shops/{spec['shop_id']}/expire-tokens")).status_code == 200
    await poll(poller, shop)  # the client authenticates again
    ticket = await ticket_of(poller, shop, written["orderId"])
    assert written["messageId"] in {m["externalId"] for m in ticket["messages"]}
    recovered = await status(poller, shop)
    assert recovered["consecutiveFailures"] == 0 and recovered["connection"] == "CONNECTED"


async def test_a_refused_key_requires_reauthorization_and_stops_the_polls(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec = await demo_shop(admin)
    shop = await connect(poller, vault, spec, key="00000000-0000-0000-0000-000000000000")
    with pytest.raises(ShopPollFailed):
        await poll(poller, shop)
    found = await status(poller, shop)
    assert found["connection"] == "REAUTH_REQUIRED" and "refused" in found["lastError"]
    rows = await poller.runtime.pool.fetch(
        "SELECT payload FROM event_outbox WHERE subject = 'connection.reauth_required'"
    )
    events = [msgspec.json.decode(r["payload"]) for r in rows]
    assert [e["marketplace"] for e in events if e["tenantId"] == shop.tenant_id] == ["FNAC"]
    with pytest.raises(TenantNotPollable):
        await poll(poller, shop)


async def test_disconnect_and_archiving_stop_the_polls(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec = await demo_shop(admin)
    gone = await connect(poller, vault, spec)
    await publish(poller, ConnectionDisconnected(tenant_id=gone.tenant_id, marketplace="FNAC"))

    async def disconnected() -> bool:
        return (await status(poller, gone))["connection"] == "DISCONNECTED"

    await eventually(disconnected)
    with pytest.raises(TenantNotPollable):
        await poll(poller, gone)
    kept = await connect(poller, vault, spec)
    await poll(poller, kept)
    await archived(poller, kept.tenant_id)
    with pytest.raises(TenantNotPollable):
        await poll(poller, kept)


@pytest.mark.own_poller  # counts the shops due in its database
async def test_once_polls_the_due_shops_too(
    poller: RunningService,
    vault: VaultClient,
    admin: httpx.AsyncClient,
    stack: Infra,
    dovecot: MailServer,
    sandbox_url: str,
) -> None:
    spec, shop = await polled_shop(poller, vault, admin)
    written = await buyer_writes(admin, spec, description="Lu par la tâche planifiée")
    pool = poller.runtime.pool
    await pool.execute("UPDATE poller_shops SET next_poll_at = now() WHERE poll_key = $1", shop.key)
    env = process_env(
        stack,
        poller.runtime.settings.database_url,
        dovecot,
        FNAC_API_URL=f"{sandbox_url}/fnac/api.php/",
    )
    out = await run_once(env)
    assert b"polled 1 shops" in out, out
    ticket = await ticket_of(poller, shop, written["orderId"])
    assert written["messageId"] in {m["externalId"] for m in ticket["messages"]}
    after = await status(poller, shop)
    assert after["lastSuccessAt"] is not None and after["consecutiveFailures"] == 0


async def attachment(
    poller: RunningService, tenant_id: str, ticket: dict[str, Any], message: dict[str, Any], at: int
) -> httpx.Response:
    path = f"/api/v1/tickets/{ticket['id']}/messages/{message['id']}/attachments/{at}"
    async with poller.client() as http:
        return await http.get(path, headers=headers(poller, tenant_id))


async def test_linked_files_are_stored_up_to_the_cap_and_served_to_the_tenant_only(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec, shop = await polled_shop(poller, vault, admin)
    files = [
        {"name": "facture été.pdf", "contentType": "application/pdf", "size": 5_000},
        {"name": "vidéo.mp4", "contentType": "video/mp4", "size": CAP + 1},
    ]
    written = await buyer_writes(admin, spec, description="Voici la facture", attachments=files)
    await poll(poller, shop)
    ticket = await ticket_of(poller, shop, written["orderId"])
    [message] = [m for m in ticket["messages"] if m["externalId"] == written["messageId"]]
    assert message["attachments"] == [
        {"filename": "facture été.pdf", "contentType": "application/pdf", "size": 5_000},
        {
            "filename": "vidéo.mp4",
            "contentType": "video/mp4",
            "size": 0,
            "skipped": f"larger than {CAP} bytes",
        },
    ]
    async with httpx.AsyncClient(timeout=10) as http:
        original = (await http.get(written["fileUrls"][0])).content
    served = await attachment(poller, shop.tenant_id, ticket, message, 0)
    assert served.status_code == 200 and served.content == original and len(original) == 5_000
    assert served.headers["content-type"].startswith("application/pdf")
    assert served.headers["content-disposition"].startswith("attachment;")
    assert "UTF-8''facture%20%C3%A9t%C3%A9.pdf" in served.headers["content-disposition"]
    assert served.headers["x-content-type-options"] == "nosniff"
    # The oversize one is named, not stored; another tenant finds nothing; no file's URL kept.
    assert (await attachment(poller, shop.tenant_id, ticket, message, 1)).status_code == 404
    assert (await attachment(poller, "t-someone-else", ticket, message, 0)).status_code == 404
    assert (await attachment(poller, shop.tenant_id, ticket, message, 2)).status_code == 404
    for outside in (2**31, -1):  # no position a message can have: refused, not a 500
        assert (
            await attachment(poller, shop.tenant_id, ticket, message, outside)
        ).status_code == 400
    raws = await poller.runtime.pool.fetch(
        "SELECT raw::text FROM poller_external_messages WHERE tenant_id = $1", shop.tenant_id
    )
    assert not any("/fnac/files/" in r["raw"] for r in raws)


async def test_a_darty_shop_is_read_with_the_fnac_apis_settings(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    """Darty's shops use the FNAC_ settings (one API): here FNAC_MAX_ATTACHMENT_BYTES."""
    spec = next(s for s in (await admin.get("/shops")).json() if s["name"] == "KeyBuzz Démo Darty")
    shop = await connect(poller, vault, spec, marketplace="DARTY")
    await poll(poller, shop)
    files = [{"name": "photo.png", "contentType": "image/png", "size": CAP + 1}]
    written = await buyer_writes(admin, spec, description="Voici la photo", attachments=files)
    await poll(poller, shop)
    page = await get_json(
        poller, shop.tenant_id, "/api/v1/tickets/", marketplace="DARTY", orderId=written["orderId"]
    )
    [found] = page["items"]
    ticket = await get_json(poller, shop.tenant_id, f"/api/v1/tickets/{found['id']}")
    [message] = [m for m in ticket["messages"] if m["externalId"] == written["messageId"]]
    assert [a["skipped"] for a in message["attachments"]] == [f"larger than {CAP} bytes"]


async def test_a_failing_download_is_recorded_and_its_message_stored(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec, shop = await polled_shop(poller, vault, admin)
    files = [{"name": "photo.jpg", "contentType": "image/jpeg", "size": 2_000}]
    written = await buyer_writes(admin, spec, description="Photo jointe", attachments=files)
    faults = {"failNext": 10, "failStatus": 503, "operations": ["files"]}
    assert (await admin.put("/faults", json=faults)).status_code == 200
    await poll(poller, shop)  # the poll itself succeeds
    await admin.delete("/faults")
    ticket = await ticket_of(poller, shop, written["orderId"])
    [message] = [m for m in ticket["messages"] if m["externalId"] == written["messageId"]]
    [kept] = message["attachments"]
    assert kept["filename"] == "photo.jpg" and kept["skipped"].startswith("download failed")
    assert "503" in kept["skipped"] and "/fnac/files/" not in kept["skipped"]
    assert (await status(poller, shop))["consecutiveFailures"] == 0


async def test_the_sellers_message_in_fnacs_back_office_answers_the_buyer(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec, shop = await polled_shop(poller, vault, admin)
    asked = await buyer_writes(admin, spec, description="Où est mon colis ?")
    order = asked["orderId"]
    await poll(poller, shop)
    waiting = await ticket_of(poller, shop, order)
    assert waiting["responseState"] == "AWAITING_REPLY" and waiting["respondBy"]
    await buyer_writes(admin, spec, orderId=order, fromType="SELLER", description="Parti hier")
    await poll(poller, shop)
    answered = await ticket_of(poller, shop, order)
    assert (answered["responseState"], answered["respondBy"]) == ("ANSWERED", None)
    seller = [m for m in answered["messages"] if m["senderType"] == "SELLER"]
    assert seller and seller[-1]["direction"] == "OUTBOUND"
    await asyncio.sleep(1.1)  # Fnac's times are to the second
    await buyer_writes(admin, spec, orderId=order, description="Toujours rien")
    await poll(poller, shop)
    again = await ticket_of(poller, shop, order)
    assert again["responseState"] == "AWAITING_REPLY"
    assert again["respondBy"] > waiting["respondBy"]


async def test_a_utf7_dtd_in_fnacs_answer_stores_nothing_of_it(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    """The answer declared UTF-7, its DTD written in UTF-7 (no "<!" among its bytes) with an
    entity standing for every message's text: refused unread, nothing of it stored."""
    spec, shop = await polled_shop(poller, vault, admin)
    written = await buyer_writes(admin, spec, description="Où est mon colis ?")
    before = len(await received_events(poller, shop.tenant_id))
    hostile = {
        "malformedNext": 20,
        "malformedKind": "utf7-entities",
        "operations": ["messages_query"],
    }
    assert (await admin.put("/faults", json=hostile)).status_code == 200
    with pytest.raises(ShopPollFailed):
        await poll(poller, shop)
    failed = await status(poller, shop)
    assert "UTF-7" in failed["lastError"] and failed["consecutiveFailures"] == 1
    for table in ("poller_tickets", "poller_ticket_messages", "poller_external_messages"):
        injected = await poller.runtime.pool.fetchval(
            f"SELECT count(*) FROM {table} t WHERE t::text LIKE '%INJECTED%'"
        )
        assert injected == 0, table
    assert len(await received_events(poller, shop.tenant_id)) == before

    await admin.delete("/faults")
    await poll(poller, shop)  # the same message, as Fnac really wrote it
    ticket = await ticket_of(poller, shop, written["orderId"])
    by_id = {m["externalId"]: m for m in ticket["messages"]}
    assert by_id[written["messageId"]]["body"] == "Où est mon colis ?"


async def poll_shop_request(poller: RunningService, **body: str) -> Any:
    """``nats req keybuzz.poller.poll-shop``, as the operator."""
    operator = await poller.operator()
    return await operator.request("keybuzz.poller.poll-shop", msgspec.json.encode(body), 15)


def error_code(reply: Any) -> str | None:
    return (reply.headers or {}).get("Nats-Service-Error-Code")


async def test_an_operator_polls_a_shop_now_and_is_told_why_it_failed(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec = await demo_shop(admin)
    shop = await connect(poller, vault, spec)
    written = await buyer_writes(admin, spec, description="Demandé par l'opérateur")
    polled = await poll_shop_request(poller, tenantId=shop.tenant_id, marketplace="fnac")
    assert error_code(polled) is None, polled.data
    answer = msgspec.json.decode(polled.data)
    assert (answer["tenantId"], answer["marketplace"]) == (shop.tenant_id, "FNAC")
    assert answer["stored"] >= 1 and answer["fetched"] >= answer["stored"]
    ticket = await ticket_of(poller, shop, written["orderId"])
    assert written["messageId"] in {m["externalId"] for m in ticket["messages"]}

    faults = {"failNext": 20, "failStatus": 503, "operations": ["messages_query"]}
    assert (await admin.put("/faults", json=faults)).status_code == 200
    failed = await poll_shop_request(poller, tenantId=shop.tenant_id, marketplace="FNAC")
    why = (failed.headers or {}).get("Nats-Service-Error", "")
    assert error_code(failed) == "503" and "unavailable" in why, failed.headers
    assert spec["key"] not in why
    recorded = await status(poller, shop)
    assert recorded["consecutiveFailures"] == 1 and "unavailable" in recorded["lastError"]
    await admin.delete("/faults")

    for body, code in [
        ({"tenantId": shop.tenant_id, "marketplace": "DARTY"}, "404"),  # no Darty shop
        ({"tenantId": "t-nobody", "marketplace": "FNAC"}, "404"),
        ({"tenantId": shop.tenant_id, "marketplace": "NOT_SERVED"}, "400"),
        ({"tenantId": "../etc", "marketplace": "FNAC"}, "400"),
        ({"tenantId": shop.tenant_id}, "400"),
    ]:
        refused = await poll_shop_request(poller, **body)
        assert error_code(refused) == code, (body, refused.data)
    recovered = await poll_shop_request(poller, tenantId=shop.tenant_id, marketplace="FNAC")
    assert error_code(recovered) is None, recovered.data
    assert (await status(poller, shop))["consecutiveFailures"] == 0


async def test_a_link_that_fails_for_an_unexpected_reason_costs_that_file_only(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    """A link the HTTP client cannot even read (a host no IDNA encodes) fails in no way
    the source expects: that file is listed as refused, the message's other file is
    stored, and the poll succeeds."""
    spec, shop = await polled_shop(poller, vault, admin)
    odd = "http://ＬＯＣＡＬＨＯＳＴ/photo.jpg"
    files = [
        {"name": "facture.pdf", "contentType": "application/pdf", "size": 5_000},
        {"name": "photo.jpg", "contentType": "image/jpeg", "size": 10, "url": odd},
    ]
    written = await buyer_writes(admin, spec, description="Deux fichiers", attachments=files)
    await poll(poller, shop)
    ticket = await ticket_of(poller, shop, written["orderId"])
    [message] = [m for m in ticket["messages"] if m["externalId"] == written["messageId"]]
    good, refused = message["attachments"]
    assert good["filename"] == "facture.pdf" and good["size"] == 5_000, good
    assert refused["filename"] == "photo.jpg" and refused["skipped"].startswith("refused:")
    after = await status(poller, shop)
    assert after["consecutiveFailures"] == 0 and after["lastError"] is None, after
