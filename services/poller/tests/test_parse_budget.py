"""One hostile mail does not delay everyone: a parse has a budget (parts, depth, time)."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Awaitable, Callable

from keybuzz_devstack.testing import MailServer, RunningService, eventually, until_the_limit
from keybuzz_poller.reading import parse_workers
from keybuzz_poller.reading.parse_workers import INLINE_PARSE_BYTES, parse_mails
from keybuzz_poller.reading.relay_mail import ParseBudget, parse
from keybuzz_poller.service import DEFINITION
from mail_golden import mail_files
from mailkit import ORDER, new_tenant, poll_now, relay_mail, send, synced

HOSTILE_PARTS = 60_000  # 2.2 MB; parsed in ~2 s here without a budget


def hostile_mail(to: str, parts: int = HOSTILE_PARTS) -> bytes:
    head = (
        "From: Jean - Amazon Marketplace <b7q2x9w4k1@marketplace.amazon.fr>\r\n"
        f"To: {to}\r\nSubject: Order {ORDER}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="x"\r\n\r\n'
    )
    part = "--x\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    return (head + part * parts + "--x--\r\n").encode()


def nested_mail(depth: int) -> bytes:
    head = "From: a@b.example\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
    opening = "".join(
        f'Content-Type: multipart/mixed; boundary="b{n}"\r\n\r\n--b{n}\r\n' for n in range(depth)
    )
    closing = "".join(f"\r\n--b{n}--\r\n" for n in reversed(range(depth)))
    return (head + opening + "Content-Type: text/plain\r\n\r\nhello" + closing).encode()


async def test_a_mail_of_60000_parts_is_stored_flagged_and_another_tenant_goes_on(
    start_service: Callable[..., Awaitable[RunningService]], dovecot: MailServer
) -> None:
    # Default budget (1,000 parts, depth 20, 5 s); the MX takes the 2.3 MB mail.
    poller = await start_service(
        DEFINITION, POLL_ENABLED="false", MX_MAX_MESSAGE_BYTES=str(8 << 20), **dovecot.settings
    )
    (hostile, hostile_address), (other, other_address) = new_tenant(), new_tenant()
    await synced(poller, hostile, hostile_address)
    await synced(poller, other, other_address)
    await send(poller, hostile_mail(hostile_address), hostile_address)
    await send(poller, relay_mail(other_address, "my parcel?"), other_address)

    hostile_poll = asyncio.create_task(poll_now(poller, hostile))
    await asyncio.sleep(0.2)  # the hostile mail's poll goes first
    # The other tenant's mail is a ticket within the budget, not after the ~47 s parse.
    other_poll = await asyncio.wait_for(
        poll_now(poller, other), poller.runtime.settings.parse_max_seconds
    )
    assert other_poll["stored"] == 1
    assert await poller.runtime.pool.fetchval(
        "SELECT e.body FROM poller_ticket_messages m"
        " JOIN poller_external_messages e ON e.id = m.external_message_id WHERE m.tenant_id = $1",
        other,
    ) == ("my parcel?")
    assert (await asyncio.wait_for(hostile_poll, 60))["stored"] == 1
    flagged = await poller.runtime.pool.fetchrow(
        "SELECT parse_error, length(raw) AS size FROM poller_external_messages"
        " WHERE tenant_id = $1",
        hostile,
    )
    assert flagged["parse_error"] == "OverBudget: more than 1000 MIME parts"
    assert flagged["size"] > len(hostile_mail(hostile_address))  # kept whole, with our headers


async def test_a_parse_past_its_time_is_stopped_in_the_worker_and_the_batch_goes_on() -> None:
    # No parts limit to stop it early: only the worker's timer can. Three seconds: this
    # hostile mail needs ~11 here, a normal one milliseconds (a loaded machine took one
    # past a second in a worker just started).
    budget = ParseBudget(max_parts=10 * HOSTILE_PARTS, max_seconds=3.0)
    normal = relay_mail("amazon.t.fr.abcdefghijklmnop@inbound.keybuzz.test").as_bytes()
    hostile = hostile_mail("seller@example.com", parts=4 * HOSTILE_PARTS)
    slow, fine = await asyncio.wait_for(parse_mails([hostile, normal], budget), until_the_limit())
    assert slow.parse_error == "OverBudget: parse took longer than its time budget"
    assert fine.parse_error is None and fine.text == "Where is my parcel?"
    # The worker is still there for the next batch.
    [again] = await asyncio.wait_for(parse_mails([normal], budget), 30)
    assert again.parse_error is None


async def test_a_mail_s_time_budget_never_pays_for_its_worker_s_start() -> None:
    """A worker just spawned imports what a first parse reads at run time (the registry's
    connectors: ~0.3 s of CPU here, seconds on a loaded machine) as it starts, before its
    first task: a normal mail first in a new worker is parsed well within a quarter second,
    which it takes a thousandth of."""
    if parse_workers._parse_pool is not None:  # another test of this process made one
        parse_workers._parse_pool.shutdown()
        parse_workers._parse_pool = None
    budget = ParseBudget(max_seconds=0.25)
    normal = relay_mail("amazon.t.fr.abcdefghijklmnop@inbound.keybuzz.test").as_bytes()
    batch = [normal] * (INLINE_PARSE_BYTES // len(normal) + 1)  # past the inline size
    first = await asyncio.wait_for(parse_mails(batch, budget), until_the_limit())
    assert [m.parse_error for m in first] == [None] * len(batch)


def test_parts_and_depth_over_budget_are_flagged_and_within_parse() -> None:
    budget = ParseBudget(max_parts=10, max_depth=5)
    assert parse(hostile_mail("a@b.example", parts=10), budget).parse_error is None
    assert parse(hostile_mail("a@b.example", parts=11), budget).parse_error == (
        "OverBudget: more than 10 MIME parts"
    )
    assert parse(nested_mail(4), budget).parse_error is None
    assert parse(nested_mail(5), budget).parse_error == (
        "OverBudget: MIME parts nested deeper than 5"
    )
    assert parse(nested_mail(5)).parse_error is None  # no budget given: parsed


async def test_a_small_batch_is_parsed_in_the_loop_and_a_large_one_by_the_workers(
    monkeypatch,
) -> None:
    """A pushed poll's mail or two skip the worker hand-off; a batch past
    INLINE_PARSE_BYTES still goes to the workers, where the time budget holds."""
    from keybuzz_poller.reading import parse_workers

    def no_workers() -> None:
        raise RuntimeError("the worker pool was asked")

    monkeypatch.setattr(parse_workers, "_pool", no_workers)
    budget = ParseBudget(max_parts=1000, max_depth=20, max_seconds=5)
    small = relay_mail("amazon.t.fr.x@inbound.keybuzz.test").as_bytes()
    parsed = await parse_mails([small, small], budget)
    assert [m.order_id for m in parsed] == [ORDER, ORDER] and parsed[0] == parse(small, budget)
    large = [small] * (parse_workers.INLINE_PARSE_BYTES // len(small) + 1)
    try:
        await parse_mails(large, budget)
    except RuntimeError as exc:
        assert "worker pool was asked" in str(exc)
    else:
        raise AssertionError("a large batch was parsed in the event loop")


async def test_a_batch_parsed_by_the_workers_comes_back_as_parsed_here() -> None:
    """The workers send their results back as MessagePack: every field of every test mail
    (texts, attachments, bounces, dates as instants) as this process's parse makes it."""
    raws = [path.read_bytes() for path in mail_files()]
    assert sum(map(len, raws)) > INLINE_PARSE_BYTES  # the workers parse it, not the loop
    budget = ParseBudget()
    from_workers = await asyncio.wait_for(parse_mails(raws, budget), 60)
    assert from_workers == [parse(raw, budget) for raw in raws]
    assert sum(len(m.attachments) for m in from_workers) > 0
    assert sum(m.bounce is not None for m in from_workers) > 0


async def test_a_polling_poller_starts_its_parse_worker_before_any_mail_comes(
    start_service: Callable[..., Awaitable[RunningService]], dovecot: MailServer
) -> None:
    """A backlog's first batch does not wait for a worker to spawn and import the parser."""
    if parse_workers._parse_pool is not None:  # another test of this process made one
        parse_workers._parse_pool.shutdown()
        parse_workers._parse_pool = None
    assert multiprocessing.active_children() == []
    await start_service(DEFINITION, POLL_ENABLED="true", **dovecot.settings)

    async def workers() -> bool:
        return len(multiprocessing.active_children()) == parse_workers.PARSE_WORKERS

    await eventually(workers)
