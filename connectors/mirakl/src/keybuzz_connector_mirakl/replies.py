"""Replies on a Mirakl thread: the seam's ``ReplyChannel`` on M12
(``POST /api/inbox/threads/{thread_id}/message``, docs/MIRAKL.md, "Replies").

A reply goes to the customer, the operator or both, as the thread allows: its
``authorized_participants``, read (M10) just before it is sent. Files go as M12 takes them,
``files`` parts of the multipart body beside the JSON ``message_input``, within Mirakl's
rules (``unsendable``). A reply whose answer was lost is never sent again here: the
poller reads the thread back (``sent_messages``) before it would retry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from keybuzz_shared.connectors.kit import DiscussionReplies
from keybuzz_shared.connectors.seam import InboxMessage, Recipient, Reply, ReplyFile

from keybuzz_connector_mirakl.client import FilePart
from keybuzz_connector_mirakl.threads import THREADS, Thread, ThreadInbox

if TYPE_CHECKING:
    from keybuzz_connector_mirakl.client import MiraklClient

# Mirakl's participant type of each recipient a reply may name.
PARTICIPANTS: dict[Recipient, tuple[str, ...]] = {
    "BUYER": ("CUSTOMER",),
    "MARKETPLACE_SUPPORT": ("OPERATOR",),
    "ALL": ("CUSTOMER", "OPERATOR"),
}
BODY_LENGTH = (3, 50_000)  # M12's body, characters [official]
MESSAGE_BYTES = 30 * 1024 * 1024  # a message with its files [official, OR43: "30 Megabyte"]
MAX_FILES = 10  # a reply's files: ours (Mirakl counts 50 over all threads of one order)


def unsendable(reply: Reply) -> str | None:
    """Why Mirakl would refuse this reply before reading its thread, if it would."""
    if not BODY_LENGTH[0] <= len(reply.body) <= BODY_LENGTH[1]:
        return f"Mirakl takes a reply of {BODY_LENGTH[0]} to {BODY_LENGTH[1]} characters"
    files: tuple[ReplyFile, ...] = reply.attachments
    if len(files) > MAX_FILES:
        return f"at most {MAX_FILES} files a reply"
    if (total := len(reply.body.encode()) + sum(len(f.data) for f in files)) > MESSAGE_BYTES:
        return f"Mirakl takes a message of 30 MB with its files ({total} bytes given)"
    return None


def recipients(thread: Thread, recipient: Recipient) -> list[dict[str, Any]] | str:
    """M12's ``to`` for ``recipient`` on this thread, or why the thread does not allow it."""
    wanted = PARTICIPANTS.get(recipient, ())
    refused = [kind for kind in wanted if not thread.allows(kind)]
    if not wanted or refused:
        allowed = ", ".join(p.type for p in thread.authorized_participants) or "none"
        return (
            f"Mirakl's thread {thread.id} does not allow a reply to {recipient} "
            f"(participants: {allowed})"
        )
    return [{"type": kind} for kind in wanted]


class ThreadReplies(DiscussionReplies):
    """The seller's replies on a shop's threads, through its MiraklClient."""

    label = "Mirakl"
    discussion = "thread"

    def __init__(self, client: MiraklClient, inbox: ThreadInbox) -> None:
        self.client = client
        self.inbox = inbox

    def unsendable(self, reply: Reply) -> str | None:
        return unsendable(reply)

    async def send(self, reply: Reply) -> str | None:
        thread = await self.inbox.thread(reply.thread.id)
        to = recipients(thread, reply.recipient)
        if isinstance(to, str):
            return to
        message: dict[str, Any] = {"body": reply.body, "to": to}
        files = [
            FilePart(name=f.name, content_type=f.content_type, data=f.data)
            for f in reply.attachments
        ]
        path = f"{THREADS}/{quote(thread.id, safe='')}/message"
        await self.client.post_multipart("M12", path, {"message_input": message}, files)
        return None

    async def listed(self, discussion_id: str) -> list[InboxMessage]:
        """The thread's messages (M10)."""
        return self.inbox.listed(await self.inbox.thread(discussion_id))
