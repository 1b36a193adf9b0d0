"""A Kaufland seller's tickets, their replies and closing (docs/KAUFLAND.md, "Tickets")."""

from __future__ import annotations

import base64
from datetime import datetime
from functools import partial
from typing import Annotated, Any

import msgspec
from keybuzz_shared.connectors import kit, seam
from keybuzz_shared.ticket_topics import Subject
from keybuzz_shared.times import as_utc

LABEL = "Kaufland"
LIMITS = seam.Limits(
    max_attachments=5,  # Kaufland's files' limits none [official]: ours [assumed]
    max_attachment_bytes=10 * 1024 * 1024,
    max_text_length=65_535,  # CreateTicketMessageRequest.text [official]
    page_size=10,  # tickets read whole an inbox page
)
SORT = {"sort": "ts_updated_iso:desc"}
SENDERS: dict[str, seam.SenderType] = {
    "buyer": "BUYER",
    "seller": "SELLER",
    "customer_service": "MARKETPLACE_SUPPORT",
    "system": "SYSTEM",
}
LANGUAGES = {"de": "de", "at": "de", "cz": "cs", "sk": "sk", "pl": "pl", "fr": "fr", "it": "it"}
STATUSES = {
    "opened": "ouvert",
    "buyer_closed": "fermé par l'acheteur",
    "seller_closed": "fermé par le vendeur",
    "both_closed": "fermé par l'acheteur et le vendeur",
    "customer_service_closed_final": "clos définitivement par le service client Kaufland",
}
# Kaufland's topic, else its open reason → our subject (docs/KAUFLAND.md, "Ticket topics").
SUBJECTS: dict[Subject, str] = {
    "CANCELLATION": "order_cancel account_cancel",
    "DAMAGED_OR_WRONG_ITEM": "order_product_defect delivery_wrong_products"
    " delivery_parts_missing product_not_as_described product_defect",
    "WHERE_IS_MY_ORDER": "delivery_not_received delivery_delayed delivery_other_question"
    " product_not_delivered",
    "ORDER_CHANGE": "delivery_change_address delivery_to_store",
    "RETURN_OR_REFUND": "return_check_status return_request_label product_return"
    " old_device_take_back",
    "INVOICE_REQUEST": "invoice_needed invoice_problem",
    "PRODUCT_QUESTION": "product_properties product_availability product_other_question",
}
TOPICS = {topic: subject for subject, topics in SUBJECTS.items() for topic in topics.split()}


# --- Kaufland's answers and its ticket ------------------------------------------------------


answers_of = partial(kit.JsonAnswers, content="data", items="data", total="pagination.total")
newest_first = partial(kit.Listing.Offsets[Any], size_param="limit", newest_first=True)


class Author(msgspec.Struct, frozen=True):
    role: str
    name: str = ""


class Message(msgspec.Struct, frozen=True):
    id_ticket_message: int
    author: Author
    text: str
    ts_created_iso: datetime

    @property
    def said(self) -> tuple[str, seam.SenderType, str, str, datetime]:
        sender = SENDERS.get(self.author.role, "SYSTEM")
        return str(self.id_ticket_message), sender, self.author.name, self.text, self.ts_created_iso


class File(msgspec.Struct, frozen=True):
    filename: str
    uri: str
    ts_created_iso: datetime

    @property
    def linked(self) -> seam.InboxFile:
        media = kit.media_type_of(self.filename)
        return seam.InboxFile(name=self.filename, url=self.uri, content_type=media)


class Unit(msgspec.Struct, frozen=True):
    id_order: str


class Ticket(msgspec.Struct, frozen=True):
    id_ticket: Annotated[str, msgspec.Meta(pattern=r"^001[0-9]+$")]
    ts_updated_iso: datetime
    status: str
    open_reason: str
    is_seller_responsible: bool
    ts_created_iso: datetime
    topic: str | None = None
    storefront: str | None = None
    ids_order_units: list[int] = []
    messages: list[Message] = []
    files: list[File] = []
    order_units: list[Unit] = []


def inbox_messages_of(ticket: Ticket) -> list[seam.InboxMessage]:
    orders = list(dict.fromkeys(u.id_order for u in ticket.order_units))
    waits = "oui" if ticket.is_seller_responsible else "non"
    return kit.KitSession.ReadInTurn.thread_messages(
        seam.ThreadKey(kind="DISCUSSION", id=ticket.id_ticket, order_id=next(iter(orders), None)),
        [m.said for m in sorted(ticket.messages, key=lambda m: m.id_ticket_message)],
        files=[(f.linked, f.ts_created_iso) for f in ticket.files],
        waiting=ticket.is_seller_responsible,
        opened=ticket.ts_created_iso,
        thread_details=kit.shown(
            ("storefront", "Boutique Kaufland", ticket.storefront),
            ("ticket_status", "Ticket", kit.labelled(ticket.status, STATUSES)),
            ("open_reason", "Motif d'ouverture", ticket.open_reason),
            ("topic", "Sujet Kaufland", ticket.topic),
            ("orders", "Commandes", ", ".join(orders) or None),
            ("order_units", "Unités de commande", ", ".join(map(str, ticket.ids_order_units))),
            ("seller_responsible", "Attend le vendeur", waits),
        ),
        subject=f"Ticket Kaufland {ticket.id_ticket}",
        language=LANGUAGES.get((ticket.storefront or "").lower()),
        ticket_subject=TOPICS.get(ticket.topic or "") or TOPICS.get(ticket.open_reason),
    )


# --- the inbox and replies (docs/KAUFLAND.md, "Tickets", "Replies") -------------------------


def ticket_inbox(client: kit.Requester) -> kit.KitSession.ReadInTurn[Ticket, Ticket]:
    answers = answers_of(client)
    paging = newest_first(lambda t: (as_utc(t.ts_updated_iso), t.id_ticket), size=30, overlap=3)
    ticket = kit.KitSession.ReadInTurn.Item.at(
        client,
        "tickets",
        answers.read(Ticket, "ticket"),
        inbox_messages_of,
        "ticket",
        valid=str.isdigit,
        operation="GetTicket",
        params={"embedded": "messages,files,order_units"},
    )
    return kit.KitSession.ReadInTurn(
        answers.listing(
            "tickets", paging, "ts_updated_from_iso", operation="GetTickets", fixed=SORT
        ),
        kit.reader(Ticket, "ticket"),  # listed without its embedded parts
        lambda t: (t.id_ticket, t.ts_updated_iso),
        item=ticket,
        page_size=LIMITS.page_size,
    )


async def post_message(client: kit.Requester, reply: seam.Reply) -> None:
    """The ticket's id one of digits: the ticket's replies send no other (``valid``)."""
    files = [
        {
            "filename": f.name,
            "mime_type": f.content_type,
            "data": f"data:{f.content_type};base64,{base64.b64encode(f.data).decode()}",
        }
        for f in reply.attachments
    ]
    body = {"text": reply.body, **({"ticket_message_files": files} if files else {})}
    await client.request("POST", f"tickets/{reply.thread.id}/messages", body=body, idempotent=False)


async def close_ticket(client: kit.Requester, thread: seam.ThreadKey) -> None:
    call = "PATCH tickets/{id}/close"
    if not thread.id.isdigit():
        raise client.errors.refused(call, 404, "not a ticket id")
    await client.request("PATCH", f"tickets/{thread.id}/close", name=call, answered=False)


def reply_refusal(reply: seam.Reply, standing: seam.ThreadStanding, now: datetime) -> str | None:
    if standing.detail("ticket_status") == STATUSES["customer_service_closed_final"]:
        return "Kaufland's customer service closed this ticket for good: it takes no message"
    return None
