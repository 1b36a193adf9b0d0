"""Response deadlines end to end: buyer mail through the MX, replies through the sandbox's
relay, the deadline read back from GET /api/v1/tickets on a real poller."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
import test_replies
from keybuzz_devstack.testing import RunningService
from keybuzz_poller.bootstrap import ports_of
from mailkit import (
    get_json,
    headers,
    new_tenant,
    new_tenant_with_a_ticket,
    poll_now,
    relay_mail,
    send,
    synced,
)
from test_replies import BuyerThread, Sandbox, buyer_thread, post_reply, reply_ends, set_sender

DAY = timedelta(hours=24)
# The replies' fixtures: a poller whose replies go through the sandbox's relay, one for
# the module (each test's tenants are its own).
sandbox = test_replies.sandbox
module_poller = test_replies.module_poller


@pytest.fixture
async def poller(module_poller: RunningService, sandbox: Sandbox) -> AsyncIterator[RunningService]:
    await sandbox.bounce_to(module_poller.runtime.settings.mx_port)
    ports = ports_of(module_poller.runtime)
    yield module_poller
    module_poller.runtime.provide(ports)  # a clock the test fixed is the real one again


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def ticket(poller: RunningService, tenant_id: str, ticket_id: str) -> dict[str, Any]:
    found: dict[str, Any] = await get_json(poller, tenant_id, f"/api/v1/tickets/{ticket_id}")
    return found


def another_buyer(address: str, n: int, subject: str) -> EmailMessage:
    """A relay mail from buyer ``n``: a ticket of its own."""
    mail = relay_mail(address, subject=subject)
    del mail["From"]
    mail["From"] = f"Buyer {n} - Amazon Marketplace <buyer{n}x7q2@marketplace.amazon.fr>"
    return mail


def fix_clock(poller: RunningService, now: datetime) -> None:
    poller.runtime.provide(dataclasses.replace(ports_of(poller.runtime), clock=lambda: now))


async def test_a_sent_reply_stops_the_clock_24_hours_from_the_buyer_message(
    poller: RunningService, sandbox: Sandbox
) -> None:
    thread = await buyer_thread(poller, sandbox)
    waiting = await ticket(poller, thread.tenant_id, thread.ticket_id)
    [buyer] = waiting["messages"]
    assert waiting["responseState"] == "AWAITING_REPLY"
    assert at(waiting["respondBy"]) == at(buyer["acceptedAt"] or buyer["receivedAt"]) + DAY

    await set_sender(poller, thread.tenant_id, await sandbox.registered_email())
    response = await post_reply(poller, thread.tenant_id, thread.ticket_id, {"text": "Bonjour"})
    assert response.status_code == 202, response.text
    await reply_ends(poller, thread, "SENT")
    answered = await ticket(poller, thread.tenant_id, thread.ticket_id)
    assert (answered["responseState"], answered["respondBy"]) == ("ANSWERED", None)


async def test_an_automatic_reply_sent_does_not_stop_the_clock(
    poller: RunningService, sandbox: Sandbox
) -> None:
    thread = await buyer_thread(poller, sandbox)
    before = await ticket(poller, thread.tenant_id, thread.ticket_id)
    await set_sender(poller, thread.tenant_id, await sandbox.registered_email())
    body = {"text": "We got your message.", "automatic": True}
    response = await post_reply(poller, thread.tenant_id, thread.ticket_id, body)
    assert response.status_code == 202, response.text
    await reply_ends(poller, thread, "SENT")
    after = await ticket(poller, thread.tenant_id, thread.ticket_id)
    assert after["responseState"] == "AWAITING_REPLY"
    assert after["respondBy"] == before["respondBy"]


async def test_a_failed_reply_does_not_stop_the_clock(
    poller: RunningService, sandbox: Sandbox
) -> None:
    # A buyer alias the sandbox never wrote from: its relay refuses the reply (550).
    tenant_id, address, ticket_id = await new_tenant_with_a_ticket(poller)
    before = await ticket(poller, tenant_id, ticket_id)
    await set_sender(poller, tenant_id, await sandbox.registered_email())
    response = await post_reply(poller, tenant_id, ticket_id, {"text": "hello"})
    assert response.status_code == 202, response.text
    thread = BuyerThread(tenant_id, address, ticket_id, "", "", "")
    await reply_ends(poller, thread, "FAILED")
    after = await ticket(poller, tenant_id, ticket_id)
    assert (after["responseState"], after["respondBy"]) == ("AWAITING_REPLY", before["respondBy"])


async def test_an_auto_submitted_mail_nobody_signed_waits_for_an_answer(
    poller: RunningService,
) -> None:
    """Auto-Submitted is anyone's to write: a mail Amazon did not sign is never hidden as
    needing no answer (kit/signed_mail.py), from the buyer's alias or from anyone."""
    tenant_id, address = new_tenant()
    await synced(poller, tenant_id, address)
    mail = relay_mail(address, text="I am out of office until Monday.")
    mail["Auto-Submitted"] = "auto-replied"
    await send(poller, mail, address)
    forged = EmailMessage()  # names no order: a thread of its own
    forged["From"] = "Amazon <no-reply@amazon.fr>"
    forged["To"] = address
    forged["Subject"] = "Rapport disponible"
    forged["Auto-Submitted"] = "auto-generated"
    forged.set_content("Votre compte sera suspendu : payez ici.")
    await send(poller, forged, address)
    await poll_now(poller, tenant_id)
    items = (await get_json(poller, tenant_id, "/api/v1/tickets"))["items"]
    assert len(items) == 2
    assert {item["responseState"] for item in items} == {"AWAITING_REPLY"}
    assert all(item["respondBy"] is not None for item in items)


async def test_no_response_needed_records_who_and_when_and_links_to_seller_central(
    poller: RunningService, sandbox: Sandbox
) -> None:
    thread = await buyer_thread(poller, sandbox)
    other, _ = new_tenant()
    path = f"/api/v1/tickets/{thread.ticket_id}/no-response-needed"
    async with httpx.AsyncClient(base_url=poller.url, timeout=30) as http:
        stranger = await http.post(path, headers=headers(poller, other))
        assert stranger.status_code == 404, stranger.text
        assert (await ticket(poller, thread.tenant_id, thread.ticket_id))[
            "noResponseNeededAt"
        ] is None
        response = await http.post(path, headers=headers(poller, thread.tenant_id))
    assert response.status_code == 200, response.text
    marked = response.json()
    assert (marked["responseState"], marked["respondBy"]) == ("NO_RESPONSE_NEEDED", None)
    assert marked["noResponseNeededBy"] == "agent-1"  # the JWT's subject
    assert abs(at(marked["noResponseNeededAt"]) - datetime.now(UTC)) < timedelta(minutes=1)
    mark = marked["marketplaceMark"]
    assert mark["synced"] is False and "no API" in mark["note"]
    assert mark["url"] == f"https://sellercentral.amazon.fr/orders-v3/order/{thread.order_id}"

    # A buyer message after the mark opens a new deadline.
    follow_up = relay_mail(thread.address, subject=f"Still waiting (Order: {thread.order_id})")
    del follow_up["From"]
    follow_up["From"] = f"Jean - Amazon Marketplace <{thread.alias}>"
    await send(poller, follow_up, thread.address)
    await poll_now(poller, thread.tenant_id)
    reopened = await ticket(poller, thread.tenant_id, thread.ticket_id)
    assert reopened["responseState"] == "AWAITING_REPLY"


async def test_the_queue_soonest_deadline_first_filtered_and_paged(
    poller: RunningService,
) -> None:
    tenant_id, address = new_tenant()
    await synced(poller, tenant_id, address)
    for n in range(5):
        await send(poller, another_buyer(address, n, f"question {n}"), address)
        await poll_now(poller, tenant_id)  # one poll each: deadlines apart
    await send(poller, another_buyer(address, 9, "notification"), address)
    await poll_now(poller, tenant_id)
    listed = (await get_json(poller, tenant_id, "/api/v1/tickets", limit=10))["items"]
    [notification] = [t["id"] for t in listed if t["subject"] == "notification"]
    async with poller.client() as http:  # an agent's mark: no deadline any more
        marked = await http.post(
            f"/api/v1/tickets/{notification}/no-response-needed",
            headers=headers(poller, tenant_id),
        )
    assert marked.status_code == 200, marked.text

    pages: list[dict[str, Any]] = []
    params: dict[str, Any] = {"sort": "respondBy", "limit": 2}
    while True:
        page = await get_json(poller, tenant_id, "/api/v1/tickets", **params)
        pages.extend(page["items"])
        if page["nextCursor"] is None:
            break
        params["cursor"] = page["nextCursor"]
    deadlines = [t["respondBy"] for t in pages]
    assert len(pages) == 5 and len({t["id"] for t in pages}) == 5
    assert deadlines == sorted(deadlines)
    assert [t["subject"] for t in pages] == [f"question {n}" for n in range(5)]

    # Past the third deadline: the first three are OVERDUE, the others still waiting.
    fix_clock(poller, at(deadlines[2]))
    overdue = await get_json(poller, tenant_id, "/api/v1/tickets", responseState="OVERDUE")
    waiting = await get_json(poller, tenant_id, "/api/v1/tickets", responseState="AWAITING_REPLY")
    assert sorted(t["respondBy"] for t in overdue["items"]) == deadlines[:3]
    assert {t["responseState"] for t in overdue["items"]} == {"OVERDUE"}
    assert sorted(t["respondBy"] for t in waiting["items"]) == deadlines[3:]
    none_needed = await get_json(
        poller, tenant_id, "/api/v1/tickets", responseState="NO_RESPONSE_NEEDED"
    )
    assert [t["subject"] for t in none_needed["items"]] == ["notification"]

    async with poller.client() as http:
        bad = await http.get(
            "/api/v1/tickets",
            params={"responseState": "LATE"},
            headers=headers(poller, tenant_id),
        )
        mixed = await http.get(
            "/api/v1/tickets",
            params={"cursor": params["cursor"]},  # a deadline cursor on the default order
            headers=headers(poller, tenant_id),
        )
    assert bad.status_code == 400 and "responseState" in bad.text
    assert mixed.status_code == 400


async def test_the_response_time_report_per_tenant_on_a_fixed_clock(
    poller: RunningService, sandbox: Sandbox
) -> None:
    answered = await buyer_thread(poller, sandbox)
    tenant_id = answered.tenant_id
    await set_sender(poller, tenant_id, await sandbox.registered_email())
    response = await post_reply(poller, tenant_id, answered.ticket_id, {"text": "Bonjour"})
    assert response.status_code == 202, response.text
    await reply_ends(poller, answered, "SENT")
    await send(poller, another_buyer(answered.address, 1, "unanswered"), answered.address)
    await poll_now(poller, tenant_id)
    unanswered = next(
        t
        for t in (await get_json(poller, tenant_id, "/api/v1/tickets"))["items"]
        if t["subject"] == "unanswered"
    )

    fix_clock(poller, at(unanswered["respondBy"]))  # the unanswered one is due now
    result = await get_json(poller, tenant_id, "/api/v1/response-times", days=7)
    assert (result["marketplace"], result["days"]) == ("AMAZON", 7)
    assert (result["received"], result["answeredInTime"], result["late"]) == (2, 1, 1)
    assert result["lateRate"] == 0.5
    # The one answered message's time to its reply, rounded to a tenth: a quiet machine
    # replies within 50 ms of the mail's acceptance, which rounds to 0.0.
    assert 0 <= result["averageResponseSeconds"] < 600
    [late] = result["lateMessages"]
    assert (late["ticketId"], late["answeredAt"]) == (unanswered["id"], None)
    assert late["respondBy"] == unanswered["respondBy"]

    other, _ = new_tenant()
    nothing = await get_json(poller, other, "/api/v1/response-times", days=7)
    assert (nothing["received"], nothing["lateMessages"]) == (0, [])

    fix_clock(poller, at(unanswered["respondBy"]) + timedelta(days=8))  # both out of the window
    later = await get_json(poller, tenant_id, "/api/v1/response-times", days=7)
    assert later["received"] == 0
    async with poller.client() as http:
        for params in ({"days": "14"}, {"marketplace": "NOT_SERVED"}, {"days": "x"}):
            bad = await http.get(
                "/api/v1/response-times", params=params, headers=headers(poller, tenant_id)
            )
            assert bad.status_code == 400, (params, bad.text)
