"""One Mirakl shop's session: its MiraklClient (the key, the operator's API, the
Retry-After each operation was given) and the seam's parts on it: the inbox and message
source (threads.py), the reply channel (replies.py) and the order source (orders.py)."""

from __future__ import annotations

from datetime import datetime

from keybuzz_shared.connectors.seam import (
    Limits,
    PartsSession,
)

from keybuzz_connector_mirakl.client import MiraklClient
from keybuzz_connector_mirakl.credentials import probe
from keybuzz_connector_mirakl.orders import ShopOrders
from keybuzz_connector_mirakl.replies import ThreadReplies
from keybuzz_connector_mirakl.statistics import ResponseDelay, ResponseDelays
from keybuzz_connector_mirakl.threads import ThreadInbox


class MiraklSession(PartsSession):
    """The seam's ``MarketplaceSession`` of one shop of one operator."""

    def __init__(
        self,
        client: MiraklClient,
        limits: Limits,
        *,
        operator_name: str,
        orders_interval: float = 0.0,
    ) -> None:
        inbox = ThreadInbox(client, operator_name=operator_name, page_size=limits.page_size)
        orders = ShopOrders(
            client, label=f"{client.operator}/{client.shop_id}", interval=orders_interval
        )
        super().__init__(inbox, ThreadReplies(client, inbox), orders)
        self.client = client
        self.limits = limits
        self.response_delays = ResponseDelays(client)

    async def verify(self) -> None:
        """The credential check's call (credentials.probe): 401/403 for a key or shop
        Mirakl refuses."""
        await probe(self.client)

    # --- the shop's own figures at Mirakl -----------------------------------------------------

    async def response_delay(self, start: datetime, end: datetime) -> ResponseDelay | None:
        """A21's ``order_messages_response_delay`` for the window (statistics.py): the
        session's one A21 call a day."""
        return await self.response_delays.for_window(start, end)
