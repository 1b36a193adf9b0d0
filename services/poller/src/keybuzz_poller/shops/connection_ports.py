"""What the shops' connection use cases use, as ports: each shop's connection state and
schedule (``poller_shops``), a unit of work over it, a way to wake the shop scheduler.

The PostgreSQL adapter is ``polling/shops_store.py``'s ``PostgresShops``; the unit tier's
in-memory fake is held to it by ``tests/test_marketplace_contract.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import msgspec
from keybuzz_shared.uow import StoreUnit

from keybuzz_poller.shops.domain import Shop

CONNECTED = "CONNECTED"
DISCONNECTED = "DISCONNECTED"
REAUTH_REQUIRED = "REAUTH_REQUIRED"


class ShopStatus(msgspec.Struct, kw_only=True):
    """A shop's connection as the poller last heard of it, and how its polls went."""

    marketplace: str
    seller_id: str
    connection: str  # CONNECTED (polled), DISCONNECTED, REAUTH_REQUIRED
    polling: bool  # leased, and the lease has not expired
    next_poll_at: datetime | None
    last_poll_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None  # why the last poll failed (an outage's message, or its kind)
    last_error_at: datetime | None
    consecutive_failures: int
    messages_fetched: int
    # Listing calls spent this UTC day (``poller_shop_calls``): for a marketplace with a
    # daily allowance.
    calls_today: int = 0


class ShopConnections(Protocol):
    async def connect(self, shop: Shop, seller_id: str, as_of: datetime) -> bool:
        """CONNECTED and due now, unless a newer event set its state; True when applied."""
        ...

    async def disconnect(self, shop: Shop, connection: str, as_of: datetime) -> str | None:
        """Not polled any more (DISCONNECTED, REAUTH_REQUIRED), unless a newer event set its
        state; the shop's seller id when applied, else None."""
        ...

    async def statuses(self, tenant_id: str) -> list[ShopStatus]:
        """The tenant's shops, by marketplace."""
        ...

    async def polled_shops(self, marketplace: str) -> int:
        """How many of ``marketplace``'s shops are polled now (CONNECTED, their tenant not
        archived): what shares its application call budget, alike for every instance."""
        ...

    async def forget_received(self, shop: Shop) -> int:
        """Deletes what the shop's polls brought the tenant (its tickets of that marketplace
        with their messages, attachments, incidents, replies and alerts) and its cursors;
        returns how many tickets."""
        ...


ShopConnectionUnit = StoreUnit[ShopConnections]


def _nothing_cached(shop: Shop) -> None:
    """No key cached."""


@dataclass(frozen=True)
class ShopPollingPorts:
    """What the shops' connection use cases touch; made once per process (``bootstrap.py``)."""

    connections: ShopConnections  # reads and single-statement writes
    unit_of_work: Callable[[], AbstractAsyncContextManager[ShopConnectionUnit]]
    wake: Callable[[], None]  # this instance's shop scheduler claims at once (if it runs)
    clock: Callable[[], datetime]
    # The shop's key as this process cached it is dropped: it changed, was refused, or the
    # shop is gone (``ApiMessageSource.forget_key``; nothing to drop in the unit tier).
    forget_key: Callable[[Shop], None] = _nothing_cached
