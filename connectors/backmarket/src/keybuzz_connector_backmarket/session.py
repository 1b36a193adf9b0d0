"""One Back Market shop's session: its BackMarketClient, and the seam's parts on it: the
inbox and message source (care.py), the reply channel (replies.py) and the order source
(orders.py)."""

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

from keybuzz_connector_backmarket.care import FOLDER_LIST, CareInbox
from keybuzz_connector_backmarket.client import BackMarketClient
from keybuzz_connector_backmarket.orders import ShopOrders
from keybuzz_connector_backmarket.replies import FolderReplies


class BackMarketSession:
    """The seam's ``MarketplaceSession`` of one shop."""

    def __init__(self, client: BackMarketClient, limits: Limits) -> None:
        self.client = client
        self.limits = limits
        self.inbox = CareInbox(client)
        self.replies = FolderReplies(client, self.inbox)
        self.shop_orders = ShopOrders(client)

    def allowance_calls(self) -> int:
        """The folder-list calls this session sent: what Back Market's 4,000 a day count
        (a poll lists no incident: no call for them)."""
        return self.client.sent[FOLDER_LIST]

    async def verify(self) -> None:
        await self.client.get_json("/ws/sav", {"page": "1"})

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

    async def reply(self, reply: Reply) -> ReplyOutcome:
        return await self.replies.reply(reply)

    async def sent_messages(self, thread: ThreadKey, since: datetime) -> list[MarketplaceMessage]:
        return await self.replies.sent_messages(thread, since)

    async def orders(self, *, since: datetime, cursor: str | None = None) -> Page[OrderSummary]:
        return await self.shop_orders.orders(since=since, cursor=cursor)

    async def orders_created(
        self, *, start: datetime, end: datetime, cursor: str | None = None
    ) -> Page[OrderSummary]:
        return await self.shop_orders.orders_created(start=start, end=end, cursor=cursor)

    async def orders_by_id(self, order_ids: Sequence[str]) -> list[OrderSummary]:
        return await self.shop_orders.orders_by_id(order_ids)
