"""The topics backfill on the real servers (``keybuzz.poller.backfill-topics``,
``tickets/backfill.py``): tickets stored before the topic columns existed (language and
topic NULL) get them from their buyers' messages; tickets with a topic are never touched; a
run stopped anywhere is taken up by the next; a second run changes nothing; a bad request
body is a 400 that says what is wrong."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest
from keybuzz_devstack.testing import RunningService, eventually
from keybuzz_poller.tickets import backfill_store, store
from keybuzz_poller.tickets.backfill import TopicBackfillRequest, backfill_topics
from mailkit import ORDER, new_tenant, poll_now, relay_mail, send, synced

SUBJECT = "keybuzz.poller.backfill-topics"
# Three buyers' first mails, each its own order (its own ticket), on Amazon's Belgian site:
# two languages there, so the language is read from the words.
MAILS = {
    "171-0000001-0000001": "Hello, where is my parcel? It has not arrived and it is two weeks late.",
    "171-0000002-0000002": "Could you please send me the invoice for this order? I need it for my accounts.",
    "171-0000003-0000003": "I want to cancel my order please, I ordered the wrong model.",
}
EXPECTED = {
    "171-0000001-0000001": ("en", "detected", "WHERE_IS_MY_ORDER", "detected"),
    "171-0000002-0000002": ("en", "detected", "INVOICE_REQUEST", "detected"),
}
OLD = tuple(EXPECTED)  # stored "before the columns existed"
NEW = "171-0000003-0000003"  # a ticket whose topic a later message made ORDER_CHANGE


async def tickets_with_old_ones(poller: RunningService) -> str:
    """A tenant with the three tickets: the two OLD as a row stored before migration 019
    is (no language, no topic), the NEW one with a topic its words would not give."""
    tenant, address = new_tenant()
    address = address.replace(f".{tenant}.fr.", f".{tenant}.be.")
    await synced(poller, tenant, address)
    for order, text in MAILS.items():
        mail = relay_mail(
            address, text, subject=f"Inquiry from Amazon customer Jean (Order: {order})"
        )
        await send(poller, mail.as_bytes().replace(ORDER.encode(), order.encode()), address)
    assert (await poll_now(poller, tenant))["stored"] == 3
    pool = poller.runtime.pool
    await pool.execute(
        "UPDATE poller_tickets SET language = NULL, language_source = NULL,"
        " language_confidence = NULL, topic = NULL, topic_source = NULL"
        " WHERE tenant_id = $1 AND order_id = ANY($2::text[])",
        tenant,
        list(OLD),
    )
    await pool.execute(
        "UPDATE poller_tickets SET topic = 'ORDER_CHANGE' WHERE tenant_id = $1 AND order_id = $2",
        tenant,
        NEW,
    )
    return tenant


async def topics_of(poller: RunningService, tenant: str) -> dict[str, tuple[Any, ...]]:
    rows = await poller.runtime.pool.fetch(
        "SELECT order_id, language, language_source, topic, topic_source FROM poller_tickets"
        " WHERE tenant_id = $1",
        tenant,
    )
    return {r["order_id"]: tuple(r)[1:] for r in rows}


async def backfill(poller: RunningService, body: bytes = b"{}") -> dict[str, Any]:
    reply = await (await poller.operator()).request(SUBJECT, body, timeout=60)
    assert not (reply.headers or {}).get("Nats-Service-Error-Code"), reply.headers
    return msgspec.json.decode(reply.data)  # type: ignore[no-any-return]


async def test_old_tickets_are_filled_new_ones_left_and_a_second_run_is_a_no_op(
    poller: RunningService,
) -> None:
    tenant = await tickets_with_old_ones(poller)
    new_before = (await topics_of(poller, tenant))[NEW]

    done = await backfill(poller, b'{"batchSize": 1, "pauseSeconds": 0}')
    assert done == {
        "read": 2,
        "filled": 2,
        "withoutBuyerWords": 0,
        "topicMeanwhile": 0,
        "remaining": 0,
    }
    found = await topics_of(poller, tenant)
    assert {o: found[o] for o in OLD} == EXPECTED
    assert found[NEW] == new_before and found[NEW][2] == "ORDER_CHANGE"

    again = await backfill(poller)
    assert again == {
        "read": 0,
        "filled": 0,
        "withoutBuyerWords": 0,
        "topicMeanwhile": 0,
        "remaining": 0,
    }
    assert await topics_of(poller, tenant) == found


async def test_a_run_stopped_midway_is_taken_up_by_the_next(poller: RunningService) -> None:
    tenant = await tickets_with_old_ones(poller)
    # Stopped by its limit: one ticket of two.
    first = await backfill(poller, b'{"limit": 1}')
    assert (first["read"], first["filled"], first["remaining"]) == (1, 1, 1)
    # Stopped by a kill: an operator's run of one ticket a batch, long pauses, cancelled
    # once its first batch is in (none is left: the limit's run took it, so put one back).
    await poller.runtime.pool.execute(
        "UPDATE poller_tickets SET topic = NULL, language = NULL WHERE tenant_id = $1"
        " AND order_id = $2",
        tenant,
        OLD[0],
    )
    request = TopicBackfillRequest(batch_size=1, pause_seconds=30)
    run = asyncio.create_task(backfill_topics(poller.runtime.pool, request))

    async def one_filled() -> bool:
        found = await topics_of(poller, tenant)
        return sum(found[o][2] is not None for o in OLD) == 1

    await eventually(one_filled)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    rest = await backfill(poller)
    assert (rest["read"], rest["filled"], rest["remaining"]) == (1, 1, 0)
    found = await topics_of(poller, tenant)
    assert {o: found[o] for o in OLD} == EXPECTED


async def test_a_ticket_given_a_topic_while_the_run_read_it_keeps_that_topic(
    poller: RunningService,
) -> None:
    await tickets_with_old_ones(poller)
    pool = poller.runtime.pool
    ids = await backfill_store.tickets_without_topics(pool, "", 10)
    read = await backfill_store.buyer_words(pool, ids)
    assert {w.ticket_id for w in read} == set(ids) and len(ids) == 2
    # A later buyer message gives the first one its topic before the fill is written.
    await pool.execute("UPDATE poller_tickets SET topic = 'CANCELLATION' WHERE id = $1", ids[0])
    filled = [
        backfill_store.FilledTopics(
            id=i,
            language="en",
            language_source="detected",
            language_confidence=0.9,
            topic="OTHER",
            topic_source="detected",
        )
        for i in ids
    ]
    assert await store.fill_topics(pool, filled) == 1
    topics = {
        r["id"]: r["topic"]
        for r in await pool.fetch(
            "SELECT id, topic FROM poller_tickets WHERE id = ANY($1::text[])", ids
        )
    }
    assert topics == {ids[0]: "CANCELLATION", ids[1]: "OTHER"}


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b'{"batchSize": 0}', "batchSize"),
        (b'{"batchSize": "many"}', "batchSize"),
        (b'{"pauseSeconds": -1}', "pauseSeconds"),
        (b'{"limit": 0}', "limit"),
        (b'{"tenant": "x"}', "tenant"),
        (b"not json", "invalid request"),
        (b"[]", "invalid request"),
    ],
)
async def test_a_bad_request_body_is_a_400_that_names_what_is_wrong(
    poller: RunningService, body: bytes, named: str
) -> None:
    reply = await (await poller.operator()).request(SUBJECT, body, timeout=30)
    assert reply.headers and reply.headers.get("Nats-Service-Error-Code") == "400"
    assert named in reply.headers.get("Nats-Service-Error", ""), reply.headers


async def test_a_ticket_without_buyer_words_is_left_null_and_read_once_a_run(
    poller: RunningService,
) -> None:
    tenant = await tickets_with_old_ones(poller)
    pool = poller.runtime.pool
    # The first old ticket's one message turns out to be the marketplace's notice.
    await pool.execute(
        "UPDATE poller_external_messages e SET sender_type = 'SYSTEM' FROM poller_ticket_messages m,"
        " poller_tickets t WHERE m.external_message_id = e.id AND t.id = m.ticket_id"
        " AND t.tenant_id = $1 AND t.order_id = $2",
        tenant,
        OLD[0],
    )
    done = await backfill(poller, b'{"batchSize": 1, "pauseSeconds": 0}')
    assert (done["read"], done["filled"], done["withoutBuyerWords"], done["remaining"]) == (
        2,
        1,
        1,
        1,
    )
    found = await topics_of(poller, tenant)
    assert found[OLD[0]] == (None, None, None, None) and found[OLD[1]] == EXPECTED[OLD[1]]
    again = await backfill(poller)
    assert (again["read"], again["filled"], again["remaining"]) == (1, 0, 1)
