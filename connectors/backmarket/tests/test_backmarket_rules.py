"""Back Market's rules the connector keeps, each checked without a server: a line's unit
price, which numbers in a message are order ids, whom a reply may go to, and how far back
the folder list's filter reaches, what the User-Agent's settings take, and the settings'
defaults (Back Market's hosts and its day's allowance)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import pytest
from keybuzz_connector_backmarket.care import folder_replies, minute_filter
from keybuzz_connector_backmarket.connector import ORDER_IDS
from keybuzz_connector_backmarket.orders import Line, Order, summary_of
from keybuzz_connector_backmarket.settings import (
    BACKMARKET,
    BackMarketApiSettings,
    BackMarketSettings,
)
from keybuzz_poller.settings import PollerSettings
from keybuzz_shared.connectors.seam import Reply, ThreadKey
from keybuzz_shared.settings import SettingsError, load_settings


def test_a_lines_unit_price_is_its_total_divided_by_its_quantity() -> None:
    order = Order(
        order_id=40001234,
        state=1,
        date_creation=datetime(2026, 11, 2, tzinfo=UTC),
        orderlines=[Line(id=1, quantity=3, price="59.97"), Line(id=2, price="12.50")],
    )
    units = [line.unit_price for line in summary_of(order).lines]
    assert units == [Decimal("19.99"), Decimal("12.50")]


@pytest.mark.parametrize(
    "text",
    [
        "Ma commande #123456 n'est pas arrivée",  # another marketplace's six-digit reference
        "Livraison au 75011 Paris, code 931200",  # a postcode, a six-digit code
        "Référence 654321, montant 1234.56",
    ],
)
def test_an_order_id_is_never_taken_from_a_six_digit_reference_or_a_postcode(text: str) -> None:
    ids = ORDER_IDS
    assert ids.order_ids_in(text) == []
    assert not ids.is_order_id("123456") and not ids.is_order_id("75011")


def test_an_order_id_of_seven_digits_or_more_is_found_in_a_message() -> None:
    ids = ORDER_IDS
    assert ids.order_ids_in("Commande 40012345, livrée au 75011") == ["40012345"]


class NoCall:
    """A client a refused reply must never reach."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a reply Back Market would refuse called {name}")


async def test_a_reply_to_the_marketplaces_support_alone_is_refused_before_any_call() -> None:
    replies = folder_replies(cast(Any, NoCall()))
    reply = Reply(
        thread=ThreadKey("DISCUSSION", "123456"),
        in_reply_to="m1",
        body="Pour le service client seulement",
        recipient="MARKETPLACE_SUPPORT",
    )
    outcome = await replies.reply(reply)
    assert outcome.status == "FAILED"
    assert outcome.reason is not None and "MARKETPLACE_SUPPORT" in outcome.reason


@pytest.mark.parametrize(
    ("since", "asked"),
    [
        (datetime(2026, 11, 25, 10, 30, 5, tzinfo=UTC), "2026-11-25-10-29"),
        (datetime(2026, 11, 25, 10, 30, 0, tzinfo=UTC), "2026-11-25-10-29"),
        (datetime(2026, 11, 25, 0, 0, 30, tzinfo=UTC), "2026-11-24-23-59"),
    ],
)
def test_the_folder_lists_filter_reaches_back_to_the_minute_before(
    since: datetime, asked: str
) -> None:
    assert minute_filter(since) == asked


@pytest.mark.parametrize(
    ("variable", "refused", "taken"),
    [
        ("BACKMARKET_USER_AGENT_COMPANY", "Key Buzz", "Key_Buzz.2"),
        ("BACKMARKET_USER_AGENT_INTEGRATION", "Care;x", "Care"),
        ("BACKMARKET_USER_AGENT_CONTACT", "integrations", "tech@keybuzz.io"),
    ],
)
def test_a_user_agent_back_market_would_refuse_is_refused_at_load(
    variable: str, refused: str, taken: str
) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings(PollerSettings, {variable: refused})
    assert load_settings(PollerSettings, {variable: taken})


@pytest.mark.parametrize(
    ("variable", "refused", "taken"),
    [
        ("BACKMARKET_TIMEOUT_SECONDS", "0", "0.5"),
        ("BACKMARKET_CALLS_PER_DAY", "0", "1"),
        ("BACKMARKET_FIRST_POLL_DAYS", "91", "90"),
    ],
)
def test_a_setting_off_its_kind_is_refused_at_load(variable: str, refused: str, taken: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings(PollerSettings, {variable: refused})
    assert load_settings(PollerSettings, {variable: taken})


def test_the_defaults_are_back_markets_hosts_and_its_days_allowance() -> None:
    api = BackMarketSettings().shop_api(BACKMARKET)
    assert isinstance(api, BackMarketApiSettings)
    hosts = (api.api_url, api.us_url, api.ap_url)
    assert hosts == (
        "https://www.backmarket.fr",
        "https://www.backmarket.com",
        "https://www.backmarket.co.jp",
    )
    assert api.calls_per_day == 4_000 and api.poll_interval_seconds == 10
    assert api.listing_overlap_seconds == 60 and not api.mark_as_read
