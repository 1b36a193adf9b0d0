"""Temporary refusals from Amazon's relay are retried with back-off, over real SMTP.

The sandbox's reply relay refuses the next transactions to one buyer on demand
(``PUT /_sandbox/replies/faults``, docs/SANDBOX.md "Reply relay"): greylisting (451 at
RCPT), a relay shutting down (421 after the message) or a permanent 5xx. It records when
it refused, so the back-off between attempts is seen from the relay's side.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
from keybuzz_devstack.testing import MailServer, RunningService
from keybuzz_poller.service import DEFINITION
from test_replies import (
    BuyerThread,
    Sandbox,
    buyer_thread,
    events,
    poller_settings,
    post_reply,
    reply_ends,
    rounds_past,
    sandbox,
    set_sender,
)

__all__ = ["sandbox"]  # the fixture, shared with test_replies.py

BASE_SECONDS = 0.3  # REPLY_RETRY_BASE_SECONDS in poller_settings
MAX_SECONDS = 1.0  # REPLY_RETRY_MAX_SECONDS
MAX_ATTEMPTS = 4
GREYLISTED = "451 4.7.1 Greylisted: please try again later"


@pytest.fixture(scope="module")
async def module_poller(
    start_module_service: Callable[..., Awaitable[RunningService]],
    dovecot: MailServer,
    sandbox_reply_smtp: tuple[str, int],
) -> RunningService:
    """test_replies.py's module poller, giving up after MAX_ATTEMPTS."""
    settings = poller_settings(dovecot, sandbox_reply_smtp, REPLY_MAX_ATTEMPTS=str(MAX_ATTEMPTS))
    return await start_module_service(DEFINITION, **settings)


@pytest.fixture
async def poller(module_poller: RunningService, sandbox: Sandbox) -> AsyncIterator[RunningService]:
    await sandbox.bounce_to(module_poller.runtime.settings.mx_port)
    yield module_poller
    async with sandbox.client() as http:  # the faults are the session sandbox's
        await http.delete("/_sandbox/replies/faults")


async def refuse_next(
    sandbox: Sandbox, thread: BuyerThread, n: int, stage: str, reply: str
) -> None:
    async with sandbox.client() as http:
        response = await http.put(
            "/_sandbox/replies/faults",
            json={"refuseNext": n, "stage": stage, "reply": reply, "to": thread.alias},
        )
    assert response.status_code == 200, response.text


async def relay_faults(sandbox: Sandbox) -> dict[str, Any]:
    async with sandbox.client() as http:
        state: dict[str, Any] = (await http.get("/_sandbox/replies/faults")).json()
    return state


async def reply_row(poller: RunningService, ticket_message_id: str) -> dict[str, Any]:
    row = await poller.runtime.pool.fetchrow(
        "SELECT status, attempts, reason, status_code, last_error FROM poller_replies"
        " WHERE ticket_message_id = $1",
        ticket_message_id,
    )
    return dict(row)


def at(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


async def answering_thread(poller: RunningService, sandbox: Sandbox) -> BuyerThread:
    thread = await buyer_thread(poller, sandbox)
    await set_sender(poller, thread.tenant_id, await sandbox.registered_email())
    return thread


async def inbox_after(sandbox: Sandbox, thread: BuyerThread, before: list[Any]) -> list[Any]:
    """What reached the buyer's inbox since ``before``: the session's sandbox is shared by
    every test file of this worker, and a seeded buyer may have had replies already."""
    return (await sandbox.inbox(thread.alias))[len(before) :]


@pytest.mark.parametrize(
    ("stage", "refusal"),
    [("rcpt", GREYLISTED), ("data", "421 4.3.2 Service shutting down, try again later")],
)
async def test_temporary_refusals_are_retried_with_back_off_and_the_reply_is_sent_once(
    poller: RunningService, sandbox: Sandbox, stage: str, refusal: str
) -> None:
    thread = await answering_thread(poller, sandbox)
    before = await sandbox.inbox(thread.alias)
    refusals = MAX_ATTEMPTS - 1  # one short of giving up
    await refuse_next(sandbox, thread, refusals, stage, refusal)
    retried_before = await poller.metric('keybuzz_replies_total{service="poller",status="RETRIED"')

    response = await post_reply(poller, thread.tenant_id, thread.ticket_id, {"text": "hello"})
    assert response.status_code == 202, response.text
    reply = await reply_ends(poller, thread, "SENT")
    assert reply["deliveryReason"] is None and reply["sentAt"] is not None

    queued = response.json()
    row = await reply_row(poller, queued["ticketMessageId"])
    assert (row["status"], row["attempts"], row["last_error"]) == ("SENT", refusals + 1, None)
    [delivered] = await inbox_after(sandbox, thread, before)
    assert delivered["messageId"] == queued["messageId"]
    # Back-off, as the relay saw it: attempt n waits at least half of base x 2^(n-1)
    # (jitter), capped; the delivery came after the last refusal's wait.
    seen = [at(r["at"]) for r in (await relay_faults(sandbox))["refusals"]]
    assert len(seen) == refusals
    times = [*seen, at(delivered["receivedAt"])]
    for attempt, (earlier, later) in enumerate(zip(times, times[1:], strict=False), start=1):
        least = 0.5 * min(MAX_SECONDS, BASE_SECONDS * 2 ** (attempt - 1))
        assert later - earlier >= least - 0.01, (attempt, later - earlier)
    retried = await poller.metric('keybuzz_replies_total{service="poller",status="RETRIED"')
    assert retried - retried_before == refusals
    each_once = sorted([queued["messageId"], *await rounds_past(poller, thread)])
    assert sorted(m["messageId"] for m in await inbox_after(sandbox, thread, before)) == each_once
    sent = await events(poller, "message.sent", thread.tenant_id)
    assert sorted(e["messageId"] for e in sent) == each_once
    assert await events(poller, "message.bounced", thread.tenant_id) == []


async def test_reply_max_attempts_temporary_refusals_make_the_reply_failed_with_the_reason(
    poller: RunningService, sandbox: Sandbox
) -> None:
    thread = await answering_thread(poller, sandbox)
    before = await sandbox.inbox(thread.alias)
    await refuse_next(sandbox, thread, 10, "rcpt", GREYLISTED)

    response = await post_reply(poller, thread.tenant_id, thread.ticket_id, {"text": "hello"})
    assert response.status_code == 202, response.text
    reply = await reply_ends(poller, thread, "FAILED")
    reason = f"gave up after {MAX_ATTEMPTS} attempts; last: {GREYLISTED}"
    assert (reply["deliveryReason"], reply["deliveryStatusCode"]) == (reason, "451")
    assert reply["sentAt"] is None
    ticket_message_id = response.json()["ticketMessageId"]
    assert (await reply_row(poller, ticket_message_id))["attempts"] == MAX_ATTEMPTS
    [bounced] = await events(poller, "message.bounced", thread.tenant_id)
    assert (bounced["status"], bounced["statusCode"], bounced["reason"]) == (
        "FAILED",
        "451",
        reason,
    )

    await asyncio.sleep(1.5)  # longer than the longest back-off: no attempt after FAILED
    state = await relay_faults(sandbox)
    assert (len(state["refusals"]), state["refuseNext"]) == (MAX_ATTEMPTS, 10 - MAX_ATTEMPTS)
    assert await inbox_after(sandbox, thread, before) == []
    assert await events(poller, "message.sent", thread.tenant_id) == []


async def test_a_permanent_refusal_after_the_message_fails_the_reply_at_once(
    poller: RunningService, sandbox: Sandbox
) -> None:
    thread = await answering_thread(poller, sandbox)
    before = await sandbox.inbox(thread.alias)
    await refuse_next(sandbox, thread, 1, "data", "554 5.7.1 Message refused by policy")

    response = await post_reply(poller, thread.tenant_id, thread.ticket_id, {"text": "hello"})
    assert response.status_code == 202, response.text
    reply = await reply_ends(poller, thread, "FAILED")
    assert reply["deliveryReason"] == "554 5.7.1 Message refused by policy"
    assert reply["deliveryStatusCode"] == "554"
    queued = response.json()
    assert (await reply_row(poller, queued["ticketMessageId"]))["attempts"] == 1
    later = await rounds_past(poller, thread)
    # The fault is spent: a retry would have reached the buyer; none came, none was tried.
    assert [m["messageId"] for m in await inbox_after(sandbox, thread, before)] == later
    assert (await reply_row(poller, queued["ticketMessageId"]))["attempts"] == 1
