"""Replies on a Back Market care folder: the seam's ``ReplyChannel`` on ``POST
/ws/sav/{id}/msg`` (docs/BACKMARKET.md, "Replies").

A message goes as multipart/form-data: its text (``message``) and up to 10 files of 3 MB
each (``attachment``) [official]; a reply breaking those is refused before it is queued
(the connector's ``Limits``) and again here. Posting to a closed folder reopens it
[official]. Back Market's POST takes no idempotency key: a lost answer is an unknown
outcome, and the poller reads the folder back (``sent_messages``) before any retry."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from keybuzz_shared.connectors.seam import (
    CallRefused,
    MarketplaceMessage,
    Recipient,
    Reply,
    ReplyFile,
    ReplyOutcome,
    ThreadKey,
    failed_reply,
    sent_since,
)

from keybuzz_connector_backmarket.care import CareInbox, inbox_messages_of

if TYPE_CHECKING:
    from keybuzz_connector_backmarket.client import BackMarketClient

MAX_ATTACHMENTS = 10  # files a message [official]
MAX_FILE_BYTES = 3 * 1024 * 1024  # each file [official: "3 MB"], read as MiB
# A message's kind says it goes to the buyer and Back Market alike (MERCHANT_TO_ALL).
RECIPIENTS: tuple[Recipient, ...] = ("BUYER", "ALL")


def unsendable_files(files: tuple[ReplyFile, ...]) -> str | None:
    """Why Back Market would refuse these files, if it would."""
    if len(files) > MAX_ATTACHMENTS:
        return f"Back Market takes at most {MAX_ATTACHMENTS} files a message"
    for file in files:
        if len(file.data) > MAX_FILE_BYTES:
            return f"{file.name}: Back Market takes files of at most 3 MB ({len(file.data)} bytes)"
    return None


class FolderReplies:
    """The seller's messages on a shop's care folders, through its BackMarketClient."""

    def __init__(self, client: BackMarketClient, inbox: CareInbox) -> None:
        self.client = client
        self.inbox = inbox

    async def reply(self, reply: Reply) -> ReplyOutcome:
        """CallUnavailable (nothing was sent), CallOutcomeUnknown (read
        ``sent_messages`` back before sending it again) and CredentialsRefused
        are raised; Back Market's refusals, and replies it would refuse, are FAILED."""
        if reply.thread.kind != "DISCUSSION":
            return failed_reply(
                f"Back Market's replies go to a care folder, not to an {reply.thread.kind}"
            )
        if reply.recipient not in RECIPIENTS:
            return failed_reply(
                f"Back Market's messages go to the buyer and Back Market, not {reply.recipient}"
            )
        problem = unsendable_files(reply.attachments)
        if problem:
            return failed_reply(problem)
        if not reply.thread.id.isdigit():
            return failed_reply(f"{reply.thread.id!r} is not a Back Market care folder")
        files = [("attachment", (f.name, f.data, f.content_type)) for f in reply.attachments]
        try:
            await self.client.post_form(
                f"/ws/sav/{reply.thread.id}/msg", {"message": reply.body}, files
            )
        except CallRefused as exc:
            return failed_reply(str(exc))
        return ReplyOutcome(status="SENT")

    async def sent_messages(self, thread: ThreadKey, since: datetime) -> list[MarketplaceMessage]:
        """The seller's messages on the folder from a little before ``since`` on."""
        if thread.kind != "DISCUSSION":
            return []
        try:
            folder = await self.inbox.folder(thread.id)
        except CallRefused as exc:
            if exc.status == 404:
                return []
            raise
        return sent_since(inbox_messages_of(folder), since)
