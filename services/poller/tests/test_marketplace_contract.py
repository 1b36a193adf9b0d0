"""One contract, two adapters: every scenario runs on the in-memory fakes of marketplace
shops the unit tier uses (``poller_shop_fakes.py``: ``InMemoryShopStore``,
``InMemoryShops``) and on the PostgreSQL adapters (``tickets/marketplace_store.py``'s
``PostgresShopStore``, ``polling/shops_store.py``'s ``PostgresShops``), so a fake that
answers differently from the SQL fails here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from keybuzz_poller.polling.shop_ports import (
    CONNECTED,
    DISCONNECTED,
    REAUTH_REQUIRED,
    ShopConnections,
)
from keybuzz_poller.polling.shops_store import PostgresShops
from keybuzz_poller.reading.marketplace.domain import (
    NOTICE_SUBJECT,
    SELLER,
    Attachment,
    Shop,
    ShopCursor,
    ShopIncident,
    ShopMessage,
    thread_key,
)
from keybuzz_poller.reading.marketplace.ports import ShopStore
from keybuzz_poller.service import DEFINITION
from keybuzz_poller.tickets.marketplace_store import PostgresShopStore
from keybuzz_shared.db import apply_migrations, create_pool
from poller_shop_fakes import T0, InMemoryShops, InMemoryShopStore, ShopTables
from poller_shop_fakes import shop_message as message

SHOP = Shop("t1", "FNAC")
DARTY = Shop("t1", "DARTY")
OTHER = Shop("t2", "FNAC")
MINUTE = timedelta(minutes=1)
AT = message("m0").created_at  # the messages' minute 0


@dataclass
class Adapters:
    store: ShopStore
    shops: ShopConnections


@pytest.fixture(params=["memory", "postgres"])
async def adapters(
    request: pytest.FixtureRequest, make_database: Callable[[str], Awaitable[str]]
) -> AsyncIterator[Adapters]:
    if request.param == "memory":
        store = InMemoryShopStore(ShopTables())
        yield Adapters(store, InMemoryShops(lambda: store))
        return
    pool = await create_pool(await make_database("shops"))
    assert DEFINITION.migrations is not None
    await apply_migrations(pool, DEFINITION.name, DEFINITION.migrations)
    yield Adapters(PostgresShopStore(pool), PostgresShops(pool))
    await pool.close()


def incident(status: str = "OPENED", updated: int = 0, minutes: int = 0) -> ShopIncident:
    return ShopIncident(
        incident_id="INC1",
        order_id="ORD1",
        status=status,
        types=["8"],
        waiting_for_seller=True,
        opened_by="client",
        message="Une réclamation a été ouverte",
        created_at=AT + minutes * MINUTE,
        updated_at=AT + updated * MINUTE,
    )


async def connected(adapters: Adapters, *shops: Shop) -> None:
    for shop in shops or (SHOP,):
        assert await adapters.shops.connect(shop, f"seller-{shop.key}", T0)


async def stored(adapters: Adapters, shop: Shop, found: ShopMessage, mark: bool = False) -> str:
    added = await adapters.store.add_message(shop, found, [], T0, mark)
    assert added is not None
    return added


async def connection_of(adapters: Adapters, tenant_id: str) -> list[tuple[str, str, str]]:
    return [
        (s.marketplace, s.seller_id, s.connection) for s in await adapters.shops.statuses(tenant_id)
    ]


# --- connection state --------------------------------------------------------------------


async def test_a_connection_state_applies_only_when_newer(adapters: Adapters) -> None:
    shops = adapters.shops
    assert await shops.connect(SHOP, "s1", T0)
    assert not await shops.connect(SHOP, "s1", T0)  # redelivered: as old
    assert await shops.disconnect(SHOP, DISCONNECTED, T0) is None
    assert await shops.disconnect(SHOP, REAUTH_REQUIRED, T0 + MINUTE) == "s1"
    assert await connection_of(adapters, "t1") == [("FNAC", "s1", REAUTH_REQUIRED)]
    assert not await shops.connect(SHOP, "s2", T0 + MINUTE / 2)  # older than the refusal
    assert await shops.connect(SHOP, "s2", T0 + 2 * MINUTE)  # connected again
    assert await shops.disconnect(DARTY, DISCONNECTED, T0) is None  # never connected
    assert await connection_of(adapters, "t1") == [("FNAC", "s2", CONNECTED)]


async def test_statuses_are_the_tenants_shops_by_marketplace(adapters: Adapters) -> None:
    await connected(adapters, SHOP, DARTY, OTHER)
    assert await adapters.shops.disconnect(DARTY, DISCONNECTED, T0 + MINUTE)
    assert await connection_of(adapters, "t1") == [
        ("DARTY", f"seller-{DARTY.key}", DISCONNECTED),
        ("FNAC", f"seller-{SHOP.key}", CONNECTED),
    ]
    assert await connection_of(adapters, "nobody") == []


# --- cursors -----------------------------------------------------------------------------


async def test_a_cursor_is_saved_per_shop_and_only_for_a_shop_that_exists(
    adapters: Adapters,
) -> None:
    store = adapters.store
    assert await store.cursor(SHOP) == ShopCursor()
    await store.save_cursor(SHOP, ShopCursor(messages_since=T0))  # no shop yet: nothing
    assert await store.cursor(SHOP) == ShopCursor()
    await connected(adapters, SHOP, DARTY)
    moved = ShopCursor(messages_since=T0, incidents_since=T0 + MINUTE)
    await store.save_cursor(SHOP, moved)
    assert await store.cursor(SHOP) == moved
    assert await store.cursor(DARTY) == ShopCursor()


# --- messages ----------------------------------------------------------------------------


async def test_a_message_is_stored_once_per_shop_by_its_marketplace_id(
    adapters: Adapters,
) -> None:
    await connected(adapters, SHOP, DARTY)
    store = adapters.store
    first = await store.add_message(SHOP, message("m1"), [], T0, False)
    assert first is not None
    assert await store.add_message(SHOP, message("m1", 5), [], T0, True) is None
    assert await store.known_messages(SHOP, ["m1", "m2"]) == {"m1"}
    assert await store.known_messages(DARTY, ["m1"]) == set()  # another shop's id space
    assert await store.add_message(DARTY, message("m1"), [], T0, False) not in (None, first)
    files = [
        Attachment(filename="a.pdf", content_type="application/pdf", size=3, content=b"abc"),
        Attachment(filename="b.mp4", content_type="video/mp4", size=None, skipped="too large"),
    ]
    assert await store.add_message(SHOP, message("m2"), files, T0, False) is not None


async def test_a_thread_has_one_ticket_reopened_and_its_messages_join_it(
    adapters: Adapters,
) -> None:
    await connected(adapters, SHOP, OTHER)
    store = adapters.store
    first = message("m1")
    key = thread_key(first)
    assert await store.ticket_of(SHOP, key) is None
    ticket = await store.open_ticket(SHOP, key, first, T0)
    assert await store.open_ticket(SHOP, key, message("m2", 1), T0 + MINUTE) == ticket
    assert await store.ticket_of(SHOP, key) == ticket
    assert await store.ticket_of(OTHER, key) is None  # another tenant's order of that id
    assert await store.ticket_of(SHOP, thread_key(message("m3", order="ORD2"))) is None
    one = await store.thread_message(
        ticket, await stored(adapters, SHOP, first), "INBOUND", True, T0
    )
    seller = await stored(adapters, SHOP, message("s1", 2, sender=SELLER))
    two = await store.thread_message(ticket, seller, "OUTBOUND", False, T0 + MINUTE)
    assert one != two


async def test_an_incident_is_near_its_notice_and_saved_when_new_or_changed(
    adapters: Adapters,
) -> None:
    await connected(adapters)
    store = adapters.store
    notice = message("n1", 2, subject=f"{NOTICE_SUBJECT.capitalize()} : colis")
    ticket = await store.open_ticket(SHOP, thread_key(notice), notice, T0)
    assert not await store.has_notice(ticket, AT)
    await store.thread_message(ticket, await stored(adapters, SHOP, notice), "INBOUND", True, T0)
    assert await store.has_notice(ticket, AT)  # 2 minutes apart: its notice
    assert not await store.has_notice(ticket, AT + 10 * MINUTE)
    assert await store.incident_near(SHOP, "ORD1", AT) is None
    assert await store.save_incident(SHOP, incident(), ticket)
    assert not await store.save_incident(SHOP, incident(), ticket)  # seen as it is
    assert await store.save_incident(SHOP, incident("CLOSED", updated=60), ticket)
    assert await store.incident_near(SHOP, "ORD1", AT + 4 * MINUTE) == AT
    assert await store.incident_near(SHOP, "ORD1", AT + 6 * MINUTE) is None
    assert await store.incident_near(SHOP, "ORD2", AT) is None
    assert await store.incident_near(OTHER, "ORD1", AT) is None


async def test_marks_wait_oldest_first_until_done(adapters: Adapters) -> None:
    await connected(adapters, SHOP, DARTY)
    for name, minutes, mark in (("m3", 3, True), ("m1", 1, True), ("m2", 2, False)):
        await stored(adapters, SHOP, message(name, minutes), mark)
    await stored(adapters, DARTY, message("d1"), True)
    store = adapters.store
    assert await store.pending_marks(SHOP, 10) == ["m1", "m3"]
    assert await store.pending_marks(SHOP, 1) == ["m1"]
    await store.marks_done(SHOP, ["m1", "d1"])  # d1 is Darty's: untouched here
    assert await store.pending_marks(SHOP, 10) == ["m3"]
    assert await store.pending_marks(DARTY, 10) == ["d1"]
