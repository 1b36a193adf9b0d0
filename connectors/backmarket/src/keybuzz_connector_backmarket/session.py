"""One Back Market shop's session: its BackMarketClient, and the seam's parts on it: the
inbox and message source (care.py), the reply channel (replies.py) and the order source
(orders.py)."""

from __future__ import annotations

from keybuzz_shared.connectors.seam import (
    Limits,
    PartsSession,
)

from keybuzz_connector_backmarket.care import CareInbox
from keybuzz_connector_backmarket.client import BackMarketClient
from keybuzz_connector_backmarket.orders import ShopOrders
from keybuzz_connector_backmarket.replies import FolderReplies


class BackMarketSession(PartsSession):
    """The seam's ``MarketplaceSession`` of one shop."""

    def __init__(self, client: BackMarketClient, limits: Limits) -> None:
        inbox = CareInbox(client)
        super().__init__(inbox, FolderReplies(client, inbox), ShopOrders(client))
        self.client = client
        self.limits = limits
        self.care = inbox

    def allowance_calls(self) -> int:
        """The folder-list calls this session sent: what Back Market's 4,000 a day count
        (a poll lists no incident: no call for them)."""
        return self.client.allowance_calls()

    def limit_allowance_calls(self, total: int | None) -> None:
        """The seam's ``LimitsAllowanceCalls``: a listing's folder-list calls stop at
        ``total`` (a poll's first page lists every folder changed, one call a 10)."""
        self.client.limit_allowance_calls(total)

    async def verify(self) -> None:
        await self.client.get_json("/ws/sav", {"page": "1"})
