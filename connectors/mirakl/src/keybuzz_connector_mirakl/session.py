"""One Mirakl shop's session: its MiraklClient (the key, the operator's API, the
Retry-After each operation was given) and the seam's parts on it: the inbox and message
source (threads.py), the reply channel (replies.py) and the order source (orders.py)."""

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
from keybuzz_connector_mirakl.orders import ShopOrders
from keybuzz_connector_mirakl.replies import ThreadReplies
from keybuzz_connector_mirakl.statistics import ResponseDelay, order_messages_response_delay
from keybuzz_connector_mirakl.threads import ThreadInbox


class MiraklSession:
    """The seam's ``MarketplaceSession`` of one shop of one operator."""

    def __init__(
        self,
        client: MiraklClient,
        limits: Limits,
        *,
        operator_name: str,
        orders_interval: float = 0.0,
    ) -> None:
        self.client = client
        self.limits = limits
        self.inbox = ThreadInbox(client, operator_name=operator_name, page_size=limits.page_size)
        self.replies = ThreadReplies(client, self.inbox)
        self.shop_orders = ShopOrders(
            client, label=f"{client.operator}/{client.shop_id}", interval=orders_interval
        )

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

    # --- orders -------------------------------------------------------------------------------

    async def orders(self, *, since: datetime, cursor: str | None = None) -> Page[OrderSummary]:
        return await self.shop_orders.orders(since=since, cursor=cursor)

    async def orders_created(
        self, *, start: datetime, end: datetime, cursor: str | None = None
    ) -> Page[OrderSummary]:
        return await self.shop_orders.orders_created(start=start, end=end, cursor=cursor)

    async def orders_by_id(self, order_ids: Sequence[str]) -> list[OrderSummary]:
        return await self.shop_orders.orders_by_id(order_ids)

    # --- the shop's own figures at Mirakl -----------------------------------------------------

    async def response_delay(self, start: datetime, end: datetime) -> ResponseDelay | None:
        """A21's ``order_messages_response_delay`` for the window (statistics.py)."""
        return await order_messages_response_delay(self.client, start, end)
