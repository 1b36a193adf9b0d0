"""Replies on a Cdiscount discussion: the seam's ``ReplyChannel`` on Octopia's
``POST /messages`` (docs/CDISCOUNT.md, "Replies").

A reply goes to the recipients Octopia offers for the discussion's next message, read from
the discussion just before it is sent: the buyer (``Customer``), and Octopia's customer
care (``GrcOperator``) once it has written in the discussion or the discussion is a claim.
Files go as Octopia takes them, base64 in the request, within its rules (``ATTACHMENTS``).
"""

from __future__ import annotations

import base64
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from keybuzz_shared.connectors.kit import DiscussionReplies as KitDiscussionReplies
from keybuzz_shared.connectors.seam import InboxMessage, Recipient, Reply, ReplyFile

from keybuzz_connector_cdiscount.discussions import (
    Discussion,
    DiscussionInbox,
    User,
)

if TYPE_CHECKING:
    from keybuzz_connector_cdiscount.client import OctopiaClient

# Octopia's user type of each recipient a reply may name; OPERATOR: none at Octopia.
USER_TYPES: dict[Recipient, tuple[str, ...]] = {
    "BUYER": ("Customer",),
    "MARKETPLACE_SUPPORT": ("GrcOperator",),
    "ALL": ("Customer", "GrcOperator"),
}
# A reply's files (official): at most 3, 4 MB in all, of Octopia's formats, here by the
# media type a reply's file is given with (the connector's ``Limits.attachment_formats``).
MAX_ATTACHMENTS = 3
MAX_ATTACHMENT_BYTES = 4 * 1024 * 1024  # "4 MB", read as MiB as the double does
FILE_FORMATS: dict[str, str] = {
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
# Extensions Octopia names as formats of their own (jpeg beside jpg).
EXTENSIONS = frozenset({*FILE_FORMATS.values(), "jpeg"})


def file_format(file: ReplyFile) -> str | None:
    """Octopia's ``fileFormat`` of a file: its name's extension when Octopia names it,
    else its media type's; None when Octopia takes neither."""
    suffix = PurePath(file.name).suffix.lower().lstrip(".")
    if suffix in EXTENSIONS:
        return suffix
    return FILE_FORMATS.get(file.content_type.strip().lower())


def unsendable_files(files: tuple[ReplyFile, ...]) -> str | None:
    """Why Octopia would refuse these files, if it would."""
    if len(files) > MAX_ATTACHMENTS:
        return f"Cdiscount takes at most {MAX_ATTACHMENTS} attachments a reply"
    total = sum(len(f.data) for f in files)
    if total > MAX_ATTACHMENT_BYTES:
        return f"Cdiscount takes at most 4 MB of attachments a reply ({total} bytes given)"
    for file in files:
        if file_format(file) is None:
            formats = ", ".join(sorted(EXTENSIONS))
            return f"{file.name}: Cdiscount takes only {formats} files"
    return None


def receivers(discussion: Discussion, recipient: Recipient) -> list[User] | str:
    """The discussion's eligible recipients a reply to ``recipient`` goes to, or why none."""
    wanted = USER_TYPES.get(recipient, ())
    eligible = discussion.eligible_receivers or []
    chosen = [u for u in eligible if u.user_type in wanted]
    if not chosen or (recipient == "ALL" and len(chosen) < len(wanted)):
        offered = ", ".join(u.user_type for u in eligible) or "none"
        return (
            f"Cdiscount does not offer {recipient} as a recipient on discussion "
            f"{discussion.id} (eligible: {offered})"
        )
    return chosen


def request(discussion: Discussion, reply: Reply, to: list[User]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "body": reply.body,
        "discussionId": discussion.id,
        "receivers": [
            {"userType": u.user_type, **({"userId": str(u.user_id)} if u.user_id else {})}
            for u in to
        ],
    }
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
    return body


class DiscussionReplies(KitDiscussionReplies):
    """The seller's replies on a shop's discussions, through its OctopiaClient."""

    label = "Cdiscount"

    def __init__(self, client: OctopiaClient, inbox: DiscussionInbox) -> None:
        self.client = client
        self.inbox = inbox

    def unsendable(self, reply: Reply) -> str | None:
        return unsendable_files(reply.attachments)

    async def send(self, reply: Reply) -> str | None:
        discussion = await self.inbox.discussion(reply.thread.id)
        if not discussion.is_open:
            return f"discussion {discussion.id} is closed at Cdiscount"
        to = receivers(discussion, reply.recipient)
        if isinstance(to, str):
            return to
        await self.client.send_json("POST", "/messages", request(discussion, reply, to))
        return None

    async def listed(self, discussion_id: str) -> list[InboxMessage]:
        """The discussion's messages, read from Octopia (``SENT_SKEW``: its dates are whole
        seconds, its clock is not ours)."""
        discussion = await self.inbox.discussion(discussion_id)
        return self.inbox.listed(discussion, await self.inbox.labels())
