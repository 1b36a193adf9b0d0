"""How ``ConnectorOrderSource`` plans a backfill's window and a sync's listing, on a
session of the seam that only records what it was asked: date windows of
``window_days`` from the window's start to its end (the clock's now when the window
gives none), each read page by page by the connector's cursor, the page token carrying
where the job stands; a sync by update from the cursor, the session's own
``complete_until`` as the next one."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from keybuzz_connector_fnac.connector import FNAC
from keybuzz_orders.connector_source import ConnectorOrderSource
from keybuzz_orders.order_source import OrderWindow, QueryRefused, SourcePage
from keybuzz_shared.connectors.registry import connector_for
from keybuzz_shared.connectors.seam import Connector, OrderSummary, Page
from keybuzz_shared.connectors.settings import MarketplaceSettings
from keybuzz_shared.vault import VaultClient

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
START = NOW - timedelta(days=40)
DAY = timedelta(days=1)
KEY = {"partner_id": "p-1", "shop_id": "SHOP-1", "key": "k-1"}


def _order(n: int, at: datetime) -> OrderSummary:
    return OrderSummary(
        external_id=f"ORDER{n:08d}",
        state="Received",
        created_at=at,
        updated_at=at,
        status="DELIVERED",
        delivery_status="DELIVERED",
    )


class RecordingSession:
    """``orders_created``: two pages per date window (the first with a cursor), one order
    each; ``orders``: one page, complete until ``NOW``. Every call recorded."""

    def __init__(self) -> None:
        self.created: list[tuple[datetime, datetime, str | None]] = []
        self.updated: list[tuple[datetime, str | None]] = []

    async def orders_created(
        self, *, start: datetime, end: datetime, cursor: str | None = None
    ) -> Page[OrderSummary]:
        self.created.append((start, end, cursor))
        n = len(self.created)
        return Page(items=(_order(n, start),), next_cursor=None if cursor else "page-2")

    async def orders(self, *, since: datetime, cursor: str | None = None) -> Page[OrderSummary]:
        self.updated.append((since, cursor))
        return Page(items=(_order(0, since),), next_cursor=None, complete_until=NOW)

    async def orders_by_id(self, order_ids: Sequence[str]) -> list[OrderSummary]:
        return []


class FakeConnector:
    """Fnac's credential fields and Vault path, this session."""

    def __init__(self, session: RecordingSession) -> None:
        self.credential_fields = connector_for(FNAC).credential_fields
        self.credentials_path = connector_for(FNAC).credentials_path
        self.redirect_flow = connector_for(FNAC).redirect_flow
        self.made = 0
        self._session = session
        self.shop_api = self

    def session(self, credentials: Any, *, http: Any, settings: Any) -> RecordingSession:
        self.made += 1
        return self._session


class KeyVault:
    def __init__(self) -> None:
        self.stored: dict[str, Any] = dict(KEY)

    async def read(self, path: str, *, cached: bool = False) -> dict[str, Any] | None:
        return self.stored


@pytest.fixture
def session() -> RecordingSession:
    return RecordingSession()


@pytest.fixture
async def source(session: RecordingSession) -> AsyncIterator[ConnectorOrderSource]:
    async with httpx.AsyncClient() as http:  # never called: the session is the fake's
        made = ConnectorOrderSource(
            FNAC,
            cast(VaultClient, KeyVault()),
            http,
            MarketplaceSettings().shop_api(FNAC),
            window_days=15,
            clock=lambda: NOW,
        )
        made.connector = cast(Connector, FakeConnector(session))
        yield made


async def _read(source: ConnectorOrderSource, window: OrderWindow) -> list[SourcePage]:
    pages = [await source.orders_in_window("t-1", window)]
    while pages[-1].next_token is not None:
        window = dataclasses.replace(window, page_token=pages[-1].next_token)
        pages.append(await source.orders_in_window("t-1", window))
    return pages


async def test_a_window_is_read_in_date_windows_to_the_clock_s_now(
    source: ConnectorOrderSource, session: RecordingSession
) -> None:
    pages = await _read(source, OrderWindow("SHOP-1", created_after=START))
    windows = [
        (START, START + 15 * DAY),
        (START + 15 * DAY, START + 30 * DAY),
        (START + 30 * DAY, NOW),
    ]
    assert session.created == [
        call for start, end in windows for call in ((start, end, None), (start, end, "page-2"))
    ]
    assert len(pages) == 6 and all(len(p.orders) == 1 for p in pages)
    assert [p.created_before for p in pages] == [None] * 5 + [NOW]  # only the last says
    assert pages[-1].next_token is None
    assert {o.marketplace_id for p in pages for o in p.orders} == {"SHOP-1"}


async def test_a_window_s_given_end_is_kept_and_a_resumed_read_goes_on_where_it_stood(
    source: ConnectorOrderSource, session: RecordingSession
) -> None:
    end = START + 20 * DAY
    window = OrderWindow("SHOP-1", created_after=START, created_before=end)
    first = await source.orders_in_window("t-1", window)
    second = await source.orders_in_window(
        "t-1", dataclasses.replace(window, page_token=first.next_token)
    )
    # Resumed with the token alone (as a job's checkpoint): the end is the token's.
    resumed = OrderWindow("SHOP-1", created_after=START, page_token=second.next_token)
    rest = await _read(source, resumed)
    assert session.created == [
        (START, START + 15 * DAY, None),
        (START, START + 15 * DAY, "page-2"),
        (START + 15 * DAY, end, None),
        (START + 15 * DAY, end, "page-2"),
    ]
    assert rest[-1].created_before == end


async def test_a_sync_lists_by_update_from_the_cursor_to_the_session_s_own(
    source: ConnectorOrderSource, session: RecordingSession
) -> None:
    since = NOW - 2 * DAY
    page = await source.orders_in_window("t-1", OrderWindow("SHOP-1", updated_after=since))
    assert session.updated == [(since, None)] and session.created == []
    assert page.updated_before == NOW and page.next_token is None


async def test_a_window_without_a_start_or_with_a_forged_token_is_refused(
    source: ConnectorOrderSource, session: RecordingSession
) -> None:
    with pytest.raises(QueryRefused):
        await source.orders_in_window("t-1", OrderWindow("SHOP-1"))
    with pytest.raises(QueryRefused):
        await source.orders_in_window(
            "t-1", OrderWindow("SHOP-1", created_after=START, page_token="bm90LWEtdG9rZW4=")
        )
    assert session.created == []


async def test_the_session_is_made_again_only_when_the_key_changes(
    source: ConnectorOrderSource,
) -> None:
    connector = cast(FakeConnector, source.connector)
    window = OrderWindow("SHOP-1", updated_after=NOW - DAY)
    await source.orders_in_window("t-1", window)
    await source.orders_in_window("t-1", window)
    assert connector.made == 1
    cast(KeyVault, source.vault).stored["key"] = "k-2"  # the seller connected again
    await source.orders_in_window("t-1", window)
    assert connector.made == 2
