"""The mail side's decisions on in-memory ports: no server, milliseconds per test.

A poll stores new mail once as tickets and moves the cursor only with them; a reply is
checked and queued, then sent, refused or tried again; a bounce marks its reply only when
authenticated; every delivery outcome moves the ticket's response deadline, and its alerts
come once each. The fakes are
held to the real adapters by ``test_poller_mail_contract.py``; the flows over IMAP, SMTP,
NATS and PostgreSQL stay in ``test_mailbox.py``, ``test_replies.py``, ``test_bounces*.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from keybuzz_devstack.testing import eventually
from keybuzz_poller.inbound.addresses import INBOUND_HEADER, folder_for
from keybuzz_poller.polling.quarantine import quarantined_folders, scan_quarantine
from keybuzz_poller.polling.tenant_poll import poll_tenant
from keybuzz_poller.reading.new_mail import read_batch
from keybuzz_poller.reading.relay_mail import RelayMail
from keybuzz_poller.replies import sender
from keybuzz_poller.replies.checks import InvalidReply, ReplyRequest
from keybuzz_poller.replies.ports import Outcome
from keybuzz_poller.replies.queueing import (
    CannotReply,
    ReplyTicketNotFound,
    queue_reply,
    reply_settings,
)
from keybuzz_poller.replies.sender import record, send_due
from keybuzz_poller.ticket_view import ticket_view
from keybuzz_poller.tickets.alerts import (
    InvalidLeadTime,
    alert_round,
    lead_time,
    save_lead_time,
)
from keybuzz_poller.tickets.deadlines import RuleNotOverridable
from keybuzz_poller.tickets.from_mails import StoreCounts, store_mails
from keybuzz_poller.tickets.queries import InvalidQuery, TicketNotFound, list_tickets, ticket_query
from keybuzz_poller.tickets.responses import mark_no_response_needed, save_response_window
from keybuzz_shared.events import (
    MessageBounced,
    MessageReceived,
    MessageSent,
    TicketResponseDue,
    TicketResponseOverdue,
)
from mailkit import ORDER, relay_mail
from poller_fakes import FakeMail, ManualClock, RecordingRelay, fake_mail, fake_poller
from prometheus_client import REGISTRY
from test_bounces import amazon_bounce

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TENANT = "t1"
ADDRESS = "amazon.t1.fr.abcdefgh23456789@inbound.keybuzz.test"
SENDER = "shop@example.com"


def stamped(raw: bytes, recipient: str = ADDRESS, return_path: str | None = None) -> bytes:
    """As Dovecot stores what the MX delivered: Return-Path (MAIL FROM) over the MX's stamp."""
    top = f"{INBOUND_HEADER}: {recipient}\r\n".encode()
    if return_path is not None:
        top = f"Return-Path: <{return_path}>\r\n".encode() + top
    return top + raw


def buyer_mail(text: str = "Where is my parcel?") -> bytes:
    return stamped(relay_mail(ADDRESS, text).as_bytes())


def mail_side(*outcomes: Outcome) -> tuple[FakeMail, ManualClock]:
    clock = ManualClock(T0)
    return fake_mail(fake_poller(clock), clock, RecordingRelay(*outcomes)), clock


def events(fake: FakeMail, kind: type) -> list:
    return [e for e in fake.published if type(e) is kind]


def ticket(fake: FakeMail) -> tuple[str, str, datetime | None]:
    (only,) = fake.tickets.mail.tickets.values()
    return only.row.id, only.response_state, only.respond_by


async def a_ticket(fake: FakeMail, clock: ManualClock) -> str:
    fake.mailbox.deliver(folder_for(TENANT), buyer_mail())
    await poll_tenant(fake.polls, TENANT)
    await fake.replies.save_reply_from_address(TENANT, SENDER)
    clock.advance(600)
    return ticket(fake)[0]


async def queued_reply(fake: FakeMail, clock: ManualClock) -> str:
    ticket_id = await a_ticket(fake, clock)
    queued = await queue_reply(
        fake.replies_ports, TENANT, ticket_id, ReplyRequest(text="Sent today.")
    )
    return queued.ticket_message_id


class CountedReplies:
    """The replies' store, the sender's rounds counted: asked when a reply is due, claims."""

    def __init__(self, replies: Any) -> None:
        self.replies, self.asked, self.claims = replies, 0, 0

    async def next_due_in(self) -> float | None:
        self.asked += 1
        return await self.replies.next_due_in()  # type: ignore[no-any-return]

    async def claim_due(self, *args: Any) -> Any:
        self.claims += 1
        return await self.replies.claim_due(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.replies, name)


async def test_an_idle_sender_round_claims_nothing_and_a_queued_reply_is_sent_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An idle round is one statement (when is a reply due?), never a claim that finds
    nothing; a reply queued and the sender woken is claimed and sent without a round's wait."""
    fake, clock = mail_side()
    counted = CountedReplies(fake.replies)
    monkeypatch.setattr(sender, "IDLE_SECONDS", 0.01)
    replies = sender.ReplySender(dataclasses.replace(fake.replies_ports, replies=counted))

    async def idle_rounds() -> bool:
        return counted.asked >= 3

    async def sent() -> list[Any]:
        return fake.relay.sent

    replies.start()
    try:
        await eventually(idle_rounds)
        assert counted.claims == 0
        monkeypatch.setattr(sender, "IDLE_SECONDS", 60.0)
        ticket_message_id = await queued_reply(fake, clock)
        replies.wake()
        await eventually(sent)
        assert [r.ticket_message_id for r in fake.relay.sent] == [ticket_message_id]
        assert counted.claims >= 1
    finally:
        await replies.stop()


# --- polls -----------------------------------------------------------------------------


async def test_a_poll_stores_each_new_mail_once_as_a_ticket_with_its_event() -> None:
    fake, _ = mail_side()
    folder = folder_for(TENANT)
    fake.mailbox.deliver(folder, buyer_mail("one"))
    same = buyer_mail("two")
    fake.mailbox.deliver(folder, same)
    fake.mailbox.deliver(folder, same)  # the MX's retry of a partly delivered mail
    result = await poll_tenant(fake.polls, TENANT)
    assert (result.fetched, result.stored, result.duplicates) == (3, 2, 1)
    received = events(fake, MessageReceived)
    assert [e.preview for e in received] == ["one", "two"]
    assert (await fake.cursors.get_cursor(TENANT)).last_uid == 3  # type: ignore[union-attr]
    again = await poll_tenant(fake.polls, TENANT)
    assert (again.fetched, again.stored) == (0, 0)
    assert len(events(fake, MessageReceived)) == 2


async def test_the_cursor_moves_only_with_what_the_batch_stored() -> None:
    fake, _ = mail_side()
    fake.mailbox.deliver(folder_for(TENANT), buyer_mail("only once"))

    async def store_then_crash(unit, mails) -> None:  # type: ignore[no-untyped-def]
        await store_mails(unit.store.tickets, unit, TENANT, mails, StoreCounts(), T0)
        raise RuntimeError("the process died before commit")

    with pytest.raises(RuntimeError):
        await read_batch(fake.polls.reading, TENANT, store_then_crash)
    assert await fake.cursors.get_cursor(TENANT) is None
    assert fake.published == [] and fake.tickets.mail.tickets == {}
    assert (await poll_tenant(fake.polls, TENANT)).stored == 1


async def test_a_buyer_message_opens_a_deadline_24_hours_on() -> None:
    fake, _ = mail_side()
    fake.mailbox.deliver(folder_for(TENANT), buyer_mail())
    await poll_tenant(fake.polls, TENANT)
    _, state, respond_by = ticket(fake)
    assert (state, respond_by) == ("AWAITING_REPLY", T0 + timedelta(hours=24))


# --- replies: queueing and sending ------------------------------------------------------


async def test_a_reply_is_refused_before_anything_is_stored() -> None:
    fake, clock = mail_side()
    ticket_id = await a_ticket(fake, clock)
    with pytest.raises(ReplyTicketNotFound):
        await queue_reply(fake.replies_ports, "t2", ticket_id, ReplyRequest(text="x"))
    with pytest.raises(InvalidReply):
        await queue_reply(fake.replies_ports, TENANT, ticket_id, ReplyRequest(text=""))
    del fake.tickets.mail.reply_from[TENANT]
    with pytest.raises(CannotReply, match="no approved sender"):
        await queue_reply(fake.replies_ports, TENANT, ticket_id, ReplyRequest(text="x"))
    assert fake.tickets.mail.replies == {} and fake.wakes == []
    assert (await reply_settings(fake.replies_ports, TENANT)).reply_from_address is None


async def test_a_queued_reply_is_sent_once_and_answers_the_buyer() -> None:
    fake, clock = mail_side()
    ticket_message_id = await queued_reply(fake, clock)
    assert fake.wakes == [None]  # the sender is woken at once
    assert ticket(fake)[1] == "AWAITING_REPLY"  # a QUEUED reply does not stop the clock
    assert await send_due(fake.replies_ports) == 1
    assert await send_due(fake.replies_ports) == 0
    (sent,) = events(fake, MessageSent)
    assert (sent.ticket_message_id, sent.sent_at) == (ticket_message_id, clock())
    assert ticket(fake)[1:] == ("ANSWERED", None)
    assert [r.ticket_message_id for r in fake.relay.sent] == [ticket_message_id]


async def test_an_automatic_reply_leaves_the_deadline_running() -> None:
    fake, clock = mail_side()
    ticket_id = await a_ticket(fake, clock)
    request = ReplyRequest(text="We received your message.", automatic=True)
    await queue_reply(fake.replies_ports, TENANT, ticket_id, request)
    await send_due(fake.replies_ports)
    assert len(events(fake, MessageSent)) == 1
    assert ticket(fake)[1:] == ("AWAITING_REPLY", T0 + timedelta(hours=24))


async def test_a_reply_the_relay_refuses_fails_with_its_words_and_is_told() -> None:
    fake, clock = mail_side(Outcome("refused", "550 5.7.1 sender not approved", "550"))
    ticket_message_id = await queued_reply(fake, clock)
    await send_due(fake.replies_ports)
    (bounced,) = events(fake, MessageBounced)
    assert (bounced.status, bounced.reason, bounced.status_code) == (
        "FAILED",
        "550 5.7.1 sender not approved",
        "550",
    )
    assert fake.tickets.mail.replies[ticket_message_id].status == "FAILED"
    assert ticket(fake)[1] == "AWAITING_REPLY"
    clock.advance(3600)
    assert await send_due(fake.replies_ports) == 0


async def test_a_relay_down_is_tried_again_after_a_back_off_then_given_up() -> None:
    down = Outcome("temporary", "SMTP relay relay:25: ConnectionRefusedError")
    fake, clock = mail_side(down)
    ticket_message_id = await queued_reply(fake, clock)
    reply = fake.tickets.mail.replies[ticket_message_id]
    assert await send_due(fake.replies_ports) == 1
    assert (reply.status, reply.attempts, reply.last_error) == ("QUEUED", 1, down.detail)
    assert reply.next_attempt_at > clock()
    assert await send_due(fake.replies_ports) == 0  # not before its back-off
    for _ in range(2):  # REPLY_CONFIG.max_attempts = 3
        clock.at = reply.next_attempt_at
        await send_due(fake.replies_ports)
    assert reply.status == "FAILED" and reply.attempts == 3
    (failed,) = events(fake, MessageBounced)
    assert failed.reason.startswith("gave up after 3 attempts; last: SMTP relay")
    assert events(fake, MessageSent) == []


async def test_an_outcome_recorded_twice_changes_nothing_the_second_time() -> None:
    """A reply taken again after its lease and sent again: SENT once, one event."""
    fake, clock = mail_side()
    await queued_reply(fake, clock)
    (claimed,) = await fake.replies.claim_due(16, 10**9, 120.0)
    await record(fake.replies_ports, claimed, Outcome("sent", "250 OK"))
    await record(fake.replies_ports, claimed, Outcome("sent", "250 OK"))
    await record(fake.replies_ports, claimed, Outcome("refused", "550 x", "550"))
    assert len(events(fake, MessageSent)) == 1 and events(fake, MessageBounced) == []


# --- bounces ----------------------------------------------------------------------------


async def sent_reply(fake: FakeMail, clock: ManualClock) -> tuple[str, str, str]:
    """A reply SENT: (ticket message id, its Message-ID, its signed bounce address)."""
    ticket_message_id = await queued_reply(fake, clock)
    await send_due(fake.replies_ports)
    new = fake.tickets.mail.replies[ticket_message_id].new
    return ticket_message_id, new.message_id, new.envelope_sender


async def test_an_authenticated_bounce_marks_its_reply_and_reopens_the_deadline() -> None:
    fake, clock = mail_side()
    ticket_message_id, message_id, bounce_to = await sent_reply(fake, clock)
    assert ticket(fake)[1] == "ANSWERED"
    bounce = stamped(amazon_bounce(bounce_to, message_id), bounce_to, return_path="")
    for _ in range(2):  # the same bounce twice: handled once
        fake.mailbox.deliver(folder_for(TENANT), bounce)
        result = await poll_tenant(fake.polls, TENANT)
        assert result.stored == 0  # never a ticket
    (bounced,) = events(fake, MessageBounced)
    assert (bounced.status, bounced.status_code) == ("BOUNCED", "5.3.4")
    assert fake.tickets.mail.replies[ticket_message_id].status == "BOUNCED"
    assert ticket(fake)[1:] == ("AWAITING_REPLY", T0 + timedelta(hours=24))


@pytest.mark.parametrize(
    ("return_path", "to_other_reply", "why"),
    [
        ("mailer-daemon@amazon.fr", False, "envelope sender is not null"),
        (None, False, "no envelope sender recorded"),
        ("", True, "bounce address of another reply"),
    ],
)
async def test_a_bounce_not_authenticated_is_kept_aside_and_marks_nothing(
    return_path: str | None, to_other_reply: bool, why: str
) -> None:
    fake, clock = mail_side()
    ticket_message_id, message_id, bounce_to = await sent_reply(fake, clock)
    if to_other_reply:
        other = await queue_reply(
            fake.replies_ports, TENANT, ticket(fake)[0], ReplyRequest(text="Another one.")
        )
        bounce_to = fake.tickets.mail.replies[other.ticket_message_id].new.envelope_sender
    bounce = stamped(amazon_bounce(bounce_to, message_id), bounce_to, return_path=return_path)
    fake.mailbox.deliver(folder_for(TENANT), bounce)
    assert (await poll_tenant(fake.polls, TENANT)).stored == 0
    assert fake.tickets.mail.replies[ticket_message_id].status == "SENT"
    assert events(fake, MessageBounced) == []
    (kept,) = [e for e in fake.tickets.mail.externals.values() if e.parse_error]
    assert why in kept.parse_error  # type: ignore[operator]


async def test_a_bounce_naming_no_known_reply_is_kept_aside() -> None:
    fake, _ = mail_side()
    bounce = stamped(amazon_bounce(ADDRESS), ADDRESS, return_path="")
    fake.mailbox.deliver(folder_for(TENANT), bounce)
    assert (await poll_tenant(fake.polls, TENANT)).stored == 0
    (kept,) = fake.tickets.mail.externals.values()
    assert kept.parse_error is not None and "naming no known reply" in kept.parse_error


# --- deadlines --------------------------------------------------------------------------


async def test_no_response_needed_closes_the_deadline_until_the_next_buyer_message() -> None:
    fake, clock = mail_side()
    ticket_id = await a_ticket(fake, clock)
    with pytest.raises(TicketNotFound):
        await mark_no_response_needed(fake.tickets_ports, "t2", ticket_id, "agent", clock())
    await mark_no_response_needed(fake.tickets_ports, TENANT, ticket_id, "agent", clock())
    assert ticket(fake)[1:] == ("NO_RESPONSE_NEEDED", None)
    clock.advance(60)
    fake.mailbox.deliver(folder_for(TENANT), buyer_mail("And now?"))
    await poll_tenant(fake.polls, TENANT)
    assert ticket(fake)[1:] == ("AWAITING_REPLY", clock() + timedelta(hours=24))


async def test_a_tenant_window_moves_the_waiting_deadlines_of_its_marketplace_only() -> None:
    fake, clock = mail_side()
    await a_ticket(fake, clock)  # on Amazon
    fnac = RelayMail(raw=b"x", message_id="<f1@fnac>", marketplace="FNAC", text="Colis ?")
    async with fake.poll_units() as unit:
        await store_mails(unit.store.tickets, unit, TENANT, [fnac], StoreCounts(), T0)
    with pytest.raises(RuleNotOverridable):
        await save_response_window(fake.tickets_ports, TENANT, "AMAZON", 48)
    await save_response_window(fake.tickets_ports, TENANT, "FNAC", 48)
    by_marketplace = {
        t.row.marketplace: (t.response_state, t.respond_by)
        for t in fake.tickets.mail.tickets.values()
    }
    assert by_marketplace == {
        "AMAZON": ("AWAITING_REPLY", T0 + timedelta(hours=24)),  # Amazon's own rule
        "FNAC": ("AWAITING_REPLY", T0 + timedelta(hours=48)),
    }
    assert await fake.tickets.response_windows(TENANT) == {"FNAC": 48}


async def test_an_alert_round_tells_due_then_overdue_once_each() -> None:
    fake, clock = mail_side()
    ticket_id = await a_ticket(fake, clock)  # due T0 + 24 h; the default lead: 2 h
    ports = fake.tickets_ports
    assert await alert_round(ports, clock) == 0
    clock.at = T0 + timedelta(hours=22)
    assert await alert_round(ports, clock) == 1
    assert await alert_round(ports, clock) == 0
    clock.at = T0 + timedelta(hours=24)
    assert await alert_round(ports, clock) == 1
    (due,) = events(fake, TicketResponseDue)
    (overdue,) = events(fake, TicketResponseOverdue)
    assert (due.ticket_id, due.lead_seconds, overdue.respond_by) == (
        ticket_id,
        7200,
        T0 + timedelta(hours=24),
    )
    overdue_now = REGISTRY.get_sample_value(
        "keybuzz_tickets_by_response_deadline", {"bucket": "OVERDUE"}
    )
    assert overdue_now == 1


async def test_a_lead_time_is_between_a_minute_and_a_day() -> None:
    fake, clock = mail_side()
    ports = fake.tickets_ports
    for wrong in (timedelta(seconds=59), timedelta(hours=24, seconds=1)):
        with pytest.raises(InvalidLeadTime):
            await save_lead_time(ports, TENANT, wrong)
    assert await lead_time(ports, TENANT) == timedelta(hours=2)
    await save_lead_time(ports, TENANT, timedelta(minutes=30))
    await a_ticket(fake, clock)
    clock.at = T0 + timedelta(hours=23)  # 1 h before: not yet, with a 30 min lead
    assert await alert_round(ports, clock) == 0
    clock.at = T0 + timedelta(hours=23, minutes=30)
    assert await alert_round(ports, clock) == 1


async def test_mail_of_tenants_nobody_told_us_about_is_counted_and_kept() -> None:
    fake, _ = mail_side()
    await fake.poller.projection.apply_tenant_state(TENANT, False, T0)
    fake.mailbox.deliver(folder_for(TENANT), buyer_mail())
    for _ in range(2):
        fake.mailbox.deliver(folder_for("stranger"), buyer_mail())
    quarantine = fake.poller.quarantine
    found = await scan_quarantine(fake.mailbox, quarantine)
    assert found == {folder_for("stranger"): 2}
    assert [(q.folder, q.messages) for q in await quarantined_folders(quarantine)] == [
        (folder_for("stranger"), 2)
    ]
    assert len(fake.mailbox.folders[folder_for("stranger")]) == 2  # never deleted
    await fake.poller.projection.apply_tenant_state("stranger", False, T0)
    assert await scan_quarantine(fake.mailbox, quarantine) == {}
    assert await quarantined_folders(quarantine) == []


# --- reads ------------------------------------------------------------------------------


async def test_a_ticket_view_shows_each_reply_with_its_delivery_and_the_state_as_of_now() -> None:
    fake, clock = mail_side(Outcome("refused", "550 5.1.1 no such buyer", "550"))
    ticket_id = await a_ticket(fake, clock)
    queued = await queue_reply(fake.replies_ports, TENANT, ticket_id, ReplyRequest(text="Hi"))
    await send_due(fake.replies_ports)
    with pytest.raises(TicketNotFound):
        await ticket_view(fake.tickets, fake.replies, "t2", ticket_id, clock())
    view = await ticket_view(fake.tickets, fake.replies, TENANT, ticket_id, T0 + timedelta(days=1))
    assert view.response_state == "OVERDUE"  # stored AWAITING_REPLY, read at its deadline
    buyer, reply = view.messages
    assert (buyer.direction, buyer.delivery_status) == ("INBOUND", None)
    assert (reply.id, reply.delivery_status, reply.delivery_status_code) == (
        queued.ticket_message_id,
        "FAILED",
        "550",
    )
    assert view.marketplace_mark.url is not None and view.marketplace_mark.url.endswith(
        view.order_id or "?"
    )


async def test_ticket_pages_follow_each_other_to_the_last_in_either_order() -> None:
    fake, clock = mail_side()
    for n in range(5):
        clock.advance(60)
        fake.mailbox.deliver(folder_for(TENANT), stamped(_other_order(n)))
        await poll_tenant(fake.polls, TENANT)
    for sort in ("lastMessageAt", "respondBy"):
        seen, cursor = [], None
        while True:
            query = ticket_query(TENANT, None, None, None, cursor, 2, sort=sort, now=clock())
            page = await list_tickets(fake.tickets, query)
            seen += [t.id for t in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert len(seen) == len(set(seen)) == 5
        with pytest.raises(InvalidQuery):  # a cursor of the other order
            other = "respondBy" if sort == "lastMessageAt" else "lastMessageAt"
            first = await list_tickets(
                fake.tickets,
                ticket_query(TENANT, None, None, None, None, 2, sort=sort, now=clock()),
            )
            ticket_query(TENANT, None, None, None, first.next_cursor, 2, sort=other, now=clock())


def _other_order(n: int) -> bytes:
    mail = relay_mail(ADDRESS, f"mail {n}")
    del mail["Subject"]
    mail["Subject"] = f"Inquiry from Amazon customer Jean (Order: 171-0000000-000000{n})"
    body = mail.get_content().replace(ORDER, f"171-0000000-000000{n}")
    mail.set_content(body)
    return mail.as_bytes()


async def test_a_relay_checking_a_mail_against_dns_does_not_stall_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ManoMano's relay asks DNS for a signature's key (dkimpy's lookup, a blocking
    call): the poll maps its mails off the loop, so other tenants' work goes on."""
    import dkim
    from keybuzz_connector_manomano.relay import DKIM_KEYS

    asked_on: list[int] = []
    asking = threading.Event()
    loop_ran = threading.Event()
    # What each lookup saw: the loop running while it waited. On the loop, the lookup
    # blocks it: nothing runs until it gives up, however fast or slow the machine.
    loop_ran_meanwhile: list[bool] = []

    def slow_txt(name: bytes, timeout: float = 5) -> bytes | None:
        asked_on.append(threading.get_ident())
        asking.set()
        loop_ran_meanwhile.append(loop_ran.wait(timeout))  # a slow resolver
        return None

    monkeypatch.setattr(dkim.dnsplug, "get_txt", slow_txt)  # DNS, not ours
    monkeypatch.setattr(DKIM_KEYS, "given", {})
    monkeypatch.delenv(DKIM_KEYS.variable, raising=False)
    address = "manomano.t1.fr.abcdefgh23456789@inbound.keybuzz.test"
    signature = "v=1; a=rsa-sha256; d=monechelle.zendesk.com; s=slow; h=from; bh=AAAA; b=AAAA"
    raw = (
        f"DKIM-Signature: {signature}\r\nFrom: support@monechelle.zendesk.com\r\n"
        f"To: {address}\r\nSubject: Commande M240000000101\r\n"
        "Message-ID: <slow@zendesk.test>\r\n\r\nBonjour.\r\n"
    ).encode()
    fake, _ = mail_side()
    fake.mailbox.deliver(folder_for(TENANT), stamped(raw, recipient=address))

    async def other_work() -> None:
        """Another tenant's work: it runs once a lookup is under way."""
        if await asyncio.to_thread(asking.wait, 10):
            loop_ran.set()

    other = asyncio.create_task(other_work())
    try:
        assert (await poll_tenant(fake.polls, TENANT)).stored == 1
    finally:
        other.cancel()
    assert asked_on and threading.get_ident() not in asked_on
    assert loop_ran_meanwhile and all(loop_ran_meanwhile), loop_ran_meanwhile
