"""One Cdiscount shop's session: its OctopiaClient (one token), and the seam's parts on it:
the inbox and message source (discussions.py), the reply channel (replies.py) and the
order source (orders.py)."""

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

from keybuzz_connector_cdiscount.client import OctopiaClient
from keybuzz_connector_cdiscount.discussions import DiscussionInbox
from keybuzz_connector_cdiscount.orders import ShopOrders
from keybuzz_connector_cdiscount.replies import DiscussionReplies


class CdiscountSession:
    """The seam's ``MarketplaceSession`` of one shop."""

    def __init__(
        self, client: OctopiaClient, limits: Limits, *, mark_budget: float | None = None
    ) -> None:
        self.client = client
        self.limits = limits
        self.inbox = DiscussionInbox(client, page_size=limits.page_size, mark_budget=mark_budget)
        self.replies = DiscussionReplies(client, self.inbox)
        self.shop_orders = ShopOrders(client, page_size=limits.page_size)

    async def verify(self) -> None:
        await self.client.authenticate()

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

    # --- orders -------------------------------------------------------------------------------

    async def orders(self, *, since: datetime, cursor: str | None = None) -> Page[OrderSummary]:
        return await self.shop_orders.orders(since=since, cursor=cursor)

    async def orders_created(
        self, *, start: datetime, end: datetime, cursor: str | None = None
    ) -> Page[OrderSummary]:
        return await self.shop_orders.orders_created(start=start, end=end, cursor=cursor)

    async def orders_by_id(self, order_ids: Sequence[str]) -> list[OrderSummary]:
        return await self.shop_orders.orders_by_id(order_ids)
