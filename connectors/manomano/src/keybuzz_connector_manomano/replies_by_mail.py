"""A shop API whose marketplace's buyers write by mail (its relay, the poller's mail path):
its session's inbox lists no message and its replies go by mail, never through the API
(``seam.messages_by_api`` is False for it, so nothing polls the one nor asks the other)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from keybuzz_shared.connectors.seam import (
    InboxFile,
    InboxMessage,
    Page,
    Reply,
    ReplyOutcome,
    ThreadKey,
    ThreadsInbox,
    failed_reply,
)


class NoMessages(ThreadsInbox):
    """An API that lists no messages: the marketplace's buyers write by mail."""

    async def inbox_messages(
        self, *, since: datetime, cursor: str | None = None
    ) -> Page[InboxMessage]:
        return Page(items=(), next_cursor=None)

    async def mark_read(self, message_ids: Sequence[str]) -> int:
        return 0

    async def file(self, file: InboxFile, max_bytes: int) -> bytes:
        return b""


class RepliesByMail:
    """A reply goes through the marketplace's mail relay, never through its API; ``label``
    names the marketplace in the refusal."""

    def __init__(self, label: str) -> None:
        self.label = label

    async def reply(self, reply: Reply) -> ReplyOutcome:
        return failed_reply(f"{self.label} takes replies by mail only, through its relay")

    async def sent_messages(self, thread: ThreadKey, since: datetime) -> list[InboxMessage]:
        return []
