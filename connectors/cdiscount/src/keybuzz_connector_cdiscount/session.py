"""One Cdiscount shop's session: its OctopiaClient (one token), and the seam's parts on it:
the inbox and message source (discussions.py), the reply channel (replies.py) and the
order source (orders.py)."""

from __future__ import annotations

from keybuzz_shared.connectors.seam import (
    Limits,
    PartsSession,
)

from keybuzz_connector_cdiscount.client import OctopiaClient
from keybuzz_connector_cdiscount.discussions import DiscussionInbox
from keybuzz_connector_cdiscount.orders import ShopOrders
from keybuzz_connector_cdiscount.replies import DiscussionReplies


class CdiscountSession(PartsSession):
    """The seam's ``MarketplaceSession`` of one shop."""

    def __init__(
        self, client: OctopiaClient, limits: Limits, *, mark_budget: float | None = None
    ) -> None:
        inbox = DiscussionInbox(client, page_size=limits.page_size, mark_budget=mark_budget)
        orders = ShopOrders(client, page_size=limits.page_size)
        super().__init__(inbox, DiscussionReplies(client, inbox), orders)
        self.client = client
        self.limits = limits

    async def verify(self) -> None:
        await self.client.authenticate()
