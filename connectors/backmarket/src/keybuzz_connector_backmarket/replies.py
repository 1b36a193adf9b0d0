"""Replies on a Back Market care folder: the seam's ``ReplyChannel`` on ``POST
/ws/sav/{id}/msg`` (docs/BACKMARKET.md, "Replies").

A message goes as multipart/form-data: its text (``message``) and up to 10 files of 3 MB
each (``attachment``) [official]; a reply breaking those is refused before it is queued
(the connector's ``Limits``) and again here. Posting to a closed folder reopens it
[official]. Back Market's POST takes no idempotency key: a lost answer is an unknown
outcome, and the poller reads the folder back (``sent_messages``) before any retry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keybuzz_shared.connectors.kit import DiscussionReplies
from keybuzz_shared.connectors.seam import InboxMessage, Recipient, Reply, ReplyFile

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


class FolderReplies(DiscussionReplies):
    """The seller's messages on a shop's care folders, through its BackMarketClient."""

    label = "Back Market"
    discussion = "care folder"

    def __init__(self, client: BackMarketClient, inbox: CareInbox) -> None:
        self.client = client
        self.inbox = inbox

    def unsendable(self, reply: Reply) -> str | None:
        if reply.recipient not in RECIPIENTS:
            return f"Back Market's messages go to the buyer and Back Market, not {reply.recipient}"
        if problem := unsendable_files(reply.attachments):
            return problem
        if not reply.thread.id.isdigit():
            return f"{reply.thread.id!r} is not a Back Market care folder"
        return None

    async def send(self, reply: Reply) -> None:
        files = [("attachment", (f.name, f.data, f.content_type)) for f in reply.attachments]
        await self.client.post_form(
            f"/ws/sav/{reply.thread.id}/msg", {"message": reply.body}, files
        )

    async def listed(self, discussion_id: str) -> list[InboxMessage]:
        return inbox_messages_of(await self.inbox.folder(discussion_id))
