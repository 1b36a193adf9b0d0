"""Replies on Fnac tickets through the marketplace's API, on in-memory fakes
(``InMemoryShopReplies``, held to ``ShopReplies`` on the double by
``test_api_replies_contract.py``): the connector's limits checked before queueing, the
recipient and thread chosen from the ticket, outcomes recorded, and at most once when an
answer is lost or the sender dies before recording it."""

from __future__ import annotations

import base64
import dataclasses
import html
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from keybuzz_connector_fnac.client import carried
from keybuzz_poller.replies.checks import (
    AttachmentsTooLarge,
    InvalidReply,
    ReplyRequest,
    UnsupportedAttachment,
)
from keybuzz_poller.replies.ports import ApiRequest, MarketplaceReplies
from keybuzz_poller.replies.queueing import CannotReply, queue_reply
from keybuzz_poller.replies.sender import send_due
from keybuzz_poller.shops.ports import UNCONFIRMED
from keybuzz_poller.tickets.ports import ExternalMessageRow, TicketRow
from keybuzz_shared.connectors.seam import SENT_SKEW
from keybuzz_shared.events import MessageBounced, MessageSent
from poller_fakes import (
    FakeMail,
    ManualClock,
    RecordingRelay,
    _Message,
    _Ticket,
    fake_mail,
    fake_poller,
)
from poller_shop_fakes import InMemoryShopReplies

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TENANT = "t1"
ORDER_ID = "8A2YLSXFX7C9N"
LEASE = 121.0  # past REPLY_CONFIG's lease


def fnac_side() -> tuple[FakeMail, InMemoryShopReplies, ManualClock, list[tuple[str, str, str]]]:
    clock = ManualClock(T0)
    fake = fake_mail(fake_poller(clock), clock, RecordingRelay())
    api = InMemoryShopReplies(clock)
    refused: list[tuple[str, str, str]] = []

    async def key_refused(tenant_id: str, marketplace: str, reason: str) -> None:
        refused.append((tenant_id, marketplace, reason))

    fake.replies_ports = dataclasses.replace(
        fake.replies_ports, apis={"FNAC": api}, key_refused=key_refused
    )
    return fake, api, clock, refused


def fnac_ticket(
    fake: FakeMail,
    api: InMemoryShopReplies,
    incident: str | None = None,
    external_id: str | None = None,
) -> str:
    """A Fnac order's ticket holding the buyer's message (written on ``api``'s shop)."""
    external_id = external_id or api.buyer_writes(TENANT, ORDER_ID)
    mail = fake.replies.mail
    ticket_id = f"ticket-{len(mail.tickets)}"
    mail.tickets[ticket_id] = _Ticket(
        row=TicketRow(
            id=ticket_id,
            tenant_id=TENANT,
            marketplace="FNAC",
            thread_key=f"order:{ORDER_ID}",
            order_id=ORDER_ID,
            buyer_email=None,
            buyer_name="Jane D.",
            subject="Question sur ma commande",
            last_message_at=T0,
        ),
        incident_status=incident,
    )
    stored = f"ext-{external_id}"
    mail.externals[stored] = ExternalMessageRow(
        id=stored,
        tenant_id=TENANT,
        marketplace="FNAC",
        external_id=external_id,
        order_id=ORDER_ID,
        buyer_email=None,
        buyer_name="Jane D.",
        subject="shipping_information",
        body="Où est mon colis ?",
        quoted="",
        attachments="[]",
        inbound_address=None,
        country=None,
        sent_at=T0,
        received_at=T0,
        raw=b"{}",
        parse_error=None,
        accepted_at=None,
    )
    mail.messages.append(_Message(f"tm-{stored}", ticket_id, TENANT, stored, "INBOUND", True))
    return ticket_id


def status(fake: FakeMail, ticket_message_id: str) -> tuple[str, str | None, str | None]:
    reply = fake.replies.mail.replies[ticket_message_id]
    return reply.status, reply.reason, reply.status_code


async def queued(fake: FakeMail, ticket_id: str, text: str = "Parti ce matin.") -> str:
    request = ReplyRequest(text=text)
    return (await queue_reply(fake.replies_ports, TENANT, ticket_id, request)).ticket_message_id


async def test_a_reply_goes_to_the_buyer_through_the_api_once_and_is_told_sent() -> None:
    fake, api, _, _ = fnac_side()
    ticket_id = fnac_ticket(fake, api)
    [answered] = [m.message_id for m in api.messages[TENANT]]
    reply_id = await queued(fake, ticket_id, "  Parti ce matin.\r\n")
    request = msgspec.json.decode(fake.replies.mail.replies[reply_id].new.mail, type=ApiRequest)
    assert request.reply.in_reply_to == answered
    assert (request.reply.thread.kind, request.reply.thread.id) == ("ORDER", ORDER_ID)
    assert request.reply.recipient == "BUYER" and request.reply.body == "Parti ce matin."
    assert request.reply.subject == "shipping_information"  # the answered message's
    assert fake.replies.mail.replies[reply_id].new.envelope_sender == ""

    assert await send_due(fake.replies_ports) == 1
    assert api.sent_bodies(TENANT) == ["Parti ce matin."]
    assert fake.relay.sent == []  # not mail
    assert status(fake, reply_id) == ("SENT", None, None)
    [sent] = [e for e in fake.published if isinstance(e, MessageSent)]
    assert (sent.marketplace, sent.ticket_message_id) == ("FNAC", reply_id)
    assert await send_due(fake.replies_ports) == 0


async def test_while_the_orders_incident_is_open_the_reply_goes_to_customer_service() -> None:
    fake, api, _, _ = fnac_side()
    api.open_incidents.add((TENANT, ORDER_ID))
    reply_id = await queued(fake, fnac_ticket(fake, api, incident="OPENED"))
    request = msgspec.json.decode(fake.replies.mail.replies[reply_id].new.mail, type=ApiRequest)
    assert request.reply.recipient == "MARKETPLACE_SUPPORT"
    await send_due(fake.replies_ports)
    assert status(fake, reply_id)[0] == "SENT"
    closed = await queued(fake, fnac_ticket(fake, api, incident="CLOSED"))
    request = msgspec.json.decode(fake.replies.mail.replies[closed].new.mail, type=ApiRequest)
    assert request.reply.recipient == "BUYER"


PDF = {"filename": "f.pdf", "contentType": "application/pdf", "contentBase64": "JVBERg=="}


@pytest.mark.parametrize(
    ("request_", "problem"),
    [
        (
            msgspec.convert({"text": "Voir la facture", "attachments": [PDF]}, ReplyRequest),
            "FNAC replies take no attachments",
        ),
        (ReplyRequest(text="x" * 2001), "longer than 2000 characters, FNAC's limit"),
        (ReplyRequest(text=" \n "), "must not be empty"),
    ],
)
async def test_what_fnac_does_not_take_is_refused_before_anything_is_stored(
    request_: ReplyRequest, problem: str
) -> None:
    fake, api, _, _ = fnac_side()
    ticket_id = fnac_ticket(fake, api)
    with pytest.raises(InvalidReply, match=problem):
        await queue_reply(fake.replies_ports, TENANT, ticket_id, request_)
    assert fake.replies.mail.replies == {}


async def test_a_ticket_with_no_marketplace_message_to_answer_cannot_be_replied_to() -> None:
    fake, api, _, _ = fnac_side()
    ticket_id = fnac_ticket(fake, api, external_id="incident:INC1")
    with pytest.raises(CannotReply, match="no FNAC message to answer"):
        await queued(fake, ticket_id)


async def test_a_refused_reply_fails_with_fnacs_reason() -> None:
    fake, api, _, _ = fnac_side()
    reply_id = await queued(fake, fnac_ticket(fake, api, incident="OPENED"))  # none open there
    await send_due(fake.replies_ports)
    assert status(fake, reply_id) == ("FAILED", "Fnac refused the reply: ERR_202", "ERR_202")
    [failed] = [e for e in fake.published if isinstance(e, MessageBounced)]
    assert (failed.marketplace, failed.status, failed.status_code) == ("FNAC", "FAILED", "ERR_202")
    assert api.sent_bodies(TENANT) == []


async def test_an_answer_lost_after_fnac_applied_it_is_found_on_the_thread_not_sent_again() -> None:
    fake, api, _, _ = fnac_side()
    reply_id = await queued(fake, fnac_ticket(fake, api))
    api.lose_next_answer = True
    await send_due(fake.replies_ports)
    assert status(fake, reply_id)[0] == "SENT"
    assert api.sent_bodies(TENANT) == ["Parti ce matin."] and api.sends == 1


@pytest.mark.parametrize("character", ["\x0b", "\x07"])
async def test_a_reply_is_queued_as_fnac_carries_it_and_found_by_the_read_back(
    character: str,
) -> None:
    fake, api, _, _ = fnac_side()
    reply_id = await queued(fake, fnac_ticket(fake, api), f"Bonjour,{character}c'est parti.")
    carried = api.reply_text(f"Bonjour,{character}c'est parti.")
    assert fake.replies.mail.replies[reply_id].new.text == carried  # what the ticket shows
    request = msgspec.json.decode(fake.replies.mail.replies[reply_id].new.mail, type=ApiRequest)
    assert request.reply.body == carried and character not in carried
    api.lose_next_answer = True
    await send_due(fake.replies_ports)
    assert status(fake, reply_id)[0] == "SENT"
    assert api.sent_bodies(TENANT) == [carried] and api.sends == 1


async def test_the_read_back_compares_a_queued_text_as_fnac_carries_it() -> None:
    """A reply queued holding what Fnac cannot carry (before the rule applied at queueing)
    is recognised on the thread all the same."""
    fake, api, _, _ = fnac_side()
    reply_id = await queued(fake, fnac_ticket(fake, api), "Bonjour, c'est parti.")
    row = fake.replies.mail.replies[reply_id]
    reply = msgspec.json.decode(row.new.mail, type=ApiRequest).reply
    raw = ApiRequest(reply=msgspec.structs.replace(reply, body="Bonjour,\x07 c'est parti."))
    row.new = msgspec.structs.replace(row.new, mail=msgspec.json.encode(raw))
    api.lose_next_answer = True
    await send_due(fake.replies_ports)
    assert status(fake, reply_id)[0] == "SENT" and api.sends == 1


async def test_a_reply_of_nothing_fnac_can_carry_is_refused() -> None:
    fake, api, _, _ = fnac_side()
    with pytest.raises(InvalidReply, match="must not be empty"):
        await queued(fake, fnac_ticket(fake, api), "\x07\x00 \x0b")
    assert fake.replies.mail.replies == {}


async def test_an_answer_lost_before_fnac_applied_it_is_sent_after_reading_the_thread() -> None:
    fake, api, clock, _ = fnac_side()
    reply_id = await queued(fake, fnac_ticket(fake, api))
    api.drop_next = True
    await send_due(fake.replies_ports)
    reply = fake.replies.mail.replies[reply_id]
    assert (reply.status, reply.unconfirmed) == ("QUEUED", True)  # in doubt
    clock.advance(60)
    api.down = True  # the read-back fails: the doubt stays
    await send_due(fake.replies_ports)
    assert (reply.status, reply.unconfirmed, api.sends) == ("QUEUED", True, 0)
    api.down = False
    clock.advance(LEASE * 10)
    await send_due(fake.replies_ports)
    assert reply.status == "SENT" and api.sent_bodies(TENANT) == ["Parti ce matin."]


def _marketplace_rewriting(text: str) -> str:
    """A thread that shows a reply rewritten, words kept: typography, escaped twice,
    markup, an emoji added."""
    typed = carried(text).replace("'", "\u2019").replace("...", "\u2026")
    return f"<div><span>{html.escape(html.escape(typed))}</span> \U0001f44d</div>"


async def test_an_answer_lost_with_the_reply_shown_rewritten_is_found_not_sent_again() -> None:
    fake, api, clock, _ = fnac_side()
    reply_id = await queued(fake, fnac_ticket(fake, api), "C'est parti... <promis> & demain")
    api.shown = _marketplace_rewriting
    api.lose_next_answer = True
    await send_due(fake.replies_ports)
    assert status(fake, reply_id)[0] == "SENT" and api.sends == 1
    clock.advance(LEASE * 10)
    await send_due(fake.replies_ports)
    assert api.sends == 1


async def test_a_lost_answer_whose_thread_cannot_tell_waits_for_an_agent() -> None:
    """The thread shows a seller's message since the reply was queued, not the reply's
    words (a marketplace that changed them): FAILED in doubt with ``SEND_UNCONFIRMED``,
    ``message.bounced``, never sent again however long it waits."""
    fake, api, clock, _ = fnac_side()
    reply_id = await queued(fake, fnac_ticket(fake, api))
    api.shown = lambda _: "[message modéré par Fnac]"
    api.lose_next_answer = True
    await send_due(fake.replies_ports)
    reply = fake.replies.mail.replies[reply_id]
    assert (reply.status, reply.status_code, reply.unconfirmed) == (
        "FAILED",
        UNCONFIRMED,
        True,
    )
    assert "not sent again" in (reply.reason or "")
    [bounced] = [e for e in fake.published if isinstance(e, MessageBounced)]
    assert (bounced.status, bounced.status_code) == ("FAILED", UNCONFIRMED)
    clock.advance(LEASE * 10)
    assert await send_due(fake.replies_ports) == 0
    assert api.sends == 1


async def test_a_reply_in_doubt_is_not_sent_again_when_its_thread_cannot_tell() -> None:
    """Lost before applying (nothing on the thread: it would be sent again), then the
    seller writes on the thread in the back office before the next attempt: the read-back
    cannot tell that message from the reply rewritten, so nothing is sent."""
    fake, api, clock, _ = fnac_side()
    ticket_id = fnac_ticket(fake, api)
    reply_id = await queued(fake, ticket_id)
    api.drop_next = True
    await send_due(fake.replies_ports)
    reply = fake.replies.mail.replies[reply_id]
    assert (reply.status, reply.unconfirmed) == ("QUEUED", True)  # in doubt
    [buyers] = api.messages[TENANT]
    api.messages[TENANT].append(
        msgspec.structs.replace(
            buyers, message_id="bo-1", sender_type="SELLER", body="Bonjour, je regarde."
        )
    )
    clock.advance(LEASE * 10)
    await send_due(fake.replies_ports)
    assert (reply.status, reply.status_code, api.sends) == ("FAILED", UNCONFIRMED, 0)


async def test_a_sellers_message_before_the_reply_leaves_its_read_back_able_to_tell() -> None:
    """A seller's message written before the reply was queued (less ``SENT_SKEW``) is not
    the reply nor a doubt: lost before applying, the reply is sent once the thread shows
    nothing since its queueing."""
    fake, api, clock, _ = fnac_side()
    ticket_id = fnac_ticket(fake, api)
    [buyers] = api.messages[TENANT]
    earlier = T0 - SENT_SKEW - timedelta(seconds=1)
    api.messages[TENANT].append(
        msgspec.structs.replace(
            buyers, message_id="bo-0", sender_type="SELLER", body="Déjà vu", created_at=earlier
        )
    )
    reply_id = await queued(fake, ticket_id)
    api.drop_next = True
    await send_due(fake.replies_ports)
    clock.advance(LEASE * 10)
    await send_due(fake.replies_ports)
    assert status(fake, reply_id)[0] == "SENT" and api.sends == 1


async def test_a_lost_reply_dated_before_the_margin_is_not_sent_again() -> None:
    """The reply's words on the thread dated further behind the queueing than
    ``SENT_SKEW`` (a marketplace's clock minutes behind ours): it may be the reply, the
    thread cannot tell: FAILED in doubt for an agent, not a second copy."""
    fake, api, clock, _ = fnac_side()
    reply_id = await queued(fake, fnac_ticket(fake, api))
    api.dated_behind = SENT_SKEW + timedelta(minutes=1)
    api.lose_next_answer = True
    await send_due(fake.replies_ports)
    clock.advance(LEASE * 10)
    await send_due(fake.replies_ports)
    reply = fake.replies.mail.replies[reply_id]
    assert (reply.status, reply.status_code, api.sends) == ("FAILED", UNCONFIRMED, 1)


class DiesAfterSending:
    """The sender's process dies between Fnac's answer and the commit of the outcome."""

    def __init__(self, api: MarketplaceReplies) -> None:
        self.api = api
        self.limits = api.limits
        self.sent_messages = api.sent_messages

    async def reply(self, tenant_id: str, reply: object) -> object:
        await self.api.reply(tenant_id, reply)  # type: ignore[arg-type]
        raise RuntimeError("killed")


async def test_a_sender_dying_after_fnac_took_the_reply_never_sends_it_twice() -> None:
    fake, api, clock, _ = fnac_side()
    reply_id = await queued(fake, fnac_ticket(fake, api))
    dying = dataclasses.replace(fake.replies_ports, apis={"FNAC": DiesAfterSending(api)})
    with pytest.raises(RuntimeError, match="killed"):
        await send_due(dying)  # type: ignore[arg-type]
    assert status(fake, reply_id)[0] == "QUEUED"
    assert await send_due(fake.replies_ports) == 0  # leased
    clock.advance(LEASE)
    assert await send_due(fake.replies_ports) == 1
    assert status(fake, reply_id)[0] == "SENT"
    assert api.sent_bodies(TENANT) == ["Parti ce matin."] and api.sends == 1


async def test_fnac_down_retries_with_back_off_then_gives_up() -> None:
    fake, api, clock, _ = fnac_side()
    reply_id = await queued(fake, fnac_ticket(fake, api))
    api.down = True
    await send_due(fake.replies_ports)
    reply = fake.replies.mail.replies[reply_id]
    assert (reply.status, reply.unconfirmed) == ("QUEUED", False)  # nothing was sent
    assert "HTTP 503" in (reply.last_error or "")
    for _ in range(2):
        clock.advance(LEASE * 10)
        await send_due(fake.replies_ports)
    assert status(fake, reply_id)[0] == "FAILED" and "gave up after 3 attempts" in (
        reply.reason or ""
    )


async def test_a_refused_key_fails_the_reply_and_asks_for_a_reconnection() -> None:
    fake, api, _, refused = fnac_side()
    reply_id = await queued(fake, fnac_ticket(fake, api))
    api.keys.clear()
    await send_due(fake.replies_ports)
    state, reason, code = status(fake, reply_id)
    assert (state, code) == ("FAILED", "REAUTH_REQUIRED") and "connected again" in (reason or "")
    assert [(t, m) for t, m, _ in refused] == [(TENANT, "FNAC")]


def _file(name: str, content_type: str, data: bytes) -> dict[str, str]:
    encoded = base64.b64encode(data).decode()
    return {"filename": name, "contentType": content_type, "contentBase64": encoded}


async def test_a_replys_files_go_as_bytes_within_the_connectors_limits() -> None:
    """A marketplace that takes files (its ``Limits``: count, total bytes, formats): each
    rule refused before anything is stored, named in the message; files within them are
    queued as bytes and given to the session."""
    fake, api, _, _ = fnac_side()
    api.limits = msgspec.structs.replace(
        api.limits,
        max_attachments=2,
        max_attachment_bytes=10,
        attachment_formats=("application/pdf",),
    )
    ticket_id = fnac_ticket(fake, api)
    pdf = _file("facture.pdf", "application/pdf", b"%PDF-1")
    refused = [
        ([pdf, pdf, pdf], InvalidReply, "FNAC replies take at most 2 attachments"),
        (
            [_file("a.png", "image/png", b"png")],
            UnsupportedAttachment,
            "takes only application/pdf",
        ),
        ([pdf, pdf], AttachmentsTooLarge, "12 bytes, over FNAC's limit of 10 bytes"),
    ]
    for files, error, problem in refused:
        request = msgspec.convert({"text": "Ci-joint", "attachments": files}, ReplyRequest)
        with pytest.raises(error, match=problem):
            await queue_reply(fake.replies_ports, TENANT, ticket_id, request)
    assert fake.replies.mail.replies == {}
    request = msgspec.convert({"text": "Ci-joint", "attachments": [pdf]}, ReplyRequest)
    reply_id = (await queue_reply(fake.replies_ports, TENANT, ticket_id, request)).ticket_message_id
    queued_request = msgspec.json.decode(
        fake.replies.mail.replies[reply_id].new.mail, type=ApiRequest
    )
    assert [(f.name, f.data) for f in queued_request.reply.attachments] == [
        ("facture.pdf", b"%PDF-1")
    ]
    await send_due(fake.replies_ports)
    assert status(fake, reply_id)[0] == "SENT"
    assert api.sent_files == [("facture.pdf", "application/pdf", b"%PDF-1")]


async def test_a_reply_to_someone_the_thread_does_not_offer_is_refused_before_queueing() -> None:
    """The ticket's reply goes to customer service while its incident is open: refused,
    with the rule, where the marketplace's thread takes replies to the buyer only."""
    fake, api, _, _ = fnac_side()
    api.offered = ("BUYER",)
    api.open_incidents.add((TENANT, ORDER_ID))
    ticket_id = fnac_ticket(fake, api, incident="OPENED")
    with pytest.raises(CannotReply, match="no reply to MARKETPLACE_SUPPORT.*to: BUYER"):
        await queued(fake, ticket_id)
    assert fake.replies.mail.replies == {}
    assert status(fake, await queued(fake, fnac_ticket(fake, api)))[0] == "QUEUED"
