"""Closing a ticket on its marketplace (``shops/closing.py``), on in-memory fakes: asked of
the marketplace once, the ticket CLOSED only once it agreed; a marketplace without the
part, a thread that is none of the marketplace's and another tenant's ticket refused
before anything is asked; a refusal or an outage leaves the ticket open. The wiring, on
PostgreSQL and the Kaufland double: ``tests/conformance/test_shop_replies.py``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from keybuzz_poller.shops.closing import CloseNotSupported, close_ticket, closing_part
from keybuzz_poller.shops.closing_ports import CloseRefused, ClosingPorts, TicketToClose
from keybuzz_poller.shops.domain import Shop
from keybuzz_poller.shops.ports import MarketplaceUnavailable, ShopKeyRefused
from keybuzz_poller.tickets.queries import TicketNotFound
from keybuzz_shared.connectors.seam import MarketplaceSession, ThreadClosing, ThreadKey
from keybuzz_shared.uow import StoreUnit

TENANT = "t1"


class ClosingTickets:
    """``ClosingStore``'s fake: a ticket held by one unit of work at a time, its CLOSED kept
    only when the unit's block returns (as the transaction commits)."""

    def __init__(self) -> None:
        self.tickets: dict[str, tuple[str, TicketToClose]] = {}  # id → tenant, ticket
        self.locks: dict[str, asyncio.Lock] = {}

    def add(self, ticket_id: str, marketplace: str = "KAUFLAND", key: str = "") -> None:
        thread_key = key or f"discussion:001{ticket_id}"
        ticket = TicketToClose(
            marketplace=marketplace, thread_key=thread_key, order_id="K001ABC", closed=False
        )
        self.tickets[ticket_id] = (TENANT, ticket)

    def closed(self, ticket_id: str) -> bool:
        return self.tickets[ticket_id][1].closed

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[StoreUnit[_Held]]:
        held = _Held(self)
        try:
            yield StoreUnit(held)
            for ticket_id in held.closing:
                tenant, ticket = self.tickets[ticket_id]
                self.tickets[ticket_id] = (
                    tenant,
                    TicketToClose(**{**_fields(ticket), "closed": True}),
                )
        finally:
            for lock in held.locks:
                lock.release()


def _fields(ticket: TicketToClose) -> dict[str, object]:
    return {f: getattr(ticket, f) for f in ticket.__struct_fields__}


class _Held:
    def __init__(self, tables: ClosingTickets) -> None:
        self.tables = tables
        self.locks: list[asyncio.Lock] = []
        self.closing: list[str] = []

    async def held_ticket(self, tenant_id: str, ticket_id: str) -> TicketToClose | None:
        lock = self.tables.locks.setdefault(ticket_id, asyncio.Lock())
        await lock.acquire()
        self.locks.append(lock)
        found = self.tables.tickets.get(ticket_id)
        return found[1] if found is not None and found[0] == tenant_id else None

    async def mark_closed(self, tenant_id: str, ticket_id: str) -> None:
        self.closing.append(ticket_id)


class Marketplace:
    """``ThreadCloser``'s fake: each close asked recorded; ``refusing`` its refusal's
    reason, ``down`` an outage; ``gate`` holds a close until it is set."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.refusing: str | None = None
        self.down = False
        self.gate = asyncio.Event()
        self.gate.set()

    async def close_thread(self, shop: Shop, part: ThreadClosing, thread: ThreadKey) -> None:
        self.asked.append(thread.id)
        await self.gate.wait()
        if self.down:
            raise MarketplaceUnavailable(f"{shop.marketplace} unavailable")
        if self.refusing is not None:
            raise CloseRefused(f"{shop.marketplace} refused to close the ticket: {self.refusing}")


class Part:
    async def close_thread(self, session: MarketplaceSession, thread: ThreadKey) -> None:
        raise AssertionError("the fake marketplace is asked, not the part")


REAUTH: list[tuple[str, str, str]] = []  # the shops a close found with their key refused


async def _key_refused(tenant_id: str, marketplace: str, reason: str) -> None:
    REAUTH.append((tenant_id, marketplace, reason))


def closing() -> tuple[ClosingPorts, ClosingTickets, Marketplace]:
    tickets, marketplace = ClosingTickets(), Marketplace()
    REAUTH.clear()
    ports = ClosingPorts(
        unit_of_work=tickets.unit,
        marketplaces=marketplace,
        part_of=lambda m: Part() if m == "KAUFLAND" else None,
        key_refused=_key_refused,
    )
    return ports, tickets, marketplace


async def test_a_ticket_is_closed_on_its_marketplace_then_in_our_rows() -> None:
    ports, tickets, marketplace = closing()
    tickets.add("42")
    await close_ticket(ports, TENANT, "42")
    assert marketplace.asked == ["00142"]
    assert tickets.closed("42")


async def test_two_closes_at_once_ask_the_marketplace_once() -> None:
    ports, tickets, marketplace = closing()
    tickets.add("42")
    marketplace.gate.clear()
    both = asyncio.gather(*(close_ticket(ports, TENANT, "42") for _ in range(2)))
    await asyncio.sleep(0)  # the first holds the ticket, the second waits for it
    marketplace.gate.set()
    await both
    await close_ticket(ports, TENANT, "42")  # asked again once it is CLOSED
    assert marketplace.asked == ["00142"]
    assert tickets.closed("42")


async def test_a_refused_close_leaves_the_ticket_open_with_the_marketplaces_reason() -> None:
    ports, tickets, marketplace = closing()
    tickets.add("42")
    marketplace.refusing = "The ticket is finally closed"
    with pytest.raises(CloseRefused, match="The ticket is finally closed"):
        await close_ticket(ports, TENANT, "42")
    assert not tickets.closed("42")


async def test_an_outage_leaves_the_ticket_open_and_a_later_close_closes_it() -> None:
    ports, tickets, marketplace = closing()
    tickets.add("42")
    marketplace.down = True
    with pytest.raises(MarketplaceUnavailable):
        await close_ticket(ports, TENANT, "42")
    assert not tickets.closed("42")
    marketplace.down = False
    await close_ticket(ports, TENANT, "42")
    assert marketplace.asked == ["00142", "00142"]
    assert tickets.closed("42")


@pytest.mark.parametrize(
    ("marketplace_of", "key"),
    [("AMAZON", ""), ("KAUFLAND", "message:<a@b>")],
    ids=["marketplace-without-the-part", "no-marketplace-thread"],
)
async def test_a_ticket_its_marketplace_cannot_close_is_refused_before_asking(
    marketplace_of: str, key: str
) -> None:
    ports, tickets, marketplace = closing()
    tickets.add("42", marketplace_of, key)
    with pytest.raises(
        CloseNotSupported, match=f"{marketplace_of} does not let a ticket be closed"
    ):
        await close_ticket(ports, TENANT, "42")
    assert marketplace.asked == []
    assert not tickets.closed("42")


async def test_another_tenants_ticket_is_not_found() -> None:
    ports, tickets, marketplace = closing()
    tickets.add("42")
    with pytest.raises(TicketNotFound):
        await close_ticket(ports, "t2", "42")
    with pytest.raises(TicketNotFound):
        await close_ticket(ports, TENANT, "43")
    assert marketplace.asked == []


def test_only_a_connector_that_declares_the_part_closes() -> None:
    assert closing_part("KAUFLAND") is not None
    assert closing_part("AMAZON") is None
    assert closing_part("FNAC") is None
    assert closing_part("NOT_A_MARKETPLACE") is None


async def test_a_refused_key_is_told_as_the_sellers_to_mend() -> None:
    ports, tickets, marketplace = closing()
    tickets.add("42")

    async def key_refused(shop: Shop, part: ThreadClosing, thread: ThreadKey) -> None:
        raise ShopKeyRefused("KAUFLAND refused the shop's key")

    marketplace.close_thread = key_refused  # type: ignore[method-assign]
    with pytest.raises(CloseRefused, match="connect the shop again"):
        await close_ticket(ports, TENANT, "42")
    assert not tickets.closed("42")
    # The shop is REAUTH_REQUIRED, as when a poll or a reply meets its key refused.
    assert REAUTH == [(TENANT, "KAUFLAND", "KAUFLAND refused the shop's key")]
