"""A Cdiscount shop's discussions as the seam's inbox and the seller's replies on them
(docs/CDISCOUNT.md, "Discussions" and "Replies")."""

from __future__ import annotations

import base64
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import PurePath
from typing import Any, TypeVar

import msgspec
from keybuzz_shared.connectors import kit, seam
from keybuzz_shared.file_links import LinkRefused
from keybuzz_shared.ticket_topics import Subject
from keybuzz_shared.times import as_utc

from keybuzz_connector_cdiscount.settings import SEARCH_WINDOW_DAYS

log = logging.getLogger(__name__)
M = TypeVar("M")  # what a listing's answer says of its next page

# A search may span at most 6 months (official): a day less keeps clear of its edge.
SEARCH_SPAN = timedelta(days=SEARCH_WINDOW_DAYS - 1)
CLAIM_GRADUATIONS = frozenset({"Claim", "Level_1"})  # Octopia's claims ("litiges")
# A kind of sender Octopia may add later is kept as a notification, never lost.
SENDERS: dict[str, seam.SenderType] = {
    "Customer": "BUYER",
    "GrcOperator": "MARKETPLACE_SUPPORT",
    "Seller": "SELLER",
}
# Octopia's customer care writes for Cdiscount: shown so beside its messages.
CUSTOMER_CARE = "Service client Cdiscount (Octopia)"
SALES_CHANNELS = {"CDISFR": "Cdiscount France"}  # the one code Octopia documents
TYPOLOGIES = {"Order": "Commande", "Offer": "Produit (avant achat)"}
# Octopia's sub-typology of a discussion → the ticket's subject (docs/CDISCOUNT.md, "Ticket
# topics"; another under an ``Offer`` typology: a question before buying).
SUBJECTS: dict[str, Subject] = {
    "orderNotShipped": "WHERE_IS_MY_ORDER",
    "productIsDamaged": "DAMAGED_OR_WRONG_ITEM",
    "wrongProductReceived": "DAMAGED_OR_WRONG_ITEM",
    "missingItemInProduct": "DAMAGED_OR_WRONG_ITEM",
    "orderCancellation": "CANCELLATION",
    "printReceipt": "INVOICE_REQUEST",
    "productInformation": "PRODUCT_QUESTION",
    "deliveryInformation": "PRODUCT_QUESTION",
}
READ = [{"op": "replace", "path": "/hasRead", "value": True}]


# --- Octopia's JSON, as tolerant as the variants integrations meet ------------------------

Id = str | int  # digit strings in the double; numbers would name the same thing


class User(msgspec.Struct, rename="camel", frozen=True):
    user_type: str = ""
    user_id: Id | None = None


class FileRef(msgspec.Struct, rename="camel", frozen=True):
    attachment_id: Id
    name: str = ""
    file_format: str = ""


class Message(msgspec.Struct, rename="camel", frozen=True):
    message_id: Id
    created_at: datetime
    body: str = ""
    sender: User | None = None
    has_read: bool = False
    attachments: list[FileRef] = []


class Discussion(msgspec.Struct, rename="camel", frozen=True):
    discussion_id: Id
    updated_at: datetime
    subject: str | None = None
    order_reference: str | None = None
    order_seller_id: str | None = None
    is_open: bool = True
    graduation: str | None = None
    typology_code: str | None = None
    sub_typology_code: str | None = None
    sales_channel: str | None = None
    messages: list[Message] | None = None
    eligible_receivers: list[User] | None = None

    @property
    def id(self) -> str:
        return str(self.discussion_id)


class SubTypology(msgspec.Struct, rename="camel", frozen=True):
    sub_typology_code: str
    label: str = ""


class Typology(msgspec.Struct, rename="camel", frozen=True):
    sub_typologies: list[SubTypology] = []


read_discussions = kit.reader(Discussion, "discussion")
read_discussion = functools.partial(kit.read_as, Discussion, what="discussion")


# --- the mapping to the seam ----------------------------------------------------------


def inbox_message(
    discussion: Discussion, message: Message, labels: dict[str, str], files_url: str
) -> seam.InboxMessage:
    """One message of the discussion (``labels``: Octopia's label of each sub-typology code;
    ``files_url``: where Octopia serves attachments)."""
    order_id = discussion.order_reference or discussion.order_seller_id or None
    offer: Subject | None = "PRODUCT_QUESTION" if discussion.typology_code == "Offer" else None
    sender_type = SENDERS.get(message.sender.user_type if message.sender else "", "SYSTEM")
    channel = kit.labelled(discussion.sales_channel, SALES_CHANNELS)
    files = tuple(
        seam.InboxFile(
            name=f.name or str(f.attachment_id),
            url=files_url + kit.path_segment(str(f.attachment_id)),
            # Octopia's ``fileFormat`` (png, pdf, docx…) says it, else the name.
            content_type=kit.media_type_of(f"file.{f.file_format.strip().lower()}", f.name),
        )
        for f in message.attachments
    )
    return seam.InboxMessage(
        message_id=str(message.message_id),
        thread=seam.ThreadKey("DISCUSSION", discussion.id, order_id=order_id),
        thread_details=kit.shown(
            ("sales_channel", "Canal de vente", channel),
            ("topic", "Motif", kit.labelled(discussion.typology_code, TYPOLOGIES)),
            ("sub_topic", "Sous-motif", kit.labelled(discussion.sub_typology_code, labels)),
        ),
        claim=discussion.graduation in CLAIM_GRADUATIONS,
        sender_type=sender_type,
        sender_name=CUSTOMER_CARE if sender_type == "MARKETPLACE_SUPPORT" else None,
        subject=discussion.subject or labels.get(discussion.sub_typology_code or "", ""),
        body=message.body,
        created_at=as_utc(message.created_at),
        unread=not message.has_read,
        ticket_subject=SUBJECTS.get(discussion.sub_typology_code or "", offer),
        files=files,
    )


def optional_params(
    fetch: kit.Listing.Fetch[M], optional: Mapping[str, str], label: str
) -> kit.Listing.Fetch[M]:
    """``fetch`` asked with ``optional`` until ``label`` refuses them (400): then, logged, not."""
    given = dict(optional)  # emptied once refused
    named = "&".join(f"{key}={value}" for key, value in optional.items())

    async def page(query: dict[str, str], link: str | None) -> tuple[Sequence[Any], M]:
        try:
            return await fetch({**query, **given}, link)
        except seam.CallRefused as refused:
            if refused.status != 400 or not given:
                raise
            log.warning("%s refused %s (%s): listing without it", label, named, refused.detail)
            given.clear()
        return await fetch(query, link)

    return page


class DiscussionInbox(kit.KitSession.ListedThreads[Discussion]):
    """A shop's discussions (claims among them), marked read one PATCH each within
    ``mark_budget`` seconds."""

    def __init__(
        self, client: kit.Requester, *, page_size: int, mark_budget: float | None = None
    ) -> None:
        seek = kit.Listing.Seek[Discussion](lambda d: as_utc(d.updated_at), page_param="pageIndex")
        size = str(page_size)
        window = kit.Listing.window_query("updatedAtMin", "updatedAtMax", kit.iso_z, pageSize=size)
        # Labels the messages never wait for: while unread, the codes shown.
        labels = kit.Listing.Lookup[dict[str, str]](
            functools.partial(_labels, client), {}, "Octopia's typologies", optional=True
        )
        files = f"{client.base_url.rstrip('/')}/attachments/"  # where Octopia serves them
        # Every message of each discussion listed with it, while Octopia takes it.
        listed = functools.partial(client.get_page, "/discussions")
        pages = optional_params(listed, {"includeMessages": "All"}, "Octopia")
        marks = kit.KitSession.ReadMarks(
            lambda id: client.request("PATCH", f"/messages/{kit.path_segment(id)}", body=READ),
            client.errors,
            "PATCH messages",
            budget=mark_budget,
        )

        async def mapper() -> Callable[[Discussion], list[seam.InboxMessage]]:
            shown = await labels.get()

            def messages(discussion: Discussion) -> list[seam.InboxMessage]:  # oldest first
                said = sorted(discussion.messages or (), key=lambda m: as_utc(m.created_at))
                return [inbox_message(discussion, m, shown, files) for m in said]

            return messages

        super().__init__(
            kit.Listing(seek, window, pages),
            read_discussions,
            # As listed when it came with its messages, else read whole.
            complete=lambda d: d.messages is not None,
            read_whole=lambda d: discussion_at(client, d.id),
            mapper=mapper,
            named=lambda discussion: f"discussion {discussion.id}",
            marks=marks,
            files=functools.partial(_file, client, files),
            reach=SEARCH_SPAN,
            label="Octopia",
        )


async def _file(client: kit.Requester, files: str, file: seam.InboxFile, max_bytes: int) -> bytes:
    """Only under ``files`` with the shop's token (the kit refuses ``files/../orders``)."""
    if not file.url.startswith(files):
        raise LinkRefused("not an attachment of Octopia's API")
    return await client.get_bytes(file.url, max_bytes)


async def _labels(client: kit.Requester) -> dict[str, str]:
    """Octopia's label of each sub-typology code."""
    typologies = await kit.JsonAnswers(client).get("/typologies", list[Typology])
    return {s.sub_typology_code: s.label for t in typologies for s in t.sub_typologies if s.label}


async def discussion_at(client: kit.Requester, discussion_id: str) -> Discussion:
    """One discussion, with its messages and the recipients of the next reply."""
    return await kit.item_at(
        client, "/discussions", discussion_id, read_discussion, "GET discussions"
    )


# --- replies (docs/CDISCOUNT.md, "Replies"): to the recipients Octopia offers, files base64 --

# Octopia's user type of each recipient a reply may name; OPERATOR: none at Octopia.
USER_TYPES: dict[seam.Recipient, tuple[str, ...]] = {
    "BUYER": ("Customer",),
    "MARKETPLACE_SUPPORT": ("GrcOperator",),
    "ALL": ("Customer", "GrcOperator"),
}


# A reply's files [official]: Octopia's formats by their media type (``Limits``'), its
# ``fileFormat`` its name's extension where Octopia names it (jpeg beside jpg).
EXTENSIONS = {
    "image/png": "png",
    "image/gif": "gif",
    "image/bmp": "bmp",
    "image/jpeg": "jpg",
    "image/tiff": "tif",
    "application/pdf": "pdf",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
}
NAMED_FORMATS = frozenset({*EXTENSIONS.values(), "jpeg"})


def file_format(file: seam.ReplyFile) -> str | None:
    """The file name's extension where Octopia names it, else its media type's, else None."""
    suffix = PurePath(file.name).suffix.lower().lstrip(".")
    return suffix if suffix in NAMED_FORMATS else EXTENSIONS.get(file.content_type.strip().lower())


LIMITS = seam.Limits(
    max_attachments=3,
    max_attachment_bytes=4 * 1024 * 1024,  # "4 MB", read as MiB as the double does
    attachment_formats=tuple(EXTENSIONS),
    # One integration keeps bodies within 13-5,000 characters [observed]; the double
    # refuses longer ones.
    max_text_length=5_000,
    page_size=100,  # Octopia's largest page [official]
)


# Why Octopia would refuse a reply's files, if it would (the refusal names its formats).
unsendable_files = functools.partial(
    kit.DeclaredReplies.refused_files,
    LIMITS,
    marketplace="Cdiscount",
    accepted=lambda file: file_format(file) is not None,
    formats=", ".join(sorted(NAMED_FORMATS)),
)


def receivers(discussion: Discussion, recipient: seam.Recipient) -> list[User] | str:
    """The discussion's eligible recipients a reply to ``recipient`` goes to, or why none."""
    eligible = discussion.eligible_receivers or []
    chosen = kit.DeclaredReplies.offered_parties(
        USER_TYPES, recipient, eligible, lambda user: user.user_type
    )
    if chosen is None:
        offered = ", ".join(u.user_type for u in eligible) or "none"
        return (
            f"Cdiscount does not offer {recipient} as a recipient on discussion "
            f"{discussion.id} (eligible: {offered})"
        )
    return chosen


def discussion_replies(client: kit.Requester, inbox: DiscussionInbox) -> kit.DeclaredReplies:
    """The seller's replies, each posted on the discussion as Octopia gives it just before,
    read back as ``inbox`` maps it."""
    return inbox.read_first(
        "Cdiscount",
        "discussion",
        functools.partial(discussion_at, client),
        functools.partial(_send, client),
        refused=lambda reply: unsendable_files(reply.attachments),
    )


async def _send(client: kit.Requester, discussion: Discussion, reply: seam.Reply) -> str | None:
    """The reply posted on ``discussion`` as read just before, or why Octopia would refuse it."""
    if not discussion.is_open:
        return f"discussion {discussion.id} is closed at Cdiscount"
    to = receivers(discussion, reply.recipient)
    if isinstance(to, str):
        return to
    named = [
        {"userType": u.user_type, **({"userId": str(u.user_id)} if u.user_id else {})} for u in to
    ]
    body: dict[str, Any] = {"body": reply.body, "discussionId": discussion.id, "receivers": named}
    if discussion.sales_channel:
        body["salesChannel"] = discussion.sales_channel
    if reply.attachments:
        body["attachments"] = [
            {
                "content": base64.b64encode(f.data).decode(),
                "name": f.name,
                "fileFormat": file_format(f),
            }
            for f in reply.attachments
        ]
    await client.request("POST", "/messages", body=body, idempotent=False)
    return None
