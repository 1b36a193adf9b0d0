"""Back Market shops polled into tickets, on the real servers: the poller against the
sandbox's Back Market double over HTTP, the shop's token in OpenBao, NATS and PostgreSQL.
A shop is connected as oauth does it (its fields in Vault, then ``connection.connected``);
the test polls when it chooses. A care folder is one ticket with its order, the buyer's
country and language, its claim, Back Market's staff and informative notices told apart;
the firewall's 403 holds the shop, never asks the seller to connect again."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from keybuzz_connector_backmarket.care import MAX_FILE_BYTES
from keybuzz_devstack.shop_api_testing import agent_headers, start_quiet_poller
from keybuzz_devstack.shop_api_testing import agent_json as get_json
from keybuzz_devstack.testing import MailServer, RunningService
from keybuzz_double_backmarket import service_env
from keybuzz_poller.polling.shops import ShopScheduler
from keybuzz_poller.service import DEFINITION
from keybuzz_poller.shops.domain import Shop
from keybuzz_shared.vault import VaultClient

StartService = Callable[..., Awaitable[RunningService]]
MARKETPLACE = "BACKMARKET"
MILANO = 4


@pytest.fixture
async def poller(
    start_service: StartService, dovecot: MailServer, sandbox_url: str
) -> RunningService:
    return await start_quiet_poller(
        start_service,
        DEFINITION,
        dovecot,
        service_env(sandbox_url),
        BACKMARKET_CALL_DEADLINE_SECONDS="5",
    )


async def connected(poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient) -> Shop:
    spec = next(s for s in (await admin.get("/shops")).json() if s["number"] == MILANO)
    fields = {"token": spec["token"], "merchant_id": str(spec["merchantId"]), "country": "it-it"}
    tenant_id = await poller.shop_connected(vault, MARKETPLACE, fields, fields["merchant_id"])
    return Shop(tenant_id, MARKETPLACE)


async def poll(poller: RunningService, shop: Shop) -> Any:
    return await poller.runtime.component(ShopScheduler).poll_now(shop.key)


async def ticket_of(poller: RunningService, shop: Shop, order_id: str) -> dict[str, Any]:
    page = await get_json(
        poller, shop.tenant_id, "/api/v1/tickets/", marketplace=MARKETPLACE, orderId=order_id
    )
    [listed] = page["items"]
    return await get_json(poller, shop.tenant_id, f"/api/v1/tickets/{listed['id']}")  # type: ignore[no-any-return]


async def test_a_care_folder_is_one_ticket_as_back_market_shows_it(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    shop = await connected(poller, vault, admin)
    await poll(poller, shop)
    opened = (
        await admin.post(f"/shops/{MILANO}/folders", json={"message": "Écran cassé", "claim": True})
    ).json()
    path = f"/shops/{MILANO}/folders/{opened['folderId']}/messages"
    staff = (await admin.post(path, json={"initiator": "BackMarket", "message": "Bonjour"})).json()
    notice = (await admin.post(path, json={"initiator": "BackMarket", "informative": True})).json()
    await poll(poller, shop)
    ticket = await ticket_of(poller, shop, str(opened["orderId"]))
    senders = {m["externalId"]: m["senderType"] for m in ticket["messages"]}
    assert senders == {
        str(opened["messageId"]): "BUYER",
        str(staff["messageId"]): "MARKETPLACE_SUPPORT",
        str(notice["messageId"]): "SYSTEM",
    }
    details = {d["name"]: d["value"] for d in ticket["threadDetails"]}
    assert (details["country"], details["language"]) == ("Italie", "italien")
    assert details["claim_issues"] and details["order"] == str(opened["orderId"])
    assert ticket["claim"] is True
    await poll(poller, shop)  # again: nothing stored twice
    again = await ticket_of(poller, shop, str(opened["orderId"]))
    assert len(again["messages"]) == 3


@pytest.mark.parametrize("kind", ["html", "json"])
async def test_the_firewalls_403_holds_the_shop_and_never_asks_to_connect_again(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient, kind: str
) -> None:
    shop = await connected(poller, vault, admin)
    await poll(poller, shop)
    faults = {"wafNext": 1, "wafKind": kind, "operations": ["getCareFolderList"]}
    assert (await admin.put("/faults", json=faults)).status_code == 200
    opened = (await admin.post(f"/shops/{MILANO}/folders", json={"message": "Allô ?"})).json()
    with contextlib.suppress(Exception):  # the poll fails: Back Market did not answer
        await poll(poller, shop)
    [status] = await get_json(poller, shop.tenant_id, "/api/v1/poller/shops")
    assert status["connection"] == "CONNECTED", status
    assert "firewall" in (status["lastError"] or ""), status
    await poll(poller, shop)  # held, then retried: the folder comes in
    ticket = await ticket_of(poller, shop, str(opened["orderId"]))
    assert str(opened["messageId"]) in {m["externalId"] for m in ticket["messages"]}


async def test_a_reply_with_a_file_over_3_mb_is_refused_before_it_is_queued(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    shop = await connected(poller, vault, admin)
    opened = (await admin.post(f"/shops/{MILANO}/folders", json={"message": "Facture ?"})).json()
    await poll(poller, shop)
    ticket = await ticket_of(poller, shop, str(opened["orderId"]))
    headers = agent_headers(poller, shop.tenant_id)
    for size, status in ((MAX_FILE_BYTES + 1, 413), (MAX_FILE_BYTES, 202)):
        file = {
            "filename": "facture.pdf",
            "contentType": "application/pdf",
            "contentBase64": base64.b64encode(b"%" * size).decode(),
        }
        body = {"text": f"Voici la facture ({size}).", "attachments": [file]}
        async with poller.client() as http:
            answer = await http.post(
                f"/api/v1/tickets/{ticket['id']}/replies", json=body, headers=headers
            )
        assert answer.status_code == status, answer.text
    queued = await poller.runtime.pool.fetchval(
        "SELECT count(*) FROM poller_replies WHERE ticket_id = $1", ticket["id"]
    )
    assert queued == 1  # the 3 MB one only


def polled_by_hand(sandbox_url: str, dovecot: MailServer) -> dict[str, str]:
    """A poller on the double that polls when the test says, and sends no reply."""
    return {
        "POLL_ENABLED": "false",
        "REPLY_SENDER_ENABLED": "false",
        **service_env(sandbox_url),
        **dovecot.settings,
    }


async def folder_lists(admin: httpx.AsyncClient) -> int:
    """The folder-list calls MILANO made today, on the double's count."""
    counted = (await admin.get("/counters", params={"shop": MILANO})).json()["counters"]
    return sum(
        c["answered"] + c["refused"] for c in counted if c["operation"] == "getCareFolderList"
    )


async def test_a_listing_needing_more_calls_than_the_day_allows_stops_at_its_cap(
    start_service: StartService,
    dovecot: MailServer,
    sandbox_url: str,
    vault: VaultClient,
    admin: httpx.AsyncClient,
) -> None:
    settings = polled_by_hand(sandbox_url, dovecot)
    capped = await start_service(DEFINITION, BACKMARKET_CALLS_PER_DAY="3", **settings)
    # More folders with messages than three list pages hold (10 a page).
    opened = [
        (await admin.post(f"/shops/{MILANO}/folders", json={"message": f"Colis {n}"})).json()
        for n in range(31)
    ]
    shop = await connected(capped, vault, admin)
    lists = await folder_lists(admin)
    polled = await poll(capped, shop)
    assert polled.stored == 0
    assert await folder_lists(admin) - lists == 3  # the cap, not the listing's pages
    [status] = await get_json(capped, shop.tenant_id, "/api/v1/poller/shops")
    assert status["allowance"]["callsToday"] == 3 and status["allowance"]["callsLeft"] == 0
    kept = "SELECT messages_since FROM poller_shops WHERE poll_key = $1"
    assert await capped.runtime.pool.fetchval(kept, shop.key) is None  # where it was
    tickets = await get_json(capped, shop.tenant_id, "/api/v1/tickets/", limit=100)
    assert tickets["items"] == []

    # Nothing lost: a poller whose day allows the listing reads it from that cursor.
    await capped.stop()
    again = await start_service(
        DEFINITION, DATABASE_URL=capped.runtime.settings.database_url, **settings
    )
    assert (await poll(again, shop)).stored >= len(opened)
    for folder in opened[:: len(opened) - 1]:  # the first and the last
        assert (await ticket_of(again, shop, str(folder["orderId"])))["messages"]


async def test_the_days_allowance_is_not_exceeded_across_a_poller_restart(
    start_service: StartService,
    dovecot: MailServer,
    sandbox_url: str,
    vault: VaultClient,
    admin: httpx.AsyncClient,
) -> None:
    """The day's folder-list calls are counted in the poller's database, not its memory: a
    poller started again mid-day, with the same allowance, makes none beyond it."""
    settings = polled_by_hand(sandbox_url, dovecot) | {"BACKMARKET_CALLS_PER_DAY": "3"}
    first = await start_service(DEFINITION, **settings)
    for n in range(31):  # more folders than three list pages hold
        await admin.post(f"/shops/{MILANO}/folders", json={"message": f"Colis {n}"})
    shop = await connected(first, vault, admin)
    lists = await folder_lists(admin)
    await poll(first, shop)
    assert await folder_lists(admin) - lists == 3

    await first.stop()  # mid-day, the allowance spent
    again = await start_service(
        DEFINITION, DATABASE_URL=first.runtime.settings.database_url, **settings
    )
    for _ in range(2):
        await poll(again, shop)
    assert await folder_lists(admin) - lists == 3  # not one call more today
    [status] = await get_json(again, shop.tenant_id, "/api/v1/poller/shops")
    assert status["allowance"] == {"callsPerDay": 3, "callsToday": 3, "callsLeft": 0}


BERLIN = 2  # the double's shop whose home country is de-de


async def test_a_folder_in_german_is_a_german_ticket_about_its_claim_through_the_api(
    poller: RunningService, vault: VaultClient, admin: httpx.AsyncClient
) -> None:
    spec = next(s for s in (await admin.get("/shops")).json() if s["number"] == BERLIN)
    fields = {"token": spec["token"], "merchant_id": str(spec["merchantId"]), "country": "de-de"}
    shop = Shop(
        await poller.shop_connected(vault, MARKETPLACE, fields, fields["merchant_id"]), MARKETPLACE
    )
    await poll(poller, shop)
    text = "Hallo, das Display ist gebrochen und der Akku lädt nicht mehr. Was nun?"
    for _ in range(8):  # a tenth of the double's orders are from another country than home
        opened = (
            await admin.post(f"/shops/{BERLIN}/folders", json={"message": text, "claim": True})
        ).json()
        await poll(poller, shop)
        ticket = await ticket_of(poller, shop, str(opened["orderId"]))
        if {d["name"]: d["value"] for d in ticket["threadDetails"]}["country"] == "Allemagne":
            break
    else:
        raise AssertionError("no folder from Germany")
    # The folder's locale is the language; the claim's declared issue the topic.
    assert (ticket["language"], ticket["languageSource"]) == ("de", "marketplace")
    assert ticket["languageConfidence"] is None
    assert (ticket["topic"], ticket["topicSource"]) == ("DAMAGED_OR_WRONG_ITEM", "marketplace")
    page = await get_json(poller, shop.tenant_id, "/api/v1/tickets/", language="de")
    assert ticket["id"] in {t["id"] for t in page["items"]}
    assert all(t["language"] == "de" for t in page["items"])
