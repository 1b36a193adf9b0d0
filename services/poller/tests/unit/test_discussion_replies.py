"""Replies on a discussion's ticket (a thread the marketplace names itself, about an order):
the reply reaches the marketplace on the discussion's own thread, its order with it, and
goes to whom the agent asks among those the connector offers on the thread; anyone else
is refused before anything is queued, naming those it offers."""

from __future__ import annotations

import msgspec
import pytest
from keybuzz_poller.replies.checks import InvalidReply, ReplyRequest
from keybuzz_poller.replies.queueing import queue_reply
from keybuzz_poller.replies.sender import send_due
from keybuzz_shared.connectors.seam import Recipient, ThreadKey
from poller_fakes import FakeMail
from poller_shop_fakes import InMemoryShopReplies
from test_api_reply_use_cases import TENANT, fnac_side, fnac_ticket, status

DISCUSSION = ThreadKey("DISCUSSION", "D-41", "ORD7")


class DiscussionReplies(InMemoryShopReplies):
    """A marketplace whose discussions take replies to the buyer, its customer care and an
    operator, and whose orders' threads to the buyer only."""

    def recipients(self, thread: ThreadKey) -> tuple[Recipient, ...]:
        if thread.kind == "DISCUSSION":
            return ("BUYER", "MARKETPLACE_SUPPORT", "OPERATOR")
        return ("BUYER",)


def discussion_side() -> tuple[FakeMail, DiscussionReplies, str]:
    fake, _, clock, _ = fnac_side()
    api = DiscussionReplies(clock)
    fake.replies_ports.apis["FNAC"] = api
    written = api.buyer_writes(TENANT, DISCUSSION.id)
    ticket_id = fnac_ticket(fake, api, external_id=written)
    ticket = fake.replies.mail.tickets[ticket_id]
    ticket.row = msgspec.structs.replace(
        ticket.row, thread_key=f"discussion:{DISCUSSION.id}", order_id=DISCUSSION.order_id
    )
    return fake, api, ticket_id


async def test_a_reply_to_customer_care_reaches_the_marketplace_on_the_discussion() -> None:
    fake, api, ticket_id = discussion_side()
    api.open_incidents.add((TENANT, DISCUSSION.id))  # the double's rule for customer care
    request = ReplyRequest(text="Nous avons renvoyé le colis.", recipient="MARKETPLACE_SUPPORT")
    queued = await queue_reply(fake.replies_ports, TENANT, ticket_id, request)
    assert await send_due(fake.replies_ports) == 1
    assert status(fake, queued.ticket_message_id) == ("SENT", None, None)
    [sent] = [m for m in api.messages[TENANT] if m.sender_type == "SELLER"]
    assert sent.thread == DISCUSSION  # its kind, its id and its order
    assert sent.body == "Nous avons renvoyé le colis."


@pytest.mark.parametrize("recipient", ["BUYER", "OPERATOR"])
async def test_a_reply_goes_to_each_recipient_the_discussion_offers(recipient: Recipient) -> None:
    fake, api, ticket_id = discussion_side()
    request = ReplyRequest(text="Bonjour", recipient=recipient)
    await queue_reply(fake.replies_ports, TENANT, ticket_id, request)
    [queued] = fake.replies.mail.replies.values()
    assert queued.new.recipient == recipient


async def test_a_recipient_the_thread_does_not_offer_is_a_bad_request_naming_those_it_does() -> (
    None
):
    fake, _, ticket_id = discussion_side()
    request = ReplyRequest(text="Bonjour", recipient="ALL")
    with pytest.raises(InvalidReply, match="no reply to ALL.*BUYER, MARKETPLACE_SUPPORT, OPERATOR"):
        await queue_reply(fake.replies_ports, TENANT, ticket_id, request)
    assert fake.replies.mail.replies == {}


async def test_a_mail_reply_goes_to_the_buyer_only() -> None:
    fake, _, _, _ = fnac_side()
    fake.replies_ports.apis.clear()  # the ticket's marketplace answered by mail
    request = ReplyRequest(text="Bonjour", recipient="MARKETPLACE_SUPPORT")
    with pytest.raises(InvalidReply, match="to the buyer only"):
        await queue_reply(fake.replies_ports, TENANT, "any-ticket", request)
