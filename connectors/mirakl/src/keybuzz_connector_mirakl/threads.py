"""A Mirakl shop's threads (M11, M10, M13) as the seam's inbox, and the seller's replies on
them (M12): docs/MIRAKL.md, "Threads", "Ticket topics" and "Replies"."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import msgspec
from keybuzz_shared.connectors import kit, seam
from keybuzz_shared.file_links import LinkRefused
from keybuzz_shared.text import display_name
from keybuzz_shared.ticket_topics import Subject, subject_of_label
from keybuzz_shared.times import as_utc

from keybuzz_connector_mirakl.orders import iso_millis

THREADS = "api/inbox/threads"
# Mirakl's sender types: a kind it may add later is kept as a notification, never lost.
SENDERS: dict[str, seam.SenderType] = {
    "CUSTOMER_USER": "BUYER",
    "OPERATOR_USER": "MARKETPLACE_SUPPORT",
    "SHOP_USER": "SELLER",
}
# Mirakl's participant type of each recipient a reply may name.
PARTICIPANTS: dict[seam.Recipient, tuple[str, ...]] = {
    "BUYER": ("CUSTOMER",),
    "MARKETPLACE_SUPPORT": ("OPERATOR",),
    "ALL": ("CUSTOMER", "OPERATOR"),
}
# A reply goes to the customer, the operator or both, as its thread allows (read at the
# reply). Mirakl posts no message of its own when an incident is opened.
DISCUSSIONS = kit.Declaration.Discussions(
    recipients=tuple(PARTICIPANTS), support_sender="OPERATOR", claim_subject="Incident Mirakl"
)
MIN_BODY = 3  # M12's body, characters [official]
LIMITS = seam.Limits(
    # M12 [official]: the body 3-50,000 characters; at most 50 attachments over all the
    # threads of one order (ours: 10 a reply), and a message with its files within 30 MB
    # (OR43's words: "30 Megabyte").
    max_attachments=10,
    max_attachment_bytes=30 * 1024 * 1024,
    max_text_length=50_000,
    page_size=50,  # M11's default page [official]
)


# --- Mirakl's JSON (M10, M11), as its OpenAPI description names it: the fields we read ---


class Party(msgspec.Struct, frozen=True):  # a message's sender, or a reply's addressee
    type: str = ""
    display_name: str | None = None


class FileRef(msgspec.Struct, frozen=True):
    id: str
    name: str = ""


class Message(msgspec.Struct, frozen=True, rename={"sender": "from"}):
    id: str
    date_created: datetime
    body: str = ""
    sender: Party | None = None
    attachments: list[FileRef] = []


class Entity(msgspec.Struct, frozen=True):
    id: str
    type: str = ""
    label: str | None = None


class Topic(msgspec.Struct, frozen=True):
    value: str = ""


class Metadata(msgspec.Struct, frozen=True):
    total_count: int | None = None
    shop_reply_needed_since: datetime | None = None


class Thread(msgspec.Struct, frozen=True):
    id: str
    date_updated: datetime
    topic: Topic | None = None
    entities: list[Entity] = []
    authorized_participants: list[Party] = []
    metadata: Metadata | None = None
    messages: list[Message] | None = None


Inbox = kit.KitSession.ListedThreads[Thread]  # a shop's threads, their replies read back by it

# An M11 page: its threads in ``data``, the next page's token (anything but text: none).
M11_PAGE: dict[str, Any] = {"items": "data", "follows": "next_page_token"}

# One thread from its own bytes (M10's answer, an M11 page's item); ValueError naming why
# they are not one.
read_thread = functools.partial(kit.read_as, Thread, what="thread")


# Operators' thread topics the shared rules (``subject_of_label``) do not read → the
# ticket's subject (docs/MIRAKL.md, "Ticket topics").
TOPIC_SUBJECTS: dict[str, Subject] = {
    "information produit": "PRODUCT_QUESTION",
    "question produit": "PRODUCT_QUESTION",
    "question sur le produit": "PRODUCT_QUESTION",
    "product information": "PRODUCT_QUESTION",
    "product question": "PRODUCT_QUESTION",
    "article non reçu": "WHERE_IS_MY_ORDER",
    "colis non reçu": "WHERE_IS_MY_ORDER",
    "modification de commande": "ORDER_CHANGE",
    "order modification": "ORDER_CHANGE",
}


def messages_of(thread: Thread, operator_name: str) -> list[seam.InboxMessage]:
    """No read state at Mirakl: what the shop did not write is new to it."""
    topic = thread.topic.value if thread.topic else ""
    order = next((e for e in thread.entities if e.type == "MMP_ORDER"), None)
    # Since when Mirakl counts the thread as waiting for the shop (None: no reply needed).
    since = thread.metadata.shop_reply_needed_since if thread.metadata else None
    messages = thread.messages or ()
    return kit.KitSession.ReadInTurn.thread_messages(
        seam.ThreadKey(kind="DISCUSSION", id=thread.id, order_id=order.id if order else None),
        [(m.id, *sender_of(m, operator_name), m.body, m.date_created) for m in messages],
        files_of={m.id: [file_of(f) for f in m.attachments] for m in messages},
        waiting=since or False,
        thread_details=kit.shown(
            ("topic", "Motif", topic or None),
            ("order", "Commande", (order.label or order.id) if order else None),
        ),
        subject=topic,
        ticket_subject=TOPIC_SUBJECTS.get(topic.strip().lower()) or subject_of_label(topic.strip()),
    )


def sender_of(message: Message, operator_name: str) -> tuple[seam.SenderType, str | None]:
    sender = message.sender or Party()
    sender_type = SENDERS.get(sender.type, "SYSTEM")
    if sender_type != "MARKETPLACE_SUPPORT":
        return sender_type, sender.display_name
    staff = display_name(sender.display_name)  # its staff member, named as the operator's
    return sender_type, f"{operator_name} ({staff})" if staff else operator_name


def file_of(file: FileRef) -> seam.InboxFile:
    return seam.InboxFile(
        name=file.name or file.id,
        url=f"{THREADS}/{kit.path_segment(file.id, 'an attachment id')}/download",
        content_type=kit.media_type_of(file.name),
    )


def complete(thread: Thread) -> bool:
    """Whether M11 listed every message of the thread (its last 100 only)."""
    total = thread.metadata.total_count if thread.metadata else None
    return thread.messages is not None and (total is None or total <= len(thread.messages))


async def thread_at(client: kit.Requester, thread_id: str) -> Thread:
    """M10: one thread with all its messages, decoded from its bytes."""
    return await kit.item_at(
        client, THREADS, thread_id, read_thread, "M10", operation="M10", shape=msgspec.Raw
    )


def thread_inbox(client: kit.Requester, *, operator_name: str) -> Inbox:
    """Complete on Mirakl's clock (M11 takes no end); Mirakl's incidents are on order lines
    (the orders' part): none here."""

    async def m13(file: seam.InboxFile, max_bytes: int) -> bytes:
        if not file.url.startswith(f"{THREADS}/") or not file.url.endswith("/download"):
            raise LinkRefused("not an attachment of the operator's Mirakl API")
        return await client.download(file.url, max_bytes, operation="M13")

    async def mapper() -> Callable[[Thread], Sequence[seam.InboxMessage]]:
        return functools.partial(messages_of, operator_name=operator_name)

    m11 = kit.JsonAnswers(client, **M11_PAGE).listing(
        THREADS,
        kit.Listing.SeekToken[Thread](lambda thread: as_utc(thread.date_updated)),
        "updated_since",
        operation="M11",
        written=iso_millis,
        fixed={"with_messages": "true", "limit": str(LIMITS.page_size)},
        paced=True,  # a listing's first page
    )
    return kit.KitSession.ListedThreads(
        m11,
        kit.reader(Thread, "thread"),
        # The thread with all its messages: as listed, else read again (M10).
        complete=complete,
        read_whole=lambda listed: thread_at(client, listed.id),
        mapper=mapper,
        named=lambda thread: f"thread {thread.id}",
        files=m13,
        updated=lambda thread: thread.date_updated,
    )


# --- replies (M12) -------------------------------------------------------------------------


def unsendable(reply: seam.Reply) -> str | None:
    """Why Mirakl would refuse this reply beyond the kit's checks on ``LIMITS``."""
    if len(reply.body) < MIN_BODY:
        return f"Mirakl takes a reply of {MIN_BODY} to {LIMITS.max_text_length} characters"
    total = len(reply.body.encode()) + sum(len(f.data) for f in reply.attachments)
    if total > LIMITS.max_attachment_bytes:
        return f"Mirakl takes a message of 30 MB with its files ({total} bytes given)"
    return None


_kind = operator.attrgetter("type")  # a party's kind


def recipients(thread: Thread, recipient: seam.Recipient) -> list[dict[str, Any]] | str:
    """M12's ``to`` for ``recipient`` on this thread, or why the thread does not allow it."""
    offered = thread.authorized_participants
    if kit.DeclaredReplies.offered_parties(PARTICIPANTS, recipient, offered, _kind) is None:
        allowed = ", ".join(map(_kind, offered)) or "none"
        return f"Mirakl's thread {thread.id} does not allow a reply to {recipient} (participants: {allowed})"
    return [{"type": kind} for kind in PARTICIPANTS[recipient]]


def thread_replies(client: kit.Requester, inbox: Inbox) -> kit.DeclaredReplies:
    """M12 to whom the thread, read by M10 just before, allows; read back with M10."""

    async def m12(thread: Thread, reply: seam.Reply) -> str | None:
        to = recipients(thread, reply.recipient)
        if isinstance(to, str):
            return to
        path = f"{THREADS}/{kit.path_segment(thread.id)}/message"
        message = msgspec.json.encode({"body": reply.body, "to": to})
        files = [("files", (f.name, f.data, f.content_type)) for f in reply.attachments]
        parts = [("message_input", (None, message, "application/json")), *files]
        await client.post_multipart(path, parts, operation="M12")
        return None

    read = functools.partial(thread_at, client)
    return inbox.read_first("Mirakl", "thread", read, m12, refused=unsendable, limits=LIMITS)
