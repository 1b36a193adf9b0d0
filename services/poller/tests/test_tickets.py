"""Mail → tickets: per tenant, threaded, stored once, one message.received per stored message."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from keybuzz_devstack.testing import RunningService
from keybuzz_poller.bootstrap import ports_of
from keybuzz_poller.polling.ports import PollWrites
from keybuzz_poller.reading.new_mail import read_batch
from keybuzz_poller.reading.relay_mail import RelayMail
from keybuzz_poller.tickets.from_mails import StoreCounts, store_mails
from keybuzz_shared.uow import StoreUnit
from mailkit import (
    ORDER,
    get_json,
    headers,
    module_poller,
    new_tenant,
    poll_now,
    received_events,
    relay_mail,
    send,
    synced,
)

# Each test works with tenants of its own: one poller for the module's tests.
poller = module_poller

OTHER_ORDER = "402-1111111-2222222"


async def test_mail_of_two_tenants_becomes_tickets_of_the_right_tenant(
    poller: RunningService,
) -> None:
    (first, first_address), (second, second_address) = new_tenant(), new_tenant()
    await synced(poller, first, first_address)
    await synced(poller, second, second_address)
    await send(poller, relay_mail(first_address, "first's buyer"), first_address)
    await send(poller, relay_mail(second_address, "second's buyer"), second_address)

    assert (await poll_now(poller, first))["stored"] == 1
    assert (await poll_now(poller, second))["stored"] == 1

    first_tickets = (await get_json(poller, first, "/api/v1/tickets"))["items"]
    second_tickets = (await get_json(poller, second, "/api/v1/tickets"))["items"]
    assert [t["orderId"] for t in first_tickets] == [ORDER]
    first_ticket = await get_json(poller, first, f"/api/v1/tickets/{first_tickets[0]['id']}")
    assert [m["body"] for m in first_ticket["messages"]] == ["first's buyer"]
    assert first_ticket["buyerEmail"] == "b7q2x9w4k1@marketplace.amazon.fr"
    # Another tenant's ticket does not exist for this one.
    async with poller.client() as http:
        response = await http.get(
            f"/api/v1/tickets/{second_tickets[0]['id']}", headers=headers(poller, first)
        )
    assert response.status_code == 404 and response.json()["error"]


async def test_follow_up_threads_onto_the_ticket_and_reopens_it(poller: RunningService) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    await send(poller, relay_mail(address, "where is it?"), address)
    await poll_now(poller, tenant)
    [ticket] = (await get_json(poller, tenant, "/api/v1/tickets"))["items"]
    await poller.runtime.pool.execute(
        "UPDATE poller_tickets SET status = 'CLOSED' WHERE id = $1", ticket["id"]
    )

    await send(poller, relay_mail(address, "still waiting"), address)
    other = relay_mail(address, "another order", subject=f"Question (Order: {OTHER_ORDER})")
    await send(poller, other, address)
    assert (await poll_now(poller, tenant))["stored"] == 2

    tickets = (await get_json(poller, tenant, "/api/v1/tickets"))["items"]
    assert sorted((t["orderId"], t["messageCount"], t["status"]) for t in tickets) == [
        (ORDER, 2, "OPEN"),
        (OTHER_ORDER, 1, "OPEN"),
    ]
    detail = await get_json(poller, tenant, f"/api/v1/tickets/{ticket['id']}")
    assert [m["body"] for m in detail["messages"]] == ["where is it?", "still waiting"]
    closed = await get_json(poller, tenant, "/api/v1/tickets", status="CLOSED")
    assert closed["items"] == []


async def test_repoll_and_redelivery_store_nothing_twice(poller: RunningService) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    for text in ("one", "two", "three"):
        await send(poller, relay_mail(address, text), address)
    assert (await poll_now(poller, tenant))["stored"] == 3
    assert (await poll_now(poller, tenant))["fetched"] == 0

    # The cursor is lost (a crash after commit, a rebuilt mail store): all read again.
    await poller.runtime.pool.execute(
        "DELETE FROM poller_mail_cursors WHERE tenant_id = $1", tenant
    )
    again = await poll_now(poller, tenant)
    assert (again["fetched"], again["stored"], again["duplicates"]) == (3, 0, 3)

    counts = await poller.runtime.pool.fetchrow(
        """
        SELECT (SELECT count(*) FROM poller_external_messages WHERE tenant_id = $1) AS mails,
               (SELECT count(*) FROM poller_ticket_messages WHERE tenant_id = $1) AS messages
        """,
        tenant,
    )
    assert (counts["mails"], counts["messages"]) == (3, 3)
    events = await received_events(poller, tenant)
    stored = await poller.runtime.pool.fetch(
        "SELECT id, ticket_id FROM poller_ticket_messages WHERE tenant_id = $1", tenant
    )
    assert sorted(e["ticketMessageId"] for e in events) == sorted(r["id"] for r in stored)
    assert {e["orderId"] for e in events} == {ORDER}
    assert {e["inboundAddress"] for e in events} == {address}
    assert all(e["ticketId"] == stored[0]["ticket_id"] and e["receivedAt"] for e in events)
    bodies = {
        r["id"]: r["body"]
        for r in await poller.runtime.pool.fetch(
            "SELECT m.id, e.body FROM poller_ticket_messages m"
            " JOIN poller_external_messages e ON e.id = m.external_message_id"
            " WHERE m.tenant_id = $1",
            tenant,
        )
    }
    for event in events:  # a preview of the buyer's words, never the whole body
        assert 0 < len(event["preview"]) <= 200
        assert event["preview"].split()[:3] == bodies[event["ticketMessageId"]].split()[:3]
    detail = await get_json(poller, tenant, f"/api/v1/tickets/{stored[0]['ticket_id']}")
    assert sorted(m["externalMessageId"] for m in detail["messages"]) == sorted(
        e["externalMessageId"] for e in events
    )


async def test_mail_without_message_id_delivered_twice_is_one_ticket_message(
    poller: RunningService,
) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    same, different = relay_mail(address, "no id, sent twice"), relay_mail(address, "no id, other")
    del same["Message-ID"], different["Message-ID"]
    # Dovecot prepends its own Return-Path/Delivered-To/Received, different each time.
    await send(poller, same.as_bytes(), address)
    await send(poller, same.as_bytes(), address)
    await send(poller, different.as_bytes(), address)

    counts = await poll_now(poller, tenant)
    assert (counts["fetched"], counts["stored"], counts["duplicates"]) == (3, 2, 1)
    bodies = await poller.runtime.pool.fetch(
        "SELECT e.body FROM poller_ticket_messages m"
        " JOIN poller_external_messages e ON e.id = m.external_message_id"
        " WHERE m.tenant_id = $1 ORDER BY e.body",
        tenant,
    )
    assert [r["body"] for r in bodies] == ["no id, other", "no id, sent twice"]
    # The id is the MX's digest of the mail as it received it (CRLF line endings).
    ids = await poller.runtime.pool.fetch(
        "SELECT external_id FROM poller_external_messages WHERE tenant_id = $1", tenant
    )
    as_received = [m.as_bytes().replace(b"\n", b"\r\n") for m in (same, different)]
    assert {r["external_id"] for r in ids} == {
        "sha256:" + hashlib.sha256(raw).hexdigest() for raw in as_received
    }


async def test_crash_between_fetch_and_commit_fetches_again_without_duplicates(
    poller: RunningService,
) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    await send(poller, relay_mail(address, "only once"), address)

    async def store_then_crash(unit: StoreUnit[PollWrites], mails: list[RelayMail]) -> None:
        await store_mails(unit.store.tickets, unit, tenant, mails, StoreCounts(), datetime.now(UTC))
        raise RuntimeError("the process died before commit")

    with pytest.raises(RuntimeError):
        await read_batch(ports_of(poller.runtime).polls.reading, tenant, store_then_crash)
    assert (await poll_now(poller, tenant))["stored"] == 1
    assert len(await received_events(poller, tenant)) == 1


async def test_malformed_and_non_utf8_mail_is_stored_with_the_flag(
    poller: RunningService,
) -> None:
    tenant, address = new_tenant()
    await synced(poller, tenant, address)
    latin = relay_mail(address)
    latin.set_content(
        f"------------- Début du message -------------\nOù est le colis ?\n"
        f"------------- Fin du message -------------\nCommande : {ORDER}\n",
        charset="iso-8859-1",
        cte="8bit",
    )
    await send(poller, latin, address)
    await send(poller, b"\xff\xfe\x00 not a mail at all \x80\x81\r\n", address)
    await send(poller, relay_mail(address, "after the garbage"), address)

    assert (await poll_now(poller, tenant))["unparsed"] == 1
    rows = await poller.runtime.pool.fetch(
        """
        SELECT e.body, e.parse_error, e.raw FROM poller_external_messages e
        JOIN poller_ticket_messages m ON m.external_message_id = e.id
        WHERE e.tenant_id = $1 ORDER BY m.seq
        """,
        tenant,
    )
    assert [r["parse_error"] is not None for r in rows] == [False, True, False]
    assert rows[0]["body"] == "Où est le colis ?"
    assert b"\xff\xfe\x80 not a mail at all \x80\x81" in rows[1]["raw"]
    assert "not a mail at all" in rows[1]["body"]
    tickets = (await get_json(poller, tenant, "/api/v1/tickets"))["items"]
    assert sum(t["messageCount"] for t in tickets) == 3
    flagged = [t for t in tickets if t["orderId"] is None]
    detail = await get_json(poller, tenant, f"/api/v1/tickets/{flagged[0]['id']}")
    assert detail["messages"][0]["parseError"] is True
