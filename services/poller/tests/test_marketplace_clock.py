"""A marketplace that keeps its own clock on threads and publishes its own response figure,
on a real poller (PostgreSQL, Vault, NATS): a throwaway connector registered before the
service starts, whose shop's inbox is what the test lists (``Inbox``), with a response rule
of 24 hours on the marketplace's clock that a tenant may shorten, and a figure the test
sets or makes fail.

The ticket's deadline starts when the marketplace says the thread needs a reply and ends
when it says none is needed; its alerts follow, once per deadline; a tenant's shorter
window is taken, a longer one refused; the response-time report shows the marketplace's
figure beside ours, asked once while it holds, "not available" when the call fails."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from keybuzz_devstack.testing import (
    MailServer,
    RunningService,
    ThrowawayApiSettings,
    ThrowawayConnector,
    eventually,
)
from keybuzz_poller.bootstrap import ports_of
from keybuzz_poller.polling.shops import ShopScheduler
from keybuzz_poller.service import DEFINITION
from keybuzz_poller.shops.domain import Shop
from keybuzz_poller.tickets.alerts import alert_round
from keybuzz_shared.connectors.registry import registered
from keybuzz_shared.connectors.seam import (
    InboxIncident,
    InboxMessage,
    MarketplaceMark,
    MarketplaceSession,
    MarketplaceUnavailable,
    Page,
    ResponseFigure,
    ResponseFigures,
    ResponseRule,
    ResponseWindow,
    SenderType,
    ShopApi,
    ShopApiSettings,
    ThreadKey,
)
from keybuzz_shared.file_links import FileLinks
from keybuzz_shared.vault import VaultClient
from mailkit import get_json, headers

StartService = Callable[..., Awaitable[RunningService]]
MARKETPLACE = "THROWAWAY"
RULE = ResponseRule(window=timedelta(hours=24), marketplace_clock=True, tenant_may_shorten=True)
WINDOWS = "/api/v1/poller/response-deadlines"
FIGURE_NAME = "shop_response_delay"


class Inbox:
    """The shop's inbox at the throwaway marketplace: what its listing gives."""

    def __init__(self) -> None:
        self.listed: list[InboxMessage] = []

    async def inbox_messages(
        self, *, since: datetime, cursor: str | None = None
    ) -> Page[InboxMessage]:
        return Page(items=tuple(self.listed), next_cursor=None)

    async def incidents(self, *, since: datetime, cursor: str | None = None) -> Page[InboxIncident]:
        return Page(items=(), next_cursor=None)

    async def mark_read(self, message_ids: Sequence[str]) -> int:
        return 0


class InboxApi:
    """The throwaway marketplace's shop API: every shop's session is the test's inbox."""

    claim_subject = "Claim"

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    def session(
        self,
        credentials: Mapping[str, str],
        *,
        http: httpx.AsyncClient,
        settings: ShopApiSettings,
        files: FileLinks | None = None,
    ) -> Inbox:
        return self.inbox


class OwnWindow:
    rule = RULE

    def mark(self, order_id: str | None, country: str | None) -> MarketplaceMark:
        return MarketplaceMark(synced=False, note="marked at the marketplace", url=None)


class OwnWindowNoClock(OwnWindow):
    rule = ResponseRule(window=timedelta(hours=24))


class Figures:
    """The marketplace's own figure: what the test sets, or a failure; each call counted."""

    cache_seconds = 3600.0

    def __init__(self) -> None:
        self.seconds: float | None = 5400.0
        self.failing = False
        self.calls: list[tuple[datetime, datetime]] = []

    async def response_delay(
        self, session: MarketplaceSession, *, since: datetime, until: datetime
    ) -> ResponseFigure | None:
        self.calls.append((since, until))
        if self.failing:
            raise MarketplaceUnavailable("statistics answered 503")
        if self.seconds is None:
            return None
        return ResponseFigure(
            name=FIGURE_NAME, average_response_seconds=self.seconds, since=since, until=until
        )


class ClockMarket(ThrowawayConnector):
    settings_type = ThrowawayApiSettings

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.figures = Figures()
        self.shop_api = cast(ShopApi, InboxApi(self.inbox))
        self.response_window: ResponseWindow | None = OwnWindow()
        self.response_figures: ResponseFigures | None = self.figures


@pytest.fixture
def market() -> Iterator[ClockMarket]:
    with registered(ClockMarket()) as connector:
        yield cast(ClockMarket, connector)


@pytest.fixture
async def poller(
    market: ClockMarket, start_service: StartService, dovecot: MailServer
) -> RunningService:
    return await start_service(
        DEFINITION, POLL_ENABLED="false", RESPONSE_ALERT_INTERVAL_SECONDS="0.2", **dovecot.settings
    )


def buyer_message(
    message_id: str, written: datetime, reply_needed_since: datetime | None
) -> InboxMessage:
    sender: SenderType = "BUYER"
    return InboxMessage(
        message_id=message_id,
        thread=ThreadKey("ORDER", "order-1"),
        sender_type=sender,
        sender_name="Jules",
        subject="Where is my parcel?",
        body="It has not arrived.",
        created_at=written,
        unread=True,
        reply_needed_since=reply_needed_since,
    )


async def connected(poller: RunningService, vault: VaultClient) -> Shop:
    fields = {"seller_id": "424242", "client_secret": "s3cret"}
    tenant_id = await poller.shop_connected(vault, MARKETPLACE, fields, "424242")
    return Shop(tenant_id, MARKETPLACE)


async def polled(poller: RunningService, shop: Shop) -> Any:
    return await poller.runtime.component(ShopScheduler).poll_now(shop.key)


async def shop_polled(
    poller: RunningService,
    vault: VaultClient,
    market: ClockMarket,
    written: datetime,
    reply_needed_since: datetime | None,
) -> Shop:
    """A new tenant's shop connected and polled, its inbox one buyer message."""
    market.inbox.listed = [buyer_message("m-1", written, reply_needed_since)]
    shop = await connected(poller, vault)
    assert (await polled(poller, shop)).stored == 1
    return shop


async def ticket_of(poller: RunningService, shop: Shop) -> dict[str, Any]:
    page = await get_json(poller, shop.tenant_id, "/api/v1/tickets", marketplace=MARKETPLACE)
    [listed] = page["items"]
    return await get_json(poller, shop.tenant_id, f"/api/v1/tickets/{listed['id']}")  # type: ignore[no-any-return]


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def fix_clock(poller: RunningService, now: datetime) -> None:
    poller.runtime.provide(dataclasses.replace(ports_of(poller.runtime), clock=lambda: now))


async def alerts(poller: RunningService, tenant_id: str, kind: str) -> list[datetime]:
    rows = await poller.runtime.pool.fetch(
        "SELECT respond_by FROM poller_response_alerts WHERE tenant_id = $1 AND kind = $2",
        tenant_id,
        kind,
    )
    return [r["respond_by"] for r in rows]


async def put_window(poller: RunningService, tenant_id: str, hours: int) -> httpx.Response:
    async with poller.client() as http:
        return await http.put(
            WINDOWS,
            json={"marketplace": MARKETPLACE, "hours": hours},
            headers=headers(poller, tenant_id),
        )


async def test_the_deadline_starts_and_ends_on_the_marketplaces_clock_alerts_once(
    poller: RunningService, market: ClockMarket, vault: VaultClient
) -> None:
    written = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    needed_since = written - timedelta(hours=5)  # an earlier message it counts, not listed
    shop = await shop_polled(poller, vault, market, written, needed_since)
    ticket = await ticket_of(poller, shop)
    assert ticket["responseState"] == "AWAITING_REPLY"
    respond_by = needed_since + RULE.window  # not 24 h after the message reached us
    assert at(ticket["respondBy"]) == respond_by

    # Past it: overdue, alerted once.
    fix_clock(poller, respond_by + timedelta(minutes=1))
    assert (await ticket_of(poller, shop))["responseState"] == "OVERDUE"

    async def overdue_alerted() -> list[datetime]:
        return await alerts(poller, shop.tenant_id, "OVERDUE")

    assert await eventually(overdue_alerted) == [respond_by]

    # The marketplace clears it (its staff's "no reply needed"): the same message listed
    # again, nothing needed. Not overdue any more, out of the overdue queue.
    market.inbox.listed = [buyer_message("m-1", written, None)]
    await polled(poller, shop)
    cleared = await ticket_of(poller, shop)
    assert (cleared["responseState"], cleared["respondBy"]) == ("NO_RESPONSE_NEEDED", None)
    overdue = await get_json(
        poller, shop.tenant_id, "/api/v1/tickets", marketplace=MARKETPLACE, responseState="OVERDUE"
    )
    assert overdue["items"] == []

    # Needed again from the same time: the same deadline, its alert not given twice.
    market.inbox.listed = [buyer_message("m-1", written, needed_since)]
    await polled(poller, shop)
    assert at((await ticket_of(poller, shop))["respondBy"]) == respond_by
    # A round at the poller's clock run to its end (the test's own; a racing one of the
    # poller's is waited for): the alert of that deadline is not given again.
    now = ports_of(poller.runtime).clock()
    await alert_round(ports_of(poller.runtime).tickets, lambda: now)
    assert await alerts(poller, shop.tenant_id, "OVERDUE") == [respond_by]
    # Listed again unchanged: the ticket is not written.
    version = "SELECT xmin::text FROM poller_tickets WHERE id = $1"
    before = await poller.runtime.pool.fetchval(version, ticket["id"])
    await polled(poller, shop)
    assert await poller.runtime.pool.fetchval(version, ticket["id"]) == before


async def test_a_tenant_may_shorten_the_marketplaces_window_never_lengthen_it(
    poller: RunningService, market: ClockMarket, vault: VaultClient
) -> None:
    written = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    shop = await shop_polled(poller, vault, market, written, written)
    assert at((await ticket_of(poller, shop))["respondBy"]) == written + timedelta(hours=24)

    shorter = await put_window(poller, shop.tenant_id, 6)
    assert shorter.status_code == 200, shorter.text
    assert {"marketplace": MARKETPLACE, "hours": 6} in shorter.json()["windows"]
    assert shorter.json()["fixed"][MARKETPLACE] == 24
    assert at((await ticket_of(poller, shop))["respondBy"]) == written + timedelta(hours=6)

    longer = await put_window(poller, shop.tenant_id, 25)
    assert longer.status_code == 400, longer.text
    assert "never longer" in longer.json()["message"] and "24 h" in longer.json()["message"]
    kept = await get_json(poller, shop.tenant_id, WINDOWS)
    assert {"marketplace": MARKETPLACE, "hours": 6} in kept["windows"]
    assert at((await ticket_of(poller, shop))["respondBy"]) == written + timedelta(hours=6)

    same = await put_window(poller, shop.tenant_id, 24)
    assert same.status_code == 200, same.text
    assert at((await ticket_of(poller, shop))["respondBy"]) == written + timedelta(hours=24)


async def test_the_report_shows_the_marketplaces_figure_beside_ours_cached(
    poller: RunningService, market: ClockMarket, vault: VaultClient
) -> None:
    written = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    shop = await shop_polled(poller, vault, market, written, written)

    async def report(days: int) -> dict[str, Any]:
        return await get_json(  # type: ignore[no-any-return]
            poller, shop.tenant_id, "/api/v1/response-times", marketplace=MARKETPLACE, days=days
        )

    month = await report(30)
    assert (month["received"], month["awaiting"]) == (1, 1)
    figure = month["marketplaceFigure"]
    assert figure["available"] is True, figure
    assert (figure["name"], figure["averageResponseSeconds"]) == (FIGURE_NAME, 5400.0)
    assert at(figure["since"]) == at(month["since"]) and at(figure["until"]) == at(month["until"])
    assert len(market.figures.calls) == 1
    # Read again while it holds: the marketplace is not asked again.
    market.figures.seconds = 60.0
    assert (await report(30))["marketplaceFigure"]["averageResponseSeconds"] == 5400.0
    assert len(market.figures.calls) == 1

    # The call failing: the report stands, the figure "not available" with why.
    market.figures.failing = True
    week = await report(7)
    assert (week["received"], week["awaiting"]) == (1, 1)
    assert week["marketplaceFigure"]["available"] is False
    assert "503" in week["marketplaceFigure"]["reason"]
    assert week["marketplaceFigure"]["averageResponseSeconds"] is None
    # No window of the marketplace's close to this one: not available either.
    market.figures.failing, market.figures.seconds = False, None
    quarter = (await report(90))["marketplaceFigure"]
    assert quarter["available"] is False and "no window" in quarter["reason"]


async def test_a_marketplace_without_figures_reports_none_and_no_clock_keeps_ours(
    poller: RunningService, market: ClockMarket, vault: VaultClient
) -> None:
    """The same marketplace without the figures part and without its clock: the report's
    figure is null, and the deadline runs from the message, whatever the listing says."""
    market.response_figures = None
    market.response_window = OwnWindowNoClock()
    written = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    shop = await shop_polled(poller, vault, market, written, written - timedelta(hours=5))
    assert at((await ticket_of(poller, shop))["respondBy"]) == written + timedelta(hours=24)
    month = await get_json(
        poller, shop.tenant_id, "/api/v1/response-times", marketplace=MARKETPLACE, days=30
    )
    assert month["marketplaceFigure"] is None
