"""Each shop marketplace's settings are its own, its connector's: Fnac's and Darty's shops
share the Fnac seller API's settings but not necessarily its poll interval
(DARTY_POLL_INTERVAL_SECONDS); another connector's (a throwaway one here) are read with the
services' settings and govern its shops only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from keybuzz_connector_fnac.connector import DARTY, FNAC, FNAC_API_URL
from keybuzz_devstack.testing import ThrowawayApiSettings, ThrowawayConnector
from keybuzz_oauth.settings import OauthSettings
from keybuzz_orders.service import HttpClients
from keybuzz_orders.settings import OrdersSettings
from keybuzz_poller.bootstrap import shop_reading
from keybuzz_poller.settings import PollerSettings
from keybuzz_poller.shops.api_source import ApiMessageSource
from keybuzz_poller.shops.domain import Shop
from keybuzz_shared.connectors.registry import connector_for, registered
from keybuzz_shared.connectors.settings import MarketplaceSettings
from keybuzz_shared.settings import SettingsError, load_settings
from keybuzz_shared.vault import VaultClient


def test_darty_polls_at_its_own_interval_when_given() -> None:
    settings = load_settings(
        MarketplaceSettings,
        {"FNAC_POLL_INTERVAL_SECONDS": "60", "DARTY_POLL_INTERVAL_SECONDS": "300"},
    )
    assert settings.shop_api(FNAC).poll_interval_seconds == 60
    assert settings.shop_api(DARTY).poll_interval_seconds == 300


def test_darty_polls_at_fnacs_interval_by_default() -> None:
    settings = load_settings(MarketplaceSettings, {"FNAC_POLL_INTERVAL_SECONDS": "45"})
    assert settings.shop_api(DARTY).poll_interval_seconds == 45


def test_a_darty_interval_below_one_second_is_refused_by_name() -> None:
    with pytest.raises(SettingsError, match="DARTY_POLL_INTERVAL_SECONDS"):
        load_settings(MarketplaceSettings, {"DARTY_POLL_INTERVAL_SECONDS": "0"})


class ThrowawayShops(ThrowawayConnector):
    """The throwaway marketplace with shops on an API, and its settings."""

    settings_type = ThrowawayApiSettings
    shop_api = connector_for(FNAC).shop_api  # any: orders only asks whether it has one


ENVIRON = {
    "THROWAWAY_TIMEOUT_SECONDS": "3",
    "THROWAWAY_CALL_DEADLINE_SECONDS": "5",
    "FNAC_TIMEOUT_SECONDS": "11",
    "FNAC_CALL_DEADLINE_SECONDS": "13",
    "FNAC_MARK_AS_READ": "true",
}
THROWAWAY = ThrowawayConnector.marketplace


@pytest.mark.parametrize("service", [PollerSettings, OrdersSettings, OauthSettings])
def test_each_marketplace_has_its_connectors_settings_whatever_their_names_sort(
    service: type[MarketplaceSettings],
) -> None:
    # THROWAWAY sorts after DARTY and FNAC, CDISCOUNT before them: neither governs the others.
    with registered(ThrowawayShops()):
        settings = load_settings(service, ENVIRON)
        throwaway = settings.shop_api(THROWAWAY)
        fnac, darty = settings.shop_api(FNAC), settings.shop_api(DARTY)
    assert (throwaway.timeout_seconds, throwaway.call_deadline_seconds) == (3, 5)
    assert throwaway.mark_as_read is False and throwaway.api_url.endswith("/throwaway/")
    for shops in (fnac, darty):
        assert (shops.timeout_seconds, shops.call_deadline_seconds) == (11, 13)
        assert shops.mark_as_read is True and shops.api_url == FNAC_API_URL
    assert settings.of(ThrowawayApiSettings).throwaway_timeout_seconds == 3
    assert not hasattr(settings, "fnac_timeout_seconds")  # Fnac's, not the service's


def test_a_bad_connector_variable_stops_the_service_naming_it() -> None:
    with registered(ThrowawayShops()), pytest.raises(SettingsError) as refused:
        load_settings(PollerSettings, {"THROWAWAY_TIMEOUT_SECONDS": "0"})
    assert "THROWAWAY_TIMEOUT_SECONDS" in refused.value.message


async def test_the_poller_reads_and_calls_each_marketplaces_shops_with_its_own_settings() -> None:
    # Served while asked: what the poller keeps per marketplace is made on first use.
    with registered(ThrowawayShops()):
        settings = load_settings(PollerSettings, ENVIRON)
        apis = {m: settings.shop_api(m) for m in (THROWAWAY, FNAC, DARTY)}
        reading = shop_reading(apis)
        assert reading[THROWAWAY].mark_as_read is False and reading[FNAC].mark_as_read is True
        assert reading[THROWAWAY].first_poll == timedelta(days=7)
        assert reading[DARTY] == reading[FNAC]
        vault = VaultClient("http://127.0.0.1:9")
        source = ApiMessageSource(vault, apis, inside_allowed=True)
        try:
            assert (
                source.http(THROWAWAY).timeout.read == 3 and source.http(DARTY).timeout.read == 11
            )
            assert source.call_deadline(Shop("t1", THROWAWAY)) == 5
            assert source.call_deadline(Shop("t1", FNAC)) == 13
        finally:
            await source.aclose()
            await vault.aclose()


async def test_orders_call_each_marketplaces_shop_api_with_its_own_timeout() -> None:
    with registered(ThrowawayShops()):
        clients = HttpClients.of(load_settings(OrdersSettings, ENVIRON))
        try:
            assert clients.shop_apis[THROWAWAY].timeout.read == 3
            assert (
                clients.shop_apis[FNAC].timeout.read == clients.shop_apis[DARTY].timeout.read == 11
            )
        finally:
            await clients.aclose()
