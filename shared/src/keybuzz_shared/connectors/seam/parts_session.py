"""A shop's ``MarketplaceSession`` made of its three parts, each on the shop's one client:
the inbox (listings, incidents, read marks, files), the reply channel and the order
source. A connector's session subclasses it with its client and ``verify``; what it adds
of its own (counted calls, figures) sits beside these."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from keybuzz_shared.connectors.seam.messages import (
    InboxFile,
    InboxMessage,
    MessageSource,
    Reply,
    ReplyChannel,
    ReplyOutcome,
    ThreadKey,
)
from keybuzz_shared.connectors.seam.orders import OrderSource, OrderSummary
from keybuzz_shared.connectors.seam.page import Page
from keybuzz_shared.connectors.seam.shop_api import InboxIncident, InboxSource


class SessionInbox(MessageSource, InboxSource, Protocol):
    """A shop's inbox as both the poller's listings and the replies' read-back see it."""


class PartsSession:
    """The seam's calls of one shop, each handed to the part that makes it."""

    def __init__(self, inbox: SessionInbox, replies: ReplyChannel, orders: OrderSource) -> None:
        self.inbox = inbox
        self.replies = replies
        self.shop_orders = orders

    # --- messages and the inbox -------------------------------------------------------------

    async def messages(self, *, since: datetime, cursor: str | None = None) -> Page[InboxMessage]:
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

    # --- replies ----------------------------------------------------------------------------

    async def reply(self, reply: Reply) -> ReplyOutcome:
        return await self.replies.reply(reply)

    async def sent_messages(self, thread: ThreadKey, since: datetime) -> list[InboxMessage]:
        return await self.replies.sent_messages(thread, since)

    # --- orders -----------------------------------------------------------------------------

    async def orders(self, *, since: datetime, cursor: str | None = None) -> Page[OrderSummary]:
        return await self.shop_orders.orders(since=since, cursor=cursor)

    async def orders_created(
        self, *, start: datetime, end: datetime, cursor: str | None = None
    ) -> Page[OrderSummary]:
        return await self.shop_orders.orders_created(start=start, end=end, cursor=cursor)

    async def orders_by_id(self, order_ids: Sequence[str]) -> list[OrderSummary]:
        return await self.shop_orders.orders_by_id(order_ids)
