"""What a stored message becomes on its ticket, alike for a relayed mail and a shop's
message: its ticket message, and the ``message.received`` the product app is told of."""

from __future__ import annotations

import re

from keybuzz_shared.events import MessageReceived, new_event_id
from keybuzz_shared.ids import uuid7_string
from keybuzz_shared.ticket_topics import Topics

from keybuzz_poller.tickets.ports import ExternalMessageRow, TicketMessageRow

PREVIEW_CHARS = 200
_SPACES = re.compile(r"\s+")


def preview(text: str) -> str:
    """At most PREVIEW_CHARS characters of the buyer's words, on one line."""
    return _SPACES.sub(" ", text).strip()[:PREVIEW_CHARS]


def ticket_message(
    external: ExternalMessageRow,
    ticket_id: str,
    *,
    message_id: str | None = None,
    direction: str = "INBOUND",
    awaits_reply: bool = True,
) -> TicketMessageRow:
    """The stored message on its ticket, as of when it was received."""
    return TicketMessageRow(
        id=message_id or uuid7_string(),
        ticket_id=ticket_id,
        tenant_id=external.tenant_id,
        external_message_id=external.id,
        body=external.body,
        received_at=external.received_at,
        awaits_reply=awaits_reply,
        direction=direction,
    )


def message_received(
    external: ExternalMessageRow,
    message: TicketMessageRow,
    event_id: str | None = None,
    topics: Topics | None = None,
) -> MessageReceived:
    """``topics``: the buyer's message's language and topic, as read when it was stored."""
    return MessageReceived(
        event_id=event_id or new_event_id(),
        tenant_id=external.tenant_id,
        marketplace=external.marketplace,
        external_message_id=external.id,
        ticket_id=message.ticket_id,
        ticket_message_id=message.id,
        inbound_address=external.inbound_address,
        order_id=external.order_id,
        received_at=message.received_at,
        preview=preview(external.body),
        language=topics.language if topics else None,
        language_source=topics.language_source if topics else None,
        topic=topics.subject if topics else None,
        topic_source=topics.subject_source if topics else None,
    )
