"""One Mirakl shop's session: its MiraklClient (the key, the operator's API, the
Retry-After each operation was given) and the seam's parts on it: the inbox and message
source (threads.py) and the reply channel (replies.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from keybuzz_shared.connectors.seam import (
    InboxFile,
    InboxIncident,
    InboxMessage,
    Limits,
    MarketplaceMessage,
    OrderSummary,
    Page,
    Reply,
    ReplyOutcome,
    ThreadKey,
)

from keybuzz_connector_mirakl.client import MiraklClient
from keybuzz_connector_mirakl.credentials import probe
from keybuzz_connector_mirakl.replies import ThreadReplies
from keybuzz_connector_mirakl.threads import ThreadInbox


class MiraklSession:
    """The seam's ``MarketplaceSession`` of one shop of one operator."""

    def __init__(self, client: MiraklClient, limits: Limits, *, operator_name: str) -> None:
        self.client = client
        self.limits = limits
        self.inbox = ThreadInbox(client, operator_name=operator_name, page_size=limits.page_size)
        self.replies = ThreadReplies(client, self.inbox)

    async def verify(self) -> None:
        """The credential check's call (credentials.probe): 401/403 for a key or shop
        Mirakl refuses."""
        await probe(self.client)

    # --- messages and the inbox -------------------------------------------------------------

    async def messages(
        self, *, since: datetime, cursor: str | None = None
    ) -> Page[MarketplaceMessage]:
        return await self.inbox.messages(since=since, cursor=cursor)

    async def inbox_messages(
        self, *, since: datetime, cursor: str | None = None
    ) -> Page[InboxMessage]:
        return await self.inbox.inbox_messages(since=since, cursor=cursor)

    async def incidents(self, *, since: datetime, cursor: str | None = None) -> Page[InboxIncident]:
        return await self.inbox.incidents(since=since, cursor=cursor)

    async def mark_read(self, message_ids: Sequence[str]) -> int:
        return await self.inbox.mark_read(message_ids)

    async def file(self, file: InboxFile, max_bytes: int) -> bytes:
        return await self.inbox.file(file, max_bytes)

    # --- replies ------------------------------------------------------------------------------

    async def reply(self, reply: Reply) -> ReplyOutcome:
        return await self.replies.reply(reply)

    async def sent_messages(self, thread: ThreadKey, since: datetime) -> list[MarketplaceMessage]:
        return await self.replies.sent_messages(thread, since)

    # --- orders (OR11: orders.py) -------------------------------------------------------------

    async def orders(self, *, since: datetime, cursor: str | None = None) -> Page[OrderSummary]:
        return Page(items=(), next_cursor=None)

    async def orders_created(
        self, *, start: datetime, end: datetime, cursor: str | None = None
    ) -> Page[OrderSummary]:
        return Page(items=(), next_cursor=None)

    async def orders_by_id(self, order_ids: Sequence[str]) -> list[OrderSummary]:
        return []
