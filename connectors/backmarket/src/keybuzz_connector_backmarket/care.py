"""A Back Market shop's care folders as the kit's ``ReadInTurn`` and replies on them as its
``DeclaredReplies`` (docs/BACKMARKET.md, "Care folders", "Replies")."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import unquote, urlsplit

import msgspec
from keybuzz_shared.connectors import kit, seam
from keybuzz_shared.ticket_topics import Subject, language_tag, subject_of_label
from keybuzz_shared.times import as_utc

from keybuzz_connector_backmarket.orders import line_state, order_state
from keybuzz_connector_backmarket.settings import COUNTRIES, LANGUAGES

PAGE_SIZE = 10  # GET /ws/sav's page [official]
OPEN = 0  # a folder's or a claim's state: 0 OPEN, 9 CLOSED [official]
BACK_MARKET_STAFF = "Service client Back Market"
# A message's initiator [official: Merchant; the others as the double writes them].
SENDERS: dict[str, seam.SenderType] = {
    "Customer": "BUYER",
    "Merchant": "SELLER",
    "BackMarket": "MARKETPLACE_SUPPORT",
}
# A claim's issue or tag the shared rules do not read, a damaged item (docs/BACKMARKET.md).
DAMAGED_ISSUES = ("BATTERY_NOT_CHARGING", "ACCOUNT_LOCKED")
DAMAGED_TAGS = ("TECHNICAL", "AESTHETIC")
RESOLUTIONS = {
    "REMOTE_ASSISTANCE": "assistance à distance",
    "REPAIR": "réparation",
    "REPLACE": "remplacement",
    "REPAIR_REPLACE": "réparation ou remplacement",
    "REFUND": "remboursement",
}
WARRANTY_STATES = {
    "IN_WARRANTY": "sous garantie",
    "WATER_OR_DROPPED": "tombé ou mouillé",
    "THIRD_PARTY_REPAIR": "réparé par un tiers",
}


class FolderSummary(msgspec.Struct, frozen=True):
    id: int
    date_last_message: datetime


class FileRef(msgspec.Struct, frozen=True):
    id: int
    attachment: str


class Message(msgspec.Struct, frozen=True):
    id: int
    date_creation: datetime
    message: str = ""
    initiator: str = ""
    is_informative: bool = False
    attachments: list[FileRef] = []


class Issue(msgspec.Struct, frozen=True, rename={"customer_issue": "customerIssue"}):
    customer_issue: str = ""
    tag: str = ""


class Claim(msgspec.Struct, frozen=True):
    id: int
    state: int | None = None
    issues: list[Issue] = []
    resolution_choice: str | None = None
    declared_warranty_state: str | None = None


class FolderOrder(msgspec.Struct, frozen=True):
    order_id: int
    state: int | None = None
    country_code: str | None = None


class FolderLine(msgspec.Struct, frozen=True):
    id: int
    order: FolderOrder | None = None
    state: int | None = None
    quantity: int | None = None
    snapshot: dict[str, Any] | None = None


class Folder(msgspec.Struct, frozen=True):
    id: int
    state: int = OPEN
    country_code: str | None = None
    client: kit.PersonName | None = None
    messages: list[Message] = []
    lines: list[Claim] = []
    orderline: FolderLine | None = None


read_folder = partial(kit.read_as, Folder, what="care folder")


def country_of(folder: Folder) -> str | None:
    """The folder's locale (``de-de``), else its order's."""
    line = folder.orderline
    return folder.country_code or (line.order.country_code if line and line.order else None)


def subject_of_claims(folder: Folder) -> Subject | None:
    """The subject the first of the folder's claims' issues says, open claims first."""
    for claim in sorted(folder.lines, key=lambda c: c.state != OPEN):
        for issue in claim.issues:
            found = subject_of_label(issue.customer_issue)
            if found or issue.customer_issue in DAMAGED_ISSUES or issue.tag in DAMAGED_TAGS:
                return found or "DAMAGED_OR_WRONG_ITEM"
    return None


def details(folder: Folder) -> tuple[seam.ThreadDetail, ...]:
    """What the ticket shows beside the folder's messages, in French (an empty value not)."""
    name, language = locale_names(country_of(folder) or "")
    rows: list[tuple[str, str, str | None]] = [
        ("country", "Pays de l'acheteur", name),
        ("language", "Langue", language),
        ("folder_state", "Dossier SAV", "ouvert" if folder.state == OPEN else "fermé"),
    ]
    if (line := folder.orderline) is not None:
        order = line.order
        quantity = f" × {line.quantity}" if line.quantity else ""
        line_word = None if line.state is None else line_state(line.state)[0]
        order_word = None if order is None or order.state is None else order_state(order.state)[0]
        rows += [
            ("order_line", "Ligne de commande", f"{line.id}{_product(line.snapshot)}{quantity}"),
            ("order_line_state", "État de la ligne", line_word),
            ("order", "Commande", str(order.order_id) if order else None),
            ("order_state", "État de la commande", order_word),
        ]
    for n, claim in enumerate(folder.lines, start=1):
        key, label = ("", "") if len(folder.lines) == 1 else (str(n), f" {n}")
        issues = ", ".join(
            f"{i.customer_issue} ({i.tag})" if i.tag else i.customer_issue
            for i in claim.issues
            if i.customer_issue
        )
        state = "ouverte" if claim.state == OPEN else "fermée"
        resolution = kit.labelled(claim.resolution_choice, RESOLUTIONS)
        guarantee = kit.labelled(claim.declared_warranty_state, WARRANTY_STATES)
        rows += [
            (f"claim{key}", f"Réclamation{label}", f"{claim.id}, {state}"),
            (f"claim_issues{key}", f"Problèmes déclarés{label}", issues),
            (f"resolution_choice{key}", f"Résolution choisie{label}", resolution),
            (f"warranty_state{key}", f"Garantie déclarée{label}", guarantee),
        ]
    return kit.shown(*rows)


def _product(snapshot: dict[str, Any] | None) -> str:
    for key in ("title", "sku", "listing"):
        value = (snapshot or {}).get(key)
        if isinstance(value, str | int) and str(value).strip():
            return f" — {value}"
    return ""


def sender_of(folder: Folder, message: Message) -> tuple[seam.SenderType, str | None]:
    """Who wrote it: an informative one (it opens no response deadline) a notification."""
    sender = SENDERS.get(message.initiator, "SYSTEM")
    if message.is_informative and sender != "SELLER":
        return "SYSTEM", f"Back Market (message informatif, {message.initiator or 'inconnu'})"
    if sender == "MARKETPLACE_SUPPORT":
        return sender, BACK_MARKET_STAFF
    if sender == "BUYER" and folder.client is not None:
        return sender, folder.client.full
    return sender, None


def inbox_messages_of(folder: Folder) -> list[seam.InboxMessage]:
    """The folder's messages, oldest first, in its locale's language ("de-de": German)."""
    line, said = folder.orderline, folder.messages
    order_id = str(line.order.order_id) if line and line.order else None
    return kit.KitSession.ReadInTurn.thread_messages(
        seam.ThreadKey(kind="DISCUSSION", id=str(folder.id), order_id=order_id),
        [(str(m.id), *sender_of(folder, m), m.message, m.date_creation) for m in said],
        files_of={
            str(m.id): [linked_file(f.attachment, str(f.id)) for f in m.attachments] for m in said
        },
        thread_details=details(folder),
        claim=any(c.state == OPEN for c in folder.lines),
        subject=f"SAV Back Market n° {folder.id}",
        language=language_tag(country_of(folder)),
        ticket_subject=subject_of_claims(folder),
    )


def minute_filter(since: datetime) -> str:
    """Back Market's ``YYYY-MM-DD-hh-mm``, a minute before ``since``'s minute."""
    return (as_utc(since) - timedelta(minutes=1)).strftime("%Y-%m-%d-%H-%M")


class CareInbox(kit.KitSession.ReadInTurn[FolderSummary, Folder]):
    """A shop's care folders: each list page one call of the allowance, a page past the
    last one (the list shrunk since ``next`` was said) its end; no incident, no read mark."""

    def __init__(self, client: kit.Requester) -> None:
        super().__init__(
            kit.JsonAnswers(client).listing(
                "/ws/sav",
                kit.Listing.PageNumbers[FolderSummary](),
                "last_message_date",
                written=minute_filter,
                most=PAGE_SIZE,
                shrinks=True,
            ),
            kit.reader(FolderSummary, "care folder"),
            lambda summary: (summary.id, summary.date_last_message),
            item=care_folder(client),
            page_size=PAGE_SIZE,
        )


def care_folder(client: kit.Requester) -> kit.KitSession.ReadInTurn.Item[Folder]:
    """``GET /ws/sav/{id}``: a folder whole, its messages and claims."""
    return kit.KitSession.ReadInTurn.Item.at(
        client, "/ws/sav", read_folder, inbox_messages_of, "care folder", valid=str.isdigit
    )


# --- replies (docs/BACKMARKET.md, "Replies": no idempotency key, read back before a retry) --

MAX_ATTACHMENTS = 10  # files a message [official]
MAX_FILE_BYTES = 3 * 1024 * 1024  # each file [official: "3 MB"], read as MiB
RECIPIENTS: tuple[seam.Recipient, ...] = ("BUYER", "ALL")
LIMITS = seam.Limits(
    max_attachments=MAX_ATTACHMENTS,
    max_attachment_bytes=MAX_ATTACHMENTS * MAX_FILE_BYTES,
    max_file_bytes=MAX_FILE_BYTES,
    # Back Market states no text limit [official]; the double takes 5,000 characters.
    max_text_length=5_000,
    page_size=PAGE_SIZE,
)


def folder_replies(client: kit.Requester) -> kit.DeclaredReplies:
    async def post(reply: seam.Reply) -> None:
        files = [("attachment", (f.name, f.data, f.content_type)) for f in reply.attachments]
        message = ("message", (None, reply.body.encode(), None))
        await client.post_multipart(f"/ws/sav/{reply.thread.id}/msg", [message, *files])

    return care_folder(client).replies("Back Market", post, recipients=RECIPIENTS, limits=LIMITS)


def linked_file(url: str, file_id: str) -> seam.InboxFile:
    """The file at ``url``, named as its link names it, else ``file_id``."""
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or file_id
    return seam.InboxFile(name=name, url=url, content_type=kit.media_type_of(name))


_LOCALE = re.compile(r"([A-Za-z]{2})[-_]([A-Za-z]{2})")


def locale_names(locale: str) -> tuple[str, str]:
    """The country and the language of ``locale`` (``de-at``, ``de_AT``) in French; each
    one the tables lack, ``locale`` as written."""
    found = _LOCALE.fullmatch(locale.strip())
    if found is None:
        return locale, locale
    language, country = found[1].lower(), found[2].upper()
    return COUNTRIES.get(country, locale), LANGUAGES.get(language, locale)
