"""A marketplace allowing each shop 30 listing calls a day (a throwaway connector of no
package, its API in memory, counting the calls it is made), polled by a running poller on
the real servers (OpenBao, NATS, PostgreSQL): a backlog of 60 pages is read only as far as
the day's pace allows, the shop's status says what is spent and left, and a poller started
again on the same database spends nothing more."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from keybuzz_devstack.testing import (
    MailServer,
    RunningService,
    ThrowawayApiSettings,
    ThrowawayConnector,
    ThrowawayShopApiSettings,
    eventually,
)
from keybuzz_poller.polling.shops import ShopScheduler
from keybuzz_poller.service import DEFINITION
from keybuzz_poller.shops.allowance import DAY, allowance_of, seconds_into_day
from keybuzz_shared.connectors.registry import registered
from keybuzz_shared.connectors.seam import InboxMessage, Page, ThreadKey
from keybuzz_shared.vault import VaultClient
from mailkit import get_json
from test_discussion_shop import Session as DiscussionSession

MARKETPLACE = ThrowawayConnector.marketplace
CALLS_PER_DAY = 30
PAGES = 60  # the backlog: twice the day's allowance, one message a page
# Written before the four weeks the plan learns buyers' hours from: the plan stays the
# marketplace's, the same in both pollers.
WRITTEN = datetime.now(UTC) - timedelta(days=30)


class Api:
    """The marketplace's side: every listing call it is made, by shop."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}


class Session(DiscussionSession):
    """A session counting its calls (the seam's ``CountsAllowanceCalls``): one a page of
    messages; the incidents' listing (the throwaway's: empty) is served without a call."""

    def __init__(self, api: Api, shop: str) -> None:
        self.api, self.shop, self.made = api, shop, 0

    def allowance_calls(self) -> int:
        return self.made

    async def inbox_messages(
        self, *, since: datetime, cursor: str | None = None
    ) -> Page[InboxMessage]:
        self.made += 1
        self.api.calls[self.shop] = self.api.calls.get(self.shop, 0) + 1
        page = int(cursor or 0)
        message = InboxMessage(
            message_id=f"m{page}",
            thread=ThreadKey("ORDER", f"ORD-{page}"),
            sender_type="BUYER",
            sender_name="Jane D.",
            subject="Colis",
            body=f"Où est mon colis ? ({page})",
            created_at=WRITTEN + timedelta(minutes=page),
            unread=False,
        )
        following = str(page + 1) if page + 1 < PAGES else None
        return Page(items=(message,), next_cursor=following)


class ShopApi:
    claim_subject = "Réclamation"

    def __init__(self) -> None:
        self.api = Api()

    def session(self, credentials: Mapping[str, str], **given: Any) -> Session:
        return Session(self.api, credentials["seller_id"])

    def claim_opener(self, opened_by: str | None) -> str:
        return "BUYER"


class AllowanceSettings(ThrowawayApiSettings, kw_only=True, frozen=True):
    def shop_api(self, marketplace: str) -> ThrowawayShopApiSettings | None:
        api = super().shop_api(marketplace)
        return None if api is None else msgspec.structs.replace(api, calls_per_day=CALLS_PER_DAY)


class AllowanceConnector(ThrowawayConnector):
    settings_type = AllowanceSettings
    shop_api = ShopApi()  # type: ignore[assignment]


@pytest.fixture
def connector() -> Iterator[AllowanceConnector]:
    with registered(AllowanceConnector()) as added:
        yield added  # type: ignore[misc]


async def shop_status(poller: RunningService, tenant_id: str) -> dict[str, Any]:
    [status] = await get_json(poller, tenant_id, "/api/v1/poller/shops")
    return status  # type: ignore[no-any-return]


async def test_a_backlog_is_read_within_the_days_allowance_across_a_restart(
    connector: AllowanceConnector,
    start_service: Any,
    dovecot: MailServer,
    vault: VaultClient,
) -> None:
    calls = connector.shop_api.api.calls
    poller = await start_service(DEFINITION, REPLY_SENDER_ENABLED="false", **dovecot.settings)
    tenant_id = await poller.shop_connected(
        vault, MARKETPLACE, {"seller_id": "4242", "client_secret": "s3cret"}, "4242"
    )

    async def polled() -> dict[str, Any] | None:  # the scheduler polled it, due at connection
        status = await shop_status(poller, tenant_id)
        return status if status["lastSuccessAt"] and not status["polling"] else None

    status = await eventually(polled)
    # What the day's pace allowed at the poll: its share of the day so far and a burst.
    settings = AllowanceSettings().shop_api(MARKETPLACE)
    assert settings is not None
    allowance = allowance_of(settings)
    assert allowance is not None
    day, at = seconds_into_day(datetime.now(UTC))
    allowed = allowance.plan(day).calls_allowed(at)
    spent = calls["4242"]
    assert 1 <= spent <= allowed <= CALLS_PER_DAY < PAGES
    assert status["messagesFetched"] == spent  # the listing stopped where the calls did
    assert status["allowance"] == {
        "callsPerDay": CALLS_PER_DAY,
        "callsToday": spent,
        "callsLeft": CALLS_PER_DAY - spent,
    }
    # The next poll: the calls left spread over the rest of the day's plan (hours away at
    # 30 a day), not the marketplace's 120 s interval.
    polled_at = datetime.fromisoformat(status["lastPollAt"])
    planned = allowance.plan(day).interval(seconds_into_day(polled_at)[1], spent)
    assert planned > 600 or at > DAY - 900  # (minutes before midnight: the next day's)
    next_poll = datetime.fromisoformat(status["nextPollAt"])
    assert next_poll - polled_at >= timedelta(seconds=0.9 * planned)

    # Another poller on the same database: the day's count is the table's, not memory's.
    await poller.stop()
    database = poller.runtime.settings.database_url
    again = await start_service(
        DEFINITION,
        DATABASE_URL=database,
        POLL_ENABLED="false",
        REPLY_SENDER_ENABLED="false",
        **dovecot.settings,
    )
    await again.runtime.component(ShopScheduler).poll_now(f"{MARKETPLACE}:{tenant_id}")
    now_allowed = allowance.plan(day).calls_allowed(seconds_into_day(datetime.now(UTC))[1])
    assert calls["4242"] <= now_allowed  # at most what the minutes since allowed more
    status = await shop_status(again, tenant_id)
    # The operator's action says the same as the tenant's endpoint.
    request = msgspec.json.encode({"tenantId": tenant_id})
    reply = await (await again.operator()).request("keybuzz.poller.shops", request, timeout=10)
    assert msgspec.json.decode(reply.data) == [status]
    assert status["allowance"]["callsToday"] == calls["4242"]
    assert status["allowance"]["callsLeft"] == CALLS_PER_DAY - calls["4242"]
    assert status["allowance"]["callsPerDay"] == CALLS_PER_DAY


def test_a_shop_api_without_an_allowance_has_none() -> None:
    settings = ThrowawayApiSettings().shop_api(MARKETPLACE)
    assert settings is not None and settings.calls_per_day is None
    assert allowance_of(settings) is None
    assert dataclasses.is_dataclass(allowance_of(AllowanceSettings().shop_api(MARKETPLACE)))  # type: ignore[arg-type]
