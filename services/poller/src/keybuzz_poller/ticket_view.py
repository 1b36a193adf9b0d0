"""A ticket as the agent sees it: every message with its direction and, for replies, delivery."""

from __future__ import annotations

from datetime import datetime

import msgspec

from keybuzz_poller.replies.ports import Delivery, ReplyStore
from keybuzz_poller.tickets import queries
from keybuzz_poller.tickets.deadlines import MarketplaceMark
from keybuzz_poller.tickets.ports import TicketStore


class TicketMessageView(queries.TicketMessage, kw_only=True, rename="camel"):
    # direction (inherited): INBOUND (the buyer's mail) or OUTBOUND (an agent's reply).
    # Replies only (null for the buyer's mail): QUEUED, SENT, FAILED or BOUNCED; why it
    # FAILED or BOUNCED (the relay's reply, the bounce's reason) and its code (SMTP code or
    # DSN status such as 5.7.1). ``sentAt`` of a reply is when the relay accepted it.
    delivery_status: str | None = None
    delivery_reason: str | None = None
    delivery_status_code: str | None = None


class TicketView(queries.Ticket, kw_only=True, rename="camel"):
    messages: list[TicketMessageView]
    # Whether "no response needed" reaches the marketplace, and the link to mark it there.
    marketplace_mark: MarketplaceMark


async def ticket_view(
    tickets: TicketStore, replies: ReplyStore, tenant_id: str, ticket_id: str, now: datetime
) -> TicketView:
    """The ticket (``queries.TicketNotFound`` if not the tenant's) with its replies' delivery;
    its ``responseState`` as of ``now``."""
    detail = await queries.ticket_detail(tickets, tenant_id, ticket_id, now)
    deliveries = await replies.deliveries(tenant_id, ticket_id)
    fields = {name: getattr(detail, name) for name in queries.Ticket.__struct_fields__}
    return TicketView(
        **fields,
        messages=[_view(m, deliveries.get(m.id)) for m in detail.messages],
        marketplace_mark=detail.marketplace_mark,
    )


def _view(message: queries.TicketMessage, delivery: Delivery | None) -> TicketMessageView:
    fields = msgspec.structs.asdict(message)
    if delivery is None:
        return TicketMessageView(**fields)
    sent_at: datetime | None = delivery.sent_at
    fields["sent_at"] = sent_at
    return TicketMessageView(
        **fields,
        delivery_status=delivery.status,
        delivery_reason=delivery.reason,
        delivery_status_code=delivery.status_code,
    )
