"""A marketplace on which the seller closes a ticket's thread through its API (the poller's
``POST /api/v1/tickets/{id}/close``). A connector whose marketplace offers no such call
lacks the part: the poller then refuses the close before anything is asked."""

from __future__ import annotations

from typing import Protocol

from keybuzz_shared.connectors.seam.messages import ThreadKey
from keybuzz_shared.connectors.seam.shop_api import MarketplaceSession


class ThreadClosing(Protocol):
    """Closing a thread on the marketplace, through the shop's one session."""

    async def close_thread(self, session: MarketplaceSession, thread: ThreadKey) -> None:
        """Closes ``thread`` on the session's shop; returns once the marketplace agreed.
        Raises RequestRefused with the marketplace's reason when it refuses (a thread
        closed for good, an action it restricts), MarketplaceUnavailable when nothing was
        done, CredentialsRefused, or another ConnectorError for an answer it cannot read. A
        close is the same asked twice: a lost answer may be asked again."""
        ...
