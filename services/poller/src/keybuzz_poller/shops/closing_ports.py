"""What closing a ticket on its marketplace uses (``shops/closing.py``): the ticket held
against another close while the marketplace is asked, and the marketplace's call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

import msgspec
from keybuzz_shared.connectors.seam import ThreadClosing, ThreadKey
from keybuzz_shared.uow import StoreUnit

from keybuzz_poller.shops.domain import Shop


class CloseRefused(Exception):
    """The marketplace refused to close the ticket; the message is its reason."""


class TicketToClose(msgspec.Struct, frozen=True, kw_only=True):
    """A ticket as a close reads it (its tenant's, held by the close's unit of work)."""

    marketplace: str
    thread_key: str
    order_id: str | None
    closed: bool  # our row says CLOSED


class ClosingStore(Protocol):
    async def held_ticket(self, tenant_id: str, ticket_id: str) -> TicketToClose | None:
        """The tenant's ticket, no other close of it running until the unit of work ends
        (None: no such ticket for the tenant)."""
        ...

    async def mark_closed(self, tenant_id: str, ticket_id: str) -> None: ...


class ThreadCloser(Protocol):
    async def close_thread(self, shop: Shop, part: ThreadClosing, thread: ThreadKey) -> None:
        """Closes ``thread`` through the shop's session. Raises CloseRefused (the
        marketplace's reason), ``ports.MarketplaceUnavailable`` (nothing done: retry),
        ``ShopKeyRefused``, ``MarketplaceAnswerInvalid``."""
        ...


@dataclass(frozen=True)
class ClosingPorts:
    unit_of_work: Callable[[], AbstractAsyncContextManager[StoreUnit[ClosingStore]]]
    marketplaces: ThreadCloser
    # The marketplace's connector's ``thread_closing`` part (None: it cannot close).
    part_of: Callable[[str], ThreadClosing | None]
    # The marketplace refused the shop's key (tenant, marketplace, its words): the shop is
    # REAUTH_REQUIRED, as when a poll or a reply meets it.
    key_refused: Callable[[str, str, str], Awaitable[None]]
