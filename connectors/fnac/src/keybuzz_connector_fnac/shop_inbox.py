"""A Fnac/Darty shop's messages and incidents as the poller reads them: the inbox of the
Fnac connector's session (the seam's ``InboxSource``), on FnacClient, and how Fnac notifies
a claim. Fnac's errors are the seam's (``errors.py``).

Fnac numbers its pages: a listing's cursor is the ``since`` it started from and the page
to read next, so each page of one listing asks the same query."""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from datetime import datetime

import httpx
import msgspec
from keybuzz_shared.connectors.seam import (
    InboxFile,
    InboxIncident,
    InboxMessage,
    Limits,
    Page,
    SenderType,
    ThreadKey,
    ThreadKind,
    cursor_of,
    state_of,
)
from keybuzz_shared.file_links import FileLinks, FileUnavailable
from keybuzz_shared.ticket_topics import Subject

from keybuzz_connector_fnac.client import FnacClient
from keybuzz_connector_fnac.errors import FnacUnavailable
from keybuzz_connector_fnac.models import (
    DateRange,
    Incident,
    IncidentsQuery,
    Message,
    MessagesQuery,
    MessageUpdate,
    Paging,
)

PAGE_SIZE = 100  # Fnac's default and largest page (the connector's ``limits.page_size``)
# A kind of sender Fnac may add later is kept as a notification, never lost.
SENDERS: dict[str, SenderType] = {
    "CLIENT": "BUYER",
    "CALLCENTER": "MARKETPLACE_SUPPORT",
    "SELLER": "SELLER",
}

# Fnac posts a claim on an order also as a message of the order, "Nouvelle réclamation",
# at the same time.
CLAIM_SUBJECT = "Nouvelle réclamation"
NOTICE_SUBJECT = CLAIM_SUBJECT.lower()  # as subjects are compared


def claim_opener(opened_by: str | None) -> SenderType:
    """``opened_by`` is ``client`` when the buyer opened it, else Fnac's staff did."""
    return "BUYER" if (opened_by or "").lower() == "client" else "MARKETPLACE_SUPPORT"


class _Listing(msgspec.Struct, array_like=True, frozen=True):
    """An inbox listing's cursor: where it started and the page to read next."""

    since: datetime
    page: int


def _listing(since: datetime, cursor: str | None) -> _Listing:
    if cursor is None:
        return _Listing(since, 1)
    return state_of(cursor, _Listing, lambda listing: listing.page >= 2)


def _next_cursor(listing: _Listing, paging: Paging) -> str | None:
    if not paging.has_next:
        return None
    return cursor_of(_Listing(listing.since, listing.page + 1))


class FnacInbox:
    """The seam's ``InboxSource`` on a shop's FnacClient: part of ``FnacSession``."""

    client: FnacClient
    limits: Limits
    files: FileLinks

    async def inbox_messages(
        self, *, since: datetime, cursor: str | None = None
    ) -> Page[InboxMessage]:
        listing = _listing(since, cursor)
        query = MessagesQuery(
            page=listing.page,
            results_count=self.limits.page_size,
            created=(listing.since, None),
            sort="ASC",
        )
        found = await self.client.messages_query(query)
        return Page(
            items=tuple(_message(m) for m in found.messages),
            next_cursor=_next_cursor(listing, found.paging),
            unreadable=tuple(found.unreadable),
        )

    async def incidents(self, *, since: datetime, cursor: str | None = None) -> Page[InboxIncident]:
        listing = _listing(since, cursor)
        query = IncidentsQuery(
            page=listing.page,
            results_count=self.limits.page_size,
            date=DateRange(type="UpdatedAt", min=listing.since),
            sort="ASC",
        )
        found = await self.client.incidents_query(query)
        return Page(
            items=tuple(_incident(i) for i in found.incidents),
            next_cursor=_next_cursor(listing, found.paging),
            unreadable=tuple(found.unreadable),
        )

    async def file(self, file: InboxFile, max_bytes: int) -> bytes:
        """Fnac's files are served without its token: a plain GET of the link."""
        try:
            return await self.files.fetch(self.client.http, file.url, max_bytes)
        except FileUnavailable as exc:
            if exc.status >= 500:
                raise FnacUnavailable("file", f"file server answered {exc.status}") from None
            raise
        except httpx.HTTPError as exc:
            raise FnacUnavailable(
                "file", f"file server unreachable ({type(exc).__name__})"
            ) from None

    async def mark_read(self, message_ids: Sequence[str]) -> int:
        updates = [MessageUpdate(message_id=i, action="mark_as_read") for i in message_ids]
        results = await self.client.messages_update(updates)
        return sum(1 for r in results if not r.ok)  # e.g. a message Fnac does not list


# Fnac's ``message_subject`` (MessagesUpdateService.xsd) → the ticket's subject; its
# ``order_information`` and ``other_question`` name none: the buyer's words decide
# (docs/FNAC.md, "Ticket topics").
MESSAGE_SUBJECTS: dict[str, Subject] = {
    "product_information": "PRODUCT_QUESTION",
    "shipping_information": "WHERE_IS_MY_ORDER",
    "offer_not_received": "WHERE_IS_MY_ORDER",
    "offer_problem": "DAMAGED_OR_WRONG_ITEM",
}
# An incident line's type (state.xsd ``incident_open_state``) → the ticket's subject.
INCIDENT_SUBJECTS: dict[str, Subject] = {
    "1": "WHERE_IS_MY_ORDER",  # article not received
    "2": "DAMAGED_OR_WRONG_ITEM",  # inconsistent with the item
    "3": "DAMAGED_OR_WRONG_ITEM",  # defective item
    "4": "RETURN_OR_REFUND",  # retraction
}


def _thread(message: Message) -> ThreadKey:
    """The message's order or offer thread; a referer of another type names no thread we
    know (an empty id: the message is a thread of its own)."""
    kind: ThreadKind = "OFFER" if message.referer_type == "OFFER" else "ORDER"
    known = message.referer_type in ("ORDER", "OFFER")
    return ThreadKey(kind=kind, id=message.referer if known else "")


def _message(message: Message) -> InboxMessage:
    return InboxMessage(
        message_id=message.message_id,
        thread=_thread(message),
        sender_type=SENDERS.get(message.from_type, "SYSTEM"),
        sender_name=message.from_name,
        subject=message.subject,
        body=message.description,
        created_at=message.created_at,
        unread=not message.read,
        ticket_subject=MESSAGE_SUBJECTS.get(message.subject.strip().lower()),
        files=tuple(
            InboxFile(name=f.name, url=f.url, content_type=_content_type(f.name, f.filetype))
            for f in message.files
        ),
    )


def _content_type(name: str, filetype: str | None) -> str:
    """Fnac's ``filetype`` when it is a MIME type, else what the file's name says."""
    if filetype and "/" in filetype:
        return filetype.strip().lower()
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _incident(incident: Incident) -> InboxIncident:
    return InboxIncident(
        incident_id=incident.incident_id,
        order_id=incident.order_id,
        status=incident.status,
        types=tuple(dict.fromkeys(line.type for line in incident.lines)),
        ticket_subject=next(
            (
                INCIDENT_SUBJECTS[line.type]
                for line in incident.lines
                if line.type in INCIDENT_SUBJECTS
            ),
            None,
        ),
        waiting_for_seller=incident.waiting_for_seller_answer,
        opened_by=incident.opened_by,
        message=incident.message,
        created_at=incident.created_at,
        updated_at=incident.updated_at,
    )
